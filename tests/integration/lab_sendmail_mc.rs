//! Lab tests for the `sendmail_mc` module: converge over SSH against lab hosts, checked with the real tools.
