//! Lab tests for the `slackbuild` module: converge over SSH against lab hosts, checked with the real tools.
