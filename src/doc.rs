//! `converge doc`: module documentation generated from the argument structs themselves.

use crate::error::Exit;
use converge_modules::{closest, Module};
use serde_json::Value;

/// List modules, or document one.
pub fn run(name: Option<&str>) -> Exit {
    match name {
        None => {
            print!("{}", list());
            Exit::Success
        }
        Some(name) => match converge_modules::find(name) {
            Some(module) => {
                print!("{}", render(module));
                Exit::Success
            }
            None => {
                let names = converge_modules::all().iter().map(|m| m.name());
                let hint = closest(name, names)
                    .map(|n| format!("did you mean `{n}`?"))
                    .unwrap_or_else(|| "run `converge doc` to list the modules".into());
                eprintln!("error: unknown module `{name}`\n  = hint: {hint}");
                Exit::BadOptions
            }
        },
    }
}

/// One line per module: name and summary.
pub fn list() -> String {
    let modules = converge_modules::all();
    let width = modules.iter().map(|m| m.name().len()).max().unwrap_or(0);
    modules
        .iter()
        .map(|m| format!("{:<width$}  {}\n", m.name(), m.summary()))
        .collect()
}

/// A module's page: summary, arguments (type, default, choices, description), examples.
pub fn render(module: &dyn Module) -> String {
    let schema = module.schema();
    let schema = schema.as_value();
    let mut out = format!("{} — {}\n\nARGUMENTS\n", module.name(), module.summary());
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    match schema.get("properties").and_then(Value::as_object) {
        Some(properties) if !properties.is_empty() => {
            for (name, own) in properties {
                let property = resolve(schema, own);
                let mut facts = vec![type_name(schema, property)];
                if required.contains(&name.as_str()) {
                    facts.push("required".into());
                }
                if let Some(default) = own.get("default").or_else(|| property.get("default")) {
                    if !default.is_null() {
                        facts.push(format!("default: {}", plain(default)));
                    }
                }
                if let Some(choices) = choices(schema, property) {
                    facts.push(format!("choices: {}", choices.join(", ")));
                }
                out.push_str(&format!("  {name} ({})\n", facts.join("; ")));
                if let Some(description) = description(schema, own) {
                    for line in description.lines() {
                        out.push_str(&format!("      {line}\n"));
                    }
                }
            }
        }
        _ => out.push_str("  any variable names (free-form mapping)\n"),
    }
    if !module.examples().is_empty() {
        out.push_str("\nEXAMPLES\n");
        for line in module.examples().lines() {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

fn resolve<'a>(root: &'a Value, property: &'a Value) -> &'a Value {
    if let Some(reference) = property.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        if let Some(target) = root.get("$defs").and_then(|d| d.get(name)) {
            return target;
        }
    }
    if let Some(any) = property.get("anyOf").and_then(Value::as_array) {
        // Option<T> is `anyOf: [T, null]`.
        if let Some(first) = any
            .iter()
            .find(|v| v.get("type") != Some(&Value::from("null")))
        {
            let resolved = resolve(root, first);
            if resolved.get("description").is_none() && property.get("description").is_some() {
                return property;
            }
            return resolved;
        }
    }
    property
}

fn description(root: &Value, property: &Value) -> Option<String> {
    property
        .get("description")
        .or_else(|| resolve(root, property).get("description"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn type_name(root: &Value, property: &Value) -> String {
    if let Some(any) = property.get("anyOf").and_then(Value::as_array) {
        let names: Vec<String> = any
            .iter()
            .filter(|v| v.get("type") != Some(&Value::from("null")))
            .map(|v| type_name(root, resolve(root, v)))
            .collect();
        return names.join(" or ");
    }
    if choices(root, property).is_some() {
        return "choice".into();
    }
    match property.get("type") {
        Some(Value::String(t)) => match t.as_str() {
            "array" => {
                let item = property
                    .get("items")
                    .map(|i| type_name(root, resolve(root, i)))
                    .unwrap_or_else(|| "any".into());
                format!("list of {item}")
            }
            "object" => "mapping".into(),
            "integer" => "integer".into(),
            "boolean" => "boolean".into(),
            other => other.to_string(),
        },
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".into(),
    }
}

fn choices(root: &Value, property: &Value) -> Option<Vec<String>> {
    let property = resolve(root, property);
    if let Some(values) = property.get("enum").and_then(Value::as_array) {
        return Some(values.iter().map(plain).collect());
    }
    let one_of = property.get("oneOf").and_then(Value::as_array)?;
    let values: Vec<String> = one_of
        .iter()
        .filter_map(|v| {
            v.get("const")
                .or_else(|| v.get("enum").and_then(|e| e.get(0)))
        })
        .map(plain)
        .collect();
    (!values.is_empty()).then_some(values)
}

fn plain(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
