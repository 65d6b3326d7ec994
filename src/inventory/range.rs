//! Host names as written in an inventory: `web[01:03].example.org:2222` is three hosts on port
//! 2222. Both the YAML and the INI format go through [`parse_host_pattern`], as in Ansible.

use super::error::InventoryError;

/// More hosts than this from one line is almost certainly a typo (`[1:100000000]`), and
/// expanding it would exhaust memory before anything useful happened.
const MAX_EXPANDED: usize = 100_000;

/// Ansible's alphabetic range alphabet (`string.ascii_letters`): `[x:B]` runs x..z, A, B.
const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The hosts a pattern names and the port it gives them (`name:port`), if any.
pub(crate) fn parse_host_pattern(text: &str) -> Result<(Vec<String>, Option<u16>), InventoryError> {
    let (name, port) = split_port(text)?;
    Ok((expand(name, text)?, port))
}

/// Split `host:port`. A bare IPv6 address has several colons and no port; `[v6addr]:port`
/// brackets it. Colons inside a range (`web[1:3]`) are not port separators.
fn split_port(text: &str) -> Result<(&str, Option<u16>), InventoryError> {
    if let Some(rest) = text.strip_prefix('[') {
        if let Some(close) = rest.find(']') {
            let inside = &rest[..close];
            if inside.contains("::") || inside.chars().filter(|c| *c == ':').count() > 1 {
                let after = &rest[close + 1..];
                return match after.strip_prefix(':') {
                    Some(port) => Ok((inside, Some(parse_port(port, text)?))),
                    None if after.is_empty() => Ok((inside, None)),
                    None => Err(InventoryError::BadRange {
                        pattern: text.into(),
                        reason: "unexpected text after a bracketed IPv6 address".into(),
                    }),
                };
            }
        }
    }
    let mut depth = 0usize;
    let mut colons = Vec::new();
    for (index, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => colons.push(index),
            _ => {}
        }
    }
    match colons.as_slice() {
        [index] => {
            let port = &text[index + 1..];
            Ok((&text[..*index], Some(parse_port(port, text)?)))
        }
        _ => Ok((text, None)),
    }
}

fn parse_port(port: &str, pattern: &str) -> Result<u16, InventoryError> {
    match port.parse::<u16>() {
        Ok(number) if number > 0 => Ok(number),
        _ => Err(InventoryError::BadVariable {
            name: "ansible_port".into(),
            expected: "a port number (1-65535)",
            found: format!("`{port}` (in `{pattern}`)"),
        }),
    }
}

/// Expand every `[begin:end]` / `[begin:end:step]` in `name`, left to right.
fn expand(name: &str, pattern: &str) -> Result<Vec<String>, InventoryError> {
    let bad = |reason: &str| InventoryError::BadRange {
        pattern: pattern.into(),
        reason: reason.into(),
    };
    let Some(open) = name.find('[') else {
        if name.contains(']') {
            return Err(bad("`]` without `[`"));
        }
        return Ok(vec![name.to_string()]);
    };
    let close = match name[open..].find(']') {
        Some(offset) => open + offset,
        None => return Err(bad("`[` without `]`")),
    };
    let head = &name[..open];
    let range = &name[open + 1..close];
    let tail = &name[close + 1..];
    let bounds: Vec<&str> = range.split(':').collect();
    let (begin, end, step) = match bounds.as_slice() {
        [begin, end] => (*begin, *end, "1"),
        [begin, end, step] => (*begin, *end, *step),
        _ => return Err(bad("a range must be `[begin:end]` or `[begin:end:step]`")),
    };
    let begin = if begin.is_empty() { "0" } else { begin };
    if end.is_empty() {
        return Err(bad("the range has no end"));
    }
    let step: usize = match step.parse() {
        Ok(step) if step > 0 => step,
        _ => return Err(bad("the step must be a positive number")),
    };
    let items: Vec<String> = match (LETTERS.find(begin), LETTERS.find(end)) {
        (Some(first), Some(last)) if begin.len() == 1 && end.len() == 1 => {
            if first > last {
                return Err(bad("the range must not run backwards"));
            }
            LETTERS[first..=last]
                .chars()
                .step_by(step)
                .map(String::from)
                .collect()
        }
        _ => {
            let (Ok(first), Ok(last)) = (begin.parse::<u64>(), end.parse::<u64>()) else {
                return Err(bad("bounds must both be numbers or both be single letters"));
            };
            if first > last {
                return Err(bad("the range must not run backwards"));
            }
            // A leading zero fixes the width: `[01:10]` gives 01 … 10, as in Ansible.
            let width = if begin.len() > 1 && begin.starts_with('0') {
                if begin.len() != end.len() {
                    return Err(bad("zero-padded bounds must have the same width"));
                }
                begin.len()
            } else {
                0
            };
            let count = (last - first) / step as u64 + 1;
            if count > MAX_EXPANDED as u64 {
                return Err(bad(&format!("it names more than {MAX_EXPANDED} hosts")));
            }
            (first..=last)
                .step_by(step)
                .map(|n| format!("{n:0width$}"))
                .collect()
        }
    };
    let tails = expand(tail, pattern)?;
    if items.len().saturating_mul(tails.len()) > MAX_EXPANDED {
        return Err(bad(&format!("it names more than {MAX_EXPANDED} hosts")));
    }
    let mut names = Vec::with_capacity(items.len() * tails.len());
    for item in &items {
        for tail in &tails {
            names.push(format!("{head}{item}{tail}"));
        }
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(text: &str) -> Vec<String> {
        parse_host_pattern(text).unwrap().0
    }

    #[test]
    fn numeric_range_keeps_zero_padding() {
        assert_eq!(
            hosts("web[01:03].example.org"),
            [
                "web01.example.org",
                "web02.example.org",
                "web03.example.org"
            ]
        );
        assert_eq!(hosts("n[8:10]"), ["n8", "n9", "n10"]);
    }

    #[test]
    fn alphabetic_range_and_step() {
        assert_eq!(hosts("db-[a:c]"), ["db-a", "db-b", "db-c"]);
        assert_eq!(hosts("n[0:6:3]"), ["n0", "n3", "n6"]);
        assert_eq!(hosts("n[:1]"), ["n0", "n1"]);
    }

    #[test]
    fn several_ranges_multiply() {
        assert_eq!(hosts("r[1:2]-[a:b]"), ["r1-a", "r1-b", "r2-a", "r2-b"]);
    }

    #[test]
    fn port_after_name_or_range() {
        assert_eq!(
            parse_host_pattern("web[1:2]:2222").unwrap(),
            (vec!["web1".to_string(), "web2".to_string()], Some(2222))
        );
        assert_eq!(parse_host_pattern("db.example.org:22").unwrap().1, Some(22));
    }

    #[test]
    fn ipv6_addresses_are_not_ports() {
        assert_eq!(
            parse_host_pattern("2001:db8::1").unwrap(),
            (vec!["2001:db8::1".into()], None)
        );
        assert_eq!(
            parse_host_pattern("[2001:db8::1]:2200").unwrap(),
            (vec!["2001:db8::1".into()], Some(2200))
        );
    }

    #[test]
    fn bad_ranges_are_refused() {
        let error = parse_host_pattern("web[3:1]").unwrap_err();
        assert_eq!(
            error.to_string(),
            "bad host range in `web[3:1]`: the range must not run backwards"
        );
        let error = parse_host_pattern("web[1]").unwrap_err();
        assert!(error.to_string().contains("`[begin:end]`"), "{error}");
        let error = parse_host_pattern("web[01:100]").unwrap_err();
        assert!(error.to_string().contains("same width"), "{error}");
        let error = parse_host_pattern("web[a:3]").unwrap_err();
        assert!(error.to_string().contains("both be numbers"), "{error}");
        let error = parse_host_pattern("web:ssh").unwrap_err();
        assert_eq!(
            error.to_string(),
            "`ansible_port` must be a port number (1-65535), not `ssh` (in `web:ssh`)"
        );
    }
}
