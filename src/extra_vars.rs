//! `-e`: `key=value` words, an inline YAML/JSON mapping, or `@file.yml`.

use crate::diagnostic::Diagnostic;
use crate::yaml;
use serde_json::{Map, Value};
use std::path::Path;

/// Parse every `-e` argument, later ones winning.
pub fn parse_all(arguments: &[String]) -> Result<Map<String, Value>, Diagnostic> {
    let mut vars = Map::new();
    for argument in arguments {
        for (key, value) in parse_one(argument)? {
            vars.insert(key, value);
        }
    }
    Ok(vars)
}

fn parse_one(argument: &str) -> Result<Map<String, Value>, Diagnostic> {
    let trimmed = argument.trim();
    if let Some(file) = trimmed.strip_prefix('@') {
        let loaded = yaml::load_file(Path::new(file))?;
        return match loaded.root.to_value() {
            Value::Object(map) => Ok(map),
            Value::Null => Ok(Map::new()),
            _ => Err(Diagnostic::error(format!(
                "extra-vars file `{file}` must hold a mapping, not {}",
                loaded.root.kind()
            ))
            .at(loaded.location(&loaded.root))),
        };
    }
    if trimmed.starts_with('{') {
        let parsed = yaml::parse_str(trimmed, Path::new("<-e>"))
            .map_err(|d| Diagnostic::error(format!("`-e {argument}`: {}", d.message)))?;
        return match parsed.root.to_value() {
            Value::Object(map) => Ok(map),
            _ => Err(Diagnostic::error(format!(
                "`-e {argument}` is not a mapping"
            ))),
        };
    }
    let words = split_words(trimmed)
        .ok_or_else(|| Diagnostic::error(format!("`-e {argument}` has an unclosed quote")))?;
    let mut map = Map::new();
    for word in words {
        let Some((key, value)) = word.split_once('=') else {
            return Err(Diagnostic::error(format!(
                "`-e {argument}` is not `key=value`, a YAML/JSON mapping, or `@file`"
            ))
            .with_hint("write `-e name=value`, `-e '{\"name\": 1}'` or `-e @vars.yml`"));
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Diagnostic::error(format!(
                "`{key}` in `-e {argument}` is not a valid variable name"
            )));
        }
        map.insert(key.to_string(), Value::String(value.to_string()));
    }
    Ok(map)
}

/// Split on whitespace, honouring single and double quotes; `None` for an unclosed quote.
pub fn split_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in text.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => current.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            None => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    if in_word {
        words.push(current);
    }
    Some(words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_value_words_with_quotes() {
        let vars = parse_all(&["a=1 b='two words'".into(), "a=3".into()]).unwrap();
        assert_eq!(Value::Object(vars), json!({"a": "3", "b": "two words"}));
    }

    #[test]
    fn inline_mapping_keeps_types() {
        let vars = parse_all(&["{\"n\": 2, \"on\": yes}".into()]).unwrap();
        assert_eq!(Value::Object(vars), json!({"n": 2, "on": true}));
    }

    #[test]
    fn a_bare_word_is_refused_with_a_hint() {
        let error = parse_all(&["oops".into()]).unwrap_err();
        assert_eq!(
            error.message,
            "`-e oops` is not `key=value`, a YAML/JSON mapping, or `@file`"
        );
        assert!(error.hint.is_some());
    }
}
