//! `dhcpd`: the configuration file of ISC dhcpd (IPv4 or IPv6) and the leases file it needs.
//!
//! Converges one config file (`dhcpd.conf` or `dhcpd6.conf`), rendered deterministically from
//! structured arguments (global options, `subnets` with ranges, `hosts` reservations) or taken
//! verbatim from `config` (a template rendered by the engine), and makes sure the leases file
//! exists (dhcpd refuses to start without one). Reads the config file and stats the leases
//! file. The family is checked here, since `dhcpd -6 -t` accepts a v4-only file: a v4 config
//! may not declare `subnet6`/`range6`/`prefix6`/`fixed-address6`, a v6 one not `subnet` or
//! `fixed-address`. The new file replaces the old one only after `dhcpd -t -cf` (`-6` for v6)
//! accepted it; a refusal keeps the old file and shows dhcpd's message with the line.
//! Idempotence: equal bytes and an existing leases file → no change. Restarting dhcpd is a
//! handler's job.
//!
//! Paths come from the `os_family` fact: Slackware `/etc/dhcpd.conf`, `/etc/dhcpd6.conf`,
//! leases in `/var/state/dhcp/`; Debian `/etc/dhcp/dhcpd.conf`, `/etc/dhcp/dhcpd6.conf`,
//! leases in `/var/lib/dhcp/`; `path` and `leases_file` override them.
//!
//! ```yaml
//! - dhcpd:
//!     family: ipv4
//!     authoritative: yes
//!     domain_name_servers: [192.168.122.1]
//!     subnets:
//!       - subnet: 192.168.122.0/24
//!         range: 192.168.122.100 192.168.122.200
//!         routers: [192.168.122.1]
//!     hosts:
//!       - name: g1
//!         hardware_ethernet: "52:54:00:12:34:56"
//!         fixed_address: 192.168.122.10
//!   notify: restart dhcpd
//! ```

use crate::args::{Flag, Mode, StringList};
use crate::fsutil;
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Step};
use crate::{FileKind, Host, Plan, WriteOptions};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which dhcpd the file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// DHCPv4 (`dhcpd -4`, `dhcpd.conf`).
    #[default]
    Ipv4,
    /// DHCPv6 (`dhcpd -6`, `dhcpd6.conf`).
    Ipv6,
}

/// One `subnet` (v4) or `subnet6` (v6) declaration.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Subnet {
    /// The network in CIDR notation: `192.168.122.0/24` (v4) or `fd42:1::/64` (v6).
    pub subnet: String,
    /// v4 address pools, each `FIRST LAST` (`192.168.122.100 192.168.122.200`).
    #[serde(default)]
    pub range: StringList,
    /// v6 address pools, each `FIRST LAST` or a prefix (`fd42:1::/64`).
    #[serde(default)]
    pub range6: StringList,
    /// v6 prefix delegation pools, each `FIRST LAST /LENGTH`.
    #[serde(default)]
    pub prefix6: StringList,
    /// v4 default gateways for this subnet (`option routers`).
    #[serde(default)]
    pub routers: StringList,
    /// Name servers for this subnet (`option domain-name-servers`, v6 `dhcp6.name-servers`).
    #[serde(default)]
    pub domain_name_servers: StringList,
    /// v4 broadcast address (`option broadcast-address`).
    pub broadcast_address: Option<String>,
    /// Domain name for this subnet (v4 `option domain-name`).
    pub domain_name: Option<String>,
    /// Lease time in seconds for this subnet.
    pub default_lease_time: Option<u64>,
    /// Longest lease in seconds for this subnet.
    pub max_lease_time: Option<u64>,
}

/// A host reservation: a fixed address for one client.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reservation {
    /// The declaration's name (`host NAME { … }`).
    pub name: String,
    /// The client's MAC address (`hardware ethernet`; in v6 it matches DUID-LL/LLT clients).
    pub hardware_ethernet: Option<String>,
    /// v6 only: the client's DUID (`host-identifier option dhcp6.client-id`), colon-separated hex.
    pub client_id: Option<String>,
    /// v4 fixed address (an address or a name dhcpd resolves).
    pub fixed_address: Option<String>,
    /// v6 fixed address.
    pub fixed_address6: Option<String>,
}

/// Arguments of `dhcpd`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DhcpdArgs {
    /// `ipv4` or `ipv6`: which dhcpd reads the file, hence its default path and the checks.
    #[serde(default)]
    pub family: Family,
    /// The whole config file as text (e.g. from a template), instead of structured arguments.
    pub config: Option<String>,
    /// The config file. Default from `os_family`: Slackware `/etc/dhcpd.conf` (`/etc/dhcpd6.conf`),
    /// Debian `/etc/dhcp/dhcpd.conf` (`/etc/dhcp/dhcpd6.conf`).
    pub path: Option<String>,
    /// The leases file, created empty when missing. Default: Slackware `/var/state/dhcp/`,
    /// Debian `/var/lib/dhcp/`, named `dhcpd.leases` or `dhcpd6.leases`.
    pub leases_file: Option<String>,
    /// Declare this server authoritative for its subnets (`authoritative;`).
    #[serde(default)]
    pub authoritative: Flag,
    /// Lease time in seconds when the client asks for none (v6: the valid lifetime).
    pub default_lease_time: Option<u64>,
    /// Longest lease in seconds.
    pub max_lease_time: Option<u64>,
    /// v6 only: the preferred lifetime in seconds.
    pub preferred_lifetime: Option<u64>,
    /// The domain name given to clients (v4 `option domain-name`).
    pub domain_name: Option<String>,
    /// Name servers for every subnet (v4 `option domain-name-servers`, v6 `option dhcp6.name-servers`).
    #[serde(default)]
    pub domain_name_servers: StringList,
    /// Search domains (v4 `option domain-search`, v6 `option dhcp6.domain-search`).
    #[serde(default)]
    pub domain_search: StringList,
    /// The `subnet`/`subnet6` declarations; dhcpd serves only interfaces inside one of them.
    #[serde(default)]
    pub subnets: Vec<Subnet>,
    /// Host reservations.
    #[serde(default)]
    pub hosts: Vec<Reservation>,
    /// Permission bits of the config file, e.g. `"0644"`. Unset: kept (new files: the umask's).
    pub mode: Option<Mode>,
    /// Keep the old config as `PATH.TIMESTAMP~` when replacing it.
    #[serde(default)]
    pub backup: Flag,
}

impl DhcpdArgs {
    fn has_structure(&self) -> bool {
        self.authoritative.0
            || self.default_lease_time.is_some()
            || self.max_lease_time.is_some()
            || self.preferred_lifetime.is_some()
            || self.domain_name.is_some()
            || !self.domain_name_servers.0.is_empty()
            || !self.domain_search.0.is_empty()
            || !self.subnets.is_empty()
            || !self.hosts.is_empty()
    }
}

/// The `dhcpd` module.
pub struct Dhcpd;

impl TypedModule for Dhcpd {
    type Args = DhcpdArgs;
    const NAME: &'static str = "dhcpd";
    const SUMMARY: &'static str =
        "Configure ISC dhcpd (IPv4 or IPv6), checked by `dhcpd -t` before it replaces the old file";
    const EXAMPLES: &'static str = "- dhcpd:\n    family: ipv4\n    authoritative: yes\n    default_lease_time: 600\n    max_lease_time: 7200\n    domain_name_servers: [192.168.122.1]\n    subnets:\n      - subnet: 192.168.122.0/24\n        range: 192.168.122.100 192.168.122.200\n        routers: [192.168.122.1]\n    hosts:\n      - name: g1\n        hardware_ethernet: \"52:54:00:12:34:56\"\n        fixed_address: 192.168.122.10\n  notify: restart dhcpd\n\n- dhcpd:\n    family: ipv6\n    preferred_lifetime: 604800\n    domain_name_servers: [\"fd42:1::1\"]\n    subnets:\n      - subnet: fd42:1::/64\n    hosts:\n      - name: g1\n        hardware_ethernet: \"52:54:00:12:34:56\"\n        fixed_address6: fd42:1::10\n\n- dhcpd:\n    family: ipv4\n    config: \"{{ lookup('template', 'dhcpd.conf.j2') }}\"\n";

    fn check(args: &DhcpdArgs) -> Result<(), ArgsError> {
        desired_text(args).map(|_| ())
    }

    fn plan(args: DhcpdArgs, host: &mut dyn Host, context: &Context) -> Result<Plan, ModuleError> {
        plan_dhcpd(&args, host, context)
    }
}

/// Where the config and the leases file are on this host.
fn paths(args: &DhcpdArgs, os_family: &str) -> Result<(String, String), ModuleError> {
    let v6 = args.family == Family::Ipv6;
    let (config_dir, leases_dir) = match os_family {
        "Slackware" => ("/etc", "/var/state/dhcp"),
        "Debian" => ("/etc/dhcp", "/var/lib/dhcp"),
        _ if args.path.is_some() && args.leases_file.is_some() => ("", ""),
        other => {
            return Err(ModuleError::Failed {
                message: format!("module `dhcpd` knows no default paths for os_family `{other}`"),
                hint: Some("give `path` and `leases_file`".into()),
            })
        }
    };
    let name = if v6 { "dhcpd6" } else { "dhcpd" };
    let path = args
        .path
        .clone()
        .unwrap_or_else(|| format!("{config_dir}/{name}.conf"));
    let leases = args
        .leases_file
        .clone()
        .unwrap_or_else(|| format!("{leases_dir}/{name}.leases"));
    Ok((path, leases))
}

/// The validator: dhcpd's own config test, showing only its message (not its banner).
pub fn validate_command(family: Family) -> String {
    let flag = match family {
        Family::Ipv4 => "",
        Family::Ipv6 => "-6 ",
    };
    format!(
        "out=$(dhcpd {flag}-t -cf %s 2>&1) || {{ echo \"$out\" | sed -n -e '/^If you think/q' \
         -e '/^Internet Systems Consortium/d' -e '/^Copyright/d' -e '/^All rights/d' \
         -e '/^For info/d' -e '/^Config file:/d' -e '/^Database file:/d' -e '/^PID file:/d' \
         -e '/^ *$/d' -e p >&2; exit 1; }}"
    )
}

fn plan_dhcpd(
    args: &DhcpdArgs,
    host: &mut dyn Host,
    context: &Context,
) -> Result<Plan, ModuleError> {
    let text = desired_text(args)?;
    let (path, leases) = paths(args, &context.facts.os_family)?;
    let mut plan = Plan::unchanged();
    plan.result
        .insert("path".into(), Value::String(path.clone()));
    plan.result
        .insert("leases_file".into(), Value::String(leases.clone()));

    let current = host.stat(&path)?;
    let before = match current.as_ref().map(|stat| &stat.kind) {
        None => {
            let parent = fsutil::parent(&path);
            if host.stat(&parent)?.is_none() {
                return Err(ModuleError::Failed {
                    message: format!("directory `{parent}` of `{path}` does not exist"),
                    hint: Some(
                        "install dhcpd first (Debian: isc-dhcp-server, Slackware: dhcp), or set `path`"
                            .into(),
                    ),
                });
            }
            None
        }
        Some(FileKind::Directory | FileKind::Other) => {
            return Err(ModuleError::failed(format!(
                "`{path}` is not a regular file, refusing to replace it"
            )))
        }
        Some(_) => host.read_file(&path)?,
    };
    let wanted = fsutil::attributes(
        host,
        args.mode.as_ref(),
        None,
        None,
        current.as_ref(),
        fsutil::NewKind::File,
    )?;
    if before.as_deref() != Some(text.as_bytes()) {
        plan.changes.push(fsutil::content_change(
            &path,
            before.as_deref(),
            Some(text.as_bytes()),
        ));
        plan.steps.push(Step::WriteFile {
            path: path.clone(),
            content: text.into_bytes(),
            options: WriteOptions {
                attributes: wanted,
                create_parents: false,
                validate: Some(validate_command(args.family)),
                backup: args.backup.0,
            },
        });
    } else {
        let changes = fsutil::attribute_changes(&path, current.as_ref(), &wanted);
        let steps = fsutil::attribute_steps(&path, &wanted, &changes, fsutil::Reach::default());
        plan.changes.extend(changes);
        plan.steps.extend(steps);
    }

    // After the config: a refused config leaves nothing changed.
    match host.stat(&leases)? {
        Some(stat) if stat.kind == FileKind::File => {}
        Some(_) => {
            return Err(ModuleError::failed(format!(
                "leases file `{leases}` is not a regular file"
            )))
        }
        None => {
            let parent = fsutil::parent(&leases);
            let mut steps = Vec::new();
            if host.stat(&parent)?.is_none() {
                steps.push(fsutil::run(vec!["mkdir".into(), "-p".into(), parent]));
            }
            steps.push(fsutil::run(vec!["touch".into(), leases.clone()]));
            plan.push(
                Change::value(&leases, None, Some("empty leases file".into())),
                steps,
            );
        }
    }
    Ok(plan)
}

/// The config text the task asks for: `config` as given, or the rendering of the structured
/// arguments; either way checked against the family.
pub fn desired_text(args: &DhcpdArgs) -> Result<String, ArgsError> {
    let text = match &args.config {
        Some(_) if args.has_structure() => {
            return Err(ArgsError::new(
                Some("config"),
                "`config` and structured arguments (`subnets`, `hosts`, options) are mutually exclusive in module `dhcpd`",
            )
            .with_hint("put everything in the `config` text, or drop `config`"))
        }
        Some(config) => config.clone(),
        None if args.subnets.is_empty() => {
            return Err(ArgsError::new(
                Some("subnets"),
                "module `dhcpd` needs `subnets` (or a whole `config`)",
            )
            .with_hint("dhcpd serves only interfaces with an address inside a declared subnet"))
        }
        None => render(args)?,
    };
    check_family(&text, args.family)?;
    Ok(text)
}

/// Refuse declarations of the other family: `dhcpd -6 -t` would accept a v4-only file.
pub fn check_family(text: &str, family: Family) -> Result<(), ArgsError> {
    let foreign: &[&str] = match family {
        Family::Ipv4 => &[
            "subnet6",
            "range6",
            "prefix6",
            "fixed-address6",
            "fixed-prefix6",
        ],
        Family::Ipv6 => &["subnet", "fixed-address"],
    };
    for (line, word) in words(text) {
        if foreign.contains(&word.as_str()) {
            let (mode, other) = match family {
                Family::Ipv4 => ("an IPv4", "family: ipv6"),
                Family::Ipv6 => ("an IPv6", "family: ipv4"),
            };
            return Err(ArgsError::new(
                Some("family"),
                format!("line {line}: `{word}` does not belong in {mode} dhcpd config"),
            )
            .with_hint(format!(
                "write v4 and v6 declarations in separate files: this one with `{other}`, or remove `{word}`"
            )));
        }
    }
    Ok(())
}

/// The bare words of a dhcpd config with their line numbers: comments and strings skipped.
fn words(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut line = 1;
    let mut chars = text.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, line: usize, found: &mut Vec<(usize, String)>| {
        if !word.is_empty() {
            found.push((line, std::mem::take(word)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '#' => {
                flush(&mut word, line, &mut found);
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            '"' => {
                flush(&mut word, line, &mut found);
                let mut escaped = false;
                for c in chars.by_ref() {
                    match c {
                        '\n' => line += 1,
                        '\\' if !escaped => {
                            escaped = true;
                            continue;
                        }
                        '"' if !escaped => break,
                        _ => {}
                    }
                    escaped = false;
                }
            }
            c if c.is_whitespace() || ";{},".contains(c) => {
                flush(&mut word, line, &mut found);
                if c == '\n' {
                    line += 1;
                }
            }
            c => word.push(c),
        }
    }
    flush(&mut word, line, &mut found);
    found
}

/// Render the structured arguments as a dhcpd config, always the same bytes for the same
/// arguments.
pub fn render(args: &DhcpdArgs) -> Result<String, ArgsError> {
    let v6 = args.family == Family::Ipv6;
    let mut out =
        String::from("# Managed by converge (module `dhcpd`); local changes are overwritten.\n");
    if args.authoritative.0 {
        out.push_str("authoritative;\n");
    }
    if let Some(seconds) = args.default_lease_time {
        let _ = writeln!(out, "default-lease-time {seconds};");
    }
    if let Some(seconds) = args.max_lease_time {
        let _ = writeln!(out, "max-lease-time {seconds};");
    }
    if let Some(seconds) = args.preferred_lifetime {
        if !v6 {
            return Err(only_v6("preferred_lifetime"));
        }
        // dhcpd's valid lifetime is default-lease-time (43200 s when unset); clients discard
        // an address whose preferred lifetime is longer ("INVALID lifetimes").
        let valid = args.default_lease_time.unwrap_or(43200);
        if seconds > valid {
            return Err(ArgsError::new(
                Some("preferred_lifetime"),
                format!("`preferred_lifetime` {seconds} is longer than the valid lifetime {valid} (`default_lease_time`): clients discard such addresses"),
            )
            .with_hint(format!("set `default_lease_time` to at least {seconds}, e.g. 2592000 (30 days)")));
        }
        let _ = writeln!(out, "preferred-lifetime {seconds};");
    }
    if let Some(name) = &args.domain_name {
        if v6 {
            return Err(
                ArgsError::new(Some("domain_name"), "`domain_name` is a DHCPv4 option")
                    .with_hint("use `domain_search` for IPv6 clients"),
            );
        }
        let _ = writeln!(out, "option domain-name {};", string("domain_name", name)?);
    }
    name_servers(
        &mut out,
        "",
        v6,
        "domain_name_servers",
        &args.domain_name_servers,
    )?;
    if !args.domain_search.0.is_empty() {
        let names = args
            .domain_search
            .0
            .iter()
            .map(|name| string("domain_search", name))
            .collect::<Result<Vec<_>, _>>()?;
        let option = if v6 {
            "dhcp6.domain-search"
        } else {
            "domain-search"
        };
        let _ = writeln!(out, "option {option} {};", names.join(", "));
    }
    for subnet in &args.subnets {
        out.push('\n');
        render_subnet(&mut out, subnet, v6)?;
    }
    for reservation in &args.hosts {
        out.push('\n');
        render_host(&mut out, reservation, v6)?;
    }
    Ok(out)
}

fn only_v6(argument: &str) -> ArgsError {
    ArgsError::new(
        Some(argument),
        format!("`{argument}` is a DHCPv6 setting but `family` is `ipv4`"),
    )
    .with_hint("set `family: ipv6`, or remove it")
}

fn only_v4(argument: &str) -> ArgsError {
    ArgsError::new(
        Some(argument),
        format!("`{argument}` is a DHCPv4 setting but `family` is `ipv6`"),
    )
    .with_hint("set `family: ipv4`, or remove it")
}

fn name_servers(
    out: &mut String,
    indent: &str,
    v6: bool,
    argument: &str,
    servers: &StringList,
) -> Result<(), ArgsError> {
    if servers.0.is_empty() {
        return Ok(());
    }
    let mut listed = Vec::new();
    for server in &servers.0 {
        if v6 {
            address6(argument, server)?;
        } else {
            word(argument, server)?;
        }
        listed.push(server.as_str());
    }
    let option = if v6 {
        "dhcp6.name-servers"
    } else {
        "domain-name-servers"
    };
    let _ = writeln!(out, "{indent}option {option} {};", listed.join(", "));
    Ok(())
}

fn render_subnet(out: &mut String, subnet: &Subnet, v6: bool) -> Result<(), ArgsError> {
    let (network, length) = cidr(&subnet.subnet)?;
    match (network, v6) {
        (IpAddr::V4(address), false) => {
            let _ = writeln!(out, "subnet {address} netmask {} {{", netmask(length));
        }
        (IpAddr::V6(address), true) => {
            let _ = writeln!(out, "subnet6 {address}/{length} {{");
        }
        (IpAddr::V4(_), true) => {
            return Err(ArgsError::new(
                Some("subnets"),
                format!("subnet `{}` is IPv4 but `family` is `ipv6`", subnet.subnet),
            )
            .with_hint("put IPv4 subnets in a task with `family: ipv4`"))
        }
        (IpAddr::V6(_), false) => {
            return Err(ArgsError::new(
                Some("subnets"),
                format!("subnet `{}` is IPv6 but `family` is `ipv4`", subnet.subnet),
            )
            .with_hint("put IPv6 subnets in a task with `family: ipv6`"))
        }
    }
    if v6 {
        for (argument, list) in [("range", &subnet.range), ("routers", &subnet.routers)] {
            if !list.0.is_empty() {
                return Err(match argument {
                    "routers" => only_v4("routers").with_hint(
                        "DHCPv6 carries no routes: IPv6 clients take their default route from router advertisements",
                    ),
                    _ => only_v4("range").with_hint("use `range6` for IPv6 pools"),
                });
            }
        }
        for (argument, value) in [
            ("broadcast_address", &subnet.broadcast_address),
            ("domain_name", &subnet.domain_name),
        ] {
            if value.is_some() {
                return Err(only_v4(argument));
            }
        }
        for range in &subnet.range6.0 {
            let parts: Vec<&str> = range.split_whitespace().collect();
            match parts.as_slice() {
                [prefix] if prefix.contains('/') => {
                    cidr(prefix)?;
                }
                [first, last] => {
                    address6("range6", first)?;
                    address6("range6", last)?;
                }
                _ => return Err(shape("range6", range, "FIRST LAST or PREFIX/LENGTH")),
            }
            let _ = writeln!(out, "  range6 {};", parts.join(" "));
        }
        for prefix in &subnet.prefix6.0 {
            let parts: Vec<&str> = prefix.split_whitespace().collect();
            match parts.as_slice() {
                [first, last, length] if length.starts_with('/') => {
                    address6("prefix6", first)?;
                    address6("prefix6", last)?;
                    if length[1..].parse::<u8>().map_or(true, |bits| bits > 128) {
                        return Err(shape("prefix6", prefix, "FIRST LAST /LENGTH"));
                    }
                }
                _ => return Err(shape("prefix6", prefix, "FIRST LAST /LENGTH")),
            }
            let _ = writeln!(out, "  prefix6 {};", parts.join(" "));
        }
    } else {
        for (argument, list) in [("range6", &subnet.range6), ("prefix6", &subnet.prefix6)] {
            if !list.0.is_empty() {
                return Err(only_v6(argument));
            }
        }
        for range in &subnet.range.0 {
            let parts: Vec<&str> = range.split_whitespace().collect();
            let [first, last] = parts.as_slice() else {
                return Err(shape("range", range, "FIRST LAST"));
            };
            address4("range", first)?;
            address4("range", last)?;
            let _ = writeln!(out, "  range {first} {last};");
        }
        if !subnet.routers.0.is_empty() {
            for router in &subnet.routers.0 {
                word("routers", router)?;
            }
            let _ = writeln!(out, "  option routers {};", subnet.routers.0.join(", "));
        }
        if let Some(broadcast) = &subnet.broadcast_address {
            address4("broadcast_address", broadcast)?;
            let _ = writeln!(out, "  option broadcast-address {broadcast};");
        }
        if let Some(name) = &subnet.domain_name {
            let _ = writeln!(
                out,
                "  option domain-name {};",
                string("domain_name", name)?
            );
        }
    }
    name_servers(
        out,
        "  ",
        v6,
        "domain_name_servers",
        &subnet.domain_name_servers,
    )?;
    if let Some(seconds) = subnet.default_lease_time {
        let _ = writeln!(out, "  default-lease-time {seconds};");
    }
    if let Some(seconds) = subnet.max_lease_time {
        let _ = writeln!(out, "  max-lease-time {seconds};");
    }
    out.push_str("}\n");
    Ok(())
}

fn render_host(out: &mut String, reservation: &Reservation, v6: bool) -> Result<(), ArgsError> {
    word("hosts", &reservation.name)?;
    let _ = writeln!(out, "host {} {{", reservation.name);
    match (&reservation.hardware_ethernet, &reservation.client_id) {
        (Some(mac), None) => {
            hex_octets("hardware_ethernet", mac, Some(6))?;
            let _ = writeln!(out, "  hardware ethernet {};", mac.to_ascii_lowercase());
        }
        (None, Some(duid)) if v6 => {
            hex_octets("client_id", duid, None)?;
            let _ = writeln!(
                out,
                "  host-identifier option dhcp6.client-id {};",
                duid.to_ascii_lowercase()
            );
        }
        (None, Some(_)) => return Err(only_v6("client_id")),
        _ => {
            return Err(ArgsError::new(
                Some("hosts"),
                format!(
                    "host `{}` needs exactly one of `hardware_ethernet` and `client_id`",
                    reservation.name
                ),
            )
            .with_hint("identify the client by its MAC (`hardware_ethernet`) or, in IPv6, its DUID (`client_id`)"))
        }
    }
    match (v6, &reservation.fixed_address, &reservation.fixed_address6) {
        (false, Some(address), None) => {
            word("fixed_address", address)?;
            let _ = writeln!(out, "  fixed-address {address};");
        }
        (true, None, Some(address)) => {
            address6("fixed_address6", address)?;
            let _ = writeln!(out, "  fixed-address6 {address};");
        }
        (false, _, Some(_)) => return Err(only_v6("fixed_address6")),
        (true, Some(_), _) => return Err(only_v4("fixed_address")),
        (_, None, None) => {}
    }
    out.push_str("}\n");
    Ok(())
}

fn shape(argument: &str, value: &str, expected: &str) -> ArgsError {
    ArgsError::new(
        Some(argument),
        format!("`{argument}` `{value}` is not `{expected}`"),
    )
}

/// A value written bare into the config: one word, nothing dhcpd's parser treats specially.
fn word<'a>(argument: &str, value: &'a str) -> Result<&'a str, ArgsError> {
    if value.is_empty()
        || value
            .chars()
            .any(|c| c.is_whitespace() || ";{}\"#'\\,".contains(c))
    {
        return Err(ArgsError::new(
            Some(argument),
            format!("`{argument}` value `{value}` is not a single word"),
        )
        .with_hint("give one address or name per list item"));
    }
    Ok(value)
}

/// A value written as a quoted string.
fn string(argument: &str, value: &str) -> Result<String, ArgsError> {
    if value.is_empty()
        || value
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\')
    {
        return Err(ArgsError::new(
            Some(argument),
            format!("`{argument}` value `{value}` cannot be written as a dhcpd string"),
        ));
    }
    Ok(format!("\"{value}\""))
}

fn address4(argument: &str, value: &str) -> Result<Ipv4Addr, ArgsError> {
    value.parse().map_err(|_| {
        ArgsError::new(
            Some(argument),
            format!("`{argument}` value `{value}` is not an IPv4 address"),
        )
    })
}

fn address6(argument: &str, value: &str) -> Result<Ipv6Addr, ArgsError> {
    value.parse().map_err(|_| {
        ArgsError::new(
            Some(argument),
            format!("`{argument}` value `{value}` is not an IPv6 address"),
        )
    })
}

/// `aa:bb:…` with `count` octets (any count when `None`).
fn hex_octets(argument: &str, value: &str, count: Option<usize>) -> Result<(), ArgsError> {
    let octets: Vec<&str> = value.split(':').collect();
    let hex = octets
        .iter()
        .all(|o| !o.is_empty() && o.len() <= 2 && o.chars().all(|c| c.is_ascii_hexdigit()));
    if !hex || count.is_some_and(|n| octets.len() != n) {
        return Err(ArgsError::new(
            Some(argument),
            format!("`{argument}` value `{value}` is not colon-separated hex octets"),
        )
        .with_hint("e.g. `52:54:00:12:34:56`"));
    }
    Ok(())
}

/// A network in CIDR notation; the address must be the network's own (no host bits).
fn cidr(text: &str) -> Result<(IpAddr, u8), ArgsError> {
    let bad = || {
        ArgsError::new(
            Some("subnets"),
            format!("`{text}` is not a network in CIDR notation"),
        )
        .with_hint("e.g. `192.168.122.0/24` or `fd42:1::/64`")
    };
    let (address, length) = text.split_once('/').ok_or_else(bad)?;
    let address: IpAddr = address.parse().map_err(|_| bad())?;
    let length: u8 = length.parse().map_err(|_| bad())?;
    let network = match address {
        IpAddr::V4(a) if length <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(length)).unwrap_or(0);
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) if length <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(length)).unwrap_or(0);
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
        _ => return Err(bad()),
    };
    if network != address {
        return Err(
            ArgsError::new(Some("subnets"), format!("`{text}` has host bits set"))
                .with_hint(format!("did you mean `{network}/{length}`?")),
        );
    }
    Ok((network, length))
}

fn netmask(length: u8) -> Ipv4Addr {
    Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(length)).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netmask_and_network_of_a_slash_20() {
        assert_eq!(netmask(20).to_string(), "255.255.240.0");
        assert_eq!(netmask(0).to_string(), "0.0.0.0");
        assert_eq!(netmask(32).to_string(), "255.255.255.255");
        assert!(cidr("10.231.0.5/20").is_err());
        assert_eq!(
            cidr("fd00:c0::/64").map(|(a, l)| (a.to_string(), l)),
            Ok(("fd00:c0::".into(), 64))
        );
    }

    #[test]
    fn words_skip_comments_and_strings() {
        let found = words(
            "# subnet6 x\noption domain-name \"subnet6\";\nsubnet 10.0.0.0 netmask 255.0.0.0 {}\n",
        );
        let names: Vec<_> = found.iter().map(|(l, w)| format!("{l}:{w}")).collect();
        assert_eq!(
            names,
            [
                "2:option",
                "2:domain-name",
                "3:subnet",
                "3:10.0.0.0",
                "3:netmask",
                "3:255.0.0.0"
            ]
        );
    }
}
