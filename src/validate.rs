//! Checks that need the inventory and the playbook together, done before any host is
//! touched: undefined variables in templates, `when` and arguments.
//!
//! The loader has already checked each file on its own (syntax, modules, argument names and
//! types). What is left depends on the hosts: a variable may be defined for one host and not
//! another. Variables that only exist at run time (registered results, `set_fact`, facts)
//! are known by name from the playbook, so their use is not an error.

use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::inventory::Inventory;
use crate::playbook::{self, IncludeSource, Playbook, RoleInstance, Task, TaskNode};
use crate::template::Templates;
use converge_modules::closest;
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashSet};
use std::path::Path;

/// Names the runner defines for every task.
const MAGIC_VARIABLES: &[&str] = &[
    "inventory_hostname",
    "inventory_hostname_short",
    "group_names",
    "groups",
    "hostvars",
    "ansible_play_hosts",
    "ansible_play_batch",
    "playbook_dir",
    "ansible_check_mode",
    "omit",
    "role_name",
    "role_path",
    "ansible_facts",
    "ansible_loop_var",
];

/// Template globals that look like variables to the parser.
const TEMPLATE_GLOBALS: &[&str] = &[
    "range",
    "lookup",
    "query",
    "q",
    "dict",
    "namespace",
    "cycler",
    "joiner",
    "debug",
    "true",
    "false",
    "none",
    "True",
    "False",
    "None",
];

/// Check every play against the hosts it will run on.
pub fn check(
    playbooks: &[Playbook],
    inventory: &Inventory,
    extra_vars: &Map<String, Value>,
    limit: Option<&str>,
    templates: &Templates,
) -> Checked {
    let mut diagnostics = Diagnostics::default();
    let mut runtime_only: BTreeSet<String> = BTreeSet::new();
    let mut runtime_names: BTreeSet<String> = BTreeSet::new();
    for book in playbooks {
        for play in &book.plays {
            collect_runtime_names(&play.tasks, &mut runtime_names);
            for handler in &play.handlers {
                collect_task_runtime_names(handler, &mut runtime_names);
            }
        }
    }
    let mut seen: HashSet<(String, String)> = HashSet::new();
    for book in playbooks {
        let playbook_dir = book.path.parent().unwrap_or(Path::new("."));
        for play in &book.plays {
            let selected = inventory.select(&play.hosts);
            let hosts = match limit {
                Some(limit) => inventory.limit(selected, limit),
                None => selected,
            };
            for host in hosts {
                let mut known: BTreeSet<String> = runtime_names.clone();
                known.extend(MAGIC_VARIABLES.iter().map(|s| s.to_string()));
                known.extend(inventory.host_vars(&host.name).keys().cloned());
                known.extend(extra_vars.keys().cloned());
                known.extend(play.vars.keys().cloned());
                known.extend(play.vars_prompt.iter().map(|prompt| prompt.name.clone()));
                for file in &play.vars_files {
                    known.extend(file.vars.keys().cloned());
                }
                for instance in &play.roles {
                    known.extend(role_names(instance));
                }
                let mut checker = Checker {
                    templates,
                    host: &host.name,
                    playbook_dir,
                    diagnostics: &mut diagnostics,
                    seen: &mut seen,
                    runtime: &runtime_names,
                    runtime_only: &mut runtime_only,
                };
                checker.nodes(&play.tasks, &known);
                for handler in &play.handlers {
                    checker.task(handler, &known);
                }
            }
        }
    }
    Checked {
        diagnostics,
        runtime_only,
    }
}

/// What the offline check found.
#[derive(Debug, Default)]
pub struct Checked {
    /// Problems, each with its place.
    pub diagnostics: Diagnostics,
    /// Variables templates use that exist only once the run is under way (registered
    /// results, `set_fact`, facts): their values cannot be checked offline.
    pub runtime_only: BTreeSet<String>,
}

fn role_names(instance: &RoleInstance) -> impl Iterator<Item = String> + '_ {
    instance
        .role
        .defaults
        .keys()
        .chain(instance.role.vars.keys())
        .chain(instance.params.keys())
        .cloned()
}

fn collect_runtime_names(nodes: &[TaskNode], names: &mut BTreeSet<String>) {
    for node in nodes {
        match node {
            TaskNode::Task(task) => collect_task_runtime_names(task, names),
            TaskNode::Block(block) => {
                collect_runtime_names(&block.block, names);
                collect_runtime_names(&block.rescue, names);
                collect_runtime_names(&block.always, names);
            }
            TaskNode::Include(include) => {
                if let IncludeSource::Static(nodes) = &include.source {
                    collect_runtime_names(nodes, names);
                }
            }
            TaskNode::FlushHandlers => {}
        }
    }
}

fn collect_task_runtime_names(task: &Task, names: &mut BTreeSet<String>) {
    if let Some(register) = &task.register {
        names.insert(register.clone());
    }
    if task.module == "set_fact" {
        if let Value::Object(map) = &task.args {
            names.extend(map.keys().cloned());
        }
    }
    if task.module == "include_vars" {
        if let Some(name) = task.args.get("name").and_then(Value::as_str) {
            names.insert(name.to_string());
        } else if let Some(file) = task.args.get("file").and_then(Value::as_str) {
            // Load a fixed file name now so its variables count as known.
            let base = task.common.location.file.parent().map(Path::to_path_buf);
            let mut candidates = Vec::new();
            if let Some(role) = &task.common.role {
                candidates.push(role.role.path.join("vars").join(file));
            }
            if let Some(base) = base {
                candidates.push(base.join("vars").join(file));
                candidates.push(base.join(file));
            }
            if let Some(loaded) = candidates
                .iter()
                .find(|p| p.is_file())
                .and_then(|p| crate::yaml::load_file(p).ok())
            {
                if let Value::Object(map) = loaded.root.to_value() {
                    names.extend(map.keys().cloned());
                }
            }
        }
    }
}

struct Checker<'c> {
    templates: &'c Templates,
    host: &'c str,
    playbook_dir: &'c Path,
    diagnostics: &'c mut Diagnostics,
    seen: &'c mut HashSet<(String, String)>,
    runtime: &'c BTreeSet<String>,
    runtime_only: &'c mut BTreeSet<String>,
}

impl Checker<'_> {
    fn nodes(&mut self, nodes: &[TaskNode], known: &BTreeSet<String>) {
        for node in nodes {
            match node {
                TaskNode::Task(task) => self.task(task, known),
                TaskNode::Block(block) => {
                    let inner = with_scope(known, &block.common);
                    self.conditions(&block.common.when, &inner);
                    self.nodes(&block.block, &inner);
                    self.nodes(&block.rescue, &inner);
                    self.nodes(&block.always, &inner);
                }
                TaskNode::Include(include) => {
                    let mut inner = with_scope(known, &include.common);
                    if let Some(spec) = &include.loop_items {
                        self.value(&spec.items, &include.common.location, &inner);
                        inner.extend(loop_names(spec));
                    }
                    self.conditions(&include.common.when, &inner);
                    if let IncludeSource::Static(nodes) = &include.source {
                        self.nodes(nodes, &inner);
                    }
                }
                TaskNode::FlushHandlers => {}
            }
        }
    }

    fn task(&mut self, task: &Task, known: &BTreeSet<String>) {
        let mut inner = with_scope(known, &task.common);
        if let Some(spec) = &task.loop_items {
            self.value(&spec.items, &task.common.location, &inner);
            inner.extend(loop_names(spec));
        }
        self.conditions(&task.common.when, &inner);
        if let Some(conditions) = &task.changed_when {
            self.conditions(conditions, &inner);
        }
        if let Some(conditions) = &task.failed_when {
            self.conditions(conditions, &inner);
        }
        match &task.args {
            Value::Object(map) => {
                for (key, value) in map {
                    let location = task
                        .argument_locations
                        .get(key)
                        .unwrap_or(&task.common.location);
                    if task.module == "debug" && key == "var" {
                        if let Value::String(expression) = value {
                            self.expression(expression, location, &inner);
                        }
                        continue;
                    }
                    if task.module == "assert" && key == "that" {
                        for expression in strings(value) {
                            self.expression(&expression, location, &inner);
                        }
                        continue;
                    }
                    self.value(value, location, &inner);
                }
            }
            other => self.value(other, &task.common.location, &inner),
        }
        if task.module == "template" {
            self.template_file(task, &inner);
        }
    }

    fn template_file(&mut self, task: &Task, known: &BTreeSet<String>) {
        let Some(src) = task.args.get("src").and_then(Value::as_str) else {
            return;
        };
        if Templates::is_template(src) {
            return;
        }
        let role = task.common.role.as_deref();
        let Ok(path) =
            playbook::resolve_source(playbook::SourceKind::Template, src, role, self.playbook_dir)
        else {
            return; // the loader reports missing sources
        };
        let location = task
            .argument_locations
            .get("src")
            .unwrap_or(&task.common.location)
            .clone();
        let source = match std::fs::read_to_string(&path) {
            Ok(source) => source,
            Err(error) => {
                self.diagnostics.push(
                    Diagnostic::error(format!(
                        "cannot read template `{}`: {error}",
                        path.display()
                    ))
                    .at(location),
                );
                return;
            }
        };
        match self.templates.referenced_variables(&source, false) {
            Ok(names) => {
                for name in names {
                    self.undefined(&name, known, &location, Some(&path.display().to_string()));
                }
            }
            Err(error) => self.diagnostics.push(
                Diagnostic::error(format!("template `{}`: {error}", path.display())).at(location),
            ),
        }
    }

    fn conditions(&mut self, conditions: &[playbook::Condition], known: &BTreeSet<String>) {
        for condition in conditions {
            self.expression(&condition.expression, &condition.location, known);
        }
    }

    fn expression(&mut self, expression: &str, location: &Location, known: &BTreeSet<String>) {
        match self.templates.referenced_variables(expression, true) {
            Ok(names) => {
                for name in names {
                    self.undefined(&name, known, location, None);
                }
            }
            Err(error) => self.push_once(
                Diagnostic::error(format!("invalid expression `{expression}`: {error}"))
                    .at(location.clone()),
            ),
        }
    }

    fn value(&mut self, value: &Value, location: &Location, known: &BTreeSet<String>) {
        for text in strings(value) {
            if !Templates::is_template(&text) {
                continue;
            }
            match self.templates.referenced_variables(&text, false) {
                Ok(names) => {
                    for name in names {
                        self.undefined(&name, known, location, None);
                    }
                }
                Err(error) => self.push_once(
                    Diagnostic::error(format!("invalid template `{text}`: {error}"))
                        .at(location.clone()),
                ),
            }
        }
    }

    fn undefined(
        &mut self,
        name: &str,
        known: &BTreeSet<String>,
        location: &Location,
        template: Option<&str>,
    ) {
        let fact = name.starts_with("ansible_") && !known.contains(name);
        if self.runtime.contains(name) || fact {
            self.runtime_only.insert(name.to_string());
        }
        if known.contains(name) || fact || TEMPLATE_GLOBALS.contains(&name) {
            return;
        }
        let place = match template {
            Some(path) => format!(" in template `{path}`"),
            None => String::new(),
        };
        let hint = closest(name, known.iter().map(String::as_str))
            .map(|n| format!("did you mean `{n}`?"))
            .unwrap_or_else(|| {
                "define it in the play's `vars`, `group_vars/`, `host_vars/` or with `-e`".into()
            });
        self.push_once(
            Diagnostic::error(format!(
                "undefined variable `{name}`{place} for host `{}`",
                self.host
            ))
            .at(location.clone())
            .with_hint(hint),
        );
    }

    fn push_once(&mut self, diagnostic: Diagnostic) {
        let location = diagnostic
            .location
            .as_ref()
            .map(|l| l.to_string())
            .unwrap_or_default();
        // One message per place and variable, not one per host.
        let key_message = diagnostic
            .message
            .split(" for host ")
            .next()
            .unwrap_or(&diagnostic.message)
            .to_string();
        if self.seen.insert((location, key_message)) {
            self.diagnostics.push(diagnostic);
        }
    }
}

/// The variables a loop defines for each item: `loop_var`, `index_var`, `ansible_loop`.
fn loop_names(spec: &playbook::Loop) -> impl Iterator<Item = String> + '_ {
    std::iter::once(spec.loop_var.clone())
        .chain(spec.index_var.clone())
        .chain(spec.extended.then(|| "ansible_loop".to_string()))
}

fn with_scope(known: &BTreeSet<String>, common: &playbook::Common) -> BTreeSet<String> {
    let mut inner = known.clone();
    inner.extend(common.vars.keys().cloned());
    if let Some(role) = &common.role {
        inner.extend(role_names(role));
    }
    inner
}

fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::String(text) => vec![text.clone()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| std::iter::once(k.clone()).chain(strings(v)))
            .collect(),
        _ => Vec::new(),
    }
}
