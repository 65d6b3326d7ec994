//! Arguments are converted to the declared types as Ansible's argument spec converts them,
//! once for every module (`converge_modules::args::coerce_to_schema`, run by `parse_args`).

use converge_modules::args::Mode;
use converge_modules::module::parse_args;
use converge_modules::{copy, file, find, iptables, lineinfile, sysctl, template};
use serde_json::json;

#[test]
fn integer_where_text_is_declared_becomes_its_text() {
    // `destination_port: "{{ item }}"` over a list of numbers gives integers.
    let args = parse_args::<iptables::Iptables>(&json!({
        "chain": "INPUT", "protocol": "tcp", "destination_port": 22, "jump": "ACCEPT",
        "comment": 5
    }))
    .unwrap();
    assert_eq!(
        args.destination_port.as_ref().map(|port| port.0.as_str()),
        Some("22")
    );
    assert_eq!(args.comment.as_deref(), Some("5"));
    let args =
        parse_args::<lineinfile::Lineinfile>(&json!({"path": "/etc/x", "line": 1.5})).unwrap();
    assert_eq!(args.line.as_deref(), Some("1.5"));
}

#[test]
fn booleans_where_text_is_declared_are_pythons_str() {
    let args = parse_args::<copy::Copy>(&json!({"dest": "/etc/x", "content": true})).unwrap();
    assert_eq!(args.content.as_deref(), Some("True"));
}

#[test]
fn boolean_spellings_and_template_output_are_booleans() {
    for (given, expected) in [
        (json!("yes"), true),
        (json!("True"), true),
        (json!("on"), true),
        (json!("t"), true),
        (json!(1), true),
        (json!("1"), true),
        (json!("False"), false),
        (json!("off"), false),
        (json!("n"), false),
        (json!(0), false),
    ] {
        let args = parse_args::<lineinfile::Lineinfile>(
            &json!({"path": "/etc/x", "line": "x", "create": given.clone()}),
        )
        .unwrap();
        assert_eq!(args.create.0, expected, "{given}");
    }
    let error = parse_args::<lineinfile::Lineinfile>(
        &json!({"path": "/etc/x", "line": "x", "create": "maybe"}),
    )
    .unwrap_err();
    assert!(error.message.contains("expected a boolean"), "{error}");
    assert_eq!(error.argument.as_deref(), Some("create"));
}

#[test]
fn text_where_a_number_is_declared_is_parsed() {
    let args = parse_args::<iptables::Iptables>(
        &json!({"ruleset": "*filter\nCOMMIT\n", "rollback_timeout": "30"}),
    )
    .unwrap();
    assert_eq!(args.rollback_timeout, 30);
    let error = parse_args::<iptables::Iptables>(
        &json!({"ruleset": "*filter\nCOMMIT\n", "rollback_timeout": "soon"}),
    )
    .unwrap_err();
    assert!(error.message.contains("rollback_timeout"), "{error}");
}

#[test]
fn comma_separated_text_where_a_list_is_declared_is_split() {
    let args = parse_args::<iptables::Iptables>(&json!({
        "chain": "INPUT", "protocol": "tcp", "destination_ports": "80,443",
        "ctstate": "RELATED,ESTABLISHED", "jump": "ACCEPT"
    }))
    .unwrap();
    assert_eq!(args.destination_ports.unwrap().0, vec!["80", "443"]);
    assert_eq!(args.ctstate.unwrap().0, vec!["RELATED", "ESTABLISHED"]);
    // A list of numbers: each item is text.
    let args = parse_args::<iptables::Iptables>(&json!({
        "chain": "INPUT", "protocol": "tcp", "destination_ports": [80, 443], "jump": "ACCEPT"
    }))
    .unwrap();
    assert_eq!(args.destination_ports.unwrap().0, vec!["80", "443"]);
    // One number where a list is declared: a one-item list.
    let args = parse_args::<iptables::Iptables>(&json!({
        "chain": "INPUT", "protocol": "tcp", "destination_ports": 8080, "jump": "ACCEPT"
    }))
    .unwrap();
    assert_eq!(args.destination_ports.unwrap().0, vec!["8080"]);
}

#[test]
fn sysctl_values_from_numbers_and_booleans() {
    let args =
        parse_args::<sysctl::Sysctl>(&json!({"name": "net.ipv6.conf.all.forwarding", "value": 1}))
            .unwrap();
    assert_eq!(args.value.unwrap().0, "1");
    let args = parse_args::<sysctl::Sysctl>(
        &json!({"name": "net.ipv6.conf.all.forwarding", "value": true}),
    )
    .unwrap();
    assert_eq!(args.value.unwrap().0, "1");
}

#[test]
fn integer_modes_are_the_bits_and_text_modes_are_octal_or_symbolic() {
    let mode = |value: serde_json::Value| {
        parse_args::<file::File>(&json!({"path": "/etc/x", "mode": value}))
            .unwrap()
            .mode
            .unwrap()
    };
    assert_eq!(mode(json!(420)), Mode::Bits(0o644));
    assert_eq!(mode(json!("0644")), Mode::Bits(0o644));
    assert_eq!(mode(json!("644")), Mode::Bits(0o644));
    assert_eq!(mode(json!("u=rwx,g=rx,o=")).to_string(), "u=rwx,g=rx,o=");
    let template = parse_args::<template::Template>(
        &json!({"src": "a.j2", "dest": "/etc/a", "mode": 384, "force": "False"}),
    )
    .unwrap();
    assert_eq!(template.mode, Some(Mode::Bits(0o600)));
    assert!(!template.force.0);
}

#[test]
fn arguments_real_roles_pass_are_accepted_by_file_modules() {
    let common = json!({
        "seuser": "system_u", "serole": "object_r", "setype": "etc_t", "selevel": "s0",
        "unsafe_writes": "yes", "attributes": "", "follow": true
    });
    for (module, base) in [
        ("file", json!({"path": "/etc/x"})),
        ("copy", json!({"dest": "/etc/x", "content": "x"})),
        ("template", json!({"src": "x.j2", "dest": "/etc/x"})),
        ("lineinfile", json!({"path": "/etc/x", "line": "x"})),
        ("blockinfile", json!({"path": "/etc/x", "block": "x"})),
    ] {
        let mut args = base;
        args.as_object_mut()
            .unwrap()
            .extend(common.as_object().unwrap().clone());
        let module = find(module).unwrap();
        module
            .validate(&args)
            .unwrap_or_else(|error| panic!("{}: {error}", module.name()));
    }
}
