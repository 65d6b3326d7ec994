//! `ip6tables` (and `iptables`, the same code for IPv4): converge netfilter rules.
//!
//! Two forms.
//!
//! **Rule form** — every argument of Ansible's `ansible.builtin.iptables` (`chain`,
//! `protocol`, `match`, `ctstate`, `destination_port`, `limit`, `comment`, `jump`…): one
//! rule present or absent (`action: insert` with `rule_num`), a chain's `policy`, `flush`,
//! or with no rule arguments the chain itself (`chain_management`). The rule's words are
//! built in exactly the order of Ansible's `construct_rule` ([`rule::rule_words`]): the kernel
//! keeps matches in the order they are loaded, so the same words leave the same
//! `iptables-save` as an Ansible run. Numbers are taken where Ansible takes strings
//! (`destination_port: "{{ item }}"` over a list of integers). Reads `ip6tables -V`,
//! `ip6tables -t TABLE -S CHAIN` and `ip6tables -t TABLE -C CHAIN RULE` in one round trip
//! (the values travel as argv elements of a fixed script, never as shell text). Idempotence:
//! `-C`, as Ansible checks, matches semantically, so a rule that exists in any spelling or
//! position is left alone and `-A`/`-I` never duplicates; `-D` only runs when `-C` finds it.
//! The plan shows the rule as the kernel will print it. Differences from Ansible: `flush` is
//! a change only when the chain has rules; `ip_version: both` is not supported (two tasks).
//!
//! **Ruleset form** — `ruleset:` (text in `ip6tables-save` format, e.g. a rendered template)
//! or `rules:` (a list of its lines): the whole of every table given. Planning reads the
//! backend (`ip6tables -V`: nf_tables or legacy; the matching `ip6tables-nft-*` or
//! `ip6tables-legacy-*` commands are used throughout), the live `ip6tables-save`, the
//! persisted file and (Slackware) the boot scripts ([`slackware_boot`]), all in one round trip; the desired
//! text is loaded into a throwaway network namespace (`unshare -n`, nothing on the host
//! changes) to get the kernel's own spelling, falling back to [`save::normalise`] where
//! that is not possible. Live and desired are compared chain by chain with counters and `#`
//! lines stripped; the change shows `-A …` lines added and removed per chain. Applying tests
//! the text (`ip6tables-restore --test`), saves the live ruleset, arms a detached rollback,
//! restores the new ruleset atomically, and writes the persisted copy where boot loads it
//! (Slackware `/etc/ip6tables.rules`, loaded by converge's own `/etc/rc.d/rc.converge-firewall`,
//! called from the `start)` branch of `/etc/rc.d/rc.firewall` or else from `rc.local`: see
//! [`slackware_boot`]; the result's `loaded_at_boot_from` says which; Debian
//! `/etc/iptables/rules.v6`, netfilter-persistent's file, and when netfilter-persistent is not
//! installed converge's own loader, see [`debian_boot`]: a unit `converge-ip6tables.service`
//! with systemd, else the ifupdown hook `/etc/network/if-pre-up.d/converge-ip6tables`;
//! `persist_file` overrides; on other OS families nothing known loads a file at boot, and the
//! plan says so). Lock-out guard: the plan's confirmation removes the rollback's marker over a
//! fresh connection; if converge cannot reconnect within `rollback_timeout` seconds, the
//! host restores the previous ruleset (and persisted file) by itself. Tables not in the
//! ruleset are left alone. Idempotence: equal chains plan nothing.
//!
//! ```yaml
//! - ip6tables:
//!     chain: INPUT
//!     protocol: tcp
//!     destination_port: 22
//!     match: tcp
//!     ctstate: NEW
//!     jump: ACCEPT
//!     comment: ssh
//! - ip6tables:
//!     ruleset: "{{ lookup('template', 'ip6tables.rules.j2') }}"
//!     rollback_timeout: 30
//! - iptables:
//!     table: nat
//!     chain: POSTROUTING
//!     source: 192.168.122.0/24
//!     out_interface: eth0
//!     jump: MASQUERADE
//! ```

pub mod debian_boot;
pub mod rule;
pub mod save;
pub mod slackware_boot;

use crate::args::Flag;
use crate::host::{Command, Host, Output, Read, WriteOptions};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Confirmation, Plan, Step};
use crate::FileAttributes;
use save::{Family, Ruleset};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use serde_json::json;

/// Whether the rule should exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleState {
    /// The rule is in the chain.
    #[default]
    Present,
    /// The rule is not in the chain.
    Absent,
}

/// Where a missing rule goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// At the end of the chain (`-A`).
    #[default]
    Append,
    /// At the top, or at `rule_num` (`-I`).
    Insert,
}

/// `ipv4` or `ipv6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IpVersion {
    /// `iptables`.
    Ipv4,
    /// `ip6tables`.
    Ipv6,
}

/// A netfilter table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TableName {
    /// Packet filtering.
    #[default]
    Filter,
    /// Address translation (MASQUERADE, SNAT, DNAT).
    Nat,
    /// Packet alteration.
    Mangle,
    /// Before connection tracking (NOTRACK).
    Raw,
    /// SELinux marks.
    Security,
}

impl TableName {
    fn as_str(self) -> &'static str {
        match self {
            TableName::Filter => "filter",
            TableName::Nat => "nat",
            TableName::Mangle => "mangle",
            TableName::Raw => "raw",
            TableName::Security => "security",
        }
    }
}

/// A built-in chain's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Policy {
    /// Let packets through.
    Accept,
    /// Discard packets.
    Drop,
    /// Hand packets to user space.
    Queue,
    /// Return to the calling chain.
    Return,
}

impl Policy {
    fn as_str(self) -> &'static str {
        match self {
            Policy::Accept => "ACCEPT",
            Policy::Drop => "DROP",
            Policy::Queue => "QUEUE",
            Policy::Return => "RETURN",
        }
    }
}

/// A rule position: a number, also accepted as a string (Ansible passes strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(with = "u32")]
pub struct RuleNum(pub u32);

impl<'de> Deserialize<'de> for RuleNum {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u32),
            Text(String),
        }
        let number = match Raw::deserialize(deserializer)? {
            Raw::Number(number) => Some(number),
            Raw::Text(text) => text.trim().parse().ok(),
        };
        match number {
            Some(number) if number >= 1 => Ok(RuleNum(number)),
            _ => Err(serde::de::Error::custom(
                "expected a rule position, a number from 1",
            )),
        }
    }
}

fn default_rollback_timeout() -> u64 {
    20
}

/// A string argument that also takes a number, as Ansible's `type: str` does
/// (`destination_port: 53`, or `"{{ item }}"` with an integer item).
#[derive(Debug, Clone, PartialEq, Eq, Default, JsonSchema)]
#[schemars(with = "String")]
pub struct Word(pub String);

impl<'de> Deserialize<'de> for Word {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Integer(i64),
            Float(f64),
            Bool(bool),
        }
        Ok(Word(
            match Raw::deserialize(deserializer)
                .map_err(|_| serde::de::Error::custom("expected a string or a number"))?
            {
                Raw::Text(text) => text,
                Raw::Integer(number) => number.to_string(),
                Raw::Float(number) => number.to_string(),
                // Python's str(True).
                Raw::Bool(true) => "True".into(),
                Raw::Bool(false) => "False".into(),
            },
        ))
    }
}

impl Word {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A list of [`Word`]s, also written as one string with commas (`ESTABLISHED,RELATED`) or
/// one number, as Ansible's `type: list, elements: str` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Default, JsonSchema)]
#[schemars(with = "Vec<String>")]
pub struct WordList(pub Vec<String>);

impl<'de> Deserialize<'de> for WordList {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Many(Vec<Word>),
            One(Word),
        }
        Ok(WordList(
            match Raw::deserialize(deserializer)
                .map_err(|_| serde::de::Error::custom("expected a list of strings"))?
            {
                Raw::One(Word(text)) => text
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_string)
                    .collect(),
                Raw::Many(items) => items.into_iter().map(|word| word.0).collect(),
            },
        ))
    }
}

/// Whether the rule matches TCP SYN packets (`--syn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Syn {
    /// Leave `--syn` out.
    #[default]
    Ignore,
    /// `--syn`: only packets with SYN set and ACK, RST, FIN clear.
    Match,
    /// `! --syn`: every other packet.
    Negate,
}

/// `tcp_flags`: the flags to examine and those of them that must be set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpFlags {
    /// The flags to examine (`SYN`, `ACK`, `FIN`, `RST`, `URG`, `PSH`, `ALL`, `NONE`).
    pub flags: Option<WordList>,
    /// Which of `flags` must be set.
    pub flags_set: Option<WordList>,
}

/// Arguments of `ip6tables` and `iptables`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NetfilterArgs {
    /// `ipv6` (the default of `ip6tables`) or `ipv4` (the default of `iptables`).
    pub ip_version: Option<IpVersion>,
    /// The table: `filter` (default), `nat`, `mangle`, `raw` or `security`. With `rules`,
    /// the table the lines belong to when they do not start with `*TABLE`.
    #[serde(default)]
    pub table: TableName,
    /// Rule form: the chain (`INPUT`, `FORWARD`, `POSTROUTING`, a user chain).
    pub chain: Option<String>,
    /// Rule form: the protocol (`tcp`, `udp`, `icmp`, `ipv6-icmp`, `all`); `!tcp` negates.
    pub protocol: Option<Word>,
    /// Rule form: source address or network (`2001:db8::/64`); `!` negates.
    pub source: Option<Word>,
    /// Rule form: destination address or network; `!` negates.
    pub destination: Option<Word>,
    /// Rule form: match extensions to load, each `-m NAME` (`conntrack`, `tcp`, `state`,
    /// `iprange`, `set`); their options come from the other arguments.
    #[serde(rename = "match", default)]
    pub match_: WordList,
    /// Rule form: TCP flags (`--tcp-flags`), with `flags` and `flags_set`.
    pub tcp_flags: Option<TcpFlags>,
    /// Rule form: the target (`ACCEPT`, `DROP`, `REJECT`, `LOG`, `MASQUERADE`, a chain).
    pub jump: Option<String>,
    /// Rule form: the gateway of a `TEE` target (`--gateway`).
    pub gateway: Option<Word>,
    /// Rule form: prefix of `LOG` messages (`--log-prefix`); implies `jump: LOG`.
    pub log_prefix: Option<String>,
    /// Rule form: syslog level of `LOG` messages (`0`–`7`, `emerg` … `debug`); implies
    /// `jump: LOG`.
    pub log_level: Option<Word>,
    /// Rule form: address for `DNAT` (`--to-destination`).
    pub to_destination: Option<Word>,
    /// Rule form: several destination ports (`-m multiport --dports`); needs `protocol`.
    pub destination_ports: Option<WordList>,
    /// Rule form: address for `SNAT` (`--to-source`).
    pub to_source: Option<Word>,
    /// Rule form: continue in this chain without returning (`-g`).
    pub goto: Option<String>,
    /// Rule form: the interface packets come in on (`eth0`, `virbr+`).
    pub in_interface: Option<Word>,
    /// Rule form: the interface packets go out on.
    pub out_interface: Option<Word>,
    /// Rule form: `-f VALUE`, as Ansible passes it (second and later fragments).
    pub fragment: Option<Word>,
    /// Rule form: the packet and byte counters of a new rule (`-c`).
    pub set_counters: Option<Word>,
    /// Rule form: source port or range (`1024:65535`); needs `protocol`.
    pub source_port: Option<Word>,
    /// Rule form: destination port or range (`22`); needs `protocol`.
    pub destination_port: Option<Word>,
    /// Rule form: ports for `REDIRECT`/`MASQUERADE` (`--to-ports`).
    pub to_ports: Option<Word>,
    /// Rule form: the DSCP value a `DSCP` target sets (`--set-dscp`); needs `jump`.
    pub set_dscp_mark: Option<Word>,
    /// Rule form: the DSCP class a `DSCP` target sets (`--set-dscp-class`); needs `jump`.
    pub set_dscp_mark_class: Option<Word>,
    /// Rule form: `match` (`--syn`), `negate` (`! --syn`) or `ignore` (default).
    #[serde(default)]
    pub syn: Syn,
    /// Rule form: connection states (`NEW`, `ESTABLISHED`, `RELATED`, `INVALID`):
    /// `-m conntrack --ctstate`, or `--state` with `match: state`.
    pub ctstate: Option<WordList>,
    /// Rule form: a source address range (`-m iprange --src-range 10.0.0.1-10.0.0.9`).
    pub src_range: Option<Word>,
    /// Rule form: a destination address range (`-m iprange --dst-range`).
    pub dst_range: Option<Word>,
    /// Rule form: an ipset to match (`-m set --match-set NAME FLAGS`); needs
    /// `match_set_flags`.
    pub match_set: Option<Word>,
    /// Rule form: the directions of `match_set` (`src`, `dst`, `src,dst`, …).
    pub match_set_flags: Option<Word>,
    /// Rule form: average match rate (`-m limit --limit 3/minute`).
    pub limit: Option<Word>,
    /// Rule form: the burst of `limit` (`--limit-burst`).
    pub limit_burst: Option<Word>,
    /// Rule form: the user owning locally made packets (`-m owner --uid-owner`); `!` negates.
    pub uid_owner: Option<Word>,
    /// Rule form: the group owning locally made packets (`-m owner --gid-owner`).
    pub gid_owner: Option<Word>,
    /// Rule form: the error a `REJECT` sends (`--reject-with`); implies `jump: REJECT`.
    pub reject_with: Option<Word>,
    /// Rule form: ICMP type (`--icmp-type` for IPv4, `--icmpv6-type` for IPv6), a name or
    /// number; needs `protocol: icmp` / `ipv6-icmp`.
    pub icmp_type: Option<Word>,
    /// Rule form: a comment stored with the rule (`-m comment`); one line, ≤ 255 bytes.
    pub comment: Option<String>,
    /// Rule form: seconds to wait for the xtables lock (`-w SECONDS`; default: wait).
    pub wait: Option<Word>,
    /// Accepted for Ansible's sake: converge lists chains with `-S`, which never resolves
    /// names.
    #[serde(default)]
    pub numeric: Flag,
    /// Rule form: with no rule arguments, create `chain` (`state: present`, `-N`) or delete
    /// it (`state: absent`, `-X`).
    #[serde(default)]
    pub chain_management: Flag,
    /// Rule form: `present` (default) or `absent`.
    #[serde(default)]
    pub state: RuleState,
    /// Rule form: `append` (default) or `insert` a missing rule.
    #[serde(default)]
    pub action: RuleAction,
    /// Rule form: with `action: insert`, the position (1 = first).
    pub rule_num: Option<RuleNum>,
    /// Set the policy of built-in `chain` (`ACCEPT`, `DROP`); the rule arguments are ignored.
    pub policy: Option<Policy>,
    /// Flush `chain` (or every chain of `table` without `chain`).
    #[serde(default)]
    pub flush: Flag,
    /// Ruleset form: the whole desired tables as `ip6tables-save` text.
    pub ruleset: Option<String>,
    /// Ruleset form: the same as a list of lines (`:INPUT DROP`, `-A INPUT …`); without a
    /// `*TABLE` line they belong to `table`.
    pub rules: Option<Vec<String>>,
    /// Ruleset form: also write the ruleset where boot loads it (default true).
    pub persist: Option<Flag>,
    /// Ruleset form: the file boot loads (default: Slackware `/etc/ip6tables.rules` or
    /// `/etc/iptables.rules`, loaded by `/etc/rc.d/rc.converge-firewall`; Debian
    /// `/etc/iptables/rules.v6` or `rules.v4`, loaded by netfilter-persistent when it is
    /// installed, else by converge's unit `converge-ip6tables.service` (systemd) or hook
    /// `/etc/network/if-pre-up.d/converge-ip6tables`, `converge-iptables` for IPv4).
    pub persist_file: Option<String>,
    /// Ruleset form: seconds converge has to reconnect after a change before the host puts
    /// the previous ruleset back by itself (0 disables the guard).
    #[serde(default = "default_rollback_timeout")]
    pub rollback_timeout: u64,
}

impl NetfilterArgs {
    /// The ruleset form (`ruleset` or `rules`), rather than one rule.
    pub fn is_ruleset(&self) -> bool {
        self.ruleset.is_some() || self.rules.is_some()
    }

    fn rule_arguments(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        for (name, set) in [
            ("chain", self.chain.is_some()),
            ("policy", self.policy.is_some()),
            ("flush", self.flush.0),
            ("rule_num", self.rule_num.is_some()),
            ("chain_management", self.chain_management.0),
            ("wait", self.wait.is_some()),
        ] {
            if set {
                given.push(name);
            }
        }
        given.extend(self.rule_options());
        given
    }

    /// The arguments that make up the rule itself; none means the task is about the chain.
    fn rule_options(&self) -> Vec<&'static str> {
        let mut given = Vec::new();
        for (name, set) in [
            ("protocol", self.protocol.is_some()),
            ("source", self.source.is_some()),
            ("destination", self.destination.is_some()),
            ("match", !self.match_.0.is_empty()),
            ("tcp_flags", self.tcp_flags.is_some()),
            ("jump", self.jump.is_some()),
            ("gateway", self.gateway.is_some()),
            ("log_prefix", self.log_prefix.is_some()),
            ("log_level", self.log_level.is_some()),
            ("to_destination", self.to_destination.is_some()),
            (
                "destination_ports",
                self.destination_ports
                    .as_ref()
                    .is_some_and(|p| !p.0.is_empty()),
            ),
            ("to_source", self.to_source.is_some()),
            ("goto", self.goto.is_some()),
            ("in_interface", self.in_interface.is_some()),
            ("out_interface", self.out_interface.is_some()),
            ("fragment", self.fragment.is_some()),
            ("set_counters", self.set_counters.is_some()),
            ("source_port", self.source_port.is_some()),
            ("destination_port", self.destination_port.is_some()),
            ("to_ports", self.to_ports.is_some()),
            ("set_dscp_mark", self.set_dscp_mark.is_some()),
            ("set_dscp_mark_class", self.set_dscp_mark_class.is_some()),
            ("syn", self.syn != Syn::Ignore),
            (
                "ctstate",
                self.ctstate.as_ref().is_some_and(|c| !c.0.is_empty()),
            ),
            ("src_range", self.src_range.is_some()),
            ("dst_range", self.dst_range.is_some()),
            ("match_set", self.match_set.is_some()),
            ("match_set_flags", self.match_set_flags.is_some()),
            ("limit", self.limit.is_some()),
            ("limit_burst", self.limit_burst.is_some()),
            ("uid_owner", self.uid_owner.is_some()),
            ("gid_owner", self.gid_owner.is_some()),
            ("reject_with", self.reject_with.is_some()),
            ("icmp_type", self.icmp_type.is_some()),
            ("comment", self.comment.is_some()),
        ] {
            if set {
                given.push(name);
            }
        }
        given
    }
}

/// Checks serde cannot express, shared by both modules.
pub fn check_args(args: &NetfilterArgs) -> Result<(), ArgsError> {
    if args.ruleset.is_some() && args.rules.is_some() {
        return Err(
            ArgsError::new(Some("rules"), "`ruleset` and `rules` exclude each other")
                .with_hint("give the ruleset once, as text (`ruleset`) or as lines (`rules`)"),
        );
    }
    if args.is_ruleset() {
        if let Some(first) = args.rule_arguments().first() {
            return Err(ArgsError::new(
                Some(first),
                format!("`{first}` belongs to the rule form and cannot be used with a ruleset"),
            )
            .with_hint("put the rule into the ruleset as an `-A CHAIN …` line"));
        }
        return Ok(());
    }
    if args.persist.is_some() || args.persist_file.is_some() {
        return Err(ArgsError::new(
            Some("persist_file"),
            "`persist` and `persist_file` need the ruleset form",
        )
        .with_hint("give the whole ruleset with `ruleset` or `rules` to persist it"));
    }
    match &args.chain {
        Some(chain) => save::check_chain_name(chain)
            .map_err(|message| ArgsError::new(Some("chain"), message))?,
        None if !args.flush.0 => {
            return Err(ArgsError::new(Some("chain"), "the rule form needs `chain`")
                .with_hint("add `chain: INPUT` (or give a whole `ruleset`)"))
        }
        None => {}
    }
    // Ansible ignores `rule_num` without `action: insert`; so does converge.
    if args.flush.0 && args.policy.is_some() {
        return Err(
            ArgsError::new(Some("policy"), "`flush` and `policy` exclude each other")
                .with_hint("flush the chain and set its policy in two tasks"),
        );
    }
    Ok(())
}

/// The `ip6tables` module.
pub struct Ip6tables;

impl TypedModule for Ip6tables {
    type Args = NetfilterArgs;
    const NAME: &'static str = "ip6tables";
    const SUMMARY: &'static str =
        "Manage IPv6 netfilter rules: one rule (Ansible's iptables arguments) or whole tables, with a lock-out guard";
    const EXAMPLES: &'static str = r#"- ip6tables:
    chain: INPUT
    protocol: tcp
    destination_port: "22"
    ctstate: NEW
    jump: ACCEPT

- ip6tables:
    chain: INPUT
    policy: DROP

- ip6tables:
    ruleset: |
      *filter
      :INPUT DROP [0:0]
      :FORWARD DROP [0:0]
      :OUTPUT ACCEPT [0:0]
      -A INPUT -i lo -j ACCEPT
      -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
      -A INPUT -p ipv6-icmp -j ACCEPT
      -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
      -A FORWARD -i virbr0 -o eth0 -j ACCEPT
      -A FORWARD -i eth0 -o virbr0 -j ACCEPT
      COMMIT
    rollback_timeout: 30
"#;

    fn check(args: &Self::Args) -> Result<(), ArgsError> {
        check_args(args)
    }

    /// Only the ruleset form reads facts (the OS family and init decide how it persists).
    fn uses_facts_for(args: &Self::Args) -> bool {
        args.is_ruleset()
    }

    fn reads(args: &Self::Args) -> Vec<Read> {
        netfilter_reads(args, Family::V6)
    }

    fn plan(args: Self::Args, host: &mut dyn Host, context: &Context) -> Result<Plan, ModuleError> {
        plan_netfilter(args, Family::V6, host, context)
    }
}

/// Plan either form; `default` is the family when `ip_version` is not given.
pub fn plan_netfilter(
    args: NetfilterArgs,
    default: Family,
    host: &mut dyn Host,
    context: &Context,
) -> Result<Plan, ModuleError> {
    let family = family_of(&args, default);
    if args.is_ruleset() {
        plan_ruleset(&args, family, host, context)
    } else {
        plan_rule(&args, family, host)
    }
}

/// The sections of a read script's output: `@@name value` lines open a section, and
/// `@@file EXEC SIZE` is followed by exactly SIZE bytes of a file.
#[derive(Debug, Default)]
struct Sections {
    items: Vec<(String, String, String)>,
    files: Vec<Option<(bool, String)>>,
}

impl Sections {
    fn parse(bytes: &[u8]) -> Sections {
        let mut sections = Sections::default();
        let mut rest = bytes;
        while !rest.is_empty() {
            let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
            let line = String::from_utf8_lossy(&rest[..end]).into_owned();
            rest = rest.get(end + 1..).unwrap_or_default();
            if let Some(header) = line.strip_prefix("@@file ") {
                let mut fields = header.split_whitespace();
                let executable = fields.next() == Some("yes");
                let size: usize = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
                let size = size.min(rest.len());
                let content = String::from_utf8_lossy(&rest[..size]).into_owned();
                rest = rest.get(size + 1..).unwrap_or_default();
                sections.files.push(Some((executable, content)));
            } else if line == "@@nofile" {
                sections.files.push(None);
            } else if let Some(marker) = line.strip_prefix("@@") {
                let (name, value) = marker.split_once(' ').unwrap_or((marker, ""));
                sections
                    .items
                    .push((name.to_string(), value.to_string(), String::new()));
            } else if let Some(last) = sections.items.last_mut() {
                last.2.push_str(&line);
                last.2.push('\n');
            }
        }
        sections
    }

    /// The value on the `@@name` line.
    fn value(&self, name: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, value, _)| value.as_str())
    }

    /// The text after the `@@name` line, and the status on the `@@rc` line that follows it.
    fn body(&self, name: &str) -> Option<(&str, &str)> {
        let at = self.items.iter().position(|(n, _, _)| n == name)?;
        let status = self
            .items
            .get(at + 1)
            .filter(|(n, _, _)| n == "rc")
            .map(|(_, value, _)| value.as_str())
            .unwrap_or("");
        Some((self.items[at].2.as_str(), status))
    }
}

/// Pick the backend (`ip6tables-nft`, `ip6tables-legacy`, or plain for old versions);
/// shared by both read scripts. When the command is the same file as `ip6tables-nft` or
/// `ip6tables-legacy` (Debian's alternatives, Slackware's links to `xtables-*-multi`), the
/// shell's `-ef` says which, the commands found in `$PATH` by builtins: no process, not even
/// a fork; otherwise `ip6tables -V` does.
const DETECT: &str = r#"w() { r=; o=$IFS; IFS=:; for d in $PATH; do [ -f "${d:-.}/$1" ] && [ -x "${d:-.}/$1" ] && { r=${d:-.}/$1; break; }; done; IFS=$o; [ -n "$r" ]; }
b=
if w "$p"; then
  c=$r
  for x in nft legacy; do
    if w "$p-$x" && [ "$c" -ef "$r" ] 2>/dev/null; then b=$p-$x; v="$c is $r"; break; fi
  done
fi
if [ -z "$b" ]; then
v=$("$p" -V 2>&1) || { printf '@@missing\n%s\n' "$v"; exit 0; }
case $v in *nf_tables*) b=$p-nft ;; *legacy*) b=$p-legacy ;; *) b=$p ;; esac
command -v "$b" >/dev/null 2>&1 || b=$p
fi
printf '@@version %s\n@@backend %s\n' "$v" "$b"
"#;

/// The rule form's first read: $1 command. The same for every rule task of a family, so the
/// reads made ahead for several tasks make it once.
const DETECT_READ: &str = "p=$1\n__DETECT__";

/// Rule form reads: $1 command, $2 table, $3 chain (may be empty): the chain's listing,
/// the same for every rule of the chain. The command as named is the backend `-V` reports
/// ([`DETECT_READ`]), so this read does not depend on that one.
const LIST_READ: &str = r#"p=$1 t=$2 c=$3
printf '@@chain\n'
"$p" -w -t "$t" -S ${c:+"$c"} 2>&1; printf '@@rc %s\n' "$?"
"#;

/// Rule form reads: $1 command, $2 table, $3 chain, then the rule's words: whether the
/// kernel has the rule (`-C`).
const CHECK_READ: &str = r#"p=$1 t=$2 c=$3; shift 3
printf '@@check\n'
"$p" -w -t "$t" -C "$c" "$@" 2>&1; printf '@@rc %s\n' "$?"
"#;

/// Ruleset form reads: $1 command, $2 persisted file (may be empty), $3 $4 $5 boot files
/// (Slackware: converge's boot script, rc.firewall and rc.local; Debian: converge's loader),
/// empty where unused, then paths whose existence is reported (`@@exists`); the desired
/// text on stdin is loaded in a throwaway network namespace.
const RULESET_READ: &str = r#"p=$1
__DETECT__printf '@@live\n'
"$b-save" 2>&1; printf '@@rc %s\n' "$?"
printf '@@canonical\n'
if unshare -n true 2>/dev/null; then
  unshare -n sh -c '"$1-restore" && "$1-save"' sh "$b" 2>&1; printf '@@rc %s\n' "$?"
else
  printf '@@rc unavailable\n'
fi
for f in "$2" "$3" "$4" "$5"; do
  if [ -n "$f" ] && [ -f "$f" ]; then
    x=no; [ -x "$f" ] && x=yes
    printf '@@file %s %s\n' "$x" "$(wc -c < "$f")"; cat "$f"; printf '\n'
  else
    printf '@@nofile\n'
  fi
done
shift 5
for e in "$@"; do
  if [ -e "$e" ] || [ -L "$e" ]; then printf '@@exists %s\n' "$e"; fi
done
"#;

/// Ruleset form apply: $1 backend command, $2 work dir, $3 rollback seconds (0 = none),
/// $4 the persisted file to write (mode 0600) and to put back on rollback (may be empty);
/// $5 every table of the new ruleset empty, put before the saved ruleset so that a rollback
/// also empties a table that did not exist before (nft has no table until one is loaded);
/// the new ruleset on stdin.
const RULESET_APPLY: &str = r#"set -e
b=$1 dir=$2 wait=$3 persist=$4
umask 077
mkdir -p "$dir"
cat > "$dir/new"
"$b-restore" --test < "$dir/new"
"$b-save" > "$dir/saved"
{ printf '%s' "$5"; cat "$dir/saved"; } > "$dir/old"
if [ -n "$persist" ] && [ -e "$persist" ]; then cp -p "$persist" "$dir/persist.old"; fi
if [ "$wait" -gt 0 ]; then
  command -v setsid >/dev/null 2>&1 || { echo "setsid is missing: cannot arm the rollback" >&2; exit 1; }
  : > "$dir/armed"
  setsid sh -c 'sleep "$3"
if rm "$2/armed" 2>/dev/null; then
  "$1-restore" < "$2/old"
  if [ -n "$4" ]; then
    if [ -e "$2/persist.old" ]; then cp -p "$2/persist.old" "$4"; else rm -f "$4"; fi
  fi
fi
rm -rf "$2"' sh "$b" "$dir" "$wait" "$persist" </dev/null >/dev/null 2>&1 &
fi
if [ -n "$persist" ]; then
  mkdir -p "${persist%/*}"
  cp "$dir/new" "$persist.converge-tmp"
  mv -f "$persist.converge-tmp" "$persist"
fi
if ! "$b-restore" < "$dir/new"; then
  "$b-restore" < "$dir/old" || true
  if [ -n "$persist" ]; then
    if [ -e "$dir/persist.old" ]; then cp -p "$dir/persist.old" "$persist"; else rm -f "$persist"; fi
  fi
  rm -f "$dir/armed"
  echo "restoring the new ruleset failed; the previous one was put back" >&2
  exit 1
fi
[ "$wait" -gt 0 ] || rm -rf "$dir"
"#;

/// The confirmation: disarm the rollback ($1 is its marker). Whoever removes the marker
/// first wins, so a late confirmation cannot claim a change the host already undid.
const CONFIRM: &str = r#"rm "$1" 2>/dev/null || { echo "the rollback already ran: the host restored its previous ruleset" >&2; exit 1; }"#;

fn script(template: &str) -> String {
    template.replace("__DETECT__", DETECT)
}

fn failed(message: impl Into<String>, hint: impl Into<String>) -> ModuleError {
    ModuleError::Failed {
        message: message.into(),
        hint: Some(hint.into()),
    }
}

fn read_output(output: &Output, family: Family) -> Result<Sections, ModuleError> {
    let sections = Sections::parse(&output.stdout);
    if sections.items.iter().any(|(name, _, _)| name == "missing") || !output.success() {
        return Err(failed(
            format!(
                "cannot run `{} -V` on the host: {}{}",
                family.command(),
                output.stdout_text().replace("@@missing\n", "").trim(),
                output.stderr_text().trim()
            ),
            "install iptables (it provides ip6tables) on the host",
        ));
    }
    Ok(sections)
}

/// The subject of a chain's change: reads as a path in diffs (`a/ip6tables/filter/INPUT`).
fn chain_subject(family: Family, table: &str, chain: &str) -> String {
    format!("/{}/{table}/{chain}", family.command())
}

/// The reads of the rule form's plan.
fn rule_read(args: &NetfilterArgs, family: Family) -> Result<RuleReads, ModuleError> {
    let words = if args.flush.0 || args.policy.is_some() {
        Vec::new()
    } else {
        rule::rule_words(args, family)?
    };
    let read = |template: &str, words: &[String]| {
        let mut argv: Vec<String> = vec![
            "sh".into(),
            "-c".into(),
            script(template),
            "sh".into(),
            family.command().into(),
            args.table.as_str().into(),
            args.chain.clone().unwrap_or_default(),
        ];
        argv.extend(words.iter().cloned());
        Command::argv(argv)
    };
    let detect = Command::argv([
        "sh".to_string(),
        "-c".into(),
        script(DETECT_READ),
        "sh".into(),
        family.command().into(),
    ]);
    let check = (!words.is_empty()).then(|| read(CHECK_READ, &words));
    Ok(RuleReads {
        detect,
        list: read(LIST_READ, &[]),
        check,
        words,
    })
}

/// The reads of the rule form's plan.
struct RuleReads {
    /// The version and backend (`-V`).
    detect: Command,
    /// The chain's listing (`-S`).
    list: Command,
    /// `-C` of the rule, when there is one: made only when the listing does not show the
    /// rule as the kernel spells it.
    check: Option<Command>,
    /// The rule's words.
    words: Vec<String>,
}

/// The first read of either form's plan: the rule form's; the ruleset form's feeds the
/// desired ruleset on standard input, so it is not named ahead.
pub fn netfilter_reads(args: &NetfilterArgs, default: Family) -> Vec<Read> {
    if args.is_ruleset() {
        return Vec::new();
    }
    rule_read(args, family_of(args, default))
        .map(|reads| vec![Read::Run(reads.detect), Read::Run(reads.list)])
        .unwrap_or_default()
}

fn family_of(args: &NetfilterArgs, default: Family) -> Family {
    match args.ip_version {
        Some(IpVersion::Ipv4) => Family::V4,
        Some(IpVersion::Ipv6) => Family::V6,
        None => default,
    }
}

fn plan_rule(
    args: &NetfilterArgs,
    family: Family,
    host: &mut dyn Host,
) -> Result<Plan, ModuleError> {
    let table = args.table.as_str();
    let chain = args.chain.clone().unwrap_or_default();
    let flush = args.flush.0;
    let reads = rule_read(args, family)?;
    let words = reads.words;
    let mut output = host.run_read(&reads.detect)?;
    // A missing command is reported from `-V` alone.
    read_output(&output, family)?;
    let listed = host.run_read(&reads.list)?;
    output.stdout.extend(listed.stdout);
    output.stderr.extend(listed.stderr);
    output.status = listed.status;
    let mut sections = read_output(&output, family)?;
    if let Some(check) = &reads.check {
        // A rule the listing shows exactly as the kernel spells it is there, and valid.
        let kernel = save::normalise_rule(&words, family);
        let shown = format!("-A {chain} {}", save::render_words(&kernel));
        let listed = sections
            .body("chain")
            .is_some_and(|(listing, rc)| rc == "0" && listing.lines().any(|line| line == shown));
        if !listed {
            let checked = host.run_read(check)?;
            output.stdout.extend(checked.stdout);
            output.stderr.extend(checked.stderr);
            output.status = checked.status;
            sections = read_output(&output, family)?;
        }
    }
    let backend = sections
        .value("backend")
        .unwrap_or(family.command())
        .to_string();
    let (listing, listing_rc) = sections.body("chain").unwrap_or(("", ""));
    let chain_task = words.is_empty() && !flush && args.policy.is_none();
    if listing_rc != "0" && !(chain_task && listing_rc == "1" && !chain.is_empty()) {
        return Err(failed(
            format!(
                "cannot list {}chain `{chain}` of table `{table}`: {}",
                if chain.is_empty() { "every " } else { "" },
                listing.trim()
            ),
            if chain.is_empty() {
                "run as root (`become: true`)".to_string()
            } else {
                format!("create chain `{chain}` first (`chain_management: true` with no rule arguments), or run as root")
            },
        ));
    }
    let base = |extra: &[&str]| -> Command {
        let mut argv: Vec<String> = vec![backend.clone(), "-w".into()];
        argv.extend(args.wait.as_ref().map(|wait| wait.0.clone()));
        argv.extend(["-t".into(), table.into()]);
        argv.extend(extra.iter().map(|s| s.to_string()));
        Command::argv(argv)
    };
    let mut plan = Plan::unchanged();
    plan.result.insert("table".into(), json!(table));
    plan.result.insert("chain".into(), json!(chain));
    plan.result
        .insert("ip_version".into(), json!(family.ip_version()));
    plan.result.insert("backend".into(), json!(backend));
    let subject = chain_subject(family, table, if chain.is_empty() { "*" } else { &chain });
    if flush {
        let rules: Vec<&str> = listing
            .lines()
            .filter(|line| line.starts_with("-A "))
            .collect();
        plan.result.insert("flush".into(), json!(true));
        if !rules.is_empty() {
            let after: String = listing
                .lines()
                .filter(|line| !line.starts_with("-A "))
                .map(|line| format!("{line}\n"))
                .collect();
            let mut extra = vec!["-F"];
            if !chain.is_empty() {
                extra.push(&chain);
            }
            plan.push(
                Change::content(subject, Some(listing.to_string()), Some(after)),
                [Step::Run {
                    command: base(&extra),
                    allow_failure: false,
                }],
            );
        }
        return Ok(plan);
    }
    if let Some(policy) = args.policy {
        let current = listing.lines().find_map(|line| {
            let rest = line.strip_prefix("-P ")?;
            let (name, value) = rest.split_once(' ')?;
            (name == chain).then(|| value.trim().to_string())
        });
        let Some(current) = current else {
            return Err(failed(
                format!("chain `{chain}` of table `{table}` has no policy"),
                "only built-in chains (INPUT, FORWARD, OUTPUT…) have a policy; end a user chain with a rule instead",
            ));
        };
        plan.result.insert("policy".into(), json!(policy.as_str()));
        if current != policy.as_str() {
            plan.push(
                Change::value(
                    format!("{subject} policy"),
                    Some(current),
                    Some(policy.as_str().into()),
                ),
                [Step::Run {
                    command: base(&["-P", &chain, policy.as_str()]),
                    allow_failure: false,
                }],
            );
        }
        return Ok(plan);
    }
    if chain_task {
        return Ok(plan_chain(
            args,
            &chain,
            &subject,
            listing_rc == "0",
            plan,
            base,
        ));
    }
    let (check_text, check_rc) = sections.body("check").unwrap_or(("", "0"));
    let present = match check_rc {
        "0" => true,
        "1" => false,
        _ => {
            return Err(failed(
                format!(
                    "`{} -C {chain}` rejects the rule: {}",
                    backend,
                    check_text.trim()
                ),
                "check the rule's arguments (targets and matches must exist on the host)",
            ))
        }
    };
    // The diff shows the rule as `ip6tables -S` will print it; `rule` is Ansible's.
    let kernel = save::normalise_rule(&words, family);
    let shown = format!("-A {chain} {}", save::render_words(&kernel));
    plan.result.insert("rule".into(), json!(words.join(" ")));
    plan.result.insert(
        "state".into(),
        json!(match args.state {
            RuleState::Present => "present",
            RuleState::Absent => "absent",
        }),
    );
    match (args.state, present) {
        (RuleState::Present, false) => {
            let mut extra: Vec<String> = match args.action {
                RuleAction::Append => vec!["-A".into(), chain.clone()],
                RuleAction::Insert => {
                    let mut head = vec!["-I".to_string(), chain.clone()];
                    if let Some(number) = args.rule_num {
                        head.push(number.0.to_string());
                    }
                    head
                }
            };
            let after = match (args.action, args.rule_num) {
                (RuleAction::Append, _) => shown.clone(),
                (RuleAction::Insert, number) => format!(
                    "-I {chain} {} {}",
                    number.map(|n| n.0).unwrap_or(1),
                    save::render_words(&kernel)
                ),
            };
            extra.extend(words.iter().cloned());
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            plan.push(
                Change::value(subject, None, Some(after)),
                [Step::Run {
                    command: base(&extra),
                    allow_failure: false,
                }],
            );
        }
        (RuleState::Absent, true) => {
            let mut extra = vec!["-D".to_string(), chain.clone()];
            extra.extend(words.iter().cloned());
            let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
            plan.push(
                Change::value(subject, Some(shown), None),
                [Step::Run {
                    command: base(&extra),
                    allow_failure: false,
                }],
            );
        }
        _ => {}
    }
    Ok(plan)
}

/// A task with a chain and no rule arguments: Ansible's chain management. With
/// `chain_management: true` the chain is created (`-N`) or deleted (`-X`); without it Ansible
/// reports the same change and leaves the chain alone, and so does converge.
fn plan_chain(
    args: &NetfilterArgs,
    chain: &str,
    subject: &str,
    exists: bool,
    mut plan: Plan,
    base: impl Fn(&[&str]) -> Command,
) -> Plan {
    let manage = args.chain_management.0;
    plan.result.insert("chain_management".into(), json!(manage));
    let (wanted, option) = match args.state {
        RuleState::Present => (true, "-N"),
        RuleState::Absent => (false, "-X"),
    };
    if exists == wanted {
        return plan;
    }
    let shown = |there: bool| there.then(|| format!("chain {chain}"));
    let change = if manage {
        Change::value(subject, shown(exists), shown(wanted))
    } else {
        Change::value(
            format!("{subject} (chain_management is false: left alone)"),
            shown(exists),
            shown(wanted),
        )
    };
    if manage {
        plan.push(
            change,
            [Step::Run {
                command: base(&[option, chain]),
                allow_failure: false,
            }],
        );
    } else {
        plan.changes.push(change);
    }
    plan
}

/// The desired text of the ruleset form: `ruleset` as given, or `rules` joined (wrapped in
/// `*TABLE` … `COMMIT` when they name no table).
pub fn desired_text(args: &NetfilterArgs) -> String {
    if let Some(text) = &args.ruleset {
        return text.clone();
    }
    let lines = args.rules.clone().unwrap_or_default();
    let has_table = lines.iter().any(|line| line.trim_start().starts_with('*'));
    let mut text = String::new();
    if !has_table {
        text.push_str(&format!("*{}\n", args.table.as_str()));
    }
    for line in &lines {
        text.push_str(line);
        text.push('\n');
    }
    if !has_table {
        text.push_str("COMMIT\n");
    }
    text
}

/// FNV-1a, for a work directory name that is the same for the same change.
fn fingerprint(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0u8]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

/// Where boot loads the ruleset from, by OS family (`None`: no convention known).
fn default_persist_file(family: Family, os_family: &str) -> Option<&'static str> {
    match (os_family, family) {
        ("Slackware", Family::V6) => Some("/etc/ip6tables.rules"),
        ("Slackware", Family::V4) => Some("/etc/iptables.rules"),
        ("Debian", Family::V6) => Some("/etc/iptables/rules.v6"),
        ("Debian", Family::V4) => Some("/etc/iptables/rules.v4"),
        _ => None,
    }
}

/// Plan converge's boot loader for `file` on Debian (netfilter-persistent absent): the
/// loader's file and, for a unit, its enabling link.
#[allow(clippy::too_many_arguments)]
fn plan_debian_loader(
    plan: &mut Plan,
    loader: &debian_boot::Loader,
    backend: &str,
    family: Family,
    file: &str,
    current: Option<(bool, String)>,
    linked: bool,
    systemd: bool,
) {
    plan.result
        .insert("loaded_at_boot_by".into(), json!(loader.path()));
    let wanted = loader.render(family, backend, file);
    let hook = loader.link().is_none();
    let current_text = current.as_ref().map(|(_, text)| text.clone());
    let executable = current.as_ref().is_some_and(|(exec, _)| *exec);
    if current_text.as_deref() != Some(wanted.as_str()) || (hook && !executable) {
        plan.push(
            Change::content(loader.path(), current_text, Some(wanted.clone())),
            [Step::WriteFile {
                path: loader.path().into(),
                content: wanted.into_bytes(),
                options: WriteOptions {
                    attributes: FileAttributes {
                        mode: Some(if hook { 0o755 } else { 0o644 }),
                        ..FileAttributes::default()
                    },
                    create_parents: true,
                    ..WriteOptions::default()
                },
            }],
        );
        if systemd {
            plan.steps.push(Step::Run {
                command: Command::argv(["systemctl", "daemon-reload"]),
                allow_failure: true,
            });
        }
    }
    if let (Some(link), false) = (loader.link(), linked) {
        let unit = loader.path().rsplit('/').next().unwrap_or_default();
        plan.push(
            Change::value(
                format!("{unit} enabled"),
                Some("no".into()),
                Some("yes".into()),
            ),
            [Step::Run {
                command: Command::argv([
                    "sh".to_string(),
                    "-c".into(),
                    r#"mkdir -p "${2%/*}" && ln -sf "$1" "$2""#.into(),
                    "sh".into(),
                    format!("../{unit}"),
                    link.to_string(),
                ]),
                allow_failure: false,
            }],
        );
    }
}

fn parse_failure(what: &str, error: &save::ParseError, hint: &str) -> ModuleError {
    failed(format!("{what}, {error}"), hint)
}

fn plan_ruleset(
    args: &NetfilterArgs,
    family: Family,
    host: &mut dyn Host,
    context: &Context,
) -> Result<Plan, ModuleError> {
    let text = desired_text(args);
    let parsed = save::parse(&text).map_err(|error| {
        parse_failure(
            "the ruleset does not parse",
            &error,
            "write it in ip6tables-save format: `*filter`, `:CHAIN POLICY [0:0]`, `-A CHAIN …`, `COMMIT`",
        )
    })?;
    if parsed.tables.is_empty() {
        return Err(failed(
            "the ruleset has no table",
            "start it with `*filter` and end each table with `COMMIT`",
        ));
    }
    let written = save::normalise(&parsed, family);
    let written_text = save::render(&written);
    let persist = args.persist.map(|flag| flag.0).unwrap_or(true);
    let persist_file = match (&args.persist_file, persist) {
        (_, false) => None,
        (Some(path), true) => Some(path.clone()),
        (None, true) => default_persist_file(family, &context.facts.os_family).map(String::from),
    };
    if let Some(path) = &persist_file {
        if !path.starts_with('/') || path.chars().any(char::is_control) {
            return Err(ArgsError::new(
                Some("persist_file"),
                format!("`{}` is not an absolute path", path.escape_debug()),
            )
            .into());
        }
    }
    let slackware = persist_file.is_some() && context.facts.os_family == "Slackware";
    // Debian: netfilter-persistent loads its file at boot when installed; else converge's loader.
    let debian_loader = (persist_file.is_some() && context.facts.os_family == "Debian")
        .then(|| debian_boot::Loader::for_host(family, &context.facts.service_mgr));
    let boot_files: [String; 3] = if slackware {
        [
            slackware_boot::SCRIPT.into(),
            slackware_boot::RC_FIREWALL.into(),
            slackware_boot::RC_LOCAL.into(),
        ]
    } else {
        [
            debian_loader
                .as_ref()
                .map(|loader| loader.path().to_string())
                .unwrap_or_default(),
            String::new(),
            String::new(),
        ]
    };
    let mut read_argv = vec![
        "sh".to_string(),
        "-c".into(),
        script(RULESET_READ),
        "sh".into(),
        family.command().into(),
        persist_file.clone().unwrap_or_default(),
        boot_files[0].clone(),
        boot_files[1].clone(),
        boot_files[2].clone(),
    ];
    if let Some(loader) = &debian_loader {
        read_argv.push(debian_boot::persistent_plugin(family).into());
        read_argv.extend(loader.link().map(String::from));
    }
    let read = Command::argv(read_argv).with_stdin(written_text.clone());
    let output = host.run_read(&read)?;
    let sections = read_output(&output, family)?;
    let backend = sections
        .value("backend")
        .unwrap_or(family.command())
        .to_string();
    let (live_text, live_rc) = sections.body("live").unwrap_or(("", ""));
    if live_rc != "0" {
        return Err(failed(
            format!("`{backend}-save` failed: {}", live_text.trim()),
            "run as root (`become: true`)",
        ));
    }
    let live = save::parse(live_text).map_err(|error| {
        parse_failure(
            &format!("cannot read the output of `{backend}-save`"),
            &error,
            "report this output as a converge bug",
        )
    })?;
    let live = save::normalise(&live, family);
    let desired = match sections.body("canonical") {
        Some((canonical, "0")) => {
            let loaded = save::parse(canonical).map_err(|error| {
                parse_failure(
                    &format!("cannot read `{backend}-save` of the loaded ruleset"),
                    &error,
                    "report this output as a converge bug",
                )
            })?;
            let loaded = save::normalise(&loaded, family);
            Ruleset {
                tables: written
                    .tables
                    .iter()
                    .map(|table| loaded.table(&table.name).cloned().unwrap_or(table.clone()))
                    .collect(),
            }
        }
        Some((_, "unavailable")) | None => written,
        Some((error, _)) => return Err(load_failure(&backend, error, &written_text)),
    };
    let desired_text = save::render(&desired);
    let mut plan = Plan::unchanged();
    plan.result.insert("backend".into(), json!(backend));
    plan.result
        .insert("ip_version".into(), json!(family.ip_version()));
    let diffs = save::diff(&live, &desired);
    for diff in &diffs {
        plan.changes.push(Change::content(
            chain_subject(family, &diff.table, &diff.chain),
            diff.before.clone(),
            diff.after.clone(),
        ));
    }
    // The persisted copy: written by the apply script itself when the ruleset changes (a
    // later step could not run over a connection the new ruleset cuts), else by a step.
    let mut persist_step = None;
    let mut persist_by_script = String::new();
    if let Some(path) = &persist_file {
        plan.result.insert("persist_file".into(), json!(path));
        let current = sections.files.first().cloned().flatten();
        if current.as_ref().map(|(_, text)| text.as_str()) != Some(desired_text.as_str()) {
            plan.changes.push(Change::content(
                path.clone(),
                current.map(|(_, text)| text),
                Some(desired_text.clone()),
            ));
            if diffs.is_empty() {
                persist_step = Some(Step::WriteFile {
                    path: path.clone(),
                    content: desired_text.clone().into_bytes(),
                    options: WriteOptions {
                        attributes: FileAttributes {
                            mode: Some(0o600),
                            ..FileAttributes::default()
                        },
                        create_parents: true,
                        validate: Some(format!("{backend}-restore --test %s")),
                        backup: false,
                    },
                });
            } else {
                persist_by_script = path.clone();
            }
        }
    }
    // Boot's files first: every step after the restore depends on the new ruleset letting
    // this connection through.
    if let (true, Some(path)) = (slackware, &persist_file) {
        let seen = |index: usize| {
            sections
                .files
                .get(index)
                .and_then(|file| file.as_ref())
                .map(|(executable, text)| (*executable, text.as_str()))
        };
        let boot = slackware_boot::plan(family, path, seen(1), seen(2), seen(3));
        plan.result
            .insert("loaded_at_boot_from".into(), json!(boot.hook.describe()));
        plan.warnings.extend(boot.warnings);
        for write in boot.writes {
            plan.push(
                Change::content(write.path, write.before, Some(write.after.clone())),
                [Step::WriteFile {
                    path: write.path.into(),
                    content: write.after.into_bytes(),
                    options: WriteOptions {
                        attributes: FileAttributes {
                            mode: write.create_mode,
                            ..FileAttributes::default()
                        },
                        create_parents: true,
                        ..WriteOptions::default()
                    },
                }],
            );
        }
    }
    if let (Some(loader), Some(path)) = (&debian_loader, &persist_file) {
        let exists = |wanted: &str| {
            sections
                .items
                .iter()
                .any(|(name, value, _)| name == "exists" && value == wanted)
        };
        let plugin = exists(debian_boot::persistent_plugin(family));
        if debian_boot::needs_loader(family, path, plugin) {
            plan_debian_loader(
                &mut plan,
                loader,
                &backend,
                family,
                path,
                sections.files.get(1).cloned().flatten(),
                loader.link().is_some_and(exists),
                context.facts.service_mgr == "systemd",
            );
        } else {
            plan.result
                .insert("loaded_at_boot_by".into(), json!("netfilter-persistent"));
        }
    }
    if persist_file.is_none() && persist && context.facts.os_family != "Slackware" {
        plan.warnings.push(format!(
            "the {} ruleset is not persisted: converge knows no boot path on os_family `{}`; give `persist_file` and load it at boot, or `persist: false` to silence this",
            family.ip_version(),
            context.facts.os_family
        ));
    } else if let (Some(path), false, None) = (&persist_file, slackware, &debian_loader) {
        plan.warnings.push(format!(
            "nothing converge knows of loads {path} at boot on os_family `{}`",
            context.facts.os_family
        ));
    }
    plan.steps.extend(persist_step);
    if !diffs.is_empty() {
        let dir = format!(
            "/run/converge-{}-{:016x}",
            family.command(),
            fingerprint(&[live_text, &desired_text])
        );
        let guard = args.rollback_timeout;
        plan.steps.push(Step::Run {
            command: Command::argv([
                "sh".to_string(),
                "-c".into(),
                RULESET_APPLY.into(),
                "sh".into(),
                backend.clone(),
                dir.clone(),
                guard.to_string(),
                persist_by_script,
                save::render(&save::normalise(
                    &Ruleset {
                        tables: desired
                            .tables
                            .iter()
                            .map(|table| save::Table {
                                name: table.name.clone(),
                                chains: Vec::new(),
                            })
                            .collect(),
                    },
                    family,
                )),
            ])
            .with_stdin(desired_text.clone()),
            allow_failure: false,
        });
        if guard > 0 {
            plan.confirm = Some(Confirmation {
                command: Command::argv([
                    "sh".to_string(),
                    "-c".into(),
                    CONFIRM.into(),
                    "sh".into(),
                    format!("{dir}/armed"),
                ]),
                within_seconds: guard,
            });
        }
    }
    Ok(plan)
}

/// The kernel refused the desired ruleset: name the line of the text it was given.
fn load_failure(backend: &str, error: &str, text: &str) -> ModuleError {
    let line = error
        .split("line:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| text.lines().nth(n.saturating_sub(1)));
    let message = match line {
        Some(line) => format!(
            "`{backend}-restore` rejects the ruleset at `{line}`: {}",
            error.trim()
        ),
        None => format!("`{backend}-restore` rejects the ruleset: {}", error.trim()),
    };
    failed(
        message,
        "check the matches and targets of that rule (`ip6tables -A … ` prints the same error)",
    )
}
