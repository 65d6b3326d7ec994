//! The rule form: Ansible's `iptables` arguments turned into the words of one rule, each
//! checked so that no value can become a second option or anything else on the host.

use super::save::{check_chain_name, Family};
use super::{NetfilterArgs, Syn};
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

/// The target a task's arguments lead to: `jump`, or `LOG` when only `log_prefix` or
/// `log_level` is given (Ansible sets it before building the rule).
pub fn effective_jump(args: &NetfilterArgs) -> Result<Option<String>, ArgsError> {
    if args.log_prefix.is_some() || args.log_level.is_some() {
        return match args.jump.as_deref() {
            None => Ok(Some("LOG".into())),
            Some("LOG") => Ok(Some("LOG".into())),
            Some(other) => Err(ArgsError::new(
                Some("jump"),
                format!("logging options can only be used with the LOG jump target, not `{other}`"),
            )
            .with_hint("set `jump: LOG`, or drop `log_prefix` and `log_level`")),
        };
    }
    Ok(args.jump.clone())
}

fn text_value(argument: &str, value: &str) -> Result<(), ArgsError> {
    if value.chars().any(char::is_control) {
        return Err(ArgsError::new(
            Some(argument),
            format!("`{}` has control characters", value.escape_debug()),
        )
        .with_hint(format!("write `{argument}` on one line")));
    }
    Ok(())
}

fn word_value(argument: &str, value: &str) -> Result<(), ArgsError> {
    check_value(
        argument,
        value,
        |c| c.is_ascii_alphanumeric() || ":./-,_+[]/@".contains(c),
        "a single word",
    )
}

/// The words of the rule the arguments describe (what follows `-A CHAIN`), in exactly the
/// order Ansible's `construct_rule` puts them, so the kernel stores the matches in the same
/// order as after an Ansible run. Empty when the task names no rule (chain management).
pub fn rule_words(args: &NetfilterArgs, family: Family) -> Result<Vec<String>, ArgsError> {
    let mut words: Vec<String> = Vec::new();
    let jump = effective_jump(args)?;
    let matches: Vec<&str> = args.match_.0.iter().map(String::as_str).collect();
    if let Some(protocol) = &args.protocol {
        check_value(
            "protocol",
            protocol.as_str(),
            |c| c.is_ascii_alphanumeric() || c == '-',
            "a protocol name or number",
        )?;
        push(&mut words, "-p", protocol.as_str());
    }
    if let Some(source) = &args.source {
        check_value(
            "source",
            source.as_str(),
            address_char,
            "an address or network",
        )?;
        push(&mut words, "-s", source.as_str());
    }
    if let Some(destination) = &args.destination {
        check_value(
            "destination",
            destination.as_str(),
            address_char,
            "an address or network",
        )?;
        push(&mut words, "-d", destination.as_str());
    }
    for name in &matches {
        check_value(
            "match",
            name,
            |c| c.is_ascii_alphanumeric() || "_-".contains(c),
            "a match extension name (`conntrack`, `tcp`, `multiport`)",
        )?;
        push(&mut words, "-m", name);
    }
    if let Some(flags) = &args.tcp_flags {
        let (Some(examined), Some(set)) = (&flags.flags, &flags.flags_set) else {
            return Err(ArgsError::new(
                Some("tcp_flags"),
                "`tcp_flags` needs both `flags` and `flags_set`",
            )
            .with_hint("e.g. `tcp_flags: {flags: [ALL], flags_set: [ACK, SYN]}`"));
        };
        for flag in examined.0.iter().chain(&set.0) {
            check_value(
                "tcp_flags",
                flag,
                |c| c.is_ascii_alphabetic(),
                "a TCP flag (SYN, ACK, FIN, RST, URG, PSH, ALL, NONE)",
            )?;
        }
        words.extend(["--tcp-flags".into(), examined.0.join(","), set.0.join(",")]);
    }
    if let Some(jump) = &jump {
        check_chain_name(jump).map_err(|message| {
            ArgsError::new(Some("jump"), message)
                .with_hint("give a target such as ACCEPT, DROP, REJECT, MASQUERADE or a chain")
        })?;
        push(&mut words, "-j", jump);
        if jump.eq_ignore_ascii_case("tee") {
            let Some(gateway) = &args.gateway else {
                return Err(
                    ArgsError::new(Some("gateway"), "`jump: TEE` needs `gateway`")
                        .with_hint("add `gateway: ADDRESS`"),
                );
            };
            check_value("gateway", gateway.as_str(), address_char, "an address")?;
            push(&mut words, "--gateway", gateway.as_str());
        }
    }
    if let Some(prefix) = &args.log_prefix {
        text_value("log_prefix", prefix)?;
        push(&mut words, "--log-prefix", prefix);
    }
    if let Some(level) = &args.log_level {
        const LEVELS: [&str; 16] = [
            "0", "1", "2", "3", "4", "5", "6", "7", "emerg", "alert", "crit", "error", "warning",
            "notice", "info", "debug",
        ];
        if !LEVELS.contains(&level.as_str()) {
            return Err(ArgsError::new(
                Some("log_level"),
                format!("`{}` is not a log level", level.as_str().escape_debug()),
            )
            .with_hint("use 0–7 or emerg, alert, crit, error, warning, notice, info, debug"));
        }
        push(&mut words, "--log-level", level.as_str());
    }
    if let Some(to) = &args.to_destination {
        check_value(
            "to_destination",
            to.as_str(),
            |c| address_char(c) || "[]".contains(c),
            "an address (range) with optional ports",
        )?;
        push(&mut words, "--to-destination", to.as_str());
    }
    let needs_protocol = |argument: &str| {
        ArgsError::new(
            Some(argument),
            format!("`{argument}` needs `protocol` (tcp, udp, sctp…)"),
        )
        .with_hint("add `protocol: tcp` to the task")
    };
    if let Some(ports) = args.destination_ports.as_ref().filter(|p| !p.0.is_empty()) {
        for port in &ports.0 {
            check_value(
                "destination_ports",
                port,
                port_char,
                "a port or range (`22`, `1024:2048`)",
            )?;
        }
        if args.protocol.is_none() {
            return Err(needs_protocol("destination_ports"));
        }
        words.extend(["-m".into(), "multiport".into(), "--dports".into()]);
        words.push(ports.0.join(","));
    }
    if let Some(source) = &args.to_source {
        check_value(
            "to_source",
            source.as_str(),
            |c| address_char(c) || "[]".contains(c),
            "an address (range) with optional ports",
        )?;
        push(&mut words, "--to-source", source.as_str());
    }
    if let Some(goto) = &args.goto {
        check_chain_name(goto).map_err(|message| {
            ArgsError::new(Some("goto"), message).with_hint("give the name of a user chain")
        })?;
        push(&mut words, "-g", goto);
    }
    for (argument, option, value) in [
        ("in_interface", "-i", &args.in_interface),
        ("out_interface", "-o", &args.out_interface),
    ] {
        if let Some(value) = value {
            let value = value.as_str();
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
    if let Some(fragment) = &args.fragment {
        text_value("fragment", fragment.as_str())?;
        push(&mut words, "-f", fragment.as_str());
    }
    if let Some(counters) = &args.set_counters {
        check_value(
            "set_counters",
            counters.as_str(),
            |c| c.is_ascii_digit() || ", ".contains(c),
            "packet and byte counters",
        )?;
        push(&mut words, "-c", counters.as_str());
    }
    for (argument, option, value) in [
        ("source_port", "--source-port", &args.source_port),
        (
            "destination_port",
            "--destination-port",
            &args.destination_port,
        ),
    ] {
        if let Some(value) = value {
            check_value(
                argument,
                value.as_str(),
                port_char,
                "a port or range (`22`, `1024:2048`)",
            )?;
            if args.protocol.is_none() {
                return Err(needs_protocol(argument));
            }
            push(&mut words, option, value.as_str());
        }
    }
    if let Some(ports) = &args.to_ports {
        check_value(
            "to_ports",
            ports.as_str(),
            |c| c.is_ascii_digit() || "-:".contains(c),
            "a port or range",
        )?;
        push(&mut words, "--to-ports", ports.as_str());
    }
    let not_dscp = |jump: &Option<String>| {
        jump.as_deref()
            .is_some_and(|jump| !jump.eq_ignore_ascii_case("dscp"))
    };
    for (argument, option, value) in [
        ("set_dscp_mark", "--set-dscp", &args.set_dscp_mark),
        (
            "set_dscp_mark_class",
            "--set-dscp-class",
            &args.set_dscp_mark_class,
        ),
    ] {
        if let Some(value) = value {
            word_value(argument, value.as_str())?;
            if jump.is_none() {
                return Err(
                    ArgsError::new(Some(argument), format!("`{argument}` needs `jump`"))
                        .with_hint("add `jump: DSCP`"),
                );
            }
            push(&mut words, option, value.as_str());
            if not_dscp(&jump) {
                words.extend(["-j".into(), "DSCP".into()]);
            }
        }
    }
    match args.syn {
        Syn::Ignore => {}
        Syn::Match => words.push("--syn".into()),
        Syn::Negate => words.extend(["!".into(), "--syn".into()]),
    }
    if let Some(states) = args.ctstate.as_ref().filter(|s| !s.0.is_empty()) {
        for state in &states.0 {
            check_value(
                "ctstate",
                state,
                |c| c.is_ascii_alphabetic(),
                "a conntrack state (NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED, SNAT, DNAT)",
            )?;
        }
        let joined = states.0.join(",");
        if matches.contains(&"conntrack") {
            words.extend(["--ctstate".into(), joined]);
        } else if matches.contains(&"state") {
            words.extend(["--state".into(), joined]);
        } else {
            words.extend(["-m".into(), "conntrack".into(), "--ctstate".into(), joined]);
        }
    }
    if args.src_range.is_some() || args.dst_range.is_some() {
        if !matches.contains(&"iprange") {
            words.extend(["-m".into(), "iprange".into()]);
        }
        for (argument, option, value) in [
            ("src_range", "--src-range", &args.src_range),
            ("dst_range", "--dst-range", &args.dst_range),
        ] {
            if let Some(value) = value {
                check_value(argument, value.as_str(), address_char, "an address range")?;
                push(&mut words, option, value.as_str());
            }
        }
    }
    if let Some(set) = &args.match_set {
        word_value("match_set", set.as_str())?;
        const FLAGS: [&str; 6] = ["src", "dst", "src,dst", "dst,src", "src,src", "dst,dst"];
        let flags = match &args.match_set_flags {
            Some(flags) if FLAGS.contains(&flags.as_str()) => flags.as_str(),
            Some(flags) => {
                return Err(ArgsError::new(
                    Some("match_set_flags"),
                    format!("`{}` is not a set direction", flags.as_str().escape_debug()),
                )
                .with_hint("use src, dst, src,dst, dst,src, src,src or dst,dst"))
            }
            None => {
                return Err(ArgsError::new(
                    Some("match_set_flags"),
                    "`match_set` needs `match_set_flags`",
                )
                .with_hint("add `match_set_flags: src` (or dst, src,dst…)"))
            }
        };
        if !matches.contains(&"set") {
            words.extend(["-m".into(), "set".into()]);
        }
        push(&mut words, "--match-set", set.as_str());
        words.push(flags.into());
    }
    if args.limit.is_some() || args.limit_burst.is_some() {
        words.extend(["-m".into(), "limit".into()]);
        for (argument, option, value) in [
            ("limit", "--limit", &args.limit),
            ("limit_burst", "--limit-burst", &args.limit_burst),
        ] {
            if let Some(value) = value {
                check_value(
                    argument,
                    value.as_str(),
                    |c| c.is_ascii_alphanumeric() || c == '/',
                    "a rate (`3/minute`) or a number",
                )?;
                push(&mut words, option, value.as_str());
            }
        }
    }
    for (argument, option, value) in [
        ("uid_owner", "--uid-owner", &args.uid_owner),
        ("gid_owner", "--gid-owner", &args.gid_owner),
    ] {
        if let Some(value) = value {
            check_value(
                argument,
                value.as_str(),
                |c| c.is_ascii_alphanumeric() || "_.-".contains(c),
                "a user or group name or id",
            )?;
            words.extend(["-m".into(), "owner".into()]);
            push(&mut words, option, value.as_str());
        }
    }
    if let Some(reject) = &args.reject_with {
        word_value("reject_with", reject.as_str())?;
        if jump.is_none() {
            words.extend(["-j".into(), "REJECT".into()]);
        }
        push(&mut words, "--reject-with", reject.as_str());
    }
    if let Some(icmp_type) = &args.icmp_type {
        check_value(
            "icmp_type",
            icmp_type.as_str(),
            |c| c.is_ascii_alphanumeric() || "/-".contains(c),
            "an ICMP type name or number",
        )?;
        let option = match family {
            Family::V6 => "--icmpv6-type",
            Family::V4 => "--icmp-type",
        };
        push(&mut words, option, icmp_type.as_str());
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
        words.extend(["-m".into(), "comment".into()]);
        push(&mut words, "--comment", comment);
    }
    Ok(words)
}
