//! The rule form: Ansible's `iptables` arguments turned into the words of one rule, each
//! checked so that no value can become a second option or anything else on the host.

use super::save::{check_chain_name, Family};
use super::NetfilterArgs;
use crate::module::ArgsError;

/// Reject a value that is empty, starts an option, or has characters outside `allowed`.
fn check_value(
    argument: &str,
    value: &str,
    allowed: impl Fn(char) -> bool,
    what: &str,
) -> Result<(), ArgsError> {
    let bare = value.strip_prefix('!').unwrap_or(value).trim_start();
    if bare.is_empty() || bare.starts_with('-') || !bare.chars().all(allowed) {
        return Err(ArgsError::new(
            Some(argument),
            format!("`{}` is not {what}", value.escape_debug()),
        )
        .with_hint(format!(
            "`{argument}` takes {what}; a leading `!` negates it"
        )));
    }
    Ok(())
}

fn address_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ":./-,_".contains(c)
}

fn port_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || ":-".contains(c)
}

/// Push `option value`, as `! option value` when the value starts with `!` (Ansible's way).
fn push(words: &mut Vec<String>, option: &str, value: &str) {
    match value.strip_prefix('!') {
        Some(rest) => {
            words.push("!".into());
            words.push(option.into());
            words.push(rest.trim_start().into());
        }
        None => {
            words.push(option.into());
            words.push(value.into());
        }
    }
}

/// The words of the rule the arguments describe (what follows `-A CHAIN`), in the order the
/// kernel prints them, so the rule reads the same in the plan and in `ip6tables -S`.
pub fn rule_words(args: &NetfilterArgs, family: Family) -> Result<Vec<String>, ArgsError> {
    let mut words = Vec::new();
    if let Some(source) = &args.source {
        check_value("source", source, address_char, "an address or network")?;
        push(&mut words, "-s", source);
    }
    if let Some(destination) = &args.destination {
        check_value(
            "destination",
            destination,
            address_char,
            "an address or network",
        )?;
        push(&mut words, "-d", destination);
    }
    for (argument, option, value) in [
        ("in_interface", "-i", &args.in_interface),
        ("out_interface", "-o", &args.out_interface),
    ] {
        if let Some(value) = value {
            check_value(
                argument,
                value,
                |c| c.is_ascii_alphanumeric() || "_.:@+-".contains(c),
                "an interface name",
            )?;
            if value.trim_start_matches('!').trim_start().len() > 15 {
                return Err(ArgsError::new(
                    Some(argument),
                    format!("interface name `{value}` is longer than 15 characters"),
                ));
            }
            push(&mut words, option, value);
        }
    }
    let protocol = match &args.protocol {
        Some(protocol) => {
            check_value(
                "protocol",
                protocol,
                |c| c.is_ascii_alphanumeric() || c == '-',
                "a protocol name or number",
            )?;
            let lower = protocol.to_ascii_lowercase();
            let spelled = match (lower.as_str(), family) {
                ("icmpv6" | "icmp6", Family::V6) => "ipv6-icmp".to_string(),
                _ => lower,
            };
            push(&mut words, "-p", &spelled);
            Some(spelled)
        }
        None => None,
    };
    if let Some(states) = &args.ctstate {
        for state in &states.0 {
            check_value(
                "ctstate",
                state,
                |c| c.is_ascii_alphabetic(),
                "a conntrack state (NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED, SNAT, DNAT)",
            )?;
        }
        if !states.0.is_empty() {
            words.extend(["-m".into(), "conntrack".into()]);
            words.push("--ctstate".into());
            words.push(
                states
                    .0
                    .iter()
                    .map(|s| s.to_ascii_uppercase())
                    .collect::<Vec<_>>()
                    .join(","),
            );
        }
    }
    let needs_protocol = |argument: &str| {
        ArgsError::new(
            Some(argument),
            format!("`{argument}` needs `protocol` (tcp, udp, sctp…)"),
        )
        .with_hint("add `protocol: tcp` to the task")
    };
    for (argument, option, value) in [
        ("source_port", "--sport", &args.source_port),
        ("destination_port", "--dport", &args.destination_port),
    ] {
        if let Some(value) = value {
            check_value(
                argument,
                value,
                port_char,
                "a port or range (`22`, `1024:2048`)",
            )?;
            let Some(protocol) = &protocol else {
                return Err(needs_protocol(argument));
            };
            words.extend(["-m".into(), protocol.clone()]);
            push(&mut words, option, value);
        }
    }
    if let Some(ports) = &args.destination_ports {
        for port in &ports.0 {
            check_value(
                "destination_ports",
                port,
                port_char,
                "a port or range (`22`, `1024:2048`)",
            )?;
        }
        if protocol.is_none() {
            return Err(needs_protocol("destination_ports"));
        }
        if !ports.0.is_empty() {
            words.extend(["-m".into(), "multiport".into(), "--dports".into()]);
            words.push(ports.0.join(","));
        }
    }
    if let Some(icmp_type) = &args.icmp_type {
        check_value(
            "icmp_type",
            icmp_type,
            |c| c.is_ascii_alphanumeric() || "/-".contains(c),
            "an ICMP type name or number",
        )?;
        let (module, option) = match family {
            Family::V6 => ("icmp6", "--icmpv6-type"),
            Family::V4 => ("icmp", "--icmp-type"),
        };
        words.extend(["-m".into(), module.into()]);
        push(&mut words, option, icmp_type);
    }
    if let Some(comment) = &args.comment {
        if comment.chars().any(char::is_control) || comment.len() > 255 {
            return Err(ArgsError::new(
                Some("comment"),
                format!(
                    "comment `{}` has control characters or more than 255 bytes",
                    comment.escape_debug()
                ),
            )
            .with_hint("write the comment on one line, at most 255 bytes"));
        }
        words.extend(["-m".into(), "comment".into(), "--comment".into()]);
        words.push(comment.clone());
    }
    if let Some(jump) = &args.jump {
        check_chain_name(jump).map_err(|message| {
            ArgsError::new(Some("jump"), message)
                .with_hint("give a target such as ACCEPT, DROP, REJECT, MASQUERADE or a chain")
        })?;
        words.extend(["-j".into(), jump.clone()]);
    }
    if let Some(ports) = &args.to_ports {
        check_value(
            "to_ports",
            ports,
            |c| c.is_ascii_digit() || "-:".contains(c),
            "a port or range",
        )?;
        words.extend(["--to-ports".into(), ports.clone()]);
    }
    if let Some(source) = &args.to_source {
        check_value(
            "to_source",
            source,
            |c| address_char(c) || "[]".contains(c),
            "an address (range) with optional ports",
        )?;
        words.extend(["--to-source".into(), source.clone()]);
    }
    if words.is_empty() {
        return Err(
            ArgsError::new(None, "the rule has no conditions and no `jump`")
                .with_hint("give `jump` and the conditions of the rule, or `policy`/`flush`"),
        );
    }
    Ok(words)
}
