//! The YAML inventory format (Ansible's `yaml` inventory plugin):
//!
//! ```yaml
//! all:
//!   vars: { ntp_server: ntp.example.org }
//!   children:
//!     web:
//!       hosts:
//!         web[01:03].example.org:
//!           http_port: 8080
//! ```
//!
//! Top-level keys are groups (`all` being the usual one); a group takes only `hosts`, `vars` and
//! `children`. Where Ansible warns and skips a wrong entry, converge refuses it: a skipped
//! `host:` silently loses hosts.

use super::build::Builder;
use super::checks::vars_from_node;
use super::error::InventoryError;
use super::range::parse_host_pattern;
use crate::diagnostic::Diagnostic;
use crate::yaml::{key_text, Node, NodeValue, YamlFile};
use converge_modules::closest;
use serde_json::Value;

const GROUP_KEYS: [&str; 3] = ["hosts", "vars", "children"];

/// Add the groups and hosts of a parsed YAML inventory file.
pub(crate) fn parse(file: &YamlFile, builder: &mut Builder) -> Result<(), Diagnostic> {
    let root = &file.root;
    if root.is_null() {
        return Ok(());
    }
    let Some(entries) = root.as_map() else {
        return Err(InventoryError::NotAMapping {
            what: "an inventory".into(),
            found: root.kind(),
            hint: Some("start the file with `all:` and list groups under `children:`"),
        }
        .at(file.location(root)));
    };
    for (key, data) in entries {
        let name = name_of(file, key, "a group")?;
        parse_group(file, builder, &name, data)?;
    }
    Ok(())
}

fn name_of(file: &YamlFile, key: &Node, what: &'static str) -> Result<String, Diagnostic> {
    key_text(key).ok_or_else(|| {
        InventoryError::BadName {
            what,
            found: key.kind(),
        }
        .at(file.location(key))
    })
}

/// One group and, recursively, its children; returns the group's index.
fn parse_group(
    file: &YamlFile,
    builder: &mut Builder,
    name: &str,
    data: &Node,
) -> Result<usize, Diagnostic> {
    let group = builder.group(name);
    if data.is_null() {
        return Ok(group);
    }
    let Some(entries) = data.as_map() else {
        return Err(InventoryError::NotAMapping {
            what: format!("group `{name}`"),
            found: data.kind(),
            hint: Some("a group is a mapping with `hosts:`, `vars:` and `children:`"),
        }
        .at(file.location(data)));
    };
    for (key, value) in entries {
        let key_name = key_text(key).unwrap_or_default();
        match key_name.as_str() {
            "hosts" => parse_hosts(file, builder, name, group, value)?,
            "vars" => {
                let vars = vars_from_node(file, value, &format!("`vars` of group `{name}`"))?;
                for (var, value) in vars {
                    builder.set_group_var(group, var, value);
                }
            }
            "children" => match &value.value {
                NodeValue::Null => {}
                // Ansible accepts `children: web` for a single child.
                NodeValue::String(child) => {
                    let child = builder.group(child);
                    builder.add_child(group, child, Some(file.location(value)));
                }
                NodeValue::Map(children) => {
                    for (child_key, child_data) in children {
                        let child_name = name_of(file, child_key, "a group")?;
                        let child = parse_group(file, builder, &child_name, child_data)?;
                        builder.add_child(group, child, Some(file.location(child_key)));
                    }
                }
                _ => {
                    return Err(InventoryError::NotAMapping {
                        what: format!("`children` of group `{name}`"),
                        found: value.kind(),
                        hint: Some("write each child group as a key ending in `:`"),
                    }
                    .at(file.location(value)))
                }
            },
            _ => {
                return Err(InventoryError::UnknownGroupKey {
                    key: key_name.clone(),
                    group: name.to_string(),
                    suggestion: closest(&key_name, GROUP_KEYS),
                }
                .at(file.location(key)))
            }
        }
    }
    Ok(group)
}

fn parse_hosts(
    file: &YamlFile,
    builder: &mut Builder,
    group_name: &str,
    group: usize,
    hosts: &Node,
) -> Result<(), Diagnostic> {
    let single;
    let entries: &[(Node, Node)] = match &hosts.value {
        NodeValue::Null => return Ok(()),
        // Ansible accepts `hosts: web1` for a single host.
        NodeValue::String(_) => {
            single = [(
                hosts.clone(),
                Node {
                    value: NodeValue::Null,
                    ..hosts.clone()
                },
            )];
            &single
        }
        NodeValue::Map(entries) => entries,
        _ => {
            return Err(InventoryError::NotAMapping {
                what: format!("`hosts` of group `{group_name}`"),
                found: hosts.kind(),
                hint: Some("write each host as a key ending in `:`, e.g. `web1.example.org:`"),
            }
            .at(file.location(hosts)))
        }
    };
    for (key, vars_node) in entries {
        let pattern = name_of(file, key, "a host")?;
        let (names, port) =
            parse_host_pattern(&pattern).map_err(|error| error.at(file.location(key)))?;
        let vars = vars_from_node(
            file,
            vars_node,
            &format!("the variables of host `{pattern}`"),
        )?;
        for name in names {
            let host = builder.add_host(&name, group);
            if let Some(port) = port {
                builder.set_host_var(host, "ansible_port".into(), Value::from(port));
            }
            for (var, value) in &vars {
                builder.set_host_var(host, var.clone(), value.clone());
            }
        }
    }
    Ok(())
}
