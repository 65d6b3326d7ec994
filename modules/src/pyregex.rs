//! Python's `re` semantics on Rust regular expressions, for everything Ansible users write as
//! a Python regex: the `regex_*` filters and tests, and the `regexp:`/`replace:` arguments of
//! lineinfile, replace and friends.
//!
//! The pattern is translated to fancy-regex syntax (look-around and backreferences work; plain
//! patterns run on the regex crate underneath), and replacements are expanded here with
//! Python's template rules, so `\1`, `\g<1>` and `\g<name>` mean groups and `$` is an ordinary
//! character:
//!
//! ```
//! use converge_modules::pyregex::{Flags, PyRegex};
//! let re = PyRegex::new(r"(?P<key>\w+)=(\d+)", Flags::default())?;
//! assert_eq!(re.sub("a=1 b=22", r"\g<key>:\2$", 0)?.0, "a:1$ b:22$");
//! assert!(PyRegex::new(r"(?<=a)b", Flags::default())?.search("ab")?.is_some());
//! # Ok::<(), converge_modules::pyregex::PyRegexError>(())
//! ```
//!
//! Differences from Python that remain: `(?a)`/`(?L)`/`(?u)` flags are accepted and ignored
//! (matching is always Unicode-aware), and a backtracking pattern can give up on pathological
//! input (reported as [`PyRegexError::Runtime`]) where Python would run on.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Python's `re` flags that Ansible exposes (`ignorecase=`, `multiline=`) plus `re.DOTALL`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `re.IGNORECASE`.
    pub ignorecase: bool,
    /// `re.MULTILINE`: `^`/`$` match at every line.
    pub multiline: bool,
    /// `re.DOTALL`: `.` matches a newline too.
    pub dotall: bool,
}

/// Why a pattern or replacement was refused, worded like Python's `re.error` where it can be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PyRegexError {
    /// The pattern does not compile.
    #[error("invalid regular expression `{pattern}`: {reason}")]
    Pattern {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The replacement string has a bad escape or group reference.
    #[error("invalid replacement `{replacement}`: {reason}")]
    Replacement {
        /// The replacement as written.
        replacement: String,
        /// What is wrong with it, e.g. "invalid group reference 3".
        reason: String,
    },
    /// Matching gave up (backtracking limit) on this input.
    #[error("regular expression `{pattern}` could not finish matching: {reason}")]
    Runtime {
        /// The pattern as written.
        pattern: String,
        /// What the engine said.
        reason: String,
    },
}

impl PyRegexError {
    /// What is wrong, without the pattern or replacement (for messages that name the
    /// argument themselves).
    pub fn reason(&self) -> &str {
        match self {
            PyRegexError::Pattern { reason, .. }
            | PyRegexError::Replacement { reason, .. }
            | PyRegexError::Runtime { reason, .. } => reason,
        }
    }
}

/// A compiled Python regular expression.
#[derive(Debug, Clone)]
pub struct PyRegex {
    pattern: String,
    translated: String,
    regex: fancy_regex::Regex,
    names: HashMap<String, usize>,
    groups: usize,
    /// The same pattern refusing empty matches, built on first need: what Python tries where
    /// an empty match just ended (`None` for a pattern that only matches empty strings).
    not_empty: OnceLock<Option<fancy_regex::Regex>>,
}

/// One match: the span of every group (`None` where a group did not take part).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyMatch<'t> {
    text: &'t str,
    spans: Vec<Option<(usize, usize)>>,
}

impl<'t> PyMatch<'t> {
    /// Group `index` (0 is the whole match), `None` if it did not participate.
    pub fn group(&self, index: usize) -> Option<&'t str> {
        self.spans
            .get(index)
            .copied()
            .flatten()
            .map(|(start, end)| &self.text[start..end])
    }

    /// Byte offsets of group `index` (Python's `match.span(index)`), `None` if it did not
    /// participate.
    pub fn group_span(&self, index: usize) -> Option<(usize, usize)> {
        self.spans.get(index).copied().flatten()
    }

    /// Byte offsets of the whole match.
    pub fn span(&self) -> (usize, usize) {
        self.spans.first().copied().flatten().unwrap_or((0, 0))
    }

    /// The text of the whole match.
    pub fn as_str(&self) -> &'t str {
        self.group(0).unwrap_or("")
    }
}

/// One piece of a parsed replacement template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
}

/// A Python replacement template (`re.sub`'s `repl`) parsed against one regex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pieces: Vec<Piece>,
}

impl Replacement {
    /// The replacement for one match: group references expanded, unmatched groups empty.
    pub fn expand(&self, found: &PyMatch<'_>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Group(index) => out.push_str(found.group(*index).unwrap_or("")),
            }
        }
        out
    }
}

impl PyRegex {
    /// Compile a Python pattern with the given flags.
    pub fn new(pattern: &str, flags: Flags) -> Result<PyRegex, PyRegexError> {
        let translated = translate(pattern, flags);
        PyRegex::compile(pattern, translated)
    }

    fn compile(pattern: &str, translated: String) -> Result<PyRegex, PyRegexError> {
        let regex = fancy_regex::Regex::new(&translated).map_err(|err| PyRegexError::Pattern {
            pattern: pattern.to_string(),
            reason: err.to_string(),
        })?;
        let names = regex
            .capture_names()
            .enumerate()
            .filter_map(|(index, name)| name.map(|name| (name.to_string(), index)))
            .collect();
        let groups = regex.captures_len().saturating_sub(1);
        Ok(PyRegex {
            pattern: pattern.to_string(),
            translated,
            regex,
            names,
            groups,
            not_empty: OnceLock::new(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Number of capturing groups (Python's `re.compile(p).groups`).
    pub fn groups(&self) -> usize {
        self.groups
    }

    /// Index of a named group.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.names.get(name).copied()
    }

    /// The named groups and their indexes (Python's `groupindex`), in no particular order.
    pub fn group_names(&self) -> impl Iterator<Item = (&str, usize)> {
        self.names
            .iter()
            .map(|(name, index)| (name.as_str(), *index))
    }

    fn runtime(&self, err: fancy_regex::Error) -> PyRegexError {
        PyRegexError::Runtime {
            pattern: self.pattern.clone(),
            reason: err.to_string(),
        }
    }

    fn captures_at<'t>(
        &self,
        text: &'t str,
        pos: usize,
    ) -> Result<Option<PyMatch<'t>>, PyRegexError> {
        let captures = self
            .regex
            .captures_from_pos(text, pos)
            .map_err(|err| self.runtime(err))?;
        Ok(captures.map(|captures| self.to_match(text, &captures)))
    }

    fn to_match<'t>(
        &self,
        text: &'t str,
        captures: &fancy_regex::Captures<'t, str>,
    ) -> PyMatch<'t> {
        let spans = (0..=self.groups)
            .map(|i| captures.get(i).map(|m| (m.start(), m.end())))
            .collect();
        PyMatch { text, spans }
    }

    /// A non-empty match starting exactly at `pos`, if the pattern has one there.
    fn non_empty_at<'t>(
        &self,
        text: &'t str,
        pos: usize,
    ) -> Result<Option<PyMatch<'t>>, PyRegexError> {
        let not_empty = self.not_empty.get_or_init(|| {
            let mut builder = fancy_regex::RegexBuilder::new(&self.translated);
            builder.find_not_empty(true);
            builder.build().ok()
        });
        let Some(not_empty) = not_empty else {
            return Ok(None);
        };
        let input = fancy_regex::RegexInput::new(text)
            .from_pos(pos)
            .anchored(true);
        let captures = not_empty
            .captures_input(input)
            .map_err(|err| self.runtime(err))?;
        Ok(captures.map(|captures| self.to_match(text, &captures)))
    }

    /// Python's `re.search`: the first match anywhere.
    pub fn search<'t>(&self, text: &'t str) -> Result<Option<PyMatch<'t>>, PyRegexError> {
        self.captures_at(text, 0)
    }

    /// Python's `re.match`: a match that starts at the beginning of `text`.
    pub fn match_start<'t>(&self, text: &'t str) -> Result<Option<PyMatch<'t>>, PyRegexError> {
        // The leftmost match starts at 0 whenever any match can.
        Ok(self.search(text)?.filter(|m| m.span().0 == 0))
    }

    /// Python's `re.fullmatch`: the pattern matches the whole of `text`.
    pub fn fullmatch<'t>(&self, text: &'t str) -> Result<Option<PyMatch<'t>>, PyRegexError> {
        let anchored = PyRegex::compile(&self.pattern, format!("\\A(?:{})\\z", self.translated))?;
        anchored.search(text)
    }

    /// Every match, as Python's `re.finditer` finds them (an empty match right after a
    /// non-empty one counts, as in Python 3.7 and later).
    pub fn find_iter<'t>(&self, text: &'t str) -> Result<Vec<PyMatch<'t>>, PyRegexError> {
        self.find_n(text, 0)
    }

    fn find_n<'t>(&self, text: &'t str, limit: usize) -> Result<Vec<PyMatch<'t>>, PyRegexError> {
        let mut out: Vec<PyMatch<'t>> = Vec::new();
        let mut pos = 0;
        // Whether the previous match was empty (and ended at `pos`): Python's scanner then
        // wants a non-empty match at `pos` or any match further on, but it lets an empty
        // match follow a non-empty one.
        let mut must_advance = false;
        while pos <= text.len() && (limit == 0 || out.len() < limit) {
            let Some(mut found) = self.captures_at(text, pos)? else {
                break;
            };
            if must_advance && found.span() == (pos, pos) {
                let next = match self.non_empty_at(text, pos)? {
                    Some(longer) => Some(longer),
                    None => match text[pos..].chars().next() {
                        Some(c) => self.captures_at(text, pos + c.len_utf8())?,
                        None => None,
                    },
                };
                match next {
                    Some(next) => found = next,
                    None => break,
                }
            }
            let (start, end) = found.span();
            must_advance = start == end;
            pos = end;
            out.push(found);
        }
        Ok(out)
    }

    /// Python's `re.findall` as strings: whole matches without groups, group 1 with one,
    /// every group (unmatched ones empty) with several.
    pub fn findall(&self, text: &str) -> Result<Vec<Vec<String>>, PyRegexError> {
        Ok(self
            .find_iter(text)?
            .iter()
            .map(|found| match self.groups {
                0 => vec![found.as_str().to_string()],
                n => (1..=n)
                    .map(|i| found.group(i).unwrap_or("").to_string())
                    .collect(),
            })
            .collect())
    }

    /// Parse a Python replacement template against this pattern's groups.
    pub fn replacement(&self, replacement: &str) -> Result<Replacement, PyRegexError> {
        parse_replacement(replacement, self)
    }

    /// Python's `re.subn`: replace the first `count` matches (0: all), giving the new text and
    /// the number of replacements made.
    pub fn sub(
        &self,
        text: &str,
        replacement: &str,
        count: usize,
    ) -> Result<(String, usize), PyRegexError> {
        let replacement = self.replacement(replacement)?;
        self.sub_with(text, &replacement, count)
    }

    /// [`sub`](Self::sub) with an already parsed replacement.
    pub fn sub_with(
        &self,
        text: &str,
        replacement: &Replacement,
        count: usize,
    ) -> Result<(String, usize), PyRegexError> {
        let found = self.find_n(text, count)?;
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for m in &found {
            let (start, end) = m.span();
            out.push_str(&text[last..start]);
            out.push_str(&replacement.expand(m));
            last = end;
        }
        out.push_str(&text[last..]);
        Ok((out, found.len()))
    }
}

/// Python's `re.escape` (3.7 and later): backslash before each character special in a pattern.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "()[]{}?*+-|^$\\.&~# \t\n\r\u{b}\u{c}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Leading global inline flags such as `(?im)`, which Python requires at the start.
fn leading_flags(pattern: &str) -> String {
    let mut flags = String::new();
    let mut rest = pattern;
    while let Some(after) = rest.strip_prefix("(?") {
        let len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        if len == 0 || !after[len..].starts_with(')') {
            break;
        }
        flags.push_str(&after[..len]);
        rest = &after[len + 1..];
    }
    flags
}

/// Translate Python pattern syntax to fancy-regex syntax.
fn translate(pattern: &str, flags: Flags) -> String {
    let multiline = flags.multiline || leading_flags(pattern).contains('m');
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut prefix = String::new();
    if flags.ignorecase {
        prefix.push('i');
    }
    if flags.multiline {
        prefix.push('m');
    }
    if flags.dotall {
        prefix.push('s');
    }
    if !prefix.is_empty() {
        out.push_str(&format!("(?{prefix})"));
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    // Position in the class: 0 right after `[`, 1 after a leading `^`.
    let mut class_len = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            i += 1;
            let Some(&next) = chars.get(i) else {
                out.push_str("\\\\");
                break;
            };
            i += 1;
            match next {
                'Z' if !in_class => out.push_str("\\z"),
                'u' | 'U' => {
                    let len = if next == 'u' { 4 } else { 8 };
                    let hex: String = chars[i..].iter().take(len).collect();
                    out.push_str(&format!("\\x{{{hex}}}"));
                    i += hex.chars().count();
                }
                '0' => {
                    let digits: String = chars[i..]
                        .iter()
                        .take(2)
                        .take_while(|d| ('0'..='7').contains(*d))
                        .collect();
                    i += digits.len();
                    let value = u32::from_str_radix(&format!("0{digits}"), 8).unwrap_or(0);
                    out.push_str(&format!("\\x{{{value:x}}}"));
                }
                d if d.is_ascii_digit() && in_class => {
                    // In a class Python reads `\1` as an octal escape.
                    out.push_str(&format!("\\x{{{:x}}}", d.to_digit(8).unwrap_or(0)));
                }
                c if c.is_ascii_alphanumeric() => {
                    out.push('\\');
                    out.push(c);
                }
                c if "\\.+*?()|[]{}^$#&-~".contains(c) => {
                    out.push('\\');
                    out.push(c);
                }
                // Any other escaped character is itself in Python.
                c => push_literal(&mut out, c),
            }
            class_len += 1;
            continue;
        }
        if in_class {
            match c {
                ']' if class_len > 0 => {
                    in_class = false;
                    out.push(']');
                }
                '^' if class_len == 0 => {
                    out.push('^');
                    i += 1;
                    continue;
                }
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                ']' => out.push_str("\\]"),
                c => out.push(c),
            }
            class_len += 1;
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                class_len = 0;
                out.push('[');
            }
            '$' if !multiline => out.push_str("(?=\\n?\\z)"),
            '{' => {
                let rest: String = chars[i..].iter().collect();
                match quantifier(&rest) {
                    Some((text, len)) => {
                        out.push_str(&text);
                        i += len;
                        continue;
                    }
                    None => out.push_str("\\{"),
                }
            }
            '}' => out.push_str("\\}"),
            '(' if chars.get(i + 1) == Some(&'?') && chars.get(i + 2) == Some(&'#') => {
                // A Python comment group: drop it.
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
            }
            '(' if chars.get(i + 1) == Some(&'?') => {
                // Inline flags: drop the ones Rust does not know (a, L, u).
                let rest: String = chars[i + 2..].iter().collect();
                let len = rest
                    .find(|c: char| !(c.is_ascii_alphabetic() || c == '-'))
                    .unwrap_or(rest.len());
                let next = rest[len..].chars().next();
                if len > 0
                    && matches!(next, Some(')') | Some(':'))
                    && rest[..len].chars().all(|c| "aiLmsux-".contains(c))
                {
                    let kept: String = rest[..len]
                        .chars()
                        .filter(|c| !"aLu".contains(*c))
                        .collect();
                    let kept = kept.trim_end_matches('-');
                    if kept.is_empty() && next == Some(')') {
                        // Nothing left of `(?a)`.
                    } else if kept.is_empty() {
                        out.push_str("(?:");
                    } else {
                        out.push_str(&format!("(?{kept}{}", next.unwrap_or(')')));
                    }
                    i += 2 + len + 1;
                    continue;
                }
                out.push('(');
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn push_literal(out: &mut String, c: char) {
    if c.is_ascii_punctuation() || c == ' ' {
        out.push_str(&format!("\\x{{{:x}}}", c as u32));
    } else {
        out.push(c);
    }
}

/// A Python quantifier at the start of `text` (`{3}`, `{2,}`, `{,4}`, `{1,2}`), as Rust
/// spells it, and its length in chars. `None` when the brace is a literal.
fn quantifier(text: &str) -> Option<(String, usize)> {
    let end = text.find('}')?;
    let inner = &text[1..end];
    let (low, high) = match inner.split_once(',') {
        Some((low, high)) => (low, Some(high)),
        None => (inner, None),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits(low) || !high.is_none_or(digits) {
        return None;
    }
    let len = text[..=end].chars().count();
    match high {
        None if low.is_empty() => None,
        None => Some((format!("{{{low}}}"), len)),
        Some(high) if low.is_empty() && high.is_empty() => None,
        Some(high) if low.is_empty() => Some((format!("{{0,{high}}}"), len)),
        Some(high) => Some((format!("{{{low},{high}}}"), len)),
    }
}

fn parse_replacement(replacement: &str, regex: &PyRegex) -> Result<Replacement, PyRegexError> {
    let error = |reason: String| PyRegexError::Replacement {
        replacement: replacement.to_string(),
        reason,
    };
    let group = |index: usize| {
        if index > regex.groups() {
            Err(error(format!("invalid group reference {index}")))
        } else {
            Ok(Piece::Group(index))
        }
    };
    let chars: Vec<char> = replacement.chars().collect();
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        if c != '\\' {
            text.push(c);
            continue;
        }
        let Some(&next) = chars.get(i) else {
            return Err(error("bad escape (end of pattern)".into()));
        };
        i += 1;
        let piece = match next {
            'g' => {
                if chars.get(i) != Some(&'<') {
                    return Err(error("missing < after \\g".into()));
                }
                let Some(len) = chars[i + 1..].iter().position(|c| *c == '>') else {
                    return Err(error("missing >, unterminated name".into()));
                };
                let name: String = chars[i + 1..i + 1 + len].iter().collect();
                i += len + 2;
                if name.is_empty() {
                    return Err(error("missing group name".into()));
                }
                if name.chars().all(|c| c.is_ascii_digit()) {
                    group(
                        name.parse()
                            .map_err(|_| error(format!("invalid group reference {name}")))?,
                    )?
                } else {
                    match regex.group_index(&name) {
                        Some(index) => Piece::Group(index),
                        None => return Err(error(format!("unknown group name '{name}'"))),
                    }
                }
            }
            '0' => {
                let digits: String = chars[i..]
                    .iter()
                    .take(2)
                    .take_while(|d| ('0'..='7').contains(*d))
                    .collect();
                i += digits.len();
                let value = u32::from_str_radix(&format!("0{digits}"), 8).unwrap_or(0);
                Piece::Text(char::from_u32(value).unwrap_or('\0').to_string())
            }
            d if d.is_ascii_digit() => {
                let octal = |c: Option<&char>| c.is_some_and(|c| ('0'..='7').contains(c));
                match chars.get(i) {
                    Some(d2) if d2.is_ascii_digit() => {
                        if octal(Some(&d)) && octal(Some(d2)) && octal(chars.get(i + 1)) {
                            let text: String = chars[i - 1..i + 2].iter().collect();
                            i += 2;
                            let value = u32::from_str_radix(&text, 8).unwrap_or(0);
                            if value > 0o377 {
                                return Err(error(format!(
                                    "octal escape value \\{text} outside of range 0-0o377"
                                )));
                            }
                            Piece::Text(char::from_u32(value).unwrap_or('\0').to_string())
                        } else {
                            i += 1;
                            group((d as usize - '0' as usize) * 10 + (*d2 as usize - '0' as usize))?
                        }
                    }
                    _ => group(d as usize - '0' as usize)?,
                }
            }
            'n' => Piece::Text("\n".into()),
            't' => Piece::Text("\t".into()),
            'r' => Piece::Text("\r".into()),
            'f' => Piece::Text("\u{c}".into()),
            'v' => Piece::Text("\u{b}".into()),
            'a' => Piece::Text("\u{7}".into()),
            'b' => Piece::Text("\u{8}".into()),
            '\\' => Piece::Text("\\".into()),
            c if c.is_ascii_alphabetic() => return Err(error(format!("bad escape \\{c}"))),
            // Python keeps unknown non-letter escapes as they are.
            c => Piece::Text(format!("\\{c}")),
        };
        match piece {
            Piece::Text(more) => text.push_str(&more),
            group => {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(group);
            }
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(Replacement { pieces })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(pattern: &str) -> PyRegex {
        match PyRegex::new(pattern, Flags::default()) {
            Ok(re) => re,
            Err(err) => panic!("{pattern}: {err}"),
        }
    }

    fn sub(pattern: &str, replacement: &str, text: &str) -> String {
        match re(pattern).sub(text, replacement, 0) {
            Ok((out, _)) => out,
            Err(err) => panic!("{pattern}: {err}"),
        }
    }

    // Expected values below were checked with Python 3.11's `re`.
    #[test]
    fn replacement_group_references() {
        assert_eq!(sub("(a)", r"\1x", "ab"), "axb");
        assert_eq!(sub("(a)", r"\g<1>0", "ab"), "a0b");
        assert_eq!(sub("(?P<n>a)", r"<\g<n>>", "ab"), "<a>b");
        assert_eq!(sub("(a)|(b)", r"[\2]", "ab"), "[][b]");
        assert_eq!(sub("a", r"$1 \n\\ \&", "a"), "$1 \n\\ \\&");
        assert_eq!(sub("(a)", r"\101", "a"), "A");
    }

    #[test]
    fn replacement_errors() {
        let err = re("(a)").sub("a", r"\2", 0).unwrap_err();
        assert_eq!(
            err.to_string(),
            r"invalid replacement `\2`: invalid group reference 2"
        );
        let err = re("(a)").sub("a", r"\g<x>", 0).unwrap_err();
        assert!(err.to_string().ends_with("unknown group name 'x'"), "{err}");
        let err = re("a").sub("a", r"\q", 0).unwrap_err();
        assert!(err.to_string().ends_with(r"bad escape \q"), "{err}");
    }

    #[test]
    fn lookaround_and_backreferences() {
        assert_eq!(sub(r"(?<=a)b", "X", "abcb"), "aXcb");
        assert_eq!(sub(r"b(?!c)", "X", "bcbd"), "bcXd");
        assert_eq!(sub(r"(\w)\1", "<>", "aabcc"), "<>b<>");
        assert_eq!(sub(r"(?P<c>\w)(?P=c)", "2", "xxy"), "2y");
    }

    #[test]
    fn python_only_syntax() {
        // `$` matches before a final newline; `\Z` only at the very end.
        assert_eq!(sub("a$", "X", "a\n"), "X\n");
        assert_eq!(sub(r"a\Z", "X", "a\n"), "a\n");
        // A brace that is no quantifier is a literal; `{,2}` means `{0,2}`.
        assert_eq!(sub("{x}", "y", "a{x}"), "ay");
        assert_eq!(sub("ba{,2}", "X", "baaa"), "Xa");
        // Inside a class `[` and `&&` are literals.
        assert_eq!(sub("[[&&]", "X", "a[&b"), "aXXb");
        assert_eq!(sub(r"\<\>\/", "X", "<>/"), "X");
        assert_eq!(sub(r"(?#note)a", "X", "a"), "X");
        assert_eq!(sub(r"\x41\u0042", "X", "AB"), "X");
    }

    #[test]
    fn empty_matches_follow_python_3_7() {
        assert_eq!(sub("x*", "-", "abxd"), "-a-b--d-");
        assert_eq!(re("").sub("ab", "-", 2).unwrap().0, "-a-b");
    }

    #[test]
    fn search_match_fullmatch_findall() {
        let r = re("a|ab");
        assert!(r.fullmatch("ab").unwrap().is_some());
        assert!(r.match_start("xab").unwrap().is_none());
        assert_eq!(r.search("xab").unwrap().unwrap().as_str(), "a");
        assert_eq!(
            re(r"(\w)=(\d)?").findall("a=1 b=").unwrap(),
            vec![vec!["a", "1"], vec!["b", ""]]
        );
        assert_eq!(
            re(r"\d").findall("a1b2").unwrap(),
            vec![vec!["1"], vec!["2"]]
        );
    }

    #[test]
    fn flags() {
        let insensitive = Flags {
            ignorecase: true,
            ..Flags::default()
        };
        assert_eq!(
            PyRegex::new("b", insensitive)
                .unwrap()
                .sub("ABC", "x", 0)
                .unwrap()
                .0,
            "AxC"
        );
        let multi = Flags {
            multiline: true,
            ..Flags::default()
        };
        assert_eq!(
            PyRegex::new("^a$", multi)
                .unwrap()
                .sub("a\na", "x", 0)
                .unwrap()
                .0,
            "x\nx"
        );
        assert_eq!(sub("(?m)^a$", "x", "a\na"), "x\nx");
        assert_eq!(sub("(?a)\\w", "x", "a"), "x");
    }

    fn subn(pattern: &str, replacement: &str, text: &str, multiline: bool) -> (String, usize) {
        let flags = Flags {
            multiline,
            ..Flags::default()
        };
        match PyRegex::new(pattern, flags).and_then(|re| re.sub(text, replacement, 0)) {
            Ok(done) => done,
            Err(err) => panic!("{pattern}: {err}"),
        }
    }

    fn found(pattern: &str, text: &str) -> bool {
        match re(pattern).search(text) {
            Ok(found) => found.is_some(),
            Err(err) => panic!("{pattern}: {err}"),
        }
    }

    // Expected values below were printed by Python 3.11's `re.subn`.
    #[test]
    fn empty_matches_after_a_match_follow_python() {
        assert_eq!(subn("", "-", "ab", false), ("-a-b-".into(), 3));
        assert_eq!(subn("x*?", "-", "x", false), ("---".into(), 3));
        assert_eq!(subn("a{,2}", "-", "aaa", false), ("---".into(), 3));
        assert_eq!(
            subn("(?m)^", "# ", "a\nb\n", false),
            ("# a\n# b\n# ".into(), 3)
        );
        assert_eq!(subn("^", "# ", "a\nb\n", true), ("# a\n# b\n# ".into(), 3));
        assert_eq!(subn("a|", "-", "ab", false), ("--b-".into(), 3));
    }

    #[test]
    fn backreferences_lookaround_and_named_groups_in_subn() {
        assert_eq!(
            subn(r"^(\w+)=(.*)$", r"\2=\g<1>", "a=1\nb=2\n", true),
            ("1=a\n2=b\n".into(), 2)
        );
        assert_eq!(
            subn(r"(?P<key>\w+)(?==)", r"\g<key>_x", "a=1", false),
            ("a_x=1".into(), 1)
        );
        assert_eq!(
            subn(r"(?<!#)foo", "bar", "#foo foo", false),
            ("#foo bar".into(), 1)
        );
        assert_eq!(subn(r"(a)|b", r"[\1]", "ab", false), ("[a][]".into(), 2));
        assert!(found(r"(?<!#)PermitRootLogin", "PermitRootLogin yes"));
        assert!(!found(r"^\s*(?<!#)PermitRootLogin", "#PermitRootLogin yes"));
        assert!(found(r"^(?=.*ipv6)GRUB", "GRUB=ipv6"));
        assert!(!found(r"^(?!#)foo", "#foo"));
        assert!(found(r"(?P<k>\w+)=(?P=k)", "ab=ab"));
    }

    /// Each row was checked with Python 3.11's `re.search`.
    #[test]
    fn search_where_python_and_rust_syntax_differ() {
        let rows: &[(&str, &str, bool)] = &[
            (r"a\Z", "a\n", false),
            (r"a\Z", "a", true),
            (r"a$", "a\n", true),
            (r"a$", "a\nb", false),
            (r"(?m)a$", "a\nb", true),
            (r"[$]", "$", true),
            (r"[a&&b]", "&", true),
            (r"[a~~b]", "~", true),
            (r"\<", "<", true),
            (r"x\>", "x>", true),
            (r"[[]", "[", true),
            (r"[]a]", "]", true),
            (r"[^]a]", "]", false),
            (r"[^]a]", "b", true),
            (r"a{", "a{", true),
            (r"a{2}", "aa", true),
            (r"a{2}", "a{2}", false),
            (r"{{ x }}", "{{ x }}", true),
        ];
        for &(pattern, text, expected) in rows {
            assert_eq!(found(pattern, text), expected, "{pattern} on {text:?}");
        }
        assert_eq!(subn("a$", "b", "a\na\n", true), ("b\nb\n".into(), 2));
    }

    #[test]
    fn expand_follows_python_match_expand() {
        let r = re(r"^(?P<key>\w+)=(\w+)?(x)?");
        let found = r.search("port=22").unwrap().unwrap();
        let expand = |t: &str| r.replacement(t).map(|repl| repl.expand(&found));
        assert_eq!(expand(r"\1 is \2").unwrap(), "port is 22");
        assert_eq!(expand(r"\g<key>:\g<2>").unwrap(), "port:22");
        assert_eq!(expand(r"[\3]").unwrap(), "[]");
        assert_eq!(expand(r"a\tb\\n\.").unwrap(), "a\tb\\n\\.");
        assert_eq!(expand(r"\g<1>0").unwrap(), "port0");
        assert_eq!(expand(r"\n\t\\").unwrap(), "\n\t\\");
        assert_eq!(expand(r"\0").unwrap(), "\0");
        assert!(expand(r"\g<key> \3").is_ok());
        let reason = |t: &str| match expand(t) {
            Err(PyRegexError::Replacement { reason, .. }) => reason,
            other => panic!("{t}: {other:?}"),
        };
        assert_eq!(reason(r"\9"), "invalid group reference 9");
        assert_eq!(reason(r"\4"), "invalid group reference 4");
        assert_eq!(reason(r"\g<nope>"), "unknown group name 'nope'");
        assert_eq!(reason(r"\q"), r"bad escape \q");
        assert_eq!(reason("x\\"), "bad escape (end of pattern)");
        assert_eq!(reason(r"\g1"), r"missing < after \g");
        assert_eq!(reason(r"\g<1"), "missing >, unterminated name");
        assert_eq!(reason(r"\g<>"), "missing group name");
        assert_eq!(
            reason(r"\777"),
            r"octal escape value \777 outside of range 0-0o377"
        );
    }

    #[test]
    fn match_is_anchored_at_the_start_only() {
        let r = re("fo+");
        assert!(r.match_start("foo.txt").unwrap().is_some());
        assert!(r.match_start("afoo").unwrap().is_none());
        assert!(r.search("afoo").unwrap().is_some());
    }

    #[test]
    fn escape_like_python() {
        assert_eq!(escape("a.b c-d/e"), r"a\.b\ c\-d/e");
    }
}
