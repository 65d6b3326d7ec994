//! `ufw` (community.general.ufw): the Uncomplicated Firewall's state, default policies,
//! logging level and rules, with Ansible's arguments.
//!
//! Planning reads, in one round trip (a fixed script; values travel as argv, never as shell
//! text): whether `ufw` is installed (a host without it is refused, never skipped), `ufw
//! --version`, `ufw status verbose`, `/etc/ufw/ufw.conf` (ENABLED, LOGLEVEL),
//! `/etc/default/ufw` (the DEFAULT_*_POLICY lines), the `### tuple` lines of the user rules
//! files (the files Ansible greps: `/etc/ufw/user.rules`, `user6.rules`, and the older
//! `/lib/ufw` and `/var/lib/ufw` places), the ports sshd listens on, and for a rule `ufw
//! --dry-run RULE`: ufw's own rendering of the rules files it would write, so ufw decides what
//! a rule means (ports, applications, comments) and converge compares its tuples with the
//! current ones, per address family. `insert_relative_to` other than `zero` needs `ufw status
//! numbered` first, a second round trip.
//!
//! Idempotence: `state: enabled`/`disabled` is a change only when `ufw status` says otherwise;
//! `reloaded` and `reset` are always a change (as Ansible reports them); `default` compares
//! the policy file and `logging` the level in ufw.conf (Ansible reads both from `ufw status
//! verbose`, which shows neither while ufw is inactive, so its real run reports no change
//! there and its check mode a change; converge reports what the files say); a rule is a change
//! when ufw's dry run would alter the tuples. Steps run in Ansible's order: state, default,
//! rule, logging, with the command words Ansible builds. `ufw --dry-run logging` is never
//! used: ufw 0.36 writes the level even in a dry run.
//!
//! Lock-out: ufw keeps the current SSH session (its before.rules accept established
//! connections), but with incoming traffic denied and no rule allowing sshd's port, the next
//! connection is refused. Ansible does not look. converge warns whenever a task leaves ufw in
//! that state, and guards every change that could cut SSH off (enabling, an incoming policy,
//! a deny/reject/limit rule, a deletion or an insertion, with ufw active afterwards): the first
//! step saves ufw's files and arms a detached timer on the host, and the plan's confirmation
//! disarms it over a fresh SSH connection. If converge cannot reconnect within
//! `rollback_timeout` seconds (converge's own argument, default 20, 0 turns it off), the task
//! fails and the host puts the files back and reloads ufw (or disables it, if it was off).
//! Adding `allow` rules, logging and outgoing or routed policies are not guarded.
//!
//! ```yaml
//! - community.general.ufw:
//!     rule: allow
//!     port: "22"
//!     proto: tcp
//! - community.general.ufw:
//!     state: enabled
//!     policy: deny
//! ```

use crate::args::{Flag, Text};
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Confirmation, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

/// Whether ufw runs, or a one-off action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UfwState {
    /// Active now and at boot (`ufw --force enable`).
    Enabled,
    /// Inactive now and at boot (`ufw disable`).
    Disabled,
    /// Reload the rules (`ufw reload`); always reported as a change.
    Reloaded,
    /// Back to the installation defaults, disabled (`ufw --force reset`); always a change.
    Reset,
}

impl UfwState {
    fn verb(self) -> &'static str {
        match self {
            UfwState::Enabled => "enable",
            UfwState::Disabled => "disable",
            UfwState::Reloaded => "reload",
            UfwState::Reset => "reset",
        }
    }
}

/// A default policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// ACCEPT.
    Allow,
    /// DROP.
    Deny,
    /// REJECT.
    Reject,
}

impl Policy {
    fn word(self) -> &'static str {
        match self {
            Policy::Allow => "allow",
            Policy::Deny => "deny",
            Policy::Reject => "reject",
        }
    }
}

/// A logging level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Log everything.
    Full,
    /// Log more.
    High,
    /// Log blocked packets.
    Low,
    /// Log blocked and new allowed packets.
    Medium,
    /// No logging.
    Off,
    /// Logging on, keeping the current level (`low` when it was off).
    On,
}

impl LogLevel {
    fn word(self) -> &'static str {
        match self {
            LogLevel::Full => "full",
            LogLevel::High => "high",
            LogLevel::Low => "low",
            LogLevel::Medium => "medium",
            LogLevel::Off => "off",
            LogLevel::On => "on",
        }
    }
}

/// A direction: `in`/`out` for rules, `incoming`/`outgoing`/`routed` for `default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// A rule for incoming traffic.
    In,
    /// The default policy for incoming traffic.
    Incoming,
    /// A rule for outgoing traffic.
    Out,
    /// The default policy for outgoing traffic.
    Outgoing,
    /// The default policy for forwarded traffic.
    Routed,
}

impl Direction {
    fn word(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Incoming => "incoming",
            Direction::Out => "out",
            Direction::Outgoing => "outgoing",
            Direction::Routed => "routed",
        }
    }
}

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Accept.
    Allow,
    /// Drop.
    Deny,
    /// Accept, but refuse an address that opened 6 or more connections in 30 seconds.
    Limit,
    /// Refuse with an ICMP/TCP reset.
    Reject,
}

impl RuleAction {
    fn word(self) -> &'static str {
        match self {
            RuleAction::Allow => "allow",
            RuleAction::Deny => "deny",
            RuleAction::Limit => "limit",
            RuleAction::Reject => "reject",
        }
    }
}

/// Where `insert` counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum InsertRelativeTo {
    /// `insert` is the rule number itself.
    #[default]
    Zero,
    /// Relative to the first IPv4 rule.
    FirstIpv4,
    /// Relative to the last IPv4 rule.
    LastIpv4,
    /// Relative to the first IPv6 rule.
    FirstIpv6,
    /// Relative to the last IPv6 rule.
    LastIpv6,
}

/// A rule's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Proto {
    Ah,
    Any,
    Esp,
    Ipv6,
    Tcp,
    Udp,
    Gre,
    Igmp,
    Vrrp,
}

impl Proto {
    fn word(self) -> &'static str {
        match self {
            Proto::Ah => "ah",
            Proto::Any => "any",
            Proto::Esp => "esp",
            Proto::Ipv6 => "ipv6",
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
            Proto::Gre => "gre",
            Proto::Igmp => "igmp",
            Proto::Vrrp => "vrrp",
        }
    }
}

fn any() -> Text {
    Text("any".into())
}

/// Arguments of `ufw` (Ansible's names, aliases and defaults). At least one of `state`,
/// `default`, `rule` and `logging` is needed.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UfwArgs {
    /// Enable, disable, reload or reset the firewall.
    pub state: Option<UfwState>,
    /// A default policy, for `direction` (`incoming` when not given).
    #[serde(alias = "policy")]
    pub default: Option<Policy>,
    /// The logging level.
    pub logging: Option<LogLevel>,
    /// `in`/`out` for a rule; `incoming`/`outgoing`/`routed` for `default`.
    pub direction: Option<Direction>,
    /// Delete the rule instead of adding it.
    #[serde(default)]
    pub delete: Flag,
    /// A rule for routed (forwarded) traffic (`ufw route …`).
    #[serde(default)]
    pub route: Flag,
    /// Insert the rule as this number (counted as `insert_relative_to` says) instead of
    /// appending it.
    pub insert: Option<i64>,
    /// Where `insert` counts from.
    #[serde(default)]
    pub insert_relative_to: InsertRelativeTo,
    /// Add (or with `delete`, remove) a rule with this action.
    pub rule: Option<RuleAction>,
    /// The interface of the rule (needs `direction`).
    #[serde(alias = "if")]
    pub interface: Option<Text>,
    /// The incoming interface (`in on IF`).
    #[serde(alias = "if_in")]
    pub interface_in: Option<Text>,
    /// The outgoing interface (`out on IF`); with `interface_in` only for route rules.
    #[serde(alias = "if_out")]
    pub interface_out: Option<Text>,
    /// Log new connections matching the rule.
    #[serde(default)]
    pub log: Flag,
    /// Source address or network.
    #[serde(default = "any", alias = "from", alias = "src")]
    pub from_ip: Text,
    /// Source port(s).
    pub from_port: Option<Text>,
    /// Destination address or network.
    #[serde(default = "any", alias = "dest", alias = "to")]
    pub to_ip: Text,
    /// Destination port(s), e.g. `"22"`, `"8000:8100"`, `"80,443"`.
    #[serde(alias = "port")]
    pub to_port: Option<Text>,
    /// Protocol.
    #[serde(alias = "protocol")]
    pub proto: Option<Proto>,
    /// An application profile (`ufw app list`), instead of ports and protocol.
    #[serde(alias = "app")]
    pub name: Option<Text>,
    /// A comment kept with the rule.
    pub comment: Option<Text>,
    /// converge's lock-out guard (not an Ansible argument): when a change could cut off SSH
    /// (enabling, an incoming policy, a deny/reject/limit rule, a deletion or an insertion while
    /// ufw is active), the host puts ufw's previous files and state back by itself unless
    /// converge reconnects within this many seconds. 0 turns the guard off.
    #[serde(default = "default_rollback_timeout")]
    pub rollback_timeout: u64,
}

fn default_rollback_timeout() -> u64 {
    20
}

/// What the probe read from the host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Probe {
    /// `ufw` is installed.
    pub installed: bool,
    /// `(major, minor)` from `ufw --version`.
    pub version: Option<(u32, u32)>,
    /// `ufw status verbose` as printed.
    pub status: String,
    /// Its exit status.
    pub status_rc: i32,
    /// `/etc/ufw/ufw.conf`.
    pub conf: String,
    /// `/etc/default/ufw`.
    pub defaults: String,
    /// `### tuple` lines of the IPv4 user rules.
    pub rules4: Vec<String>,
    /// `### tuple` lines of the IPv6 user rules.
    pub rules6: Vec<String>,
    /// `ufw status numbered`, when asked for.
    pub numbered: String,
    /// `ufw --dry-run RULE`'s output and exit status, when a rule was given.
    pub dry_run: Option<(String, i32)>,
    /// TCP ports sshd listens on.
    pub ssh_ports: Vec<u16>,
}

/// Name given to the probe script (`$0`).
pub const PROBE_NAME: &str = "converge-ufw-probe";

/// `$1` is `yes` to list `ufw status numbered`; `$2…` the rule's words for a dry run (none:
/// no dry run). Sections start with `@@name` lines.
pub const PROBE_SCRIPT: &str = r#"numbered=$1; shift
export LANG=C LC_ALL=C
command -v ufw >/dev/null 2>&1 || { echo @@missing; exit 0; }
echo @@version; ufw --version 2>&1
echo @@status; ufw status verbose 2>&1; echo "@@status_rc $?"
echo @@conf; cat /etc/ufw/ufw.conf 2>/dev/null
echo @@defaults; cat /etc/default/ufw 2>/dev/null
echo @@rules4; grep -h '^### tuple' /lib/ufw/user.rules /etc/ufw/user.rules /var/lib/ufw/user.rules 2>/dev/null
echo @@rules6; grep -h '^### tuple' /lib/ufw/user6.rules /etc/ufw/user6.rules /var/lib/ufw/user6.rules 2>/dev/null
if [ "$numbered" = yes ]; then echo @@numbered; ufw status numbered 2>&1; fi
if [ $# -gt 0 ]; then echo @@dryrun; ufw --dry-run "$@" 2>&1; echo "@@dry_rc $?"; fi
echo @@ssh
if command -v ss >/dev/null 2>&1; then ss -Hltnp 2>/dev/null | grep '"sshd"' | awk '{print $4}'; fi
[ -z "${SSH_CONNECTION:-}" ] || echo "$SSH_CONNECTION" | awk '{print "x:" $4}'
"#;

/// The files a ufw change writes, saved before the change for the rollback.
const UFW_FILES: &str =
    "/etc/ufw/user.rules /etc/ufw/user6.rules /etc/ufw/ufw.conf /etc/default/ufw";

/// Arms the lock-out guard: `$1` its directory, `$2` seconds, `$3` `yes` when ufw is active
/// now. Saves ufw's files and starts a detached timer that, unless the marker `$1/armed` is
/// removed first (by the confirmation, over a new connection), puts the files back and
/// reloads (or disables) ufw.
pub const GUARD_ARM: &str = r#"dir=$1 wait=$2 was=$3
command -v setsid >/dev/null 2>&1 || { echo "setsid is missing: cannot arm the lock-out guard" >&2; exit 1; }
rm -rf "$dir" && mkdir -p "$dir/files" || exit 1
for f in __FILES__; do
  if [ -e "$f" ]; then cp -p "$f" "$dir/files/$(echo "$f" | tr / _)" || exit 1; fi
done
: > "$dir/armed"
setsid sh -c 'sleep "$2"
if rm "$1/armed" 2>/dev/null; then
  for f in __FILES__; do
    s="$1/files/$(echo "$f" | tr / _)"
    if [ -e "$s" ]; then cp -p "$s" "$f"; fi
  done
  if [ "$3" = yes ]; then LANG=C ufw reload; else LANG=C ufw disable; fi
fi
rm -rf "$1"' sh "$dir" "$wait" "$was" </dev/null >/dev/null 2>&1 &
"#;

/// The confirmation: disarm the guard (`$1` is its marker). Whoever removes the marker first
/// wins, so a late confirmation cannot claim a change the host already undid.
const GUARD_CONFIRM: &str = r#"rm "$1" 2>/dev/null || { echo "the lock-out guard already ran: the host put ufw's previous rules back" >&2; exit 1; }"#;

/// A directory name no earlier guard on the host uses (a timer of an earlier task may still
/// be sleeping on its own directory).
fn guard_dir(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
        .to_string();
    let pid = std::process::id().to_string();
    for part in parts.iter().copied().chain([now.as_str(), pid.as_str()]) {
        for byte in part.bytes().chain([0u8]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("/run/converge-ufw-{hash:016x}")
}

/// Split `@@name value` sections: (name, value, body).
fn sections(text: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(marker) = line.strip_prefix("@@") {
            let (name, value) = marker.split_once(' ').unwrap_or((marker, ""));
            out.push((name.to_string(), value.to_string(), String::new()));
        } else if let Some(last) = out.last_mut() {
            last.2.push_str(line);
            last.2.push('\n');
        }
    }
    out
}

fn tuples(text: &str) -> Vec<String> {
    text.lines()
        .filter(|line| line.starts_with("### tuple"))
        .map(str::to_string)
        .collect()
}

/// Parse the probe's output.
pub fn parse_probe(text: &str) -> Probe {
    let mut probe = Probe {
        installed: true,
        ..Probe::default()
    };
    let mut dry_body = None;
    let mut dry_rc = 0;
    for (name, value, body) in sections(text) {
        match name.as_str() {
            "missing" => probe.installed = false,
            "version" => probe.version = parse_version(&body),
            "status" => probe.status = body,
            "status_rc" => probe.status_rc = value.parse().unwrap_or(1),
            "conf" => probe.conf = body,
            "defaults" => probe.defaults = body,
            "rules4" => probe.rules4 = tuples(&body),
            "rules6" => probe.rules6 = tuples(&body),
            "numbered" => probe.numbered = body,
            "dryrun" => dry_body = Some(body),
            "dry_rc" => dry_rc = value.parse().unwrap_or(1),
            "ssh" => {
                for line in body.lines() {
                    let port = line.rsplit(':').next().and_then(|p| p.parse().ok());
                    if let Some(port) = port {
                        if !probe.ssh_ports.contains(&port) {
                            probe.ssh_ports.push(port);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    probe.dry_run = dry_body.map(|body| (body, dry_rc));
    probe
}

/// `(major, minor)` from `ufw --version`'s first line (`ufw 0.36.2`).
pub fn parse_version(text: &str) -> Option<(u32, u32)> {
    let line = text.lines().find(|line| !line.trim().is_empty())?;
    let word = line.split_whitespace().find(|w| w.contains('.'))?;
    let mut parts = word.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// `Status: active` in `ufw status` (not `inactive`).
pub fn is_active(status: &str) -> bool {
    status.lines().any(|line| line.trim() == "Status: active")
}

/// The value of `KEY=value` (quotes removed) in a shell-style config file.
pub fn conf_value(text: &str, key: &str) -> Option<String> {
    text.lines()
        .filter_map(|line| line.trim().strip_prefix(key)?.strip_prefix('='))
        .next_back()
        .map(|value| value.trim().trim_matches('"').to_string())
}

/// The policy word (`allow`/`deny`/`reject`) of a `default` direction in /etc/default/ufw.
pub fn current_policy(defaults: &str, direction: Direction) -> Option<&'static str> {
    let key = match direction {
        Direction::Outgoing | Direction::Out => "DEFAULT_OUTPUT_POLICY",
        Direction::Routed => "DEFAULT_FORWARD_POLICY",
        Direction::Incoming | Direction::In => "DEFAULT_INPUT_POLICY",
    };
    match conf_value(defaults, key)?.as_str() {
        "ACCEPT" => Some("allow"),
        "DROP" => Some("deny"),
        "REJECT" => Some("reject"),
        _ => None,
    }
}

/// Whether `logging: want` changes the level `current` (ufw.conf's LOGLEVEL), by Ansible's
/// rule: `on` keeps any level but off.
pub fn logging_changes(current: &str, want: LogLevel) -> bool {
    let current_off = current == "off";
    match want {
        LogLevel::Off => !current_off,
        LogLevel::On => current_off,
        level => current_off || current != level.word(),
    }
}

/// The rules ufw's dry run would write, per family: `(ipv4, ipv6)`, `None` for a family the
/// dry run leaves alone (ufw prints only the files it would change).
pub fn dry_run_tuples(text: &str) -> (Option<Vec<String>>, Option<Vec<String>>) {
    let mut v4 = None;
    let mut v6 = None;
    let mut current: Option<Vec<String>> = None;
    let mut six = false;
    for line in text.lines() {
        if line == "*filter" {
            current = Some(Vec::new());
            six = false;
        } else if line.starts_with(":ufw6-") || line.starts_with("-A ufw6-") {
            six = true;
        } else if line == "COMMIT" {
            if let Some(found) = current.take() {
                if six {
                    v6 = Some(found);
                } else {
                    v4 = Some(found);
                }
            }
        } else if line.starts_with("### tuple") {
            if let Some(found) = current.as_mut() {
                found.push(line.to_string());
            }
        }
    }
    (v4, v6)
}

/// A tuple line as a person reads it: without the `### tuple ###` prefix, the comment
/// decoded from ufw's hex.
pub fn display_tuple(line: &str) -> String {
    let text = line
        .trim_start_matches("### tuple ###")
        .trim_start()
        .to_string();
    match text.split_once(" comment=") {
        Some((rule, hex)) => {
            let bytes: Option<Vec<u8>> = (0..hex.len() / 2)
                .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
                .collect();
            match bytes.and_then(|b| String::from_utf8(b).ok()) {
                Some(comment) => format!("{rule} comment '{comment}'"),
                None => text,
            }
        }
        None => text,
    }
}

/// The rule's words after `ufw`, as Ansible builds them (`insert` already resolved).
pub fn rule_words(args: &UfwArgs, insert: Option<i64>, comments: bool) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    if args.route.0 {
        words.push("route".into());
    }
    if args.delete.0 {
        words.push("delete".into());
    }
    if let (Some(number), false) = (insert, args.delete.0) {
        words.extend(["insert".to_string(), number.to_string()]);
    }
    if let Some(action) = args.rule {
        words.push(action.word().into());
    }
    if let Some(direction) = args.direction {
        words.push(direction.word().into());
    }
    if let Some(Text(interface)) = &args.interface {
        words.extend(["on".to_string(), interface.clone()]);
    }
    if let Some(Text(interface)) = &args.interface_in {
        words.extend(["in".to_string(), "on".to_string(), interface.clone()]);
    }
    if let Some(Text(interface)) = &args.interface_out {
        words.extend(["out".to_string(), "on".to_string(), interface.clone()]);
    }
    if args.log.0 {
        words.push("log".into());
    }
    let text = |value: &Option<Text>| value.as_ref().map(|Text(text)| text.clone());
    let mut pair = |key: &str, value: Option<String>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            words.extend([key.to_string(), value]);
        }
    };
    pair("from", Some(args.from_ip.0.clone()));
    pair("port", text(&args.from_port));
    pair("to", Some(args.to_ip.0.clone()));
    pair("port", text(&args.to_port));
    pair("proto", args.proto.map(|p| p.word().to_string()));
    pair("app", text(&args.name));
    if comments {
        pair("comment", text(&args.comment));
    }
    words
}

/// The rule number an `insert` relative to `relative_to` becomes, from `ufw status numbered`,
/// as Ansible computes it (`None`: past the last rule, so appended).
pub fn insert_number(numbered: &str, insert: i64, relative_to: InsertRelativeTo) -> Option<i64> {
    if relative_to == InsertRelativeTo::Zero {
        return Some(insert);
    }
    let lines: Vec<(i64, bool)> = numbered
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix('[')?;
            let (number, _) = rest.split_once(']')?;
            Some((number.trim().parse().ok()?, line.contains("(v6)")))
        })
        .collect();
    let last = lines.iter().map(|(n, _)| *n).max().unwrap_or(0);
    let last4 = lines.iter().filter(|(_, v6)| !v6).map(|(n, _)| *n).max();
    let has6 = lines.iter().any(|(_, v6)| *v6);
    let base = match relative_to {
        InsertRelativeTo::Zero | InsertRelativeTo::FirstIpv4 => 1,
        InsertRelativeTo::LastIpv4 => last4.unwrap_or(1),
        InsertRelativeTo::FirstIpv6 => last4.map_or(1, |n| n + 1),
        InsertRelativeTo::LastIpv6 => {
            if has6 {
                last
            } else {
                last + 1
            }
        }
    };
    let number = insert + base;
    (number <= last).then_some(number)
}

/// Whether tuples allow new TCP connections to `port` (an allow or limit rule, incoming,
/// TCP or any protocol, the port in its destination ports; any source counts).
pub fn allows_port(tuples: &[String], port: u16) -> bool {
    tuples.iter().any(|line| {
        let fields: Vec<&str> = line
            .trim_start_matches("### tuple ###")
            .split_whitespace()
            .collect();
        let [action, proto, dport, ..] = fields.as_slice() else {
            return false;
        };
        let direction = fields
            .iter()
            .rev()
            .find(|f| !f.starts_with("comment="))
            .copied()
            .unwrap_or("");
        (action.starts_with("allow") || action.starts_with("limit"))
            && (*proto == "tcp" || *proto == "any")
            && direction.starts_with("in")
            && port_in(dport, port)
    })
}

fn port_in(ports: &str, port: u16) -> bool {
    ports == "any"
        || ports.split(',').any(|part| match part.split_once(':') {
            Some((low, high)) => {
                matches!((low.parse::<u16>(), high.parse::<u16>()), (Ok(l), Ok(h)) if l <= port && port <= h)
            }
            None => part.parse() == Ok(port),
        })
}

fn ufw_command(words: &[String]) -> Command {
    let mut command =
        Command::argv(std::iter::once("ufw".to_string()).chain(words.iter().cloned()));
    command.env.push(("LANG".into(), "C".into()));
    command
}

fn failed(message: impl Into<String>, hint: impl Into<String>) -> ModuleError {
    ModuleError::Failed {
        message: message.into(),
        hint: Some(hint.into()),
    }
}

fn run_probe(host: &mut dyn Host, numbered: bool, words: &[String]) -> Result<Probe, ModuleError> {
    let mut argv = vec![
        "sh".to_string(),
        "-c".into(),
        PROBE_SCRIPT.into(),
        PROBE_NAME.into(),
        if numbered { "yes" } else { "no" }.into(),
    ];
    argv.extend(words.iter().cloned());
    let output = host.run(&Command::argv(argv))?;
    if !output.success() {
        return Err(ModuleError::failed(format!(
            "cannot read ufw's state: {}",
            output.stderr_text().trim()
        )));
    }
    let probe = parse_probe(&output.stdout_text());
    if !probe.installed {
        return Err(failed(
            "ufw is not installed on the host",
            "install it first (e.g. `package: name=ufw`); converge never skips a firewall task",
        ));
    }
    if probe.status_rc != 0 {
        let text = probe.status.trim();
        let hint = if text.contains("root") {
            "run the task with `become: yes`"
        } else {
            "run `ufw status verbose` on the host to see what is wrong"
        };
        return Err(failed(format!("`ufw status verbose` failed: {text}"), hint));
    }
    Ok(probe)
}

/// The `ufw` module.
pub struct Ufw;

impl TypedModule for Ufw {
    type Args = UfwArgs;
    const NAME: &'static str = "ufw";
    const SUMMARY: &'static str =
        "Manage the Uncomplicated Firewall: enable it, set default policies, logging and rules";
    const EXAMPLES: &'static str = r#"- community.general.ufw:
    rule: allow
    port: "22"
    proto: tcp
    comment: ssh

- community.general.ufw:
    state: enabled
    policy: deny

- community.general.ufw:
    rule: limit
    port: ssh
    proto: tcp

- community.general.ufw:
    rule: allow
    src: 10.0.0.0/8
    port: "5432"
    proto: tcp

- community.general.ufw:
    rule: deny
    from_ip: 192.0.2.66
    insert: 1

- community.general.ufw:
    rule: allow
    name: OpenSSH
    delete: yes

- community.general.ufw:
    default: allow
    direction: outgoing

- community.general.ufw:
    logging: "on"
"#;
    const USES_FACTS: bool = false;

    fn check(args: &UfwArgs) -> Result<(), ArgsError> {
        if args.state.is_none()
            && args.default.is_none()
            && args.rule.is_none()
            && args.logging.is_none()
        {
            return Err(ArgsError::new(
                None,
                "module `ufw` needs one of the arguments `state`, `default`, `rule`, `logging`",
            )
            .with_hint("run `converge doc ufw` for its arguments"));
        }
        let exclusive = [
            ("name", args.name.is_some()),
            ("proto", args.proto.is_some()),
            ("logging", args.logging.is_some()),
        ];
        let given: Vec<&str> = exclusive
            .iter()
            .filter(|(_, set)| *set)
            .map(|(name, _)| *name)
            .collect();
        if given.len() > 1 {
            return Err(ArgsError::new(
                Some(given[1]),
                format!(
                    "`{}` and `{}` of module `ufw` are mutually exclusive",
                    given[0], given[1]
                ),
            ));
        }
        for (name, set) in [
            ("interface_in", args.interface_in.is_some()),
            ("interface_out", args.interface_out.is_some()),
        ] {
            if set && args.direction.is_some() {
                return Err(ArgsError::new(
                    Some(name),
                    format!("`direction` and `{name}` of module `ufw` are mutually exclusive"),
                ));
            }
        }
        if args.interface.is_some() && args.direction.is_none() {
            return Err(ArgsError::new(
                Some("interface"),
                "`interface` of module `ufw` needs `direction`",
            ));
        }
        if args.default.is_some() && matches!(args.direction, Some(Direction::In | Direction::Out))
        {
            return Err(ArgsError::new(
                Some("direction"),
                "for default, direction must be one of \"outgoing\", \"incoming\" and \"routed\", or direction must not be specified",
            ));
        }
        if args.rule.is_some()
            && matches!(
                args.direction,
                Some(Direction::Incoming | Direction::Outgoing | Direction::Routed)
            )
        {
            return Err(ArgsError::new(
                Some("direction"),
                "for rules, direction must be one of \"in\" and \"out\", or direction must not be specified",
            ));
        }
        if args.rule.is_some()
            && !args.route.0
            && args.interface_in.is_some()
            && args.interface_out.is_some()
        {
            return Err(ArgsError::new(
                Some("interface_out"),
                "only route rules can combine interface_in and interface_out",
            )
            .with_hint("add `route: yes`"));
        }
        Ok(())
    }

    fn plan(args: UfwArgs, host: &mut dyn Host, _context: &Context) -> Result<Plan, ModuleError> {
        let relative = args.rule.is_some()
            && args.insert.is_some()
            && !args.delete.0
            && args.insert_relative_to != InsertRelativeTo::Zero;
        // Comments need ufw 0.35; the version is read in the same round trip as the dry run,
        // so the dry run assumes them and the words are rebuilt if the version is older.
        let first_words = match (args.rule, relative) {
            (Some(_), false) => rule_words(&args, args.insert, true),
            _ => Vec::new(),
        };
        let mut probe = run_probe(host, relative, &first_words)?;
        let comments = probe
            .version
            .is_none_or(|(major, minor)| major > 0 || minor >= 35);
        let mut words = first_words;
        if args.rule.is_some() && (relative || !comments) {
            let insert = match (relative, args.insert) {
                (true, Some(insert)) => {
                    insert_number(&probe.numbered, insert, args.insert_relative_to)
                }
                _ => args.insert,
            };
            words = rule_words(&args, insert, comments);
            probe = run_probe(host, false, &words)?;
        }
        plan_from_probe(&args, &probe, &words)
    }
}

/// The plan for `args` given what the probe read (`words`: the rule's words, dry-run already
/// in `probe`).
pub fn plan_from_probe(
    args: &UfwArgs,
    probe: &Probe,
    words: &[String],
) -> Result<Plan, ModuleError> {
    let mut plan = Plan::unchanged();
    let active = is_active(&probe.status);
    let mut active_after = active;
    // Whether a change could cut off new SSH connections (the guard's condition).
    let mut risky = false;
    let mut commands: Vec<String> = Vec::new();
    let mut push = |plan: &mut Plan, change: Change, words: Vec<String>| {
        let command = ufw_command(&words);
        commands.push(command.to_shell_line());
        plan.push(
            change,
            [Step::Run {
                command,
                allow_failure: false,
            }],
        );
    };

    if let Some(state) = args.state {
        let word = |on: bool| if on { "active" } else { "inactive" }.to_string();
        let words = match state {
            UfwState::Enabled | UfwState::Reset => vec!["-f".to_string(), state.verb().into()],
            _ => vec![state.verb().to_string()],
        };
        match state {
            UfwState::Enabled if !active => {
                active_after = true;
                risky = true;
                push(
                    &mut plan,
                    Change::value("ufw", Some(word(false)), Some(word(true))),
                    words,
                );
            }
            UfwState::Disabled if active => {
                active_after = false;
                push(
                    &mut plan,
                    Change::value("ufw", Some(word(true)), Some(word(false))),
                    words,
                );
            }
            UfwState::Reloaded => push(
                &mut plan,
                Change::note("ufw", "reload the rules (always reported as a change)"),
                words,
            ),
            UfwState::Reset => {
                active_after = false;
                push(
                    &mut plan,
                    Change::note(
                        "ufw",
                        "reset to the installation defaults and disable (always reported as a change)",
                    ),
                    words,
                );
            }
            _ => {}
        }
    }

    let mut incoming_after = current_policy(&probe.defaults, Direction::Incoming);
    if let Some(policy) = args.default {
        let direction = args.direction.unwrap_or(Direction::Incoming);
        let current = current_policy(&probe.defaults, direction);
        if current != Some(policy.word()) {
            if direction == Direction::Incoming {
                incoming_after = Some(policy.word());
                risky = true;
            }
            let mut words = vec!["default".to_string(), policy.word().into()];
            if let Some(direction) = args.direction {
                words.push(direction.word().into());
            }
            push(
                &mut plan,
                Change::value(
                    format!("ufw default ({})", direction.word()),
                    current.map(str::to_string),
                    Some(policy.word().into()),
                ),
                words,
            );
        }
    }

    let mut rules4 = probe.rules4.clone();
    let mut rules6 = probe.rules6.clone();
    if args.rule.is_some() {
        let (output, rc) = probe.dry_run.clone().unwrap_or_default();
        if rc != 0 {
            return Err(failed(
                format!(
                    "ufw refuses the rule `ufw {}`: {}",
                    words.join(" "),
                    output.trim()
                ),
                "check the rule's arguments (`converge doc ufw`)",
            ));
        }
        let (new4, new6) = dry_run_tuples(&output);
        let changed4 = new4.as_ref().is_some_and(|new| *new != probe.rules4);
        let changed6 = new6.as_ref().is_some_and(|new| *new != probe.rules6);
        if changed4 || changed6 {
            risky |= args.delete.0
                || args.insert.is_some()
                || !matches!(args.rule, Some(RuleAction::Allow));
            let mut first = true;
            for (changed, path, old, new) in [
                (changed4, "/etc/ufw/user.rules", &probe.rules4, &new4),
                (changed6, "/etc/ufw/user6.rules", &probe.rules6, &new6),
            ] {
                if !changed {
                    continue;
                }
                let render = |lines: &[String]| {
                    lines
                        .iter()
                        .map(|line| display_tuple(line) + "\n")
                        .collect::<String>()
                };
                let change = Change::content(
                    format!("{path} (rules)"),
                    Some(render(old)),
                    new.as_deref().map(render),
                );
                if first {
                    push(&mut plan, change, words.to_vec());
                    first = false;
                } else {
                    plan.changes.push(change);
                }
            }
            if let Some(new) = new4 {
                rules4 = new;
            }
            if let Some(new) = new6 {
                rules6 = new;
            }
        }
    }

    if let Some(level) = args.logging {
        let current = conf_value(&probe.conf, "LOGLEVEL").unwrap_or_else(|| "off".into());
        if logging_changes(&current, level) {
            push(
                &mut plan,
                Change::value("ufw logging", Some(current), Some(level.word().into())),
                vec!["logging".into(), level.word().into()],
            );
        }
    }

    // Lock-out: after a change that touches incoming traffic, is sshd still reachable?
    let denies = matches!(incoming_after, Some("deny" | "reject"));
    if plan.is_change() && active_after && denies {
        let ports = if probe.ssh_ports.is_empty() {
            vec![22]
        } else {
            probe.ssh_ports.clone()
        };
        for port in ports {
            if !allows_port(&rules4, port) && !allows_port(&rules6, port) {
                plan.warnings.push(format!(
                    "after this task ufw denies new connections to SSH port {port} (no allow or limit rule for it): the current session survives, the next one will be refused; add e.g. `ufw: rule=allow port={port} proto=tcp` before enabling"
                ));
            }
        }
    }

    if risky && active_after && args.rollback_timeout > 0 {
        arm_guard(&mut plan, probe, active, args.rollback_timeout);
    }
    plan.result.insert("commands".into(), Value::from(commands));
    if !plan.is_change() {
        plan.result
            .insert("msg".into(), json!(probe.status.trim_end()));
    }
    Ok(plan)
}

/// Put the guard's arming first in the steps and its confirmation in the plan.
fn arm_guard(plan: &mut Plan, probe: &Probe, active: bool, seconds: u64) {
    let dir = guard_dir(&[
        &probe.status,
        &probe.rules4.join("\n"),
        &probe.rules6.join("\n"),
    ]);
    let arm = Step::Run {
        command: Command::argv([
            "sh".to_string(),
            "-c".into(),
            GUARD_ARM.replace("__FILES__", UFW_FILES),
            "converge-ufw-guard".into(),
            dir.clone(),
            seconds.to_string(),
            if active { "yes" } else { "no" }.into(),
        ]),
        allow_failure: false,
    };
    plan.steps.insert(0, arm);
    plan.confirm = Some(Confirmation {
        command: Command::argv([
            "sh".to_string(),
            "-c".into(),
            GUARD_CONFIRM.into(),
            "sh".into(),
            format!("{dir}/armed"),
        ]),
        within_seconds: seconds,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(value: Value) -> UfwArgs {
        crate::module::parse_args::<Ufw>(&value).expect("valid arguments")
    }

    const STATUS_ACTIVE: &str = "Status: active\nLogging: on (low)\nDefault: deny (incoming), allow (outgoing), disabled (routed)\nNew profiles: skip\n\nTo                         Action      From\n--                         ------      ----\n22/tcp                     ALLOW IN    Anywhere\n22/tcp (v6)                ALLOW IN    Anywhere (v6)\n";

    #[test]
    fn rule_words_are_ansibles() {
        let a = args(json!({"rule": "allow", "port": 22, "proto": "tcp", "comment": "ssh"}));
        assert_eq!(
            rule_words(&a, a.insert, true).join(" "),
            "allow from any to any port 22 proto tcp comment ssh"
        );
        let a = args(json!({"rule": "deny", "src": "192.0.2.66", "insert": "1",
            "direction": "in", "interface": "eth0", "log": true}));
        assert_eq!(
            rule_words(&a, a.insert, true).join(" "),
            "insert 1 deny in on eth0 log from 192.0.2.66 to any"
        );
        let a = args(
            json!({"rule": "allow", "route": true, "delete": true, "insert": 2,
            "if_in": "eth0", "if_out": "eth1", "name": "OpenSSH"}),
        );
        assert_eq!(
            rule_words(&a, a.insert, false).join(" "),
            "route delete allow in on eth0 out on eth1 from any to any app OpenSSH"
        );
    }

    #[test]
    fn arguments_are_checked_like_ansible() {
        let bad = |value: Value| {
            crate::module::parse_args::<Ufw>(&value)
                .unwrap_err()
                .message
        };
        assert!(bad(json!({"direction": "in"})).contains("needs one of"));
        assert!(bad(json!({"rule": "allow", "name": "x", "proto": "tcp"})).contains("exclusive"));
        assert!(bad(json!({"rule": "allow", "interface": "eth0"})).contains("needs `direction`"));
        assert!(bad(json!({"default": "deny", "direction": "in"})).contains("for default"));
        assert!(bad(json!({"rule": "allow", "direction": "incoming"})).contains("for rules"));
        assert!(bad(json!({"rule": "allow", "if_in": "a", "if_out": "b"})).contains("route"));
        assert!(bad(json!({"state": "on"})).contains("state"));
        assert!(bad(json!({"state": "enabled", "bogus": 1})).contains("unknown argument"));
    }

    #[test]
    fn probe_output_parses() {
        let text = "@@version\nufw 0.36.2\nCopyright 2008-2023 Canonical Ltd.\n@@status\nStatus: inactive\n@@status_rc 0\n@@conf\nENABLED=no\nLOGLEVEL=low\n@@defaults\nDEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\n@@rules4\n### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n@@rules6\n@@dryrun\nSkipping adding existing rule\n@@dry_rc 0\n@@ssh\n0.0.0.0:22\n[::]:22\nx:2222\n";
        let probe = parse_probe(text);
        assert_eq!(probe.version, Some((0, 36)));
        assert!(!is_active(&probe.status));
        assert_eq!(conf_value(&probe.conf, "LOGLEVEL").as_deref(), Some("low"));
        assert_eq!(
            current_policy(&probe.defaults, Direction::Incoming),
            Some("deny")
        );
        assert_eq!(
            current_policy(&probe.defaults, Direction::Outgoing),
            Some("allow")
        );
        assert_eq!(probe.rules4.len(), 1);
        assert_eq!(probe.ssh_ports, vec![22, 2222]);
        assert_eq!(
            probe.dry_run,
            Some(("Skipping adding existing rule\n".into(), 0))
        );
        assert!(!parse_probe("@@missing\n").installed);
        assert!(is_active(STATUS_ACTIVE));
    }

    #[test]
    fn dry_run_output_gives_tuples_per_family() {
        let text = include_str!("../tests/fixtures/ufw/dry-run-allow-22.txt");
        let (v4, v6) = dry_run_tuples(text);
        assert_eq!(
            v4.unwrap(),
            vec!["### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in"]
        );
        assert_eq!(
            v6.unwrap(),
            vec!["### tuple ### allow tcp 22 ::/0 any ::/0 in"]
        );
        let (v4, v6) =
            dry_run_tuples("Skipping adding existing rule\nSkipping adding existing rule (v6)\n");
        assert!(v4.is_none() && v6.is_none());
        let text = include_str!("../tests/fixtures/ufw/dry-run-ipv4-only.txt");
        let (v4, v6) = dry_run_tuples(text);
        assert_eq!(v4.unwrap().len(), 2);
        assert!(v6.is_none());
    }

    #[test]
    fn comments_are_decoded_for_display() {
        assert_eq!(
            display_tuple(
                "### tuple ### allow tcp 80 0.0.0.0/0 any 10.0.0.0/8 in comment=7765622078"
            ),
            "allow tcp 80 0.0.0.0/0 any 10.0.0.0/8 in comment 'web x'"
        );
    }

    #[test]
    fn logging_follows_ansibles_rule() {
        assert!(!logging_changes("low", LogLevel::On));
        assert!(logging_changes("off", LogLevel::On));
        assert!(logging_changes("low", LogLevel::Medium));
        assert!(!logging_changes("medium", LogLevel::Medium));
        assert!(logging_changes("low", LogLevel::Off));
        assert!(!logging_changes("off", LogLevel::Off));
    }

    #[test]
    fn insert_relative_numbers() {
        let numbered = "Status: active\n\n     To                         Action      From\n     --                         ------      ----\n[ 1] 22/tcp                     ALLOW IN    Anywhere\n[ 2] 80/tcp                     ALLOW IN    Anywhere\n[ 3] 22/tcp (v6)                ALLOW IN    Anywhere (v6)\n[ 4] 80/tcp (v6)                ALLOW IN    Anywhere (v6)\n";
        assert_eq!(
            insert_number(numbered, 0, InsertRelativeTo::FirstIpv4),
            Some(1)
        );
        assert_eq!(
            insert_number(numbered, 0, InsertRelativeTo::LastIpv4),
            Some(2)
        );
        assert_eq!(
            insert_number(numbered, 0, InsertRelativeTo::FirstIpv6),
            Some(3)
        );
        assert_eq!(
            insert_number(numbered, 0, InsertRelativeTo::LastIpv6),
            Some(4)
        );
        assert_eq!(insert_number(numbered, 1, InsertRelativeTo::LastIpv6), None);
        assert_eq!(insert_number(numbered, 7, InsertRelativeTo::Zero), Some(7));
    }

    fn probe(status: &str, rules4: &[&str], dry: Option<&str>) -> Probe {
        Probe {
            installed: true,
            version: Some((0, 36)),
            status: status.into(),
            conf: "ENABLED=yes\nLOGLEVEL=low\n".into(),
            defaults: "DEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\nDEFAULT_FORWARD_POLICY=\"DROP\"\n".into(),
            rules4: rules4.iter().map(|s| s.to_string()).collect(),
            dry_run: dry.map(|d| (d.to_string(), 0)),
            ssh_ports: vec![22],
            ..Probe::default()
        }
    }

    #[test]
    fn enabling_is_planned_once_and_warns_without_an_ssh_rule() {
        let a = args(json!({"state": "enabled"}));
        let plan = plan_from_probe(&a, &probe("Status: inactive\n", &[], None), &[]).unwrap();
        assert!(plan.is_change());
        assert_eq!(plan.result["commands"], json!(["ufw -f enable"]));
        assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
        assert!(plan.warnings[0].contains("SSH port 22"));

        let allowed = ["### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in"];
        let plan = plan_from_probe(&a, &probe("Status: inactive\n", &allowed, None), &[]).unwrap();
        assert!(plan.warnings.is_empty());

        let plan = plan_from_probe(&a, &probe(STATUS_ACTIVE, &allowed, None), &[]).unwrap();
        assert!(!plan.is_change());
        assert_eq!(plan.result["msg"], json!(STATUS_ACTIVE.trim_end()));
    }

    #[test]
    fn a_rule_changes_only_when_the_dry_run_alters_the_tuples() {
        let a = args(json!({"rule": "allow", "port": 22, "proto": "tcp"}));
        let words = rule_words(&a, None, true);
        let dry = include_str!("../tests/fixtures/ufw/dry-run-allow-22.txt");
        let plan = plan_from_probe(&a, &probe(STATUS_ACTIVE, &[], Some(dry)), &words).unwrap();
        assert_eq!(plan.changes.len(), 2);
        assert_eq!(plan.steps.len(), 1);
        match &plan.changes[0].detail {
            crate::plan::ChangeDetail::Content { before, after } => {
                assert_eq!(before.as_deref(), Some(""));
                assert_eq!(
                    after.as_deref(),
                    Some("allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in\n")
                );
            }
            other => panic!("{other:?}"),
        }
        let skipped = "Skipping adding existing rule\nSkipping adding existing rule (v6)\n";
        let plan = plan_from_probe(&a, &probe(STATUS_ACTIVE, &[], Some(skipped)), &words).unwrap();
        assert!(!plan.is_change());
    }

    #[test]
    fn defaults_and_logging_compare_the_files() {
        let a = args(json!({"default": "deny", "direction": "incoming", "logging": "low"}));
        let plan = plan_from_probe(&a, &probe(STATUS_ACTIVE, &[], None), &[]).unwrap();
        assert!(!plan.is_change());
        let a = args(json!({"policy": "reject", "direction": "outgoing", "logging": "medium"}));
        let plan = plan_from_probe(&a, &probe(STATUS_ACTIVE, &[], None), &[]).unwrap();
        assert_eq!(
            plan.result["commands"],
            json!(["ufw default reject outgoing", "ufw logging medium"])
        );
    }

    #[test]
    fn changes_that_can_cut_ssh_off_are_guarded() {
        let guarded = |value: Value, probe: Probe| {
            let a = args(value);
            let words = rule_words(&a, a.insert, true);
            let plan = plan_from_probe(&a, &probe, &words).unwrap();
            assert!(plan.is_change());
            let armed = matches!(&plan.steps[0], Step::Run { command, .. }
                if command.to_shell_line().contains("converge-ufw-guard"));
            assert_eq!(armed, plan.confirm.is_some());
            plan.confirm.map(|c| c.within_seconds)
        };
        let dry = include_str!("../tests/fixtures/ufw/dry-run-allow-22.txt");
        assert_eq!(
            guarded(
                json!({"state": "enabled"}),
                probe("Status: inactive\n", &[], None)
            ),
            Some(20)
        );
        assert_eq!(
            guarded(
                json!({"state": "enabled", "rollback_timeout": 0}),
                probe("Status: inactive\n", &[], None)
            ),
            None
        );
        // An allow rule only opens; a deny rule (or any rule while ufw is off) is not guarded
        // the same way.
        assert_eq!(
            guarded(
                json!({"rule": "allow", "port": 22, "proto": "tcp"}),
                probe(STATUS_ACTIVE, &[], Some(dry))
            ),
            None
        );
        assert_eq!(
            guarded(
                json!({"rule": "deny", "port": 22, "proto": "tcp", "rollback_timeout": 5}),
                probe(STATUS_ACTIVE, &[], Some(dry))
            ),
            Some(5)
        );
        assert_eq!(
            guarded(
                json!({"rule": "deny", "port": 22, "proto": "tcp"}),
                probe("Status: inactive\n", &[], Some(dry))
            ),
            None
        );
        assert_eq!(
            guarded(json!({"logging": "high"}), probe(STATUS_ACTIVE, &[], None)),
            None
        );
    }

    #[test]
    fn reload_and_reset_are_always_changes() {
        for state in ["reloaded", "reset"] {
            let a = args(json!({"state": state}));
            let plan = plan_from_probe(&a, &probe(STATUS_ACTIVE, &[], None), &[]).unwrap();
            assert!(plan.is_change(), "{state}");
        }
    }
}
