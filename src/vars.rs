//! Variable precedence and lazy template resolution.
//!
//! converge implements Ansible's precedence, lowest first (later layers win; mappings are
//! replaced, not merged, like Ansible's default `hash_behaviour=replace`):
//!
//! 1. role defaults (`defaults/main.yml`) of the play's roles, the task's own role last
//! 2. inventory variables: `all` → parent groups → child groups → host, inventory file
//!    first, then `group_vars/`/`host_vars/` beside the inventory, then beside the playbook
//! 3. facts (`ansible_facts`, `ansible_*`), when gathered
//! 4. play `vars`, then `vars_files` in order
//! 5. role `vars/main.yml` of the task's role
//! 6. block `vars`, then task `vars` (inner blocks win)
//! 7. `include_vars`
//! 8. `set_fact` and `register`ed results
//! 9. role parameters (`- role: x` with `vars:` or extra keys)
//! 10. extra variables (`-e`)
//!
//! Magic variables (`inventory_hostname`, `groups`, `group_names`, `hostvars`, `playbook_dir`,
//! `role_path`, `ansible_check_mode`, `omit`…) are set by the runner and cannot be overridden.
//!
//! Variables may hold templates (`prefix: "{{ base }}::"`). They are rendered when a task
//! uses them, after the variables they use, so the order of definition does not matter.

use crate::template::{TemplateError, Templates};
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Merge layers, later ones winning at the top level.
pub fn merge<'a>(layers: impl IntoIterator<Item = &'a Map<String, Value>>) -> Map<String, Value> {
    let mut merged = Map::new();
    for layer in layers {
        for (key, value) in layer {
            merged.insert(key.clone(), value.clone());
        }
    }
    merged
}

/// Render, in place, every variable that `source` reads (directly or through other
/// variables) and that still holds template syntax.
pub fn resolve_for(
    templates: &Templates,
    vars: &mut Map<String, Value>,
    source: &str,
    expression: bool,
) -> Result<(), TemplateError> {
    if !expression && !Templates::is_template(source) {
        return Ok(());
    }
    let names = templates.referenced_variables(source, expression)?;
    let mut visiting = Vec::new();
    for name in names {
        resolve_variable(templates, vars, &name, &mut visiting)?;
    }
    Ok(())
}

/// Render, in place, every variable a whole value (task arguments) reads.
pub fn resolve_value(
    templates: &Templates,
    vars: &mut Map<String, Value>,
    value: &Value,
) -> Result<(), TemplateError> {
    let mut sources = Vec::new();
    collect_strings(value, &mut sources);
    for source in sources {
        resolve_for(templates, vars, &source, false)?;
    }
    Ok(())
}

fn resolve_variable(
    templates: &Templates,
    vars: &mut Map<String, Value>,
    name: &str,
    visiting: &mut Vec<String>,
) -> Result<(), TemplateError> {
    let Some(value) = vars.get(name) else {
        return Ok(());
    };
    let mut sources = Vec::new();
    collect_strings(value, &mut sources);
    let templated: Vec<String> = sources
        .into_iter()
        .filter(|s| Templates::is_template(s))
        .collect();
    if templated.is_empty() {
        return Ok(());
    }
    if visiting.iter().any(|v| v == name) {
        let mut chain = visiting.clone();
        chain.push(name.to_string());
        return Err(TemplateError::Render {
            message: format!("variable `{name}` refers to itself: {}", chain.join(" -> ")),
            line: 0,
        });
    }
    visiting.push(name.to_string());
    let mut inner: BTreeSet<String> = BTreeSet::new();
    for source in &templated {
        inner.extend(templates.referenced_variables(source, false)?);
    }
    for dependency in inner {
        if dependency != name || visiting.len() == 1 {
            resolve_variable(templates, vars, &dependency, visiting)?;
        }
    }
    visiting.pop();
    let raw = vars.get(name).cloned().unwrap_or(Value::Null);
    let rendered = templates.render_value(&raw, vars)?;
    vars.insert(name.to_string(), rendered);
    Ok(())
}

/// Whether a string of `value` (a key or a text, at any depth) contains `needle`.
pub fn mentions(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(text) => text.contains(needle),
        Value::Array(items) => items.iter().any(|item| mentions(item, needle)),
        Value::Object(map) => map
            .iter()
            .any(|(key, item)| key.contains(needle) || mentions(item, needle)),
        _ => false,
    }
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) => out.push(text.clone()),
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, out)),
        Value::Object(map) => {
            for (key, item) in map {
                out.push(key.clone());
                collect_strings(item, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn later_layers_win_and_replace_mappings() {
        let low = map(json!({"a": 1, "d": {"x": 1, "y": 2}}));
        let high = map(json!({"a": 2, "d": {"x": 3}}));
        let merged = merge([&low, &high]);
        assert_eq!(Value::Object(merged), json!({"a": 2, "d": {"x": 3}}));
    }

    #[test]
    fn variables_referring_to_variables_resolve_in_any_order() {
        let templates = Templates::new();
        let mut vars = map(json!({
            "address": "{{ prefix }}10",
            "prefix": "{{ base }}::",
            "base": "fd00:1"
        }));
        resolve_for(&templates, &mut vars, "{{ address }}", false).unwrap();
        assert_eq!(vars["address"], json!("fd00:1::10"));
    }

    #[test]
    fn self_reference_is_an_error_not_a_hang() {
        let templates = Templates::new();
        let mut vars = map(json!({"a": "{{ b }}", "b": "{{ a }}"}));
        let error = resolve_for(&templates, &mut vars, "{{ a }}", false).unwrap_err();
        assert!(error.to_string().contains("refers to itself"), "{error}");
    }
}
