//! converge's integration tests: the real binary, run on files written by each test.

mod bad_input;
mod cli;
mod local_apply;
mod support;
