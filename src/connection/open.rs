//! Choosing and opening a host's transport from its variables, Ansible's way:
//! `ansible_connection`, `ansible_host`, `ansible_port`, `ansible_user`,
//! `ansible_ssh_private_key_file`, `ansible_password`, `ansible_host_key_checking`,
//! `ansible_timeout`, and the OpenSSH client arguments in `ansible_ssh_args`,
//! `ansible_ssh_common_args` and `ansible_ssh_extra_args` (`-o KEY=VALUE`, `-F`, `-i`, `-p`,
//! `-l`, `-J`, `-C`, `-4`/`-6`, `-c`, `-m`; every other OpenSSH flag is accepted and noted).
//! Extra variables (`-e`) win over the inventory's, as in Ansible; the command line's
//! connection flags (`-u`, `--private-key`, `-T`…) win over both.

use super::local::LocalConnection;
use super::ssh::config::HostConfig;
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
                target.connect_timeout = Some(timeout);
                Endpoint::Ssh(target)
            }
        }
    }

    /// The SSH arguments accepted without effect, in words (for `-v`). The connection's
    /// [`super::Connection::notes`] has these and those of `~/.ssh/config`.
    pub fn notes(&self) -> &[String] {
        match self {
            Endpoint::Local => &[],
            Endpoint::Ssh(target) => &target.options.notes,
        }
    }
}

/// The variables that decide a host's connection: the inventory's, overridden by the extra
/// variables (`-e`), which win over everything in Ansible. The runner's become settings
/// (`ansible_become`, `ansible_become_user`, `ansible_become_method`) read the same map.
pub fn connection_vars(
    host_vars: &Map<String, Value>,
    extra_vars: &Map<String, Value>,
) -> Map<String, Value> {
    let mut vars = host_vars.clone();
    for (key, value) in extra_vars {
        vars.insert(key.clone(), value.clone());
    }
    vars
}

/// Work out how to reach `host` from its variables: [`connection_vars`] (the inventory's with
/// the extra variables over them).
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
    let first = |keys: &[&str]| keys.iter().find_map(|k| text(k));
    let kind = options
        .connection
        .clone()
        .or_else(|| text("ansible_connection"))
        .unwrap_or_else(|| "ssh".into());
    match kind.as_str() {
        "local" => return Ok(Endpoint::Local),
        "ssh" | "smart" | "paramiko" | "ansible.builtin.ssh" | "ansible.legacy.ssh" => {}
        other => {
            return Err(format!(
                "unknown connection type `{other}` for `{host}`; converge knows `local` and `ssh`"
            ))
        }
    }
    let mut target = SshTarget::new(host);
    if let Some(address) = first(&["ansible_host", "ansible_ssh_host"]) {
        target.address = address;
    }
    if let Some(port) = first(&["ansible_port", "ansible_ssh_port"]) {
        target.port =
            Some(port.parse().map_err(|_| {
                format!("`ansible_port` of `{host}` is `{port}`, not a port number")
            })?);
    }
    target.user = options
        .user
        .clone()
        .or_else(|| first(&["ansible_user", "ansible_ssh_user"]));
    if let Some(key) = options.private_key.clone().or_else(|| {
        first(&["ansible_ssh_private_key_file", "ansible_private_key_file"]).map(PathBuf::from)
    }) {
        target.identity_files.push(key);
    }
    if let Some(checking) = first(&["ansible_host_key_checking", "ansible_ssh_host_key_checking"]) {
        // Ansible's `host_key_checking = False` is OpenSSH's `StrictHostKeyChecking=no`;
        // True adds nothing, leaving the ssh arguments and config to decide.
        if matches!(
            checking.to_ascii_lowercase().as_str(),
            "false" | "no" | "0" | "off"
        ) {
            target.host_key_checking = Some(HostKeyChecking::Off);
        }
    }
    if let Some(seconds) = first(&["ansible_timeout", "ansible_ssh_timeout"]) {
        target.connect_timeout = Some(Duration::from_secs(seconds.parse().map_err(|_| {
            format!("`ansible_timeout` of `{host}` is `{seconds}`, not a number of seconds")
        })?));
    }
    // In the order Ansible passes them to ssh: the first value given for an option wins.
    for key in [
        "ansible_ssh_args",
        "ansible_ssh_common_args",
        "ansible_ssh_extra_args",
    ] {
        if let Some(args) = text(key) {
            apply_ssh_args(&mut target, &args).map_err(|e| format!("`{key}` of `{host}`: {e}"))?;
        }
    }
    if let Some(checking) = options.host_key_checking {
        target.host_key_checking = Some(checking);
    }
    if let Some(seconds) = options.timeout {
        target.connect_timeout = Some(Duration::from_secs(seconds));
    }
    target.command_timeout = options.command_timeout.map(Duration::from_secs);
    target.password = options.password.clone().or_else(|| {
        first(&[
            "ansible_password",
            "ansible_ssh_pass",
            "ansible_ssh_password",
        ])
        .map(Secret)
    });
    target.passphrase = options.passphrase.clone();
    Ok(Endpoint::Ssh(Box::new(target)))
}

/// OpenSSH's flags that take a value (`ssh -p 2222`, `-p2222`).
const FLAGS_WITH_VALUE: &str = "BbcDEeFIiJLlmOoPpQRSWw";
/// OpenSSH's flags without a value (`-C`, `-4`, `-vvv`).
const FLAGS_ALONE: &str = "46AaCfGgKkMNnqsTtVvXxYy";

/// The OpenSSH client arguments of `ansible_ssh_common_args` and friends, read as ssh reads
/// its command line. Every ssh flag and `-o` option is accepted; those without meaning for
/// converge are noted in `target.options.notes`.
fn apply_ssh_args(target: &mut SshTarget, args: &str) -> Result<(), String> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"));
    let name = target.name.clone();
    let words = split_words(args).ok_or("unclosed quote")?;
    let mut words = words.into_iter();
    while let Some(word) = words.next() {
        let Some(flags) = word.strip_prefix('-').filter(|f| !f.is_empty()) else {
            target
                .options
                .notes
                .push(format!("ssh argument `{word}` is not an option; ignored"));
            continue;
        };
        for (at, flag) in flags.char_indices() {
            if FLAGS_WITH_VALUE.contains(flag) {
                let inline = &flags[at + flag.len_utf8()..];
                let value = if inline.is_empty() {
                    words
                        .next()
                        .ok_or_else(|| format!("`-{flag}` needs a value"))?
                } else {
                    inline.to_string()
                };
                apply_flag(target, flag, &value, &home, &name)?;
                break;
            }
            if !FLAGS_ALONE.contains(flag) {
                target
                    .options
                    .notes
                    .push(format!("`-{flag}` is not an OpenSSH client flag; ignored"));
                continue;
            }
            let options = &mut target.options;
            let set = |options: &mut HostConfig, key: &str, value: &str| {
                options.set(key, value, &home, &name)
            };
            match flag {
                '4' => set(options, "AddressFamily", "inet")?,
                '6' => set(options, "AddressFamily", "inet6")?,
                'C' => set(options, "Compression", "yes")?,
                'A' | 'a' => options
                    .notes
                    .push(format!("`-{flag}` (agent forwarding): converge opens no forwardings; ignored")),
                'X' | 'x' | 'Y' => options
                    .notes
                    .push(format!("`-{flag}` (X11 forwarding): converge opens no forwardings; ignored")),
                'v' | 'q' => options
                    .notes
                    .push(format!("`-{flag}` (OpenSSH's own logging): converge reports with -v; ignored")),
                't' | 'T' => options.notes.push(format!(
                    "`-{flag}` (terminal allocation): converge runs commands without a terminal; ignored"
                )),
                other => options.notes.push(format!(
                    "`-{other}`: an OpenSSH client flag with no meaning for converge; ignored"
                )),
            }
        }
    }
    Ok(())
}

/// One ssh flag that takes a value.
fn apply_flag(
    target: &mut SshTarget,
    flag: char,
    value: &str,
    home: &std::path::Path,
    name: &str,
) -> Result<(), String> {
    let options = &mut target.options;
    match flag {
        'o' => {
            let (key, val) = value
                .split_once('=')
                .or_else(|| value.trim().split_once(char::is_whitespace))
                .ok_or_else(|| format!("`-o {value}` is not KEY=VALUE"))?;
            options.set(key.trim(), val.trim(), home, name)?;
        }
        'F' => {
            if target.ssh_config.is_none() {
                target.ssh_config = Some(PathBuf::from(value));
            }
        }
        'i' => options.set("IdentityFile", value, home, name)?,
        'p' => options.set("Port", value, home, name)?,
        'l' => options.set("User", value, home, name)?,
        'J' => options.set("ProxyJump", value, home, name)?,
        'c' => options.set("Ciphers", value, home, name)?,
        'm' => options.set("MACs", value, home, name)?,
        'S' => options.set("ControlPath", value, home, name)?,
        'L' | 'R' | 'D' | 'W' | 'w' => options.notes.push(format!(
            "`-{flag} {value}` (forwarding): converge opens no forwardings; ignored"
        )),
        other => options.notes.push(format!(
            "`-{other} {value}`: an OpenSSH client flag with no meaning for converge; ignored"
        )),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::ssh::config::{AddressFamily, Proxy};
    use serde_json::json;

    fn endpoint_of(
        vars: Value,
        extra: Value,
        options: &ConnectOptions,
    ) -> Result<Endpoint, String> {
        endpoint(
            "h1",
            &connection_vars(
                vars.as_object().expect("map"),
                extra.as_object().expect("map"),
            ),
            options,
        )
    }

    fn target(vars: Value, options: &ConnectOptions) -> SshTarget {
        match endpoint_of(vars, json!({}), options) {
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
        assert_eq!(
            t.options.user_known_hosts_files,
            vec![PathBuf::from("/lab/known_hosts")]
        );
        assert!(t.options.identities_only);
        assert_eq!(
            t.options.strict_host_key_checking,
            Some(HostKeyChecking::AcceptNew)
        );
        assert_eq!(t.host_key_checking, None);
        assert_eq!(t.command_timeout, None, "no command timeout unless asked");
    }

    #[test]
    fn extra_vars_win_over_the_inventory() {
        let inventory = json!({
            "ansible_host": "10.0.0.1",
            "ansible_port": 22,
            "ansible_user": "deploy",
            "ansible_ssh_private_key_file": "/keys/inventory",
            "ansible_ssh_common_args": "-o ServerAliveInterval=30",
            "ansible_host_key_checking": true
        });
        let extra = json!({
            "ansible_host": "10.0.0.2",
            "ansible_port": "2222",
            "ansible_user": "admin",
            "ansible_ssh_private_key_file": "/keys/extra",
            "ansible_ssh_common_args": "-o ServerAliveInterval=5",
            "ansible_host_key_checking": "False",
            "ansible_password": "pw",
            "ansible_timeout": "7"
        });
        let Ok(Endpoint::Ssh(t)) =
            endpoint_of(inventory.clone(), extra, &ConnectOptions::default())
        else {
            panic!("expected ssh")
        };
        assert_eq!(t.address, "10.0.0.2");
        assert_eq!(t.port, Some(2222));
        assert_eq!(t.user.as_deref(), Some("admin"));
        assert_eq!(t.identity_files, vec![PathBuf::from("/keys/extra")]);
        assert_eq!(t.options.server_alive_interval, Some(5));
        assert_eq!(t.host_key_checking, Some(HostKeyChecking::Off));
        assert_eq!(t.password.as_ref().map(|p| p.0.as_str()), Some("pw"));
        assert_eq!(t.connect_timeout, Some(Duration::from_secs(7)));
        // `-e ansible_connection=local` makes the host local.
        let local = endpoint_of(
            inventory,
            json!({"ansible_connection": "local"}),
            &ConnectOptions::default(),
        );
        assert!(matches!(local, Ok(Endpoint::Local)), "{local:?}");
    }

    #[test]
    fn command_line_wins_and_local_is_local() {
        let options = ConnectOptions {
            user: Some("root".into()),
            host_key_checking: Some(HostKeyChecking::Strict),
            command_timeout: Some(30),
            ..ConnectOptions::default()
        };
        let t = target(
            json!({"ansible_user": "deploy", "ansible_host_key_checking": false}),
            &options,
        );
        assert_eq!(t.user.as_deref(), Some("root"));
        assert_eq!(t.host_key_checking, Some(HostKeyChecking::Strict));
        assert_eq!(t.command_timeout, Some(Duration::from_secs(30)));
        let local = endpoint(
            "h",
            json!({"ansible_connection": "local"}).as_object().unwrap(),
            &options,
        );
        assert!(matches!(local, Ok(Endpoint::Local)));
    }

    #[test]
    fn every_openssh_option_is_accepted_and_the_ineffective_ones_are_noted() {
        let t = target(
            json!({
                "ansible_port": 2200,
                "ansible_ssh_args": "-C -o ControlMaster=auto -o ControlPersist=60s",
                "ansible_ssh_common_args": "-4 -vvv -o ProxyCommand='ssh -W %h:%p gw' -oServerAliveInterval=5 -o ServerAliveCountMax=2 -o GSSAPIAuthentication=no -o ForwardAgent=yes -o \"PreferredAuthentications publickey\" -o StrictHostKeyChecking=no -o HostKeyAlgorithms=ssh-ed25519 -o PubkeyAcceptedAlgorithms=+ssh-rsa -o Port=2222 -p2223 -o GlobalKnownHostsFile=/etc/kh",
                "ansible_ssh_extra_args": "-o ServerAliveInterval=99 -L 8080:localhost:80"
            }),
            &ConnectOptions::default(),
        );
        let o = &t.options;
        assert_eq!(
            t.port,
            Some(2200),
            "ansible_port comes before the arguments"
        );
        assert_eq!(o.port, Some(2222), "the first Port given wins");
        assert_eq!(o.compression, Some(true));
        assert_eq!(o.address_family, Some(AddressFamily::Inet));
        assert_eq!(o.proxy, Some(Proxy::Command("ssh -W %h:%p gw".into())));
        assert_eq!(o.server_alive_interval, Some(5));
        assert_eq!(o.server_alive_count_max, Some(2));
        assert_eq!(o.strict_host_key_checking, Some(HostKeyChecking::Off));
        assert_eq!(o.host_key_algorithms.as_deref(), Some("ssh-ed25519"));
        assert_eq!(o.pubkey_accepted_algorithms.as_deref(), Some("+ssh-rsa"));
        assert_eq!(o.global_known_hosts_files, vec![PathBuf::from("/etc/kh")]);
        let notes = o.notes.join("\n");
        for noted in [
            "`ControlMaster auto`",
            "`ControlPersist 60s`",
            "`-v` (OpenSSH's own logging)",
            "`GSSAPIAuthentication no`",
            "`ForwardAgent yes`",
            "`PreferredAuthentications publickey`",
            "`-L 8080:localhost:80` (forwarding)",
        ] {
            assert!(notes.contains(noted), "{noted} not in:\n{notes}");
        }
        assert_eq!(
            Endpoint::Ssh(Box::new(t.clone())).notes(),
            o.notes.as_slice()
        );
    }

    #[test]
    fn a_bad_value_is_an_error_naming_the_variable() {
        let error = endpoint_of(
            json!({"ansible_ssh_common_args": "-o ServerAliveInterval=often"}),
            json!({}),
            &ConnectOptions::default(),
        )
        .unwrap_err();
        assert_eq!(
            error,
            "`ansible_ssh_common_args` of `h1`: ServerAliveInterval `often` is not a number"
        );
    }
}
