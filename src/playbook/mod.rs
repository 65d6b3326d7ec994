//! Plays, tasks, handlers and roles: loading with source positions.

pub mod ansible_modules;
pub mod loader;
pub mod model;

pub use loader::{load_playbook, load_task_file, resolve_source, LoadOptions, SourceKind};
pub use model::*;
