//! Python's `re` semantics on top of fancy-regex, for modules whose Ansible originals take
//! Python patterns (`replace`, `find`).
//!
//! fancy-regex already has look-around, backreferences and `(?P<name>…)`; what differs is
//! translated here before compiling: Python's `$` without MULTILINE also matches before a final
//! newline, `\Z` is the very end (fancy-regex's `\Z` skips trailing newlines), `{` that does not
//! start a repetition is a literal, `{,n}` means `{0,n}`, and `[` inside a class is a literal.
//! Substitution follows `re.subn`: the replacement's `\1`, `\g<1>`, `\g<name>` and escapes,
//! an unknown letter escape is an error, and an empty match right after a match is replaced
//! (Python 3.7 and later).

use fancy_regex::{Captures, Regex, RegexBuilder};

/// Flags as Python's `re.compile` takes them.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flags {
    /// `re.MULTILINE`: `^` and `$` at every line.
    pub multiline: bool,
    /// `re.DOTALL`: `.` matches a newline too.
    pub dotall: bool,
}

/// A compiled Python pattern.
#[derive(Debug)]
pub(crate) struct PyRegex {
    regex: Regex,
    /// The same pattern refusing empty matches: what Python tries after an empty match
    /// (`None` for a pattern that only matches empty strings).
    not_empty: Option<Regex>,
}

/// Part of a parsed replacement template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(String),
    Group(usize),
    Named(String),
}

/// A parsed replacement template (`re.sub`'s `repl`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template(Vec<Piece>);

impl PyRegex {
    /// Compile `pattern` as Python would with `flags`. The error is the engine's reason.
    pub(crate) fn new(pattern: &str, flags: Flags) -> Result<PyRegex, String> {
        let multiline = flags.multiline || leading_flags(pattern).contains('m');
        let mut translated = String::new();
        if flags.multiline {
            translated.push_str("(?m)");
        }
        if flags.dotall {
            translated.push_str("(?s)");
        }
        translated.push_str(&translate(pattern, multiline));
        let build = |not_empty: bool| {
            let mut builder = RegexBuilder::new(&translated);
            builder.find_not_empty(not_empty);
            builder.build().map_err(|error| error.to_string())
        };
        Ok(PyRegex {
            regex: build(false)?,
            not_empty: build(true).ok(),
        })
    }

    /// `re.search`: is there a match anywhere.
    pub(crate) fn search(&self, text: &str) -> Result<bool, String> {
        self.regex.is_match(text).map_err(|e| e.to_string())
    }

    /// `re.match`: is there a match starting at the beginning.
    pub(crate) fn match_start(&self, text: &str) -> Result<bool, String> {
        // Leftmost-first: if any match starts at 0, the first match found starts there.
        Ok(self
            .regex
            .find(text)
            .map_err(|e| e.to_string())?
            .is_some_and(|m| m.start() == 0))
    }

    /// The byte range of the group `name` in the first match (`re.search(…).span(name)`).
    pub(crate) fn named_range(
        &self,
        text: &str,
        name: &str,
    ) -> Result<Option<(usize, usize)>, String> {
        let found = self.regex.captures(text).map_err(|e| e.to_string())?;
        Ok(found
            .and_then(|captures| captures.name(name))
            .map(|m| (m.start(), m.end())))
    }

    /// The first match at or after `pos` (and, when `must_advance`, not an empty match at
    /// `pos`), as Python's scanner finds it.
    fn next_match<'t>(
        &self,
        text: &'t str,
        pos: usize,
        must_advance: bool,
    ) -> Result<Option<Captures<'t, str>>, String> {
        let found = self
            .regex
            .captures_from_pos(text, pos)
            .map_err(|e| e.to_string())?;
        let Some(found) = found else { return Ok(None) };
        let whole = found.get(0).map(|m| (m.start(), m.end()));
        if !must_advance || whole != Some((pos, pos)) {
            return Ok(Some(found));
        }
        // An empty match where the last one ended: Python wants a non-empty match here, or
        // any match further on.
        let input = fancy_regex::RegexInput::new(text)
            .from_pos(pos)
            .anchored(true);
        if let Some(not_empty) = &self.not_empty {
            if let Some(longer) = not_empty.captures_input(input).map_err(|e| e.to_string())? {
                return Ok(Some(longer));
            }
        }
        match text[pos..].chars().next() {
            Some(c) => self
                .regex
                .captures_from_pos(text, pos + c.len_utf8())
                .map_err(|e| e.to_string()),
            None => Ok(None),
        }
    }

    /// `re.subn(pattern, repl, text)`: the new text and how many replacements were made.
    pub(crate) fn subn(&self, text: &str, template: &Template) -> Result<(String, usize), String> {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        let mut pos = 0;
        let mut count = 0;
        let mut must_advance = false;
        while pos <= text.len() {
            let Some(captures) = self.next_match(text, pos, must_advance)? else {
                break;
            };
            let Some(whole) = captures.get(0) else { break };
            out.push_str(&text[last..whole.start()]);
            template.expand_into(&captures, &mut out);
            count += 1;
            last = whole.end();
            must_advance = whole.start() == whole.end();
            pos = whole.end();
        }
        out.push_str(&text[last..]);
        Ok((out, count))
    }

    /// Check that `template` only names groups this pattern has (Python fails the same way).
    pub(crate) fn check_template(&self, template: &Template) -> Result<(), String> {
        let groups = self.regex.captures_len();
        let names: Vec<&str> = self.regex.capture_names().flatten().collect();
        for piece in &template.0 {
            match piece {
                Piece::Group(number) if *number >= groups => {
                    return Err(format!("invalid group reference {number}"))
                }
                Piece::Named(name) if !names.contains(&name.as_str()) => {
                    return Err(format!("unknown group name '{name}'"))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// The inline flags a pattern starts with (`(?im)…` gives `im`).
fn leading_flags(pattern: &str) -> String {
    let Some(rest) = pattern.strip_prefix("(?") else {
        return String::new();
    };
    let flags: String = rest.chars().take_while(char::is_ascii_alphabetic).collect();
    if rest[flags.len()..].starts_with(')') {
        flags
    } else {
        String::new()
    }
}

/// Rewrite the Python-only spellings of `pattern` into fancy-regex's.
fn translate(pattern: &str, multiline: bool) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' => {
                let next = chars.get(i + 1).copied();
                match next {
                    Some('Z') if !in_class => out.push_str(r"\z"),
                    Some(n) => {
                        out.push('\\');
                        out.push(n);
                    }
                    None => out.push('\\'),
                }
                i += 2;
                continue;
            }
            '[' if in_class => out.push_str(r"\["),
            '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '[' => {
                in_class = true;
                out.push('[');
                // `]` first (after an optional `^`) is a literal in both dialects.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str(r"\]");
                    i += 1;
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '$' if !in_class && !multiline => out.push_str(r"(?:(?=\n\z)|\z)"),
            '{' if !in_class => match repetition(&chars[i..]) {
                Some((text, used)) => {
                    out.push_str(&text);
                    i += used;
                    continue;
                }
                None => out.push_str(r"\{"),
            },
            '}' if !in_class => out.push_str(r"\}"),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// A repetition `{m}`, `{m,}`, `{,n}`, `{m,n}` at the start of `chars`: its fancy-regex
/// spelling and how many characters it took.
fn repetition(chars: &[char]) -> Option<(String, usize)> {
    let close = chars.iter().position(|c| *c == '}')?;
    let body: String = chars[1..close].iter().collect();
    let (low, high) = match body.split_once(',') {
        Some((low, high)) => (low, Some(high)),
        None => (body.as_str(), None),
    };
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits(low)
        || !high.is_none_or(digits)
        || (low.is_empty() && high.is_none_or(str::is_empty))
    {
        return None;
    }
    let low = if low.is_empty() { "0" } else { low };
    let text = match high {
        Some(high) => format!("{{{low},{high}}}"),
        None => format!("{{{low}}}"),
    };
    Some((text, close + 1))
}

impl Template {
    /// Parse Python's replacement syntax: `\1`…`\99`, `\g<n>`, `\g<name>`, `\n`-style
    /// escapes and octal `\0`/`\123`; an unknown escape of a letter is an error.
    pub(crate) fn parse(template: &str) -> Result<Template, String> {
        let chars: Vec<char> = template.chars().collect();
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut i = 0;
        let flush = |literal: &mut String, pieces: &mut Vec<Piece>| {
            if !literal.is_empty() {
                pieces.push(Piece::Literal(std::mem::take(literal)));
            }
        };
        while i < chars.len() {
            let c = chars[i];
            if c != '\\' {
                literal.push(c);
                i += 1;
                continue;
            }
            let Some(&next) = chars.get(i + 1) else {
                return Err("bad escape (end of pattern)".into());
            };
            i += 2;
            match next {
                'g' => {
                    if chars.get(i) != Some(&'<') {
                        return Err("missing <".into());
                    }
                    let end = chars[i..]
                        .iter()
                        .position(|c| *c == '>')
                        .ok_or("missing >, unterminated name")?;
                    let name: String = chars[i + 1..i + end].iter().collect();
                    i += end + 1;
                    if name.is_empty() {
                        return Err("missing group name".into());
                    }
                    flush(&mut literal, &mut pieces);
                    if name.chars().all(|c| c.is_ascii_digit()) {
                        let number = name
                            .parse()
                            .map_err(|_| format!("invalid group reference {name}"))?;
                        pieces.push(Piece::Group(number));
                    } else if name.chars().all(|c| c.is_alphanumeric() || c == '_')
                        && !name.starts_with(|c: char| c.is_ascii_digit())
                    {
                        pieces.push(Piece::Named(name));
                    } else {
                        return Err(format!("bad character in group name '{name}'"));
                    }
                }
                '0'..='9' => {
                    let octal = |c: Option<&char>| c.is_some_and(|c| ('0'..='7').contains(c));
                    if next == '0' {
                        let mut value = 0u32;
                        let mut taken = 0;
                        while taken < 2 && octal(chars.get(i)) {
                            value = value * 8 + chars[i].to_digit(8).unwrap_or(0);
                            i += 1;
                            taken += 1;
                        }
                        literal.push(char::from_u32(value).unwrap_or('\0'));
                    } else if octal(Some(&next)) && octal(chars.get(i)) && octal(chars.get(i + 1)) {
                        let value = [next, chars[i], chars[i + 1]]
                            .iter()
                            .fold(0u32, |v, c| v * 8 + c.to_digit(8).unwrap_or(0));
                        if value > 0o377 {
                            return Err(format!(
                                "octal escape value \\{next}{}{} outside of range 0-0o377",
                                chars[i],
                                chars[i + 1]
                            ));
                        }
                        literal.push(char::from_u32(value).unwrap_or('\0'));
                        i += 2;
                    } else {
                        let mut number = next.to_digit(10).unwrap_or(0) as usize;
                        if let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                            number = number * 10 + d as usize;
                            i += 1;
                        }
                        flush(&mut literal, &mut pieces);
                        pieces.push(Piece::Group(number));
                    }
                }
                'a' => literal.push('\x07'),
                'b' => literal.push('\x08'),
                'f' => literal.push('\x0c'),
                'n' => literal.push('\n'),
                'r' => literal.push('\r'),
                't' => literal.push('\t'),
                'v' => literal.push('\x0b'),
                '\\' => literal.push('\\'),
                other if other.is_ascii_alphabetic() => {
                    return Err(format!("bad escape \\{other}"));
                }
                other => {
                    literal.push('\\');
                    literal.push(other);
                }
            }
        }
        flush(&mut literal, &mut pieces);
        Ok(Template(pieces))
    }

    fn expand_into(&self, captures: &Captures<str>, out: &mut String) {
        for piece in &self.0 {
            let found = match piece {
                Piece::Literal(text) => {
                    out.push_str(text);
                    continue;
                }
                Piece::Group(number) => captures.get(*number),
                Piece::Named(name) => captures.name(name),
            };
            // An unmatched group is empty (Python 3.5 and later).
            if let Some(m) = found {
                out.push_str(m.as_str());
            }
        }
    }
}

/// Translate a shell glob as Python's `fnmatch` reads it (`*`, `?`, `[seq]`, `[!seq]`) into
/// an anchored regular expression.
pub(crate) fn glob_to_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::from(r"\A(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str(r"\[");
                    continue;
                }
                let mut class = String::from("[");
                let mut k = i;
                if chars[k] == '!' {
                    class.push('^');
                    k += 1;
                }
                for &member in &chars[k..j] {
                    match member {
                        '\\' | '[' | ']' | '&' | '~' | '^' => {
                            class.push('\\');
                            class.push(member);
                        }
                        _ => class.push(member),
                    }
                }
                class.push(']');
                out.push_str(&class);
                i = j + 1;
            }
            _ => {
                let mut buffer = [0u8; 4];
                out.push_str(&regex::escape(c.encode_utf8(&mut buffer)));
            }
        }
    }
    out.push_str(r")\z");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(pattern: &str, repl: &str, text: &str, multiline: bool) -> (String, usize) {
        let regex = PyRegex::new(
            pattern,
            Flags {
                multiline,
                dotall: false,
            },
        )
        .unwrap();
        let template = Template::parse(repl).unwrap();
        regex.check_template(&template).unwrap();
        regex.subn(text, &template).unwrap()
    }

    // Expected values below were printed by Python 3.11's `re.subn`.
    #[test]
    fn empty_matches_follow_python() {
        assert_eq!(sub("x*", "-", "abxd", false), ("-a-b--d-".into(), 5));
        assert_eq!(sub("", "-", "ab", false), ("-a-b-".into(), 3));
        assert_eq!(
            sub("(?m)^", "# ", "a\nb\n", false),
            ("# a\n# b\n# ".into(), 3)
        );
        assert_eq!(sub("^", "# ", "a\nb\n", true), ("# a\n# b\n# ".into(), 3));
    }

    #[test]
    fn backreferences_lookaround_and_named_groups() {
        assert_eq!(
            sub(r"^(\w+)=(.*)$", r"\2=\g<1>", "a=1\nb=2\n", true),
            ("1=a\n2=b\n".into(), 2)
        );
        assert_eq!(
            sub(r"(?P<key>\w+)(?==)", r"\g<key>_x", "a=1", false),
            ("a_x=1".into(), 1)
        );
        assert_eq!(
            sub(r"(?<!#)foo", "bar", "#foo foo", false),
            ("#foo bar".into(), 1)
        );
        assert_eq!(sub(r"(a)|b", r"[\1]", "ab", false), ("[a][]".into(), 2));
        assert_eq!(sub(r"(\w)\1", "<>", "aab", false), ("<>b".into(), 1));
    }

    #[test]
    fn dollar_and_big_z_mean_what_python_means() {
        // Without MULTILINE `$` also matches before a final newline.
        assert_eq!(sub("a$", "b", "a\n", false), ("b\n".into(), 1));
        assert_eq!(sub(r"a\Z", "b", "a\n", false), ("a\n".into(), 0));
        assert_eq!(sub("a$", "b", "a\na\n", true), ("b\nb\n".into(), 2));
        assert_eq!(sub("[$]", "d", "$x", false), ("dx".into(), 1));
    }

    #[test]
    fn braces_that_are_not_repetitions_are_literal() {
        assert_eq!(sub("{x}", "y", "{x}", false), ("y".into(), 1));
        assert_eq!(sub("a{,2}", "-", "aaa", false), ("---".into(), 3));
        assert_eq!(sub("x*?", "-", "x", false), ("---".into(), 3));
        assert_eq!(sub("a{2}", "-", "aaa", false), ("-a".into(), 1));
        assert_eq!(sub("[[]", "(", "[", false), ("(".into(), 1));
    }

    #[test]
    fn template_escapes_and_errors() {
        assert_eq!(sub("a", r"\n\t\\", "a", false), ("\n\t\\".into(), 1));
        assert_eq!(sub("a", r"\.", "a", false), (r"\.".into(), 1));
        assert_eq!(sub("a", r"\101", "a", false), ("A".into(), 1));
        assert_eq!(Template::parse(r"\q").unwrap_err(), r"bad escape \q");
        let regex = PyRegex::new("(a)", Flags::default()).unwrap();
        assert_eq!(
            regex
                .check_template(&Template::parse(r"\2").unwrap())
                .unwrap_err(),
            "invalid group reference 2"
        );
        assert!(regex
            .check_template(&Template::parse(r"\g<nope>").unwrap())
            .is_err());
    }

    #[test]
    fn match_is_anchored_at_the_start_only() {
        let regex = PyRegex::new(r"fo+", Flags::default()).unwrap();
        assert!(regex.match_start("foo.txt").unwrap());
        assert!(!regex.match_start("afoo").unwrap());
        assert!(regex.search("afoo").unwrap());
    }

    #[test]
    fn globs_follow_fnmatch() {
        let matches = |glob: &str, name: &str| {
            PyRegex::new(&glob_to_regex(glob), Flags::default())
                .unwrap()
                .search(name)
                .unwrap()
        };
        assert!(matches("*.txt", "a.txt"));
        assert!(!matches("*.txt", "a.txt.bak"));
        assert!(matches("?.log", "a.log"));
        assert!(matches("[ab]*", "beta"));
        assert!(!matches("[!ab]*", "beta"));
        assert!(matches("[", "["));
        assert!(matches("a+b(c)", "a+b(c)"));
        assert!(matches(".*", ".hidden"));
    }
}
