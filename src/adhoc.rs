//! Ad-hoc runs in Ansible's shape: `converge -i inventory.yml PATTERN -m MODULE -a ARGS`.
//!
//! The module and its arguments become a one-task play, so an ad-hoc run plans, checks,
//! diffs and reports exactly like a playbook. A module that returns facts (`setup`,
//! `package_facts`) prints them as `ansible HOST -m setup` does: the result as indented JSON
//! under the task's line (and in the `message` of `--format json`'s event).

use crate::diagnostic::{Diagnostic, Location};
use crate::playbook::{self, Common, Play, Playbook, Task, TaskNode};
use crate::template::Templates;
use crate::yaml;
use converge_modules::closest;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Where an ad-hoc task comes from, as its diagnostics and [`shows_result`] see it.
const COMMAND_LINE: &str = "<command line>";

/// Whether the runner prints this task's result: an ad-hoc task whose module returned facts.
pub fn shows_result(task: &Task, result: &Map<String, Value>) -> bool {
    task.common.location.file.as_path() == Path::new(COMMAND_LINE)
        && result.contains_key("ansible_facts")
}

/// The result as Ansible's ad-hoc output shows it: `{"ansible_facts": …, "changed": false}`,
/// indented, keys in the module's order; `setup`'s facts spelled `ansible_…` as Ansible's
/// setup returns them.
pub fn result_text(module: &str, result: &Map<String, Value>) -> String {
    let mut shown = result.clone();
    if let (Some(Value::Object(facts)), "setup") = (shown.get_mut("ansible_facts"), module) {
        *facts = std::mem::take(facts)
            .into_iter()
            .map(|(key, value)| match key.starts_with("ansible_") {
                true => (key, value),
                false => (format!("ansible_{key}"), value),
            })
            .collect();
    }
    shown.entry("changed").or_insert(Value::Bool(false));
    serde_json::to_string_pretty(&Value::Object(shown)).unwrap_or_default()
}

/// Build the one-task playbook for `pattern`, `module` and `arguments` (`key=value` words,
/// a YAML/JSON mapping, or, for `command`/`shell`, the command line).
pub fn playbook(
    pattern: &str,
    module: &str,
    arguments: Option<&str>,
) -> Result<Playbook, Diagnostic> {
    let location = Location::file(COMMAND_LINE);
    let Some(found) = converge_modules::find(module) else {
        let names = converge_modules::all().iter().map(|m| m.name());
        let hint = closest(module, names)
            .map(|n| format!("did you mean `{n}`?"))
            .unwrap_or_else(|| "run `converge doc` to list the modules".into());
        return Err(Diagnostic::error(format!("unknown module `{module}`")).with_hint(hint));
    };
    let name = found.name();
    let text = arguments.unwrap_or("").trim();
    let args: Map<String, Value> = if text.starts_with('{') {
        match yaml::parse_str(text, Path::new("<-a>"))?.root.to_value() {
            Value::Object(map) => map,
            _ => return Err(Diagnostic::error(format!("`-a {text}` is not a mapping"))),
        }
    } else if text.is_empty() {
        Map::new()
    } else if matches!(name, "command" | "shell") {
        playbook::loader::parse_command(text)
            .map_err(|e| Diagnostic::error(format!("`-a {text}`: {e}")))?
    } else {
        playbook::loader::parse_key_values(text)
            .map_err(|e| Diagnostic::error(format!("`-a {text}`: {e}")))?
    };
    let args = Value::Object(args);
    let templated = serde_json::to_string(&args)
        .map(|s| Templates::is_template(&s))
        .unwrap_or(false);
    if !templated {
        found.validate(&args).map_err(|error| {
            Diagnostic::error(error.message.clone()).with_optional_hint(error.hint.clone())
        })?;
    }
    let task = Task {
        common: Common {
            name: Some(name.to_string()),
            location: location.clone(),
            ..Common::default()
        },
        module: name.to_string(),
        args,
        argument_locations: Default::default(),
        loop_items: None,
        register: None,
        notify: Vec::new(),
        listen: Vec::new(),
        changed_when: None,
        failed_when: None,
        until: None,
        not_implemented: None,
    };
    Ok(Playbook {
        path: PathBuf::from("./<ad-hoc>"),
        notes: Vec::new(),
        plays: vec![Play {
            name: format!("ad-hoc {name} on {pattern}"),
            hosts: pattern.to_string(),
            location,
            vars: Map::new(),
            vars_files: Vec::new(),
            become_settings: Default::default(),
            serial: Vec::new(),
            gather_facts: false,
            remote_user: None,
            connection: None,
            any_errors_fatal: false,
            max_fail_percentage: None,
            vars_prompt: Vec::new(),
            environment: None,
            roles: Vec::new(),
            tasks: vec![TaskNode::Task(task)],
            handlers: Vec::new(),
        }],
    })
}
