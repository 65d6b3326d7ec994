//! The `dhcpd` module: rendering, paths per OS family, the family checks, the leases file,
//! idempotence, and the real `dhcpd -t` on what it renders (when dhcpd is installed).

use converge_modules::dhcpd::{check_family, desired_text, validate_command, DhcpdArgs, Family};
use converge_modules::memory_host::MemoryHost;
use converge_modules::{ChangeDetail, Context, Facts, ModuleError, Plan, Step};
use serde_json::{json, Value};
use std::path::Path;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/dhcpd");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/dhcpd");

fn facts(os_family: &str) -> Facts {
    Facts {
        os_family: os_family.into(),
        ..Facts::default()
    }
}

fn plan(args: Value, host: &mut MemoryHost, os_family: &str) -> Result<Plan, ModuleError> {
    let facts = facts(os_family);
    let module = converge_modules::find("dhcpd").expect("dhcpd is registered");
    module.plan(&args, host, &Context { facts: &facts })
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name)).expect("fixture")
}

fn args(value: Value) -> DhcpdArgs {
    serde_json::from_value(value).expect("args")
}

fn lab_v4() -> Value {
    json!({
        "family": "ipv4",
        "authoritative": true,
        "default_lease_time": 600,
        "max_lease_time": 7200,
        "domain_name_servers": "10.231.0.1",
        "subnets": [{
            "subnet": "10.231.0.0/20",
            "range": "10.231.0.200 10.231.0.210",
            "routers": ["10.231.0.1"]
        }],
        "hosts": [{"name": "h2", "hardware_ethernet": "02:00:00:00:00:0C", "fixed_address": "10.231.0.220"}]
    })
}

#[test]
fn renders_v4_deterministically() {
    let text = desired_text(&args(lab_v4())).unwrap();
    assert_eq!(
        text,
        "# Managed by converge (module `dhcpd`); local changes are overwritten.\n\
         authoritative;\n\
         default-lease-time 600;\n\
         max-lease-time 7200;\n\
         option domain-name-servers 10.231.0.1;\n\
         \n\
         subnet 10.231.0.0 netmask 255.255.240.0 {\n\
         \x20 range 10.231.0.200 10.231.0.210;\n\
         \x20 option routers 10.231.0.1;\n\
         }\n\
         \n\
         host h2 {\n\
         \x20 hardware ethernet 02:00:00:00:00:0c;\n\
         \x20 fixed-address 10.231.0.220;\n\
         }\n"
    );
    assert_eq!(desired_text(&args(lab_v4())).unwrap(), text);
}

#[test]
fn renders_v6_with_ranges_prefixes_and_duid_reservation() {
    let text = desired_text(&args(json!({
        "family": "ipv6",
        "default_lease_time": 2592000,
        "preferred_lifetime": 604800,
        "domain_name_servers": ["fd42:1::1"],
        "domain_search": ["guests.example.net"],
        "subnets": [{
            "subnet": "fd42:1::/64",
            "range6": ["fd42:1::1:0 fd42:1::1:ff", "fd42:1::2:0/112"],
            "prefix6": "fd42:1:0:100:: fd42:1:0:1ff:: /64"
        }],
        "hosts": [
            {"name": "g1", "client_id": "00:02:00:00:AB:11", "fixed_address6": "fd42:1::10"},
            {"name": "g2", "hardware_ethernet": "52:54:00:12:34:56", "fixed_address6": "fd42:1::11"}
        ]
    })))
    .unwrap();
    assert_eq!(
        text,
        "# Managed by converge (module `dhcpd`); local changes are overwritten.\n\
         default-lease-time 2592000;\n\
         preferred-lifetime 604800;\n\
         option dhcp6.name-servers fd42:1::1;\n\
         option dhcp6.domain-search \"guests.example.net\";\n\
         \n\
         subnet6 fd42:1::/64 {\n\
         \x20 range6 fd42:1::1:0 fd42:1::1:ff;\n\
         \x20 range6 fd42:1::2:0/112;\n\
         \x20 prefix6 fd42:1:0:100:: fd42:1:0:1ff:: /64;\n\
         }\n\
         \n\
         host g1 {\n\
         \x20 host-identifier option dhcp6.client-id 00:02:00:00:ab:11;\n\
         \x20 fixed-address6 fd42:1::10;\n\
         }\n\
         \n\
         host g2 {\n\
         \x20 hardware ethernet 52:54:00:12:34:56;\n\
         \x20 fixed-address6 fd42:1::11;\n\
         }\n"
    );
}

#[test]
fn debian_plan_writes_validated_config_and_creates_leases_then_is_idempotent() {
    let mut host = MemoryHost::new()
        .with_directory("/etc/dhcp")
        .with_directory("/var/lib");
    let planned = plan(lab_v4(), &mut host, "Debian").unwrap();
    let subjects: Vec<&str> = planned.changes.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(
        subjects,
        ["/etc/dhcp/dhcpd.conf", "/var/lib/dhcp/dhcpd.leases"]
    );
    match &planned.steps[0] {
        Step::WriteFile { path, options, .. } => {
            assert_eq!(path, "/etc/dhcp/dhcpd.conf");
            let validate = options.validate.as_deref().unwrap_or_default();
            assert!(validate.contains("dhcpd -t -cf %s"), "{validate}");
        }
        other => panic!("first step should write the config, got {other:?}"),
    }
    planned.apply(&mut host).unwrap();
    assert!(host
        .text("/etc/dhcp/dhcpd.conf")
        .unwrap()
        .contains("range 10.231.0.200 10.231.0.210;"));
    assert_eq!(host.text("/var/lib/dhcp/dhcpd.leases").as_deref(), Some(""));
    let again = plan(lab_v4(), &mut host, "Debian").unwrap();
    assert!(!again.is_change(), "second plan: {:?}", again.changes);
}

#[test]
fn slackware_paths_and_the_v6_validator() {
    let mut host = MemoryHost::new()
        .with_file("/etc/dhcpd6.conf", fixture("comment-only.conf"))
        .with_file("/var/state/dhcp/dhcpd6.leases", "");
    let planned = plan(
        json!({"family": "ipv6", "config": fixture("guests6.conf")}),
        &mut host,
        "Slackware",
    )
    .unwrap();
    assert_eq!(
        planned.changes.len(),
        1,
        "leases file exists: {:?}",
        planned.changes
    );
    let ChangeDetail::Content { before, after } = &planned.changes[0].detail else {
        panic!("a content diff");
    };
    assert_eq!(
        before.as_deref(),
        Some(fixture("comment-only.conf").as_str())
    );
    assert_eq!(after.as_deref(), Some(fixture("guests6.conf").as_str()));
    let Step::WriteFile { path, options, .. } = &planned.steps[0] else {
        panic!("a write");
    };
    assert_eq!(path, "/etc/dhcpd6.conf");
    assert!(options
        .validate
        .as_deref()
        .unwrap_or_default()
        .contains("dhcpd -6 -t -cf %s"));
    assert_eq!(
        planned.result["leases_file"],
        "/var/state/dhcp/dhcpd6.leases"
    );
}

#[test]
fn path_and_leases_file_override_the_defaults() {
    let mut host = MemoryHost::new().with_directory("/srv/dhcp");
    let planned = plan(
        json!({"config": fixture("guests.conf"), "path": "/srv/dhcp/v4.conf", "leases_file": "/srv/dhcp/state/v4.leases"}),
        &mut host,
        "Gentoo",
    )
    .unwrap();
    planned.apply(&mut host).unwrap();
    assert!(host.files.contains_key("/srv/dhcp/v4.conf"));
    assert!(host.files.contains_key("/srv/dhcp/state/v4.leases"));
    assert!(!plan(
        json!({"config": fixture("guests.conf"), "path": "/srv/dhcp/v4.conf", "leases_file": "/srv/dhcp/state/v4.leases"}),
        &mut host,
        "Gentoo",
    )
    .unwrap()
    .is_change());
}

#[test]
fn unknown_os_family_without_paths_names_the_arguments() {
    let error = plan(lab_v4(), &mut MemoryHost::new(), "Gentoo").unwrap_err();
    let ModuleError::Failed { message, hint } = error else {
        panic!("a failure");
    };
    assert!(message.contains("`Gentoo`"), "{message}");
    assert_eq!(hint.as_deref(), Some("give `path` and `leases_file`"));
}

#[test]
fn subnet6_in_a_v4_config_is_refused_with_its_line() {
    let error = check_family(&fixture("mixed.conf"), Family::Ipv4).unwrap_err();
    assert_eq!(
        error.message,
        "line 6: `subnet6` does not belong in an IPv4 dhcpd config"
    );
    assert!(error.hint.unwrap_or_default().contains("family: ipv6"));
}

#[test]
fn subnet_in_a_v6_config_is_refused_though_dhcpd_6_t_accepts_it() {
    let error = check_family(&fixture("guests.conf"), Family::Ipv6).unwrap_err();
    assert_eq!(
        error.message,
        "line 11: `subnet` does not belong in an IPv6 dhcpd config"
    );
    // Words in comments and strings do not count.
    check_family(&fixture("guests.conf"), Family::Ipv4).unwrap();
}

#[test]
fn structured_arguments_of_the_other_family_are_refused() {
    let cases = [
        (
            json!({"family": "ipv6", "subnets": [{"subnet": "10.0.0.0/24"}]}),
            "is IPv4 but `family` is `ipv6`",
        ),
        (
            json!({"subnets": [{"subnet": "fd00::/64"}]}),
            "is IPv6 but `family` is `ipv4`",
        ),
        (
            json!({"family": "ipv6", "subnets": [{"subnet": "fd00::/64", "routers": ["fd00::1"]}]}),
            "`routers` is a DHCPv4 setting",
        ),
        (
            json!({"subnets": [{"subnet": "10.0.0.0/24", "range6": "fd00::1 fd00::2"}]}),
            "`range6` is a DHCPv6 setting",
        ),
        (
            json!({"subnets": [{"subnet": "10.0.0.0/24"}], "hosts": [{"name": "a", "hardware_ethernet": "52:54:00:00:00:01", "fixed_address6": "fd00::1"}]}),
            "`fixed_address6` is a DHCPv6 setting",
        ),
        (
            json!({"subnets": [{"subnet": "10.0.0.5/24"}]}),
            "has host bits set",
        ),
        (
            json!({"subnets": [{"subnet": "10.0.0.0/24", "range": "10.0.0.1"}]}),
            "is not `FIRST LAST`",
        ),
        (
            json!({"subnets": [{"subnet": "10.0.0.0/24", "routers": ["10.0.0.1; deny all"]}]}),
            "is not a single word",
        ),
        (
            json!({"subnets": [{"subnet": "10.0.0.0/24"}], "hosts": [{"name": "a", "fixed_address": "10.0.0.2"}]}),
            "needs exactly one of",
        ),
        (
            json!({"config": "x", "subnets": [{"subnet": "10.0.0.0/24"}]}),
            "mutually exclusive",
        ),
        (json!({"family": "ipv4"}), "needs `subnets`"),
        (
            json!({"family": "ipv6", "preferred_lifetime": 604800, "subnets": [{"subnet": "fd00::/64"}]}),
            "longer than the valid lifetime 43200",
        ),
    ];
    for (value, wanted) in cases {
        let error = plan(value.clone(), &mut MemoryHost::new(), "Debian").unwrap_err();
        assert!(error.to_string().contains(wanted), "{value}: {error}");
    }
}

#[test]
fn unknown_argument_is_refused_with_a_suggestion() {
    let error = plan(json!({"famly": "ipv4"}), &mut MemoryHost::new(), "Debian").unwrap_err();
    let ModuleError::Args(args) = error else {
        panic!("an argument error");
    };
    assert_eq!(args.message, "unknown argument `famly` for module `dhcpd`");
    assert_eq!(args.hint.as_deref(), Some("did you mean `family`?"));
}

#[test]
fn missing_config_directory_says_to_install_dhcpd() {
    let error = plan(lab_v4(), &mut MemoryHost::new(), "Debian").unwrap_err();
    assert!(
        error.to_string().contains("directory `/etc/dhcp`"),
        "{error}"
    );
}

/// Run the module's validator on `text` with the real dhcpd; `None` when dhcpd is missing.
fn real_validate(text: &str, family: Family) -> Option<(bool, String)> {
    if !Path::new("/usr/sbin/dhcpd").exists() {
        eprintln!("skipped: /usr/sbin/dhcpd is not installed");
        return None;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("dhcpd.conf");
    std::fs::write(&file, text).expect("write");
    let command = validate_command(family).replace("%s", &file.display().to_string());
    let output = std::process::Command::new("sh")
        .args(["-c", &command])
        .output()
        .expect("sh");
    Some((
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

#[test]
fn real_dhcpd_accepts_what_the_module_renders() {
    let v6 = json!({
        "family": "ipv6",
        "default_lease_time": 2592000,
        "preferred_lifetime": 604800,
        "domain_name_servers": ["fd42:1::1"],
        "subnets": [{"subnet": "fd42:1::/64", "range6": "fd42:1::1:0 fd42:1::1:ff", "prefix6": "fd42:1:0:100:: fd42:1:0:1ff:: /64"}],
        "hosts": [{"name": "g1", "client_id": "00:02:00:00:ab:11", "fixed_address6": "fd42:1::10"}]
    });
    for (value, family) in [(lab_v4(), Family::Ipv4), (v6, Family::Ipv6)] {
        let text = desired_text(&args(value)).unwrap();
        if let Some((ok, stderr)) = real_validate(&text, family) {
            assert!(ok, "dhcpd refused:\n{text}\n{stderr}");
        }
    }
}

#[test]
fn real_dhcpd_refusal_shows_its_own_message_without_the_banner() {
    let text = "subnet 10.231.0.0 netmask 255.255.240.0 {\n  range 10.232.0.200 10.232.0.210;\n}\n";
    if let Some((ok, stderr)) = real_validate(text, Family::Ipv4) {
        assert!(!ok);
        assert_eq!(
            stderr.trim(),
            "bad range, address 10.232.0.200 not in subnet 10.231.0.0 netmask 255.255.240.0"
        );
    }
    let text = "subnet 10.231.0.0 netmask 255.255.240.0 {\n  range 10.231.0.200 10.231.0.210\n}\n";
    if let Some((ok, stderr)) = real_validate(text, Family::Ipv4) {
        assert!(!ok);
        assert!(stderr.contains("line 3: semicolon expected."), "{stderr}");
        assert!(!stderr.contains("Internet Systems Consortium"), "{stderr}");
    }
}

#[test]
fn corpus_debian_samples_pass_the_family_check_and_real_dhcpd() {
    let dir = Path::new(CORPUS);
    if !dir.is_dir() {
        eprintln!(
            "skipped: {CORPUS} does not exist (the shared fixtures are not beside the clone)"
        );
        return;
    }
    for (name, family) in [
        ("dhcpd.conf", Family::Ipv4),
        ("dhcpd6.conf", Family::Ipv6),
        ("slackware-dhcpd.conf.new", Family::Ipv4),
        ("slackware-dhcpd.conf.new", Family::Ipv6),
    ] {
        let text = std::fs::read_to_string(dir.join(name)).expect("corpus file");
        check_family(&text, family).unwrap_or_else(|e| panic!("{name}: {e}"));
        if let Some((ok, stderr)) = real_validate(&text, family) {
            assert!(ok, "{name}: {stderr}");
        }
        // Taken verbatim as `config`: planned once, then no change.
        let mut host = MemoryHost::new()
            .with_directory("/etc/dhcp")
            .with_file("/var/lib/dhcp/dhcpd.leases", "")
            .with_file("/var/lib/dhcp/dhcpd6.leases", "");
        let family_name = if family == Family::Ipv4 {
            "ipv4"
        } else {
            "ipv6"
        };
        let value = json!({"family": family_name, "config": text});
        plan(value.clone(), &mut host, "Debian")
            .unwrap()
            .apply(&mut host)
            .unwrap();
        assert!(
            !plan(value, &mut host, "Debian").unwrap().is_change(),
            "{name}"
        );
    }
}
