//! `authorized_key` (ansible.posix): SSH public keys in a user's `authorized_keys` file.
//!
//! Converges the file's keys. Reads `/etc/passwd` (the user's home, uid and primary group),
//! `/etc/group` (the group's name) and the file (one stat and read); the edit is the pure
//! function [`edit_authorized_keys`], which follows Ansible's rules: keys are identified by
//! their base64 blob and equal when type, options and comment are equal too; a present key
//! that differs is rewritten, a new one is appended after the existing keys in the order
//! given; `exclusive` removes every other line; `state: absent` removes the given keys. The
//! whole file is rewritten as Ansible writes it (options joined with `,`, then
//! `TYPE BLOB COMMENT`; comment and unparsable lines kept as they were).
//!
//! The file is written with mode 0600, owned by the user and its primary group; with
//! `manage_dir` (the default) its directory is created if missing and made 0700, owned by
//! the user. The diff shows the file. Idempotence: after applying, every given key is in
//! the file as given, so a second plan has no change.
//!
//! `key` may hold several keys, one a line, or be `file:///path` (read on the host). Not
//! built: keys from an `http(s)` URL, and `follow: yes`; both are refused with an error.
//! `validate_certs` is accepted and has no effect (it only applies to URLs).
//!
//! ```yaml
//! - authorized_key:
//!     user: deploy
//!     key: "{{ lookup('file', 'files/deploy.pub') }}"
//!     key_options: 'no-port-forwarding,from="10.0.0.0/8"'
//! ```

use crate::accounts::Accounts;
use crate::args::Flag;
use crate::host::{Command, FileAttributes, FileKind, Host, WriteOptions};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use crate::user::AccountState;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

fn yes() -> Flag {
    Flag(true)
}

/// Arguments of `authorized_key`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizedKeyArgs {
    /// The user whose file it is; it must exist.
    pub user: String,
    /// One or more public keys, one a line (`ssh-ed25519 AAAA… comment`, options allowed in
    /// front), or `file:///path/on/the/host`.
    pub key: String,
    /// The file (default `~USER/.ssh/authorized_keys`).
    pub path: Option<String>,
    /// Create the file's directory if missing, owned by the user, mode 0700.
    #[serde(default = "yes")]
    pub manage_dir: Flag,
    /// Whether the keys should be in the file.
    #[serde(default)]
    pub state: AccountState,
    /// Options for every key, e.g. `no-port-forwarding,from="10.0.0.1"` (they replace the
    /// options written in `key`).
    pub key_options: Option<String>,
    /// Remove every other line from the file (with `state: present`).
    #[serde(default)]
    pub exclusive: Flag,
    /// The comment for every key (replaces the one written in `key`).
    pub comment: Option<String>,
    /// Only for keys fetched from a URL, which converge does not build; ignored.
    #[serde(default = "yes")]
    pub validate_certs: Flag,
    /// Write through a symlinked file instead of replacing it. Not built: converge refuses
    /// `yes`.
    #[serde(default)]
    pub follow: Flag,
}

/// The `authorized_key` module.
pub struct AuthorizedKey;

impl TypedModule for AuthorizedKey {
    type Args = AuthorizedKeyArgs;
    const NAME: &'static str = "authorized_key";
    const SUMMARY: &'static str = "Manage SSH public keys in a user's authorized_keys file";
    const EXAMPLES: &'static str = "- authorized_key:\n    user: deploy\n    key: \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO… deploy@laptop\"\n\n- authorized_key:\n    user: deploy\n    key: \"{{ lookup('file', 'files/deploy.pub') }}\"\n    key_options: 'no-port-forwarding,from=\"10.0.0.0/8\"'\n    exclusive: yes\n\n- authorized_key:\n    user: deploy\n    key: \"ssh-rsa AAAAB3Nza… old@laptop\"\n    state: absent\n";
    const USES_FACTS: bool = false;

    fn check(args: &AuthorizedKeyArgs) -> Result<(), ArgsError> {
        if args.follow.0 {
            return Err(ArgsError::new(
                Some("follow"),
                "`follow: yes` is not built in converge's `authorized_key` module",
            )
            .with_hint("give the link's target as `path`"));
        }
        if args.key.starts_with("http") {
            return Err(ArgsError::new(
                Some("key"),
                "keys from a URL are not built in converge's `authorized_key` module",
            )
            .with_hint(
                "fetch the keys on the controller, e.g. `key: \"{{ lookup('url', URL, split_lines=False) }}\"`",
            ));
        }
        Ok(())
    }

    fn plan(
        args: AuthorizedKeyArgs,
        host: &mut dyn Host,
        _: &Context,
    ) -> Result<Plan, ModuleError> {
        let accounts = Accounts::read(host)?;
        let user = accounts
            .user(&args.user)
            .ok_or_else(|| ModuleError::Failed {
                message: format!("user `{}` does not exist", args.user),
                hint: Some(format!(
                    "create it first with a `user` task (`user: {{name: {}}}`)",
                    args.user
                )),
            })?;
        let keyfile = match &args.path {
            Some(path) => path.clone(),
            None => format!("{}/.ssh/authorized_keys", user.home.trim_end_matches('/')),
        };
        let dir = match keyfile.rsplit_once('/') {
            Some(("", _)) | None => "/".to_string(),
            Some((dir, _)) => dir.to_string(),
        };
        let keys = if args.key.starts_with("file") {
            let path = args.key.strip_prefix("file://").unwrap_or(&args.key);
            let path = path.strip_prefix("file:").unwrap_or(path);
            match host.read_file(path)? {
                Some(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                None => {
                    return Err(ModuleError::failed(format!(
                        "path to a key file not found: `{path}`"
                    )))
                }
            }
        } else {
            args.key.clone()
        };
        let (stat, content) = host.stat_and_read(&keyfile)?;
        if let Some(stat) = &stat {
            if stat.kind == FileKind::Directory {
                return Err(ModuleError::failed(format!(
                    "`{keyfile}` is a directory, not an authorized_keys file"
                )));
            }
        }
        let before = content.map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        let edit = KeyEdit {
            keys: &keys,
            state: args.state,
            key_options: args.key_options.as_deref(),
            comment: args.comment.as_deref(),
            exclusive: args.exclusive.0,
        };
        let new_content = edit_authorized_keys(before.as_deref().unwrap_or(""), &edit)
            .map_err(ModuleError::failed)?;
        let mut plan = Plan::unchanged();
        if let Some(after) = new_content {
            let owner = user.name.clone();
            let group = accounts
                .group_by_gid(user.gid)
                .map(|g| g.name.clone())
                .unwrap_or_else(|| user.gid.to_string());
            let mut steps = Vec::new();
            if args.manage_dir.0 {
                let dir_stat = host.stat(&dir)?;
                if dir_stat.is_none() {
                    steps.push(run(["mkdir", "-p", dir.as_str()]));
                }
                let wrong_mode = dir_stat.as_ref().is_none_or(|s| s.mode != 0o700);
                let wrong_owner = dir_stat
                    .as_ref()
                    .is_none_or(|s| s.uid != user.uid || s.gid != user.gid);
                if wrong_mode {
                    steps.push(run(["chmod", "0700", dir.as_str()]));
                }
                if wrong_owner {
                    let spec = format!("{owner}:{group}");
                    steps.push(run(["chown", spec.as_str(), dir.as_str()]));
                }
            }
            steps.push(Step::WriteFile {
                path: keyfile.clone(),
                content: after.clone().into_bytes(),
                options: WriteOptions {
                    attributes: FileAttributes {
                        mode: Some(0o600),
                        owner: Some(owner),
                        group: Some(group),
                    },
                    create_parents: true,
                    ..WriteOptions::default()
                },
            });
            plan.push(Change::content(keyfile.clone(), before, Some(after)), steps);
        }
        plan.result.insert("user".into(), json!(args.user));
        plan.result.insert("key".into(), json!(args.key));
        plan.result.insert("keyfile".into(), json!(keyfile));
        plan.result.insert("path".into(), json!(args.path));
        plan.result
            .insert("manage_dir".into(), json!(args.manage_dir.0));
        plan.result
            .insert("state".into(), json!(args.state.as_str()));
        plan.result
            .insert("key_options".into(), json!(args.key_options));
        plan.result
            .insert("exclusive".into(), json!(args.exclusive.0));
        plan.result.insert("comment".into(), json!(args.comment));
        plan.result.insert("follow".into(), json!(false));
        plan.result
            .insert("validate_certs".into(), json!(args.validate_certs.0));
        Ok(plan)
    }
}

fn run<const N: usize>(argv: [&str; N]) -> Step {
    Step::Run {
        command: Command::argv(argv),
        allow_failure: false,
    }
}

/// Key types OpenSSH accepts in authorized_keys (Ansible's list).
const KEY_TYPES: &[&str] = &[
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "webauthn-sk-ecdsa-sha2-nistp256@openssh.com",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ssh-ed25519@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "ssh-ed25519",
    "ssh-ed25519-cert-v01@openssh.com",
    "ssh-dss",
    "ssh-rsa",
    "ssh-xmss@openssh.com",
    "ssh-xmss-cert-v01@openssh.com",
    "rsa-sha2-256",
    "rsa-sha2-512",
    "ssh-rsa-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "ssh-dss-cert-v01@openssh.com",
];

/// One parsed key line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLine {
    /// Options before the type, in order (`no-pty`, `from="…"`): name and value.
    pub options: Vec<(String, Option<String>)>,
    /// The key type, e.g. `ssh-ed25519`.
    pub key_type: String,
    /// The base64 blob: what identifies the key.
    pub blob: String,
    /// Everything after the blob, joined by single spaces (may be empty).
    pub comment: String,
}

impl KeyLine {
    /// Parse a line as Ansible does: split on whitespace, the type is the first known key type,
    /// what comes before it is options, the next word the blob, the rest the comment. `None`
    /// for a comment, a blank or an unparsable line.
    pub fn parse(line: &str) -> Option<KeyLine> {
        let line = line.replace(r"\#", "#");
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.first() == Some(&"#") {
            return None;
        }
        let at = parts.iter().position(|part| KEY_TYPES.contains(part))?;
        let blob = parts.get(at + 1)?;
        Some(KeyLine {
            options: parse_options(&parts[..at].join(" ")),
            key_type: parts[at].to_string(),
            blob: blob.to_string(),
            comment: parts[at + 2..].join(" "),
        })
    }

    /// The line as Ansible writes it (with a space before an empty comment, as Ansible does).
    pub fn render(&self) -> String {
        let options = if self.options.is_empty() {
            String::new()
        } else {
            let joined: Vec<String> = self
                .options
                .iter()
                .map(|(name, value)| match value {
                    Some(value) => format!("{name}={value}"),
                    None => name.clone(),
                })
                .collect();
            format!("{} ", joined.join(","))
        };
        format!(
            "{options}{} {} {}\n",
            self.key_type, self.blob, self.comment
        )
    }
}

/// Split `no-pty,from="a,b",command="x"` on the commas outside quotes.
pub fn parse_options(text: &str) -> Vec<(String, Option<String>)> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    for c in text.chars() {
        match (quote, c) {
            (None, ',') => parts.push(std::mem::take(&mut current)),
            (None, '"' | '\'') => {
                quote = Some(c);
                current.push(c);
            }
            (Some(open), _) if c == open => {
                quote = None;
                current.push(c);
            }
            _ => current.push(c),
        }
    }
    parts.push(current);
    parts
        .into_iter()
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((name, value)) => (name.to_string(), Some(value.to_string())),
            None => (part, None),
        })
        .collect()
}

/// What to do to the file.
#[derive(Debug, Clone, Copy)]
pub struct KeyEdit<'a> {
    /// The keys, one a line (blank lines and `#` lines skipped).
    pub keys: &'a str,
    /// Present or absent.
    pub state: AccountState,
    /// Options replacing each key's own.
    pub key_options: Option<&'a str>,
    /// Comment replacing each key's own.
    pub comment: Option<&'a str>,
    /// Remove every other line.
    pub exclusive: bool,
}

#[derive(Debug, Clone)]
enum Entry {
    Key(KeyLine),
    /// A comment, blank or unparsable line, kept as written (with its newline).
    Other(String),
}

impl Entry {
    fn id(&self) -> &str {
        match self {
            Entry::Key(key) => &key.blob,
            Entry::Other(line) => line,
        }
    }
}

/// The file's new content, or `None` when it already satisfies the edit. Fails on a key
/// that does not parse.
pub fn edit_authorized_keys(existing: &str, edit: &KeyEdit) -> Result<Option<String>, String> {
    // (entry, rank) with one entry per id: a later duplicate replaces an earlier one and takes
    // its rank, as Ansible's dictionary does.
    let mut entries: Vec<(Entry, usize)> = Vec::new();
    for (rank, line) in existing.split_inclusive('\n').enumerate() {
        let entry = match KeyLine::parse(line) {
            Some(key) => Entry::Key(key),
            None => Entry::Other(line.to_string()),
        };
        match entries.iter().position(|(e, _)| e.id() == entry.id()) {
            Some(at) => entries[at] = (entry, rank),
            None => entries.push((entry, rank)),
        }
    }
    let existing_count = entries.len();
    let wanted_lines = edit
        .keys
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'));
    let key_options = edit.key_options.map(parse_options);
    let mut keep = Vec::new();
    let mut write = false;
    for (rank, line) in wanted_lines.enumerate() {
        let mut key =
            KeyLine::parse(line).ok_or_else(|| format!("invalid key specified: {line}"))?;
        if let Some(options) = &key_options {
            key.options = options.clone();
        }
        if let Some(comment) = edit.comment {
            key.comment = comment.to_string();
        }
        let found = entries.iter().position(|(e, _)| e.id() == key.blob);
        let matched = match (found, edit.state) {
            (Some(at), AccountState::Present) => match &entries[at].0 {
                Entry::Key(have) if *have == key => true,
                _ => {
                    entries.remove(at);
                    write = true;
                    false
                }
            },
            (Some(_), AccountState::Absent) => true,
            (None, _) => false,
        };
        match edit.state {
            AccountState::Present => {
                keep.push(key.blob.clone());
                if !matched {
                    entries.push((Entry::Key(key), existing_count + rank));
                    write = true;
                }
            }
            AccountState::Absent => {
                if let Some(at) = found.filter(|_| matched) {
                    entries.remove(at);
                    write = true;
                }
            }
        }
    }
    if edit.state == AccountState::Present && edit.exclusive {
        let before = entries.len();
        entries.retain(|(entry, _)| keep.iter().any(|id| id == entry.id()));
        write |= entries.len() != before;
    }
    if !write {
        return Ok(None);
    }
    entries.sort_by_key(|(_, rank)| *rank);
    Ok(Some(
        entries
            .iter()
            .map(|(entry, _)| match entry {
                Entry::Key(key) => key.render(),
                Entry::Other(line) => line.clone(),
            })
            .collect(),
    ))
}
