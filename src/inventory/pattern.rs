//! Ansible host patterns: splitting `web:&prod:!web3` into terms, ordering them, matching one
//! term (name, glob or `~regex`) and its `[0]` / `[1:3]` subscript.

use super::error::InventoryError;
use regex::Regex;

/// Split a pattern into terms as Ansible's `split_host_pattern` does: on commas if there are
/// any, otherwise on colons outside `[...]` (so `web[1:3]` and IPv6 addresses stay whole).
pub(crate) fn split(pattern: &str) -> Vec<String> {
    let terms: Vec<String> = if pattern.contains(',') {
        pattern.split(',').map(str::to_string).collect()
    } else if looks_like_ipv6(pattern.trim()) {
        vec![pattern.to_string()]
    } else {
        let mut terms = Vec::new();
        let mut current = String::new();
        let mut in_brackets = false;
        for c in pattern.chars() {
            match c {
                '[' if !in_brackets => {
                    in_brackets = true;
                    current.push(c);
                }
                ']' if in_brackets => {
                    in_brackets = false;
                    current.push(c);
                }
                ':' if !in_brackets => terms.push(std::mem::take(&mut current)),
                c if c.is_whitespace() && !in_brackets => terms.push(std::mem::take(&mut current)),
                c => current.push(c),
            }
        }
        terms.push(current);
        terms
    };
    terms
        .into_iter()
        .map(|term| term.trim().to_string())
        .filter(|term| !term.is_empty())
        .collect()
}

fn looks_like_ipv6(text: &str) -> bool {
    text.matches(':').count() >= 2
        && text
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
}

/// Unions first, then `&` intersections, then `!` exclusions; `all` when there is no union
/// (so `!web` means every host but the web servers).
pub(crate) fn order(terms: &[String]) -> Vec<&str> {
    let union = terms
        .iter()
        .filter(|t| !t.starts_with(['&', '!']))
        .map(String::as_str);
    let intersect = terms
        .iter()
        .filter(|t| t.starts_with('&'))
        .map(String::as_str);
    let exclude = terms
        .iter()
        .filter(|t| t.starts_with('!'))
        .map(String::as_str);
    let mut ordered: Vec<&str> = union.collect();
    if ordered.is_empty() {
        ordered.push("all");
    }
    ordered.extend(intersect);
    ordered.extend(exclude);
    ordered
}

/// A `[n]` or `[start:end]` after a pattern, inclusive at both ends as in Ansible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Subscript {
    /// One host; negative counts from the end.
    Index(i64),
    /// `start` through `end` (the last host when `end` is missing).
    Range(usize, Option<usize>),
}

/// Separate a trailing subscript; regexes never have one.
pub(crate) fn split_subscript(term: &str) -> (&str, Option<Subscript>) {
    if term.starts_with('~') || !term.ends_with(']') {
        return (term, None);
    }
    let Some(open) = term.rfind('[') else {
        return (term, None);
    };
    let head = &term[..open];
    let inside = &term[open + 1..term.len() - 1];
    if head.is_empty() {
        return (term, None);
    }
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if digits(inside.strip_prefix('-').unwrap_or(inside)) {
        if let Ok(index) = inside.parse() {
            return (head, Some(Subscript::Index(index)));
        }
    }
    if let Some((start, end)) = inside.split_once([':', '-']) {
        if digits(start) && (end.is_empty() || digits(end)) {
            if let Ok(start) = start.parse() {
                return (head, Some(Subscript::Range(start, end.parse().ok())));
            }
        }
    }
    (term, None)
}

/// Apply a subscript to matched hosts; out of range selects nothing.
pub(crate) fn apply_subscript(hosts: Vec<usize>, subscript: Option<Subscript>) -> Vec<usize> {
    match subscript {
        None => hosts,
        Some(Subscript::Index(index)) => {
            let position = if index < 0 {
                hosts.len() as i64 + index
            } else {
                index
            };
            usize::try_from(position)
                .ok()
                .and_then(|p| hosts.get(p).copied())
                .into_iter()
                .collect()
        }
        // Ansible reads `[n:0]` as `[n]` (its end of 0 is falsy); kept for the same hosts.
        Some(Subscript::Range(start, Some(0))) => hosts.get(start).copied().into_iter().collect(),
        Some(Subscript::Range(start, end)) => {
            let end = end.unwrap_or(usize::MAX).min(hosts.len().saturating_sub(1));
            if hosts.is_empty() || start > end {
                Vec::new()
            } else {
                hosts[start..=end].to_vec()
            }
        }
    }
}

/// One term compiled: a glob (fnmatch, whole name) or a `~regex` (anchored at the start only,
/// like Python's `re.match`).
#[derive(Debug)]
pub(crate) struct Matcher {
    regex: Regex,
    wild: bool,
}

impl Matcher {
    /// Compile a term without its `&`/`!` prefix or subscript.
    pub fn new(term: &str) -> Result<Matcher, InventoryError> {
        let (source, wild) = match term.strip_prefix('~') {
            Some(regex) => (format!("^(?:{regex})"), true),
            None => (
                format!("(?s)^(?:{})$", glob_to_regex(term)),
                term.contains(['.', '?', '*', '[']),
            ),
        };
        let regex = Regex::new(&source).map_err(|error| InventoryError::BadPattern {
            pattern: term.to_string(),
            reason: error
                .to_string()
                .lines()
                .last()
                .unwrap_or("")
                .trim()
                .to_lowercase(),
        })?;
        Ok(Matcher { regex, wild })
    }

    /// True when `name` matches.
    pub fn matches(&self, name: &str) -> bool {
        self.regex.is_match(name)
    }

    /// True for a term that may name hosts as well as groups (Ansible looks at host names for
    /// these even when a group matched).
    pub fn is_wild(&self) -> bool {
        self.wild
    }
}

/// Python's `fnmatch.translate`: `*`, `?`, `[seq]`, `[!seq]`; everything else literal.
fn glob_to_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => {
                if !out.ends_with(".*") {
                    out.push_str(".*");
                }
            }
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if j < chars.len() && chars[j] == '!' {
                    j += 1;
                }
                if j < chars.len() && chars[j] == ']' {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str("\\[");
                    continue;
                }
                let set: Vec<char> = chars[i..j].to_vec();
                i = j + 1;
                out.push('[');
                let mut rest = set.as_slice();
                if let Some(('!', tail)) = rest.split_first().map(|(c, t)| (*c, t)) {
                    out.push('^');
                    rest = tail;
                }
                for c in rest {
                    if *c == '-' {
                        out.push('-');
                    } else {
                        out.push_str(&regex::escape(&c.to_string()));
                    }
                }
                out.push(']');
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_ansible() {
        assert_eq!(split("web:&prod:!web3"), ["web", "&prod", "!web3"]);
        assert_eq!(split("web, db"), ["web", "db"]);
        assert_eq!(split("web[1:3]:db"), ["web[1:3]", "db"]);
        assert_eq!(split("2001:db8::1"), ["2001:db8::1"]);
        assert_eq!(split(""), Vec::<String>::new());
    }

    #[test]
    fn orders_unions_then_intersections_then_exclusions() {
        let terms = split("!web3:&prod:web");
        assert_eq!(order(&terms), ["web", "&prod", "!web3"]);
        let terms = split("!web3");
        assert_eq!(order(&terms), ["all", "!web3"]);
    }

    #[test]
    fn subscripts() {
        assert_eq!(
            split_subscript("web[0]"),
            ("web", Some(Subscript::Index(0)))
        );
        assert_eq!(
            split_subscript("web[-1]"),
            ("web", Some(Subscript::Index(-1)))
        );
        assert_eq!(
            split_subscript("web[1:]"),
            ("web", Some(Subscript::Range(1, None)))
        );
        assert_eq!(split_subscript("~web[0]"), ("~web[0]", None));
        assert_eq!(split_subscript("web[ab]"), ("web[ab]", None));
        let hosts = vec![10, 11, 12, 13];
        assert_eq!(
            apply_subscript(hosts.clone(), Some(Subscript::Index(-1))),
            [13]
        );
        assert_eq!(
            apply_subscript(hosts.clone(), Some(Subscript::Range(1, Some(2)))),
            [11, 12]
        );
        assert_eq!(
            apply_subscript(hosts.clone(), Some(Subscript::Range(2, None))),
            [12, 13]
        );
        assert_eq!(
            apply_subscript(hosts, Some(Subscript::Index(9))),
            Vec::<usize>::new()
        );
    }

    #[test]
    fn globs_match_whole_names() {
        let matcher = Matcher::new("web*").unwrap();
        assert!(matcher.matches("web01"));
        assert!(!matcher.matches("oldweb01"));
        let matcher = Matcher::new("*.example.org").unwrap();
        assert!(matcher.matches("db.example.org"));
        assert!(!matcher.matches("db.example.org.uk"));
        assert!(!matcher.matches("dbXexample.org"));
        let matcher = Matcher::new("db-[!b]").unwrap();
        assert!(matcher.matches("db-a"));
        assert!(!matcher.matches("db-b"));
        assert!(!Matcher::new("web").unwrap().is_wild());
    }

    #[test]
    fn regexes_anchor_at_the_start_only() {
        let matcher = Matcher::new("~(web|db)0[12]").unwrap();
        assert!(matcher.matches("web01.example.org"));
        assert!(!matcher.matches("xweb01"));
        let error = Matcher::new("~web(").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("invalid regular expression in host pattern `~web(`"),
            "{error}"
        );
    }
}
