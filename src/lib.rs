//! converge: agentless configuration management over SSH, for people who come from Ansible.
//!
//! The binary is a thin layer over this crate: [`cli`] parses flags, [`inventory`] and
//! [`playbook`] load and check the user's files, [`validate`] checks them against each
//! other, [`runner`] plans and applies tasks on each host through a [`connection`], and
//! [`report`] shows what happened.

pub mod adhoc;
pub mod app;
pub mod cli;
pub mod connection;
pub mod diagnostic;
pub mod doc;
pub mod error;
pub mod extra_vars;
pub mod inventory;
pub mod playbook;
pub mod report;
pub mod reviewed;
pub mod runner;
pub mod template;
pub mod validate;
pub mod vars;
pub mod vault;
pub mod yaml;
