//! `sysctl`: kernel parameters, in the running kernel and in a sysctl.conf file.
//!
//! Converges each key twice: the value persisted in `sysctl_file` (default `/etc/sysctl.conf`)
//! and, unless `reload: no` (and `sysctl_set: no`), the live value under `/proc/sys`. One task
//! sets one key (`name`/`value`, Ansible's arguments) or many (`settings`, a map), with one
//! file write either way.
//!
//! Reads the file, the live value of every key (its `/proc/sys` file) and, for the SLAAC check
//! below, the kernel's IPv6 routes (`/proc/net/ipv6_route`) and every interface's `accept_ra`
//! (shell builtins): no process of its own on the host, as over SSH the file reads join the
//! other tasks' reads made ahead, one `cat` for all. The file is edited in place by the pure
//! function [`edit_conf`]: comments, order and unrelated lines stay; a managed key is replaced
//! where it first stands (keeping its spelling and its spacing around `=`), later duplicates of
//! it are removed, new keys are appended at the end. (Ansible rewrites every line as `k=v`.)
//! Live values are set with `sysctl -q -w KEY=VALUE`, `accept_ra` keys before `forwarding` keys.
//!
//! Keys follow procps: `.` and `/` are interchangeable separators, and an interface name with a
//! dot is written with `/` (`net.ipv6.conf.eth0/100.accept_ra` or
//! `net/ipv6/conf/eth0.100/accept_ra`, both the same key; see [`SysctlKey`]). Values compare as
//! whitespace-separated tokens (the kernel prints multi-value keys with tabs); `yes`/`true`/`on`
//! mean `1` and `no`/`false`/`off` mean `0`, as in Ansible.
//!
//! A key the kernel does not have (no `/proc/sys` entry) is an error unless `ignoreerrors: yes`
//! (then it is only written to the file, e.g. for `virbr0`, which libvirt creates later).
//! Write-only keys (unreadable) are not compared live.
//!
//! SLAAC check: turning on IPv6 forwarding (`all`, `default` or the interface's own key) makes
//! the kernel drop the default route learnt from router advertisements and ignore further RAs,
//! unless that interface's `accept_ra` is 2. When the host's IPv6 default route came from RAs
//! (the `default_ipv6` fact or the live routes say `proto ra`) and the task does not leave that
//! interface at `accept_ra = 2`, the plan warns and names the key to add.
//!
//! Idempotence: after applying, the file holds each key once with its value and the live
//! values match, so a second plan is unchanged.
//!
//! ```yaml
//! - sysctl:
//!     settings:
//!       net.ipv6.conf.eth0.accept_ra: 2
//!       net.ipv6.conf.all.forwarding: 1
//!     sysctl_file: /etc/sysctl.conf
//! ```

use crate::args::Flag;
use crate::host::{Command, Host, HostError, Read};
use crate::lines::Lines;
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use crate::{FileAttributes, WriteOptions};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::fmt;

/// Whether the key should be in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SysctlState {
    /// The key is in the file with the value (and live, unless `reload: no`).
    #[default]
    Present,
    /// The key is not in the file (the live value is left alone).
    Absent,
}

/// A value as Ansible users write it: a number, a boolean, or a string. `yes`/`true`/`on`
/// become `1`, `no`/`false`/`off` become `0`; other strings are trimmed.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(with = "String")]
pub struct SysctlValue(pub String);

impl<'de> Deserialize<'de> for SysctlValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        coerce_value(&raw)
            .map(SysctlValue)
            .map_err(serde::de::Error::custom)
    }
}

/// Ansible's value coercion: booleans and their spellings to `1`/`0`, numbers as written,
/// strings trimmed. Lists, maps and null are refused.
pub fn coerce_value(raw: &Value) -> Result<String, String> {
    match raw {
        Value::Bool(true) => Ok("1".into()),
        Value::Bool(false) => Ok("0".into()),
        Value::Number(number) => Ok(number.to_string()),
        Value::String(text) => {
            let text = text.trim();
            Ok(match text.to_ascii_lowercase().as_str() {
                "yes" | "true" | "on" => "1".into(),
                "no" | "false" | "off" => "0".into(),
                _ => text.to_string(),
            })
        }
        Value::Null => Err("a sysctl value cannot be empty (null)".into()),
        Value::Array(_) | Value::Object(_) => Err(
            "a sysctl value is a number or a string; write several fields as one string, e.g. \"1024 65000\""
                .into(),
        ),
    }
}

/// The `settings` map, in the order it was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, JsonSchema)]
#[schemars(with = "std::collections::BTreeMap<String, String>")]
pub struct Settings(pub Vec<(String, SysctlValue)>);

impl<'de> Deserialize<'de> for Settings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Settings;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of sysctl keys to values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Settings, A::Error> {
                let mut items = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, SysctlValue>()? {
                    items.push((key, value));
                }
                Ok(Settings(items))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

fn default_file() -> String {
    "/etc/sysctl.conf".into()
}

fn yes() -> Flag {
    Flag(true)
}

/// Arguments of `sysctl`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SysctlArgs {
    /// The key, e.g. `net.ipv6.conf.all.forwarding`. An interface name with a dot is written
    /// with `/`: `net.ipv6.conf.eth0/100.accept_ra`. Give either `name` or `settings`.
    #[serde(alias = "key")]
    pub name: Option<String>,
    /// The value of `name` (needed with `state: present`). `yes`/`no` become `1`/`0`.
    #[serde(alias = "val")]
    pub value: Option<SysctlValue>,
    /// Several keys and their values at once (one file write), in the order written, e.g.
    /// `{net.ipv6.conf.eth0.accept_ra: 2, net.ipv6.conf.all.forwarding: 1}`. Give either
    /// `name` or `settings`; with `state: absent` the values are ignored.
    pub settings: Option<Settings>,
    /// Whether the key(s) should be in the file.
    #[serde(default)]
    pub state: SysctlState,
    /// The file that keeps the values across reboots.
    #[serde(default = "default_file")]
    pub sysctl_file: String,
    /// Set the live value when it differs (with `sysctl -w`). Default: yes.
    #[serde(default = "yes")]
    pub reload: Flag,
    /// Set the live value when it differs, even with `reload: no` (Ansible's name). Default: no.
    #[serde(default)]
    pub sysctl_set: Flag,
    /// Keys the kernel does not have are only written to the file, with a warning (instead of
    /// failing). Default: no.
    #[serde(default)]
    pub ignoreerrors: Flag,
}

/// A sysctl key as procps understands it: its `/proc/sys` path components.
///
/// If the first separator in the written key is `/`, `/` separates components and dots belong
/// to names; otherwise `.` separates and `/` stands for a dot inside a name.
///
/// ```
/// use converge_modules::sysctl::SysctlKey;
/// let dotted = SysctlKey::parse("net.ipv6.conf.eth0/100.accept_ra").unwrap();
/// let slashed = SysctlKey::parse("net/ipv6/conf/eth0.100/accept_ra").unwrap();
/// assert_eq!(dotted, slashed);
/// assert_eq!(dotted.proc_path(), "/proc/sys/net/ipv6/conf/eth0.100/accept_ra");
/// assert_eq!(slashed.to_string(), "net.ipv6.conf.eth0/100.accept_ra");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SysctlKey(Vec<String>);

impl SysctlKey {
    /// Parse a key as written in a task or a sysctl.conf line (a leading `-` is not part of it).
    pub fn parse(written: &str) -> Result<SysctlKey, String> {
        let written = written.trim();
        if written.is_empty() {
            return Err("the key is empty".into());
        }
        if let Some(bad) = written
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || *c == '=')
        {
            return Err(format!("`{written}` contains {bad:?}, which no key has"));
        }
        let slash_form = written.find(['.', '/']).map(|at| &written[at..at + 1]) == Some("/");
        let separator = if slash_form { '/' } else { '.' };
        let components: Vec<String> = written
            .split(separator)
            .map(|part| {
                if slash_form {
                    part.to_string()
                } else {
                    part.replace('/', ".")
                }
            })
            .collect();
        if components
            .iter()
            .any(|part| part.is_empty() || part == "..")
        {
            return Err(format!("`{written}` has an empty component"));
        }
        Ok(SysctlKey(components))
    }

    /// The key's file under `/proc/sys`.
    pub fn proc_path(&self) -> String {
        format!("/proc/sys/{}", self.0.join("/"))
    }

    /// The path components (`["net", "ipv6", "conf", "eth0.100", "accept_ra"]`).
    pub fn components(&self) -> &[String] {
        &self.0
    }

    /// `net.ipv6.conf.IFACE.LEAF` for an interface name (dots in it written as `/`).
    pub fn ipv6_conf(interface: &str, leaf: &str) -> SysctlKey {
        SysctlKey(vec![
            "net".into(),
            "ipv6".into(),
            "conf".into(),
            interface.to_string(),
            leaf.to_string(),
        ])
    }
}

/// The dotted spelling `sysctl` prints: components joined by `.`, dots inside them as `/`.
impl fmt::Display for SysctlKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|part| part.replace('.', "/")).collect();
        f.write_str(&parts.join("."))
    }
}

/// True when two values hold the same whitespace-separated tokens (`1024\t65000` equals
/// `1024 65000`).
pub fn same_value(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// One `key = value` line of a sysctl.conf file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfEntry {
    /// Line number, from 1.
    pub line: usize,
    /// The key as written (without a leading `-`).
    pub written: String,
    /// The key, when it parses.
    pub key: Option<SysctlKey>,
    /// The value, trimmed.
    pub value: String,
    /// The line starts with `-` (procps: ignore a failure to set it).
    pub ignore_failure: bool,
}

/// The setting lines of a sysctl.conf text, as procps reads them: blank lines, lines starting
/// with `#` or `;` and lines without `=` are skipped; the key is what comes before the first
/// `=`, the value what comes after, both trimmed.
pub fn parse_conf(text: &str) -> Vec<ConfEntry> {
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let (written, value, ignore_failure) = setting(line)?;
            Some(ConfEntry {
                line: index + 1,
                written: written.to_string(),
                key: SysctlKey::parse(written).ok(),
                value: value.to_string(),
                ignore_failure,
            })
        })
        .collect()
}

/// `(key, value, leading '-')` of a setting line.
fn setting(line: &str) -> Option<(&str, &str, bool)> {
    let trimmed = line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
        return None;
    }
    let (key, value) = trimmed.split_once('=')?;
    let (key, dash) = match key.trim().strip_prefix('-') {
        Some(rest) => (rest.trim(), true),
        None => (key.trim(), false),
    };
    Some((key, value.trim(), dash))
}

/// One key this task manages in the file: `value: None` removes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfEdit {
    /// The key.
    pub key: SysctlKey,
    /// How to write it in a new line (the task's spelling).
    pub written: String,
    /// The value to keep, or `None` to remove every line of the key.
    pub value: Option<String>,
}

/// The file after `edits`: each managed key's first line gets the new value in place (its own
/// spelling and spacing kept; untouched when the value is already equal), its later duplicates
/// are removed, keys not in the file are appended at the end (spaced like the file's last
/// setting, else Ansible's `key=value`). Every other line is kept byte for byte.
pub fn edit_conf(text: &str, edits: &[ConfEdit]) -> String {
    let mut lines = Lines::parse(text);
    let mut seen = vec![false; edits.len()];
    // A file with no key lines yet gets `key=value`, as Ansible writes it.
    let mut spaced = false;
    let mut index = 0;
    while index < lines.len() {
        let line = lines.text(index).to_string();
        let Some((written, _, _)) = setting(&line) else {
            index += 1;
            continue;
        };
        spaced = line.contains(" =") || line.contains("= ");
        let key = SysctlKey::parse(written).ok();
        let managed = edits
            .iter()
            .position(|edit| Some(&edit.key) == key.as_ref());
        match managed.map(|at| (at, &edits[at].value)) {
            Some((at, Some(value))) if !seen[at] => {
                seen[at] = true;
                if let Some(replaced) = replace_value(&line, value) {
                    lines.replace(index, &replaced);
                }
                index += 1;
            }
            Some(_) => lines.remove(index..index + 1),
            None => index += 1,
        }
    }
    for (edit, seen) in edits.iter().zip(seen) {
        if let (Some(value), false) = (&edit.value, seen) {
            let at = lines.len();
            let separator = if spaced { " = " } else { "=" };
            lines.insert(at, &format!("{}{separator}{value}", edit.written));
        }
    }
    lines.render()
}

/// The line with its value replaced, or `None` when it already has that value.
fn replace_value(line: &str, value: &str) -> Option<String> {
    let (head, tail) = line.split_once('=')?;
    if same_value(tail, value) {
        return None;
    }
    let gap = &tail[..tail.len() - tail.trim_start().len()];
    Some(format!("{head}={gap}{value}"))
}

/// Name given to the `accept_ra` script (`$0`), so that test hosts can recognise it.
pub const ACCEPT_RA_SCRIPT_NAME: &str = "converge-sysctl-accept-ra";

/// Prints every interface's `accept_ra` as `PATH:VALUE`, for the SLAAC check: the same for
/// every sysctl task, so the reads made ahead for several tasks make it once. Shell builtins
/// only (one digit each: `read` sees all of it).
pub const ACCEPT_RA_SCRIPT: &str = r#"for f in /proc/sys/net/ipv6/conf/*/accept_ra; do
  [ -r "$f" ] && read -r v < "$f" && printf '%s:%s\n' "$f" "$v"
done 2>/dev/null
exit 0
"#;

/// The kernel's IPv6 routes of the host's network namespace, one per line: where the
/// SLAAC check finds the default routes that router advertisements made.
pub const IPV6_ROUTES: &str = "/proc/net/ipv6_route";

/// The live value of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Live {
    /// Its value (tabs and newlines turned into spaces).
    Value(String),
    /// The entry exists but cannot be read (write-only keys).
    Unreadable(String),
    /// No such key on this host.
    Missing,
}

/// What the reads found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    /// One per key asked for, in order.
    pub values: Vec<Live>,
    /// Interfaces whose IPv6 default route came from router advertisements (`proto ra`).
    pub ra_interfaces: Vec<String>,
    /// `accept_ra` of every interface, by interface name.
    pub accept_ra: Vec<(String, String)>,
}

/// A key's live value from the read of its `/proc/sys` file: lines, and the tabs between
/// a multi-value key's fields, become single spaces. A file the kernel refuses to read
/// (a write-only key) is unreadable, with the reason; any other error stays an error.
pub fn live_value(read: Result<Option<Vec<u8>>, HostError>) -> Result<Live, HostError> {
    match read {
        Ok(Some(bytes)) => {
            let text = String::from_utf8_lossy(&bytes);
            let words: Vec<&str> = text.split_whitespace().collect();
            Ok(Live::Value(words.join(" ")))
        }
        Ok(None) => Ok(Live::Missing),
        Err(HostError::File { reason, .. }) => {
            // `cat: PATH: Permission denied`, or an OS error's `… (os error 13)`.
            let reason = reason.lines().next().unwrap_or_default();
            let reason = reason.rsplit(": ").next().unwrap_or(reason);
            let reason = reason.split(" (os error").next().unwrap_or(reason);
            Ok(Live::Unreadable(reason.trim().to_string()))
        }
        Err(other) => Err(other),
    }
}

/// The interfaces with a default route that router advertisements made, from
/// [`IPV6_ROUTES`]: destination `::/0` with the `RTF_ADDRCONF` flag, which the kernel sets
/// on exactly the routes it learns from RAs (`ip -6 route` shows them as `proto ra`).
pub fn ra_interfaces(ipv6_route: &str) -> Vec<String> {
    const RTF_ADDRCONF: u32 = 0x0004_0000;
    let mut interfaces: Vec<String> = Vec::new();
    for line in ipv6_route.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [destination, prefix_len, _, _, _, _, _, _, flags, device, ..] = fields.as_slice()
        else {
            continue;
        };
        let default = destination.bytes().all(|b| b == b'0') && *prefix_len == "00";
        let from_ra = u32::from_str_radix(flags, 16).is_ok_and(|f| f & RTF_ADDRCONF != 0);
        if default && from_ra && !interfaces.iter().any(|known| known == device) {
            interfaces.push(device.to_string());
        }
    }
    interfaces
}

/// Parse [`ACCEPT_RA_SCRIPT`]'s output: every interface's `accept_ra`.
pub fn parse_accept_ra(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter_map(|line| {
            let (path, value) = line.rsplit_once(':')?;
            let interface = path
                .strip_prefix("/proc/sys/net/ipv6/conf/")?
                .strip_suffix("/accept_ra")?;
            Some((interface.to_string(), value.trim().to_string()))
        })
        .collect()
}

/// The `sysctl` module.
pub struct Sysctl;

/// One key of the task, checked.
struct Wanted {
    key: SysctlKey,
    written: String,
    value: Option<String>,
}

fn wanted(args: &SysctlArgs) -> Result<Vec<Wanted>, ArgsError> {
    let present = args.state == SysctlState::Present;
    let items: Vec<(String, Option<String>)> = match (&args.name, &args.settings) {
        (Some(_), Some(_)) => {
            return Err(ArgsError::new(
                Some("settings"),
                "`name` and `settings` are mutually exclusive in module `sysctl`",
            )
            .with_hint("put the key into `settings`, or give one key with `name` and `value`"))
        }
        (None, None) => {
            return Err(ArgsError::new(
                None,
                "module `sysctl` needs `name` (with `value`) or `settings`",
            )
            .with_hint("e.g. `name: net.ipv6.conf.all.forwarding` and `value: 1`"))
        }
        (Some(name), None) => {
            if args.value.is_none() && present {
                return Err(ArgsError::new(
                    Some("value"),
                    format!("`state: present` needs `value` for `{name}`"),
                )
                .with_hint("add `value:`, or `state: absent` to remove the key from the file"));
            }
            vec![(name.clone(), args.value.as_ref().map(|v| v.0.clone()))]
        }
        (None, Some(settings)) => {
            if settings.0.is_empty() {
                return Err(ArgsError::new(
                    Some("settings"),
                    "`settings` of module `sysctl` is empty",
                ));
            }
            if args.value.is_some() {
                return Err(ArgsError::new(
                    Some("value"),
                    "`value` goes with `name`; with `settings` each key has its own value",
                ));
            }
            settings
                .0
                .iter()
                .map(|(key, value)| (key.clone(), Some(value.0.clone())))
                .collect()
        }
    };
    let mut out: Vec<Wanted> = Vec::new();
    for (written, value) in items {
        let key = SysctlKey::parse(&written).map_err(|reason| {
            ArgsError::new(Some("name"), format!("bad sysctl key: {reason}"))
                .with_hint("keys look like `net.ipv6.conf.all.forwarding`")
        })?;
        if let Some(value) = &value {
            if present && value.is_empty() {
                return Err(ArgsError::new(
                    Some("value"),
                    format!("the value of `{key}` is empty"),
                )
                .with_hint("give a value, or `state: absent` to remove the key"));
            }
            if value.contains(['\n', '\r']) {
                return Err(ArgsError::new(
                    Some("value"),
                    format!("the value of `{key}` spans several lines"),
                ));
            }
        }
        if out.iter().any(|other| other.key == key) {
            return Err(ArgsError::new(
                Some("settings"),
                format!("key `{key}` is given twice"),
            ));
        }
        out.push(Wanted {
            key,
            written: written.trim().to_string(),
            value: value.filter(|_| present),
        });
    }
    Ok(out)
}

/// The order live values are set in: `accept_ra` before `forwarding` (so that an RA-learnt
/// default route survives), otherwise as written.
fn apply_rank(key: &SysctlKey) -> u8 {
    match key.components().last().map(String::as_str) {
        Some("accept_ra") => 0,
        Some("forwarding") => 2,
        _ => 1,
    }
}

/// A hint for an unknown key: the slash form when a dotted interface name looks split.
fn unknown_key_hint(key: &SysctlKey) -> String {
    let parts = key.components();
    if parts.len() > 5 && parts[0] == "net" && parts[2] == "conf" {
        let interface = parts[3..parts.len() - 1].join(".");
        let fixed = SysctlKey(vec![
            parts[0].clone(),
            parts[1].clone(),
            parts[2].clone(),
            interface.clone(),
            parts[parts.len() - 1].clone(),
        ]);
        return format!(
            "for the interface `{interface}` write the key with `/`: `{fixed}`; set `ignoreerrors: yes` to write it to the file anyway"
        );
    }
    "check the spelling with `sysctl -a`; for an interface that appears later (virbr0) set `ignoreerrors: yes` to write it to the file only, or use `net.ipv6.conf.default.*`".into()
}

impl TypedModule for Sysctl {
    type Args = SysctlArgs;
    const NAME: &'static str = "sysctl";
    // The SLAAC check reads the live routes itself; `default_ipv6` is used when gathered.
    const USES_FACTS: bool = false;
    const SUMMARY: &'static str =
        "Set kernel parameters live and in sysctl.conf, editing the file in place";
    const EXAMPLES: &'static str = "- sysctl:\n    name: net.ipv4.ip_forward\n    value: 1\n\n- sysctl:\n    settings:\n      net.ipv6.conf.eth0.accept_ra: 2\n      net.ipv6.conf.all.forwarding: 1\n\n- sysctl:\n    name: net.ipv6.conf.virbr0.proxy_ndp\n    value: 1\n    sysctl_file: /etc/sysctl.d/60-converge.conf\n    ignoreerrors: yes\n\n- sysctl:\n    key: net.ipv6.conf.eth0/100.accept_ra\n    state: absent\n";

    fn reads(args: &SysctlArgs) -> Vec<Read> {
        let mut reads = vec![Read::File(args.sysctl_file.clone())];
        if let (SysctlState::Present, Ok(wanted)) = (&args.state, wanted(args)) {
            reads.extend(wanted.iter().map(|want| Read::File(want.key.proc_path())));
            reads.push(Read::File(IPV6_ROUTES.to_string()));
            reads.push(Read::Run(accept_ra_read()));
        }
        reads
    }

    fn check(args: &SysctlArgs) -> Result<(), ArgsError> {
        if args.sysctl_file.trim().is_empty() {
            return Err(ArgsError::new(
                Some("sysctl_file"),
                "`sysctl_file` of module `sysctl` is empty",
            ));
        }
        wanted(args).map(|_| ())
    }

    fn plan(args: SysctlArgs, host: &mut dyn Host, context: &Context) -> Result<Plan, ModuleError> {
        let wanted = wanted(&args)?;
        let path = args.sysctl_file.as_str();
        let live_too = args.state == SysctlState::Present && (args.reload.0 || args.sysctl_set.0);

        let before = match host.read_file(path)? {
            Some(bytes) => Some(String::from_utf8(bytes).map_err(|_| {
                ModuleError::failed(format!("`{path}` is not UTF-8 text, refusing to edit it"))
            })?),
            None => None,
        };
        let text = before.clone().unwrap_or_default();

        let live = if args.state == SysctlState::Present {
            read_live(host, &wanted)?
        } else {
            LiveState::default()
        };

        let mut plan = Plan::unchanged();
        plan.result
            .insert("sysctl_file".into(), Value::String(path.to_string()));

        // The file.
        let entries = parse_conf(&text);
        let mut file_changes = Vec::new();
        for want in &wanted {
            let found: Vec<&str> = entries
                .iter()
                .filter(|entry| entry.key.as_ref() == Some(&want.key))
                .map(|entry| entry.value.as_str())
                .collect();
            let shown = (!found.is_empty()).then(|| found.join(", "));
            let differs = match &want.value {
                Some(value) => found.len() != 1 || !same_value(found[0], value),
                None => !found.is_empty(),
            };
            if differs {
                file_changes.push(Change::value(
                    format!("{} (file {path})", want.key),
                    shown,
                    want.value.clone(),
                ));
            }
        }
        if !file_changes.is_empty() {
            let edits: Vec<ConfEdit> = wanted
                .iter()
                .map(|want| ConfEdit {
                    key: want.key.clone(),
                    written: want.written.clone(),
                    value: want.value.clone(),
                })
                .collect();
            let after = edit_conf(&text, &edits);
            plan.changes.extend(file_changes);
            plan.steps.push(Step::WriteFile {
                path: path.to_string(),
                content: after.into_bytes(),
                options: WriteOptions {
                    attributes: FileAttributes {
                        mode: before.is_none().then_some(0o644),
                        ..FileAttributes::default()
                    },
                    ..WriteOptions::default()
                },
            });
        }

        // The running kernel.
        let mut live_steps: Vec<(u8, Step)> = Vec::new();
        for (want, found) in wanted.iter().zip(&live.values) {
            let Some(value) = &want.value else { continue };
            match found {
                Live::Missing if args.ignoreerrors.0 || !live_too => plan.warnings.push(format!(
                    "sysctl key `{}` does not exist on this host (no `{}`): written to `{path}` only",
                    want.key,
                    want.key.proc_path()
                )),
                Live::Missing if live_too => {
                    return Err(ModuleError::Failed {
                        message: format!(
                            "sysctl key `{}` does not exist on this host (no `{}`)",
                            want.key,
                            want.key.proc_path()
                        ),
                        hint: Some(unknown_key_hint(&want.key)),
                    })
                }
                Live::Value(current) if live_too && !same_value(current, value) => {
                    plan.changes.push(Change::value(
                        format!("{} (live)", want.key),
                        Some(current.clone()),
                        Some(value.clone()),
                    ));
                    live_steps.push((
                        apply_rank(&want.key),
                        Step::Run {
                            // -q: the value set is not printed, so no output comes back.
                            command: Command::argv([
                                "sysctl".to_string(),
                                "-q".to_string(),
                                "-w".to_string(),
                                format!("{}={value}", want.key),
                            ]),
                            allow_failure: false,
                        },
                    ));
                }
                _ => {}
            }
        }
        live_steps.sort_by_key(|(rank, _)| *rank);
        plan.steps
            .extend(live_steps.into_iter().map(|(_, step)| step));

        plan.warnings
            .extend(slaac_warnings(&wanted, &live, context));
        Ok(plan)
    }
}

/// The command that reads every interface's `accept_ra`.
fn accept_ra_read() -> Command {
    Command::argv(["sh", "-c", ACCEPT_RA_SCRIPT, ACCEPT_RA_SCRIPT_NAME])
}

/// Read every key's live value, the routes and the `accept_ra`s: reads of `/proc` files,
/// which a transport can make with other tasks' reads, and one command of shell builtins.
fn read_live(host: &mut dyn Host, wanted: &[Wanted]) -> Result<LiveState, ModuleError> {
    let mut values = Vec::with_capacity(wanted.len());
    for want in wanted {
        values.push(live_value(host.read_file(&want.key.proc_path()))?);
    }
    // The routes serve a warning only: a host without IPv6 routes (or without /proc/net)
    // has none to lose.
    let ra_interfaces = match host.read_file(IPV6_ROUTES) {
        Ok(Some(bytes)) => ra_interfaces(&String::from_utf8_lossy(&bytes)),
        Ok(None) | Err(HostError::File { .. }) => Vec::new(),
        Err(other) => return Err(other.into()),
    };
    let output = host.run_read(&accept_ra_read())?;
    if !output.success() {
        return Err(ModuleError::failed(format!(
            "cannot read the interfaces' accept_ra: the read script exited with status {}: {}",
            output.status,
            output.stderr_text().trim()
        )));
    }
    Ok(LiveState {
        values,
        ra_interfaces,
        accept_ra: parse_accept_ra(&output.stdout_text()),
    })
}

/// The SLAAC trap: forwarding on, an RA-learnt default route, and `accept_ra` not 2.
fn slaac_warnings(wanted: &[Wanted], live: &LiveState, context: &Context) -> Vec<String> {
    let mut interfaces: Vec<String> = context
        .facts
        .default_ipv6
        .iter()
        .filter(|route| route.protocol.as_deref() == Some("ra"))
        .map(|route| route.interface.clone())
        .filter(|name| !name.is_empty())
        .collect();
    for name in &live.ra_interfaces {
        if !interfaces.contains(name) {
            interfaces.push(name.clone());
        }
    }
    let sets = |key: &SysctlKey, token: &str| {
        wanted.iter().find_map(|want| {
            (want.key == *key).then(|| want.value.as_deref().is_some_and(|v| same_value(v, token)))
        })
    };
    let mut warnings = Vec::new();
    for interface in interfaces {
        let forwarding = ["all", "default", interface.as_str()]
            .iter()
            .map(|scope| SysctlKey::ipv6_conf(scope, "forwarding"))
            .find(|key| sets(key, "1") == Some(true));
        let Some(forwarding) = forwarding else {
            continue;
        };
        let accept_ra = SysctlKey::ipv6_conf(&interface, "accept_ra");
        if sets(&accept_ra, "2") == Some(true) {
            continue;
        }
        let current = live
            .accept_ra
            .iter()
            .find(|(name, _)| *name == interface)
            .map(|(_, value)| value.as_str());
        if current.is_some_and(|value| same_value(value, "2")) {
            continue;
        }
        let shown = current.map_or("unknown".to_string(), |value| value.to_string());
        let all_note = if sets(&SysctlKey::ipv6_conf("all", "accept_ra"), "2") == Some(true) {
            " (`net.ipv6.conf.all.accept_ra` does not reach existing interfaces)"
        } else {
            ""
        };
        warnings.push(format!(
            "`{forwarding} = 1` will remove the IPv6 default route of `{interface}`, which came from router advertisements (SLAAC): with forwarding on the kernel ignores RAs unless accept_ra is 2, and `{interface}` has accept_ra {shown}{all_note}; add `{accept_ra} = 2` to this task (converge sets it before forwarding)"
        ));
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(key: &str, value: Option<&str>) -> ConfEdit {
        ConfEdit {
            key: SysctlKey::parse(key).unwrap(),
            written: key.to_string(),
            value: value.map(str::to_string),
        }
    }

    #[test]
    fn keys_swap_separators_like_procps() {
        let key = SysctlKey::parse("net.ipv6.conf.eth0/100.accept_ra").unwrap();
        assert_eq!(key.components()[3], "eth0.100");
        assert_eq!(
            SysctlKey::parse("net/ipv4/ip_forward").unwrap(),
            SysctlKey::parse("net.ipv4.ip_forward").unwrap()
        );
        // The naive spelling is a different (non-existent) key.
        assert_ne!(
            SysctlKey::parse("net.ipv6.conf.eth0.100.accept_ra").unwrap(),
            key
        );
        assert!(SysctlKey::parse("net..x").is_err());
        assert!(SysctlKey::parse("a b").is_err());
    }

    #[test]
    fn replaces_in_place_keeping_spacing_and_removes_duplicates() {
        let text =
            "# head\nnet.ipv4.ip_forward=0\n; note\nnet.ipv4.ip_forward = 1\nvm.swappiness = 10\n";
        let out = edit_conf(text, &[edit("net.ipv4.ip_forward", Some("1"))]);
        assert_eq!(
            out,
            "# head\nnet.ipv4.ip_forward=1\n; note\nvm.swappiness = 10\n"
        );
    }

    #[test]
    fn appends_with_the_file_spacing() {
        let out = edit_conf("a.b=1\n", &[edit("c.d", Some("2"))]);
        assert_eq!(out, "a.b=1\nc.d=2\n");
        // A new file gets Ansible's `key=value`.
        let out = edit_conf("", &[edit("c.d", Some("2"))]);
        assert_eq!(out, "c.d=2\n");
    }

    #[test]
    fn equal_multi_value_line_is_untouched() {
        let text = "net.ipv4.ip_local_port_range = 1024\t65000\n";
        let out = edit_conf(
            text,
            &[edit("net.ipv4.ip_local_port_range", Some("1024 65000"))],
        );
        assert_eq!(out, text);
    }

    #[test]
    fn live_values_come_from_proc_reads() {
        let value = |bytes: &[u8]| live_value(Ok(Some(bytes.to_vec()))).unwrap();
        assert_eq!(value(b"1\n"), Live::Value("1".into()));
        assert_eq!(value(b"32768\t60999\n"), Live::Value("32768 60999".into()));
        assert_eq!(value(b""), Live::Value(String::new()));
        assert_eq!(live_value(Ok(None)).unwrap(), Live::Missing);
        let refused = |reason: &str| HostError::File {
            operation: "read",
            path: "/proc/sys/net/ipv4/route/flush".into(),
            reason: reason.into(),
        };
        for reason in [
            "cat: /proc/sys/net/ipv4/route/flush: Permission denied",
            "Permission denied (os error 13)",
        ] {
            assert_eq!(
                live_value(Err(refused(reason))).unwrap(),
                Live::Unreadable("Permission denied".into())
            );
        }
        assert!(live_value(Err(HostError::Unsupported("no".into()))).is_err());
    }

    #[test]
    fn ra_default_routes_are_the_ones_with_the_addrconf_flag() {
        // From a host with SLAAC on eth0 and wan1 (two routers), a static default route on
        // eth1, a prefix route learnt from an RA, and the kernel's unreachable default on lo.
        let routes = "\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00450003     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000001 00000001 00000000 00000003     eth1
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000002 00000400 00000001 00000000 00450003     wan1
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000003 00000400 00000001 00000000 00450003     wan1
20010db8000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00040001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";
        assert_eq!(
            ra_interfaces(routes),
            vec!["eth0".to_string(), "wan1".into()]
        );
        assert!(ra_interfaces("").is_empty());
    }

    #[test]
    fn accept_ra_output_is_read_per_interface() {
        let output = "/proc/sys/net/ipv6/conf/eth0/accept_ra:1\n/proc/sys/net/ipv6/conf/eth0.100/accept_ra:2\nnoise\n";
        assert_eq!(
            parse_accept_ra(output),
            vec![("eth0".into(), "1".into()), ("eth0.100".into(), "2".into())]
        );
    }

    #[test]
    fn values_coerce_like_ansible() {
        assert_eq!(coerce_value(&serde_json::json!("yes")).unwrap(), "1");
        assert_eq!(coerce_value(&serde_json::json!("Off")).unwrap(), "0");
        assert_eq!(coerce_value(&serde_json::json!(true)).unwrap(), "1");
        assert_eq!(coerce_value(&serde_json::json!(2)).unwrap(), "2");
        assert_eq!(
            coerce_value(&serde_json::json!(" 4 4 1 7 ")).unwrap(),
            "4 4 1 7"
        );
        assert!(coerce_value(&serde_json::Value::Null).is_err());
    }
}
