//! What `ansible-inventory` prints, for `converge inventory`: `--list` (groups with their
//! `hosts` and `children`, and `_meta.hostvars`), `--graph [GROUP]` (the `@all:` tree) and
//! `--host NAME` (one host's variables). JSON is written as Python's
//! `json.dumps(sort_keys=True, indent=4)` writes it, so the output is byte for byte Ansible's.

use super::{Inventory, ALL};
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Ansible's `C.INTERNAL_STATIC_VARS`: names `ansible-inventory` leaves out of a host's variables.
const INTERNAL_STATIC_VARS: [&str; 33] = [
    "ansible_async_path",
    "ansible_collection_name",
    "ansible_config_file",
    "ansible_dependent_role_names",
    "ansible_diff_mode",
    "ansible_facts",
    "ansible_forks",
    "ansible_inventory_sources",
    "ansible_limit",
    "ansible_play_batch",
    "ansible_play_hosts",
    "ansible_play_hosts_all",
    "ansible_play_role_names",
    "ansible_playbook_python",
    "ansible_role_name",
    "ansible_role_names",
    "ansible_run_tags",
    "ansible_skip_tags",
    "ansible_verbosity",
    "ansible_version",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname",
    "inventory_hostname_short",
    "groups",
    "group_names",
    "hostvars",
    "playbook_dir",
    "play_hosts",
    "role_name",
    "role_names",
    "role_path",
    "role_uuid",
];

/// A host's merged variables without the internal names.
fn public_vars(inventory: &Inventory, name: &str) -> Map<String, Value> {
    let mut vars = inventory.host_vars(name);
    vars.retain(|key, _| !INTERNAL_STATIC_VARS.contains(&key.as_str()));
    vars
}

/// `ansible-inventory --list`: every group reachable from `all` with its direct hosts and
/// child groups (empty keys and empty groups left out), and every host's merged variables
/// under `_meta.hostvars` (hosts without variables left out).
pub fn list(inventory: &Inventory) -> String {
    let mut top = Map::new();
    let mut seen: HashSet<usize> = HashSet::new();
    list_group(inventory, ALL, &mut seen, &mut top);
    let mut hostvars = Map::new();
    for host in inventory.hosts() {
        let vars = public_vars(inventory, &host.name);
        if !vars.is_empty() {
            hostvars.insert(host.name.clone(), Value::Object(vars));
        }
    }
    let mut meta = Map::new();
    meta.insert("hostvars".into(), Value::Object(hostvars));
    meta.insert("profile".into(), Value::String("inventory_legacy".into()));
    top.insert("_meta".into(), Value::Object(meta));
    python_json(&Value::Object(top))
}

/// Ansible's `format_group`: a group's entry, then (first time seen) each child's.
fn list_group(
    inventory: &Inventory,
    index: usize,
    seen: &mut HashSet<usize>,
    out: &mut Map<String, Value>,
) {
    let group = &inventory.groups[index];
    let mut entry = Map::new();
    if index != ALL {
        let hosts: Vec<Value> = group
            .direct_hosts
            .iter()
            .map(|h| Value::String(inventory.hosts[*h].name.clone()))
            .collect();
        if !hosts.is_empty() {
            entry.insert("hosts".into(), Value::Array(hosts));
        }
    }
    let mut children = Vec::new();
    let mut nested = Map::new();
    for child in &group.children {
        children.push(Value::String(inventory.groups[*child].name.clone()));
        if seen.insert(*child) {
            list_group(inventory, *child, seen, &mut nested);
        }
    }
    if !children.is_empty() {
        entry.insert("children".into(), Value::Array(children));
    }
    if !entry.is_empty() {
        out.insert(group.name.clone(), Value::Object(entry));
    }
    out.extend(nested);
}

/// `ansible-inventory --graph GROUP`: `@GROUP:`, then for each child group its tree and then
/// the group's own hosts, each level indented by `  |`. `None` when no such group exists.
pub fn graph(inventory: &Inventory, group: &str) -> Option<String> {
    let index = *inventory.group_index.get(group)?;
    let mut lines = Vec::new();
    graph_group(inventory, index, 0, &mut lines);
    Some(lines.join("\n"))
}

fn graph_name(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_string()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
}

fn graph_group(inventory: &Inventory, index: usize, depth: usize, lines: &mut Vec<String>) {
    let group = &inventory.groups[index];
    lines.push(graph_name(&format!("@{}:", group.name), depth));
    for child in &group.children {
        graph_group(inventory, *child, depth + 1, lines);
    }
    if index != ALL {
        for host in &group.direct_hosts {
            lines.push(graph_name(&inventory.hosts[*host].name, depth + 1));
        }
    }
}

/// `ansible-inventory --host NAME`: the host's merged variables. `None` for a host the
/// inventory does not list.
pub fn host(inventory: &Inventory, name: &str) -> Option<String> {
    inventory.host_index.get(name)?;
    Some(python_json(&Value::Object(public_vars(inventory, name))))
}

/// Python's `json.dumps(value, sort_keys=True, indent=4)` (with its default `ensure_ascii`).
pub fn python_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, 0, &mut out);
    out
}

fn write_value(value: &Value, depth: usize, out: &mut String) {
    let indent = |depth: usize| "    ".repeat(depth);
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_string(s, out),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&indent(depth + 1));
                write_value(item, depth + 1, out);
                out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
            }
            out.push_str(&indent(depth));
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (i, key) in keys.iter().enumerate() {
                out.push_str(&indent(depth + 1));
                write_string(key, out);
                out.push_str(": ");
                write_value(&map[key.as_str()], depth + 1, out);
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            out.push_str(&indent(depth));
            out.push('}');
        }
    }
}

/// A JSON string as Python writes it with `ensure_ascii`: anything outside printable ASCII
/// becomes `\uXXXX` (UTF-16, surrogate pairs above the BMP).
fn write_string(text: &str, out: &mut String) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_as_python_writes_it() {
        let value = json!({"b": [], "a": {"x": [1, "é😀\u{7f}"], "y": {}}, "c": null});
        assert_eq!(
            python_json(&value),
            "{\n    \"a\": {\n        \"x\": [\n            1,\n            \"\\u00e9\\ud83d\\ude00\\u007f\"\n        ],\n        \"y\": {}\n    },\n    \"b\": [],\n    \"c\": null\n}"
        );
    }
}
