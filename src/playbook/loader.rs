//! Loading playbooks, task files and roles from YAML into the model.
//!
//! Everything that can be known before a host is touched is loaded and checked here: roles and
//! their dependencies, `import_*`, `include_*` with a fixed file name, `vars_files`, module
//! arguments without templates, and `template`/`copy` sources. Every problem is collected, so
//! the user fixes them all in one round.
//!
//! How keywords reach the tasks they apply to (the runner relies on this):
//! - `tags`, `ignore_errors`, `no_log` and `check_mode` are *effective* on every node: a task's
//!   value already includes what its play, role, block and import say.
//! - `when` of a role or an `import_*` is prepended to each node it brings in (task, block or
//!   include, at its top level); a block's or include's own `when` stays on it and is evaluated
//!   when it is reached.
//! - `become*` of a role or an `import_*` is applied (as defaults) to each node it brings in;
//!   a block's or include's own `become*` stays on it, and the runner inherits it (and the
//!   play's) at run time, as [`BecomeSettings::inherit`] describes.
//! - `vars` of an `import_*` are copied into each node it brings in (the node's own win).
//! - `import_tasks`/`import_role` are inlined: no trace of the import is left in the tree.
//! - the tasks of an `include_tasks`/`include_role` carry the inherited tags, not the include's
//!   own (as in Ansible, those only select the include itself).

mod error;
mod freeform;
mod keywords;
mod role_ref;
mod roles;
mod sources;
mod suggest;
mod tasks;
#[cfg(test)]
mod tests;

pub use error::LoadError;
pub use freeform::{parse_command, parse_key_values, FreeFormError};
pub use sources::{resolve_source, source_candidates, SourceKind};

use super::model::{
    BecomeSettings, Condition, Play, Playbook, RoleInstance, Task, TaskNode, VarsFile,
};
use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::yaml::{key_text, Node, NodeValue, YamlFile};
use keywords::has_template;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where roles are searched, after the playbook's own `roles/` directory.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `--roles-path` entries, in order.
    pub roles_path: Vec<PathBuf>,
    /// The roles shipped with converge, searched last; `None` leaves them out.
    pub shipped_roles: Option<PathBuf>,
    /// Directories holding collections (`ANSIBLE_COLLECTIONS_PATH`), searched after the
    /// playbook's own `collections/` for roles written `namespace.collection.role`. Each is
    /// a directory with an `ansible_collections/` inside, or that directory itself.
    pub collections_path: Vec<PathBuf>,
    /// The playbook's directory, for [`load_task_file`] at run time (its `roles/`,
    /// `templates/` and `files/`); defaults to the task file's directory.
    pub playbook_dir: Option<PathBuf>,
}

impl LoadOptions {
    /// Ansible's collections path: `ANSIBLE_COLLECTIONS_PATH` (or the older
    /// `ANSIBLE_COLLECTIONS_PATHS`), else `~/.ansible/collections` and
    /// `/usr/share/ansible/collections`.
    pub fn collections_path_from_env() -> Vec<PathBuf> {
        let variable = std::env::var_os("ANSIBLE_COLLECTIONS_PATH")
            .or_else(|| std::env::var_os("ANSIBLE_COLLECTIONS_PATHS"));
        if let Some(value) = variable {
            return std::env::split_paths(&value).collect();
        }
        let mut dirs = Vec::new();
        if let Some(home) = std::env::var_os("HOME") {
            dirs.push(PathBuf::from(home).join(".ansible/collections"));
        }
        dirs.push(PathBuf::from("/usr/share/ansible/collections"));
        dirs
    }

    /// The `roles/` directory of converge's source tree, where its shipped roles live.
    pub fn shipped_roles_dir() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/roles"))
    }
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            roles_path: Vec::new(),
            collections_path: Vec::new(),
            shipped_roles: Some(Self::shipped_roles_dir()),
            playbook_dir: None,
        }
    }
}

/// Load a playbook and everything it names statically.
pub fn load_playbook(path: &Path, options: &LoadOptions) -> Result<Playbook, Diagnostics> {
    let mut loader = Loader::new(options);
    let plays = loader.playbook(path);
    let notes = std::mem::take(&mut loader.notes);
    loader.finish(Playbook {
        path: path.to_path_buf(),
        plays,
        notes,
    })
}

/// Load a task file at run time (for `include_tasks` with a templated name). Relative
/// includes inside it are resolved against the file's own directory, then the role's
/// `tasks/` directory when `role` is given. `template`/`copy` sources are checked only when
/// [`LoadOptions::playbook_dir`] is set.
pub fn load_task_file(
    path: &Path,
    role: Option<Arc<RoleInstance>>,
    options: &LoadOptions,
) -> Result<Vec<TaskNode>, Diagnostics> {
    let mut loader = Loader::new(options);
    let file_dir = parent_dir(path);
    let playbook_dir = options
        .playbook_dir
        .clone()
        .unwrap_or_else(|| file_dir.clone());
    let base_dir = role
        .as_ref()
        .map(|instance| instance.role.path.join("tasks"))
        .unwrap_or(file_dir);
    let scope = Scope::new(base_dir, role);
    let mut play = PlayState::new(playbook_dir);
    // Without the playbook's directory a `src` could be reported missing only because it
    // was looked for in the wrong place; the runner resolves it when the task runs.
    play.check_sources = options.playbook_dir.is_some();
    let nodes = loader.task_file(path, &scope, &mut play, None);
    loader.finish(nodes)
}

/// What the keywords of enclosing levels (play, role, block, import) impose on the nodes
/// being loaded; see the module documentation for how each one is applied.
#[derive(Debug, Clone)]
struct Scope {
    /// Where relative `include_tasks`/`import_tasks` names are looked up after the including
    /// file's own directory: the role's `tasks/`, or the playbook's directory.
    base_dir: PathBuf,
    /// The role the tasks belong to.
    role: Option<Arc<RoleInstance>>,
    /// Tags added to every node.
    tags: Vec<String>,
    /// Conditions prepended to every node at this level.
    when: Vec<Condition>,
    /// Defaults for `become*` of every node at this level.
    become_settings: BecomeSettings,
    /// Effective `ignore_errors`.
    ignore_errors: bool,
    /// Effective `no_log`.
    no_log: bool,
    /// Effective `check_mode`.
    check_mode: Option<bool>,
    /// Loading `handlers:` (where `listen` is allowed and blocks are not).
    handlers: bool,
    /// `collections:` of the play or role: searched first for short module and role names.
    collections: Vec<String>,
}

impl Scope {
    fn new(base_dir: PathBuf, role: Option<Arc<RoleInstance>>) -> Self {
        Scope {
            base_dir,
            role,
            tags: Vec::new(),
            when: Vec::new(),
            become_settings: BecomeSettings::default(),
            ignore_errors: false,
            no_log: false,
            check_mode: None,
            handlers: false,
            collections: Vec::new(),
        }
    }
}

/// What one play accumulates while its sections load.
#[derive(Debug)]
struct PlayState {
    /// The directory of the playbook file the play is written in.
    playbook_dir: PathBuf,
    /// Every role instance, dependencies first.
    roles: Vec<Arc<RoleInstance>>,
    /// Roles that already ran (directory and parameters), so each runs once.
    ran: Vec<(PathBuf, Map<String, Value>)>,
    /// Roles whose handlers are already in `role_handlers`.
    handlers_of: Vec<(PathBuf, Map<String, Value>)>,
    /// Handlers from roles, after the play's own.
    role_handlers: Vec<Task>,
    /// Every fixed `notify` name with where it is written, checked once handlers are known.
    notified: Vec<(String, Location)>,
    /// Check that `template`/`copy` sources exist (only when `playbook_dir` is known).
    check_sources: bool,
}

impl PlayState {
    fn new(playbook_dir: PathBuf) -> Self {
        PlayState {
            playbook_dir,
            roles: Vec::new(),
            ran: Vec::new(),
            handlers_of: Vec::new(),
            role_handlers: Vec::new(),
            notified: Vec::new(),
            check_sources: true,
        }
    }
}

/// The loader's working state across files.
struct Loader<'a> {
    options: &'a LoadOptions,
    diagnostics: Diagnostics,
    /// Parsed files by path; `None` when the file could not be read (reported once).
    files: HashMap<PathBuf, Option<Arc<YamlFile>>>,
    /// Roles by directory; `None` when the role has errors (reported once).
    roles: HashMap<PathBuf, Option<Arc<roles::LoadedRole>>>,
    /// Task files being loaded, outermost first, to catch imports of themselves.
    task_files: Vec<PathBuf>,
    /// Playbooks being loaded, outermost first.
    playbooks: Vec<PathBuf>,
    /// Notes for `-v`: what was accepted but has no effect (dropped arguments).
    notes: Vec<Diagnostic>,
}

/// The keys of a play.
const PLAY_KEYS: &[&str] = &[
    "name",
    "hosts",
    "vars",
    "vars_files",
    "roles",
    "pre_tasks",
    "tasks",
    "post_tasks",
    "handlers",
    "become",
    "become_user",
    "become_method",
    "serial",
    "gather_facts",
    "tags",
    "ignore_errors",
    "check_mode",
    "no_log",
    "any_errors_fatal",
    "max_fail_percentage",
    "remote_user",
    "connection",
    "environment",
    "vars_prompt",
    "gather_subset",
    "gather_timeout",
    "throttle",
    "order",
    "collections",
];

/// Ansible play keys converge does not implement: reported as such, not as typos.
const UNSUPPORTED_PLAY_KEYS: &[&str] = &[
    "strategy",
    "module_defaults",
    "order",
    "force_handlers",
    "fact_path",
    "run_once",
    "delegate_to",
    "port",
    "debugger",
    "timeout",
];

impl<'a> Loader<'a> {
    fn new(options: &'a LoadOptions) -> Self {
        Loader {
            options,
            diagnostics: Diagnostics::default(),
            files: HashMap::new(),
            roles: HashMap::new(),
            task_files: Vec::new(),
            playbooks: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn report(&mut self, error: LoadError, location: Location) {
        self.error(error.at(location));
    }

    /// `Ok(value)` unless an error was reported. A file loaded twice (a role applied with two
    /// sets of parameters) would report its problems twice; each is kept once.
    fn finish<T>(self, value: T) -> Result<T, Diagnostics> {
        let mut unique: Vec<Diagnostic> = Vec::new();
        for diagnostic in self.diagnostics.0 {
            if !unique.contains(&diagnostic) {
                unique.push(diagnostic);
            }
        }
        let diagnostics = Diagnostics(unique);
        if diagnostics.has_errors() {
            Err(diagnostics)
        } else {
            Ok(value)
        }
    }

    /// Parse `path` once; a file that cannot be read or parsed is reported once.
    fn yaml(&mut self, path: &Path) -> Option<Arc<YamlFile>> {
        if let Some(cached) = self.files.get(path) {
            return cached.clone();
        }
        let loaded = match crate::yaml::load_file(path) {
            Ok(file) => Some(Arc::new(file)),
            Err(diagnostic) => {
                self.error(diagnostic);
                None
            }
        };
        self.files.insert(path.to_path_buf(), loaded.clone());
        loaded
    }

    /// Call `value` on the result, or report its error and give `None`.
    fn ok<T>(&mut self, result: Result<T, Diagnostic>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(diagnostic) => {
                self.error(diagnostic);
                None
            }
        }
    }

    /// The plays of the playbook at `path`, with `import_playbook` entries spliced in.
    fn playbook(&mut self, path: &Path) -> Vec<Play> {
        let Some(file) = self.yaml(path) else {
            return Vec::new();
        };
        self.playbooks.push(same_file_key(path));
        let playbook_dir = parent_dir(path);
        let mut plays = Vec::new();
        match &file.root.value {
            NodeValue::Null => {}
            NodeValue::Seq(items) => {
                for item in items {
                    if import_playbook_key(item).is_some() {
                        plays.extend(self.import_playbook(&file, item, &playbook_dir));
                    } else if item.as_map().is_some() {
                        plays.extend(self.play(&file, item, &playbook_dir));
                    } else {
                        self.report(
                            LoadError::PlayNotAMapping { found: item.kind() },
                            file.location(item),
                        );
                    }
                }
            }
            _ => self.report(
                LoadError::NotAList {
                    what: "a playbook".into(),
                    found: file.root.kind(),
                },
                file.location(&file.root),
            ),
        }
        self.playbooks.pop();
        plays
    }

    /// `- import_playbook: other.yml` (with optional `name`, `tags`, `vars`).
    fn import_playbook(&mut self, file: &YamlFile, item: &Node, playbook_dir: &Path) -> Vec<Play> {
        let mut target: Option<(String, &Node)> = None;
        let mut tags = Vec::new();
        let mut vars = Map::new();
        for (key, value) in item.as_map().unwrap_or_default() {
            let name = key_text(key).unwrap_or_default();
            match name.as_str() {
                "import_playbook"
                | "ansible.builtin.import_playbook"
                | "ansible.legacy.import_playbook" => {
                    if let Some(text) = self.ok(keywords::string(file, "import_playbook", value)) {
                        target = Some((text, value));
                    }
                }
                "name" => {}
                "tags" => tags = self.ok(keywords::tags(file, value)).unwrap_or_default(),
                "vars" => {
                    vars = self
                        .ok(keywords::variables(file, "vars", value))
                        .unwrap_or_default()
                }
                "when" => self.report(
                    LoadError::Unsupported {
                        keyword: "when".into(),
                        instead: Some("put the condition on the plays' tasks or use host patterns"),
                    },
                    file.location(key),
                ),
                _ => self.report(
                    LoadError::UnknownKey {
                        key: name,
                        within: "import_playbook".into(),
                        known: vec!["import_playbook", "name", "tags", "vars"],
                    },
                    file.location(key),
                ),
            }
        }
        let Some((name, node)) = target else {
            return Vec::new();
        };
        if has_template(&name) {
            self.report(
                LoadError::TemplatedName {
                    keyword: "import_playbook".into(),
                    name,
                    instead: "playbooks are loaded before the run; name the file",
                },
                file.location(node),
            );
            return Vec::new();
        }
        let path = playbook_dir.join(&name);
        if !path.is_file() {
            self.report(
                LoadError::PlaybookNotFound {
                    name,
                    searched: path,
                },
                file.location(node),
            );
            return Vec::new();
        }
        let key = same_file_key(&path);
        if self.playbooks.contains(&key) {
            let shown = |path: &PathBuf| shown_path(path, playbook_dir);
            let mut chain: Vec<String> = self.playbooks.iter().map(shown).collect();
            chain.push(shown(&key));
            self.report(
                LoadError::PlaybookCycle { name, chain },
                file.location(node),
            );
            return Vec::new();
        }
        let mut plays = self.playbook(&path);
        for play in &mut plays {
            for (name, value) in &vars {
                if !play.vars.contains_key(name) {
                    play.vars.insert(name.clone(), value.clone());
                }
            }
            tasks::add_tags(&mut play.tasks, &tags);
        }
        plays
    }

    /// One play.
    fn play(&mut self, file: &YamlFile, node: &Node, playbook_dir: &Path) -> Option<Play> {
        let mut keys: HashMap<&'static str, (&Node, &Node)> = HashMap::new();
        for (key, value) in node.as_map().unwrap_or_default() {
            let name = key_text(key).unwrap_or_default();
            if let Some(known) = PLAY_KEYS.iter().find(|known| **known == name) {
                keys.insert(known, (key, value));
            } else if UNSUPPORTED_PLAY_KEYS.contains(&name.as_str()) {
                self.report(
                    LoadError::Unsupported {
                        keyword: name,
                        instead: None,
                    },
                    file.location(key),
                );
            } else {
                let suggestion = suggest::suggest(&name, PLAY_KEYS).map(str::to_string);
                self.report(
                    LoadError::UnknownPlayKey {
                        key: name,
                        suggestion,
                    },
                    file.location(key),
                );
            }
        }
        let value = |key: &str| keys.get(key).map(|(_, value)| *value);

        let hosts = match value("hosts") {
            None => {
                self.report(LoadError::NoHosts, file.location(node));
                String::new()
            }
            Some(hosts) => self
                .ok(keywords::string_list(file, "hosts", hosts))
                .map(|list| list.join(":"))
                .unwrap_or_default(),
        };
        let name = value("name")
            .and_then(|name| self.ok(keywords::string(file, "name", name)))
            .unwrap_or_else(|| hosts.clone());
        let vars = value("vars")
            .and_then(|vars| self.ok(keywords::variables(file, "vars", vars)))
            .unwrap_or_default();
        let vars_files = value("vars_files")
            .map(|list| self.vars_files(file, list, playbook_dir))
            .unwrap_or_default();
        let become_settings = self.become_settings(file, &|key| value(key));
        let serial = value("serial")
            .and_then(|serial| self.ok(keywords::serial(file, serial)))
            .unwrap_or_default();
        let gather_facts = value("gather_facts")
            .and_then(|flag| self.ok(keywords::boolean(file, "gather_facts", flag)))
            .unwrap_or(true);
        let any_errors_fatal = self
            .flag(file, "any_errors_fatal", value("any_errors_fatal"))
            .unwrap_or(false);
        let max_fail_percentage = value("max_fail_percentage")
            .and_then(|node| self.ok(keywords::percentage(file, "max_fail_percentage", node)));
        let remote_user = value("remote_user")
            .and_then(|user| self.ok(keywords::string(file, "remote_user", user)));
        let connection = value("connection")
            .and_then(|kind| self.ok(keywords::string(file, "connection", kind)));
        let environment =
            value("environment").and_then(|node| self.ok(keywords::environment(file, node)));
        let vars_prompt = value("vars_prompt")
            .and_then(|node| self.ok(keywords::vars_prompt(file, node)))
            .unwrap_or_default();

        let mut scope = Scope::new(playbook_dir.to_path_buf(), None);
        if let Some(list) = value("collections") {
            scope.collections = self
                .ok(keywords::string_list(file, "collections", list))
                .unwrap_or_default();
        }
        if let Some(tags) = value("tags") {
            scope.tags = self.ok(keywords::tags(file, tags)).unwrap_or_default();
        }
        scope.ignore_errors = self
            .flag(file, "ignore_errors", value("ignore_errors"))
            .unwrap_or(false);
        scope.no_log = self.flag(file, "no_log", value("no_log")).unwrap_or(false);
        scope.check_mode = self.flag(file, "check_mode", value("check_mode"));

        let mut state = PlayState::new(playbook_dir.to_path_buf());
        let handlers = match value("handlers") {
            Some(list) => {
                let handler_scope = Scope {
                    handlers: true,
                    tags: Vec::new(),
                    ..scope.clone()
                };
                let nodes = self.task_list(file, "handlers", list, &handler_scope, &mut state);
                tasks::only_tasks(nodes)
            }
            None => Vec::new(),
        };

        let section = |loader: &mut Self, key: &str, state: &mut PlayState| match value(key) {
            Some(list) => loader.task_list(file, key, list, &scope, state),
            None => Vec::new(),
        };
        let mut play_tasks = section(self, "pre_tasks", &mut state);
        play_tasks.push(TaskNode::FlushHandlers);
        if let Some(list) = value("roles") {
            play_tasks.extend(self.play_roles(file, list, &scope, &mut state));
        }
        play_tasks.extend(section(self, "tasks", &mut state));
        play_tasks.push(TaskNode::FlushHandlers);
        play_tasks.extend(section(self, "post_tasks", &mut state));
        play_tasks.push(TaskNode::FlushHandlers);

        let mut all_handlers = handlers;
        all_handlers.append(&mut state.role_handlers);
        self.check_notify(&state.notified, &all_handlers);

        Some(Play {
            name,
            hosts,
            location: file.location(node),
            vars,
            vars_files,
            become_settings,
            serial,
            gather_facts,
            remote_user,
            connection,
            any_errors_fatal,
            max_fail_percentage,
            vars_prompt,
            environment,
            roles: state.roles,
            tasks: play_tasks,
            handlers: all_handlers,
        })
    }

    /// A boolean keyword, if present and valid.
    fn flag(&mut self, file: &YamlFile, keyword: &str, node: Option<&Node>) -> Option<bool> {
        let node = node?;
        self.ok(keywords::boolean(file, keyword, node))
    }

    /// `become`, `become_user`, `become_method` from a lookup of keyword values.
    fn become_settings<'n>(
        &mut self,
        file: &YamlFile,
        value: &dyn Fn(&str) -> Option<&'n Node>,
    ) -> BecomeSettings {
        BecomeSettings {
            enabled: self.flag(file, "become", value("become")),
            user: value("become_user")
                .and_then(|user| self.ok(keywords::string(file, "become_user", user))),
            method: value("become_method")
                .and_then(|method| self.ok(keywords::become_method(file, method))),
        }
    }

    /// `vars_files:` entries, each relative to the playbook's directory and a mapping.
    fn vars_files(&mut self, file: &YamlFile, list: &Node, playbook_dir: &Path) -> Vec<VarsFile> {
        let entries: Vec<&Node> = match &list.value {
            NodeValue::Seq(items) => items.iter().collect(),
            NodeValue::Null => Vec::new(),
            _ => vec![list],
        };
        let mut loaded = Vec::new();
        for entry in entries {
            if entry.as_seq().is_some() {
                self.report(LoadError::VarsFilesAlternatives, file.location(entry));
                continue;
            }
            let Some(name) = self.ok(keywords::string(file, "vars_files", entry)) else {
                continue;
            };
            if has_template(&name) {
                self.report(
                    LoadError::TemplatedName {
                        keyword: "vars_files".into(),
                        name,
                        instead:
                            "use `include_vars` in a task for a file name known only on the host",
                    },
                    file.location(entry),
                );
                continue;
            }
            let path = playbook_dir.join(&name);
            if !path.is_file() {
                self.report(
                    LoadError::VarsFileNotFound {
                        name,
                        searched: path,
                    },
                    file.location(entry),
                );
                continue;
            }
            if let Some(vars) = self.vars_file(&path) {
                loaded.push(VarsFile { path, vars });
            }
        }
        loaded
    }

    /// A file of variables: a mapping, or empty.
    fn vars_file(&mut self, path: &Path) -> Option<Map<String, Value>> {
        let file = self.yaml(path)?;
        match file.root.to_value() {
            Value::Null => Some(Map::new()),
            Value::Object(vars) => Some(vars),
            _ => {
                self.report(
                    LoadError::VarsNotAMapping {
                        path: path.display().to_string(),
                        found: file.root.kind(),
                    },
                    file.location(&file.root),
                );
                None
            }
        }
    }

    /// Every fixed `notify` name must be a handler's name or `listen` topic.
    fn check_notify(&mut self, notified: &[(String, Location)], handlers: &[Task]) {
        let mut names: Vec<String> = Vec::new();
        for handler in handlers {
            if let Some(name) = &handler.common.name {
                names.push(name.clone());
                // Ansible also accepts "ROLE : HANDLER" for a role's handler.
                if let Some(instance) = &handler.common.role {
                    names.push(format!("{} : {name}", instance.role.name));
                }
            }
            names.extend(handler.listen.iter().cloned());
        }
        for (name, location) in notified {
            if has_template(name) || names.contains(name) {
                continue;
            }
            let suggestion = converge_modules::closest(name, names.iter().map(String::as_str))
                .map(str::to_string);
            self.report(
                LoadError::UnknownHandler {
                    name: name.clone(),
                    suggestion,
                },
                location.clone(),
            );
        }
    }
}

/// The `import_playbook` key of a playbook item, in any of Ansible's spellings.
fn import_playbook_key(item: &Node) -> Option<&Node> {
    [
        "import_playbook",
        "ansible.builtin.import_playbook",
        "ansible.legacy.import_playbook",
    ]
    .into_iter()
    .find_map(|key| item.get(key))
}

/// The name of a keyword-module (`include_tasks`, `meta`...) without `ansible.builtin.` or
/// `ansible.legacy.`, which Ansible accepts for every one of them.
fn builtin_short(name: &str) -> &str {
    name.strip_prefix("ansible.builtin.")
        .or_else(|| name.strip_prefix("ansible.legacy."))
        .unwrap_or(name)
}

/// The directory of `path` (`""` for a bare file name, which joins as the current directory).
fn parent_dir(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

/// `path` relative to the playbook's directory when it is inside it, for short messages.
fn shown_path(path: &Path, playbook_dir: &Path) -> String {
    let base = same_file_key(playbook_dir);
    path.strip_prefix(&base)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// A key under which two spellings of one file compare equal.
fn same_file_key(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
