//! Roles: finding their directories, reading defaults, vars and dependencies, and expanding
//! an application of a role into tasks (dependencies first, each role once per play).

use super::error::LoadError;
use super::keywords::{self, has_template};
use super::role_ref::RoleRef;
use super::tasks::only_tasks;
use super::{Loader, PlayState, Scope};
use crate::playbook::model::{Role, RoleInstance, TaskNode};
use crate::yaml::{key_text, Node, NodeValue, YamlFile};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A role read from disk, shared by all its applications.
#[derive(Debug)]
pub(super) struct LoadedRole {
    role: Arc<Role>,
    dependencies: Vec<RoleRef>,
    /// `allow_duplicates: true` in `meta/main.yml`: runs every time it is named.
    allow_duplicates: bool,
    /// Where the role's tasks look for short module and role names: the role's own
    /// collection (for a collection role), then `collections:` of `meta/main.yml`.
    collections: Vec<String>,
}

/// `namespace.collection` when `dir` is `.../ansible_collections/NS/COLL/roles/ROLE`.
fn collection_of(dir: &Path) -> Option<String> {
    let roles = dir.parent()?;
    if roles.file_name()? != "roles" {
        return None;
    }
    let collection = roles.parent()?;
    let namespace = collection.parent()?;
    if namespace.parent()?.file_name()? != "ansible_collections" {
        return None;
    }
    Some(format!(
        "{}.{}",
        namespace.file_name()?.to_string_lossy(),
        collection.file_name()?.to_string_lossy()
    ))
}

/// The file a role directory's `main` is in: `main.yml`, `main.yaml` or `main`.
fn main_file(dir: &Path, stem: &str) -> Option<PathBuf> {
    [
        format!("{stem}.yml"),
        format!("{stem}.yaml"),
        stem.to_string(),
    ]
    .into_iter()
    .map(|name| dir.join(name))
    .find(|path| path.is_file())
}

impl Loader<'_> {
    /// A play's `roles:` section.
    pub(super) fn play_roles(
        &mut self,
        file: &YamlFile,
        list: &Node,
        scope: &Scope,
        play: &mut PlayState,
    ) -> Vec<TaskNode> {
        let items: &[Node] = match &list.value {
            NodeValue::Seq(items) => items,
            NodeValue::Null => &[],
            _ => {
                self.report(
                    LoadError::NotAList {
                        what: "`roles`".into(),
                        found: list.kind(),
                    },
                    file.location(list),
                );
                return Vec::new();
            }
        };
        let mut nodes = Vec::new();
        for item in items {
            if let Some(role_ref) = self.role_ref(file, item) {
                nodes.extend(self.expand_role(&role_ref, scope, play, &mut Vec::new(), true, None));
            }
        }
        nodes
    }

    /// `- name`, `- role: name` with keywords and parameters, or `- {name: x, vars: {...}}`.
    fn role_ref(&mut self, file: &YamlFile, node: &Node) -> Option<RoleRef> {
        let location = file.location(node);
        let entries = match &node.value {
            NodeValue::String(name) => return Some(RoleRef::named(name.clone(), location)),
            NodeValue::Map(entries) => entries,
            _ => {
                self.report(
                    LoadError::WrongType {
                        keyword: "roles".into(),
                        expected: "a list of role names or mappings with `role:`",
                        found: keywords::found(node),
                    },
                    location,
                );
                return None;
            }
        };
        let mut role_ref = RoleRef::named(String::new(), location);
        let mut named = false;
        let value = |key: &str| node.get(key);
        role_ref.become_settings = self.become_settings(file, &value);
        for (key, value) in entries {
            let name = key_text(key).unwrap_or_default();
            match name.as_str() {
                "role" | "name" => {
                    if let Some(text) = self.ok(keywords::string(file, &name, value)) {
                        role_ref.name = text;
                        role_ref.location = file.location(value);
                        named = true;
                    }
                }
                "vars" => {
                    if let Some(vars) = self.ok(keywords::variables(file, "vars", value)) {
                        role_ref.params.extend(vars);
                    }
                }
                "when" => {
                    role_ref.when = self
                        .ok(keywords::conditions(file, "when", value))
                        .unwrap_or_default();
                }
                "tags" => role_ref.tags = self.ok(keywords::tags(file, value)).unwrap_or_default(),
                "become" | "become_user" | "become_method" => {}
                // Any other key is a role parameter, as in Ansible.
                _ => {
                    role_ref.params.insert(name, value.to_value());
                }
            }
        }
        if !named {
            self.report(LoadError::RoleWithoutName, file.location(node));
            return None;
        }
        if has_template(&role_ref.name) {
            self.report(
                LoadError::TemplatedName {
                    keyword: "role".into(),
                    name: role_ref.name,
                    instead: "roles are loaded before the run; name the role",
                },
                role_ref.location,
            );
            return None;
        }
        Some(role_ref)
    }

    /// The directories that may hold collection `namespace.collection`: under the playbook's
    /// `collections/`, then under each `collections_path` entry.
    fn collection_dirs(
        &self,
        namespace: &str,
        collection: &str,
        playbook_dir: &Path,
    ) -> Vec<PathBuf> {
        let mut roots = vec![playbook_dir.join("collections").join("ansible_collections")];
        for dir in &self.options.collections_path {
            if dir
                .file_name()
                .is_some_and(|name| name == "ansible_collections")
            {
                roots.push(dir.clone());
            } else {
                roots.push(dir.join("ansible_collections"));
            }
        }
        roots
            .into_iter()
            .map(|root| root.join(namespace).join(collection))
            .collect()
    }

    /// Where a role is looked for, in order: for `namespace.collection.role`, that
    /// collection's `roles/` in each collections directory; for a short name, the `roles/`
    /// of each collection in `collections` (as Ansible searches them first), then a path as
    /// written (when it has a `/`), the playbook's `roles/`, each `--roles-path` entry,
    /// converge's shipped roles.
    fn role_candidates(
        &self,
        name: &str,
        playbook_dir: &Path,
        collections: &[String],
    ) -> Vec<PathBuf> {
        let mut candidates = Vec::new();
        let parts: Vec<&str> = name.split('.').collect();
        if !name.contains('/') {
            if let [namespace, collection, role] = parts.as_slice() {
                for dir in self.collection_dirs(namespace, collection, playbook_dir) {
                    candidates.push(dir.join("roles").join(role));
                }
                // A role installed by name (`ansible-galaxy role install`) keeps its dots.
                for dir in &self.options.roles_path {
                    candidates.push(dir.join(name));
                }
                return candidates;
            }
            if parts.len() == 1 {
                for full in collections {
                    if let [namespace, collection] = full.split('.').collect::<Vec<_>>()[..] {
                        for dir in self.collection_dirs(namespace, collection, playbook_dir) {
                            candidates.push(dir.join("roles").join(name));
                        }
                    }
                }
            }
        }
        if name.contains('/') {
            candidates.push(playbook_dir.join(name));
        }
        candidates.push(playbook_dir.join("roles").join(name));
        for dir in &self.options.roles_path {
            candidates.push(dir.join(name));
        }
        if let Some(dir) = &self.options.shipped_roles {
            candidates.push(dir.join(name));
        }
        let mut unique = Vec::new();
        for candidate in candidates {
            if !unique.contains(&candidate) {
                unique.push(candidate);
            }
        }
        unique
    }

    /// The role in `dir`, read once: defaults, vars and dependencies.
    fn load_role(&mut self, dir: &Path, name: &str) -> Option<Arc<LoadedRole>> {
        let key = super::same_file_key(dir);
        if let Some(cached) = self.roles.get(&key) {
            return cached.clone();
        }
        let defaults = main_file(&dir.join("defaults"), "main")
            .and_then(|path| self.vars_file(&path))
            .unwrap_or_default();
        let vars = main_file(&dir.join("vars"), "main")
            .and_then(|path| self.vars_file(&path))
            .unwrap_or_default();
        let mut dependencies = Vec::new();
        let mut allow_duplicates = false;
        let mut collections: Vec<String> = collection_of(dir).into_iter().collect();
        if let Some(meta_path) = main_file(&dir.join("meta"), "main") {
            if let Some(meta) = self.yaml(&meta_path) {
                if let Some(list) = meta.root.get("collections") {
                    collections.extend(
                        self.ok(keywords::string_list(&meta, "collections", list))
                            .unwrap_or_default(),
                    );
                }
                if let Some(flag) = meta.root.get("allow_duplicates") {
                    allow_duplicates = self
                        .ok(keywords::boolean(&meta, "allow_duplicates", flag))
                        .unwrap_or(false);
                }
                if let Some(list) = meta.root.get("dependencies") {
                    match &list.value {
                        NodeValue::Seq(items) => {
                            for item in items {
                                dependencies.extend(self.role_ref(&meta, item));
                            }
                        }
                        NodeValue::Null => {}
                        _ => self.report(
                            LoadError::NotAList {
                                what: "`dependencies`".into(),
                                found: list.kind(),
                            },
                            meta.location(list),
                        ),
                    }
                }
            }
        }
        let loaded = Arc::new(LoadedRole {
            role: Arc::new(Role {
                name: name.to_string(),
                path: dir.to_path_buf(),
                defaults,
                vars,
            }),
            dependencies,
            allow_duplicates,
            collections,
        });
        self.roles.insert(key, Some(loaded.clone()));
        Some(loaded)
    }

    /// The tasks of one application of a role: its dependencies' tasks, then its own.
    /// `chain` holds the roles being expanded (for dependency cycles); `dedupe` skips a role
    /// already applied in this play with the same parameters, as Ansible does for `roles:`
    /// and dependencies (not for `include_role`/`import_role`).
    pub(super) fn expand_role(
        &mut self,
        role_ref: &RoleRef,
        scope: &Scope,
        play: &mut PlayState,
        chain: &mut Vec<String>,
        dedupe: bool,
        tasks_from: Option<&str>,
    ) -> Vec<TaskNode> {
        let candidates =
            self.role_candidates(&role_ref.name, &play.playbook_dir, &scope.collections);
        let Some(dir) = candidates.iter().find(|dir| dir.is_dir()).cloned() else {
            self.report(
                LoadError::RoleNotFound {
                    name: role_ref.name.clone(),
                    searched: candidates,
                },
                role_ref.location.clone(),
            );
            return Vec::new();
        };
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| role_ref.name.clone());
        if let Some(start) = chain.iter().position(|outer| *outer == name) {
            let mut cycle = chain[start..].to_vec();
            cycle.push(name.clone());
            self.report(
                LoadError::RoleCycle { name, chain: cycle },
                role_ref.location.clone(),
            );
            return Vec::new();
        }
        let Some(loaded) = self.load_role(&dir, &name) else {
            return Vec::new();
        };
        let applied = (super::same_file_key(&dir), role_ref.params.clone());
        if dedupe && !loaded.allow_duplicates && play.ran.contains(&applied) {
            return Vec::new();
        }

        let instance = Arc::new(RoleInstance {
            role: loaded.role.clone(),
            params: role_ref.params.clone(),
        });
        let mut when = scope.when.clone();
        when.extend(role_ref.when.iter().cloned());
        let role_scope = Scope {
            base_dir: dir.join("tasks"),
            role: Some(instance.clone()),
            tags: keywords::merge_tags(&scope.tags, &role_ref.tags),
            when,
            become_settings: role_ref.become_settings.inherit(&scope.become_settings),
            handlers: false,
            // A role does not see the play's `collections:`, only its own (as in Ansible).
            collections: loaded.collections.clone(),
            ..scope.clone()
        };

        let mut nodes = Vec::new();
        chain.push(name.clone());
        for dependency in &loaded.dependencies {
            nodes.extend(self.expand_role(dependency, &role_scope, play, chain, true, None));
        }
        chain.pop();

        let tasks_dir = dir.join("tasks");
        let tasks_file = match tasks_from {
            None => main_file(&tasks_dir, "main"),
            Some(from) => {
                let found = main_file(
                    &tasks_dir,
                    from.trim_end_matches(".yml").trim_end_matches(".yaml"),
                );
                if found.is_none() {
                    self.report(
                        LoadError::TaskFileNotFound {
                            name: from.to_string(),
                            searched: vec![tasks_dir.join(from)],
                        },
                        role_ref.location.clone(),
                    );
                }
                found
            }
        };
        if let Some(path) = tasks_file {
            nodes.extend(self.task_file(&path, &role_scope, play, None));
        }

        if !play.handlers_of.contains(&applied) {
            play.handlers_of.push(applied.clone());
            if let Some(path) = main_file(&dir.join("handlers"), "main") {
                let handler_scope = Scope {
                    base_dir: dir.join("handlers"),
                    tags: Vec::new(),
                    when: Vec::new(),
                    handlers: true,
                    ..role_scope.clone()
                };
                let handlers = self.task_file(&path, &handler_scope, play, None);
                play.role_handlers.extend(only_tasks(handlers));
            }
        }
        play.roles.push(instance);
        play.ran.push(applied);
        nodes
    }
}
