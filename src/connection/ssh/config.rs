//! The part of `~/.ssh/config` that the SSH transport honours.
//!
//! Read: `Host` blocks (patterns with `*`, `?` and `!negation`), and the keywords HostName, User,
//! Port, IdentityFile, IdentitiesOnly, UserKnownHostsFile, ProxyJump and ConnectTimeout. As in
//! OpenSSH the first value found for a keyword wins, except IdentityFile, which accumulates.
//! `Match` blocks are skipped (their conditions need a shell); `Include` is not followed.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the config file says about one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// `HostName`, with `%h` already replaced.
    pub host_name: Option<String>,
    /// `User`.
    pub user: Option<String>,
    /// `Port`.
    pub port: Option<u16>,
    /// Every `IdentityFile` that applies, in file order, `~` expanded.
    pub identity_files: Vec<PathBuf>,
    /// `IdentitiesOnly yes`.
    pub identities_only: bool,
    /// The first `UserKnownHostsFile`, `~` expanded.
    pub user_known_hosts_file: Option<PathBuf>,
    /// `ProxyJump`, unless it is `none`.
    pub proxy_jump: Option<String>,
    /// `ConnectTimeout`.
    pub connect_timeout: Option<Duration>,
}

/// A parsed config file: the `Host` blocks in order.
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    blocks: Vec<Block>,
}

#[derive(Debug, Clone)]
struct Block {
    /// `None` for the lines before the first `Host` (they apply to every host) and for `Match`
    /// blocks (which never apply).
    patterns: Option<Vec<String>>,
    is_match: bool,
    options: Vec<(String, String)>,
}

impl SshConfig {
    /// Read `path`; a missing file is an empty config.
    pub fn load(path: &Path) -> std::io::Result<SshConfig> {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(SshConfig::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SshConfig::default()),
            Err(e) => Err(e),
        }
    }

    /// Parse the text of a config file. Unknown keywords and malformed lines are ignored, as
    /// they do not change the keywords this transport reads.
    pub fn parse(text: &str) -> SshConfig {
        let mut blocks = vec![Block {
            patterns: None,
            is_match: false,
            options: Vec::new(),
        }];
        for line in text.lines() {
            let Some((key, value)) = split_line(line) else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            match key.as_str() {
                "host" => blocks.push(Block {
                    patterns: Some(value.split_whitespace().map(unquote).collect()),
                    is_match: false,
                    options: Vec::new(),
                }),
                "match" => blocks.push(Block {
                    patterns: None,
                    is_match: true,
                    options: Vec::new(),
                }),
                _ => {
                    if let Some(block) = blocks.last_mut() {
                        block.options.push((key, unquote(value)));
                    }
                }
            }
        }
        SshConfig { blocks }
    }

    /// The settings for a host known by any of `names` (the inventory name and the address).
    pub fn lookup(&self, names: &[&str], home: &Path) -> HostConfig {
        let mut out = HostConfig::default();
        let mut seen: Vec<&str> = Vec::new();
        let first = names.first().copied().unwrap_or_default();
        for block in &self.blocks {
            let applies = match (&block.patterns, block.is_match) {
                (_, true) => false,
                (None, false) => true,
                (Some(patterns), false) => names.iter().any(|n| host_matches(patterns, n)),
            };
            if !applies {
                continue;
            }
            for (key, value) in &block.options {
                if key == "identityfile" {
                    out.identity_files.push(expand_tilde(value, home));
                    continue;
                }
                if seen.contains(&key.as_str()) {
                    continue;
                }
                seen.push(key);
                match key.as_str() {
                    "hostname" => out.host_name = Some(value.replace("%h", first)),
                    "user" => out.user = Some(value.clone()),
                    "port" => out.port = value.parse().ok(),
                    "identitiesonly" => out.identities_only = value.eq_ignore_ascii_case("yes"),
                    "userknownhostsfile" => {
                        let first_file = value.split_whitespace().next().unwrap_or_default();
                        out.user_known_hosts_file = Some(expand_tilde(first_file, home));
                    }
                    "proxyjump" if !value.eq_ignore_ascii_case("none") => {
                        out.proxy_jump = Some(value.clone());
                    }
                    "connecttimeout" => {
                        out.connect_timeout = value.parse().ok().map(Duration::from_secs)
                    }
                    _ => {}
                }
            }
        }
        out
    }
}

/// `Keyword value`, `Keyword=value` or `Keyword = value`; `None` for blanks and comments.
fn split_line(line: &str) -> Option<(&str, &str)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let end = line.find(|c: char| c.is_whitespace() || c == '=')?;
    let key = &line[..end];
    let rest = line[end..].trim_start();
    let rest = rest.strip_prefix('=').unwrap_or(rest).trim();
    Some((key, rest))
}

fn unquote(value: &str) -> String {
    let v = value.trim();
    v.strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v)
        .to_string()
}

/// Replace a leading `~/` by the home directory.
pub fn expand_tilde(path: &str, home: &Path) -> PathBuf {
    match path.strip_prefix("~/") {
        Some(rest) => home.join(rest),
        None if path == "~" => home.to_path_buf(),
        None => PathBuf::from(path),
    }
}

/// OpenSSH's rule: some positive pattern matches and no negated one does.
pub fn host_matches(patterns: &[String], host: &str) -> bool {
    let mut matched = false;
    for pattern in patterns {
        for p in pattern.split(',') {
            if let Some(negated) = p.strip_prefix('!') {
                if wildcard_match(negated, host) {
                    return false;
                }
            } else if wildcard_match(p, host) {
                matched = true;
            }
        }
    }
    matched
}

/// Glob match with `*` (any run) and `?` (one character), case-insensitive like OpenSSH.
pub fn wildcard_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
# global
IdentityFile ~/.ssh/global_key

Host web? !web9 db-*
    HostName %h.example.internal
    User deploy
    Port=2222
    IdentityFile ~/.ssh/web_key
    IdentitiesOnly yes
    ProxyJump bastion

Match exec \"true\"
    User nobody

Host *
    User fallback
    Port 22
    UserKnownHostsFile ~/.ssh/kh /etc/ssh/kh2
    ConnectTimeout = 5
    ProxyJump none
";

    #[test]
    fn first_value_wins_and_identity_files_accumulate() {
        let config = SshConfig::parse(CONFIG);
        let home = Path::new("/home/u");
        let c = config.lookup(&["web1"], home);
        assert_eq!(c.host_name.as_deref(), Some("web1.example.internal"));
        assert_eq!(c.user.as_deref(), Some("deploy"));
        assert_eq!(c.port, Some(2222));
        assert!(c.identities_only);
        assert_eq!(c.proxy_jump.as_deref(), Some("bastion"));
        assert_eq!(
            c.identity_files,
            vec![
                PathBuf::from("/home/u/.ssh/global_key"),
                PathBuf::from("/home/u/.ssh/web_key")
            ]
        );
        assert_eq!(
            c.user_known_hosts_file,
            Some(PathBuf::from("/home/u/.ssh/kh"))
        );
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(5)));
    }

    #[test]
    fn negated_pattern_and_match_blocks_do_not_apply() {
        let config = SshConfig::parse(CONFIG);
        let c = config.lookup(&["web9"], Path::new("/h"));
        assert_eq!(c.user.as_deref(), Some("fallback"));
        assert_eq!(c.proxy_jump, None);
        assert_eq!(c.host_name, None);
    }

    #[test]
    fn either_name_or_address_selects_a_block() {
        let config = SshConfig::parse(CONFIG);
        let c = config.lookup(&["inventory-name", "db-3"], Path::new("/h"));
        assert_eq!(c.user.as_deref(), Some("deploy"));
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("10.0.*.1", "10.0.255.1"));
        assert!(wildcard_match("WEB*", "web1"));
        assert!(!wildcard_match("*.b", "a.c"));
    }
}
