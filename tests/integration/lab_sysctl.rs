//! Lab tests for the `sysctl` module: converge over SSH against lab hosts, checked with the real tools.
