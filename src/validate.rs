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
    "ansible_failed_task",
    "ansible_failed_result",
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
    "vars",
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
    let mut unseen: Vec<String> = Vec::new();
    for book in playbooks {
        for play in &book.plays {
            collect_runtime_names(&play.tasks, &mut runtime_names, &mut unseen);
            for handler in &play.handlers {
                collect_task_runtime_names(handler, &mut runtime_names, &mut unseen);
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
                    unseen: &unseen,
                };
                checker.nodes(&play.tasks, &known);
                for handler in notified_handlers(&play.tasks, &play.handlers) {
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

/// Collect the names tasks define at run time (`register`, `set_fact`, `include_vars`), and
/// in `unseen` a description of each place that defines names the check cannot know: a
/// templated `include_vars` file or `set_fact` key, the tasks of a dynamic include.
fn collect_runtime_names(
    nodes: &[TaskNode],
    names: &mut BTreeSet<String>,
    unseen: &mut Vec<String>,
) {
    for node in nodes {
        match node {
            TaskNode::Task(task) => collect_task_runtime_names(task, names, unseen),
            TaskNode::Block(block) => {
                collect_runtime_names(&block.block, names, unseen);
                collect_runtime_names(&block.rescue, names, unseen);
                collect_runtime_names(&block.always, names, unseen);
            }
            TaskNode::Include(include) => match &include.source {
                IncludeSource::Static(nodes) => collect_runtime_names(nodes, names, unseen),
                IncludeSource::Dynamic { file, .. } => unseen.push(format!(
                    "the tasks of `{file}` ({}), known only at run time",
                    include.common.location
                )),
            },
            TaskNode::FlushHandlers => {}
        }
    }
}

fn collect_task_runtime_names(task: &Task, names: &mut BTreeSet<String>, unseen: &mut Vec<String>) {
    if let Some(register) = &task.register {
        names.insert(register.clone());
    }
    // Facts modules set their facts as variables too (`services`, `packages`).
    match task.module.as_str() {
        "service_facts" => {
            names.insert("services".into());
        }
        "package_facts" => {
            names.insert("packages".into());
        }
        _ => {}
    }
    if task.module == "set_fact" {
        if let Value::Object(map) = &task.args {
            for key in map.keys() {
                if Templates::is_template(key) {
                    unseen.push(format!("`set_fact` of `{key}` ({})", task.common.location));
                } else {
                    names.insert(key.clone());
                }
            }
        }
    }
    if task.module == "include_vars" {
        let templated = |key: &str| {
            task.args
                .get(key)
                .and_then(Value::as_str)
                .filter(|text| Templates::is_template(text))
                .map(str::to_string)
        };
        if let Some(file) = templated("file").or_else(|| templated("dir")) {
            if task.args.get("name").is_none() {
                unseen.push(format!(
                    "`include_vars` of `{file}` ({})",
                    task.common.location
                ));
            }
        }
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
    /// Places that define variables under names known only at run time.
    unseen: &'c [String],
}

impl Checker<'_> {
    fn nodes(&mut self, nodes: &[TaskNode], known: &BTreeSet<String>) {
        for node in nodes {
            match node {
                TaskNode::Task(task) => self.task(task, known),
                TaskNode::Block(block) => {
                    let mut inner = with_scope(known, &block.common);
                    self.conditions(&block.common.when, &inner);
                    inner.extend(tested_in(&block.common.when));
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
                    inner.extend(tested_in(&include.common.when));
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
        inner.extend(tested_in(&task.common.when));
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
        let guarded = guarded_names(&source).all();
        match self.templates.referenced_variables(&source, false) {
            Ok(names) => {
                for name in names.into_iter().filter(|name| !guarded.contains(name)) {
                    self.undefined(&name, known, &location, Some(&path.display().to_string()));
                }
            }
            Err(error) => self.diagnostics.push(
                Diagnostic::error(format!("template `{}`: {error}", path.display())).at(location),
            ),
        }
    }

    /// Conditions hold in order and stop at the first false one, so a name tested with
    /// `is defined` in one guards the ones after it.
    fn conditions(&mut self, conditions: &[playbook::Condition], known: &BTreeSet<String>) {
        let mut known = known.clone();
        for condition in conditions {
            self.expression(&condition.expression, &condition.location, &known);
            known.extend(guarded_names(&condition.expression).tested);
        }
    }

    fn expression(&mut self, expression: &str, location: &Location, known: &BTreeSet<String>) {
        let guarded = guarded_names(expression).all();
        match self.templates.referenced_variables(expression, true) {
            Ok(names) => {
                for name in names.into_iter().filter(|name| !guarded.contains(name)) {
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
            let guarded = guarded_names(&text).all();
            match self.templates.referenced_variables(&text, false) {
                Ok(names) => {
                    for name in names.into_iter().filter(|name| !guarded.contains(name)) {
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
        if !self.unseen.is_empty() {
            // It may be one of the names defined where the check cannot see.
            self.push_once(
                Diagnostic::warning(format!(
                    "variable `{name}`{place} is not defined anywhere converge can see for host `{}`",
                    self.host
                ))
                .at(location.clone())
                .with_hint(format!(
                    "it may come from {}; if not, the task fails when it runs",
                    self.unseen.join(", ")
                )),
            );
            return;
        }
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

/// The handlers of a play that something may notify: by name, `ROLE : NAME` or `listen`
/// topic, from a task or another notified handler. With a templated `notify`, or tasks only
/// known at run time (a dynamic include), every handler may run.
fn notified_handlers<'p>(tasks: &[TaskNode], handlers: &'p [Task]) -> Vec<&'p Task> {
    let mut notified: BTreeSet<String> = BTreeSet::new();
    let mut unknowable = false;
    collect_notify(tasks, &mut notified, &mut unknowable);
    if unknowable || notified.iter().any(|name| Templates::is_template(name)) {
        return handlers.iter().collect();
    }
    let is_notified = |handler: &Task, notified: &BTreeSet<String>| {
        let by_name =
            handler.common.name.as_ref().is_some_and(|name| {
                notified.contains(name)
                    || handler.common.role.as_ref().is_some_and(|role| {
                        notified.contains(&format!("{} : {name}", role.role.name))
                    })
            });
        by_name || handler.listen.iter().any(|topic| notified.contains(topic))
    };
    // Handlers notify handlers: grow the set until it stops changing.
    loop {
        let before = notified.len();
        for handler in handlers {
            if is_notified(handler, &notified) {
                notified.extend(handler.notify.iter().cloned());
            }
        }
        if notified.len() == before {
            break;
        }
    }
    handlers
        .iter()
        .filter(|handler| is_notified(handler, &notified))
        .collect()
}

fn collect_notify(nodes: &[TaskNode], notified: &mut BTreeSet<String>, unknowable: &mut bool) {
    for node in nodes {
        match node {
            TaskNode::Task(task) => notified.extend(task.notify.iter().cloned()),
            TaskNode::Block(block) => {
                collect_notify(&block.block, notified, unknowable);
                collect_notify(&block.rescue, notified, unknowable);
                collect_notify(&block.always, notified, unknowable);
            }
            TaskNode::Include(include) => match &include.source {
                IncludeSource::Static(nodes) => collect_notify(nodes, notified, unknowable),
                IncludeSource::Dynamic { .. } => *unknowable = true,
            },
            TaskNode::FlushHandlers => {}
        }
    }
}

/// The names a list of conditions tests with `is defined` / `is undefined`.
fn tested_in(conditions: &[playbook::Condition]) -> BTreeSet<String> {
    conditions
        .iter()
        .flat_map(|condition| guarded_names(&condition.expression).tested)
        .collect()
}

/// What a template or expression guards against being undefined, as Ansible would not
/// fail on it.
#[derive(Debug, Default, PartialEq)]
struct Guarded {
    /// Names every use of which passes through `default`/`d` (`x.y | default('z')`).
    defaulted: BTreeSet<String>,
    /// Names tested with `is defined`, `is undefined` or `is not defined`: the text (an
    /// `{% if %}`, an `and`) decides on them before using them.
    tested: BTreeSet<String>,
}

impl Guarded {
    fn all(self) -> BTreeSet<String> {
        let mut all = self.defaulted;
        all.extend(self.tested);
        all
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Name(String),
    Punct(char),
    Literal,
}

/// Jinja's tokens, roughly: names, punctuation, and literals (strings and numbers).
/// Text outside `{{ }}`/`{% %}` reads as names too, which is harmless: only names the
/// template parser reports as variables are looked up.
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' || c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push(Token::Literal);
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Name(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Literal);
        } else {
            if !c.is_whitespace() {
                out.push(Token::Punct(c));
            }
            i += 1;
        }
    }
    out
}

/// The names of `text` that are guarded (see [`Guarded`]).
fn guarded_names(text: &str) -> Guarded {
    let tokens = tokens(text);
    let name_at = |i: usize| match tokens.get(i) {
        Some(Token::Name(name)) => Some(name.as_str()),
        _ => None,
    };
    let mut seen = BTreeSet::new();
    let mut unguarded = BTreeSet::new();
    let mut tested = BTreeSet::new();
    for (i, token) in tokens.iter().enumerate() {
        let Token::Name(name) = token else { continue };
        let after = |k: usize| i >= k && matches!(&tokens[i - k], Token::Name(n) if n == "is");
        if i > 0 && matches!(tokens[i - 1], Token::Punct('.' | '|')) || after(1) || after(2) {
            continue; // an attribute, a filter or a test, not a variable
        }
        // Past the attribute, subscript and call chain: `x.y['z'](1)`.
        let mut j = i + 1;
        loop {
            match tokens.get(j) {
                Some(Token::Punct('.')) if name_at(j + 1).is_some() => j += 2,
                Some(Token::Punct(open @ ('[' | '('))) => {
                    let close = if *open == '[' { ']' } else { ')' };
                    let mut depth = 0;
                    while let Some(token) = tokens.get(j) {
                        if *token == Token::Punct(*open) {
                            depth += 1;
                        } else if *token == Token::Punct(close) {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        j += 1;
                    }
                    j += 1;
                }
                _ => break,
            }
        }
        let defaulted = tokens.get(j) == Some(&Token::Punct('|'))
            && matches!(name_at(j + 1), Some("default" | "d"));
        let is_test = name_at(j) == Some("is")
            && (matches!(name_at(j + 1), Some("defined" | "undefined"))
                || (name_at(j + 1) == Some("not")
                    && matches!(name_at(j + 2), Some("defined" | "undefined"))));
        seen.insert(name.clone());
        if is_test {
            tested.insert(name.clone());
        }
        if !defaulted && !is_test {
            unguarded.insert(name.clone());
        }
    }
    Guarded {
        defaulted: seen.difference(&unguarded).cloned().collect(),
        tested,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn default_and_defined_tests_guard_a_name() {
        let guarded =
            guarded_names("{{ x | default('y') }} {{ a.b['c'] | d(omit) }} {{ z|default }}");
        assert_eq!(guarded.defaulted, set(&["a", "x", "z"]));
        let guarded =
            guarded_names("x is defined and x == 1 and y is not defined or w is undefined");
        assert_eq!(guarded.tested, set(&["w", "x", "y"]));
        assert_eq!(guarded.all(), set(&["w", "x", "y"]));
    }

    #[test]
    fn a_bare_use_beside_a_default_is_not_guarded() {
        let guarded = guarded_names("{{ x | default('a') }}{{ x }}{{ y | lower | default('b') }}");
        assert_eq!(guarded.all(), set(&[]));
        let guarded = guarded_names("{{ 'x' | default(y) }} {{ lookup('vars', 'q', default='') }}");
        assert!(!guarded.all().contains("y"));
    }
}
