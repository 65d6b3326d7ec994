//! Type checks for the connection variables the runner reads, so a wrong value is reported at
//! its line when the inventory loads rather than as a confusing failure on one host later.

use super::error::InventoryError;
use crate::diagnostic::Diagnostic;
use crate::yaml::{key_text, Node, YamlFile};
use serde_json::{Map, Value};

/// Check one variable; variables converge does not read itself are never refused.
pub(crate) fn check_variable(name: &str, value: &Value) -> Result<(), InventoryError> {
    // A template is resolved per host at run time; only its result can be checked.
    if matches!(value, Value::String(text) if text.contains("{{")) || value.is_null() {
        return Ok(());
    }
    let bad = |expected: &'static str| InventoryError::BadVariable {
        name: name.to_string(),
        expected,
        found: describe(value),
    };
    match name {
        "ansible_port" | "ansible_ssh_port" => {
            let number = match value {
                Value::Number(number) => number.as_u64(),
                Value::String(text) => text.trim().parse::<u64>().ok(),
                _ => None,
            };
            match number {
                Some(1..=65535) => Ok(()),
                _ => Err(bad("a port number (1-65535)")),
            }
        }
        "ansible_become" => {
            let ok = match value {
                Value::Bool(_) => true,
                Value::Number(number) => matches!(number.as_u64(), Some(0 | 1)),
                Value::String(text) => parse_bool(text).is_some(),
                _ => false,
            };
            if ok {
                Ok(())
            } else {
                Err(bad("a boolean (`true` or `false`)"))
            }
        }
        "ansible_host"
        | "ansible_ssh_host"
        | "ansible_user"
        | "ansible_ssh_user"
        | "ansible_connection"
        | "ansible_ssh_private_key_file"
        | "ansible_private_key_file"
        | "ansible_become_user"
        | "ansible_become_method" => match value {
            Value::String(_) => Ok(()),
            _ => Err(bad("a string")),
        },
        "ansible_group_priority" => match value {
            Value::Number(number) if number.is_i64() => Ok(()),
            Value::String(text) if text.trim().parse::<i64>().is_ok() => Ok(()),
            _ => Err(bad("an integer")),
        },
        _ => Ok(()),
    }
}

/// Ansible's `boolean()` on a string: the words it accepts for true and false.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "on" | "true" | "1" | "y" | "t" => Some(true),
        "no" | "off" | "false" | "0" | "n" | "f" => Some(false),
        _ => None,
    }
}

/// A value as a message shows it: scalars quoted in backticks, containers by kind.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("`{n}`"),
        Value::String(s) => format!("`{s}`"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

/// A YAML mapping of variables (a group's `vars:`, a host's entry, a `group_vars/` file) as data,
/// each connection variable checked at its own line. `what` names it for the error when the node
/// is not a mapping; null is an empty mapping.
pub(crate) fn vars_from_node(
    file: &YamlFile,
    node: &Node,
    what: &str,
) -> Result<Map<String, Value>, Diagnostic> {
    if node.is_null() {
        return Ok(Map::new());
    }
    let Some(entries) = node.as_map() else {
        return Err(InventoryError::NotAMapping {
            what: what.to_string(),
            found: node.kind(),
            hint: Some("write variables as `name: value` lines"),
        }
        .at(file.location(node)));
    };
    let mut vars = Map::new();
    for (key, value) in entries {
        let Some(name) = key_text(key) else {
            return Err(InventoryError::BadName {
                what: "a variable",
                found: key.kind(),
            }
            .at(file.location(key)));
        };
        let value_data = value.to_value();
        check_variable(&name, &value_data).map_err(|error| error.at(file.location(value)))?;
        vars.insert(name, value_data);
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn port_must_be_a_port_number() {
        assert!(check_variable("ansible_port", &json!(2222)).is_ok());
        assert!(check_variable("ansible_port", &json!("22")).is_ok());
        assert!(check_variable("ansible_port", &json!("{{ base_port + 1 }}")).is_ok());
        let error = check_variable("ansible_port", &json!("abc")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`ansible_port` must be a port number (1-65535), not `abc`"
        );
        assert!(check_variable("ansible_port", &json!(70000)).is_err());
    }

    #[test]
    fn become_takes_ansible_booleans() {
        assert!(check_variable("ansible_become", &json!(true)).is_ok());
        assert!(check_variable("ansible_become", &json!("yes")).is_ok());
        let error = check_variable("ansible_become", &json!("maybe")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`ansible_become` must be a boolean (`true` or `false`), not `maybe`"
        );
    }

    #[test]
    fn strings_and_other_variables() {
        let error = check_variable("ansible_user", &json!(["root"])).unwrap_err();
        assert_eq!(
            error.to_string(),
            "`ansible_user` must be a string, not a list"
        );
        assert!(check_variable("ntp_servers", &json!(["a"])).is_ok());
        assert!(check_variable("ansible_group_priority", &json!("x")).is_err());
    }
}
