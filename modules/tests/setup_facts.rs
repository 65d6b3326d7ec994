//! `setup`: parsing real-looking fact outputs and the variables playbooks read.

use converge_modules::memory_host::MemoryHost;
use converge_modules::module::Context;
use converge_modules::setup::{self, parse, to_ansible_vars};
use converge_modules::{Facts, Output, Program};
use serde_json::json;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/facts/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

#[test]
fn debian_12_facts() {
    let facts = parse(&fixture("debian12.txt"));
    assert_eq!(facts.hostname, "gw1");
    assert_eq!(facts.fqdn, "gw1.lab.example.org");
    assert_eq!(facts.distribution, "Debian");
    assert_eq!(facts.os_family, "Debian");
    assert_eq!(facts.distribution_version, "12.11");
    assert_eq!(facts.distribution_release, "bookworm");
    assert_eq!(facts.kernel, "6.1.0-37-amd64");
    assert_eq!(facts.architecture, "x86_64");
    assert_eq!(facts.service_mgr, "systemd");
    assert_eq!(facts.pkg_mgr, "apt");
    assert_eq!(facts.user_id, "admin");
    assert_eq!(facts.user_dir, "/home/admin");
    let names: Vec<&str> = facts.interfaces.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["lo", "eth0", "br-lan", "eth0.100", "wg0"]);
    assert_eq!(facts.interfaces[1].ipv4, ["192.0.2.10/24", "192.0.2.11/24"]);
    assert_eq!(
        facts.interfaces[1].ipv6,
        [
            "2001:db8:1::5054:ff:fe12:3456/64",
            "fe80::5054:ff:fe12:3456/64"
        ]
    );
    assert!(facts.interfaces[4].ipv4.is_empty() && facts.interfaces[4].ipv6.is_empty());
    let v4 = facts.default_ipv4.clone().expect("default ipv4");
    assert_eq!(
        (v4.interface.as_str(), v4.gateway.as_deref()),
        ("eth0", Some("192.0.2.1"))
    );
    assert_eq!(v4.protocol.as_deref(), Some("dhcp"));
    let v6 = facts.default_ipv6.clone().expect("default ipv6");
    assert_eq!(
        (v6.interface.as_str(), v6.gateway.as_deref()),
        ("eth0", Some("fe80::1"))
    );
    assert_eq!(v6.protocol.as_deref(), Some("ra"));
}

#[test]
fn slackware_15_facts() {
    let facts = parse(&fixture("slackware15.txt"));
    assert_eq!(facts.hostname, "darkstar");
    assert_eq!(facts.distribution, "Slackware");
    assert_eq!(facts.os_family, "Slackware");
    assert_eq!(facts.distribution_version, "15.0");
    assert_eq!(facts.distribution_release, "stable");
    assert_eq!(facts.service_mgr, "bsdinit");
    assert_eq!(facts.pkg_mgr, "slackpkg");
    assert_eq!(facts.user_id, "root");
    let v4 = facts.default_ipv4.clone().expect("default ipv4");
    assert_eq!(v4.protocol.as_deref(), Some("boot"));
    let v6 = facts.default_ipv6.clone().expect("default ipv6");
    assert_eq!(v6.gateway.as_deref(), Some("fe80::200:5eff:fe00:101"));
    assert_eq!(v6.protocol.as_deref(), Some("ra"));
}

#[test]
fn slackware_current_keeps_the_plus() {
    let text =
        "==slackware-version==\nSlackware 15.0+\n==os-release==\nID=slackware\nVERSION_ID=15.0\n";
    let facts = parse(text);
    assert_eq!(facts.distribution_version, "15.0+");
    assert_eq!(facts.distribution_release, "current");
    let vars = to_ansible_vars(&facts);
    assert_eq!(vars["ansible_distribution_major_version"], json!("15"));
}

#[test]
fn ubuntu_is_debian_family_and_missing_sections_stay_empty() {
    let text = "==os-release==\nNAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=jammy\n==debian-version==\nbookworm/sid\n";
    let facts = parse(text);
    assert_eq!(facts.distribution, "Ubuntu");
    assert_eq!(facts.os_family, "Debian");
    assert_eq!(facts.distribution_version, "22.04");
    assert_eq!(facts.distribution_release, "jammy");
    assert!(facts.default_ipv4.is_none());
    assert_eq!(to_ansible_vars(&facts)["ansible_default_ipv4"], json!({}));
}

#[test]
fn ansible_vars_for_debian() {
    let vars = to_ansible_vars(&parse(&fixture("debian12.txt")));
    let facts = &vars["ansible_facts"];
    assert_eq!(facts["os_family"], json!("Debian"));
    assert_eq!(facts["distribution_major_version"], json!("12"));
    assert_eq!(facts["machine"], json!("x86_64"));
    assert_eq!(
        facts["interfaces"],
        json!(["lo", "eth0", "br-lan", "eth0.100", "wg0"])
    );
    assert_eq!(
        facts["default_ipv6"],
        json!({
            "interface": "eth0",
            "gateway": "fe80::1",
            "protocol": "ra",
            "address": "2001:db8:1::5054:ff:fe12:3456",
            "prefix": "64",
            "scope": "global"
        })
    );
    assert_eq!(
        facts["default_ipv4"],
        json!({
            "interface": "eth0",
            "gateway": "192.0.2.1",
            "protocol": "dhcp",
            "address": "192.0.2.10",
            "prefix": "24",
            "netmask": "255.255.255.0",
            "network": "192.0.2.0"
        })
    );
    assert_eq!(
        facts["eth0"],
        json!({
            "device": "eth0",
            "ipv4": {"address": "192.0.2.10", "prefix": "24", "netmask": "255.255.255.0", "network": "192.0.2.0"},
            "ipv4_secondaries": [{"address": "192.0.2.11", "prefix": "24", "netmask": "255.255.255.0", "network": "192.0.2.0"}],
            "ipv6": [
                {"address": "2001:db8:1::5054:ff:fe12:3456", "prefix": "64", "scope": "global"},
                {"address": "fe80::5054:ff:fe12:3456", "prefix": "64", "scope": "link"}
            ]
        })
    );
    // Ansible turns `-` into `_` in fact names; the device keeps its real name.
    assert_eq!(vars["ansible_br_lan"]["device"], json!("br-lan"));
    assert_eq!(vars["ansible_eth0.100"]["ipv6"][0]["scope"], json!("link"));
    assert_eq!(vars["ansible_hostname"], json!("gw1"));
    assert_eq!(vars["ansible_default_ipv6"], facts["default_ipv6"]);
    assert_eq!(vars["ansible_lo"]["ipv6"][0]["scope"], json!("host"));
}

#[test]
fn gather_runs_one_command_and_module_filters() {
    let text = fixture("slackware15.txt");
    let mut host = MemoryHost::new().respond(move |command| match &command.program {
        Program::Shell(script) if script.contains("==hostname==") => Some(Output {
            status: 0,
            stdout: text.clone().into_bytes(),
            stderr: Vec::new(),
        }),
        _ => None,
    });
    let facts = setup::gather(&mut host).expect("gather");
    assert_eq!(facts.distribution, "Slackware");
    assert_eq!(host.commands_run.len(), 1);

    let module = converge_modules::find("ansible.builtin.setup").expect("setup is registered");
    let context_facts = Facts::default();
    let plan = module
        .plan(
            &json!({"filter": "ansible_default_ipv*", "gather_subset": ["!all", "network"]}),
            &mut host,
            &Context {
                facts: &context_facts,
            },
        )
        .expect("plan");
    assert!(!plan.is_change());
    let keys: Vec<&String> = plan.result["ansible_facts"]
        .as_object()
        .expect("a dict")
        .keys()
        .collect();
    assert_eq!(keys, ["default_ipv4", "default_ipv6"]);
    assert!(module.validate(&json!({"filtre": "x"})).is_err());
}
