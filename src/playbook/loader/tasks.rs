//! Tasks, blocks, handlers, includes and imports: one YAML mapping at a time.

use super::error::LoadError;
use super::freeform::{parse_command, parse_key_values};
use super::keywords::{self, has_template, merge_tags, value_has_template};
use super::role_ref::RoleRef;
use super::sources::{resolve_source, SourceKind};
use super::suggest::suggest;
use super::{Loader, PlayState, Scope};
use crate::diagnostic::{Diagnostic, Location};
use crate::playbook::ansible_modules::{catalogue, NO_EFFECT_ARGUMENTS, REMOVED_ARGUMENTS};
use crate::playbook::model::{
    Block, Common, Condition, Include, IncludeSource, Loop, NotImplemented, Retry, Task, TaskNode,
    TemplatedFlags,
};
use crate::yaml::{key_text, Node, NodeValue, YamlFile};
use converge_modules::{ArgsError, Module};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Keywords every kind of task takes.
const COMMON_KEYWORDS: &[&str] = &[
    "name",
    "when",
    "tags",
    "become",
    "become_user",
    "become_method",
    "vars",
    "ignore_errors",
    "check_mode",
    "no_log",
    "environment",
    "delegate_to",
    "delegate_facts",
    "run_once",
    "remote_user",
    "any_errors_fatal",
    "throttle",
    "diff",
    "debugger",
];

/// Keywords only a module task takes (the loop ones also apply to `include_*`).
const TASK_KEYWORDS: &[&str] = &[
    "args",
    "loop",
    "with_items",
    "with_list",
    "loop_control",
    "register",
    "notify",
    "listen",
    "changed_when",
    "failed_when",
    "until",
    "retries",
    "delay",
];

/// The keywords `include_tasks`/`include_role` take besides the common ones: the loop ones
/// and `args:` (merged into the include's own arguments, as Ansible does for any action).
const INCLUDE_KEYWORDS: &[&str] = &["args", "loop", "with_items", "with_list", "loop_control"];

/// Keys that make a task something other than a module call.
const ACTION_KEYWORDS: &[&str] = &[
    "block",
    "include_tasks",
    "import_tasks",
    "include_role",
    "import_role",
];

/// Ansible task keywords converge does not implement: an error, never silently ignored.
const UNSUPPORTED_KEYWORDS: &[&str] = &[
    "async",
    "poll",
    "connection",
    "module_defaults",
    "collections",
    "timeout",
];

/// Ansible modules whose job a differently named converge module does.
const ANSIBLE_EQUIVALENTS: &[(&str, &str)] = &[
    ("apt", "package"),
    ("yum", "package"),
    ("dnf", "package"),
    ("apk", "package"),
    ("pacman", "package"),
    ("zypper", "package"),
    ("slackpkg", "package"),
    ("systemd_service", "systemd"),
    ("raw", "command"),
];

/// What a task does.
#[derive(Clone, Copy)]
enum Action {
    Module(&'static dyn Module),
    /// A module Ansible has and converge does not, by its fully qualified name.
    AnsibleOnly(&'static str),
    Block,
    IncludeTasks,
    ImportTasks,
    IncludeRole,
    ImportRole,
}

impl Action {
    /// The action of task key `key`, in any spelling Ansible accepts: short, or with
    /// `ansible.builtin.`/`ansible.legacy.`, or short from one of `collections`.
    fn from_key(key: &str, collections: &[String]) -> Option<Action> {
        if key == "block" {
            return Some(Action::Block);
        }
        let short = super::builtin_short(key);
        Some(match short {
            "include_tasks" => Action::IncludeTasks,
            "import_tasks" => Action::ImportTasks,
            "include_role" => Action::IncludeRole,
            "import_role" => Action::ImportRole,
            // Reported as misplaced by the caller.
            "import_playbook" => return None,
            _ => match converge_modules::find(short) {
                Some(module) => Action::Module(module),
                None => Action::AnsibleOnly(catalogue().resolve(key, collections)?),
            },
        })
    }

    fn is_module(&self) -> bool {
        matches!(self, Action::Module(_) | Action::AnsibleOnly(_))
    }
}

/// The module a task calls.
enum ModuleRef {
    /// One of converge's.
    Converge(&'static dyn Module),
    /// One only Ansible has.
    AnsibleOnly {
        /// As written, without `ansible.builtin.`/`ansible.legacy.`.
        written: String,
        /// Ansible's fully qualified name.
        fqcn: &'static str,
    },
}

impl ModuleRef {
    fn name(&self) -> &str {
        match self {
            ModuleRef::Converge(module) => module.name(),
            ModuleRef::AnsibleOnly { written, .. } => written,
        }
    }

    fn converge(&self) -> Option<&'static dyn Module> {
        match self {
            ModuleRef::Converge(module) => Some(*module),
            ModuleRef::AnsibleOnly { .. } => None,
        }
    }
}

/// The converge module that does the job of Ansible's module `name`, if one does.
fn converge_equivalent(name: &str) -> Option<&'static str> {
    let short = name.rsplit('.').next().unwrap_or(name);
    ANSIBLE_EQUIVALENTS
        .iter()
        .find(|(ansible, _)| *ansible == short)
        .map(|(_, equivalent)| *equivalent)
}

/// The keywords written on one task, by name, with their key and value nodes.
type Keywords<'n> = HashMap<&'static str, (&'n Node, &'n Node)>;

/// The shared keywords as written (before inheritance).
#[derive(Default)]
struct Own {
    name: Option<String>,
    when: Vec<crate::playbook::model::Condition>,
    tags: Vec<String>,
    become_settings: crate::playbook::model::BecomeSettings,
    vars: Map<String, Value>,
    ignore_errors: Option<bool>,
    check_mode: Option<bool>,
    no_log: Option<bool>,
    templated_flags: TemplatedFlags,
    environment: Option<Value>,
    delegate_to: Option<String>,
    run_once: bool,
    remote_user: Option<String>,
    any_errors_fatal: bool,
}

impl Loader<'_> {
    /// The tasks of a `tasks:`-like list; each problem is reported and loading goes on.
    pub(super) fn task_list(
        &mut self,
        file: &YamlFile,
        keyword: &str,
        list: &Node,
        scope: &Scope,
        play: &mut PlayState,
    ) -> Vec<TaskNode> {
        let mut nodes = Vec::new();
        match &list.value {
            NodeValue::Null => {}
            NodeValue::Seq(items) => {
                for item in items {
                    self.task(file, item, scope, play, &mut nodes);
                }
            }
            _ => self.report(
                LoadError::NotAList {
                    what: format!("`{keyword}`"),
                    found: list.kind(),
                },
                file.location(list),
            ),
        }
        nodes
    }

    /// The tasks of the file at `path`. `referenced_at` is where an import names it, for the
    /// message when the file imports itself; `None` for a file loaded on its own.
    pub(super) fn task_file(
        &mut self,
        path: &Path,
        scope: &Scope,
        play: &mut PlayState,
        referenced_at: Option<(&str, Location)>,
    ) -> Vec<TaskNode> {
        let key = super::same_file_key(path);
        if self.task_files.contains(&key) {
            let shown = |path: &PathBuf| super::shown_path(path, &play.playbook_dir);
            let mut chain: Vec<String> = self.task_files.iter().map(shown).collect();
            chain.push(shown(&key));
            let (name, location) = referenced_at
                .map(|(name, location)| (name.to_string(), location))
                .unwrap_or_else(|| (path.display().to_string(), Location::file(path)));
            self.report(LoadError::ImportCycle { name, chain }, location);
            return Vec::new();
        }
        let Some(file) = self.yaml(path) else {
            return Vec::new();
        };
        self.task_files.push(key);
        let nodes = match &file.root.value {
            NodeValue::Seq(_) | NodeValue::Null => {
                self.task_list(&file, "tasks", &file.root, scope, play)
            }
            _ => {
                self.report(
                    LoadError::NotAList {
                        what: "a task file".into(),
                        found: file.root.kind(),
                    },
                    file.location(&file.root),
                );
                Vec::new()
            }
        };
        self.task_files.pop();
        nodes
    }

    /// One item of a task list; imports add several nodes, errors none.
    fn task(
        &mut self,
        file: &YamlFile,
        item: &Node,
        scope: &Scope,
        play: &mut PlayState,
        out: &mut Vec<TaskNode>,
    ) {
        let Some(entries) = item.as_map() else {
            self.report(
                LoadError::TaskNotAMapping { found: item.kind() },
                file.location(item),
            );
            return;
        };
        let mut keywords: Keywords = HashMap::new();
        // `local_action: copy src=a dest=b` is the module task `copy` delegated to localhost;
        // its arguments are taken apart before the loop so that they can be borrowed like
        // any other module's.
        let local_action = entries
            .iter()
            .find(|(key, _)| key_text(key).as_deref() == Some("local_action"))
            .map(|(_, value)| local_action_parts(value));
        let mut delegated_locally = false;
        let mut with_lookup: Option<(String, &Node, &Node)> = None;
        let mut action: Option<(String, Action, &Node, &Node)> = None;
        let mut rescue_always: Vec<(&'static str, &Node, &Node)> = Vec::new();
        // A misspelt module name is reported once, not again as "no module".
        let mut unknown_reported = false;
        for (key, value) in entries {
            let Some(name) = key_text(key) else {
                self.report(
                    LoadError::TaskNotAMapping { found: key.kind() },
                    file.location(key),
                );
                continue;
            };
            if let Some(known) = COMMON_KEYWORDS
                .iter()
                .chain(TASK_KEYWORDS)
                .find(|known| **known == name)
            {
                keywords.insert(known, (key, value));
            } else if let Some(known) = ["rescue", "always"].into_iter().find(|k| *k == name) {
                rescue_always.push((known, key, value));
            } else if let Some(this) = Action::from_key(&name, &scope.collections) {
                match &action {
                    Some((first, first_action, _, _)) => {
                        let both_modules = first_action.is_module() && this.is_module();
                        let (first, second) = (first.clone(), name);
                        let error = if both_modules {
                            LoadError::TwoModules { first, second }
                        } else {
                            LoadError::TwoActions { first, second }
                        };
                        self.report(error, file.location(key));
                    }
                    None => action = Some((name, this, key, value)),
                }
            } else if super::builtin_short(&name) == "import_playbook" {
                self.report(LoadError::PlaybookImportInTasks, file.location(key));
                unknown_reported = true;
            } else if let Some(lookup) = name.strip_prefix("with_") {
                with_lookup = Some((lookup.to_string(), key, value));
            } else if name == "local_action" {
                match &local_action {
                    Some(Some((module_name, args))) => {
                        match Action::from_key(module_name, &scope.collections) {
                            Some(this) if this.is_module() && action.is_none() => {
                                delegated_locally = true;
                                action = Some((module_name.clone(), this, key, args));
                            }
                            Some(_) if action.is_some() => {
                                let first =
                                    action.as_ref().map(|a| a.0.clone()).unwrap_or_default();
                                self.report(
                                    LoadError::TwoActions {
                                        first,
                                        second: name,
                                    },
                                    file.location(key),
                                );
                            }
                            _ => {
                                self.report(unknown_key(module_name.clone()), file.location(value));
                                unknown_reported = true;
                            }
                        }
                    }
                    _ => self.report(
                        LoadError::WrongType {
                            keyword: "local_action".into(),
                            expected:
                                "a module call (`copy src=a dest=b`, or a mapping with `module:`)",
                            found: keywords::found(value),
                        },
                        file.location(value),
                    ),
                }
            } else if UNSUPPORTED_KEYWORDS.contains(&name.as_str()) {
                self.report(
                    LoadError::Unsupported {
                        keyword: name,
                        instead: None,
                    },
                    file.location(key),
                );
            } else {
                self.report(unknown_key(name), file.location(key));
                unknown_reported = true;
            }
        }

        let Some((action_name, action, action_key, action_value)) = action else {
            match rescue_always.first() {
                Some((keyword, key, _)) => self.report(
                    LoadError::NeedsBlock {
                        keyword: keyword.to_string(),
                    },
                    file.location(key),
                ),
                None if unknown_reported => {}
                None => self.report(
                    LoadError::NoModule {
                        modules: module_names(),
                    },
                    file.location(item),
                ),
            }
            return;
        };
        if !matches!(action, Action::Block) {
            for (keyword, key, _) in &rescue_always {
                self.report(
                    LoadError::NeedsBlock {
                        keyword: keyword.to_string(),
                    },
                    file.location(key),
                );
            }
        }
        if scope.handlers && !(action.is_module() || matches!(action, Action::ImportTasks)) {
            let what = match action {
                Action::Block => "a `block`",
                Action::IncludeTasks => "an `include_tasks`",
                _ => "a role",
            };
            self.report(LoadError::BadHandler { what }, file.location(action_key));
            return;
        }

        let own = self.own_keywords(file, &keywords);
        let mut common = inherit(own, file.location(item), scope);
        if delegated_locally {
            common.delegate_to = Some("localhost".into());
        }
        let with_lookup = with_lookup.map(|(name, key, value)| WithLookup { name, key, value });

        match action {
            Action::Module(module) => {
                if let Some(node) = self.module_task(
                    file,
                    ModuleRef::Converge(module),
                    action_key,
                    action_value,
                    &keywords,
                    with_lookup.as_ref(),
                    common,
                    scope,
                    play,
                ) {
                    out.push(node);
                }
            }
            Action::AnsibleOnly(fqcn) => {
                let written = super::builtin_short(&action_name).to_string();
                if let Some(node) = self.module_task(
                    file,
                    ModuleRef::AnsibleOnly { written, fqcn },
                    action_key,
                    action_value,
                    &keywords,
                    with_lookup.as_ref(),
                    common,
                    scope,
                    play,
                ) {
                    out.push(node);
                }
            }
            Action::Block => {
                self.not_allowed(file, &keywords, &[], "a block");
                let child = Scope {
                    tags: common.tags.clone(),
                    when: Vec::new(),
                    become_settings: Default::default(),
                    ignore_errors: common.ignore_errors,
                    no_log: common.no_log,
                    check_mode: common.check_mode,
                    ..scope.clone()
                };
                let block = self.task_list(file, "block", action_value, &child, play);
                let mut rescue = Vec::new();
                let mut always = Vec::new();
                for (keyword, _, value) in rescue_always {
                    let nodes = self.task_list(file, keyword, value, &child, play);
                    if keyword == "rescue" {
                        rescue = nodes;
                    } else {
                        always = nodes;
                    }
                }
                out.push(TaskNode::Block(Block {
                    common,
                    block,
                    rescue,
                    always,
                }));
            }
            Action::ImportTasks | Action::IncludeTasks => {
                let import = matches!(action, Action::ImportTasks);
                let what = format!("`{action_name}`");
                let loop_items = if import {
                    self.not_allowed(file, &keywords, &["args"], &what);
                    None
                } else {
                    self.not_allowed(file, &keywords, INCLUDE_KEYWORDS, &what);
                    self.task_loop(file, &keywords, with_lookup.as_ref(), &action_name)
                };
                let merged = self.include_with_args(file, &keywords, action_value, "file");
                let action_value = merged.as_ref().unwrap_or(action_value);
                let apply = self.include_apply(file, &action_name, action_value);
                let Some((name, name_node)) =
                    self.include_file_name(file, &action_name, action_value)
                else {
                    return;
                };
                if import {
                    let nodes = self.import_tasks(file, &name, name_node, &common, scope, play);
                    out.extend(import_into(nodes, &common));
                } else {
                    let source = self.include_tasks(file, &name, name_node, scope, play);
                    out.push(TaskNode::Include(Include {
                        common,
                        source,
                        loop_items,
                        apply,
                    }));
                }
            }
            Action::ImportRole | Action::IncludeRole => {
                let import = matches!(action, Action::ImportRole);
                let what = format!("`{action_name}`");
                let loop_items = if import {
                    self.not_allowed(file, &keywords, &["args"], &what);
                    None
                } else {
                    self.not_allowed(file, &keywords, INCLUDE_KEYWORDS, &what);
                    self.task_loop(file, &keywords, with_lookup.as_ref(), &action_name)
                };
                let merged = self.include_with_args(file, &keywords, action_value, "name");
                let action_value = merged.as_ref().unwrap_or(action_value);
                let apply = self.include_apply(file, &action_name, action_value);
                let Some((role_ref, tasks_from)) =
                    self.role_task_args(file, &action_name, action_value)
                else {
                    return;
                };
                if import {
                    let child = import_scope(&common, scope);
                    let nodes = self.expand_role(
                        &role_ref,
                        &child,
                        play,
                        &mut Vec::new(),
                        false,
                        tasks_from.as_deref(),
                    );
                    out.extend(import_into(nodes, &common));
                } else {
                    let child = include_scope(scope);
                    let nodes = self.expand_role(
                        &role_ref,
                        &child,
                        play,
                        &mut Vec::new(),
                        false,
                        tasks_from.as_deref(),
                    );
                    out.push(TaskNode::Include(Include {
                        common,
                        source: IncludeSource::Static(nodes),
                        loop_items,
                        apply,
                    }));
                }
            }
        }
    }

    /// The shared keywords of a task as written.
    fn own_keywords(&mut self, file: &YamlFile, keywords: &Keywords) -> Own {
        let value = |name: &str| keywords.get(name).map(|(_, value)| *value);
        let mut own = Own::default();
        if let Some(name) = value("name") {
            own.name = self.ok(keywords::string(file, "name", name));
        }
        if let Some(when) = value("when") {
            own.when = self
                .ok(keywords::conditions(file, "when", when))
                .unwrap_or_default();
        }
        if let Some(tags) = value("tags") {
            own.tags = self.ok(keywords::tags(file, tags)).unwrap_or_default();
        }
        own.become_settings = self.become_settings(file, &value);
        if let Some(vars) = value("vars") {
            own.vars = self
                .ok(keywords::variables(file, "vars", vars))
                .unwrap_or_default();
        }
        (own.ignore_errors, own.templated_flags.ignore_errors) =
            self.templated_flag(file, "ignore_errors", value("ignore_errors"));
        (own.check_mode, own.templated_flags.check_mode) =
            self.templated_flag(file, "check_mode", value("check_mode"));
        own.no_log = self.flag(file, "no_log", value("no_log"));
        own.environment =
            value("environment").and_then(|node| self.ok(keywords::environment(file, node)));
        own.delegate_to = value("delegate_to")
            .and_then(|node| self.ok(keywords::string(file, "delegate_to", node)));
        own.run_once = self
            .flag(file, "run_once", value("run_once"))
            .unwrap_or(false);
        own.remote_user = value("remote_user")
            .and_then(|node| self.ok(keywords::string(file, "remote_user", node)));
        own.any_errors_fatal = self
            .flag(file, "any_errors_fatal", value("any_errors_fatal"))
            .unwrap_or(false);
        // Accepted for Ansible's sake; they change neither what converge does to a host nor
        // its result: `throttle` and `debugger` tune Ansible's own scheduler and debugger,
        // `diff` its output, `delegate_facts` where facts gathered by a delegated task go.
        for keyword in ["throttle", "debugger", "diff", "delegate_facts"] {
            let _ = value(keyword);
        }
        own
    }

    /// A boolean keyword that may also be a template (`ignore_errors: "{{ x }}"`), decided
    /// when the task runs.
    fn templated_flag(
        &mut self,
        file: &YamlFile,
        keyword: &str,
        node: Option<&Node>,
    ) -> (Option<bool>, Option<Condition>) {
        match node {
            Some(
                node @ Node {
                    value: NodeValue::String(text),
                    ..
                },
            ) if has_template(text) => {
                let condition = self.ok(keywords::conditions(file, keyword, node));
                (None, condition.and_then(|mut c| c.pop()))
            }
            other => (self.flag(file, keyword, other), None),
        }
    }

    /// `until:` with `retries:` and `delay:`.
    fn retry(&mut self, file: &YamlFile, keywords: &Keywords) -> Option<Retry> {
        let value = |name: &str| keywords.get(name).map(|(_, value)| *value);
        let until = value("until")?;
        let until = self.ok(keywords::conditions(file, "until", until))?;
        let number = |name: &str, default: i64| match value(name) {
            Some(node) => node.to_value(),
            None => Value::from(default),
        };
        Some(Retry {
            until,
            retries: number("retries", 3),
            delay: number("delay", 5),
        })
    }

    /// An include's arguments with the task's `args:` merged in, as Ansible merges `args:` into
    /// any action's arguments (those written with the action win): `include_tasks: x.yml` with
    /// `args: {apply: {become: true}}` reads as `include_tasks: {file: x.yml, apply: ...}`.
    /// `None` when there is no `args:` to merge. A bare name becomes the `scalar_key` entry.
    fn include_with_args(
        &mut self,
        file: &YamlFile,
        keywords: &Keywords,
        action_value: &Node,
        scalar_key: &str,
    ) -> Option<Node> {
        let (_, extra) = keywords.get("args")?;
        let Some(extra_entries) = extra.as_map() else {
            if !extra.is_null() {
                self.report(
                    LoadError::WrongType {
                        keyword: "args".into(),
                        expected: "a mapping",
                        found: keywords::found(extra),
                    },
                    file.location(extra),
                );
            }
            return None;
        };
        let mut entries: Vec<(Node, Node)> = match &action_value.value {
            NodeValue::Map(entries) => entries.clone(),
            NodeValue::Null => Vec::new(),
            _ => {
                let key = Node {
                    value: NodeValue::String(scalar_key.to_string()),
                    line: action_value.line,
                    column: action_value.column,
                };
                vec![(key, action_value.clone())]
            }
        };
        for (key, value) in extra_entries {
            let name = key_text(key);
            if !entries.iter().any(|(have, _)| key_text(have) == name) {
                entries.push((key.clone(), value.clone()));
            }
        }
        Some(Node {
            value: NodeValue::Map(entries),
            line: action_value.line,
            column: action_value.column,
        })
    }

    /// `include_tasks: {file: x, apply: {...}}`: the keywords `apply` gives every included task.
    fn include_apply(&mut self, file: &YamlFile, keyword: &str, node: &Node) -> Option<Common> {
        let entries = node.as_map()?;
        let (_, apply) = entries
            .iter()
            .find(|(key, _)| key_text(key).as_deref() == Some("apply"))?;
        let Some(apply_entries) = apply.as_map() else {
            self.report(
                LoadError::WrongType {
                    keyword: format!("{keyword}.apply"),
                    expected: "a mapping of task keywords",
                    found: keywords::found(apply),
                },
                file.location(apply),
            );
            return None;
        };
        let mut applied: Keywords = HashMap::new();
        for (key, value) in apply_entries {
            let name = key_text(key).unwrap_or_default();
            match COMMON_KEYWORDS.iter().find(|known| **known == name) {
                Some(known) => {
                    applied.insert(known, (key, value));
                }
                None => self.report(
                    LoadError::UnknownKey {
                        key: name,
                        within: format!("{keyword}.apply"),
                        known: COMMON_KEYWORDS.to_vec(),
                    },
                    file.location(key),
                ),
            }
        }
        let own = self.own_keywords(file, &applied);
        let empty = Scope::new(PathBuf::new(), None);
        Some(inherit(own, file.location(apply), &empty))
    }

    /// Report each task-only keyword present on a task of kind `what`, except `allowed`.
    fn not_allowed(&mut self, file: &YamlFile, keywords: &Keywords, allowed: &[&str], what: &str) {
        let mut present: Vec<(&str, &Node)> = keywords
            .iter()
            .filter(|(name, _)| TASK_KEYWORDS.contains(*name) && !allowed.contains(*name))
            .map(|(name, (key, _))| (*name, *key))
            .collect();
        present.sort_by_key(|(_, key)| (key.line, key.column));
        for (name, key) in present {
            self.report(
                LoadError::NotAllowed {
                    keyword: name.to_string(),
                    what: what.to_string(),
                },
                file.location(key),
            );
        }
    }

    /// A task that calls a module.
    #[allow(clippy::too_many_arguments)]
    fn module_task(
        &mut self,
        file: &YamlFile,
        module: ModuleRef,
        module_key: &Node,
        module_value: &Node,
        keywords: &Keywords,
        with_lookup: Option<&WithLookup>,
        common: Common,
        scope: &Scope,
        play: &mut PlayState,
    ) -> Option<TaskNode> {
        let value = |name: &str| keywords.get(name).map(|(_, value)| *value);
        let module_location = file.location(module_key);
        let (mut args, mut locations) = self.module_args(file, module.name(), module_value)?;
        if let Some(extra) = value("args") {
            match extra.as_map() {
                Some(entries) => {
                    // Arguments written with the module win over `args:`, as in Ansible.
                    for (key, value) in entries {
                        let name = key_text(key).unwrap_or_default();
                        if !args.contains_key(&name) {
                            args.insert(name.clone(), value.to_value());
                            locations.insert(name, file.location(key));
                        }
                    }
                }
                None if extra.is_null() => {}
                None => self.report(
                    LoadError::WrongType {
                        keyword: "args".into(),
                        expected: "a mapping",
                        found: keywords::found(extra),
                    },
                    file.location(extra),
                ),
            }
        }

        if module.converge().is_some_and(|m| m.name() == "meta")
            && args.get("free_form").and_then(Value::as_str) == Some("flush_handlers")
        {
            if scope.handlers {
                self.report(
                    LoadError::BadHandler {
                        what: "`meta: flush_handlers`",
                    },
                    module_location,
                );
                return None;
            }
            return Some(TaskNode::FlushHandlers);
        }

        let not_implemented = match &module {
            ModuleRef::Converge(converge) => {
                let not_implemented =
                    self.ansible_arguments(*converge, &mut args, &locations, &module_location);
                // Validate what converge will run: without the arguments only Ansible has.
                let mut checked = args.clone();
                if let Some(NotImplemented::Argument { .. } | NotImplemented::Removed { .. }) =
                    &not_implemented
                {
                    let names = converge.argument_names();
                    checked.retain(|name, _| names.contains(name));
                }
                let checked = Value::Object(checked);
                self.check_args(*converge, &checked, &locations, &module_location);
                self.check_source(*converge, &checked, &locations, scope, play);
                not_implemented
            }
            ModuleRef::AnsibleOnly { written, fqcn } => {
                self.check_ansible_names(written, fqcn, &args, &locations);
                Some(NotImplemented::Module {
                    module: written.clone(),
                    fqcn: fqcn.to_string(),
                    equivalent: converge_equivalent(written),
                })
            }
        };
        let args = Value::Object(args);

        if value("listen").is_some() && !scope.handlers {
            if let Some((key, _)) = keywords.get("listen") {
                self.report(LoadError::ListenOutsideHandlers, file.location(key));
            }
        }
        let loop_items = self.task_loop(file, keywords, with_lookup, module.name());
        let until = self.retry(file, keywords);
        let register = value("register")
            .and_then(|node| self.ok(keywords::variable_name(file, "register", node)));
        let notify = value("notify")
            .and_then(|node| self.ok(keywords::string_list(file, "notify", node)))
            .unwrap_or_default();
        if let Some(node) = value("notify") {
            let location = file.location(node);
            play.notified
                .extend(notify.iter().map(|name| (name.clone(), location.clone())));
        }
        let listen = value("listen")
            .and_then(|node| self.ok(keywords::string_list(file, "listen", node)))
            .unwrap_or_default();
        let changed_when = value("changed_when")
            .and_then(|node| self.ok(keywords::conditions(file, "changed_when", node)));
        let failed_when = value("failed_when")
            .and_then(|node| self.ok(keywords::conditions(file, "failed_when", node)));
        Some(TaskNode::Task(Task {
            common,
            module: module.name().to_string(),
            not_implemented: not_implemented.map(Box::new),
            args,
            argument_locations: locations,
            loop_items,
            register,
            notify,
            listen,
            changed_when,
            failed_when,
            until,
        }))
    }

    /// The module's arguments as a map, free-form strings split, with where each is written.
    fn module_args(
        &mut self,
        file: &YamlFile,
        name: &str,
        node: &Node,
    ) -> Option<(Map<String, Value>, BTreeMap<String, Location>)> {
        let mut locations = BTreeMap::new();
        let args = match &node.value {
            NodeValue::Null => Map::new(),
            NodeValue::Map(entries) => {
                let mut args = Map::new();
                for (key, value) in entries {
                    let key_name = key_text(key).unwrap_or_default();
                    locations.insert(key_name.clone(), file.location(key));
                    args.insert(key_name, value.to_value());
                }
                return Some((args, locations));
            }
            NodeValue::String(text) => {
                let parsed = match name {
                    "command" | "shell" => parse_command(text),
                    // A module only Ansible has: its free form is kept whole, as Ansible
                    // keeps it, for the runner's message.
                    _ if converge_modules::find(name).is_none() => Ok(single("_raw_params", text)),
                    "meta" => Ok(single("free_form", text)),
                    "include_vars" if !text.contains('=') => Ok(single("file", text)),
                    _ => parse_key_values(text),
                };
                match parsed {
                    Ok(args) => args,
                    Err(error) => {
                        self.report(
                            LoadError::FreeForm {
                                message: error.to_string(),
                                module: name.to_string(),
                            },
                            file.location(node),
                        );
                        return None;
                    }
                }
            }
            _ => {
                self.report(
                    LoadError::ArgsShape {
                        module: name.to_string(),
                        found: node.kind(),
                    },
                    file.location(node),
                );
                return None;
            }
        };
        // Free-form arguments have no key of their own; they point at the string.
        for key in args.keys() {
            locations.insert(key.clone(), file.location(node));
        }
        Some((args, locations))
    }

    /// Arguments converge's module lacks and Ansible's module of the same name takes: the
    /// ones with no effect on a typical target are dropped with a note, the first other one
    /// is what the task fails with when it runs. Unknown to both stays an error (reported by
    /// [`Self::check_args`]).
    fn ansible_arguments(
        &mut self,
        module: &'static dyn Module,
        args: &mut Map<String, Value>,
        locations: &BTreeMap<String, Location>,
        module_location: &Location,
    ) -> Option<NotImplemented> {
        let names = module.argument_names();
        if names.is_empty() {
            return None;
        }
        let mut removed: Vec<(Location, NotImplemented)> = REMOVED_ARGUMENTS
            .iter()
            .filter(|(name, argument, _)| {
                *name == module.name()
                    && !names.iter().any(|n| n == argument)
                    && args.contains_key(*argument)
            })
            .map(|(name, argument, version)| {
                let location = locations.get(*argument).unwrap_or(module_location).clone();
                let reason = NotImplemented::Removed {
                    module: name.to_string(),
                    argument: argument.to_string(),
                    removed_in: version.to_string(),
                };
                (location, reason)
            })
            .collect();
        removed.sort_by_key(|(location, _)| (location.line, location.column));
        if let Some((_, reason)) = removed.into_iter().next() {
            return Some(reason);
        }
        let fqcn = catalogue().resolve(module.name(), &[])?;
        let ansible = catalogue().arguments(fqcn);
        let mut missing: Vec<(Location, String)> = args
            .keys()
            .filter(|name| !names.contains(name) && ansible.contains(&name.as_str()))
            .map(|name| {
                let location = locations.get(name).unwrap_or(module_location).clone();
                (location, name.clone())
            })
            .collect();
        missing.sort_by_key(|(location, _)| (location.line, location.column));
        let mut first = None;
        for (location, name) in missing {
            if NO_EFFECT_ARGUMENTS.contains(&name.as_str()) {
                args.remove(&name);
                self.notes.push(
                    Diagnostic::warning(format!(
                        "argument `{name}` of `{}` is ignored: it has no effect on the hosts converge manages",
                        module.name()
                    ))
                    .at(location),
                );
            } else if first.is_none() {
                first = Some(NotImplemented::Argument {
                    module: module.name().to_string(),
                    argument: name,
                });
            }
        }
        first
    }

    /// A module only Ansible has: its argument names must be Ansible's.
    fn check_ansible_names(
        &mut self,
        written: &str,
        fqcn: &str,
        args: &Map<String, Value>,
        locations: &BTreeMap<String, Location>,
    ) {
        let names = catalogue().arguments(fqcn);
        // Free-form modules (`script`, `raw`) and modules without documented options.
        if names.is_empty() || names.contains(&"free_form") {
            return;
        }
        for name in args.keys() {
            if name == "_raw_params" || names.contains(&name.as_str()) {
                continue;
            }
            let hint = suggest(name, &names).map(|close| format!("did you mean `{close}`?"));
            self.report(
                LoadError::Args {
                    message: format!("unknown argument `{name}` for module `{written}`"),
                    hint,
                },
                locations.get(name).cloned().unwrap_or_default(),
            );
        }
    }

    /// Validate fixed arguments fully; with templates, only their names.
    fn check_args(
        &mut self,
        module: &'static dyn Module,
        args: &Value,
        locations: &BTreeMap<String, Location>,
        module_location: &Location,
    ) {
        let result = if value_has_template(args) {
            check_names(module, args)
        } else {
            module.validate(args)
        };
        if let Err(mut error) = result {
            // The module's suggestion misses swapped letters (`mgs` for `msg`); add it.
            if let Some(argument) = &error.argument {
                if error.message.starts_with("unknown argument") {
                    let names = module.argument_names();
                    let names: Vec<&str> = names.iter().map(String::as_str).collect();
                    if let Some(name) = suggest(argument, &names) {
                        error.hint = Some(format!("did you mean `{name}`?"));
                    }
                }
            }
            let location = error
                .argument
                .as_ref()
                .and_then(|argument| locations.get(argument))
                .unwrap_or(module_location)
                .clone();
            self.report(
                LoadError::Args {
                    message: error.message,
                    hint: error.hint,
                },
                location,
            );
        }
    }

    /// A `template`/`copy` task's fixed `src` must exist where the runner will look.
    fn check_source(
        &mut self,
        module: &'static dyn Module,
        args: &Value,
        locations: &BTreeMap<String, Location>,
        scope: &Scope,
        play: &PlayState,
    ) {
        if !play.check_sources {
            return;
        }
        let kind = match module.name() {
            "template" => SourceKind::Template,
            "copy" => SourceKind::File,
            _ => return,
        };
        let Some(src) = args.get("src").and_then(Value::as_str) else {
            return;
        };
        let remote = args.get("remote_src").is_some_and(|flag| {
            matches!(flag, Value::Bool(true))
                || flag.as_str().is_some_and(|text| {
                    matches!(
                        text.to_ascii_lowercase().as_str(),
                        "yes" | "true" | "on" | "1"
                    )
                })
        });
        if remote || has_template(src) {
            return;
        }
        if let Err(searched) = resolve_source(kind, src, scope.role.as_deref(), &play.playbook_dir)
        {
            let location = locations.get("src").cloned().unwrap_or_default();
            self.report(
                LoadError::SourceNotFound {
                    kind: kind.noun(),
                    name: src.to_string(),
                    searched,
                },
                location,
            );
        }
    }

    /// `loop`/`with_items`/`with_list`/`with_<lookup>` with `loop_control`.
    fn task_loop(
        &mut self,
        file: &YamlFile,
        keywords: &Keywords,
        with_lookup: Option<&WithLookup>,
        action: &str,
    ) -> Option<Loop> {
        let mut present: Vec<(String, &Node, &Node)> = ["loop", "with_items", "with_list"]
            .into_iter()
            .filter_map(|name| {
                keywords
                    .get(name)
                    .map(|(key, value)| (name.to_string(), *key, *value))
            })
            .chain(with_lookup.map(|with| (format!("with_{}", with.name), with.key, with.value)))
            .collect();
        present.sort_by_key(|(_, key, _)| (key.line, key.column));
        if let [(first, _, _), (second, key, _), ..] = present.as_slice() {
            self.report(
                LoadError::TwoLoops {
                    first: first.clone(),
                    second: second.clone(),
                },
                file.location(key),
            );
        }
        let control = keywords.get("loop_control");
        let Some((keyword, _, node)) = present.first().cloned() else {
            if let Some((key, _)) = control {
                // Ansible ignores it (robertdebock's users role has such tasks), so it loads.
                self.notes.push(
                    Diagnostic::warning(
                        "`loop_control` without a loop has no effect (Ansible ignores it too)",
                    )
                    .at(file.location(key)),
                );
            }
            return None;
        };
        let lookup = keyword
            .strip_prefix("with_")
            .filter(|name| !matches!(*name, "items" | "list"))
            .map(str::to_string);
        let items = node.to_value();
        // A lookup takes its terms in any shape (`with_dict: "{{ users }}"`, `with_sequence:
        // start=1 end=3`, `with_first_found: [a.yml, b.yml]`); `loop` needs a list.
        let valid = lookup.is_some()
            || match &items {
                Value::Array(_) => true,
                Value::String(text) => has_template(text),
                _ => false,
            };
        if !valid {
            self.report(
                LoadError::BadLoop {
                    keyword: keyword.clone(),
                    found: keywords::found(node),
                },
                file.location(node),
            );
            return None;
        }
        let mut result = Loop {
            items,
            loop_var: "item".into(),
            label: None,
            flatten: keyword == "with_items",
            lookup,
            lookup_subdir: lookup_subdir(action),
            index_var: None,
            extended: false,
            pause: 0.0,
        };
        if let Some((_, control)) = control {
            self.loop_control(file, control, &mut result);
        }
        Some(result)
    }

    fn loop_control(&mut self, file: &YamlFile, control: &Node, result: &mut Loop) {
        let Some(entries) = control.as_map() else {
            if !control.is_null() {
                self.report(
                    LoadError::WrongType {
                        keyword: "loop_control".into(),
                        expected: "a mapping",
                        found: keywords::found(control),
                    },
                    file.location(control),
                );
            }
            return;
        };
        for (key, value) in entries {
            let name = key_text(key).unwrap_or_default();
            match name.as_str() {
                "loop_var" => {
                    if let Some(var) = self.ok(keywords::variable_name(file, "loop_var", value)) {
                        result.loop_var = var;
                    }
                }
                "label" => result.label = self.ok(keywords::string(file, "label", value)),
                "index_var" => {
                    result.index_var = self.ok(keywords::variable_name(file, "index_var", value))
                }
                "extended" => {
                    result.extended = self.flag(file, "extended", Some(value)).unwrap_or(false)
                }
                // `ansible_loop.allitems` is always there when `extended` is on.
                "extended_allitems" => {}
                "pause" => match &value.value {
                    NodeValue::Int(n) if *n >= 0 => result.pause = *n as f64,
                    NodeValue::Float(f) if *f >= 0.0 => result.pause = *f,
                    _ => self.report(
                        LoadError::WrongType {
                            keyword: "loop_control.pause".into(),
                            expected: "a number of seconds",
                            found: keywords::found(value),
                        },
                        file.location(value),
                    ),
                },
                "break_when" => self.report(
                    LoadError::Unsupported {
                        keyword: format!("loop_control.{name}"),
                        instead: None,
                    },
                    file.location(key),
                ),
                _ => self.report(
                    LoadError::UnknownKey {
                        key: name,
                        within: "loop_control".into(),
                        known: vec!["loop_var", "label", "index_var", "extended", "pause"],
                    },
                    file.location(key),
                ),
            }
        }
    }

    /// The file named by `include_tasks:`/`import_tasks:` (a string, or `{file: ...}`).
    fn include_file_name<'n>(
        &mut self,
        file: &YamlFile,
        keyword: &str,
        node: &'n Node,
    ) -> Option<(String, &'n Node)> {
        if let Some(entries) = node.as_map() {
            let mut name = None;
            for (key, value) in entries {
                let key_name = key_text(key).unwrap_or_default();
                match key_name.as_str() {
                    "file" => {
                        name = self
                            .ok(keywords::string(file, "file", value))
                            .map(|n| (n, value))
                    }
                    // Read by `include_apply`.
                    "apply" => {}
                    _ => self.report(
                        LoadError::UnknownKey {
                            key: key_name,
                            within: keyword.to_string(),
                            known: vec!["file"],
                        },
                        file.location(key),
                    ),
                }
            }
            if name.is_none() {
                self.report(
                    LoadError::WrongType {
                        keyword: keyword.to_string(),
                        expected: "a file name or a mapping with `file:`",
                        found: "a mapping without `file`".into(),
                    },
                    file.location(node),
                );
            }
            return name;
        }
        self.ok(keywords::string(file, keyword, node))
            .map(|name| (name, node))
    }

    /// Where a relative task file name is looked for: next to the including file, then in
    /// the scope's base (the role's `tasks/` or the playbook's directory).
    fn task_file_candidates(file: &YamlFile, name: &str, scope: &Scope) -> Vec<PathBuf> {
        let name = Path::new(name);
        if name.is_absolute() {
            return vec![name.to_path_buf()];
        }
        let mut candidates = vec![super::parent_dir(&file.path).join(name)];
        let in_base = scope.base_dir.join(name);
        if !candidates.contains(&in_base) {
            candidates.push(in_base);
        }
        candidates
    }

    fn find_task_file(
        &mut self,
        file: &YamlFile,
        name: &str,
        node: &Node,
        scope: &Scope,
    ) -> Option<PathBuf> {
        let candidates = Self::task_file_candidates(file, name, scope);
        if let Some(found) = candidates.iter().find(|path| path.is_file()) {
            return Some(found.clone());
        }
        self.report(
            LoadError::TaskFileNotFound {
                name: name.to_string(),
                searched: candidates,
            },
            file.location(node),
        );
        None
    }

    /// `import_tasks:` — the file's tasks, loaded now with the import's keywords applied.
    fn import_tasks(
        &mut self,
        file: &YamlFile,
        name: &str,
        node: &Node,
        common: &Common,
        scope: &Scope,
        play: &mut PlayState,
    ) -> Vec<TaskNode> {
        if has_template(name) {
            self.report(
                LoadError::TemplatedName {
                    keyword: "import_tasks".into(),
                    name: name.to_string(),
                    instead: "use `include_tasks` for a file name known only when the task runs",
                },
                file.location(node),
            );
            return Vec::new();
        }
        let Some(path) = self.find_task_file(file, name, node, scope) else {
            return Vec::new();
        };
        let child = import_scope(common, scope);
        self.task_file(&path, &child, play, Some((name, file.location(node))))
    }

    /// `include_tasks:` — loaded now when the name is fixed, at run time when it is a
    /// template or when the file includes itself (a recursion ended by a `when:`). A
    /// templated name is resolved at run time against the including file's directory, the
    /// first place a fixed name is looked for.
    fn include_tasks(
        &mut self,
        file: &YamlFile,
        name: &str,
        node: &Node,
        scope: &Scope,
        play: &mut PlayState,
    ) -> IncludeSource {
        if has_template(name) {
            return IncludeSource::Dynamic {
                file: name.to_string(),
                base_dir: super::parent_dir(&file.path),
            };
        }
        let Some(path) = self.find_task_file(file, name, node, scope) else {
            return IncludeSource::Static(Vec::new());
        };
        let key = super::same_file_key(&path);
        if self.task_files.contains(&key) {
            // The runner joins `base_dir` and `file`; an absolute `file` stands alone.
            return IncludeSource::Dynamic {
                file: key.display().to_string(),
                base_dir: super::parent_dir(&file.path),
            };
        }
        let child = include_scope(scope);
        IncludeSource::Static(self.task_file(&path, &child, play, None))
    }

    /// The arguments of `include_role:`/`import_role:`: `name` and `tasks_from`.
    fn role_task_args(
        &mut self,
        file: &YamlFile,
        keyword: &str,
        node: &Node,
    ) -> Option<(RoleRef, Option<String>)> {
        let Some(entries) = node.as_map() else {
            self.report(
                LoadError::WrongType {
                    keyword: keyword.to_string(),
                    expected: "a mapping with `name:`",
                    found: keywords::found(node),
                },
                file.location(node),
            );
            return None;
        };
        let mut name: Option<(String, &Node)> = None;
        let mut tasks_from = None;
        for (key, value) in entries {
            let key_name = key_text(key).unwrap_or_default();
            match key_name.as_str() {
                "name" | "role" => {
                    name = self
                        .ok(keywords::string(file, "name", value))
                        .map(|n| (n, value))
                }
                "tasks_from" => {
                    if let Some(from) = self.ok(keywords::string(file, "tasks_from", value)) {
                        if has_template(&from) {
                            self.report(
                                LoadError::TemplatedName {
                                    keyword: "tasks_from".into(),
                                    name: from,
                                    instead: "roles are loaded before the run; name the task file",
                                },
                                file.location(value),
                            );
                        } else {
                            tasks_from = Some(from);
                        }
                    }
                }
                // Read by `include_apply`; `public` and `rolespec_validate` change nothing
                // in converge, where a role's variables are visible to the play either way.
                "apply" | "public" | "rolespec_validate" => {}
                "vars_from" | "defaults_from" | "handlers_from" | "allow_duplicates" => self
                    .report(
                        LoadError::Unsupported {
                            keyword: format!("{keyword}.{key_name}"),
                            instead: None,
                        },
                        file.location(key),
                    ),
                _ => self.report(
                    LoadError::UnknownKey {
                        key: key_name,
                        within: keyword.to_string(),
                        known: vec!["name", "tasks_from"],
                    },
                    file.location(key),
                ),
            }
        }
        let Some((name, name_node)) = name else {
            self.report(LoadError::RoleWithoutName, file.location(node));
            return None;
        };
        if has_template(&name) {
            self.report(
                LoadError::TemplatedName {
                    keyword: keyword.to_string(),
                    name,
                    instead: "roles are loaded before the run; name the role",
                },
                file.location(name_node),
            );
            return None;
        }
        Some((RoleRef::named(name, file.location(name_node)), tasks_from))
    }
}

/// The shared keywords with what the enclosing levels impose.
fn inherit(own: Own, location: Location, scope: &Scope) -> Common {
    let mut when = scope.when.clone();
    when.extend(own.when);
    Common {
        name: own.name,
        location,
        when,
        tags: merge_tags(&scope.tags, &own.tags),
        become_settings: own.become_settings.inherit(&scope.become_settings),
        vars: own.vars,
        ignore_errors: own.ignore_errors.unwrap_or(scope.ignore_errors),
        check_mode: own.check_mode.or(scope.check_mode),
        no_log: own.no_log.unwrap_or(scope.no_log),
        templated_flags: own.templated_flags,
        environment: own.environment,
        delegate_to: own.delegate_to,
        run_once: own.run_once,
        remote_user: own.remote_user,
        any_errors_fatal: own.any_errors_fatal,
        role: scope.role.clone(),
    }
}

/// What an `import_*` imposes on the nodes it brings in: its effective keywords.
fn import_scope(common: &Common, scope: &Scope) -> Scope {
    Scope {
        tags: common.tags.clone(),
        when: common.when.clone(),
        become_settings: common.become_settings.clone(),
        ignore_errors: common.ignore_errors,
        no_log: common.no_log,
        check_mode: common.check_mode,
        ..scope.clone()
    }
}

/// What an `include_*` passes to the tasks it includes: only what it inherited itself; its
/// own keywords and conditions apply to the include, which gates them at run time.
fn include_scope(scope: &Scope) -> Scope {
    Scope {
        when: Vec::new(),
        become_settings: Default::default(),
        ..scope.clone()
    }
}

/// The imported nodes with the import's `vars` added (the nodes' own win).
fn import_into(mut nodes: Vec<TaskNode>, import: &Common) -> Vec<TaskNode> {
    for node in &mut nodes {
        if let Some(common) = common_mut(node) {
            // The import's own keywords reach every imported node, which may override them.
            if common.delegate_to.is_none() {
                common.delegate_to.clone_from(&import.delegate_to);
            }
            if common.remote_user.is_none() {
                common.remote_user.clone_from(&import.remote_user);
            }
            common.run_once |= import.run_once;
            common.any_errors_fatal |= import.any_errors_fatal;
            if let Some(outer) = &import.environment {
                common.environment = Some(match common.environment.take() {
                    Some(inner) => Value::Array(vec![outer.clone(), inner]),
                    None => outer.clone(),
                });
            }
        }
    }
    if !import.vars.is_empty() {
        for node in &mut nodes {
            if let Some(common) = common_mut(node) {
                for (name, value) in &import.vars {
                    if !common.vars.contains_key(name) {
                        common.vars.insert(name.clone(), value.clone());
                    }
                }
            }
        }
    }
    nodes
}

fn common_mut(node: &mut TaskNode) -> Option<&mut Common> {
    match node {
        TaskNode::Task(task) => Some(&mut task.common),
        TaskNode::Block(block) => Some(&mut block.common),
        TaskNode::Include(include) => Some(&mut include.common),
        TaskNode::FlushHandlers => None,
    }
}

/// Add `tags` to every node of the tree (for `import_playbook` with `tags:`).
pub(super) fn add_tags(nodes: &mut [TaskNode], tags: &[String]) {
    if tags.is_empty() {
        return;
    }
    for node in nodes {
        if let Some(common) = common_mut(node) {
            common.tags = merge_tags(&common.tags, tags);
        }
        match node {
            TaskNode::Block(block) => {
                add_tags(&mut block.block, tags);
                add_tags(&mut block.rescue, tags);
                add_tags(&mut block.always, tags);
            }
            TaskNode::Include(Include {
                source: IncludeSource::Static(included),
                ..
            }) => add_tags(included, tags),
            _ => {}
        }
    }
}

/// The tasks of a handler list (blocks and includes were reported while loading).
pub(super) fn only_tasks(nodes: Vec<TaskNode>) -> Vec<Task> {
    nodes
        .into_iter()
        .filter_map(|node| match node {
            TaskNode::Task(task) => Some(task),
            _ => None,
        })
        .collect()
}

/// Only argument names are checked when values are templates, since their values are
/// known only on a host. Modules that take any names (`set_fact`) list none.
/// The subdirectory `with_first_found` searches for a task whose action is `action`: Ansible
/// takes the first of `template`, `var`, `file` that the action's name contains, and `files`
/// when none does.
fn lookup_subdir(action: &str) -> &'static str {
    if action.contains("template") {
        "templates"
    } else if action.contains("var") {
        "vars"
    } else {
        "files"
    }
}

fn check_names(module: &dyn Module, args: &Value) -> Result<(), ArgsError> {
    let names = module.argument_names();
    if names.is_empty() {
        return Ok(());
    }
    for key in args.as_object().into_iter().flat_map(Map::keys) {
        if !names.contains(key) {
            return Err(ArgsError::from_serde(
                module.name(),
                &format!("unknown field `{key}`"),
                &names,
            ));
        }
    }
    Ok(())
}

fn single(key: &str, text: &str) -> Map<String, Value> {
    let mut args = Map::new();
    args.insert(key.to_string(), Value::String(text.trim().to_string()));
    args
}

fn module_names() -> Vec<&'static str> {
    converge_modules::all()
        .iter()
        .map(|module| module.name())
        .collect()
}

/// The error for a task key that is neither a keyword nor a module, with the closest of both.
fn unknown_key(name: String) -> LoadError {
    let short = converge_modules::COLLECTION_PREFIXES
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))
        .unwrap_or(&name)
        .to_string();
    if let Some((_, equivalent)) = ANSIBLE_EQUIVALENTS
        .iter()
        .find(|(ansible, _)| *ansible == short)
    {
        return LoadError::UnknownModule {
            name,
            suggestion: Some((*equivalent).to_string()),
            modules: module_names(),
        };
    }
    let task_keywords: Vec<&str> = COMMON_KEYWORDS
        .iter()
        .chain(TASK_KEYWORDS)
        .chain(ACTION_KEYWORDS)
        .chain(["rescue", "always"].iter())
        .copied()
        .collect();
    let modules = module_names();
    let candidates: Vec<&str> = task_keywords
        .iter()
        .chain(modules.iter())
        .copied()
        .collect();
    match suggest(&short, &candidates) {
        Some(keyword) if task_keywords.contains(&keyword) && short == name => {
            LoadError::UnknownKeyword {
                key: name,
                suggestion: keyword.to_string(),
            }
        }
        suggestion => LoadError::UnknownModule {
            name,
            suggestion: suggestion.map(str::to_string),
            modules,
        },
    }
}

/// A `with_<lookup>:` keyword on a task: the lookup's name and its terms.
struct WithLookup<'n> {
    name: String,
    key: &'n Node,
    value: &'n Node,
}

/// The module and its arguments named by `local_action:` (a free-form string starting with
/// the module's name, or a mapping with `module:`), as the node a module key would hold.
fn local_action_parts(node: &Node) -> Option<(String, Node)> {
    match &node.value {
        NodeValue::String(text) => {
            let text = text.trim_start();
            let (module, rest) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
            let args = if rest.trim().is_empty() {
                NodeValue::Null
            } else {
                NodeValue::String(rest.trim().to_string())
            };
            Some((
                module.to_string(),
                Node {
                    value: args,
                    ..node.clone()
                },
            ))
        }
        NodeValue::Map(entries) => {
            let module = entries.iter().find_map(|(key, value)| {
                (key_text(key).as_deref() == Some("module"))
                    .then(|| key_text(value))
                    .flatten()
            })?;
            let rest: Vec<(Node, Node)> = entries
                .iter()
                .filter(|(key, _)| key_text(key).as_deref() != Some("module"))
                .cloned()
                .collect();
            Some((
                module,
                Node {
                    value: NodeValue::Map(rest),
                    ..node.clone()
                },
            ))
        }
        _ => None,
    }
}
