//! Template text as Ansible prepares it before Jinja2 sees it: the `#jinja2:` header of a
//! template file, collection-qualified names (`x | ansible.builtin.comment`), and the doubled
//! backslashes of templates that come from YAML.
//!
//! Every render and evaluation goes through [`prepare`], so a name or an escape means the same
//! in a task argument, a `when:` and a template file. Line numbers never change: only
//! characters inside a line are removed or added.
//!
//! One more rewrite makes Ansible's chained undefined: `d.missing.x | default('z')` and
//! `d['a'][4] is defined` do not fail in Ansible when `d.missing` is undefined (its
//! `AnsibleUndefined` answers every attribute with itself), while minijinja's strict mode,
//! which converge keeps so that an unguarded undefined still fails, does. A chain of
//! attribute and index accesses guarded by `default`/`d` or an `is defined` test becomes
//! [`CHAIN`]`(d, 'missing', 'x')`, which yields undefined at the first missing step.

use std::borrow::Cow;

/// Collection prefixes whose filters, tests and lookups converge provides under the bare name.
const COLLECTIONS: &[&str] = &[
    "ansible.builtin.",
    "ansible.utils.",
    "ansible.netcommon.",
    "ansible.posix.",
    "community.general.",
];

/// The function a guarded access chain is rewritten to (see the module's documentation).
pub(super) const CHAIN: &str = "__converge_chain";

/// Jinja2's delimiters, changeable by the `#jinja2:` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Delimiters {
    pub block_start: String,
    pub block_end: String,
    pub variable_start: String,
    pub variable_end: String,
    pub comment_start: String,
    pub comment_end: String,
}

impl Default for Delimiters {
    fn default() -> Self {
        Delimiters {
            block_start: "{%".into(),
            block_end: "%}".into(),
            variable_start: "{{".into(),
            variable_end: "}}".into(),
            comment_start: "{#".into(),
            comment_end: "#}".into(),
        }
    }
}

/// Everything Ansible's `TemplateOverrides` carries: the `#jinja2:` header and the template
/// module's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Overrides {
    pub trim_blocks: bool,
    pub lstrip_blocks: bool,
    pub keep_trailing_newline: bool,
    pub newline_sequence: String,
    pub delimiters: Delimiters,
}

impl Default for Overrides {
    fn default() -> Self {
        Overrides {
            trim_blocks: true,
            lstrip_blocks: false,
            keep_trailing_newline: false,
            newline_sequence: "\n".into(),
            delimiters: Delimiters::default(),
        }
    }
}

/// The first-line marker of Ansible's template overrides.
pub(super) const HEADER: &str = "#jinja2:";

/// Split a `#jinja2: key: value, ...` first line off `source` and apply it to `overrides`,
/// as Ansible's `_extract_template_overrides` does (values are Python literals).
pub(super) fn split_header<'a>(
    source: &'a str,
    overrides: &mut Overrides,
) -> Result<&'a str, String> {
    let Some(rest) = source.strip_prefix(HEADER) else {
        return Ok(source);
    };
    let Some(eol) = rest.find('\n') else {
        return Err(format!("missing newline after `{HEADER}` override"));
    };
    let line = rest[..eol].trim_end_matches('\r');
    for pair in line.split(',') {
        if pair.trim().is_empty() {
            return Err(format!("empty `{HEADER}` override pair not allowed"));
        }
        let Some((key, value)) = pair.split_once(':') else {
            return Err(format!(
                "missing key-value separator `:` in `{HEADER}` override pair `{pair}`"
            ));
        };
        let key = key.trim();
        let value = value.trim();
        let flag = || match value {
            "True" => Ok(true),
            "False" => Ok(false),
            other => Err(format!(
                "`{HEADER}` override `{key}` must be True or False, not `{other}`"
            )),
        };
        let text = || {
            python_string(value).ok_or_else(|| {
                format!("`{HEADER}` override `{key}` must be a quoted string, not `{value}`")
            })
        };
        let d = &mut overrides.delimiters;
        match key {
            "trim_blocks" => overrides.trim_blocks = flag()?,
            "lstrip_blocks" => overrides.lstrip_blocks = flag()?,
            "keep_trailing_newline" => overrides.keep_trailing_newline = flag()?,
            "newline_sequence" => overrides.newline_sequence = text()?,
            "block_start_string" => d.block_start = text()?,
            "block_end_string" => d.block_end = text()?,
            "variable_start_string" => d.variable_start = text()?,
            "variable_end_string" => d.variable_end = text()?,
            "comment_start_string" => d.comment_start = text()?,
            "comment_end_string" => d.comment_end = text()?,
            other => return Err(format!("invalid `{HEADER}` override key `{other}`")),
        }
    }
    if !["\n", "\r\n", "\r"].contains(&overrides.newline_sequence.as_str()) {
        return Err(format!(
            "newline_sequence must be '\\n', '\\r\\n' or '\\r', not {:?}",
            overrides.newline_sequence
        ));
    }
    Ok(&rest[eol + 1..])
}

/// A Python string literal (`'x'` or `"x"`, with `\n`-style escapes).
fn python_string(literal: &str) -> Option<String> {
    let quote = literal.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = literal.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next()? {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            other => out.push(other),
        }
    }
    Some(out)
}

/// Map collection-qualified names to converge's names outside string literals, and (for
/// templates from YAML, `escape_backslashes`) double the backslashes in the string literals of
/// `{{ }}` expressions, as Ansible does so that `'\1'` reaches a filter as backslash-one.
pub(super) fn prepare<'a>(
    source: &'a str,
    delimiters: &Delimiters,
    escape_backslashes: bool,
) -> Cow<'a, str> {
    let qualified = COLLECTIONS.iter().any(|prefix| source.contains(prefix));
    if !(qualified || escape_backslashes && source.contains('\\') || has_guard(source)) {
        return Cow::Borrowed(source);
    }
    let mut out = String::with_capacity(source.len() + 8);
    let mut rest = source;
    loop {
        let next = [
            &delimiters.variable_start,
            &delimiters.block_start,
            &delimiters.comment_start,
        ]
        .iter()
        .filter_map(|d| rest.find(d.as_str()).map(|at| (at, d.as_str())))
        .min_by_key(|(at, d)| (*at, usize::MAX - d.len()));
        let Some((at, start)) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..at + start.len()]);
        rest = &rest[at + start.len()..];
        if start == delimiters.comment_start {
            let end = rest
                .find(delimiters.comment_end.as_str())
                .map_or(rest.len(), |e| e + delimiters.comment_end.len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let is_variable = start == delimiters.variable_start;
        let end_delimiter = if is_variable {
            &delimiters.variable_end
        } else {
            &delimiters.block_end
        };
        if !is_variable && is_raw(rest) {
            let end = raw_end(rest, delimiters).unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            rest = &rest[end..];
            continue;
        }
        let used = code(
            rest,
            Some(end_delimiter),
            is_variable && escape_backslashes,
            &mut out,
        );
        rest = &rest[used..];
    }
    Cow::Owned(out)
}

/// [`prepare`] for a bare expression (`when:`), which is code from start to end.
pub(super) fn prepare_expression(expression: &str, escape_backslashes: bool) -> Cow<'_, str> {
    let qualified = COLLECTIONS.iter().any(|prefix| expression.contains(prefix));
    if !(qualified || escape_backslashes && expression.contains('\\') || has_guard(expression)) {
        return Cow::Borrowed(expression);
    }
    let mut out = String::with_capacity(expression.len() + 8);
    code(expression, None, escape_backslashes, &mut out);
    Cow::Owned(out)
}

fn is_raw(block: &str) -> bool {
    let inner = block.trim_start_matches(['-', '+']).trim_start();
    inner
        .strip_prefix("raw")
        .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
}

/// Where the text after `{% raw %}` continues past its `{% endraw %}`.
fn raw_end(text: &str, delimiters: &Delimiters) -> Option<usize> {
    let mut offset = 0;
    loop {
        let at = text[offset..].find(delimiters.block_start.as_str())? + offset;
        let inner_start = at + delimiters.block_start.len();
        let inner = text[inner_start..]
            .trim_start_matches(['-', '+'])
            .trim_start();
        if inner.starts_with("endraw") {
            let end = text[inner_start..].find(delimiters.block_end.as_str())? + inner_start;
            return Some(end + delimiters.block_end.len());
        }
        offset = inner_start;
    }
}

/// Copy code up to and including `end` (or all of it), rewriting as [`prepare`] says; returns
/// the bytes of `text` consumed.
fn code(text: &str, end: Option<&str>, escape_backslashes: bool, out: &mut String) -> usize {
    let mut quote: Option<char> = None;
    let mut i = 0;
    let bytes = text.as_bytes();
    while i < text.len() {
        let c = text[i..].chars().next().unwrap_or(' ');
        if let Some(q) = quote {
            if c == '\\' {
                // A backslash and the character it escapes are one unit, as in Jinja's lexer.
                let next = text[i + 1..].chars().next();
                i += 1 + next.map_or(0, char::len_utf8);
                if !escape_backslashes {
                    out.push('\\');
                    out.extend(next);
                    continue;
                }
                // Ansible doubles every backslash of the literal, so its value is the raw text
                // between the quotes: spell that raw text for minijinja.
                out.push_str("\\\\");
                match next {
                    Some('\\') => out.push_str("\\\\"),
                    Some(n) if n == q => {
                        out.push('\\');
                        out.push(n);
                    }
                    Some(n) => out.push(n),
                    None => {}
                }
                continue;
            }
            if c == q {
                quote = None;
            }
            out.push(c);
            i += c.len_utf8();
            continue;
        }
        if let Some(end) = end {
            if text[i..].starts_with(end) {
                out.push_str(end);
                return i + end.len();
            }
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let boundary = i == 0 || {
                let prev = bytes[i - 1];
                !(prev.is_ascii_alphanumeric() || prev == b'_' || prev == b'.')
            };
            if boundary {
                if let Some(used) = guarded_chain(&text[i..], escape_backslashes, out) {
                    i += used;
                    continue;
                }
            }
            if boundary {
                if let Some(prefix) = COLLECTIONS.iter().find(|p| {
                    text[i..].starts_with(**p)
                        && text[i + p.len()..].starts_with(|c: char| c.is_alphabetic() || c == '_')
                }) {
                    i += prefix.len();
                    continue;
                }
            }
        }
        out.push(c);
        i += c.len_utf8();
    }
    text.len()
}

/// Whether `text` has a guard a chain may stand before (a cheap test before any rewriting).
fn has_guard(text: &str) -> bool {
    (text.contains("default")
        || text.contains("| d(")
        || text.contains("|d(")
        || text.contains("defined"))
        && (text.contains('.') || text.contains('['))
}

/// At the start of an identifier: if an access chain (`name.attr[index]...`, at least one
/// access) followed by a `default`/`d` filter or an `is [not] defined/undefined` test starts
/// here, write it as a [`CHAIN`] call and return the bytes of `text` it used.
fn guarded_chain(text: &str, escape_backslashes: bool, out: &mut String) -> Option<usize> {
    let ident_len = |s: &str| {
        s.char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
            .map_or(s.len(), |(at, _)| at)
    };
    let base_len = ident_len(text);
    let base = &text[..base_len];
    if matches!(
        base,
        "not"
            | "and"
            | "or"
            | "in"
            | "is"
            | "if"
            | "else"
            | "true"
            | "false"
            | "none"
            | "True"
            | "False"
            | "None"
            | "loop"
            | "super"
            | "self"
            | "varargs"
            | "kwargs"
    ) {
        return None;
    }
    let mut keys: Vec<String> = Vec::new();
    let mut at = base_len;
    loop {
        let rest = &text[at..];
        if let Some(after) = rest.strip_prefix('.') {
            let len = ident_len(after);
            if len == 0 {
                break;
            }
            let name = &after[..len];
            // `item.0` is Jinja's item 0 when there is no attribute `0`.
            if name.bytes().all(|b| b.is_ascii_digit()) {
                keys.push(name.to_string());
            } else if name.starts_with(|c: char| c.is_ascii_digit()) {
                break;
            } else {
                keys.push(format!("'{name}'"));
            }
            at += 1 + len;
        } else if rest.starts_with('[') {
            let close = matching_bracket(rest)?;
            let inner = &rest[1..close];
            // A slice is no lookup.
            if inner.contains(':') && !inner.contains(['\'', '"']) {
                return None;
            }
            let mut key = String::new();
            code(inner, None, escape_backslashes, &mut key);
            keys.push(key.trim().to_string());
            at += close + 1;
        } else {
            break;
        }
    }
    if keys.is_empty() {
        return None;
    }
    let after = text[at..].trim_start();
    let guarded = if let Some(filter) = after.strip_prefix('|') {
        let filter = filter.trim_start();
        let name_len = ident_len(filter);
        matches!(&filter[..name_len], "default" | "d")
            && filter[name_len..].trim_start().starts_with('(')
    } else if let Some(test) = after.strip_prefix("is") {
        let test = test.trim_start();
        let test = test.strip_prefix("not").map_or(test, str::trim_start);
        let name_len = ident_len(test);
        test.len() < after.len() && matches!(&test[..name_len], "defined" | "undefined")
    } else {
        false
    };
    if !guarded {
        return None;
    }
    out.push_str(CHAIN);
    out.push('(');
    out.push_str(base);
    for key in &keys {
        out.push_str(", ");
        out.push_str(key);
    }
    out.push(')');
    Some(at)
}

/// The index of the `]` closing the `[` that `text` starts with, outside string literals.
fn matching_bracket(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '[' | '(' | '{' => depth += 1,
            ']' | ')' | '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return (c == ']').then_some(at);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prep(source: &str, escape: bool) -> String {
        prepare(source, &Delimiters::default(), escape).into_owned()
    }

    #[test]
    fn guarded_access_chains_become_chain_calls() {
        let chained = |source: &str| prepare_expression(source, false).into_owned();
        assert_eq!(
            chained("d.missing.x | default('z')"),
            "__converge_chain(d, 'missing', 'x') | default('z')"
        );
        assert_eq!(
            chained("getent[user.name][4] | d('/home')"),
            "__converge_chain(getent, user.name, 4) | d('/home')"
        );
        assert_eq!(
            chained("item.0.name is not defined"),
            "__converge_chain(item, 0, 'name') is not defined"
        );
        // Unguarded, a call, a slice, a string and a plain name stay as they are.
        for same in [
            "d.missing.x",
            "d.get('a') | default(1)",
            "d.a[0:2] | default([])",
            "'a.b' | default('x')",
            "name | default('x')",
            "d.a.b | upper",
        ] {
            assert_eq!(chained(same), same);
        }
    }

    #[test]
    fn collection_names_are_mapped_outside_strings() {
        assert_eq!(
            prep(
                "{{ x | ansible.builtin.comment('c') }} ansible.builtin.x",
                false
            ),
            "{{ x | comment('c') }} ansible.builtin.x"
        );
        assert_eq!(
            prep(
                "{% if x is ansible.builtin.match('ansible.utils.y') %}",
                false
            ),
            "{% if x is match('ansible.utils.y') %}"
        );
        assert_eq!(
            prep(
                "{# x | ansible.utils.ipaddr #}{% raw %}{{ ansible.utils.ipaddr }}{% endraw %}",
                false
            ),
            "{# x | ansible.utils.ipaddr #}{% raw %}{{ ansible.utils.ipaddr }}{% endraw %}"
        );
        assert_eq!(
            prepare_expression("x | community.general.foo and my.ansible.builtin.z", false),
            "x | foo and my.ansible.builtin.z"
        );
    }

    #[test]
    fn backslashes_are_doubled_in_expression_strings_only() {
        assert_eq!(
            prep(r"{{ 'a\1' }} \n {% set x = '\n' %}", true),
            r"{{ 'a\\1' }} \n {% set x = '\n' %}"
        );
        assert_eq!(prep(r"{{ 'a\1' }}", false), r"{{ 'a\1' }}");
        assert_eq!(prep(r#"{{ "it\"s" }}"#, false), r#"{{ "it\"s" }}"#);
        assert_eq!(prep(r#"{{ "it\"s" }}"#, true), r#"{{ "it\\\"s" }}"#);
        assert_eq!(prep(r"{{ '\\' }}", true), r"{{ '\\\\' }}");
    }

    #[test]
    fn header_overrides() {
        let mut overrides = Overrides::default();
        let rest = split_header(
            "#jinja2: trim_blocks: False, lstrip_blocks: True, variable_start_string: '[%'\nbody",
            &mut overrides,
        )
        .expect("header");
        assert_eq!(rest, "body");
        assert!(!overrides.trim_blocks && overrides.lstrip_blocks);
        assert_eq!(overrides.delimiters.variable_start, "[%");
        let err = split_header("#jinja2: nosuch: True\n", &mut Overrides::default())
            .expect_err("bad key");
        assert_eq!(err, "invalid `#jinja2:` override key `nosuch`");
    }
}
