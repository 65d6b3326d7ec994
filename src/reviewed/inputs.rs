//! The inputs of a run, by hash: every file below the playbooks' directories, the inventory
//! sources (a file with the `group_vars/` and `host_vars/` beside it, or a directory), the
//! roles paths and `@file` extra variables. Version-control metadata and the plan file itself are left
//! out. `apply` refuses a plan whose inputs changed.

use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Directories never hashed: version control and build output.
const SKIPPED_DIRS: &[&str] = &[".git", ".hg", ".svn", "target", "__pycache__"];

/// Hash every input file under `roots` (files or directories), leaving out `exclude`
/// (the plan file). Keys are the paths as found from the roots.
pub fn hash_inputs(roots: &[PathBuf], exclude: &[PathBuf]) -> BTreeMap<String, String> {
    let excluded: Vec<PathBuf> = exclude
        .iter()
        .filter_map(|path| path.canonicalize().ok())
        .collect();
    let mut out = BTreeMap::new();
    let mut seen = std::collections::HashSet::new();
    for root in roots {
        walk(root, &excluded, &mut seen, &mut out);
    }
    out
}

fn walk(
    path: &Path,
    excluded: &[PathBuf],
    seen: &mut std::collections::HashSet<PathBuf>,
    out: &mut BTreeMap<String, String>,
) {
    let Ok(canonical) = path.canonicalize() else {
        return;
    };
    if excluded.contains(&canonical) || !seen.insert(canonical) {
        return;
    }
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        let mut children: Vec<PathBuf> = entries.flatten().map(|entry| entry.path()).collect();
        children.sort();
        for child in children {
            let name = child.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if child.is_dir() && SKIPPED_DIRS.contains(&name) {
                continue;
            }
            walk(&child, excluded, seen, out);
        }
    } else if let Ok(bytes) = std::fs::read(path) {
        out.insert(
            path.display().to_string(),
            hex::encode(Sha256::digest(&bytes)),
        );
    }
}

/// What changed between two sets of input hashes, one line per file.
pub fn changed_inputs(
    planned: &BTreeMap<String, String>,
    now: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (path, hash) in planned {
        match now.get(path) {
            None => out.push(format!("{path}: removed")),
            Some(current) if current != hash => out.push(format!("{path}: changed")),
            Some(_) => {}
        }
    }
    for path in now.keys().filter(|path| !planned.contains_key(*path)) {
        out.push(format!("{path}: added"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_additions_and_removals_are_named_and_the_plan_itself_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("roles/r/tasks")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::write(root.join("site.yml"), "- hosts: all\n").unwrap();
        std::fs::write(root.join("roles/r/tasks/main.yml"), "[]\n").unwrap();
        std::fs::write(root.join(".git/HEAD"), "ref\n").unwrap();
        std::fs::write(root.join("plan.json"), "{}").unwrap();
        let plan = root.join("plan.json");
        let before = hash_inputs(std::slice::from_ref(&root), std::slice::from_ref(&plan));
        let names: Vec<String> = before
            .keys()
            .map(|k| {
                k.trim_start_matches(&root.display().to_string())
                    .to_string()
            })
            .collect();
        assert_eq!(names, ["/roles/r/tasks/main.yml", "/site.yml"]);

        std::fs::write(root.join("plan.json"), "{\"other\": 1}").unwrap();
        std::fs::write(root.join("site.yml"), "- hosts: web\n").unwrap();
        std::fs::remove_file(root.join("roles/r/tasks/main.yml")).unwrap();
        std::fs::write(root.join("extra.yml"), "x: 1\n").unwrap();
        let after = hash_inputs(std::slice::from_ref(&root), std::slice::from_ref(&plan));
        let changes: Vec<String> = changed_inputs(&before, &after)
            .iter()
            .map(|line| {
                line.trim_start_matches(&root.display().to_string())
                    .to_string()
            })
            .collect();
        assert_eq!(
            changes,
            [
                "/roles/r/tasks/main.yml: removed",
                "/site.yml: changed",
                "/extra.yml: added"
            ]
        );
    }
}
