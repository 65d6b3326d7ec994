//! `group_vars/` and `host_vars/` beside an inventory or a playbook, read the way Ansible's
//! `host_group_vars` plugin reads them: for a name, the first of `NAME` (file or directory),
//! `NAME.yml`, `NAME.yaml`, `NAME.json` wins; a directory contributes all its YAML files, in
//! name order, later files replacing earlier keys.

use super::checks::vars_from_node;
use super::error::InventoryError;
use crate::diagnostic::{Diagnostic, Location};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Extensions tried after the bare name, in Ansible's order (`YAML_FILENAME_EXTENSIONS`).
const EXTENSIONS: [&str; 3] = [".yml", ".yaml", ".json"];

/// The variables of one directory's `group_vars/` and `host_vars/`, by group and host name.
#[derive(Debug, Clone, Default)]
pub(crate) struct VarsDir {
    groups: HashMap<String, Map<String, Value>>,
    hosts: HashMap<String, Map<String, Value>>,
}

impl VarsDir {
    /// Read the files for the given groups and hosts under `root`. Only names the inventory
    /// knows are read, as in Ansible, so a broken file for a removed group does not stop a run.
    pub fn load(root: &Path, groups: &[&str], hosts: &[&str]) -> Result<VarsDir, Diagnostic> {
        Ok(VarsDir {
            groups: load_kind(&root.join("group_vars"), groups)?,
            hosts: load_kind(&root.join("host_vars"), hosts)?,
        })
    }

    /// `group_vars/NAME`, if there was one.
    pub fn group(&self, name: &str) -> Option<&Map<String, Value>> {
        self.groups.get(name)
    }

    /// `host_vars/NAME`, if there was one.
    pub fn host(&self, name: &str) -> Option<&Map<String, Value>> {
        self.hosts.get(name)
    }
}

fn unreadable(path: &Path, error: &std::io::Error) -> Diagnostic {
    InventoryError::Unreadable {
        path: path.display().to_string(),
        reason: crate::yaml::io_reason(error),
    }
    .at(Location::file(path))
}

fn load_kind(
    dir: &Path,
    names: &[&str],
) -> Result<HashMap<String, Map<String, Value>>, Diagnostic> {
    let mut loaded = HashMap::new();
    if !dir.is_dir() {
        return Ok(loaded);
    }
    // One directory listing instead of four stat calls per host: inventories have thousands.
    let mut present = HashSet::new();
    for entry in std::fs::read_dir(dir).map_err(|e| unreadable(dir, &e))? {
        let entry = entry.map_err(|e| unreadable(dir, &e))?;
        present.insert(entry.file_name().to_string_lossy().into_owned());
    }
    for name in names {
        // A host called `../x` or `/srv/chroot` must not read files outside the directory.
        if name.contains('/') || name.starts_with('.') {
            continue;
        }
        let candidates = std::iter::once(name.to_string())
            .chain(EXTENSIONS.iter().map(|ext| format!("{name}{ext}")));
        let Some(found) = candidates
            .into_iter()
            .find(|candidate| present.contains(candidate))
        else {
            continue;
        };
        let path = dir.join(found);
        let files = if path.is_dir() {
            files_in(&path)?
        } else {
            vec![path]
        };
        let mut vars = Map::new();
        for file in files {
            for (key, value) in load_vars_file(&file)? {
                vars.insert(key, value);
            }
        }
        loaded.insert(name.to_string(), vars);
    }
    Ok(loaded)
}

/// The vars files in a `group_vars/NAME/` directory, recursively, in name order; hidden files,
/// backups (`~`) and other extensions are skipped.
fn files_in(dir: &Path) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| unreadable(dir, &e))? {
        let entry = entry.map_err(|e| unreadable(dir, &e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with('~') {
            continue;
        }
        entries.push((name, entry.path()));
    }
    entries.sort();
    let mut files = Vec::new();
    for (name, path) in entries {
        let extension = Path::new(&name).extension().and_then(|e| e.to_str());
        if path.is_dir() {
            if extension.is_none() {
                files.extend(files_in(&path)?);
            }
        } else if matches!(extension, None | Some("yml" | "yaml" | "json")) {
            files.push(path);
        }
    }
    Ok(files)
}

/// One vars file: a mapping (or empty).
fn load_vars_file(path: &Path) -> Result<Map<String, Value>, Diagnostic> {
    let text = crate::yaml::read_text(path)?;
    let file = crate::yaml::parse_str(&text, path)?;
    vars_from_node(
        &file,
        &file.root,
        &format!("the variables file `{}`", path.display()),
    )
}
