//! Choosing and opening a host's transport from its inventory variables, Ansible's way:
//! `ansible_connection`, `ansible_host`, `ansible_port`, `ansible_user`,
//! `ansible_ssh_private_key_file`, and the `-o`/`-F` options in `ansible_ssh_common_args`
//! and `ansible_ssh_extra_args`.

use super::local::LocalConnection;
use super::ssh::{HostKeyChecking, SshConnection, SshTarget};
use super::{Connection, Secret};
use crate::extra_vars::split_words;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::time::Duration;

/// Connection settings from the command line (they win over inventory variables).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `--connection`.
    pub connection: Option<String>,
    /// `--user`.
    pub user: Option<String>,
    /// `--private-key`.
    pub private_key: Option<PathBuf>,
    /// `--host-key-checking`; `None` means strict unless the inventory says otherwise.
    pub host_key_checking: Option<HostKeyChecking>,
    /// `--timeout` (connect), seconds.
    pub timeout: Option<u64>,
    /// `--command-timeout`, seconds.
    pub command_timeout: Option<u64>,
    /// `--ask-pass` / `--connection-password-file`.
    pub password: Option<Secret>,
    /// `--ask-key-passphrase`: for encrypted private keys.
    pub passphrase: Option<Secret>,
}

/// How to reach a host: over SSH (kept so that a fresh connection can be made, e.g. for the
/// firewall lock-out guard) or on this machine.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// `ansible_connection: local`.
    Local,
    /// SSH to this target.
    Ssh(Box<SshTarget>),
}

impl Endpoint {
    /// Open a new connection.
    pub fn connect(&self, name: &str) -> Result<Box<dyn Connection>, converge_modules::HostError> {
        match self {
            Endpoint::Local => Ok(Box::new(LocalConnection::new(name))),
            Endpoint::Ssh(target) => Ok(Box::new(SshConnection::connect(target)?)),
        }
    }

    /// The same endpoint with another connect timeout.
    pub fn with_timeout(&self, timeout: Duration) -> Endpoint {
        match self {
            Endpoint::Local => Endpoint::Local,
            Endpoint::Ssh(target) => {
                let mut target = target.clone();
                target.connect_timeout = timeout;
                Endpoint::Ssh(target)
            }
        }
    }
}

/// Work out how to reach `host` from its variables.
pub fn endpoint(
    host: &str,
    vars: &Map<String, Value>,
    options: &ConnectOptions,
) -> Result<Endpoint, String> {
    let text = |key: &str| -> Option<String> {
        match vars.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    };
    let kind = options
        .connection
        .clone()
        .or_else(|| text("ansible_connection"))
        .unwrap_or_else(|| "ssh".into());
    match kind.as_str() {
        "local" => return Ok(Endpoint::Local),
        "ssh" | "smart" | "paramiko" => {}
        other => {
            return Err(format!(
                "unknown connection type `{other}` for `{host}`; converge knows `local` and `ssh`"
            ))
        }
    }
    let mut target = SshTarget::new(host);
    if let Some(address) = text("ansible_host").or_else(|| text("ansible_ssh_host")) {
        target.address = address;
    }
    if let Some(port) = text("ansible_port").or_else(|| text("ansible_ssh_port")) {
        target.port =
            Some(port.parse().map_err(|_| {
                format!("`ansible_port` of `{host}` is `{port}`, not a port number")
            })?);
    }
    target.user = options
        .user
        .clone()
        .or_else(|| text("ansible_user"))
        .or_else(|| text("ansible_ssh_user"));
    if let Some(key) = options
        .private_key
        .clone()
        .or_else(|| text("ansible_ssh_private_key_file").map(PathBuf::from))
        .or_else(|| text("ansible_private_key_file").map(PathBuf::from))
    {
        target.identity_files.push(key);
    }
    if let Some(checking) = text("ansible_host_key_checking") {
        if matches!(
            checking.to_ascii_lowercase().as_str(),
            "false" | "no" | "0" | "off"
        ) {
            target.host_key_checking = HostKeyChecking::Off;
        }
    }
    for key in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        if let Some(args) = text(key) {
            apply_ssh_args(&mut target, &args).map_err(|e| format!("`{key}` of `{host}`: {e}"))?;
        }
    }
    if let Some(checking) = options.host_key_checking {
        target.host_key_checking = checking;
    }
    if let Some(seconds) = options.timeout {
        target.connect_timeout = Duration::from_secs(seconds);
    }
    if let Some(seconds) = options.command_timeout {
        target.command_timeout = Duration::from_secs(seconds);
    }
    target.password = options.password.clone();
    target.passphrase = options.passphrase.clone();
    Ok(Endpoint::Ssh(Box::new(target)))
}

/// The OpenSSH client options converge understands in `ansible_ssh_common_args`.
fn apply_ssh_args(target: &mut SshTarget, args: &str) -> Result<(), String> {
    let words = split_words(args).ok_or("unclosed quote")?;
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let (flag, inline) = if word.len() > 2 && word.starts_with('-') && !word.starts_with("--") {
            (word[..2].to_string(), Some(word[2..].to_string()))
        } else {
            (word.clone(), None)
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| words.next())
                .ok_or_else(|| format!("`{flag}` needs a value"))
        };
        match flag.as_str() {
            "-o" => {
                let option = value()?;
                let (key, val) = option
                    .split_once('=')
                    .or_else(|| option.split_once(' '))
                    .ok_or_else(|| format!("`-o {option}` is not KEY=VALUE"))?;
                apply_option(target, key.trim(), val.trim())?;
            }
            "-F" => target.ssh_config = Some(PathBuf::from(value()?)),
            "-i" => target.identity_files.push(PathBuf::from(value()?)),
            "-p" => {
                let port = value()?;
                target.port = Some(port.parse().map_err(|_| format!("`-p {port}` is not a port"))?);
            }
            "-l" => target.user = Some(value()?),
            "-J" => {
                return Err(
                    "`-J` is not supported here; put `ProxyJump` in ~/.ssh/config or a file named with `-F`"
                        .into(),
                )
            }
            other => return Err(format!("ssh option `{other}` is not supported by converge")),
        }
    }
    Ok(())
}

fn apply_option(target: &mut SshTarget, key: &str, value: &str) -> Result<(), String> {
    match key.to_ascii_lowercase().as_str() {
        "userknownhostsfile" => target.known_hosts = Some(PathBuf::from(value)),
        "stricthostkeychecking" => {
            target.host_key_checking = match value.to_ascii_lowercase().as_str() {
                "yes" | "true" => HostKeyChecking::Strict,
                "accept-new" => HostKeyChecking::AcceptNew,
                "no" | "off" | "false" => HostKeyChecking::Off,
                other => {
                    return Err(format!(
                        "StrictHostKeyChecking `{other}` is not yes, accept-new or no"
                    ))
                }
            }
        }
        "identityfile" => target.identity_files.push(PathBuf::from(value)),
        "port" => {
            target.port = Some(
                value
                    .parse()
                    .map_err(|_| format!("Port `{value}` is not a port"))?,
            )
        }
        "user" => target.user = Some(value.to_string()),
        "connecttimeout" => {
            let seconds: u64 = value
                .parse()
                .map_err(|_| format!("ConnectTimeout `{value}` is not a number of seconds"))?;
            target.connect_timeout = Duration::from_secs(seconds);
        }
        // Options that change nothing for converge's client.
        "identitiesonly"
        | "controlmaster"
        | "controlpersist"
        | "controlpath"
        | "kexalgorithms"
        | "compression"
        | "serveraliveinterval"
        | "loglevel"
        | "batchmode" => {}
        other => return Err(format!("ssh option `{other}` is not supported by converge")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(vars: Value, options: &ConnectOptions) -> SshTarget {
        match endpoint("h1", vars.as_object().expect("map"), options) {
            Ok(Endpoint::Ssh(target)) => *target,
            other => panic!("expected ssh, got {other:?}"),
        }
    }

    #[test]
    fn inventory_variables_and_common_args() {
        let t = target(
            json!({
                "ansible_host": "fd00:c0::11",
                "ansible_port": 2222,
                "ansible_user": "deploy",
                "ansible_ssh_private_key_file": "/keys/id",
                "ansible_ssh_common_args": "-o UserKnownHostsFile=/lab/known_hosts -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new"
            }),
            &ConnectOptions::default(),
        );
        assert_eq!(t.address, "fd00:c0::11");
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.user.as_deref(), Some("deploy"));
        assert_eq!(t.identity_files, vec![PathBuf::from("/keys/id")]);
        assert_eq!(t.known_hosts, Some(PathBuf::from("/lab/known_hosts")));
        assert_eq!(t.host_key_checking, HostKeyChecking::AcceptNew);
    }

    #[test]
    fn command_line_wins_and_local_is_local() {
        let options = ConnectOptions {
            user: Some("root".into()),
            host_key_checking: Some(HostKeyChecking::Strict),
            ..ConnectOptions::default()
        };
        let t = target(
            json!({"ansible_user": "deploy", "ansible_ssh_common_args": "-o StrictHostKeyChecking=no"}),
            &options,
        );
        assert_eq!(t.user.as_deref(), Some("root"));
        assert_eq!(t.host_key_checking, HostKeyChecking::Strict);
        let local = endpoint(
            "h",
            json!({"ansible_connection": "local"}).as_object().unwrap(),
            &options,
        );
        assert!(matches!(local, Ok(Endpoint::Local)));
    }

    #[test]
    fn unsupported_options_are_refused_not_ignored() {
        let error = endpoint(
            "h1",
            json!({"ansible_ssh_common_args": "-o ProxyCommand=nc"})
                .as_object()
                .unwrap(),
            &ConnectOptions::default(),
        )
        .unwrap_err();
        assert!(error.contains("`proxycommand` is not supported"), "{error}");
    }
}
