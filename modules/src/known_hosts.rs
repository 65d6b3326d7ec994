//! `known_hosts`: add or remove a host's key in an SSH `known_hosts` file on the host.
//!
//! Converges the file's lines. Reads it with one stat-and-read round trip (plus one to
//! expand `~` in `path`, the default `~/.ssh/known_hosts`, for the user the task runs as).
//! The lookup is [`search`], a port of what Ansible gets from `ssh-keygen -F NAME`: lines
//! whose host field matches the name (a comma-separated pattern list with `*`, `?` and `!`,
//! or a hashed `|1|salt|hash` entry), in file order, then Ansible's comparison: the same
//! key is no change, another key of the same type is replaced in its line, a new type is
//! appended; `@cert-authority` and `@revoked` lines count only when equal. `state: absent`
//! with a key removes that key's line; without a key, every line of the host except marker
//! lines goes and the old file is kept as `PATH.old` (what `ssh-keygen -R` does for Ansible;
//! unlike Ansible, a host left with only marker lines is no change).
//! `hash_host: yes` writes the name hashed (HMAC-SHA1 with a random salt); a hashed entry
//! already there is the same host, so a second run changes nothing.
//!
//! The file's directory must exist (as in Ansible). Unlike Ansible, a key appended to a file
//! whose last line lacks a newline starts on a line of its own.
//!
//! ```yaml
//! - known_hosts:
//!     name: github.com
//!     key: "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
//!     path: /etc/ssh/ssh_known_hosts
//! ```

use crate::args::Flag;
use crate::host::{Command, FileKind, Host, WriteOptions};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use base64::Engine;
use hmac::{Hmac, Mac};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// Whether the key should be in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KnownHostsState {
    /// The key is there.
    #[default]
    Present,
    /// The key (or, without `key`, every key of the host) is not.
    Absent,
}

fn default_path() -> String {
    "~/.ssh/known_hosts".into()
}

/// Arguments of `known_hosts`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KnownHostsArgs {
    /// The host to add or remove; `[host]:port` for a port other than 22. Matched without
    /// regard to case.
    #[serde(alias = "host")]
    pub name: String,
    /// The line to add, as `ssh-keyscan` prints it: `HOST TYPE KEY` (optionally with a
    /// `@cert-authority` or `@revoked` marker first). Its host field must match `name`.
    /// Needed with `state: present`.
    pub key: Option<String>,
    /// The known_hosts file; `~` is the home of the user the task runs as.
    #[serde(default = "default_path")]
    pub path: String,
    /// Write the host name hashed, as `ssh-keygen -H` does.
    #[serde(default)]
    pub hash_host: Flag,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: KnownHostsState,
}

/// The `known_hosts` module.
pub struct KnownHosts;

impl TypedModule for KnownHosts {
    type Args = KnownHostsArgs;
    const NAME: &'static str = "known_hosts";
    const SUMMARY: &'static str = "Add or remove a host's key in an SSH known_hosts file";
    const EXAMPLES: &'static str = "- known_hosts:\n    name: github.com\n    key: \"github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl\"\n    path: /etc/ssh/ssh_known_hosts\n\n- known_hosts:\n    name: \"[backup.example.org]:2222\"\n    key: \"{{ lookup('pipe', 'ssh-keyscan -p 2222 -t ed25519 backup.example.org') }}\"\n    hash_host: yes\n\n- known_hosts:\n    name: old.example.org\n    state: absent\n";
    const USES_FACTS: bool = false;

    fn check(args: &KnownHostsArgs) -> Result<(), ArgsError> {
        let key = args.key.as_deref().filter(|key| !key.is_empty());
        if key.is_none() && args.state == KnownHostsState::Present {
            return Err(ArgsError::new(
                Some("key"),
                "No key specified when adding a host",
            ));
        }
        let name = args.name.to_lowercase();
        if has_comma_list(&name) {
            return Err(ArgsError::new(
                Some("name"),
                "Comma separated list of names is not supported. Please pass a single name to lookup in the known_hosts file.",
            ));
        }
        if let Some(key) = key {
            let entry = Entry::parse(key).ok_or_else(|| {
                ArgsError::new(
                    Some("key"),
                    "`key` must be a known_hosts line: `HOST TYPE KEY`",
                )
                .with_hint("take the line `ssh-keyscan HOST` prints")
            })?;
            if !host_matches(&name, entry.host) {
                return Err(ArgsError::new(
                    Some("key"),
                    "Host parameter does not match hashed host field in supplied key",
                ));
            }
        }
        Ok(())
    }

    fn plan(args: KnownHostsArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let name = args.name.to_lowercase();
        let present = args.state == KnownHostsState::Present;
        let mut key = args.key.clone().filter(|key| !key.is_empty());
        if let (Some(given), true) = (&key, args.hash_host.0) {
            key = Some(hash_host_key(&name, given)?);
        }
        if let Some(given) = &mut key {
            if !given.ends_with('\n') {
                given.push('\n');
            }
        }
        let path = expand_home(&args.path, host)?;
        let (stat, content) = host.stat_and_read(&path)?;
        let before = match (&stat, content) {
            (None, _) => None,
            (Some(stat), _) if stat.kind == FileKind::Directory => {
                return Err(ModuleError::failed(format!(
                    "`{path}` is a directory, not a known_hosts file"
                )))
            }
            (Some(_), Some(bytes)) => Some(
                String::from_utf8(bytes)
                    .map_err(|_| ModuleError::failed(format!("`{path}` is not UTF-8 text")))?,
            ),
            (Some(_), None) => None,
        };
        let found = search(&name, key.as_deref(), before.as_deref());
        let mut plan = Plan::unchanged();
        plan.result.insert("name".into(), json!(args.name));
        plan.result.insert("key".into(), json!(args.key));
        plan.result.insert("path".into(), json!(path));
        plan.result
            .insert("hash_host".into(), json!(args.hash_host.0));
        let changed = !(!present && found.line.is_none() && key.is_some())
            && (found.replace || present != found.found);
        let after = if changed {
            Some(edit(
                before.as_deref().unwrap_or_default(),
                &name,
                key.as_deref(),
                present,
                &found,
            ))
        } else {
            None
        };
        // What `add_path_info` adds to Ansible's result: the file as it will be.
        let exists_after = before.is_some() || after.is_some();
        plan.result.insert(
            "state".into(),
            json!(if exists_after { "file" } else { "absent" }),
        );
        if let Some(stat) = &stat {
            plan.result
                .insert("mode".into(), json!(format!("0{:03o}", stat.mode)));
            plan.result.insert("owner".into(), json!(stat.owner));
            plan.result.insert("group".into(), json!(stat.group));
            plan.result.insert("uid".into(), json!(stat.uid));
            plan.result.insert("gid".into(), json!(stat.gid));
        }
        let size = after
            .as_ref()
            .map(|text| text.len() as u64)
            .or(stat.as_ref().map(|stat| stat.size));
        if exists_after {
            plan.result.insert("size".into(), json!(size.unwrap_or(0)));
        }
        let Some(after) = after else {
            return Ok(plan);
        };
        let mut steps = Vec::new();
        if found.found && key.is_none() && !present {
            // `ssh-keygen -R` keeps the old file as PATH.old.
            let attributes = stat
                .as_ref()
                .map(|stat| crate::FileAttributes {
                    mode: Some(stat.mode),
                    owner: Some(stat.owner.clone()),
                    group: Some(stat.group.clone()),
                })
                .unwrap_or_default();
            steps.push(Step::WriteFile {
                path: format!("{path}.old"),
                content: before.clone().unwrap_or_default().into_bytes(),
                options: WriteOptions {
                    attributes,
                    ..WriteOptions::default()
                },
            });
        }
        steps.push(Step::WriteFile {
            path: path.clone(),
            content: after.clone().into_bytes(),
            options: WriteOptions::default(),
        });
        plan.push(Change::content(path, before, Some(after)), steps);
        Ok(plan)
    }
}

/// `~` and `~user` at the start of `path`, expanded on the host (one round trip).
pub(crate) fn expand_home(path: &str, host: &mut dyn Host) -> Result<String, ModuleError> {
    let Some(rest) = path.strip_prefix('~') else {
        return Ok(path.to_string());
    };
    let (user, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    if !user
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Ok(path.to_string());
    }
    let output = host.run(&Command::shell(format!("printf '%s' ~{user}")))?;
    let home = output.stdout_text();
    if !output.success() || home.is_empty() || home.starts_with('~') {
        return Err(ModuleError::failed(format!(
            "cannot expand `~{user}` in `{path}` on the host"
        )));
    }
    Ok(format!("{}{tail}", home.trim_end_matches('/')))
}

/// Ansible's guard against `name: a,b` (`\S+(\s+)?,(\s+)?`).
fn has_comma_list(name: &str) -> bool {
    name.char_indices()
        .any(|(at, c)| c == ',' && name[..at].trim_end().chars().any(|c| !c.is_whitespace()))
}

/// One known_hosts line, split as Ansible's `normalize_known_hosts_key` splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry<'a> {
    marker: Option<&'a str>,
    host: &'a str,
    kind: &'a str,
    key: &'a str,
}

impl<'a> Entry<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let mut words = line.split_whitespace();
        let first = words.next()?;
        let marker = first.starts_with('@').then_some(first);
        let host = if marker.is_some() {
            words.next()?
        } else {
            first
        };
        Some(Entry {
            marker,
            host,
            kind: words.next()?,
            key: words.next()?,
        })
    }
}

/// What [`search`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Found {
    /// The host has at least one line.
    pub found: bool,
    /// The key must be written (a different key of its type, or a new type).
    pub replace: bool,
    /// The 1-based line holding the key or the key of the same type.
    pub line: Option<usize>,
}

/// Look `name` (lowercase) up in the known_hosts text `file` (`None`: no file), as Ansible's
/// `search_for_host_key` does over `ssh-keygen -F NAME`'s output.
pub fn search(name: &str, key: Option<&str>, file: Option<&str>) -> Found {
    let Some(file) = file else {
        return Found::default();
    };
    let matching: Vec<(usize, &str)> = matching_lines(name, file).collect();
    if matching.is_empty() {
        return Found::default();
    }
    let Some(wanted) = key.and_then(Entry::parse) else {
        // Without a key the host's lines are removed, marker lines excepted (as
        // `ssh-keygen -R` keeps them); Ansible counting those too reported a change on
        // every run.
        return Found {
            found: matching
                .iter()
                .any(|(_, line)| !line.trim_start().starts_with('@')),
            ..Found::default()
        };
    };
    let mut wanted = wanted;
    for (number, line) in matching {
        let Some(entry) = Entry::parse(line) else {
            continue;
        };
        let exact = |line: Option<usize>| Found {
            found: true,
            replace: false,
            line,
        };
        match entry.marker {
            Some(marker)
                if marker.starts_with("@cert-authority") || marker.starts_with("@revoke") =>
            {
                if wanted == entry {
                    return exact(Some(number));
                }
            }
            _ => {
                if wanted.host.starts_with("|1|") && entry.host.starts_with("|1|") {
                    wanted.host = entry.host;
                }
                if wanted == entry {
                    return exact(Some(number));
                }
                if wanted.kind == entry.kind {
                    return Found {
                        found: true,
                        replace: true,
                        line: Some(number),
                    };
                }
            }
        }
    }
    Found {
        found: true,
        replace: true,
        line: None,
    }
}

/// The lines of `file` whose host field matches `name`, numbered from 1 (blank lines and
/// comments never match), as `ssh-keygen -F` lists them.
fn matching_lines<'a>(name: &'a str, file: &'a str) -> impl Iterator<Item = (usize, &'a str)> {
    file.lines().enumerate().filter_map(move |(index, line)| {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return None;
        }
        let mut words = trimmed.split_whitespace();
        let first = words.next()?;
        let hosts = if first.starts_with('@') {
            words.next()?
        } else {
            first
        };
        host_matches(name, hosts).then_some((index + 1, line))
    })
}

/// Whether `name` matches a known_hosts host field: a hashed `|1|salt|hash` entry, or a
/// comma-separated list of patterns where a matching `!pattern` rules the name out.
pub fn host_matches(name: &str, hosts: &str) -> bool {
    if let Some(hashed) = hosts.strip_prefix("|1|") {
        let engine = base64::engine::general_purpose::STANDARD;
        let Some((salt, hash)) = hashed.split_once('|') else {
            return false;
        };
        let (Ok(salt), Ok(hash)) = (engine.decode(salt), engine.decode(hash)) else {
            return false;
        };
        return hmac_sha1(&salt, name.as_bytes()) == hash;
    }
    let name = name.to_lowercase();
    let mut positive = false;
    for pattern in hosts.split(',') {
        let (negated, pattern) = match pattern.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, pattern),
        };
        if wildcard(name.as_bytes(), pattern.to_lowercase().as_bytes()) {
            if negated {
                return false;
            }
            positive = true;
        }
    }
    positive
}

/// OpenSSH's `match_pattern`: `*` any run, `?` one character.
fn wildcard(text: &[u8], pattern: &[u8]) -> bool {
    match pattern.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| wildcard(&text[skip..], rest)),
        Some((b'?', rest)) => !text.is_empty() && wildcard(&text[1..], rest),
        Some((c, rest)) => text.first() == Some(c) && wildcard(&text[1..], rest),
    }
}

fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// The key line with its host field hashed for `name` (a fresh random salt each time).
pub fn hash_host_key(name: &str, key: &str) -> Result<String, ModuleError> {
    let mut salt = [0u8; 20];
    getrandom::getrandom(&mut salt)
        .map_err(|error| ModuleError::failed(format!("no randomness for the salt: {error}")))?;
    Ok(hash_with_salt(name, key, &salt))
}

/// [`hash_host_key`] with a given salt (for tests).
pub fn hash_with_salt(name: &str, key: &str, salt: &[u8]) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let mut parts: Vec<String> = key.split_whitespace().map(str::to_string).collect();
    let at = usize::from(parts.first().is_some_and(|p| p.starts_with('@')));
    if at < parts.len() {
        parts[at] = format!(
            "|1|{}|{}",
            engine.encode(salt),
            engine.encode(hmac_sha1(salt, name.as_bytes()))
        );
    }
    parts.join(" ")
}

/// The file after the change: Ansible's rewrite (drop the found line when replacing or
/// removing, append the key when present), after `ssh-keygen -R`'s removal of every line of
/// the host when removing without a key.
fn edit(before: &str, name: &str, key: Option<&str>, present: bool, found: &Found) -> String {
    let mut lines: Vec<String> = Vec::new();
    let removing_host = found.found && key.is_none() && !present;
    for (index, line) in before.lines().enumerate() {
        let number = index + 1;
        if found.line == Some(number) && (found.replace || !present) {
            continue;
        }
        if removing_host
            && !line.trim_start().starts_with('@')
            && matching_lines(name, line).next().is_some()
        {
            continue;
        }
        lines.push(format!("{line}\n"));
    }
    if present {
        if let Some(key) = key {
            lines.push(key.to_string());
        }
    }
    lines.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_openssh_does() {
        assert!(host_matches("web1.example.org", "*.example.org"));
        assert!(host_matches("web1.example.org", "db,web?.example.org"));
        assert!(!host_matches(
            "web1.example.org",
            "*.example.org,!web1.example.org"
        ));
        assert!(host_matches("[h]:2222", "[h]:2222"));
        assert!(!host_matches("h", "[h]:2222"));
        assert!(host_matches("example.com", "Example.COM"));
    }

    #[test]
    fn hashed_names_match_their_host_only() {
        let line = hash_with_salt("h.example", "h.example ssh-ed25519 AAAA", &[7; 20]);
        let field = line.split(' ').next().unwrap();
        assert!(field.starts_with("|1|"));
        assert!(host_matches("h.example", field));
        assert!(!host_matches("g.example", field));
    }

    #[test]
    fn comma_lists_are_refused() {
        assert!(has_comma_list("a,b"));
        assert!(has_comma_list("a , b"));
        assert!(!has_comma_list("[a]:22"));
    }
}
