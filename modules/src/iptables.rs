//! `iptables`: the `ip6tables` module for IPv4 (the same code; `ip_version` defaults to
//! `ipv4`; `ip_version: ipv6` acts on `ip6tables`, as Ansible's module does). Rule form (every
//! argument of Ansible's `ansible.builtin.iptables`) and ruleset form as described in
//! [`crate::ip6tables`]; the persisted file is `/etc/iptables.rules` on Slackware (loaded by
//! `/etc/rc.d/rc.converge-firewall`, [`crate::ip6tables::slackware_boot`]) and
//! `/etc/iptables/rules.v4` on Debian (loaded by netfilter-persistent, or by converge's
//! `converge-iptables` unit or if-pre-up hook when it is not installed). Idempotence:
//! `iptables -C` for one rule, chain-by-chain comparison with `iptables-save` for a ruleset.
//!
//! ```yaml
//! - iptables:
//!     table: nat
//!     chain: POSTROUTING
//!     source: 192.168.122.0/24
//!     out_interface: eth0
//!     jump: MASQUERADE
//! ```

use crate::ip6tables::save::Family;
use crate::ip6tables::{check_args, netfilter_reads, plan_netfilter, NetfilterArgs};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::{Host, Plan, Read};

/// The `iptables` module.
pub struct Iptables;

impl TypedModule for Iptables {
    type Args = NetfilterArgs;
    const NAME: &'static str = "iptables";
    const SUMMARY: &'static str =
        "Manage IPv4 netfilter rules: one rule (Ansible's arguments) or whole tables, with a lock-out guard";
    const EXAMPLES: &'static str = r#"- iptables:
    table: nat
    chain: POSTROUTING
    source: 192.168.122.0/24
    out_interface: eth0
    jump: MASQUERADE

- iptables:
    chain: FORWARD
    in_interface: virbr0
    out_interface: eth0
    jump: ACCEPT

- iptables:
    chain: FORWARD
    out_interface: virbr0
    match: conntrack
    ctstate: [RELATED, ESTABLISHED]
    jump: ACCEPT

- iptables:
    chain: INPUT
    protocol: tcp
    destination_port: "{{ item }}"
    ctstate: NEW
    limit: 10/second
    jump: ACCEPT
    comment: "port {{ item }}"
  loop: [22, 443]

- iptables:
    chain: INPUT
    source: 192.0.2.66
    jump: DROP
    action: insert
    rule_num: 1

- iptables:
    ip_version: ipv6
    chain: INPUT
    protocol: ipv6-icmp
    jump: ACCEPT
"#;

    fn check(args: &Self::Args) -> Result<(), ArgsError> {
        check_args(args)
    }

    /// Only the ruleset form reads facts (the OS family and init decide how it persists).
    fn uses_facts_for(args: &Self::Args) -> bool {
        args.is_ruleset()
    }

    fn reads(args: &Self::Args) -> Vec<Read> {
        netfilter_reads(args, Family::V4)
    }

    fn plan(args: Self::Args, host: &mut dyn Host, context: &Context) -> Result<Plan, ModuleError> {
        plan_netfilter(args, Family::V4, host, context)
    }
}
