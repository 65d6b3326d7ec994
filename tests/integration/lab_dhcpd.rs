//! Lab tests for the `dhcpd` module: converge over SSH against lab hosts, checked with the real tools.
