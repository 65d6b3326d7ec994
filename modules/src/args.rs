//! Argument types shared by modules, accepting what Ansible users write.
//!
//! Ansible coerces `yes`/`no`/`"true"` to booleans and lets `mode` be `0644` (which YAML
//! 1.1 reads as the octal number 420) or `"0644"`; `name` may be a string or a list.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// A boolean that also accepts Ansible's strings: yes/no, true/false, on/off, 1/0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, JsonSchema, Serialize)]
#[schemars(with = "bool")]
#[serde(transparent)]
pub struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Bool(value) => Ok(Flag(value)),
            Raw::Int(0) => Ok(Flag(false)),
            Raw::Int(1) => Ok(Flag(true)),
            Raw::Int(other) => Err(serde::de::Error::custom(format!(
                "expected a boolean (yes/no, true/false), found {other}"
            ))),
            Raw::Text(text) => boolean(&text).map(Flag).ok_or_else(|| {
                serde::de::Error::custom(format!(
                    "expected a boolean (yes/no, true/false), found `{text}`"
                ))
            }),
        }
    }
}

/// Ansible's boolean spellings (`BOOLEANS_TRUE`/`BOOLEANS_FALSE`), any case:
/// yes/no, y/n, true/false, t/f, on/off, 1/0.
pub fn boolean(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "t" | "on" | "1" => Some(true),
        "no" | "n" | "false" | "f" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// Convert argument values to the types a module's schema declares, as Ansible's argument
/// spec does before a module runs: a number or boolean where a string is declared becomes
/// its text (`22` → `"22"`, `true` → `"True"`, as Python's `str`), a string where a boolean
/// is declared is read with [`boolean`], a string where a number is declared is parsed, and
/// a string where a list is declared is split on commas (a number becomes a one-item list).
/// Mappings and lists are converted item by item. A value that cannot be converted is left
/// as it is, for deserialization to reject with its own message.
///
/// `schema` is the part of `root` (a schemars schema with `$defs`) that describes `value`.
pub fn coerce_to_schema(value: &mut Value, schema: &Value, root: &Value) {
    let alternatives = alternatives(schema, root);
    if alternatives.is_empty() {
        return;
    }
    if let Some(fits) = alternatives.iter().find(|alt| accepts(alt, value)) {
        coerce_inside(value, fits, root);
        return;
    }
    for alt in &alternatives {
        if let Some(converted) = convert(value, alt) {
            *value = converted;
            coerce_inside(value, alt, root);
            return;
        }
    }
}

/// The concrete schemas `schema` allows: `$ref` resolved, `anyOf`/`oneOf` flattened, the
/// `null` of an `Option` left out. Empty means anything goes.
fn alternatives<'a>(schema: &'a Value, root: &'a Value) -> Vec<&'a Value> {
    let schema = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or(reference);
            match root.get("$defs").and_then(|defs| defs.get(name)) {
                Some(target) => target,
                None => return Vec::new(),
            }
        }
        None => schema,
    };
    let union = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array);
    match union {
        Some(options) if schema.get("type").is_none() => {
            let mut found = Vec::new();
            for option in options {
                let inner = alternatives(option, root);
                if inner.is_empty() {
                    return Vec::new();
                }
                found.extend(inner);
            }
            found
                .into_iter()
                .filter(|alt| alt.get("type") != Some(&Value::from("null")))
                .collect()
        }
        _ if schema.is_object() && schema.get("type").is_some() => vec![schema],
        _ => Vec::new(),
    }
}

fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn accepts(schema: &Value, value: &Value) -> bool {
    types(schema).iter().any(|t| match (*t, value) {
        ("string", Value::String(_))
        | ("boolean", Value::Bool(_))
        | ("number", Value::Number(_))
        | ("array", Value::Array(_))
        | ("object", Value::Object(_))
        | ("null", Value::Null) => true,
        ("integer", Value::Number(n)) => n.is_i64() || n.is_u64(),
        _ => false,
    })
}

fn convert(value: &Value, schema: &Value) -> Option<Value> {
    types(schema).iter().find_map(|t| match (*t, value) {
        ("string", Value::Number(n)) => Some(Value::String(n.to_string())),
        ("string", Value::Bool(b)) => Some(Value::String(if *b { "True" } else { "False" }.into())),
        ("boolean", Value::String(text)) => boolean(text).map(Value::Bool),
        ("boolean", Value::Number(n)) => match n.as_f64() {
            Some(1.0) => Some(Value::Bool(true)),
            Some(0.0) => Some(Value::Bool(false)),
            _ => None,
        },
        ("integer", Value::String(text)) => text.trim().parse::<i64>().ok().map(Value::from),
        ("integer", Value::Number(n)) => n
            .as_f64()
            .filter(|x| x.fract() == 0.0 && x.abs() < 9.0e15)
            .map(|x| Value::from(x as i64)),
        ("number", Value::String(text)) => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        ("array", Value::String(text)) => Some(Value::Array(
            text.split(',')
                .map(|item| Value::String(item.into()))
                .collect(),
        )),
        ("array", Value::Number(_) | Value::Bool(_)) => Some(Value::Array(vec![value.clone()])),
        _ => None,
    })
}

fn coerce_inside(value: &mut Value, schema: &Value, root: &Value) {
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|s| s.is_object());
            for (key, item) in map.iter_mut() {
                if let Some(property) = properties.and_then(|p| p.get(key)).or(additional) {
                    coerce_to_schema(item, property, root);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items").filter(|s| s.is_object()) {
                for item in items {
                    coerce_to_schema(item, item_schema, root);
                }
            }
        }
        _ => {}
    }
}

/// File permission bits as a task gives them: a number (`0644` in YAML is the octal number
/// 420; Ansible takes an integer as the bits themselves), an octal string (`"0644"`, `"644"`,
/// `"0o644"`), or a symbolic mode (`u=rwx,g=rx,o=`, `a+X`, `+t`) that changes the file's
/// current mode as `chmod` would (see [`SymbolicMode`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Absolute permission bits (at most `0o7777`).
    Bits(u32),
    /// Clauses applied to the file's current mode.
    Symbolic(SymbolicMode),
}

impl Mode {
    /// The bits, when they do not depend on the file (an octal mode).
    pub fn bits(&self) -> Option<u32> {
        match self {
            Mode::Bits(bits) => Some(*bits),
            Mode::Symbolic(_) => None,
        }
    }

    /// Whether [`Mode::resolve`] reads the umask: a symbolic clause without `u`, `g`, `o` or
    /// `a` leaves the umask's bits alone, as `chmod` does.
    pub fn uses_umask(&self) -> bool {
        matches!(self, Mode::Symbolic(symbolic) if symbolic.uses_umask())
    }

    /// The bits the path ends up with, given its current permission bits, whether it is a
    /// directory (for `X`), and the host's umask.
    pub fn resolve(&self, current: u32, is_directory: bool, umask: u32) -> u32 {
        match self {
            Mode::Bits(bits) => *bits,
            Mode::Symbolic(symbolic) => symbolic.apply(current, is_directory, umask),
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Bits(bits) => write!(f, "{bits:04o}"),
            Mode::Symbolic(symbolic) => f.write_str(&symbolic.text),
        }
    }
}

/// A value Ansible declares as a string but users often write as a number (`minute: 0`,
/// `value: 65536`): numbers and booleans are taken as their text.
#[derive(Debug, Clone, PartialEq, Eq, Default, JsonSchema, Serialize)]
#[schemars(with = "String")]
#[serde(transparent)]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Int(i64),
            Float(f64),
            Bool(bool),
        }
        Ok(Text(match Raw::deserialize(deserializer)? {
            Raw::Text(text) => text,
            Raw::Int(number) => number.to_string(),
            Raw::Float(number) => number.to_string(),
            // Python's str() of a boolean, as Ansible's string conversion gives.
            Raw::Bool(value) => if value { "True" } else { "False" }.to_string(),
        }))
    }
}

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl JsonSchema for Mode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Mode".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        // An integer is the bits themselves, so argument coercion must not turn it into text.
        schemars::json_schema!({"type": ["string", "integer"]})
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Int(bits) if (0..=0o7777).contains(&bits) => Ok(Mode::Bits(bits as u32)),
            Raw::Int(bits) => Err(serde::de::Error::custom(format!(
                "mode {bits} is out of range (an integer is the bits themselves); write it quoted in octal, e.g. \"0644\""
            ))),
            Raw::Text(text) => parse_mode(&text).map_err(serde::de::Error::custom),
        }
    }
}

/// Parse a mode given as text, as Ansible does: octal when Python's `int(text, 8)` reads it
/// (`0644`, `644`, `0o644`), otherwise symbolic.
pub fn parse_mode(text: &str) -> Result<Mode, String> {
    if let Some(bits) = octal(text) {
        return if bits <= 0o7777 {
            Ok(Mode::Bits(bits))
        } else {
            Err(format!(
                "mode `{text}` has bits beyond 07777: only permission bits are allowed"
            ))
        };
    }
    SymbolicMode::parse(text).map(Mode::Symbolic)
}

/// Python's `int(text, 8)`: surrounding blanks, an optional `0o` prefix, `_` between digits.
fn octal(text: &str) -> Option<u32> {
    let text = text.trim();
    let digits = text
        .strip_prefix("0o")
        .or_else(|| text.strip_prefix("0O"))
        .map(|rest| rest.strip_prefix('_').unwrap_or(rest))
        .unwrap_or(text);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| matches!(c, '0'..='7' | '_'))
    {
        return None;
    }
    u32::from_str_radix(&digits.replace('_', ""), 8).ok()
}

/// A symbolic mode (`u=rwx,g=rx,o=`, `a+X`, `g-w`, `+t`, `u=rw-x+X`), applied the way
/// Ansible's `_symbolic_mode_to_octal` applies it, which follows `chmod(1)`:
///
/// - clauses are separated by commas and applied left to right;
/// - each clause is `WHO` (any of `u`, `g`, `o`, or exactly `a`; empty means all three but
///   the umask's bits are left alone) and one or more `OP PERMS` (`+`, `-`, `=`);
/// - `PERMS` are `r`, `w`, `x`, `X` (x if the path is a directory or already has an x bit),
///   `s` (setuid for `u`, setgid for `g`), `t` (sticky, for `o`), or one of `u`, `g`, `o`
///   (copy that class's current bits); `=` clears the class (with its special bit) first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolicMode {
    text: String,
    clauses: Vec<Clause>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    /// Some of `u`, `g`, `o`, in the order written (`a` and empty are `ugo`).
    users: Vec<char>,
    /// No class was named: the umask's bits are not affected.
    use_umask: bool,
    /// Operator and permission letters.
    actions: Vec<(char, String)>,
}

const PERM_BITS: u32 = 0o7777;

impl SymbolicMode {
    /// Parse and check a symbolic mode; the error says which clause is wrong.
    pub fn parse(text: &str) -> Result<SymbolicMode, String> {
        let bad = |clause: &str| {
            format!(
                "mode `{text}` is neither octal (\"0644\") nor symbolic (`u=rw,g=r,o=r`): bad clause `{clause}`"
            )
        };
        let mut clauses = Vec::new();
        for clause in text.split(',') {
            // A clause without an operator (`u`, or empty) changes nothing, as in Ansible.
            let first_op = clause.find(['+', '-', '=']).unwrap_or(clause.len());
            let who = &clause[..first_op];
            let use_umask = who.is_empty();
            let users: Vec<char> = if who.is_empty() || who == "a" {
                vec!['u', 'g', 'o']
            } else if who.chars().all(|c| matches!(c, 'u' | 'g' | 'o')) {
                who.chars().collect()
            } else {
                return Err(bad(clause));
            };
            let mut actions = Vec::new();
            let rest = &clause[first_op..];
            let mut chars = rest.chars().peekable();
            while let Some(op) = chars.next() {
                let mut perms = String::new();
                while let Some(&c) = chars.peek() {
                    if matches!(c, '+' | '-' | '=') {
                        break;
                    }
                    if !"rwxXstugo".contains(c) {
                        return Err(bad(clause));
                    }
                    perms.push(c);
                    chars.next();
                }
                actions.push((op, perms));
            }
            clauses.push(Clause {
                users,
                use_umask,
                actions,
            });
        }
        Ok(SymbolicMode {
            text: text.to_string(),
            clauses,
        })
    }

    /// Whether a clause names no class, so that the umask matters.
    pub fn uses_umask(&self) -> bool {
        self.clauses.iter().any(|clause| clause.use_umask)
    }

    /// The mode after applying every clause to `current` (its permission bits).
    pub fn apply(&self, current: u32, is_directory: bool, umask: u32) -> u32 {
        let mut mode = current & PERM_BITS;
        for clause in &self.clauses {
            for (op, perms) in &clause.actions {
                for &user in &clause.users {
                    let bits = perm_bits(user, perms, mode, is_directory, clause.use_umask, umask);
                    mode = apply_op(user, *op, bits, mode);
                }
            }
        }
        mode
    }
}

/// The bits `perms` stand for in `user`'s class (Ansible's
/// `_get_octal_mode_from_symbolic_perms`); `mode` is the mode so far.
fn perm_bits(
    user: char,
    perms: &str,
    mode: u32,
    is_directory: bool,
    use_umask: bool,
    umask: u32,
) -> u32 {
    let shift = match user {
        'u' => 6,
        'g' => 3,
        _ => 0,
    };
    let allowed = if use_umask {
        !umask & PERM_BITS
    } else {
        PERM_BITS
    };
    let any_x = is_directory || mode & 0o111 != 0;
    let class = |of: char| -> u32 {
        let from = match of {
            'u' => 6,
            'g' => 3,
            _ => 0,
        };
        ((mode >> from) & 0o7) << shift
    };
    perms.chars().fold(0, |bits, perm| {
        bits | match perm {
            'r' => (0o4 << shift) & allowed,
            'w' => (0o2 << shift) & allowed,
            'x' => (0o1 << shift) & allowed,
            'X' if any_x => 0o1 << shift,
            'X' => 0,
            's' if user == 'u' => 0o4000,
            's' if user == 'g' => 0o2000,
            't' if user == 'o' => 0o1000,
            'u' | 'g' | 'o' => class(perm),
            _ => 0,
        }
    })
}

/// Ansible's `_apply_operation_to_mode`.
fn apply_op(user: char, op: char, bits: u32, mode: u32) -> u32 {
    match op {
        '=' => {
            let mask = match user {
                'u' => 0o4700,
                'g' => 0o2070,
                _ => 0o1007,
            };
            (mode & (mask ^ PERM_BITS)) | bits
        }
        '+' => mode | bits,
        _ => mode & !bits,
    }
}

/// A list that may be written as one string (`name: vim`) or as a list; a string with commas
/// is split, as Ansible does for package names.
#[derive(Debug, Clone, PartialEq, Eq, Default, JsonSchema, Serialize)]
#[schemars(with = "Vec<String>")]
#[serde(transparent)]
pub struct StringList(pub Vec<String>);

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        Ok(StringList(match Raw::deserialize(deserializer)? {
            Raw::One(text) => text
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_string)
                .collect(),
            Raw::Many(items) => items,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(v: serde_json::Value) -> Result<Mode, String> {
        serde_json::from_value::<Mode>(v).map_err(|e| e.to_string())
    }

    #[test]
    fn mode_accepts_octal_number_string_and_symbolic() {
        assert_eq!(mode(serde_json::json!(420)).unwrap(), Mode::Bits(0o644));
        // An integer is the bits themselves, as in Ansible: unquoted decimal 644 is 0o1204.
        assert_eq!(mode(serde_json::json!(644)).unwrap(), Mode::Bits(0o1204));
        assert_eq!(mode(serde_json::json!("0644")).unwrap(), Mode::Bits(0o644));
        assert_eq!(mode(serde_json::json!("755")).unwrap(), Mode::Bits(0o755));
        assert_eq!(mode(serde_json::json!("0o750")).unwrap(), Mode::Bits(0o750));
        assert_eq!(
            mode(serde_json::json!(" 0640 ")).unwrap(),
            Mode::Bits(0o640)
        );
        assert_eq!(
            mode(serde_json::json!("04755")).unwrap(),
            Mode::Bits(0o4755)
        );
        let symbolic = mode(serde_json::json!("u=rw,g=r,o=")).unwrap();
        assert_eq!(symbolic.bits(), None);
        assert_eq!(symbolic.resolve(0o777, false, 0o022), 0o640);
        assert_eq!(symbolic.to_string(), "u=rw,g=r,o=");
    }

    #[test]
    fn mode_rejects_what_ansible_rejects() {
        for bad in ["0999", "rw", "ua+x", "u+q", "u=rwxz", "x=r", "8", "0o"] {
            let error = mode(serde_json::json!(bad)).unwrap_err();
            assert!(error.contains("neither octal"), "{bad}: {error}");
        }
        assert!(mode(serde_json::json!("017777"))
            .unwrap_err()
            .contains("beyond 07777"));
        assert!(mode(serde_json::json!(0o10000))
            .unwrap_err()
            .contains("out of range"));
        assert!(mode(serde_json::json!(-1))
            .unwrap_err()
            .contains("out of range"));
    }

    /// (mode, current bits, is a directory, umask, result): every row computed by
    /// ansible-core 2.19's `AnsibleModule._symbolic_mode_to_octal`.
    const ANSIBLE_SYMBOLIC: &[(&str, u32, bool, u32, u32)] = &[
        ("u=rwx,g=rx,o=", 0o644, false, 0o022, 0o750),
        ("u+x", 0o644, false, 0o022, 0o744),
        ("+t", 0o755, true, 0o022, 0o1755),
        ("a+X", 0o644, false, 0o022, 0o644),
        ("a+X", 0o644, true, 0o022, 0o755),
        ("a+X", 0o744, false, 0o022, 0o755),
        ("g-w", 0o664, false, 0o022, 0o644),
        ("o=r", 0o600, false, 0o022, 0o604),
        ("u=rwx,go=rx", 0o600, false, 0o022, 0o755),
        ("=", 0o4755, false, 0o022, 0o0),
        ("+x", 0o644, false, 0o022, 0o755),
        ("=r", 0o777, false, 0o022, 0o444),
        ("u=rw-x+X", 0o755, false, 0o022, 0o755),
        ("g=u", 0o640, false, 0o022, 0o660),
        ("o=g", 0o750, false, 0o022, 0o755),
        ("u+s", 0o755, false, 0o022, 0o4755),
        ("g+s", 0o755, true, 0o022, 0o2755),
        ("+s", 0o755, false, 0o022, 0o6755),
        ("o+t", 0o755, true, 0o022, 0o1755),
        ("u-s", 0o4755, false, 0o022, 0o755),
        ("u=rwx", 0o4755, false, 0o022, 0o755),
        ("go-rwx", 0o777, false, 0o022, 0o700),
        ("a=", 0o7777, false, 0o022, 0o0),
        ("u=g", 0o70, false, 0o022, 0o770),
        ("ug=rw,o=", 0o777, false, 0o022, 0o660),
        ("a-x,u+x", 0o777, false, 0o022, 0o766),
        ("-w", 0o666, false, 0o022, 0o466),
        ("g+X", 0o600, false, 0o022, 0o600),
        ("u=r,u+w,u-r", 0o0, false, 0o022, 0o200),
        ("", 0o640, false, 0o022, 0o640),
        ("u", 0o640, false, 0o022, 0o640),
        ("u+x,", 0o640, false, 0o022, 0o740),
        ("o=u", 0o640, false, 0o022, 0o646),
        ("g=o", 0o647, false, 0o022, 0o677),
        ("=rw", 0o0, false, 0o022, 0o644),
        ("a=rwx", 0o0, false, 0o022, 0o777),
        ("u=rwx,g=rx,o=", 0o644, false, 0o077, 0o750),
        ("u+x", 0o644, false, 0o077, 0o744),
        ("+t", 0o755, true, 0o077, 0o1755),
        ("a+X", 0o644, false, 0o077, 0o644),
        ("a+X", 0o644, true, 0o077, 0o755),
        ("a+X", 0o744, false, 0o077, 0o755),
        ("g-w", 0o664, false, 0o077, 0o644),
        ("o=r", 0o600, false, 0o077, 0o604),
        ("u=rwx,go=rx", 0o600, false, 0o077, 0o755),
        ("=", 0o4755, false, 0o077, 0o0),
        ("+x", 0o644, false, 0o077, 0o744),
        ("=r", 0o777, false, 0o077, 0o400),
        ("u=rw-x+X", 0o755, false, 0o077, 0o755),
        ("g=u", 0o640, false, 0o077, 0o660),
        ("o=g", 0o750, false, 0o077, 0o755),
        ("u+s", 0o755, false, 0o077, 0o4755),
        ("g+s", 0o755, true, 0o077, 0o2755),
        ("+s", 0o755, false, 0o077, 0o6755),
        ("o+t", 0o755, true, 0o077, 0o1755),
        ("u-s", 0o4755, false, 0o077, 0o755),
        ("u=rwx", 0o4755, false, 0o077, 0o755),
        ("go-rwx", 0o777, false, 0o077, 0o700),
        ("a=", 0o7777, false, 0o077, 0o0),
        ("u=g", 0o70, false, 0o077, 0o770),
        ("ug=rw,o=", 0o777, false, 0o077, 0o660),
        ("a-x,u+x", 0o777, false, 0o077, 0o766),
        ("-w", 0o666, false, 0o077, 0o466),
        ("g+X", 0o600, false, 0o077, 0o600),
        ("u=r,u+w,u-r", 0o0, false, 0o077, 0o200),
        ("", 0o640, false, 0o077, 0o640),
        ("u", 0o640, false, 0o077, 0o640),
        ("u+x,", 0o640, false, 0o077, 0o740),
        ("o=u", 0o640, false, 0o077, 0o646),
        ("g=o", 0o647, false, 0o077, 0o677),
        ("=rw", 0o0, false, 0o077, 0o600),
        ("a=rwx", 0o0, false, 0o077, 0o777),
    ];

    #[test]
    fn symbolic_modes_give_what_ansible_computes() {
        for &(text, current, directory, umask, expected) in ANSIBLE_SYMBOLIC {
            let parsed = SymbolicMode::parse(text).unwrap();
            assert_eq!(
                parsed.apply(current, directory, umask),
                expected,
                "{text} on {current:o} (dir: {directory}, umask {umask:03o})"
            );
        }
    }

    #[test]
    fn only_clauses_without_a_class_use_the_umask() {
        assert!(parse_mode("+x").unwrap().uses_umask());
        assert!(parse_mode("u+x,=r").unwrap().uses_umask());
        assert!(!parse_mode("a+x").unwrap().uses_umask());
        assert!(!parse_mode("u=rwx,go=rx").unwrap().uses_umask());
        assert!(!parse_mode("0644").unwrap().uses_umask());
    }

    #[test]
    fn coercion_follows_refs_unions_and_nesting() {
        let root = serde_json::json!({
            "type": "object",
            "properties": {
                "port": {"type": ["string", "null"]},
                "count": {"type": "integer"},
                "ratio": {"type": "number"},
                "on": {"type": "boolean"},
                "names": {"type": "array", "items": {"type": "string"}},
                "inner": {"anyOf": [{"$ref": "#/$defs/Inner"}, {"type": "null"}]},
                "env": {"type": "object", "additionalProperties": {"type": "string"}},
                "anything": true,
                "mode": {"type": ["string", "integer"]}
            },
            "$defs": {"Inner": {"type": "object", "properties": {"n": {"type": "string"}}}}
        });
        let mut value = serde_json::json!({
            "port": 22, "count": "7", "ratio": "0.5", "on": "yes", "names": "a,b,,c",
            "inner": {"n": 3}, "env": {"A": 1, "B": false}, "anything": 5, "mode": 420,
            "unknown": 1
        });
        coerce_to_schema(&mut value, &root, &root);
        assert_eq!(
            value,
            serde_json::json!({
                "port": "22", "count": 7, "ratio": 0.5, "on": true,
                "names": ["a", "b", "", "c"], "inner": {"n": "3"},
                "env": {"A": "1", "B": "False"}, "anything": 5, "mode": 420, "unknown": 1
            })
        );
        // What cannot be converted is left for deserialization to reject.
        let mut bad = serde_json::json!({"count": "many", "on": "maybe", "port": [1]});
        coerce_to_schema(&mut bad, &root, &root);
        assert_eq!(
            bad,
            serde_json::json!({"count": "many", "on": "maybe", "port": [1]})
        );
    }

    #[test]
    fn flag_accepts_ansible_spellings() {
        let from = |v: serde_json::Value| serde_json::from_value::<Flag>(v).map(|f| f.0);
        assert!(from(serde_json::json!("yes")).unwrap());
        assert!(!from(serde_json::json!("off")).unwrap());
        assert!(from(serde_json::json!(true)).unwrap());
        assert!(from(serde_json::json!("maybe")).is_err());
    }
}
