//! Loading playbooks, task files and roles from YAML into the model. (being built)

use super::model::{Playbook, TaskNode};
use crate::diagnostic::{Diagnostic, Diagnostics};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where roles are searched, after the playbook's own `roles/` directory.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--roles-path` entries, in order.
    pub roles_path: Vec<PathBuf>,
}

/// Load a playbook and everything it names statically.
pub fn load_playbook(path: &Path, _options: &LoadOptions) -> Result<Playbook, Diagnostics> {
    Err(Diagnostic::error(format!("playbook loading is not built yet ({})", path.display())).into())
}

/// Load a task file at run time (for `include_tasks` with a templated name).
pub fn load_task_file(
    path: &Path,
    _role: Option<Arc<super::model::RoleInstance>>,
    _options: &LoadOptions,
) -> Result<Vec<TaskNode>, Diagnostics> {
    Err(Diagnostic::error(format!("task file loading is not built yet ({})", path.display())).into())
}
