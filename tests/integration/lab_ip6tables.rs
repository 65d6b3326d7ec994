//! Lab tests for the `ip6tables` module: converge over SSH against lab hosts, checked with the real tools.
