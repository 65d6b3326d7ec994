//! Python regular expressions, as Ansible's modules and filters use them, on top of the
//! fancy-regex crate (look-around, backreferences, named groups).
//!
//! fancy-regex already reads most of Python's syntax (`(?P<name>…)`, `(?P=name)`,
//! `(?<!#)`, `\d`); [`translate`] rewrites the few places where the two disagree:
//!
//! - `\Z` is the very end in Python, `\z` in Rust (Rust's `\Z` also allows a final newline);
//! - `$` without the `m` flag also matches before a final newline in Python;
//! - `\<` and `\>` are literal `<` and `>` in Python, word boundaries in fancy-regex;
//! - inside a character class, `[` is literal in Python and `&&`, `~~` are plain characters,
//!   where Rust reads a nested class and set operations.
//!
//! Replacement templates (`line` with `backrefs`, `regex_replace`) follow Python's
//! `match.expand`: [`expand_replacement`].

use fancy_regex::{Captures, Regex};

/// Compile a Python regular expression. The error is fancy-regex's, for a message.
pub fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(&translate(pattern)).map_err(|error| error.to_string())
}

/// The fancy-regex spelling of a Python pattern (see the module documentation).
pub fn translate(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let multiline = has_multiline_flag(pattern);
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            match chars.get(i + 1) {
                Some('Z') if !in_class => out.push_str(r"\z"),
                Some(&literal @ ('<' | '>')) => out.push(literal),
                Some(&next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            }
            i += 2;
            continue;
        }
        if in_class {
            match c {
                ']' => {
                    in_class = false;
                    out.push(']');
                }
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                // A `]` right after the opening bracket is a literal in Python.
                if chars.get(i) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
                continue;
            }
            '$' if !multiline => out.push_str(r"(?:\z|(?=\n\z))"),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// Whether an inline flag group (`(?m)`, `(?im)`) turns on multi-line mode.
fn has_multiline_flag(pattern: &str) -> bool {
    pattern.match_indices("(?").any(|(at, _)| {
        pattern[at + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphabetic())
            .any(|c| c == 'm')
    })
}

/// A group a replacement template refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Number(usize),
    Name(String),
}

/// Parse a Python replacement template: `\1`…`\99`, `\g<1>`, `\g<name>`, the escapes
/// `\n \t \r \f \v \a \b \\`; other escapes of letters are errors as in Python, other
/// characters after `\` are kept with their backslash.
fn pieces(template: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = template.chars().peekable();
    let flush = |text: &mut String, pieces: &mut Vec<Piece>| {
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(text)));
        }
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some(d) if d.is_ascii_digit() => {
                let mut number = d.to_string();
                if let Some(e) = chars.peek().copied().filter(char::is_ascii_digit) {
                    number.push(e);
                    chars.next();
                }
                flush(&mut text, &mut pieces);
                pieces.push(Piece::Number(number.parse().unwrap_or(0)));
            }
            Some('g') => {
                if chars.next() != Some('<') {
                    return Err("missing `<` after `\\g`".into());
                }
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('>') => break,
                        Some(c) => name.push(c),
                        None => return Err(format!("missing `>` after `\\g<{name}`")),
                    }
                }
                flush(&mut text, &mut pieces);
                pieces.push(match name.parse::<usize>() {
                    Ok(number) => Piece::Number(number),
                    Err(_) if !name.is_empty() => Piece::Name(name),
                    Err(_) => return Err("empty group name in `\\g<>`".into()),
                });
            }
            Some('n') => text.push('\n'),
            Some('t') => text.push('\t'),
            Some('r') => text.push('\r'),
            Some('f') => text.push('\x0c'),
            Some('v') => text.push('\x0b'),
            Some('a') => text.push('\x07'),
            Some('b') => text.push('\x08'),
            Some('\\') => text.push('\\'),
            Some(letter) if letter.is_ascii_alphabetic() => {
                return Err(format!("bad escape `\\{letter}`"))
            }
            Some(other) => {
                text.push('\\');
                text.push(other);
            }
            None => return Err("the template ends with a lone `\\`".into()),
        }
    }
    flush(&mut text, &mut pieces);
    Ok(pieces)
}

/// Check that `template` refers only to groups `regex` has (Python fails on others).
pub fn check_replacement(template: &str, regex: &Regex) -> Result<(), String> {
    let names: Vec<&str> = regex.capture_names().flatten().collect();
    for piece in pieces(template)? {
        match piece {
            Piece::Number(number) if number >= regex.captures_len() => {
                return Err(format!("invalid group reference {number}"))
            }
            Piece::Name(name) if !names.contains(&name.as_str()) => {
                return Err(format!("unknown group name `{name}`"))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Python's `match.expand(template)`: groups that did not take part in the match give
/// empty text. Fails on a malformed template or a group the match does not have.
pub fn expand_replacement(template: &str, captures: &Captures<str>) -> Result<String, String> {
    let mut out = String::new();
    for piece in pieces(template)? {
        match piece {
            Piece::Text(text) => out.push_str(&text),
            Piece::Number(number) if number < captures.len() => {
                out.push_str(captures.get(number).map_or("", |m| m.as_str()));
            }
            Piece::Number(number) => return Err(format!("invalid group reference {number}")),
            Piece::Name(name) => match captures.name(&name) {
                Some(found) => out.push_str(found.as_str()),
                None => out.push_str(""),
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(pattern: &str, text: &str) -> bool {
        compile(pattern).unwrap().is_match(text).unwrap()
    }

    #[test]
    fn look_around_backreferences_and_named_groups_work() {
        assert!(search(r"(?<!#)PermitRootLogin", "PermitRootLogin yes"));
        assert!(!search(
            r"^\s*(?<!#)PermitRootLogin",
            "#PermitRootLogin yes"
        ));
        assert!(search(r"^(?=.*ipv6)GRUB", "GRUB=ipv6"));
        assert!(!search(r"^(?!#)foo", "#foo"));
        assert!(search(r"(?P<k>\w+)=(?P=k)", "ab=ab"));
        assert!(search(r"^\d+$", "2024"));
    }

    /// Each row was checked with Python 3.11's `re.search`.
    #[test]
    fn python_semantics_where_rust_differs() {
        let rows: &[(&str, &str, bool)] = &[
            (r"a\Z", "a\n", false),
            (r"a\Z", "a", true),
            (r"a$", "a\n", true),
            (r"a$", "a\nb", false),
            (r"(?m)a$", "a\nb", true),
            (r"[a&&b]", "&", true),
            (r"[a~~b]", "~", true),
            (r"\<", "<", true),
            (r"x\>", "x>", true),
            (r"[[]", "[", true),
            (r"[]a]", "]", true),
            (r"[^]a]", "]", false),
            (r"a{", "a{", true),
            (r"{{ x }}", "{{ x }}", true),
        ];
        for &(pattern, text, expected) in rows {
            assert_eq!(search(pattern, text), expected, "{pattern} on {text:?}");
        }
    }

    #[test]
    fn expand_follows_python_match_expand() {
        let regex = compile(r"^(?P<key>\w+)=(\w+)?(x)?").unwrap();
        let captures = regex.captures("port=22").unwrap().unwrap();
        let expand = |t: &str| expand_replacement(t, &captures);
        assert_eq!(expand(r"\1 is \2").unwrap(), "port is 22");
        assert_eq!(expand(r"\g<key>:\g<2>").unwrap(), "port:22");
        assert_eq!(expand(r"[\3]").unwrap(), "[]");
        assert_eq!(expand(r"a\tb\\n\.").unwrap(), "a\tb\\n\\.");
        assert_eq!(expand(r"\g<1>0").unwrap(), "port0");
        assert!(expand(r"\9")
            .unwrap_err()
            .contains("invalid group reference"));
        assert!(expand(r"\q").unwrap_err().contains("bad escape"));
        assert!(check_replacement(r"\g<nope>", &regex).is_err());
        assert!(check_replacement(r"\4", &regex).is_err());
        assert!(check_replacement(r"\g<key> \3", &regex).is_ok());
    }
}
