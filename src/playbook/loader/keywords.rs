//! Reading keyword values (`become`, `tags`, `when`, `serial`...) from YAML nodes, accepting
//! what Ansible accepts and pointing at the node when the value has the wrong type.

use super::error::LoadError;
use super::freeform::is_identifier;
use crate::diagnostic::Diagnostic;
use crate::playbook::model::{Condition, SerialStep, VarPrompt};
use crate::yaml::{Node, NodeValue, YamlFile};
use serde_json::{Map, Value};

/// What a node holds, for "found ..." in messages: the value itself for a scalar.
pub fn found(node: &Node) -> String {
    match &node.value {
        NodeValue::String(text) => format!("`{text}`"),
        NodeValue::Bool(b) => format!("`{b}`"),
        NodeValue::Int(i) => format!("`{i}`"),
        NodeValue::Float(f) => format!("`{f}`"),
        _ => node.kind().to_string(),
    }
}

/// True when `text` holds Jinja syntax, so its value is known only on a host.
pub fn has_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// True when any string in `value` (keys included) holds Jinja syntax.
pub fn value_has_template(value: &Value) -> bool {
    match value {
        Value::String(text) => has_template(text),
        Value::Array(items) => items.iter().any(value_has_template),
        Value::Object(map) => map
            .iter()
            .any(|(key, value)| has_template(key) || value_has_template(value)),
        _ => false,
    }
}

fn wrong_type(file: &YamlFile, keyword: &str, expected: &'static str, node: &Node) -> Diagnostic {
    LoadError::WrongType {
        keyword: keyword.to_string(),
        expected,
        found: found(node),
    }
    .at(file.location(node))
}

/// A string; numbers are accepted and printed, since YAML reads `name: 2024` as one.
pub fn string(file: &YamlFile, keyword: &str, node: &Node) -> Result<String, Diagnostic> {
    match &node.value {
        NodeValue::String(text) => Ok(text.clone()),
        NodeValue::Int(i) => Ok(i.to_string()),
        NodeValue::Float(f) => Ok(f.to_string()),
        _ => Err(wrong_type(file, keyword, "a string", node)),
    }
}

/// A boolean: YAML's own, or Ansible's strings (`yes`, `"false"`, `on`, `1`...).
pub fn boolean(file: &YamlFile, keyword: &str, node: &Node) -> Result<bool, Diagnostic> {
    let parsed = match &node.value {
        NodeValue::Bool(b) => Some(*b),
        NodeValue::Int(0) => Some(false),
        NodeValue::Int(1) => Some(true),
        NodeValue::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "yes" | "y" | "true" | "on" | "1" => Some(true),
            "no" | "n" | "false" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| {
        LoadError::NotABool {
            keyword: keyword.to_string(),
            found: found(node),
        }
        .at(file.location(node))
    })
}

/// One string or a list of strings (`notify`, `listen`).
pub fn string_list(file: &YamlFile, keyword: &str, node: &Node) -> Result<Vec<String>, Diagnostic> {
    match &node.value {
        NodeValue::Null => Ok(Vec::new()),
        NodeValue::Seq(items) => items
            .iter()
            .map(|item| {
                string(file, keyword, item)
                    .map_err(|_| wrong_type(file, keyword, "a string or a list of strings", item))
            })
            .collect(),
        _ => string(file, keyword, node)
            .map(|text| vec![text])
            .map_err(|_| wrong_type(file, keyword, "a string or a list of strings", node)),
    }
}

/// `tags:`: a list, or a string that Ansible splits at commas (`tags: "ssh, firewall"`).
pub fn tags(file: &YamlFile, node: &Node) -> Result<Vec<String>, Diagnostic> {
    let mut tags = Vec::new();
    for tag in string_list(file, "tags", node)? {
        tags.extend(
            tag.split(',')
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
                .map(str::to_string),
        );
    }
    Ok(tags)
}

/// `tags` with `extra` added after them, each once.
pub fn merge_tags(inherited: &[String], own: &[String]) -> Vec<String> {
    let mut tags = inherited.to_vec();
    for tag in own {
        if !tags.contains(tag) {
            tags.push(tag.clone());
        }
    }
    tags
}

/// `when:`, `changed_when:`, `failed_when:`: an expression, a boolean, or a list of them.
pub fn conditions(
    file: &YamlFile,
    keyword: &str,
    node: &Node,
) -> Result<Vec<Condition>, Diagnostic> {
    let one = |item: &Node| -> Result<Condition, Diagnostic> {
        let expression = match &item.value {
            NodeValue::String(text) => strip_braces(text),
            NodeValue::Bool(b) => b.to_string(),
            NodeValue::Int(i) => i.to_string(),
            _ => {
                return Err(wrong_type(
                    file,
                    keyword,
                    "a condition or a list of conditions",
                    item,
                ))
            }
        };
        Ok(Condition {
            expression,
            location: file.location(item),
        })
    };
    match &node.value {
        NodeValue::Seq(items) => items.iter().map(one).collect(),
        _ => one(node).map(|condition| vec![condition]),
    }
}

/// `when: "{{ x }}"` means `when: x`; Ansible accepts it with a warning, converge silently.
fn strip_braces(text: &str) -> String {
    let trimmed = text.trim();
    if let Some(inner) = trimmed
        .strip_prefix("{{")
        .and_then(|rest| rest.strip_suffix("}}"))
    {
        if !inner.contains("{{") && !inner.contains("}}") {
            return inner.trim().to_string();
        }
    }
    trimmed.to_string()
}

/// A mapping of variables (`vars:`); null is none.
pub fn variables(
    file: &YamlFile,
    keyword: &str,
    node: &Node,
) -> Result<Map<String, Value>, Diagnostic> {
    match node.to_value() {
        Value::Null => Ok(Map::new()),
        Value::Object(map) => Ok(map),
        _ => Err(wrong_type(file, keyword, "a mapping of variables", node)),
    }
}

/// A variable name (`register:`, `loop_var:`).
pub fn variable_name(file: &YamlFile, keyword: &str, node: &Node) -> Result<String, Diagnostic> {
    let name = string(file, keyword, node)?;
    if is_identifier(&name) {
        Ok(name)
    } else {
        Err(LoadError::BadVariableName {
            keyword: keyword.to_string(),
            name,
        }
        .at(file.location(node)))
    }
}

/// `become_method:`: `sudo` or `su`.
pub fn become_method(file: &YamlFile, node: &Node) -> Result<String, Diagnostic> {
    let method = string(file, "become_method", node)?;
    if method == "sudo" || method == "su" {
        Ok(method)
    } else {
        Err(LoadError::BadBecomeMethod { method }.at(file.location(node)))
    }
}

/// `serial:`: a count, a percentage, or a list of them.
pub fn serial(file: &YamlFile, node: &Node) -> Result<Vec<SerialStep>, Diagnostic> {
    let one = |item: &Node| -> Result<SerialStep, Diagnostic> {
        let bad = || LoadError::BadSerial { found: found(item) }.at(file.location(item));
        match &item.value {
            NodeValue::Int(n) if *n >= 1 => usize::try_from(*n)
                .map(SerialStep::Count)
                .map_err(|_| bad()),
            NodeValue::String(text) => {
                let text = text.trim();
                if let Some(percent) = text.strip_suffix('%') {
                    match percent.trim().parse::<u32>() {
                        Ok(p) if (1..=100).contains(&p) => Ok(SerialStep::Percent(p)),
                        _ => Err(bad()),
                    }
                } else {
                    match text.parse::<usize>() {
                        Ok(n) if n >= 1 => Ok(SerialStep::Count(n)),
                        _ => Err(bad()),
                    }
                }
            }
            _ => Err(bad()),
        }
    };
    match &node.value {
        NodeValue::Null => Ok(Vec::new()),
        NodeValue::Seq(items) => items.iter().map(one).collect(),
        _ => one(node).map(|step| vec![step]),
    }
}

/// `max_fail_percentage:`: a number from 0 to 100 (`30`, `30.5`, `"30%"`).
pub fn percentage(file: &YamlFile, keyword: &str, node: &Node) -> Result<f64, Diagnostic> {
    let parsed = match &node.value {
        NodeValue::Int(n) => Some(*n as f64),
        NodeValue::Float(f) => Some(*f),
        NodeValue::String(text) => text.trim().trim_end_matches('%').trim().parse().ok(),
        _ => None,
    };
    match parsed {
        Some(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(wrong_type(
            file,
            keyword,
            "a percentage from 0 to 100",
            node,
        )),
    }
}

/// `environment:`: a mapping of variables, or a template that renders to one (a list of
/// mappings is merged in order, as Ansible does).
pub fn environment(file: &YamlFile, node: &Node) -> Result<Value, Diagnostic> {
    match &node.value {
        NodeValue::Map(_) | NodeValue::Seq(_) => Ok(node.to_value()),
        NodeValue::String(text) if has_template(text) => Ok(node.to_value()),
        _ => Err(wrong_type(
            file,
            "environment",
            "a mapping of variables or a template of one",
            node,
        )),
    }
}

/// `vars_prompt:`: a list of `{name, prompt, default, private, confirm}`.
pub fn vars_prompt(file: &YamlFile, node: &Node) -> Result<Vec<VarPrompt>, Diagnostic> {
    let Some(items) = node.as_seq() else {
        return Err(wrong_type(file, "vars_prompt", "a list of prompts", node));
    };
    let mut prompts = Vec::new();
    for item in items {
        let Some(entries) = item.as_map() else {
            return Err(wrong_type(
                file,
                "vars_prompt",
                "a mapping with `name`",
                item,
            ));
        };
        let mut prompt = VarPrompt {
            name: String::new(),
            prompt: String::new(),
            default: None,
            private: true,
            confirm: false,
        };
        for (key, value) in entries {
            let key_name = match &key.value {
                NodeValue::String(text) => text.as_str(),
                _ => "",
            };
            match key_name {
                "name" => prompt.name = variable_name(file, "name", value)?,
                "prompt" => prompt.prompt = string(file, "prompt", value)?,
                "default" => prompt.default = Some(string(file, "default", value)?),
                "private" => prompt.private = boolean(file, "private", value)?,
                "confirm" => prompt.confirm = boolean(file, "confirm", value)?,
                "encrypt" | "salt" | "salt_size" | "unsafe" => {
                    return Err(LoadError::Unsupported {
                        keyword: format!("vars_prompt.{key_name}"),
                        instead: Some("hash the answer with `password_hash` where it is used"),
                    }
                    .at(file.location(key)))
                }
                other => {
                    return Err(LoadError::UnknownKey {
                        key: other.to_string(),
                        within: "vars_prompt".into(),
                        known: vec!["name", "prompt", "default", "private", "confirm"],
                    }
                    .at(file.location(key)))
                }
            }
        }
        if prompt.name.is_empty() {
            return Err(wrong_type(
                file,
                "vars_prompt",
                "a mapping with `name`",
                item,
            ));
        }
        if prompt.prompt.is_empty() {
            prompt.prompt = prompt.name.clone();
        }
        prompts.push(prompt);
    }
    Ok(prompts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml::parse_str;
    use std::path::Path;

    fn node(text: &str) -> (YamlFile, Node) {
        let file = parse_str(&format!("v: {text}\n"), Path::new("k.yml")).unwrap();
        let value = file.root.get("v").unwrap().clone();
        (file, value)
    }

    #[test]
    fn booleans_accept_ansible_spellings() {
        for (text, expected) in [
            ("yes", true),
            ("'no'", false),
            ("true", true),
            ("'on'", true),
            ("0", false),
        ] {
            let (file, value) = node(text);
            assert_eq!(
                boolean(&file, "become", &value).unwrap(),
                expected,
                "{text}"
            );
        }
        let (file, value) = node("maybe");
        let error = boolean(&file, "become", &value).unwrap_err();
        assert_eq!(
            error.message,
            "`become` must be a boolean (yes/no, true/false), found `maybe`"
        );
        assert_eq!(error.location.unwrap().column, 4);
    }

    #[test]
    fn tags_split_commas_and_refuse_mappings() {
        let (file, value) = node("'ssh, firewall'");
        assert_eq!(tags(&file, &value).unwrap(), ["ssh", "firewall"]);
        let (file, value) = node("[a, 2]");
        assert_eq!(tags(&file, &value).unwrap(), ["a", "2"]);
        let (file, value) = node("{a: 1}");
        assert_eq!(
            tags(&file, &value).unwrap_err().message,
            "`tags` must be a string or a list of strings, found a mapping"
        );
    }

    #[test]
    fn conditions_strip_braces_and_accept_booleans() {
        let (file, value) = node("['{{ a }}', false, b is defined]");
        let parsed: Vec<String> = conditions(&file, "when", &value)
            .unwrap()
            .into_iter()
            .map(|c| c.expression)
            .collect();
        assert_eq!(parsed, ["a", "false", "b is defined"]);
        let (file, value) = node("'{{ a }} and {{ b }}'");
        assert_eq!(
            conditions(&file, "when", &value).unwrap()[0].expression,
            "{{ a }} and {{ b }}"
        );
    }

    #[test]
    fn serial_steps() {
        let (file, value) = node("[1, '30%', '5']");
        assert_eq!(
            serial(&file, &value).unwrap(),
            [
                SerialStep::Count(1),
                SerialStep::Percent(30),
                SerialStep::Count(5)
            ]
        );
        let (file, value) = node("0");
        assert_eq!(
            serial(&file, &value).unwrap_err().message,
            "`serial` must be a positive number or a percentage like \"30%\", found `0`"
        );
    }
}
