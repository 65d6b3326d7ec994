//! The OpenSSH client options the SSH transport honours, from `~/.ssh/config` (or `-F FILE`)
//! and from `-o KEY=VALUE` in `ansible_ssh_common_args` and friends.
//!
//! Read from the config: `Host` blocks (patterns with `*`, `?` and `!negation`); `Match` blocks
//! are skipped (their conditions need a shell) and `Include` is not followed. As in OpenSSH the
//! first value obtained for a keyword wins (command-line `-o` options are applied before the
//! file), except IdentityFile, which accumulates.
//!
//! Every OpenSSH keyword is accepted. Those that mean something for converge are used (see
//! [`HostConfig`]); the rest only tune OpenSSH's own client (connection sharing, GSSAPI, agent
//! forwarding, logging…) and are recorded in [`HostConfig::notes`], which the run prints with
//! `-v`. StrictHostKeyChecking means what OpenSSH means: `yes`/`ask` refuse unknown hosts (there
//! is no terminal to ask on), `accept-new` records them, `no`/`off` records unknown hosts and
//! accepts changed keys (with a warning, and without password authentication), as OpenSSH does
//! for Ansible's `host_key_checking = False`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::HostKeyChecking;

/// How to reach the host when not directly: OpenSSH takes the first of ProxyJump and
/// ProxyCommand obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proxy {
    /// `ProxyJump host1,user@host2:port`.
    Jump(String),
    /// `ProxyCommand` (before `%h`/`%p`/`%r`/`%n` are replaced).
    Command(String),
    /// `ProxyJump none` or `ProxyCommand none`: connect directly.
    None,
}

/// `AddressFamily`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFamily {
    /// `inet` (`-4`).
    Inet,
    /// `inet6` (`-6`).
    Inet6,
}

/// What the command line and the config file say about one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostConfig {
    /// `HostName`, with `%h` already replaced.
    pub host_name: Option<String>,
    /// `User`.
    pub user: Option<String>,
    /// `Port`.
    pub port: Option<u16>,
    /// Every `IdentityFile` that applies, in order, `~` expanded.
    pub identity_files: Vec<PathBuf>,
    /// `IdentitiesOnly yes`.
    pub identities_only: bool,
    /// `UserKnownHostsFile` (several files may be named), `~` expanded.
    pub user_known_hosts_files: Vec<PathBuf>,
    /// `GlobalKnownHostsFile`, `~` expanded.
    pub global_known_hosts_files: Vec<PathBuf>,
    /// `HostKeyAlias`: the name looked up in known_hosts instead of the host's.
    pub host_key_alias: Option<String>,
    /// `StrictHostKeyChecking`.
    pub strict_host_key_checking: Option<HostKeyChecking>,
    /// `ProxyJump` or `ProxyCommand`, whichever came first.
    pub proxy: Option<Proxy>,
    /// `ConnectTimeout`.
    pub connect_timeout: Option<Duration>,
    /// `ServerAliveInterval` in seconds (0: no keepalives).
    pub server_alive_interval: Option<u32>,
    /// `ServerAliveCountMax`.
    pub server_alive_count_max: Option<u32>,
    /// `HostKeyAlgorithms`, as written (OpenSSH's `+`, `-`, `^` forms allowed).
    pub host_key_algorithms: Option<String>,
    /// `PubkeyAcceptedAlgorithms` (or its old name `PubkeyAcceptedKeyTypes`), as written.
    pub pubkey_accepted_algorithms: Option<String>,
    /// `KexAlgorithms`, as written.
    pub kex_algorithms: Option<String>,
    /// `Ciphers` (`-c`), as written.
    pub ciphers: Option<String>,
    /// `MACs` (`-m`), as written.
    pub macs: Option<String>,
    /// `Compression` (`-C`).
    pub compression: Option<bool>,
    /// `AddressFamily` (`-4`, `-6`); `None` for `any`.
    pub address_family: Option<AddressFamily>,
    /// `PasswordAuthentication`.
    pub password_authentication: Option<bool>,
    /// `PubkeyAuthentication`.
    pub pubkey_authentication: Option<bool>,
    /// Options accepted that change nothing for converge's client, and values that could not
    /// be used, in words (printed with `-v`).
    pub notes: Vec<String>,
    /// Keywords already given a value (the first one wins).
    seen: Vec<String>,
}

impl HostConfig {
    /// Apply `keyword value` unless the keyword already has a value (IdentityFile accumulates).
    /// `host` replaces `%h` in HostName. An error names a value that is not valid for its
    /// keyword; keywords converge has no use for are accepted and noted.
    pub fn set(
        &mut self,
        keyword: &str,
        value: &str,
        home: &Path,
        host: &str,
    ) -> Result<(), String> {
        let key = keyword.to_ascii_lowercase();
        let value = unquote(value);
        if key == "identityfile" || key == "certificatefile" {
            if key == "identityfile" {
                self.identity_files.push(expand_tilde(&value, home));
            } else {
                self.notes.push(format!(
                    "`CertificateFile {value}`: certificates are not supported by converge's SSH client (libssh2); ignored"
                ));
            }
            return Ok(());
        }
        // ProxyJump and ProxyCommand are one setting: the first obtained wins.
        let slot = match key.as_str() {
            "proxyjump" | "proxycommand" => "proxy".to_string(),
            "pubkeyacceptedkeytypes" => "pubkeyacceptedalgorithms".to_string(),
            other => other.to_string(),
        };
        if self.seen.contains(&slot) {
            return Ok(());
        }
        self.seen.push(slot);
        let yes_no = |v: &str| -> Result<bool, String> {
            match v.to_ascii_lowercase().as_str() {
                "yes" | "true" => Ok(true),
                "no" | "false" => Ok(false),
                other => Err(format!("{keyword} `{other}` is not yes or no")),
            }
        };
        let number = |v: &str| -> Result<u32, String> {
            v.parse()
                .map_err(|_| format!("{keyword} `{v}` is not a number"))
        };
        match key.as_str() {
            "hostname" => self.host_name = Some(value.replace("%h", host)),
            "user" => self.user = Some(value),
            "port" => {
                self.port = Some(
                    value
                        .parse()
                        .map_err(|_| format!("Port `{value}` is not a port number"))?,
                )
            }
            "identitiesonly" => self.identities_only = yes_no(&value)?,
            "userknownhostsfile" => {
                self.user_known_hosts_files = value
                    .split_whitespace()
                    .map(|f| expand_tilde(f, home))
                    .collect()
            }
            "globalknownhostsfile" => {
                self.global_known_hosts_files = value
                    .split_whitespace()
                    .map(|f| expand_tilde(f, home))
                    .collect()
            }
            "hostkeyalias" => self.host_key_alias = Some(value),
            "stricthostkeychecking" => {
                self.strict_host_key_checking = Some(match value.to_ascii_lowercase().as_str() {
                    "yes" | "true" | "ask" => HostKeyChecking::Strict,
                    "accept-new" => HostKeyChecking::AcceptNew,
                    "no" | "off" | "false" => HostKeyChecking::Off,
                    other => {
                        return Err(format!(
                            "StrictHostKeyChecking `{other}` is not yes, ask, accept-new, no or off"
                        ))
                    }
                });
                if value.eq_ignore_ascii_case("ask") {
                    self.notes.push(
                        "`StrictHostKeyChecking ask`: converge has no terminal to ask on, so unknown host keys are refused as with `yes`".into(),
                    );
                }
            }
            "proxyjump" => {
                self.proxy = Some(if value.eq_ignore_ascii_case("none") {
                    Proxy::None
                } else {
                    Proxy::Jump(value)
                })
            }
            "proxycommand" => {
                self.proxy = Some(if value.eq_ignore_ascii_case("none") {
                    Proxy::None
                } else {
                    Proxy::Command(value)
                })
            }
            "connecttimeout" => {
                self.connect_timeout = Some(Duration::from_secs(u64::from(number(&value)?)))
            }
            "serveraliveinterval" => self.server_alive_interval = Some(number(&value)?),
            "serveralivecountmax" => self.server_alive_count_max = Some(number(&value)?),
            "hostkeyalgorithms" => self.host_key_algorithms = Some(value),
            "pubkeyacceptedalgorithms" | "pubkeyacceptedkeytypes" => {
                self.pubkey_accepted_algorithms = Some(value)
            }
            "kexalgorithms" => self.kex_algorithms = Some(value),
            "ciphers" => self.ciphers = Some(value),
            "macs" => self.macs = Some(value),
            "compression" => self.compression = Some(yes_no(&value)?),
            "addressfamily" => {
                self.address_family = match value.to_ascii_lowercase().as_str() {
                    "inet" => Some(AddressFamily::Inet),
                    "inet6" => Some(AddressFamily::Inet6),
                    "any" => None,
                    other => {
                        return Err(format!("AddressFamily `{other}` is not any, inet or inet6"))
                    }
                }
            }
            "passwordauthentication" => self.password_authentication = Some(yes_no(&value)?),
            "pubkeyauthentication" => {
                self.pubkey_authentication = Some(!value.eq_ignore_ascii_case("no"))
            }
            _ => self.notes.push(ignored_note(keyword, &value)),
        }
        Ok(())
    }
}

/// Why an OpenSSH option changes nothing here, in words.
fn ignored_note(keyword: &str, value: &str) -> String {
    let why = match keyword.to_ascii_lowercase().as_str() {
        "controlmaster" | "controlpersist" | "controlpath" => {
            "OpenSSH connection sharing; converge keeps one session per host for the whole run"
        }
        "tcpkeepalive" => {
            "TCP keepalives; converge finds a dead link with SSH keepalives (ServerAliveInterval, ServerAliveCountMax)"
        }
        "gssapiauthentication" | "gssapidelegatecredentials" | "gssapikeyexchange" => {
            "Kerberos/GSSAPI is not supported by converge's SSH client"
        }
        "forwardagent" | "forwardx11" | "forwardx11trusted" | "localforward" | "remoteforward"
        | "dynamicforward" | "exitonforwardfailure" | "clearallforwardings" => {
            "converge opens no forwardings"
        }
        "loglevel" | "logverbose" | "syslogfacility" | "visualhostkey" => {
            "OpenSSH's own logging; converge reports with -v"
        }
        "batchmode" | "numberofpasswordprompts" | "kbdinteractiveauthentication"
        | "challengeresponseauthentication" => "converge never prompts during a run",
        "preferredauthentications" => {
            "converge tries ssh-agent, identity files, then the password"
        }
        "requesttty" | "sendenv" | "setenv" | "escapechar" | "permitlocalcommand"
        | "localcommand" => "it applies to interactive OpenSSH sessions",
        "hashknownhosts" | "checkhostip" | "updatehostkeys" | "verifyhostkeydns" => {
            "converge reads known_hosts (hashed or not) and records new keys in plain form"
        }
        "addkeystoagent" | "identityagent" => "converge uses the agent at SSH_AUTH_SOCK",
        _ => "an OpenSSH client option with no meaning for converge's SSH client",
    };
    format!("`{keyword} {value}`: {why}; ignored")
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

    /// Parse the text of a config file. Malformed lines are ignored.
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
            match key.to_ascii_lowercase().as_str() {
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
                        block.options.push((key.to_string(), value.to_string()));
                    }
                }
            }
        }
        SshConfig { blocks }
    }

    /// The settings for a host known by any of `names` (the inventory name and the address).
    pub fn lookup(&self, names: &[&str], home: &Path) -> HostConfig {
        let mut out = HostConfig::default();
        self.apply(&mut out, names, home);
        out
    }

    /// Add this file's settings for the host to `out`, under the values `out` already has
    /// (from the command line). A value the file gets wrong is noted and skipped.
    pub fn apply(&self, out: &mut HostConfig, names: &[&str], home: &Path) {
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
                if key.eq_ignore_ascii_case("include") {
                    out.notes
                        .push(format!("ssh config `Include {value}` is not followed"));
                    continue;
                }
                if let Err(e) = out.set(key, value, home, first) {
                    out.notes.push(format!("ssh config: {e}; ignored"));
                }
            }
        }
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

/// An algorithm list as OpenSSH reads it: `a,b` replaces the defaults, `+a,b` appends,
/// `-a,b` removes, `^a,b` puts first; names may hold `*` and `?`. `available` is what the
/// library implements, in its default order. Returns the list to ask for and the names
/// (or patterns) that matched nothing available.
pub fn algorithm_list(spec: &str, available: &[&str]) -> (Vec<String>, Vec<String>) {
    let spec = spec.trim();
    let (mode, body) = match spec.chars().next() {
        Some(c @ ('+' | '-' | '^')) => (c, &spec[1..]),
        _ => ('=', spec),
    };
    let named: Vec<&str> = body
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let mut missing: Vec<String> = Vec::new();
    let mut picked: Vec<String> = Vec::new();
    for pattern in &named {
        let matches: Vec<&str> = available
            .iter()
            .copied()
            .filter(|a| wildcard_match(pattern, a))
            .collect();
        if matches.is_empty() {
            missing.push(pattern.to_string());
        }
        for m in matches {
            if !picked.iter().any(|p| p == m) {
                picked.push(m.to_string());
            }
        }
    }
    let rest = || {
        available
            .iter()
            .filter(|a| !picked.iter().any(|p| p == *a))
            .map(|a| a.to_string())
    };
    let list = match mode {
        '+' => available.iter().map(|a| a.to_string()).collect(),
        '-' => {
            missing.clear();
            rest().collect()
        }
        '^' => picked.iter().cloned().chain(rest()).collect(),
        _ => picked,
    };
    (list, missing)
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
    ProxyCommand nc %h %p
    ControlMaster auto
    ServerAliveInterval 5

Match exec \"true\"
    User nobody

Host *
    User fallback
    Port 22
    UserKnownHostsFile ~/.ssh/kh /etc/ssh/kh2
    ConnectTimeout = 5
    ProxyJump none
    ServerAliveInterval 30
    ServerAliveCountMax 4
    StrictHostKeyChecking no
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
        assert_eq!(c.proxy, Some(Proxy::Jump("bastion".into())));
        assert_eq!(
            c.identity_files,
            vec![
                PathBuf::from("/home/u/.ssh/global_key"),
                PathBuf::from("/home/u/.ssh/web_key")
            ]
        );
        assert_eq!(
            c.user_known_hosts_files,
            vec![
                PathBuf::from("/home/u/.ssh/kh"),
                PathBuf::from("/etc/ssh/kh2")
            ]
        );
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(5)));
        assert_eq!(c.server_alive_interval, Some(5));
        assert_eq!(c.server_alive_count_max, Some(4));
        assert_eq!(c.strict_host_key_checking, Some(HostKeyChecking::Off));
        assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
        assert!(c.notes[0].contains("`ControlMaster auto`"), "{:?}", c.notes);
    }

    #[test]
    fn command_line_options_come_first() {
        let config = SshConfig::parse(CONFIG);
        let home = Path::new("/h");
        let mut c = HostConfig::default();
        c.set("ProxyCommand", "ssh -W %h:%p gw", home, "web1")
            .expect("valid");
        c.set("port", "2200", home, "web1").expect("valid");
        config.apply(&mut c, &["web1"], home);
        assert_eq!(c.proxy, Some(Proxy::Command("ssh -W %h:%p gw".into())));
        assert_eq!(c.port, Some(2200));
        assert_eq!(c.user.as_deref(), Some("deploy"));
        assert!(
            c.set("Port", "x", home, "web1").is_ok(),
            "already set: ignored"
        );
        let mut fresh = HostConfig::default();
        assert_eq!(
            fresh
                .set("ServerAliveInterval", "soon", home, "h")
                .unwrap_err(),
            "ServerAliveInterval `soon` is not a number"
        );
        fresh
            .set("StrictHostKeyChecking", "ask", home, "h")
            .expect("valid");
        assert_eq!(
            fresh.strict_host_key_checking,
            Some(HostKeyChecking::Strict)
        );
        fresh.set("NoSuchOption", "1", home, "h").expect("accepted");
        assert!(fresh.notes.iter().any(|n| n.contains("`NoSuchOption 1`")));
    }

    #[test]
    fn negated_pattern_and_match_blocks_do_not_apply() {
        let config = SshConfig::parse(CONFIG);
        let c = config.lookup(&["web9"], Path::new("/h"));
        assert_eq!(c.user.as_deref(), Some("fallback"));
        assert_eq!(c.proxy, Some(Proxy::None));
        assert_eq!(c.host_name, None);
    }

    #[test]
    fn either_name_or_address_selects_a_block() {
        let config = SshConfig::parse(CONFIG);
        let c = config.lookup(&["inventory-name", "db-3"], Path::new("/h"));
        assert_eq!(c.user.as_deref(), Some("deploy"));
    }

    #[test]
    fn algorithm_lists_in_openssh_forms() {
        let have = [
            "ssh-ed25519",
            "ecdsa-sha2-nistp256",
            "rsa-sha2-512",
            "ssh-rsa",
        ];
        let list = |spec: &str| algorithm_list(spec, &have);
        assert_eq!(
            list("ssh-rsa,ssh-ed25519"),
            (vec!["ssh-rsa".into(), "ssh-ed25519".into()], vec![])
        );
        assert_eq!(list("+ssh-rsa").0, have.to_vec());
        assert_eq!(
            list("-ssh-rsa,ecdsa-*").0,
            vec!["ssh-ed25519".to_string(), "rsa-sha2-512".into()]
        );
        assert_eq!(
            list("^rsa-sha2-512").0,
            vec![
                "rsa-sha2-512",
                "ssh-ed25519",
                "ecdsa-sha2-nistp256",
                "ssh-rsa"
            ]
        );
        assert_eq!(
            list("sk-ssh-ed25519@openssh.com,ssh-ed25519"),
            (
                vec!["ssh-ed25519".into()],
                vec!["sk-ssh-ed25519@openssh.com".into()]
            )
        );
        assert!(list("ssh-ed25519-cert-v01@openssh.com").0.is_empty());
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
