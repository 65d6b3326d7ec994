//! YAML loading that keeps every node's position, for messages that point at a line.
//!
//! serde-saphyr reads YAML as Ansible users write it (`yes`/`no` booleans, `<<` merge keys,
//! `0644` as an octal number), rejects duplicate keys, bounds alias expansion, and its
//! `Spanned` wrapper gives each node its line and column.

use crate::diagnostic::{Diagnostic, Location};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use serde_saphyr::{Spanned, Tagged};
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Files larger than this are refused before parsing: no playbook or vars file is this big,
/// and parsing one would only waste the controller's memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// A YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: NodeValue,
    /// Line, 1-based.
    pub line: usize,
    /// Column, 1-based.
    pub column: usize,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// `~`, `null` or empty.
    Null,
    /// `true`, `yes`, …
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    String(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order; keys are nodes so their positions are known.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(text) => Some(text),
            _ => None,
        }
    }

    /// The mapping entries, if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.value {
            NodeValue::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items, if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.value {
            NodeValue::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// True for null.
    pub fn is_null(&self) -> bool {
        matches!(self.value, NodeValue::Null)
    }

    /// The value under `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| key_text(k).as_deref() == Some(key))
            .map(|(_, v)| v)
    }

    /// The value under `key` with the key's own node (for pointing at the key).
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| key_text(k).as_deref() == Some(key))
            .map(|(k, v)| (k, v))
    }

    /// What the node is, for messages ("a mapping", "a string").
    pub fn kind(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "null",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Int(_) => "an integer",
            NodeValue::Float(_) => "a number",
            NodeValue::String(_) => "a string",
            NodeValue::Seq(_) => "a list",
            NodeValue::Map(_) => "a mapping",
        }
    }

    /// The node as plain data (positions dropped), keys as strings.
    pub fn to_value(&self) -> Value {
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(b) => Value::Bool(*b),
            NodeValue::Int(i) => Value::from(*i),
            NodeValue::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            NodeValue::String(s) => Value::String(s.clone()),
            NodeValue::Seq(items) => Value::Array(items.iter().map(Node::to_value).collect()),
            NodeValue::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (key_text(k).unwrap_or_default(), v.to_value()))
                    .collect::<Map<_, _>>(),
            ),
        }
    }
}

/// A mapping key as text: strings as they are, scalars printed (`1`, `true`), else `None`.
pub fn key_text(key: &Node) -> Option<String> {
    match &key.value {
        NodeValue::String(s) => Some(s.clone()),
        NodeValue::Int(i) => Some(i.to_string()),
        NodeValue::Bool(b) => Some(b.to_string()),
        NodeValue::Float(f) => Some(f.to_string()),
        NodeValue::Null => Some("null".into()),
        _ => None,
    }
}

thread_local! {
    /// Positions of the `!vault`-tagged nodes met while deserializing, or `None` when the text
    /// has no `!vault` (reading tags costs a wrapper per node). serde gives `Deserialize` no
    /// context, and decrypting needs the file (to point at the value when it fails), so
    /// [`parse_str`] takes this list after parsing and decrypts those nodes.
    static VAULT_TAGGED: RefCell<Option<Vec<(usize, usize)>>> = const { RefCell::new(None) };
}

/// The YAML tag of an ansible-vault encrypted value.
const VAULT_TAG: &str = "!vault";

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let watching = VAULT_TAGGED.with(|tagged| tagged.borrow().is_some());
        if !watching {
            let spanned = Spanned::<NodeValue>::deserialize(deserializer)?;
            return Ok(Node {
                value: spanned.value,
                line: spanned.referenced.line() as usize,
                column: spanned.referenced.column() as usize,
            });
        }
        let spanned = Spanned::<Tagged<NodeValue>>::deserialize(deserializer)?;
        let Tagged(value, tag) = spanned.value;
        let node = Node {
            value,
            line: spanned.referenced.line() as usize,
            column: spanned.referenced.column() as usize,
        };
        if tag.as_deref() == Some(VAULT_TAG) {
            VAULT_TAGGED.with(|tagged| {
                if let Some(found) = tagged.borrow_mut().as_mut() {
                    found.push((node.line, node.column));
                }
            });
        }
        Ok(node)
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = NodeValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<NodeValue, E> {
                Ok(NodeValue::Null)
            }
            fn visit_none<E>(self) -> Result<NodeValue, E> {
                Ok(NodeValue::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
                NodeValue::deserialize(d)
            }
            fn visit_bool<E>(self, b: bool) -> Result<NodeValue, E> {
                Ok(NodeValue::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<NodeValue, E> {
                Ok(NodeValue::Int(i))
            }
            fn visit_u64<E>(self, u: u64) -> Result<NodeValue, E> {
                Ok(i64::try_from(u)
                    .map(NodeValue::Int)
                    .unwrap_or(NodeValue::Float(u as f64)))
            }
            fn visit_f64<E>(self, f: f64) -> Result<NodeValue, E> {
                Ok(NodeValue::Float(f))
            }
            fn visit_str<E>(self, s: &str) -> Result<NodeValue, E> {
                Ok(NodeValue::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<NodeValue, E> {
                Ok(NodeValue::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(NodeValue::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    entries.push(entry);
                }
                Ok(NodeValue::Map(entries))
            }
        }
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// A parsed YAML file: its root node and its path for locations.
#[derive(Debug, Clone)]
pub struct YamlFile {
    /// The path as given.
    pub path: Arc<PathBuf>,
    /// The document (`Null` for an empty file).
    pub root: Node,
}

impl YamlFile {
    /// The location of `node` in this file.
    pub fn location(&self, node: &Node) -> Location {
        Location::new(self.path.clone(), node.line, node.column)
    }
}

/// Read and parse a YAML file.
pub fn load_file(path: &Path) -> Result<YamlFile, Diagnostic> {
    let text = read_text(path)?;
    parse_str(&text, path)
}

/// Read a text file for parsing, refusing huge and non-UTF-8 files with a clear message.
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    let location = Location::file(path);
    let metadata = std::fs::metadata(path).map_err(|error| {
        Diagnostic::error(format!(
            "cannot read `{}`: {}",
            path.display(),
            io_reason(&error)
        ))
        .at(location.clone())
    })?;
    if metadata.is_dir() {
        return Err(
            Diagnostic::error(format!("`{}` is a directory, not a file", path.display()))
                .at(location),
        );
    }
    if metadata.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::error(format!(
            "`{}` is {} bytes, more than the {} bytes converge reads",
            path.display(),
            metadata.len(),
            MAX_FILE_BYTES
        ))
        .at(location));
    }
    let bytes = std::fs::read(path).map_err(|error| {
        Diagnostic::error(format!(
            "cannot read `{}`: {}",
            path.display(),
            io_reason(&error)
        ))
        .at(location.clone())
    })?;
    let text = String::from_utf8(bytes).map_err(|error| {
        let offset = error.utf8_error().valid_up_to();
        let valid = &error.as_bytes()[..offset];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let column = valid.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        Diagnostic::error(format!("`{}` is not valid UTF-8 text", path.display()))
            .at(Location::new(Arc::new(path.to_path_buf()), line, column))
            .with_hint("YAML files must be UTF-8; is this a binary file?")
    })?;
    if crate::vault::is_encrypted(&text) {
        let plain = crate::vault::decrypt(&text).map_err(|error| {
            vault_diagnostic(format!("`{}` {error}", path.display()), &error).at(location)
        })?;
        remember_decrypted_file(&plain, path);
        return Ok(plain);
    }
    Ok(text)
}

const VAULT_HINT: &str = "give the vault password with `--vault-password-file FILE`, `--vault-id [LABEL@]SOURCE` or `--ask-vault-pass`";

fn vault_diagnostic(message: String, error: &crate::vault::VaultError) -> Diagnostic {
    use crate::vault::VaultError;
    let diagnostic = Diagnostic::error(message);
    match error {
        VaultError::NoPassword | VaultError::WrongPassword { .. } | VaultError::AgeFailed => {
            diagnostic.with_hint(VAULT_HINT)
        }
        _ => diagnostic,
    }
}

/// Remember every scalar of a decrypted file as a secret, so output masks it. Booleans and
/// nulls are not secrets (masking `true` would hide it everywhere).
fn remember_decrypted_file(plain: &str, path: &Path) {
    fn walk(node: &Node) {
        match &node.value {
            NodeValue::String(text) => crate::vault::remember(text),
            NodeValue::Int(i) => crate::vault::remember(&i.to_string()),
            NodeValue::Float(f) => crate::vault::remember(&f.to_string()),
            NodeValue::Seq(items) => items.iter().for_each(walk),
            NodeValue::Map(entries) => entries.iter().for_each(|(_, value)| walk(value)),
            NodeValue::Null | NodeValue::Bool(_) => {}
        }
    }
    match parse_str(plain, path) {
        Ok(file) => walk(&file.root),
        // The caller reports the YAML error; mask what a line-by-line reading finds.
        Err(_) => crate::vault::remember_lines(plain),
    }
}

/// Replace each `!vault` value (at the positions in `tagged`) with its decrypted text.
fn decrypt_tagged(
    node: &mut Node,
    key: Option<&str>,
    tagged: &[(usize, usize)],
    file: &Arc<PathBuf>,
) -> Result<(), Diagnostic> {
    if tagged.contains(&(node.line, node.column)) {
        let location = Location::new(file.clone(), node.line, node.column);
        let subject = match key {
            Some(key) => format!("the `!vault` value of `{key}` in `{}`", file.display()),
            None => format!("a `!vault` value in `{}`", file.display()),
        };
        let NodeValue::String(ciphertext) = &node.value else {
            return Err(Diagnostic::error(format!("{subject} is {}, not a string", node.kind()))
                .at(location)
                .with_hint("write the output of `converge vault encrypt_string` or `ansible-vault encrypt_string`"));
        };
        let plain = crate::vault::decrypt_value(ciphertext)
            .map_err(|error| vault_diagnostic(format!("{subject} {error}"), &error).at(location))?;
        node.value = NodeValue::String(plain);
        return Ok(());
    }
    match &mut node.value {
        NodeValue::Seq(items) => items
            .iter_mut()
            .try_for_each(|item| decrypt_tagged(item, key, tagged, file)),
        NodeValue::Map(entries) => entries.iter_mut().try_for_each(|(k, value)| {
            let name = key_text(k);
            decrypt_tagged(value, name.as_deref(), tagged, file)
        }),
        _ => Ok(()),
    }
}

/// Parse YAML text that came from `path`.
pub fn parse_str(text: &str, path: &Path) -> Result<YamlFile, Diagnostic> {
    let file = Arc::new(path.to_path_buf());
    // YAML 1.1 as Ansible reads it: `mode: 0644` is the octal number 420.
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    let watch = text.contains(VAULT_TAG).then(Vec::new);
    VAULT_TAGGED.with(|tagged| *tagged.borrow_mut() = watch);
    let parsed: Result<Node, _> = serde_saphyr::from_str_with_options(text, options);
    let tagged = VAULT_TAGGED
        .with(|tagged| tagged.borrow_mut().take())
        .unwrap_or_default();
    let mut root = parsed.map_err(|error| {
        let (line, column) = error
            .location()
            .map(|l| (l.line() as usize, l.column() as usize))
            .unwrap_or((0, 0));
        Diagnostic::error(format!("invalid YAML: {}", first_line(&error.to_string())))
            .at(Location::new(file.clone(), line, column))
    })?;
    let lines: Vec<&str> = text.lines().collect();
    restore_non_ansible_booleans(&mut root, &lines);
    if !tagged.is_empty() {
        decrypt_tagged(&mut root, None, &tagged, &file)?;
    }
    Ok(YamlFile { path: file, root })
}

/// The spellings PyYAML (and so Ansible) reads as booleans. serde-saphyr also reads `y`,
/// `n` and odd casings such as `yEs`; Ansible users mean those as strings (`content: y`).
const ANSIBLE_BOOLEANS: &[&str] = &[
    "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on",
    "On", "ON", "off", "Off", "OFF",
];

fn restore_non_ansible_booleans(node: &mut Node, lines: &[&str]) {
    match &mut node.value {
        NodeValue::Bool(_) => {
            if let Some(token) = plain_token_at(lines, node.line, node.column) {
                if !ANSIBLE_BOOLEANS.contains(&token.as_str()) && !token.is_empty() {
                    node.value = NodeValue::String(token);
                }
            }
        }
        NodeValue::Seq(items) => items
            .iter_mut()
            .for_each(|item| restore_non_ansible_booleans(item, lines)),
        NodeValue::Map(entries) => {
            for (key, value) in entries {
                restore_non_ansible_booleans(key, lines);
                restore_non_ansible_booleans(value, lines);
            }
        }
        _ => {}
    }
}

/// The plain scalar starting at a 1-based line and column (quoted scalars are never booleans).
fn plain_token_at(lines: &[&str], line: usize, column: usize) -> Option<String> {
    let text = lines.get(line.checked_sub(1)?)?;
    let token: String = text
        .chars()
        .skip(column.checked_sub(1)?)
        .take_while(|c| !c.is_whitespace() && !matches!(c, ',' | '}' | ']' | '#'))
        .collect();
    if token.starts_with(['"', '\'', '*', '&', '!']) {
        return None;
    }
    Some(token)
}

fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    let line = line.strip_prefix("error: ").unwrap_or(line);
    // serde-saphyr prefixes "line N column M: "; the location is printed separately.
    match line.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("line ") => rest.to_string(),
        _ => line.to_string(),
    }
}

/// The reason part of an I/O error, lowercase.
pub fn io_reason(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => error.to_string().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_booleans_and_merges() {
        let text = "base: &b\n  x: 1\nplay:\n  <<: *b\n  become: yes\n  mode: 0644\n";
        let file = parse_str(text, Path::new("t.yml")).unwrap();
        let play = file.root.get("play").unwrap();
        assert_eq!(play.get("become").unwrap().value, NodeValue::Bool(true));
        assert_eq!(play.get("mode").unwrap().value, NodeValue::Int(0o644));
        assert_eq!(play.get("x").unwrap().value, NodeValue::Int(1));
        let (key, _) = play.entry("become").unwrap();
        assert_eq!((key.line, key.column), (5, 3));
    }

    #[test]
    fn single_letter_booleans_stay_strings_like_in_ansible() {
        let file = parse_str(
            "a: y\nb: n\nc: yes\nd: {e: Y, f: off}\ng: 'y'\n",
            Path::new("t.yml"),
        )
        .unwrap();
        let value = file.root.to_value();
        assert_eq!(
            value,
            serde_json::json!({"a": "y", "b": "n", "c": true, "d": {"e": "Y", "f": false}, "g": "y"})
        );
    }

    #[test]
    fn syntax_error_points_at_line() {
        let error = parse_str("a: [1, 2\nb: 3\n", Path::new("bad.yml")).unwrap_err();
        let location = error.location.unwrap();
        assert_eq!(location.line, 2);
        assert!(
            error.message.starts_with("invalid YAML"),
            "{}",
            error.message
        );
    }

    fn vault_fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/vault")
            .join(name)
    }

    /// Inline values from the real `ansible-vault encrypt_string` (1.1, 1.2 with vault id
    /// `prod`, a multi-line value): decrypted when parsed, and remembered for masking.
    #[test]
    fn inline_vault_values_are_decrypted_and_masked() {
        crate::vault::set_fixture_secrets();
        let path = vault_fixture("inline_vars.yml");
        let file = load_file(&path).unwrap();
        assert_eq!(
            file.root.to_value(),
            serde_json::json!({
                "plain_value": "not-a-secret",
                "db_user": "inline-secret-user",
                "api_token": "prod-token-ünïcode",
                "multi": "line one\nline two\n",
            })
        );
        assert_eq!(
            crate::vault::redact("inline-secret-user prod-token-ünïcode line two not-a-secret"),
            "******** ******** ******** not-a-secret"
        );
        // Nested and in a list, a `!vault` value is found wherever it is.
        let block = std::fs::read_to_string(vault_fixture("inline_noname.txt")).unwrap();
        let nested = format!(
            "outer:\n  list:\n    - {}\n",
            block.trim_end().replace('\n', "\n      ")
        );
        let file = parse_str(&nested, Path::new("nested.yml")).unwrap();
        assert_eq!(
            file.root.to_value(),
            serde_json::json!({"outer": {"list": ["no-name-value"]}})
        );
        // Without the tag the same text is just a string, as in Ansible.
        let untagged = nested.replace("!vault ", "");
        let file = parse_str(&untagged, Path::new("untagged.yml")).unwrap();
        let text = file
            .root
            .get("outer")
            .unwrap()
            .get("list")
            .unwrap()
            .as_seq()
            .unwrap()[0]
            .as_str()
            .unwrap()
            .to_string();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"), "{text}");
    }

    #[test]
    fn vault_files_by_ansible_vault_are_decrypted_and_masked() {
        crate::vault::set_fixture_secrets();
        for name in ["vars_1_1.yml", "vars_1_2_prod.yml"] {
            let file = load_file(&vault_fixture(name)).unwrap();
            assert_eq!(
                file.root.get("db_password").and_then(Node::as_str),
                Some("hunter2-from-ansible")
            );
        }
        assert_eq!(
            crate::vault::redact("hunter2-from-ansible key-one-secret 5432 second secret line"),
            "******** ******** ******** ********"
        );
    }

    #[test]
    fn bad_vault_values_point_at_the_value() {
        crate::vault::set_fixture_secrets();
        let error = parse_str(
            "a: 1\nsecret: !vault |\n  not encrypted\n",
            Path::new("bad.yml"),
        )
        .unwrap_err();
        assert_eq!(
            error.message,
            "the `!vault` value of `secret` in `bad.yml` is tagged `!vault` but does not start with `$ANSIBLE_VAULT`"
        );
        // A block scalar's position is its first content line.
        assert_eq!(error.location.as_ref().map(|l| l.line), Some(3));
        let error = parse_str("secret: !vault {a: 1}\n", Path::new("map.yml")).unwrap_err();
        assert_eq!(
            error.message,
            "the `!vault` value of `secret` in `map.yml` is a mapping, not a string"
        );
        let wrong = std::fs::read_to_string(vault_fixture("kat_1_1.txt")).unwrap();
        let text = format!(
            "k: !vault |\n  {}\n",
            wrong.trim_end().replace('\n', "\n  ")
        );
        let error = parse_str(&text, Path::new("wrong.yml")).unwrap_err();
        assert_eq!(
            error.message,
            "the `!vault` value of `k` in `wrong.yml` cannot be decrypted: wrong vault password (tried vault ids `default`, `prod`)"
        );
        assert!(error.hint.is_some());
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let error = parse_str("a: 1\na: 2\n", Path::new("dup.yml")).unwrap_err();
        assert!(error.message.contains("duplicate"), "{}", error.message);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
            ..Default::default()
        })]

        /// Whatever a playbook file holds, loading gives a tree or a located error.
        #[test]
        fn yaml_loading_never_panics(input in proptest::prop_oneof![
            proptest::prelude::any::<String>(),
            "([-:{}\\[\\],&*!|>'\"#%@ \n\ta-z0-9<]){0,200}",
        ]) {
            let _ = parse_str(&input, Path::new("fuzz.yml"));
        }

        /// `-e` words never panic either.
        #[test]
        fn extra_vars_never_panic(input in "[ -~]{0,80}") {
            let _ = crate::extra_vars::parse_all(&[input]);
        }
    }
}
