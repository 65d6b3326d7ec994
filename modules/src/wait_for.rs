//! `wait_for`: wait until a port opens or closes, a file appears (with some text) or goes,
//! or a port's connections drain, on the host, as Ansible's `wait_for`.
//!
//! Changes nothing; it only waits, so check mode skips it (as Ansible does). The waiting is
//! a loop on the controller, one round trip per try, `sleep` seconds apart, until `timeout`:
//! - a port is tried from the host with bash's `/dev/tcp` under `timeout` (the host needs
//!   `bash` and coreutils' `timeout`; the task says so when they are missing). With
//!   `search_regex`, each try reads what the port sends (for 1 s, then 2 s, 4 s… within the
//!   time left) and the text is searched on the controller;
//! - a path is tested with `test -e`; with `search_regex` the file is read and searched. The
//!   expression is Python's, in multiline mode, as in Ansible, and its groups are returned as
//!   `match_groups` and `match_groupdict` (a port's match returns them empty, as Ansible's);
//! - `state: drained` counts the connections to `port` in `/proc/net/tcp` and `tcp6` whose
//!   state is one of `active_connection_states`, as Ansible's Linux code does;
//! - with neither port nor path, it waits `timeout` seconds.
//!
//! Results are Ansible's: `state`, `port`, `path`, `search_regex`, `match_groups`,
//! `match_groupdict`, `elapsed` (whole seconds); a timeout fails with Ansible's message or
//! `msg`.
//!
//! ```yaml
//! - wait_for:
//!     port: 8080
//!     timeout: 60
//! - wait_for:
//!     path: /var/log/app.log
//!     search_regex: "started in (?P<ms>\\d+) ms"
//! ```

use crate::args::StringList;
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::Plan;
use crate::pyregex::{Flags, PyRegex};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// What to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WaitState {
    /// The port accepts connections (or the file exists).
    #[default]
    Started,
    /// The same as `started`.
    Present,
    /// The port refuses connections.
    Stopped,
    /// The file is gone (or the port refuses connections).
    Absent,
    /// No active connections to the port are left.
    Drained,
}

impl WaitState {
    fn as_str(self) -> &'static str {
        match self {
            WaitState::Started => "started",
            WaitState::Present => "present",
            WaitState::Stopped => "stopped",
            WaitState::Absent => "absent",
            WaitState::Drained => "drained",
        }
    }
}

fn default_host() -> String {
    "127.0.0.1".into()
}
fn default_timeout() -> u64 {
    300
}
fn default_connect_timeout() -> u64 {
    5
}
fn default_sleep() -> u64 {
    1
}
fn default_states() -> StringList {
    StringList(
        [
            "ESTABLISHED",
            "FIN_WAIT1",
            "FIN_WAIT2",
            "SYN_RECV",
            "SYN_SENT",
            "TIME_WAIT",
        ]
        .map(String::from)
        .to_vec(),
    )
}

/// Arguments of `wait_for`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WaitForArgs {
    /// The address or name to connect to, from the host.
    #[serde(default = "default_host")]
    pub host: String,
    /// Seconds to wait at most.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// Seconds one connection attempt may take.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: u64,
    /// Seconds to wait before the first try.
    #[serde(default)]
    pub delay: u64,
    /// The TCP port to wait for.
    pub port: Option<u16>,
    /// With `state: drained`, the TCP states that count as active.
    #[serde(default = "default_states")]
    pub active_connection_states: StringList,
    /// The file to wait for (not with `port`).
    pub path: Option<String>,
    /// A Python regular expression the file or the port's first bytes must contain.
    pub search_regex: Option<String>,
    /// `started`/`present`, `stopped`/`absent`, or `drained`.
    #[serde(default)]
    pub state: WaitState,
    /// With `state: drained`, connections from these addresses do not count.
    pub exclude_hosts: Option<StringList>,
    /// Seconds between tries.
    #[serde(default = "default_sleep")]
    pub sleep: u64,
    /// The message of the failure on timeout, instead of Ansible's.
    pub msg: Option<String>,
}

/// The `wait_for` module.
pub struct WaitFor;

/// The `/proc/net/tcp` code of a TCP state name.
fn state_code(name: &str) -> Option<&'static str> {
    Some(match name {
        "ESTABLISHED" => "01",
        "SYN_SENT" => "02",
        "SYN_RECV" => "03",
        "FIN_WAIT1" => "04",
        "FIN_WAIT2" => "05",
        "TIME_WAIT" => "06",
        "CLOSE" => "07",
        "CLOSE_WAIT" => "08",
        "LAST_ACK" => "09",
        "LISTEN" => "0A",
        "CLOSING" => "0B",
        _ => return None,
    })
}

fn regex(pattern: &str) -> Result<PyRegex, String> {
    PyRegex::new(
        pattern,
        Flags {
            multiline: true,
            ..Flags::default()
        },
    )
    .map_err(|error| format!("Invalid regular expression: {}", error.reason()))
}

impl TypedModule for WaitFor {
    type Args = WaitForArgs;
    const NAME: &'static str = "wait_for";
    const SUMMARY: &'static str =
        "Wait for a port to open or close, a file to appear or go, or connections to drain";
    const EXAMPLES: &'static str = "- wait_for:\n    port: 8080\n    timeout: 60\n\n- wait_for:\n    host: \"{{ ansible_default_ipv4.address }}\"\n    port: 22\n    search_regex: OpenSSH\n    delay: 10\n\n- wait_for:\n    path: /var/log/app.log\n    search_regex: \"started in (?P<ms>\\\\d+) ms\"\n  register: started\n\n- wait_for:\n    path: /run/app.lock\n    state: absent\n\n- wait_for:\n    host: 0.0.0.0\n    port: 443\n    state: drained\n    exclude_hosts: [10.0.0.1]\n";
    const USES_FACTS: bool = false;
    const SUPPORTS_CHECK_MODE: bool = false;

    fn check(args: &WaitForArgs) -> Result<(), ArgsError> {
        let fail = |argument: &str, message: &str| Err(ArgsError::new(Some(argument), message));
        if args.port.is_some() && args.path.is_some() {
            return fail(
                "path",
                "port and path parameter can not both be passed to wait_for",
            );
        }
        if args.path.is_some() && args.state == WaitState::Stopped {
            return fail(
                "state",
                "state=stopped should only be used for checking a port in the wait_for module",
            );
        }
        if args.path.is_some() && args.state == WaitState::Drained {
            return fail(
                "state",
                "state=drained should only be used for checking a port in the wait_for module",
            );
        }
        if args.exclude_hosts.is_some() && args.state != WaitState::Drained {
            return fail(
                "exclude_hosts",
                "exclude_hosts should only be with state=drained",
            );
        }
        if args.state == WaitState::Drained && args.port.is_none() {
            return fail(
                "port",
                "state=drained needs the `port` whose connections drain",
            );
        }
        for state in &args.active_connection_states.0 {
            if state_code(state).is_none() {
                return fail(
                    "active_connection_states",
                    &format!("unknown active_connection_state ({state}) defined"),
                );
            }
        }
        if let Some(pattern) = &args.search_regex {
            regex(pattern).map_err(|message| ArgsError::new(Some("search_regex"), message))?;
        }
        Ok(())
    }

    fn plan(args: WaitForArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let start = Instant::now();
        let found = wait(&args, host, start)?;
        let mut plan = Plan::unchanged();
        let result = &mut plan.result;
        result.insert("state".into(), json!(args.state.as_str()));
        result.insert("port".into(), json!(args.port));
        result.insert("path".into(), json!(args.path));
        result.insert("search_regex".into(), json!(args.search_regex));
        result.insert("match_groups".into(), Value::Array(found.groups));
        result.insert("match_groupdict".into(), Value::Object(found.groupdict));
        result.insert("elapsed".into(), json!(start.elapsed().as_secs()));
        Ok(plan)
    }
}

/// The groups of the match that ended the wait.
#[derive(Default)]
struct Matched {
    groups: Vec<Value>,
    groupdict: Map<String, Value>,
}

fn matched(re: &PyRegex, text: &str) -> Result<Option<Matched>, ModuleError> {
    let Some(found) = re
        .search(text)
        .map_err(|error| ModuleError::failed(error.to_string()))?
    else {
        return Ok(None);
    };
    let groups = (1..=re.groups())
        .map(|index| json!(found.group(index)))
        .collect();
    let groupdict = re
        .group_names()
        .map(|(name, index)| (name.to_string(), json!(found.group(index))))
        .collect();
    Ok(Some(Matched { groups, groupdict }))
}

fn sleep_secs(seconds: u64) {
    if seconds > 0 {
        std::thread::sleep(Duration::from_secs(seconds));
    }
}

fn wait(args: &WaitForArgs, host: &mut dyn Host, start: Instant) -> Result<Matched, ModuleError> {
    sleep_secs(args.delay);
    let end = start + Duration::from_secs(args.timeout);
    let re = args
        .search_regex
        .as_deref()
        .map(regex)
        .transpose()
        .map_err(ModuleError::failed)?;
    let timeout_failure =
        |default: String| ModuleError::failed(args.msg.clone().unwrap_or(default));
    let target = format!("{}:{}", args.host, args.port.unwrap_or_default());
    match (args.port, &args.path, args.state) {
        (None, None, state) if state != WaitState::Drained => {
            sleep_secs(args.timeout);
            Ok(Matched::default())
        }
        (port, path, WaitState::Absent | WaitState::Stopped) => {
            while Instant::now() < end {
                let gone = match (path, port) {
                    (Some(path), _) => !exists(host, path)?,
                    (None, Some(port)) => !connects(host, &args.host, port, args.connect_timeout)?,
                    (None, None) => true,
                };
                if gone {
                    return Ok(Matched::default());
                }
                sleep_secs(args.sleep);
            }
            Err(timeout_failure(match path {
                Some(path) => format!("Timeout when waiting for {path} to be absent."),
                None => format!("Timeout when waiting for {target} to stop."),
            }))
        }
        (port, path, WaitState::Started | WaitState::Present) => {
            let mut window = 1u64;
            while Instant::now() < end {
                let left = end
                    .saturating_duration_since(Instant::now())
                    .as_secs_f64()
                    .ceil() as u64;
                match (path, port, &re) {
                    (Some(path), _, None) => {
                        if exists(host, path)? {
                            return Ok(Matched::default());
                        }
                    }
                    (Some(path), _, Some(re)) => {
                        if let Ok(Some(bytes)) = host.read_file(path) {
                            if let Some(found) = matched(re, &String::from_utf8_lossy(&bytes))? {
                                return Ok(found);
                            }
                        }
                    }
                    (None, Some(port), None) => {
                        let attempt = args.connect_timeout.min(left.max(1));
                        if connects(host, &args.host, port, attempt)? {
                            return Ok(Matched::default());
                        }
                    }
                    (None, Some(port), Some(re)) => {
                        let read_for = window.min(left.max(1));
                        window = window.saturating_mul(2);
                        if let Some(data) = read_port(host, &args.host, port, read_for)? {
                            // Ansible returns a port match's groups empty.
                            if matched(re, &String::from_utf8_lossy(&data))?.is_some() {
                                return Ok(Matched::default());
                            }
                        }
                    }
                    (None, None, _) => return Ok(Matched::default()),
                }
                sleep_secs(args.sleep);
            }
            Err(timeout_failure(match (path, &args.search_regex) {
                (Some(path), Some(regex)) => {
                    format!("Timeout when waiting for search string {regex} in {path}")
                }
                (Some(path), None) => format!("Timeout when waiting for file {path}"),
                (None, Some(regex)) => {
                    format!("Timeout when waiting for search string {regex} in {target}")
                }
                (None, None) => format!("Timeout when waiting for {target}"),
            }))
        }
        (port, _, _) => {
            let port = port.unwrap_or_default();
            let ips = resolve(host, &args.host)?;
            let mut excluded = Vec::new();
            for name in args.exclude_hosts.iter().flat_map(|list| &list.0) {
                excluded.extend(resolve(host, name)?);
            }
            let states: Vec<&str> = args
                .active_connection_states
                .0
                .iter()
                .filter_map(|state| state_code(state))
                .collect();
            while Instant::now() < end {
                let output = host.run(&Command::shell(
                    "cat /proc/net/tcp /proc/net/tcp6 2>/dev/null",
                ))?;
                if active_connections(&output.stdout_text(), port, &ips, &excluded, &states) == 0 {
                    return Ok(Matched::default());
                }
                sleep_secs(args.sleep);
            }
            Err(timeout_failure(format!(
                "Timeout when waiting for {target} to drain"
            )))
        }
    }
}

/// Whether `path` exists on the host (following links, as `os.stat` does).
fn exists(host: &mut dyn Host, path: &str) -> Result<bool, ModuleError> {
    Ok(host.run(&Command::argv(["test", "-e", path]))?.success())
}

/// Status of the probe scripts when the connection failed.
const NOT_CONNECTED: i32 = 111;

fn missing_tools(status: i32, stderr: &str) -> Option<ModuleError> {
    (status == 127 || status == 126).then(|| ModuleError::Failed {
        message: format!(
            "`wait_for` cannot test a port on this host: it needs `bash` and `timeout` ({})",
            stderr.trim()
        ),
        hint: Some("install bash and coreutils on the host".into()),
    })
}

/// Whether a TCP connection from the host to `address:port` succeeds within `seconds`.
/// Connect from the host to `address`:`port` (bash's /dev/tcp), then run `then` with the
/// connection on fd 3, for at most `seconds`; exits [`NOT_CONNECTED`] when no connection
/// was made.
fn port_command(address: &str, port: u16, seconds: u64, then: &str) -> Command {
    Command::argv([
        "timeout".to_string(),
        seconds.max(1).to_string(),
        "bash".into(),
        "-c".into(),
        format!("exec 3<>\"/dev/tcp/$1/$2\" || exit {NOT_CONNECTED}{then}"),
        "wait_for".into(),
        address.to_string(),
        port.to_string(),
    ])
}

fn connects(
    host: &mut dyn Host,
    address: &str,
    port: u16,
    seconds: u64,
) -> Result<bool, ModuleError> {
    let output = host.run(&port_command(address, port, seconds, ""))?;
    if let Some(error) = missing_tools(output.status, &output.stderr_text()) {
        return Err(error);
    }
    Ok(output.success())
}

/// Connect from the host and read what the port sends for `seconds` (or until it closes);
/// `None` when no connection was made.
fn read_port(
    host: &mut dyn Host,
    address: &str,
    port: u16,
    seconds: u64,
) -> Result<Option<Vec<u8>>, ModuleError> {
    let output = host.run(&port_command(address, port, seconds, "; cat <&3"))?;
    if let Some(error) = missing_tools(output.status, &output.stderr_text()) {
        return Err(error);
    }
    Ok(match output.status {
        NOT_CONNECTED => None,
        124 if output.stdout.is_empty() => None,
        _ => Some(output.stdout),
    })
}

/// The addresses of `name` as the host resolves it (an address stays itself).
fn resolve(host: &mut dyn Host, name: &str) -> Result<Vec<IpAddr>, ModuleError> {
    if let Ok(ip) = name.parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    let output = host.run(&Command::argv(["getent", "ahosts", name]))?;
    let ips: Vec<IpAddr> = output
        .stdout_text()
        .lines()
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect();
    if ips.is_empty() {
        return Err(ModuleError::failed(format!(
            "cannot resolve `{name}` on the host"
        )));
    }
    Ok(ips)
}

/// An address as `/proc/net/tcp` writes it: each 32-bit group in host (little-endian) order.
fn proc_hex(ip: IpAddr) -> String {
    let bytes = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    bytes
        .chunks(4)
        .map(|group| {
            group
                .iter()
                .rev()
                .map(|b| format!("{b:02X}"))
                .collect::<String>()
        })
        .collect()
}

/// The connections Ansible's Linux `wait_for` counts as active: local port `port`, a state
/// among `states` (`/proc` codes), a local address among `ips` (or `ips` holds the wildcard
/// address of its family, or an IPv4-mapped one), a remote address not among `excluded`.
pub fn active_connections(
    proc_net_tcp: &str,
    port: u16,
    ips: &[IpAddr],
    excluded: &[IpAddr],
    states: &[&str],
) -> usize {
    let port = format!("{port:04X}");
    let ips: Vec<String> = ips.iter().map(|ip| proc_hex(*ip)).collect();
    let excluded: Vec<String> = excluded.iter().map(|ip| proc_hex(*ip)).collect();
    let mut count = 0;
    for line in proc_net_tcp.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 || fields[1] == "local_address" {
            continue;
        }
        if !states.contains(&fields[3]) {
            continue;
        }
        let (Some((local_ip, local_port)), Some((remote_ip, _))) =
            (fields[1].split_once(':'), fields[2].split_once(':'))
        else {
            continue;
        };
        if local_port != port || excluded.iter().any(|ip| ip == remote_ip) {
            continue;
        }
        let wildcard = "0".repeat(local_ip.len());
        let mapped_any = local_ip.len() == 32
            && local_ip.starts_with("0000000000000000FFFF0000")
            && ips
                .iter()
                .any(|ip| ip == "0000000000000000FFFF000000000000");
        if ips.iter().any(|ip| ip == local_ip || *ip == wildcard) || mapped_any {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_addresses_are_little_endian_groups() {
        assert_eq!(proc_hex("127.0.0.1".parse().unwrap()), "0100007F");
        assert_eq!(
            proc_hex("::1".parse().unwrap()),
            "00000000000000000000000001000000"
        );
    }
}
