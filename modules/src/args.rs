//! Argument types shared by modules, accepting what Ansible users write.
//!
//! Ansible coerces `yes`/`no`/`"true"` to booleans and lets `mode` be `0644` (which YAML
//! 1.1 reads as the octal number 420) or `"0644"`; `name` may be a string or a list.

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

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
            Raw::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
                "yes" | "y" | "true" | "on" | "1" => Ok(Flag(true)),
                "no" | "n" | "false" | "off" | "0" => Ok(Flag(false)),
                _ => Err(serde::de::Error::custom(format!(
                    "expected a boolean (yes/no, true/false), found `{text}`"
                ))),
            },
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

/// File permission bits: `0644` (YAML octal), `"0644"`, `"644"` or `"u=rw,g=r,o=r"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(with = "String")]
pub struct Mode(pub u32);

impl Serialize for Mode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{:04o}", self.0))
    }
}

impl<'de> Deserialize<'de> for Mode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u32),
            Text(String),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Int(bits) if bits <= 0o7777 => Ok(Mode(bits)),
            Raw::Int(bits) => Err(serde::de::Error::custom(format!(
                "mode {bits} is out of range; write it quoted in octal, e.g. \"0644\""
            ))),
            Raw::Text(text) => parse_mode(&text)
                .map(Mode)
                .map_err(serde::de::Error::custom),
        }
    }
}

/// Parse an octal (`0644`, `644`) or symbolic (`u=rw,g=r,o=`) mode.
pub fn parse_mode(text: &str) -> Result<u32, String> {
    let text = text.trim();
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        return u32::from_str_radix(text, 8)
            .ok()
            .filter(|bits| *bits <= 0o7777)
            .ok_or_else(|| format!("`{text}` is not an octal mode like 0644"));
    }
    let mut bits = 0u32;
    for clause in text.split(',') {
        let (who, perms) = clause.split_once('=').ok_or_else(|| {
            format!("`{text}` is not a mode: use octal (\"0644\") or `u=rw,g=r,o=r`")
        })?;
        let mut value = 0u32;
        for c in perms.chars() {
            value |= match c {
                'r' => 4,
                'w' => 2,
                'x' => 1,
                _ => return Err(format!("`{c}` in mode `{text}` is not one of r, w, x")),
            };
        }
        for w in if who.is_empty() {
            "ugo".chars().collect::<Vec<_>>()
        } else {
            who.chars().collect()
        } {
            bits |= match w {
                'u' => value << 6,
                'g' => value << 3,
                'o' => value,
                'a' => value * 0o111,
                _ => return Err(format!("`{w}` in mode `{text}` is not one of u, g, o, a")),
            };
        }
    }
    Ok(bits)
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

    #[test]
    fn mode_accepts_octal_number_string_and_symbolic() {
        let from = |v: serde_json::Value| serde_json::from_value::<Mode>(v).map(|m| m.0);
        assert_eq!(from(serde_json::json!(420)).unwrap(), 0o644);
        assert_eq!(from(serde_json::json!("0644")).unwrap(), 0o644);
        assert_eq!(from(serde_json::json!("755")).unwrap(), 0o755);
        assert_eq!(from(serde_json::json!("u=rw,g=r,o=")).unwrap(), 0o640);
        assert!(from(serde_json::json!("0999")).is_err());
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
