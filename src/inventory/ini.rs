//! The INI inventory format (Ansible's `ini` inventory plugin):
//!
//! ```ini
//! bastion.example.org            # before any section: ungrouped
//! [web]
//! web[01:03].example.org http_port=8080 ansible_user="deploy"
//! [web:vars]
//! ntp_server=ntp.example.org
//! [prod:children]
//! web
//! ```
//!
//! Values are read as Ansible reads them (Python literals: `8080` is a number, `True` a
//! boolean, `['a', 'b']` a list, anything else a string), with two differences: lowercase
//! `true`/`false` are booleans too (as they are in YAML, so both formats agree), and a quoted
//! value on a host line stays a string (`port="22"` is the text 22).

use super::build::{Builder, UNGROUPED};
use super::checks::check_variable;
use super::error::InventoryError;
use super::range::parse_host_pattern;
use crate::diagnostic::{Diagnostic, Location};
use converge_modules::closest;
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What the lines of the current section are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Hosts,
    Vars,
    Children,
}

/// A reference to a group no section has defined yet; an error if none does by the end.
#[derive(Debug)]
enum Pending {
    /// `[name:vars]` before `[name]`.
    Vars { at: Location },
    /// `name` listed in `[parent:children]`: (parent, where) for each mention.
    Child { parents: Vec<(usize, Location)> },
}

/// Add the groups and hosts of an INI inventory file.
pub(crate) fn parse(
    text: &str,
    path: &Arc<PathBuf>,
    builder: &mut Builder,
) -> Result<(), Diagnostic> {
    let mut group = UNGROUPED;
    let mut section = Section::Hosts;
    // BTreeMap by name would lose file order; keep the first mention's position for errors.
    let mut pending: BTreeMap<String, Pending> = BTreeMap::new();
    for (number, raw) in text.lines().enumerate() {
        let line_number = number + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with(['#', ';']) {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        let at =
            |byte: usize| Location::new(path.clone(), line_number, raw[..byte].chars().count() + 1);
        if trimmed.starts_with('[') {
            let (name, kind) = parse_header(trimmed).map_err(|error| error.at(at(indent)))?;
            section = match kind {
                None => Section::Hosts,
                Some("vars") => Section::Vars,
                Some("children") => Section::Children,
                Some(other) => {
                    let kind_at = indent + trimmed.find(':').unwrap_or(0) + 1;
                    return Err(InventoryError::IniSectionKind {
                        group: name.to_string(),
                        kind: other.to_string(),
                        suggestion: closest(other, ["vars", "children"]),
                    }
                    .at(at(kind_at)));
                }
            };
            let defined = builder.find_group(name).is_some();
            group = builder.group(name);
            if section == Section::Vars {
                if !defined && !pending.contains_key(name) {
                    pending.insert(name.to_string(), Pending::Vars { at: at(indent) });
                }
            } else {
                match pending.remove(name) {
                    Some(Pending::Child { parents }) => {
                        for (parent, location) in parents {
                            builder.add_child(parent, group, Some(location));
                        }
                    }
                    Some(Pending::Vars { .. }) | None => {}
                }
            }
            continue;
        }
        match section {
            Section::Hosts => parse_host_line(raw, &at, builder, group)?,
            Section::Vars => {
                let Some((key, value)) = trimmed.split_once('=') else {
                    return Err(InventoryError::IniSyntax {
                        reason: format!(
                            "expected `key=value` in `[{}:vars]`, found `{trimmed}`",
                            builder.groups[group].name
                        ),
                        hint: Some(
                            "each line of a `:vars` section sets one variable: `name=value`".into(),
                        ),
                    }
                    .at(at(indent)));
                };
                let key = key.trim();
                if key.is_empty() {
                    return Err(InventoryError::IniSyntax {
                        reason: format!("a variable without a name: `{trimmed}`"),
                        hint: None,
                    }
                    .at(at(indent)));
                }
                let value_text = value.trim();
                let value_at = raw.len() - raw.trim_end().len();
                let value_at = raw.len() - value_at - value_text.len();
                let value = python_value(value_text)
                    .unwrap_or_else(|| Value::String(value_text.to_string()));
                check_variable(key, &value).map_err(|error| error.at(at(value_at)))?;
                builder.set_group_var(group, key.to_string(), value);
            }
            Section::Children => {
                let name = trimmed.split_whitespace().next().unwrap_or(trimmed);
                let rest = trimmed[name.len()..].trim_start();
                if !rest.is_empty() && !rest.starts_with('#') || name.contains([':', '[', ']', '='])
                {
                    return Err(InventoryError::IniSyntax {
                        reason: format!(
                            "expected a group name in `[{}:children]`, found `{trimmed}`",
                            builder.groups[group].name
                        ),
                        hint: Some(
                            "list one child group per line; hosts go in `[group]` sections".into(),
                        ),
                    }
                    .at(at(indent)));
                }
                let location = at(indent);
                match builder.find_group(name) {
                    Some(child) => builder.add_child(group, child, Some(location)),
                    None => match pending.entry(name.to_string()).or_insert(Pending::Child {
                        parents: Vec::new(),
                    }) {
                        Pending::Child { parents } => parents.push((group, location)),
                        Pending::Vars { .. } => {}
                    },
                }
            }
        }
    }
    // Report the earliest unresolved reference.
    let first = pending.into_iter().min_by_key(|(_, p)| match p {
        Pending::Vars { at } => (at.line, at.column),
        Pending::Child { parents } => parents
            .first()
            .map(|(_, at)| (at.line, at.column))
            .unwrap_or((0, 0)),
    });
    if let Some((name, unresolved)) = first {
        let suggestion = closest(&name, builder.group_names().filter(|group| *group != name))
            .map(str::to_string);
        return Err(match unresolved {
            Pending::Vars { at } => InventoryError::IniVarsForUndefinedGroup {
                group: name,
                suggestion,
            }
            .at(at),
            Pending::Child { mut parents } => {
                let (parent, at) = parents.remove(0);
                InventoryError::IniUndefinedChild {
                    child: name,
                    parent: builder.groups[parent].name.clone(),
                    suggestion,
                }
                .at(at)
            }
        });
    }
    Ok(())
}

/// `[name]` or `[name:kind]`, optionally followed by a comment.
fn parse_header(line: &str) -> Result<(&str, Option<&str>), InventoryError> {
    let bad = || InventoryError::IniSyntax {
        reason: format!("`{line}` is not a section header"),
        hint: Some(
            "section headers look like `[web]`, `[web:vars]` or `[web:children]`, without spaces"
                .into(),
        ),
    };
    let close = line.find(']').ok_or_else(bad)?;
    let rest = line[close + 1..].trim_start();
    if !rest.is_empty() && !rest.starts_with('#') {
        return Err(bad());
    }
    let inside = &line[1..close];
    let (name, kind) = match inside.split_once(':') {
        Some((name, kind)) => (name, Some(kind)),
        None => (inside, None),
    };
    let name_ok = !name.is_empty() && !name.contains(|c: char| c.is_whitespace() || c == '[');
    let kind_ok = match kind {
        None => true,
        Some(k) => !k.is_empty() && k.chars().all(|c| c.is_alphanumeric() || c == '_'),
    };
    if name_ok && kind_ok {
        Ok((name, kind))
    } else {
        Err(bad())
    }
}

/// One shell-like word of a host line: where it starts, its text as written, and its text with
/// quotes removed.
#[derive(Debug, PartialEq)]
struct Token {
    start: usize,
    raw: String,
    text: String,
}

/// Split a host line as Python's `shlex.split(line, comments=True)` does (Ansible uses it):
/// whitespace separates words, quotes group, `#` outside quotes ends the line.
fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        if c == '#' {
            break;
        }
        let mut text = String::new();
        let mut end = start;
        while let Some(&(index, c)) = chars.peek() {
            if c.is_whitespace() || c == '#' {
                break;
            }
            chars.next();
            end = index + c.len_utf8();
            match c {
                '\'' => loop {
                    match chars.next() {
                        Some((index, '\'')) => {
                            end = index + 1;
                            break;
                        }
                        Some((_, c)) => text.push(c),
                        None => return Err("a quote `'` is not closed".into()),
                    }
                },
                '"' => loop {
                    match chars.next() {
                        Some((index, '"')) => {
                            end = index + 1;
                            break;
                        }
                        Some((_, '\\')) => match chars.next() {
                            Some((_, c @ ('"' | '\\' | '$' | '`'))) => text.push(c),
                            Some((_, c)) => {
                                text.push('\\');
                                text.push(c);
                            }
                            None => return Err("a quote `\"` is not closed".into()),
                        },
                        Some((_, c)) => text.push(c),
                        None => return Err("a quote `\"` is not closed".into()),
                    }
                },
                '\\' => {
                    if let Some((index, c)) = chars.next() {
                        end = index + c.len_utf8();
                        text.push(c);
                    }
                }
                c => text.push(c),
            }
        }
        tokens.push(Token {
            start,
            raw: line[start..end].to_string(),
            text,
        });
    }
    Ok(tokens)
}

fn parse_host_line(
    raw: &str,
    at: &dyn Fn(usize) -> Location,
    builder: &mut Builder,
    group: usize,
) -> Result<(), Diagnostic> {
    let indent = raw.len() - raw.trim_start().len();
    let tokens = tokenize(raw)
        .map_err(|reason| InventoryError::IniSyntax { reason, hint: None }.at(at(indent)))?;
    let Some((first, rest)) = tokens.split_first() else {
        return Ok(());
    };
    if first.text.contains('=') {
        let group_name = &builder.groups[group].name;
        return Err(InventoryError::IniSyntax {
            reason: format!("`{}` is a variable, not a host", first.text),
            hint: Some(format!("set group variables under `[{group_name}:vars]`; host variables follow the host name")),
        }
        .at(at(first.start)));
    }
    let (names, port) =
        parse_host_pattern(&first.text).map_err(|error| error.at(at(first.start)))?;
    let mut vars = Map::new();
    for token in rest {
        let (Some((key, text)), Some((_, raw_value))) =
            (token.text.split_once('='), token.raw.split_once('='))
        else {
            return Err(InventoryError::IniSyntax {
                reason: format!(
                    "expected `key=value` after the host name, found `{}`",
                    token.text
                ),
                hint: Some("quote values that contain spaces: `motd=\"hello world\"`".into()),
            }
            .at(at(token.start)));
        };
        let value = host_value(raw_value, text);
        let value_at = token.start + token.raw.len() - raw_value.len();
        check_variable(key, &value).map_err(|error| error.at(at(value_at)))?;
        vars.insert(key.to_string(), value);
    }
    for name in names {
        let host = builder.add_host(&name, group);
        if let Some(port) = port {
            builder.set_host_var(host, "ansible_port".into(), Value::from(port));
        }
        for (key, value) in &vars {
            builder.set_host_var(host, key.clone(), value.clone());
        }
    }
    Ok(())
}

/// A host-line value: quoted text stays text unless it is a list or dict literal (quoting is
/// the only way to write one with spaces on a host line); unquoted text is read as a literal.
fn host_value(raw: &str, text: &str) -> Value {
    if raw.starts_with(['"', '\'']) && !text.trim_start().starts_with(['[', '{']) {
        return Value::String(text.to_string());
    }
    python_value(text).unwrap_or_else(|| Value::String(text.to_string()))
}

/// Ansible's `ast.literal_eval` of an INI value, plus lowercase `true`/`false`; `None` when the
/// text is not a literal (it is then a string).
pub(crate) fn python_value(text: &str) -> Option<Value> {
    match text {
        "true" => return Some(Value::Bool(true)),
        "false" => return Some(Value::Bool(false)),
        _ => {}
    }
    let chars: Vec<char> = text.chars().collect();
    let mut parser = Literal {
        chars: &chars,
        at: 0,
    };
    let value = parser.value()?;
    parser.skip_space();
    (parser.at == chars.len()).then_some(value)
}

/// A recursive-descent reader for the Python literals `literal_eval` accepts: numbers,
/// strings, `True`/`False`/`None`, lists, tuples and dicts.
struct Literal<'a> {
    chars: &'a [char],
    at: usize,
}

impl Literal<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.skip_space();
        match self.peek()? {
            '\'' | '"' => self.string().map(Value::String),
            '[' => self.sequence(']').map(Value::Array),
            '(' => self.sequence(')').map(Value::Array),
            '{' => self.dict(),
            c if c.is_ascii_digit() || c == '-' || c == '+' || c == '.' => self.number(),
            _ => {
                let start = self.at;
                while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    self.at += 1;
                }
                let word: String = self.chars[start..self.at].iter().collect();
                match word.as_str() {
                    "True" => Some(Value::Bool(true)),
                    "False" => Some(Value::Bool(false)),
                    "None" => Some(Value::Null),
                    _ => None,
                }
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        let quote = self.peek()?;
        self.at += 1;
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            self.at += 1;
            match c {
                c if c == quote => return Some(out),
                '\\' => {
                    let escaped = self.peek()?;
                    self.at += 1;
                    match escaped {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        '0' => out.push('\0'),
                        '\\' | '\'' | '"' => out.push(escaped),
                        // Python keeps unknown escapes as written.
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn sequence(&mut self, close: char) -> Option<Vec<Value>> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.peek()? == close {
                self.at += 1;
                return Some(items);
            }
            items.push(self.value()?);
            self.skip_space();
            match self.peek()? {
                ',' => self.at += 1,
                c if c == close => {}
                _ => return None,
            }
        }
    }

    fn dict(&mut self) -> Option<Value> {
        self.at += 1;
        let mut map = Map::new();
        loop {
            self.skip_space();
            if self.peek()? == '}' {
                self.at += 1;
                return Some(Value::Object(map));
            }
            let key = match self.value()? {
                Value::String(text) => text,
                Value::Array(_) | Value::Object(_) => return None,
                other => other.to_string(),
            };
            self.skip_space();
            if self.peek()? != ':' {
                return None;
            }
            self.at += 1;
            let value = self.value()?;
            map.insert(key, value);
            self.skip_space();
            match self.peek()? {
                ',' => self.at += 1,
                '}' => {}
                _ => return None,
            }
        }
    }

    fn number(&mut self) -> Option<Value> {
        let start = self.at;
        while let Some(c) = self.peek() {
            // A sign belongs to the number only at its start or right after an exponent `e`.
            let sign_ok = self.at == start || matches!(self.chars[self.at - 1], 'e' | 'E');
            if c.is_ascii_alphanumeric()
                || matches!(c, '.' | '_')
                || (matches!(c, '+' | '-') && sign_ok)
            {
                self.at += 1;
            } else {
                break;
            }
        }
        let text: String = self.chars[start..self.at].iter().collect();
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(&text)),
        };
        // Python allows `_` only between digits.
        if body.starts_with('_') || body.ends_with('_') || body.contains("__") {
            return None;
        }
        let clean = body.replace('_', "");
        let sign = if negative { -1 } else { 1 };
        let radix = match clean.get(..2).map(str::to_ascii_lowercase).as_deref() {
            Some("0x") => Some(16),
            Some("0o") => Some(8),
            Some("0b") => Some(2),
            _ => None,
        };
        if let Some(radix) = radix {
            return i64::from_str_radix(&clean[2..], radix)
                .ok()
                .map(|n| Value::from(sign * n));
        }
        if !clean.is_empty() && clean.chars().all(|c| c.is_ascii_digit()) {
            // Python 3 refuses `0644`: leading zeros are only allowed on zero itself.
            if clean.len() > 1 && clean.starts_with('0') && !clean.chars().all(|c| c == '0') {
                return None;
            }
            return clean.parse::<i64>().ok().map(|n| Value::from(sign * n));
        }
        let float_chars = clean
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
        if !float_chars || !clean.chars().any(|c| c.is_ascii_digit()) {
            return None;
        }
        let value: f64 = clean.parse().ok()?;
        Number::from_f64(sign as f64 * value).map(Value::Number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn literals_like_ansible() {
        assert_eq!(python_value("8080"), Some(json!(8080)));
        assert_eq!(python_value("-3"), Some(json!(-3)));
        assert_eq!(python_value("1_000"), Some(json!(1000)));
        assert_eq!(python_value("0x1f"), Some(json!(31)));
        assert_eq!(python_value("1.5"), Some(json!(1.5)));
        assert_eq!(python_value("2e3"), Some(json!(2000.0)));
        assert_eq!(python_value("True"), Some(json!(true)));
        assert_eq!(python_value("false"), Some(json!(false)));
        assert_eq!(python_value("None"), Some(json!(null)));
        assert_eq!(python_value("'text'"), Some(json!("text")));
        assert_eq!(python_value("['a', 2, [3]]"), Some(json!(["a", 2, [3]])));
        assert_eq!(
            python_value("{'a': 1, 2: 'b'}"),
            Some(json!({"a": 1, "2": "b"}))
        );
        assert_eq!(python_value("(1, 2)"), Some(json!([1, 2])));
    }

    #[test]
    fn non_literals_are_strings() {
        for text in [
            "0644",
            "yes",
            "10.0.0.1",
            "hello world",
            "",
            "1-2",
            "web01",
            "[1, 2",
            "5 # note",
        ] {
            assert_eq!(python_value(text), None, "{text}");
        }
    }

    #[test]
    fn tokenizer_quotes_and_comments() {
        let tokens = tokenize("web1 motd=\"hello world\" x='a b' # note").unwrap();
        let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, ["web1", "motd=hello world", "x=a b"]);
        assert_eq!(tokens[1].raw, "motd=\"hello world\"");
        assert_eq!(tokens[1].start, 5);
        assert_eq!(
            tokenize("web1 x=\"open").unwrap_err(),
            "a quote `\"` is not closed"
        );
    }

    #[test]
    fn host_values_keep_quoted_strings() {
        assert_eq!(host_value("22", "22"), json!(22));
        assert_eq!(host_value("\"22\"", "22"), json!("22"));
        assert_eq!(
            host_value("\"['a', 'b']\"", "['a', 'b']"),
            json!(["a", "b"])
        );
    }

    #[test]
    fn headers() {
        assert_eq!(parse_header("[web]").unwrap(), ("web", None));
        assert_eq!(
            parse_header("[web:vars]  # x").unwrap(),
            ("web", Some("vars"))
        );
        let error = parse_header("[web servers]").unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot parse inventory line: `[web servers]` is not a section header"
        );
    }
}
