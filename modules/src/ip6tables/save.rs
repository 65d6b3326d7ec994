//! The `ip6tables-save` / `iptables-save` text format: parse it, normalise rules to the
//! kernel's own spelling, render it back, and compare two rulesets chain by chain.
//!
//! Everything here is pure. The kernel rewrites what people write (`-p tcp --dport ssh`
//! comes back as `-p tcp -m tcp --dport 22`, `-s 2001:DB8::1` as `-s 2001:db8::1/128`,
//! `--state ESTABLISHED,RELATED` as `RELATED,ESTABLISHED`); [`normalise_rule`] applies the
//! common rewrites so that text a person wrote compares equal to what `ip6tables-save`
//! prints. Applied to `ip6tables-save` output it changes nothing. Counters (`[0:0]`) and
//! `#` comment lines are dropped while parsing; `-m comment --comment` stays part of a rule.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// IPv4 (`iptables`) or IPv6 (`ip6tables`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `iptables`, `iptables-save`, `iptables-restore`.
    V4,
    /// `ip6tables`, `ip6tables-save`, `ip6tables-restore`.
    V6,
}

impl Family {
    /// The command's base name: `iptables` or `ip6tables`.
    pub fn command(self) -> &'static str {
        match self {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        }
    }

    /// `ipv4` or `ipv6`, as Ansible's `ip_version` spells it.
    pub fn ip_version(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }
}

/// A whole ruleset: the tables in the order the text gave them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ruleset {
    /// `*filter`, `*nat`, …
    pub tables: Vec<Table>,
}

/// One table (`*filter` … `COMMIT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// `filter`, `nat`, `mangle`, `raw` or `security`.
    pub name: String,
    /// Its chains: declared ones in order, then built-in chains only used by `-A`.
    pub chains: Vec<Chain>,
}

/// One chain and its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    /// The chain's name.
    pub name: String,
    /// The policy of a built-in chain (`ACCEPT`, `DROP`); `None` for user chains (`-`).
    pub policy: Option<String>,
    /// The rules, in order.
    pub rules: Vec<Rule>,
}

/// A rule: the words after `-A CHAIN`, unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule(pub Vec<String>);

/// A line of ruleset text that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The built-in chains of a table, in the order `ip6tables-save` lists them.
pub fn builtin_chains(table: &str) -> &'static [&'static str] {
    match table {
        "filter" | "security" => &["INPUT", "FORWARD", "OUTPUT"],
        "nat" => &["PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"],
        "mangle" => &["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"],
        "raw" => &["PREROUTING", "OUTPUT"],
        _ => &[],
    }
}

impl Table {
    /// The chain called `name`.
    pub fn chain(&self, name: &str) -> Option<&Chain> {
        self.chains.iter().find(|chain| chain.name == name)
    }

    fn chain_mut(&mut self, name: &str) -> Option<&mut Chain> {
        self.chains.iter_mut().find(|chain| chain.name == name)
    }
}

impl Ruleset {
    /// The table called `name`.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|table| table.name == name)
    }
}

impl Chain {
    /// The chain as the lines a diff shows: `:NAME POLICY` then `-A NAME …` per rule.
    pub fn text(&self) -> String {
        let mut out = format!(":{} {}\n", self.name, self.policy.as_deref().unwrap_or("-"));
        for rule in &self.rules {
            let _ = writeln!(out, "-A {} {}", self.name, render_words(&rule.0));
        }
        out
    }
}

/// Split a rule line into words the way `ip6tables-restore` does: whitespace separates,
/// double quotes group, a backslash escapes the next character.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let next = chars
                    .next()
                    .ok_or_else(|| "a backslash ends the line".to_string())?;
                current.push(next);
                in_word = true;
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            c => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quoted {
        return Err("a double quote is not closed".into());
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

/// Render words as `ip6tables-save` does: plain when safe, else in double quotes with `"`
/// and `\` escaped.
pub fn render_words(words: &[String]) -> String {
    words
        .iter()
        .map(|word| {
            let plain = !word.is_empty()
                && word
                    .chars()
                    .all(|c| !c.is_whitespace() && c != '"' && c != '\\' && c != '\'');
            if plain {
                word.clone()
            } else {
                format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parse ruleset text (what `ip6tables-save` prints or `ip6tables-restore` reads).
pub fn parse(text: &str) -> Result<Ruleset, ParseError> {
    let mut ruleset = Ruleset::default();
    let mut open: Option<Table> = None;
    let mut last_line = 0;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        last_line = number;
        let error = |message: String| ParseError {
            line: number,
            message,
        };
        let mut line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        // `ip6tables-save -c` puts `[packets:bytes]` before each rule.
        if line.starts_with('[') {
            if let Some(end) = line.find(']') {
                line = line[end + 1..].trim_start();
            }
        }
        if let Some(name) = line.strip_prefix('*') {
            if let Some(table) = &open {
                return Err(error(format!(
                    "table `{}` is not closed with COMMIT before `*{name}`",
                    table.name
                )));
            }
            let name = name.trim();
            if builtin_chains(name).is_empty() {
                return Err(error(format!(
                    "`{name}` is not a table (filter, nat, mangle, raw, security)"
                )));
            }
            if ruleset.table(name).is_some() {
                return Err(error(format!("table `{name}` appears twice")));
            }
            open = Some(Table {
                name: name.to_string(),
                chains: Vec::new(),
            });
            continue;
        }
        let Some(table) = open.as_mut() else {
            return Err(error(format!(
                "`{line}` is outside a table; start one with `*filter`"
            )));
        };
        if line == "COMMIT" {
            if let Some(table) = open.take() {
                ruleset.tables.push(table);
            }
            continue;
        }
        if let Some(declaration) = line.strip_prefix(':') {
            let mut fields = declaration.split_whitespace();
            let name = fields.next().unwrap_or_default();
            let policy = fields.next().unwrap_or("-");
            check_chain_name(name).map_err(error)?;
            let builtin = builtin_chains(&table.name).contains(&name);
            let policy = match (policy, builtin) {
                ("-", false) => None,
                ("-", true) => {
                    return Err(error(format!(
                        "built-in chain `{name}` needs a policy (ACCEPT or DROP)"
                    )))
                }
                (_, false) => {
                    return Err(error(format!(
                        "`{name}` is not a built-in chain of `{}`, so it has no policy; write `:{name} - [0:0]`",
                        table.name
                    )))
                }
                (policy, true) => Some(policy.to_string()),
            };
            if table.chain(name).is_some() {
                return Err(error(format!("chain `{name}` is declared twice")));
            }
            table.chains.push(Chain {
                name: name.to_string(),
                policy,
                rules: Vec::new(),
            });
            continue;
        }
        let words = split_words(line).map_err(error)?;
        let Some((command, rest)) = words.split_first() else {
            continue;
        };
        if command != "-A" && command != "--append" {
            return Err(error(format!(
                "`{command}` is not supported here; a ruleset holds `:CHAIN POLICY` and `-A CHAIN …` lines"
            )));
        }
        let Some((chain, rule)) = rest.split_first() else {
            return Err(error("`-A` needs a chain".into()));
        };
        if table.chain(chain).is_none() {
            if builtin_chains(&table.name).contains(&chain.as_str()) {
                table.chains.push(Chain {
                    name: chain.clone(),
                    policy: Some("ACCEPT".into()),
                    rules: Vec::new(),
                });
            } else {
                return Err(error(format!(
                    "chain `{chain}` is not declared in table `{}`; add `:{chain} - [0:0]` before its rules",
                    table.name
                )));
            }
        }
        if let Some(target) = table.chain_mut(chain) {
            target.rules.push(Rule(rule.to_vec()));
        }
    }
    if let Some(table) = open {
        return Err(ParseError {
            line: last_line,
            message: format!("table `{}` has no COMMIT", table.name),
        });
    }
    Ok(ruleset)
}

/// A chain name `ip6tables` accepts (and that cannot smuggle anything into a command line).
pub fn check_chain_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 28
        || name.starts_with(['-', '!'])
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
    {
        return Err(format!(
            "`{name}` is not a chain name (letters, digits, `_`, `.`, `-`, at most 28 characters)"
        ));
    }
    Ok(())
}

/// The table in canonical shape: every built-in chain present (`ACCEPT` unless declared)
/// in the kernel's order, then user chains in their order, every rule normalised.
pub fn normalise_table(table: &Table, family: Family) -> Table {
    let mut chains = Vec::new();
    for name in builtin_chains(&table.name) {
        chains.push(match table.chain(name) {
            Some(chain) => chain.clone(),
            None => Chain {
                name: (*name).to_string(),
                policy: Some("ACCEPT".into()),
                rules: Vec::new(),
            },
        });
    }
    for chain in &table.chains {
        if !builtin_chains(&table.name).contains(&chain.name.as_str()) {
            chains.push(chain.clone());
        }
    }
    for chain in &mut chains {
        for rule in &mut chain.rules {
            rule.0 = normalise_rule(&rule.0, family);
        }
    }
    Table {
        name: table.name.clone(),
        chains,
    }
}

/// Every table normalised (see [`normalise_table`]).
pub fn normalise(ruleset: &Ruleset, family: Family) -> Ruleset {
    Ruleset {
        tables: ruleset
            .tables
            .iter()
            .map(|table| normalise_table(table, family))
            .collect(),
    }
}

/// Render a ruleset as `ip6tables-restore` input (built-in chains with `[0:0]` counters).
pub fn render(ruleset: &Ruleset) -> String {
    let mut out = String::new();
    for table in &ruleset.tables {
        let _ = writeln!(out, "*{}", table.name);
        for chain in &table.chains {
            let _ = writeln!(
                out,
                ":{} {} [0:0]",
                chain.name,
                chain.policy.as_deref().unwrap_or("-")
            );
        }
        for chain in &table.chains {
            for rule in &chain.rules {
                let _ = writeln!(out, "-A {} {}", chain.name, render_words(&rule.0));
            }
        }
        out.push_str("COMMIT\n");
    }
    out
}

/// One chain that differs between the live and the desired ruleset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainDiff {
    /// The table.
    pub table: String,
    /// The chain.
    pub chain: String,
    /// The live chain as [`Chain::text`]; `None` when it does not exist.
    pub before: Option<String>,
    /// The desired chain; `None` when it will be deleted.
    pub after: Option<String>,
}

/// The chains of `desired`'s tables whose policy or rules differ in `live` (both already
/// normalised). Tables `desired` does not mention are not compared: restoring a table
/// leaves the others alone. A table missing from `live` counts as its empty default.
pub fn diff(live: &Ruleset, desired: &Ruleset) -> Vec<ChainDiff> {
    let mut found = Vec::new();
    for want in &desired.tables {
        let empty = Table {
            name: want.name.clone(),
            chains: Vec::new(),
        };
        let have = live
            .table(&want.name)
            .cloned()
            .unwrap_or_else(|| normalise_table(&empty, Family::V6));
        for chain in &want.chains {
            let before = have.chain(&chain.name).map(Chain::text);
            let after = Some(chain.text());
            if before != after {
                found.push(ChainDiff {
                    table: want.name.clone(),
                    chain: chain.name.clone(),
                    before,
                    after,
                });
            }
        }
        for chain in &have.chains {
            if want.chain(&chain.name).is_none() {
                found.push(ChainDiff {
                    table: want.name.clone(),
                    chain: chain.name.clone(),
                    before: Some(chain.text()),
                    after: None,
                });
            }
        }
    }
    found
}

/// Options the kernel prints first, in its order (`-s -d -i -o -p -f`).
const HEAD_OPTIONS: &[&str] = &["-s", "-d", "-i", "-o", "-p", "-f"];

fn long_alias(word: &str) -> &str {
    match word {
        "--source" | "--src" => "-s",
        "--destination" | "--dst" => "-d",
        "--in-interface" => "-i",
        "--out-interface" => "-o",
        "--protocol" => "-p",
        "--fragment" => "-f",
        "--jump" => "-j",
        "--goto" => "-g",
        "--match" => "-m",
        "--destination-port" => "--dport",
        "--source-port" => "--sport",
        other => other,
    }
}

/// Normalise one rule's words to the kernel's spelling (see the module documentation).
pub fn normalise_rule(words: &[String], family: Family) -> Vec<String> {
    let words: Vec<String> = words.iter().map(|w| long_alias(w).to_string()).collect();
    // Pull the head options (with a preceding `!`) out, keep everything else in order.
    let mut head: Vec<(usize, Vec<String>)> = Vec::new();
    let mut rest: Vec<String> = Vec::new();
    let mut index = 0;
    while index < words.len() {
        let negated = words[index] == "!";
        let option_at = if negated { index + 1 } else { index };
        let option = words.get(option_at).map(String::as_str).unwrap_or_default();
        if let Some(rank) = HEAD_OPTIONS.iter().position(|head| *head == option) {
            let mut group: Vec<String> = Vec::new();
            if negated {
                group.push("!".into());
            }
            group.push(option.to_string());
            let takes_value = option != "-f";
            if takes_value {
                if let Some(value) = words.get(option_at + 1) {
                    group.push(normalise_head_value(option, value, family));
                }
                index = option_at + 2;
            } else {
                index = option_at + 1;
            }
            head.push((rank, group));
            continue;
        }
        rest.push(words[index].clone());
        index += 1;
    }
    head.sort_by_key(|(rank, _)| *rank);
    let protocol = head
        .iter()
        .find(|(rank, group)| *rank == 4 && group.first().map(String::as_str) != Some("!"))
        .and_then(|(_, group)| group.last().cloned());
    let (matches, target) = split_target(&rest, protocol.as_deref());
    let mut out: Vec<String> = head.into_iter().flat_map(|(_, group)| group).collect();
    out.extend(normalise_matches(&matches, protocol.as_deref(), family));
    out.extend(target);
    out
}

/// How many values a protocol option takes.
fn option_values(option: &str) -> usize {
    match option {
        "--syn" => 0,
        "--tcp-flags" => 2,
        _ => 1,
    }
}

/// Separate the target (`-j NAME` and its options) from the matches: the kernel prints the
/// target last. After `-j`, a `-m` starts a match again, and an option of the protocol's own
/// match (`--dport` after `-p tcp`) belongs to that match, as `ip6tables` parses it.
fn split_target(words: &[String], protocol: Option<&str>) -> (Vec<String>, Vec<String>) {
    let mut matches = Vec::new();
    let mut target = Vec::new();
    let mut in_target = false;
    // Matches loaded so far: an option of one of them after `-j` still belongs to it (Ansible
    // writes `-m conntrack -j ACCEPT --ctstate NEW`).
    let mut loaded: Vec<String> = Vec::new();
    let mut index = 0;
    while index < words.len() {
        let word = words[index].as_str();
        match word {
            "-j" | "-g" => in_target = true,
            "-m" => {
                in_target = false;
                loaded.extend(words.get(index + 1).cloned());
            }
            _ => {}
        }
        if in_target {
            let negated = word == "!";
            let option = if negated {
                words.get(index + 1).map(String::as_str).unwrap_or_default()
            } else {
                word
            };
            let loaded_option = loaded
                .iter()
                .find_map(|name| loaded_match_values(name, option));
            if protocol.and_then(|p| implicit_match(p, option)).is_some() || loaded_option.is_some()
            {
                let values = loaded_option.unwrap_or_else(|| option_values(option));
                let count = usize::from(negated) + 1 + values;
                let end = (index + count).min(words.len());
                matches.extend_from_slice(&words[index..end]);
                index = end;
                continue;
            }
            target.push(words[index].clone());
        } else {
            matches.push(words[index].clone());
        }
        index += 1;
    }
    (matches, target)
}

fn normalise_head_value(option: &str, value: &str, family: Family) -> String {
    match option {
        "-p" => normalise_protocol(value, family),
        "-s" | "-d" => normalise_address(value, family),
        _ => value.to_string(),
    }
}

fn normalise_protocol(value: &str, family: Family) -> String {
    let lower = value.to_ascii_lowercase();
    match (lower.as_str(), family) {
        ("icmpv6" | "icmp6" | "58", Family::V6) => "ipv6-icmp".into(),
        ("1", _) => "icmp".into(),
        ("6", _) => "tcp".into(),
        ("17", _) => "udp".into(),
        ("132", _) => "sctp".into(),
        _ => lower,
    }
}

/// `2001:DB8:0:0::1` → `2001:db8::1/128`, `10.0.0.1/255.255.255.0` → `10.0.0.0/24`; names and
/// lists are left as written.
pub fn normalise_address(value: &str, family: Family) -> String {
    let (address, prefix) = match value.split_once('/') {
        Some((address, prefix)) => (address, Some(prefix)),
        None => (value, None),
    };
    match family {
        Family::V6 => {
            let Ok(parsed) = address.parse::<Ipv6Addr>() else {
                return value.to_string();
            };
            let bits = match prefix {
                None => 128,
                Some(text) => match text.parse::<u32>() {
                    Ok(bits) if bits <= 128 => bits,
                    _ => return value.to_string(),
                },
            };
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            format!("{}/{bits}", Ipv6Addr::from(u128::from(parsed) & mask))
        }
        Family::V4 => {
            let Ok(parsed) = address.parse::<Ipv4Addr>() else {
                return value.to_string();
            };
            let bits = match prefix {
                None => 32,
                Some(text) => match (text.parse::<u32>(), text.parse::<Ipv4Addr>()) {
                    (Ok(bits), _) if bits <= 32 => bits,
                    (_, Ok(mask))
                        if u32::from(mask).leading_ones() == u32::from(mask).count_ones() =>
                    {
                        u32::from(mask).count_ones()
                    }
                    _ => return value.to_string(),
                },
            };
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            format!("{}/{bits}", Ipv4Addr::from(u32::from(parsed) & mask))
        }
    }
}

/// The implicit match module `-p PROTO` loads for `option`, if the option belongs to it.
/// How many values `option` of the loaded match `name` takes, when it is one of its options.
fn loaded_match_values(name: &str, option: &str) -> Option<usize> {
    match (name, option) {
        ("conntrack", "--ctstate")
        | ("state", "--state")
        | ("iprange", "--src-range" | "--dst-range")
        | ("multiport", "--dports" | "--sports" | "--ports")
        | ("limit", "--limit" | "--limit-burst")
        | ("owner", "--uid-owner" | "--gid-owner")
        | ("comment", "--comment")
        | ("tcp" | "udp", "--dport" | "--sport")
        | ("icmp", "--icmp-type")
        | ("icmp6", "--icmpv6-type") => Some(1),
        ("set", "--match-set") | ("tcp", "--tcp-flags") => Some(2),
        ("tcp", "--syn") => Some(0),
        _ => None,
    }
}

fn implicit_match(protocol: &str, option: &str) -> Option<&'static str> {
    match (protocol, option) {
        ("tcp", "--sport" | "--dport" | "--tcp-flags" | "--syn" | "--tcp-option") => Some("tcp"),
        ("udp", "--sport" | "--dport") => Some("udp"),
        ("udplite", "--sport" | "--dport") => Some("udplite"),
        ("sctp", "--sport" | "--dport" | "--chunk-types") => Some("sctp"),
        ("ipv6-icmp", "--icmpv6-type") => Some("icmp6"),
        ("icmp", "--icmp-type") => Some("icmp"),
        _ => None,
    }
}

fn normalise_matches(words: &[String], protocol: Option<&str>, family: Family) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    let mut in_target = false;
    let mut index = 0;
    while index < words.len() {
        let word = &words[index];
        if word == "-j" || word == "-g" {
            in_target = true;
        }
        if word == "-m" && !in_target {
            current = words.get(index + 1).cloned();
        }
        if !in_target {
            if let Some(module) = protocol.and_then(|p| implicit_match(p, word)) {
                if current.as_deref() != Some(module) {
                    // The option may follow a `!`, which belongs after `-m MODULE`.
                    let negated = out.last().map(String::as_str) == Some("!");
                    if negated {
                        out.pop();
                    }
                    out.push("-m".into());
                    out.push(module.into());
                    if negated {
                        out.push("!".into());
                    }
                    current = Some(module.to_string());
                }
            }
        }
        if word == "--syn" && !in_target {
            // The kernel keeps `--syn` as the flags it stands for.
            out.extend(["--tcp-flags", "FIN,SYN,RST,ACK", "SYN"].map(String::from));
            index += 1;
            continue;
        }
        out.push(word.clone());
        let value = words.get(index + 1);
        let normalised = match (word.as_str(), value, in_target) {
            ("--dport" | "--sport", Some(value), false) => Some(normalise_ports(value)),
            ("--dports" | "--sports" | "--ports", Some(value), false) => Some(
                value
                    .split(',')
                    .map(normalise_ports)
                    .collect::<Vec<_>>()
                    .join(","),
            ),
            ("--state" | "--ctstate", Some(value), false) => Some(normalise_states(value)),
            ("--icmpv6-type", Some(value), false) if family == Family::V6 => {
                Some(icmpv6_type(value).unwrap_or(value).to_string())
            }
            ("--icmp-type", Some(value), false) => {
                Some(icmp_type(value).unwrap_or(value).to_string())
            }
            _ => None,
        };
        if let Some(normalised) = normalised {
            out.push(normalised);
            index += 2;
        } else {
            index += 1;
        }
    }
    out
}

fn normalise_ports(value: &str) -> String {
    value
        .split(':')
        .map(|port| service_port(port).unwrap_or(port).to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// The port of a few well-known service names (what `/etc/services` says).
fn service_port(name: &str) -> Option<&'static str> {
    Some(match name {
        "ftp" => "21",
        "ssh" => "22",
        "telnet" => "23",
        "smtp" => "25",
        "domain" => "53",
        "bootps" => "67",
        "bootpc" => "68",
        "http" | "www" => "80",
        "pop3" => "110",
        "ntp" => "123",
        "imap" | "imap2" => "143",
        "https" => "443",
        "submissions" | "smtps" => "465",
        "dhcpv6-client" => "546",
        "dhcpv6-server" => "547",
        "submission" => "587",
        "imaps" => "993",
        "pop3s" => "995",
        _ => return None,
    })
}

fn normalise_states(value: &str) -> String {
    const ORDER: &[&str] = &[
        "INVALID",
        "NEW",
        "RELATED",
        "ESTABLISHED",
        "UNTRACKED",
        "SNAT",
        "DNAT",
    ];
    let states: Vec<String> = value.split(',').map(|s| s.to_ascii_uppercase()).collect();
    if !states.iter().all(|s| ORDER.contains(&s.as_str())) {
        return value.to_string();
    }
    ORDER
        .iter()
        .filter(|known| states.iter().any(|s| s == *known))
        .copied()
        .collect::<Vec<_>>()
        .join(",")
}

/// ICMPv6 type names `ip6tables` knows → the number `ip6tables-save` prints.
fn icmpv6_type(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "destination-unreachable" => "1",
        "packet-too-big" => "2",
        "time-exceeded" | "ttl-exceeded" => "3",
        "parameter-problem" => "4",
        "echo-request" | "ping" => "128",
        "echo-reply" | "pong" => "129",
        "router-solicitation" => "133",
        "router-advertisement" => "134",
        "neighbour-solicitation" | "neighbor-solicitation" => "135",
        "neighbour-advertisement" | "neighbor-advertisement" => "136",
        "redirect" => "137",
        _ => return None,
    })
}

/// ICMP type names `iptables` knows → the number `iptables-save` prints.
fn icmp_type(name: &str) -> Option<&'static str> {
    Some(match name.to_ascii_lowercase().as_str() {
        "echo-reply" | "pong" => "0",
        "destination-unreachable" => "3",
        "redirect" => "5",
        "echo-request" | "ping" => "8",
        "router-advertisement" => "9",
        "router-solicitation" => "10",
        "time-exceeded" | "ttl-exceeded" => "11",
        "parameter-problem" => "12",
        "timestamp-request" => "13",
        "timestamp-reply" => "14",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        split_words(text).expect("words")
    }

    #[test]
    fn split_words_handles_quotes_and_escapes() {
        assert_eq!(
            words(r#"-m comment --comment "web \"x\" ; y" -j ACCEPT"#),
            [
                "-m",
                "comment",
                "--comment",
                "web \"x\" ; y",
                "-j",
                "ACCEPT"
            ]
        );
        assert!(split_words("--comment \"open").is_err());
    }

    #[test]
    fn render_words_round_trips_through_split_words() {
        let original = words(r#"--comment "a \\ b \"c\"" -j ACCEPT"#);
        assert_eq!(words(&render_words(&original)), original);
    }
}
