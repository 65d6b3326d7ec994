//! converge: agentless configuration management over SSH, for people who come from Ansible.
//!
//! The binary is a thin layer over this crate: [`cli`] parses flags, [`inventory`] and
//! [`playbook`] load and check the user's files, [`runner`] plans and applies tasks on each
//! host through a [`connection`], and [`report`] shows what happened.

pub mod connection;
pub mod diagnostic;
pub mod inventory;
pub mod playbook;
pub mod template;
pub mod yaml;
