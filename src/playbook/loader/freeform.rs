//! Free-form task arguments, split the way Ansible splits them.
//!
//! `copy: src=a.conf dest='/etc/a b.conf'` is a shell-like string of `key=value` words;
//! `command: ls -l /tmp chdir=/var` is a command line whose leading and trailing `creates=`,
//! `removes=` and `chdir=` words are arguments of the module, not of the command. Words are
//! split at unquoted whitespace, and never inside `{{ ... }}` or `{% ... %}`, because a
//! template expression often contains spaces (`msg={{ a | join(', ') }}`).

use serde_json::{Map, Value};
use std::ops::Range;

/// The words of `command:`/`shell:` that Ansible takes as module arguments.
pub const COMMAND_WORD_ARGS: &[&str] = &["creates", "removes", "chdir"];

/// Why a free-form string could not be split.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FreeFormError {
    /// A quote opened and never closed.
    #[error("unterminated quote in `{text}`")]
    UnterminatedQuote {
        /// The whole string.
        text: String,
    },
    /// A word that is not `key=value` where only those are accepted.
    #[error("`{word}` is not a `key=value` argument")]
    NotKeyValue {
        /// The word.
        word: String,
    },
}

/// The byte ranges of the words of `text`: split at whitespace outside quotes and Jinja blocks.
pub fn split_words(text: &str) -> Result<Vec<Range<usize>>, FreeFormError> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut jinja_depth = 0usize;
    let mut escaped = false;
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        if escaped {
            escaped = false;
            continue;
        }
        let next = chars.peek().map(|(_, n)| *n);
        if c.is_whitespace() && quote.is_none() && jinja_depth == 0 {
            if let Some(begin) = start.take() {
                words.push(begin..index);
            }
            continue;
        }
        start.get_or_insert(index);
        match (quote, c) {
            // Single quotes keep backslashes literally, as in a shell.
            (Some('\''), '\'') => quote = None,
            (Some('\''), _) => {}
            (_, '\\') => escaped = true,
            (Some('"'), '"') => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '{') if matches!(next, Some('{' | '%')) => {
                jinja_depth += 1;
                chars.next();
            }
            (None, '}' | '%') if jinja_depth > 0 && next == Some('}') => {
                jinja_depth -= 1;
                chars.next();
            }
            _ => {}
        }
    }
    if quote.is_some() {
        return Err(FreeFormError::UnterminatedQuote {
            text: text.to_string(),
        });
    }
    if let Some(begin) = start {
        words.push(begin..text.len());
    }
    Ok(words)
}

/// `key=value` split at the first `=`, when `word` starts with a variable-like key.
pub fn key_value(word: &str) -> Option<(&str, String)> {
    let (key, value) = word.split_once('=')?;
    is_identifier(key).then(|| (key, unquote(value)))
}

/// True for a name that can be an argument or a variable: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Remove one pair of surrounding quotes, as Ansible does for `key='value'`; inside double
/// quotes, `\"` and `\\` stand for `"` and `\`.
pub fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if value.len() >= 2 && bytes[0] == bytes[value.len() - 1] {
        let inner = &value[1..value.len() - 1];
        match bytes[0] {
            b'\'' => return inner.to_string(),
            b'"' => return inner.replace("\\\"", "\"").replace("\\\\", "\\"),
            _ => {}
        }
    }
    value.to_string()
}

/// `key=value key2='quoted value'` as a map of strings; every word must be `key=value`.
pub fn parse_key_values(text: &str) -> Result<Map<String, Value>, FreeFormError> {
    let mut args = Map::new();
    for range in split_words(text)? {
        let word = &text[range];
        let (key, value) = key_value(word).ok_or_else(|| FreeFormError::NotKeyValue {
            word: word.to_string(),
        })?;
        args.insert(key.to_string(), Value::String(value));
    }
    Ok(args)
}

/// `command:`/`shell:` text as `{"cmd": ...}` plus the leading and trailing `creates=`,
/// `removes=` and `chdir=` words. A `key=value` in the middle belongs to the command
/// (`make PREFIX=/usr install`), so only the ends are taken; the command keeps its own quoting.
pub fn parse_command(text: &str) -> Result<Map<String, Value>, FreeFormError> {
    let words = split_words(text)?;
    let as_arg = |range: &Range<usize>| {
        key_value(&text[range.clone()]).filter(|(key, _)| COMMAND_WORD_ARGS.contains(key))
    };
    let mut args = Map::new();
    let mut first = 0;
    while let Some((key, value)) = words.get(first).and_then(as_arg) {
        args.insert(key.to_string(), Value::String(value));
        first += 1;
    }
    let mut last = words.len();
    while last > first {
        match as_arg(&words[last - 1]) {
            Some((key, value)) => {
                args.insert(key.to_string(), Value::String(value));
                last -= 1;
            }
            None => break,
        }
    }
    let cmd = if first < last {
        text[words[first].start..words[last - 1].end].to_string()
    } else {
        String::new()
    };
    let mut result = Map::new();
    result.insert("cmd".into(), Value::String(cmd));
    result.extend(args);
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(text: &str) -> Vec<&str> {
        split_words(text)
            .unwrap()
            .into_iter()
            .map(|range| &text[range])
            .collect()
    }

    #[test]
    fn words_keep_quotes_and_jinja_whole() {
        assert_eq!(
            words("src=a  dest='/etc/a b' msg=\"x \\\" y\" v={{ a | join(', ') }} z"),
            [
                "src=a",
                "dest='/etc/a b'",
                "msg=\"x \\\" y\"",
                "v={{ a | join(', ') }}",
                "z"
            ]
        );
        assert_eq!(
            words("{% if a %}x{% endif %} b"),
            ["{% if a %}x{% endif %}", "b"]
        );
        assert!(words("   ").is_empty());
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        assert_eq!(
            split_words("dest='/etc/a"),
            Err(FreeFormError::UnterminatedQuote {
                text: "dest='/etc/a".into()
            })
        );
    }

    #[test]
    fn key_values_are_unquoted() {
        let args =
            parse_key_values("src=a.conf dest='/etc/a b.conf' mode=0644 msg=\"say \\\"hi\\\"\"")
                .unwrap();
        assert_eq!(
            Value::Object(args),
            json!({"src": "a.conf", "dest": "/etc/a b.conf", "mode": "0644", "msg": "say \"hi\""})
        );
    }

    #[test]
    fn a_word_without_equals_is_refused() {
        assert_eq!(
            parse_key_values("src=a /etc/b"),
            Err(FreeFormError::NotKeyValue {
                word: "/etc/b".into()
            })
        );
        // `=` after something that is not a name is not an argument either.
        assert!(parse_key_values("a-b=1").is_err());
    }

    #[test]
    fn command_takes_creates_removes_chdir_from_the_ends() {
        let args = parse_command("chdir=/src make PREFIX=/usr install creates=/usr/bin/x").unwrap();
        assert_eq!(
            Value::Object(args),
            json!({"cmd": "make PREFIX=/usr install", "chdir": "/src", "creates": "/usr/bin/x"})
        );
        let args = parse_command("echo 'a  b' removes='/tmp/x y'").unwrap();
        assert_eq!(
            Value::Object(args),
            json!({"cmd": "echo 'a  b'", "removes": "/tmp/x y"})
        );
        let args = parse_command("ls -l /tmp").unwrap();
        assert_eq!(Value::Object(args), json!({"cmd": "ls -l /tmp"}));
    }

    #[test]
    fn command_of_only_arguments_has_an_empty_cmd() {
        let args = parse_command("chdir=/tmp").unwrap();
        assert_eq!(Value::Object(args), json!({"cmd": "", "chdir": "/tmp"}));
    }
}
