//! Where `template: src=` and `copy: src=` files are found: the same search at load time (fixed
//! names) and at run time (templated names), so the two cannot disagree.

use crate::playbook::model::RoleInstance;
use std::path::{Path, PathBuf};

/// Which kind of source file a task names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A Jinja template (`template: src=`), searched in `templates/`.
    Template,
    /// A plain file (`copy: src=`), searched in `files/`.
    File,
}

impl SourceKind {
    /// The directory of a role or playbook that holds this kind of file.
    pub fn directory(self) -> &'static str {
        match self {
            SourceKind::Template => "templates",
            SourceKind::File => "files",
        }
    }

    /// The word used in messages ("template `a.j2` not found").
    pub fn noun(self) -> &'static str {
        match self {
            SourceKind::Template => "template",
            SourceKind::File => "file",
        }
    }
}

/// Find `name` as Ansible does: in the role's `templates/` (or `files/`), then the playbook
/// directory's `templates/` (or `files/`), then the playbook directory itself. An absolute
/// name is only itself. Directories count (`copy: src=conf.d/` copies a tree).
///
/// Returns the first path that exists, or every path tried, in order, for the message.
pub fn resolve_source(
    kind: SourceKind,
    name: &str,
    role: Option<&RoleInstance>,
    playbook_dir: &Path,
) -> Result<PathBuf, Vec<PathBuf>> {
    let candidates = source_candidates(kind, name, role, playbook_dir);
    candidates
        .iter()
        .find(|path| path.exists())
        .cloned()
        .ok_or(candidates)
}

/// The paths [`resolve_source`] tries, in order.
pub fn source_candidates(
    kind: SourceKind,
    name: &str,
    role: Option<&RoleInstance>,
    playbook_dir: &Path,
) -> Vec<PathBuf> {
    let name = Path::new(name);
    if name.is_absolute() {
        return vec![name.to_path_buf()];
    }
    let mut candidates = Vec::new();
    // Ansible's search path in a role: the role's directory, then its tasks/ directory, each
    // with the kind's directory (templates/, files/) first; `src: templates/x.j2` is found
    // relative to the role itself.
    if let Some(instance) = role {
        let role_path = &instance.role.path;
        for base in [role_path.clone(), role_path.join("tasks")] {
            candidates.push(base.join(kind.directory()).join(name));
            candidates.push(base.join(name));
        }
    }
    candidates.push(playbook_dir.join(kind.directory()).join(name));
    candidates.push(playbook_dir.join(name));
    candidates
}
