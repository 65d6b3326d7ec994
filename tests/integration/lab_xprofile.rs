//! Lab tests for the `xprofile` module: converge over SSH against lab hosts, checked with the real tools.
