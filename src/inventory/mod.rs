//! Ansible-style inventories: YAML and INI files (or directories of them), host ranges,
//! `group_vars/` and `host_vars/`, and host patterns (`web:&prod:!web3`).
//!
//! Loading follows Ansible's model: every group descends from `all`; a host in no other group
//! is in `ungrouped`; a host named in several places is one host; variables merge in Ansible's
//! documented precedence (see [`Inventory::host_vars`]). Connection variables (`ansible_port`,
//! `ansible_become`, …) stay ordinary variables, but a value of the wrong type is refused at its
//! line here rather than failing on one host mid-run.

mod build;
mod checks;
pub mod error;
pub mod export;
mod ini;
mod pattern;
mod range;
mod vars_dir;
mod yaml;

use crate::diagnostic::{Diagnostic, Location};
use build::{Builder, ALL};
use error::InventoryError;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use vars_dir::VarsDir;

/// Names that reach the implicit `localhost` when the inventory has no such host (Ansible's
/// `C.LOCALHOST`).
const LOCALHOST_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// File names Ansible skips when an inventory source is a directory
/// (`INVENTORY_IGNORE_EXTS`): editor backups, docs, retry files.
const IGNORED_SUFFIXES: [&str; 12] = [
    ".pyc", ".pyo", ".swp", ".bak", "~", ".rpm", ".md", ".txt", ".rst", ".orig", ".cfg", ".retry",
];

/// Hosts and groups from every inventory source, with their variables.
#[derive(Debug, Clone)]
pub struct Inventory {
    hosts: Vec<InventoryHost>,
    host_index: HashMap<String, usize>,
    /// In creation order; index 0 is `all`, 1 is `ungrouped`.
    groups: Vec<Group>,
    group_index: HashMap<String, usize>,
    /// Inventory-adjacent directories first, then playbook-adjacent ones, each in load order.
    vars_dirs: Vec<VarsDir>,
    /// The host `localhost` that exists without being listed (`ansible_connection=local`).
    localhost: InventoryHost,
}

/// One host of the inventory.
#[derive(Debug, Clone)]
pub struct InventoryHost {
    /// The inventory name (`inventory_hostname`).
    pub name: String,
    /// Every group it belongs to, ancestors and `all` included, in Ansible's variable precedence
    /// order: `all` first, then by depth (parents before children), `ansible_group_priority`,
    /// and name. Empty for the implicit `localhost`, which belongs to no group.
    pub groups: Vec<String>,
    /// Indexes of `groups` in [`Inventory::groups`].
    group_ids: Vec<usize>,
    /// Variables set on the host in inventory files.
    vars: Map<String, Value>,
}

/// Hosts are equal when their names, groups and inventory variables are: group indexes depend
/// on the order a source happened to define groups in.
impl PartialEq for InventoryHost {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.groups == other.groups && self.vars == other.vars
    }
}

impl InventoryHost {
    /// The `group_names` magic variable: its groups except `all`, sorted by name.
    pub fn group_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .groups
            .iter()
            .filter(|g| *g != "all")
            .cloned()
            .collect();
        names.sort();
        names
    }
}

/// One group after loading.
#[derive(Debug, Clone)]
struct Group {
    name: String,
    /// Variables from inventory files (`vars:`, `[name:vars]`).
    vars: Map<String, Value>,
    /// Its hosts and its descendants' hosts, in Ansible's listing order.
    ordered_hosts: Vec<usize>,
    /// Hosts listed in the group itself, in the order added (`ansible-inventory`'s `hosts`).
    direct_hosts: Vec<usize>,
    /// Child groups in the order declared (`ansible-inventory`'s `children`).
    children: Vec<usize>,
}

impl Inventory {
    /// Load one or more inventory sources (`-i` may repeat): a YAML file, an INI file, a
    /// directory holding such files, or a comma-separated host list (`web1,web2,`); plus
    /// `group_vars/` and `host_vars/` beside each source (inside it, for a directory).
    pub fn load(sources: &[PathBuf]) -> Result<Inventory, Diagnostic> {
        let mut builder = Builder::new();
        let mut vars_roots = Vec::new();
        for source in sources {
            match std::fs::metadata(source) {
                Ok(metadata) if metadata.is_dir() => {
                    load_directory(source, &mut builder)?;
                    vars_roots.push(source.clone());
                }
                Ok(_) => {
                    load_file(source, &mut builder)?;
                    let parent = source.parent().filter(|p| !p.as_os_str().is_empty());
                    vars_roots.push(parent.unwrap_or(Path::new(".")).to_path_buf());
                }
                Err(_) if source.to_string_lossy().contains(',') => {
                    load_host_list(&source.to_string_lossy(), &mut builder)?;
                }
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    return Err(InventoryError::SourceNotFound {
                        path: source.display().to_string(),
                    }
                    .nowhere());
                }
                Err(error) => {
                    return Err(InventoryError::Unreadable {
                        path: source.display().to_string(),
                        reason: crate::yaml::io_reason(&error),
                    }
                    .at(Location::file(source)));
                }
            }
        }
        let mut inventory = builder.finish()?;
        for root in vars_roots {
            inventory.read_vars_dir(&root)?;
        }
        Ok(inventory)
    }

    /// An empty inventory with only the implicit `localhost` (ansible_connection=local), used
    /// when no `-i` is given.
    pub fn implicit() -> Inventory {
        // An empty builder always reconciles: no groups but `all` and `ungrouped`, no cycles.
        Builder::new().finish().unwrap_or_else(|_| Inventory {
            hosts: Vec::new(),
            host_index: HashMap::new(),
            groups: Vec::new(),
            group_index: HashMap::new(),
            vars_dirs: Vec::new(),
            localhost: Inventory::implicit_localhost(),
        })
    }

    fn implicit_localhost() -> InventoryHost {
        let mut vars = Map::new();
        vars.insert("ansible_connection".into(), Value::String("local".into()));
        InventoryHost {
            name: "localhost".into(),
            groups: Vec::new(),
            group_ids: Vec::new(),
            vars,
        }
    }

    /// Read `group_vars/` and `host_vars/` from `dir` (the playbook's directory); these win over
    /// the inventory-adjacent ones (Ansible's precedence).
    pub fn add_vars_dir(&mut self, dir: &Path) -> Result<(), Diagnostic> {
        self.read_vars_dir(dir)
    }

    fn read_vars_dir(&mut self, dir: &Path) -> Result<(), Diagnostic> {
        let groups: Vec<&str> = self.groups.iter().map(|g| g.name.as_str()).collect();
        let mut hosts: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
        if !self.host_index.contains_key("localhost") {
            hosts.push("localhost");
        }
        let loaded = VarsDir::load(dir, &groups, &hosts)?;
        self.vars_dirs.push(loaded);
        Ok(())
    }

    /// Hosts matching an Ansible pattern, deduplicated, in inventory order (the implicit
    /// `localhost` last). Empty when nothing matches (the caller warns), and when a `~regex`
    /// does not compile (use [`Inventory::try_select`] to report that). A subscript picks from
    /// a term's hosts in Ansible's order for it, so `db[0]` is `groups['db'][0]`.
    ///
    /// Supports `all`, `*`, group and host names, `a:b` and `a,b` (union), `a:&b`
    /// (intersection), `a:!b` (exclusion), globs (`web*`, `*.example.org`), `~regex`, and
    /// subscripts (`web[0]`, `web[1:3]`). The implicit `localhost` matches `localhost`,
    /// `127.0.0.1` and `::1` when no host has that name, but never `all`.
    pub fn select(&self, pattern: &str) -> Vec<&InventoryHost> {
        self.try_select(pattern).unwrap_or_default()
    }

    /// [`Inventory::select`], reporting a `~regex` that does not compile.
    pub fn try_select(&self, pattern: &str) -> Result<Vec<&InventoryHost>, Diagnostic> {
        let terms = pattern::split(pattern);
        Ok(self
            .evaluate(&terms)?
            .into_iter()
            .map(|i| self.host_at(i))
            .collect())
    }

    /// `--limit` applied to a selection (same pattern language; `@file` reads one pattern per
    /// line from a file). Keeps the selection's order. An unreadable `@file` or a bad regex
    /// leaves nothing selected; use [`Inventory::try_limit`] to report it.
    pub fn limit<'a>(
        &'a self,
        hosts: Vec<&'a InventoryHost>,
        limit: &str,
    ) -> Vec<&'a InventoryHost> {
        self.try_limit(hosts, limit).unwrap_or_default()
    }

    /// [`Inventory::limit`], reporting an unreadable `@file` or a bad regex.
    pub fn try_limit<'a>(
        &'a self,
        hosts: Vec<&'a InventoryHost>,
        limit: &str,
    ) -> Result<Vec<&'a InventoryHost>, Diagnostic> {
        let mut terms = Vec::new();
        for term in pattern::split(limit) {
            match term.strip_prefix('@') {
                Some(file) => {
                    let path = Path::new(file);
                    let text = std::fs::read_to_string(path).map_err(|error| {
                        InventoryError::Unreadable {
                            path: file.to_string(),
                            reason: crate::yaml::io_reason(&error),
                        }
                        .at(Location::file(path))
                    })?;
                    terms.extend(
                        text.lines()
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(String::from),
                    );
                }
                None => terms.push(term),
            }
        }
        let allowed: HashSet<usize> = self.evaluate(&terms)?.into_iter().collect();
        Ok(hosts
            .into_iter()
            .filter(|host| {
                self.index_of(&host.name)
                    .is_some_and(|i| allowed.contains(&i))
            })
            .collect())
    }

    /// The host's inventory variables merged in Ansible's precedence, lowest first:
    /// `all` group vars from inventory files < other groups' vars from inventory files
    /// < `group_vars/all` < `group_vars/<group>` < host vars from inventory files
    /// < `host_vars/<host>`. Among groups: parents before children, then
    /// `ansible_group_priority`, then name. Inventory-adjacent vars directories come before
    /// playbook-adjacent ones at each step. Dicts are replaced, not merged (Ansible's default
    /// `hash_behaviour=replace`). Empty for an unknown host.
    pub fn host_vars(&self, host: &str) -> Map<String, Value> {
        let mut merged = Map::new();
        let Some(index) = self.index_of(host) else {
            return merged;
        };
        let host = self.host_at(index);
        let groups: Vec<usize> = host
            .group_ids
            .iter()
            .copied()
            .filter(|g| *g != ALL)
            .collect();
        let mut combine = |vars: &Map<String, Value>| {
            for (key, value) in vars {
                merged.insert(key.clone(), value.clone());
            }
        };
        if let Some(all) = self.groups.get(ALL) {
            combine(&all.vars);
        }
        for group in &groups {
            combine(&self.groups[*group].vars);
        }
        for dir in &self.vars_dirs {
            if let Some(vars) = dir.group("all") {
                combine(vars);
            }
        }
        for dir in &self.vars_dirs {
            for group in &groups {
                if let Some(vars) = dir.group(&self.groups[*group].name) {
                    combine(vars);
                }
            }
        }
        combine(&host.vars);
        for dir in &self.vars_dirs {
            if let Some(vars) = dir.host(&host.name) {
                combine(vars);
            }
        }
        merged
    }

    /// The `groups` magic variable: group name -> host names (including `all` and
    /// `ungrouped`), each list in Ansible's order so `groups['db'][0]` is the same host.
    pub fn groups_map(&self) -> Map<String, Value> {
        self.groups
            .iter()
            .map(|group| {
                let names = group
                    .ordered_hosts
                    .iter()
                    .map(|h| Value::String(self.hosts[*h].name.clone()))
                    .collect();
                (group.name.clone(), Value::Array(names))
            })
            .collect()
    }

    /// The host called `name`; `localhost` (or `127.0.0.1`, `::1`) is the implicit local host
    /// when the inventory does not list it.
    pub fn host(&self, name: &str) -> Option<&InventoryHost> {
        self.index_of(name).map(|i| self.host_at(i))
    }

    /// Every listed host, in the order first seen (the implicit `localhost` is not listed).
    pub fn hosts(&self) -> &[InventoryHost] {
        &self.hosts
    }

    /// True when a group called `name` exists (`all` and `ungrouped` always do).
    pub fn has_group(&self, name: &str) -> bool {
        self.group_index.contains_key(name)
    }

    /// Group names in the order created (`all`, `ungrouped`, then as the sources define them).
    pub fn group_names(&self) -> Vec<&str> {
        self.groups.iter().map(|g| g.name.as_str()).collect()
    }

    /// Host index; `self.hosts.len()` stands for the implicit `localhost`.
    fn index_of(&self, name: &str) -> Option<usize> {
        match self.host_index.get(name) {
            Some(index) => Some(*index),
            None if LOCALHOST_NAMES.contains(&name) => Some(self.hosts.len()),
            None => None,
        }
    }

    fn host_at(&self, index: usize) -> &InventoryHost {
        self.hosts.get(index).unwrap_or(&self.localhost)
    }

    /// Ansible's `_evaluate_patterns`: unions first, then intersections, then exclusions.
    fn evaluate(&self, terms: &[String]) -> Result<Vec<usize>, Diagnostic> {
        let mut result: Vec<usize> = Vec::new();
        let mut in_result: HashSet<usize> = HashSet::new();
        for term in pattern::order(terms) {
            if let Some(rest) = term.strip_prefix('&') {
                let keep: HashSet<usize> = self.match_one(rest)?.into_iter().collect();
                result.retain(|h| keep.contains(h));
                in_result.retain(|h| keep.contains(h));
            } else if let Some(rest) = term.strip_prefix('!') {
                let drop: HashSet<usize> = self.match_one(rest)?.into_iter().collect();
                result.retain(|h| !drop.contains(h));
                in_result.retain(|h| !drop.contains(h));
            } else {
                // A plain host name is taken as the host even if a group shares the name.
                let matched = match self.host_index.get(term) {
                    Some(index) => vec![*index],
                    None => self.match_one(term)?,
                };
                for host in matched {
                    if in_result.insert(host) {
                        result.push(host);
                    }
                }
            }
        }
        result.sort_unstable();
        Ok(result)
    }

    /// Ansible's `_match_one_pattern`: groups first, then host names for globs and regexes or
    /// when no group matched, then the implicit localhost; then the subscript.
    fn match_one(&self, term: &str) -> Result<Vec<usize>, Diagnostic> {
        let (expression, subscript) = pattern::split_subscript(term);
        let matcher = pattern::Matcher::new(expression).map_err(InventoryError::nowhere)?;
        let mut seen = HashSet::new();
        let mut hosts = Vec::new();
        let mut any_group = false;
        for group in &self.groups {
            if matcher.matches(&group.name) {
                any_group = true;
                for host in &group.ordered_hosts {
                    if seen.insert(*host) {
                        hosts.push(*host);
                    }
                }
            }
        }
        if !any_group || matcher.is_wild() {
            for (index, host) in self.hosts.iter().enumerate() {
                if matcher.matches(&host.name) && seen.insert(index) {
                    hosts.push(index);
                }
            }
        }
        if hosts.is_empty() && LOCALHOST_NAMES.contains(&expression) {
            hosts.push(self.hosts.len());
        }
        Ok(pattern::apply_subscript(hosts, subscript))
    }
}

/// Load every inventory file in a directory, in name order, descending into subdirectories,
/// skipping hidden files, vars directories and backup/doc files as Ansible does.
fn load_directory(dir: &Path, builder: &mut Builder) -> Result<(), Diagnostic> {
    let unreadable = |error: std::io::Error| {
        InventoryError::Unreadable {
            path: dir.display().to_string(),
            reason: crate::yaml::io_reason(&error),
        }
        .at(Location::file(dir))
    };
    let mut entries: Vec<(String, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let skipped = name.starts_with('.')
            || matches!(name.as_str(), "group_vars" | "host_vars" | "vars_plugins")
            || IGNORED_SUFFIXES.iter().any(|suffix| name.ends_with(suffix));
        if !skipped {
            entries.push((name, entry.path()));
        }
    }
    entries.sort();
    for (_, path) in entries {
        if path.is_dir() {
            load_directory(&path, builder)?;
        } else {
            load_file(&path, builder)?;
        }
    }
    Ok(())
}

/// Which format a file is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Yaml,
    Ini,
}

/// `.yml`/`.yaml`/`.json` are YAML; anything else is INI unless its first meaningful line reads
/// like YAML (`---`, `all:`, `{`, or a bare `name:` key, which no INI line can be).
fn detect_format(path: &Path, text: &str) -> Format {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(extension, "yml" | "yaml" | "json") {
        return Format::Yaml;
    }
    let first = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#') && !line.starts_with(';'));
    match first {
        Some(line) if line.starts_with("---") || line.starts_with('{') => Format::Yaml,
        Some(line) => {
            let key = line.split('#').next().unwrap_or(line).trim_end();
            match key.strip_suffix(':') {
                Some(name) if !name.is_empty() && !name.contains(['[', '=', ' ', '\t', ':']) => {
                    Format::Yaml
                }
                _ => Format::Ini,
            }
        }
        None => Format::Ini,
    }
}

fn load_file(path: &Path, builder: &mut Builder) -> Result<(), Diagnostic> {
    let text = crate::yaml::read_text(path)?;
    if text.starts_with("#!") {
        return Err(InventoryError::Script {
            path: path.display().to_string(),
        }
        .at(Location::new(Arc::new(path.to_path_buf()), 1, 1)));
    }
    match detect_format(path, &text) {
        Format::Yaml => {
            let file = crate::yaml::parse_str(&text, path)?;
            yaml::parse(&file, builder)
        }
        Format::Ini => ini::parse(&text, &Arc::new(path.to_path_buf()), builder),
    }
}

/// `-i web1,web2:2222,` — Ansible's host_list source: ungrouped hosts, no vars directory.
fn load_host_list(list: &str, builder: &mut Builder) -> Result<(), Diagnostic> {
    for item in list
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let (names, port) = range::parse_host_pattern(item).map_err(InventoryError::nowhere)?;
        for name in names {
            let host = builder.add_host(&name, build::UNGROUPED);
            if let Some(port) = port {
                builder.set_host_var(host, "ansible_port".into(), Value::from(port));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
