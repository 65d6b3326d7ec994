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

/// Runs a command on this machine and returns its trimmed stdout.
fn local_output(program: &str, args: &[&str]) -> String {
    let output = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn local_machine_facts_through_the_local_connection() {
    let mut host = converge_modules::local::LocalConnection::new("localhost");
    let facts = setup::gather(&mut host).expect("gather on this machine");
    let vars = to_ansible_vars(&facts);
    if let Ok(path) = std::env::var("CONVERGE_DUMP_FACTS") {
        let text = serde_json::to_string_pretty(&vars["ansible_facts"]).expect("json");
        std::fs::write(path, text).expect("write the dump");
    }
    let f = &vars["ansible_facts"];
    assert_eq!(f["kernel"], json!(local_output("uname", &["-r"])));
    assert_eq!(f["kernel_version"], json!(local_output("uname", &["-v"])));
    assert_eq!(f["nodename"], json!(local_output("uname", &["-n"])));
    assert_eq!(f["machine"], json!(local_output("uname", &["-m"])));
    assert_eq!(f["user_id"], json!(local_output("id", &["-un"])));
    assert_eq!(
        f["user_uid"],
        json!(local_output("id", &["-u"]).parse::<u64>().expect("uid"))
    );
    assert_eq!(vars["ansible_user_dir"], f["user_dir"]);
    assert_eq!(
        f["env"]["PATH"],
        json!(std::env::var("PATH").unwrap_or_default())
    );

    let meminfo = std::fs::read_to_string("/proc/meminfo").expect("meminfo");
    let total_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("MemTotal");
    assert_eq!(f["memtotal_mb"], json!(total_kib / 1024));
    assert!(f["memfree_mb"].as_u64().expect("memfree_mb") <= total_kib / 1024);

    let cpus = local_output("nproc", &[]).parse::<u64>().expect("nproc");
    assert_eq!(f["processor_nproc"], json!(cpus));
    let vcpus = f["processor_vcpus"].as_u64().expect("vcpus");
    let count = f["processor_count"].as_u64().expect("count");
    let cores = f["processor_cores"].as_u64().expect("cores");
    assert!(vcpus >= 1 && count >= 1 && cores >= 1);

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let epoch: u64 = f["date_time"]["epoch"]
        .as_str()
        .and_then(|e| e.parse().ok())
        .expect("epoch");
    assert!(now.abs_diff(epoch) < 60, "epoch {epoch} vs now {now}");
    assert_eq!(
        f["date_time"]["date"],
        json!(local_output(
            "date",
            &["-d", &format!("@{epoch}"), "+%Y-%m-%d"]
        ))
    );
    assert!(f["date_time"]["iso8601"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    let root = f["mounts"]
        .as_array()
        .expect("mounts")
        .iter()
        .find(|m| m["mount"] == json!("/"))
        .expect("the root filesystem is mounted");
    assert!(root["size_total"].as_u64().expect("size_total") > 0);
    assert!(root["block_size"].as_u64().expect("block_size") > 0);
    assert!(root["uuid"].is_string());
    assert!(f["selinux"]["status"].is_string());
    assert!(f["virtualization_type"].is_string() && f["virtualization_role"].is_string());
    assert_eq!(vars["ansible_mounts"], f["mounts"]);
}

#[test]
fn debian_12_full_output_gives_ansible_shaped_facts() {
    // Captured on a Debian 12 container (environment trimmed); values checked against
    // `ansible localhost -m setup` (ansible-core 2.19.14) on the same machine.
    let vars = to_ansible_vars(&parse(&fixture("debian12-full.txt")));
    let f = &vars["ansible_facts"];
    assert_eq!(f["hostname"], json!("vm"));
    assert_eq!(f["nodename"], json!("vm"));
    // /etc/hosts maps the name to 127.0.0.1, whose first name is `localhost`: Python's
    // getfqdn() and so Ansible say `localhost`, and the domain is empty.
    assert_eq!(f["fqdn"], json!("localhost"));
    assert_eq!(f["domain"], json!(""));
    assert_eq!(f["distribution_major_version"], json!("12"));
    assert_eq!(f["kernel"], json!("6.18.44-fc-v1272"));
    assert_eq!(f["kernel_version"], json!("#1 SMP PREEMPT_DYNAMIC @0"));
    assert_eq!(f["architecture"], json!("x86_64"));
    assert_eq!(f["memtotal_mb"], json!(24105));
    assert_eq!(f["memfree_mb"], json!(15958));
    assert_eq!(
        f["memory_mb"],
        json!({
            "real": {"total": 24105, "used": 8147, "free": 15958},
            "nocache": {"free": 21580, "used": 2525},
            "swap": {"total": 0, "free": 0, "used": 0, "cached": 0}
        })
    );
    assert_eq!(f["processor_count"], json!(1));
    assert_eq!(f["processor_cores"], json!(2));
    assert_eq!(f["processor_threads_per_core"], json!(1));
    assert_eq!(f["processor_vcpus"], json!(2));
    assert_eq!(f["processor_nproc"], json!(2));
    assert_eq!(
        f["processor"],
        json!([
            "0",
            "AuthenticAMD",
            "AMD EPYC",
            "1",
            "AuthenticAMD",
            "AMD EPYC"
        ])
    );
    assert_eq!(f["virtualization_type"], json!("docker"));
    assert_eq!(f["virtualization_role"], json!("guest"));
    assert_eq!(
        f["virtualization_tech_guest"],
        json!(["docker", "container"])
    );
    assert_eq!(f["virtualization_tech_host"], json!(["kvm"]));
    assert_eq!(f["selinux"], json!({"status": "disabled"}));
    assert_eq!(
        f["mounts"],
        json!([{
            "mount": "/", "device": "/dev/vda", "fstype": "ext4",
            "options": "rw,relatime,discard,resv_strict,resuid=65534,resgid=65534",
            "dump": 0, "passno": 0, "uuid": "N/A",
            "size_total": 270553174016u64, "size_available": 75625414656u64,
            "block_size": 4096, "block_total": 66053021, "block_available": 18463236,
            "block_used": 47589785, "inode_total": 16777216, "inode_available": 16299690,
            "inode_used": 477526
        }])
    );
    assert_eq!(
        f["date_time"],
        json!({
            "date": "2026-12-07", "day": "07", "epoch": "1796603603", "epoch_int": "1796603603",
            "hour": "00", "iso8601": "2026-12-07T00:33:23Z",
            "iso8601_basic": "20261207T003323701015", "iso8601_basic_short": "20261207T003323",
            "iso8601_micro": "2026-12-07T00:33:23.701015Z", "minute": "33", "month": "12",
            "second": "23", "time": "00:33:23", "tz": "UTC", "tz_dst": "UTC",
            "tz_offset": "+0000", "weekday": "Monday", "weekday_number": "1",
            "weeknumber": "49", "year": "2026"
        })
    );
    assert_eq!(
        f["env"],
        json!({
            "HOME": "/root", "LANG": "C.UTF-8", "MULTILINE": "first line\nsecond line",
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "SHELL": "/bin/bash", "USER": "root"
        })
    );
    assert_eq!(
        (
            &f["user_id"],
            &f["user_uid"],
            &f["user_gid"],
            &f["user_shell"],
            &f["user_dir"]
        ),
        (
            &json!("root"),
            &json!(0),
            &json!(0),
            &json!("/bin/bash"),
            &json!("/root")
        )
    );
    assert_eq!(f["pkg_mgr"], json!("apt"));
    // Every fact is also a top-level `ansible_` variable.
    for key in [
        "mounts",
        "date_time",
        "env",
        "memtotal_mb",
        "virtualization_type",
        "selinux",
    ] {
        assert_eq!(vars[format!("ansible_{key}").as_str()], f[key], "{key}");
    }
}

#[test]
fn slackware_15_full_output_keeps_slackware_and_reads_hardware() {
    let facts = parse(&fixture("slackware15-full.txt"));
    assert_eq!(facts.distribution, "Slackware");
    assert_eq!(facts.os_family, "Slackware");
    assert_eq!(facts.distribution_version, "15.0");
    assert_eq!(facts.service_mgr, "bsdinit");
    assert_eq!(facts.pkg_mgr, "slackpkg");
    let vars = to_ansible_vars(&facts);
    let f = &vars["ansible_facts"];
    assert_eq!(f["fqdn"], json!("darkstar.example.net"));
    assert_eq!(f["domain"], json!("example.net"));
    assert_eq!(f["hostname"], json!("darkstar"));
    assert_eq!(f["distribution_major_version"], json!("15"));
    assert_eq!(
        f["kernel_version"],
        json!("#1 SMP PREEMPT Wed Feb 2 01:01:02 CST 2022")
    );
    // Two sockets of one core with two threads each.
    assert_eq!(
        (
            &f["processor_count"],
            &f["processor_cores"],
            &f["processor_threads_per_core"],
            &f["processor_vcpus"]
        ),
        (&json!(2), &json!(1), &json!(2), &json!(4))
    );
    assert_eq!(f["memtotal_mb"], json!(3936));
    assert_eq!(f["swaptotal_mb"], json!(2047));
    // DMI says QEMU: a KVM guest; the virtio module counts as host technology, as in Ansible.
    assert_eq!(f["virtualization_type"], json!("kvm"));
    assert_eq!(f["virtualization_role"], json!("guest"));
    assert_eq!(f["virtualization_tech_guest"], json!(["kvm"]));
    assert_eq!(f["virtualization_tech_host"], json!(["kvm"]));
    let mounts = f["mounts"].as_array().expect("mounts");
    let points: Vec<&str> = mounts.iter().filter_map(|m| m["mount"].as_str()).collect();
    assert_eq!(
        points,
        ["/", "/boot/efi", "/srv/my files", "/home", "/var/lib/build"]
    );
    assert_eq!(
        mounts[0]["uuid"],
        json!("2f6e2c4a-6f79-4c5d-9e57-b3e6c1a0d0a1")
    );
    assert_eq!(mounts[1]["uuid"], json!("6E1B-5F0C"));
    assert_eq!(mounts[1]["size_total"], json!(512u64 * 1046508));
    assert_eq!(mounts[2]["device"], json!("/dev/vdb1"));
    assert_eq!(mounts[3]["device"], json!("nas.example.net:/export/home"));
    assert_eq!(mounts[3]["uuid"], json!("N/A"));
    assert_eq!(mounts[3]["passno"], json!(0));
    assert_eq!(mounts[2]["passno"], json!(2));
    assert_eq!(mounts[4]["options"], json!("rw,relatime,bind"));
    assert_eq!(mounts[4]["block_used"], json!(2563814 - 2448212));
    let date = &f["date_time"];
    assert_eq!(date["iso8601"], json!("2024-07-15T12:30:05Z"));
    assert_eq!(date["time"], json!("14:30:05"));
    assert_eq!(date["tz"], json!("CEST"));
    assert_eq!(date["tz_dst"], json!("CEST"));
    assert_eq!(date["tz_offset"], json!("+0200"));
    assert_eq!(date["iso8601_micro"], json!("2024-07-15T12:30:05.123456Z"));
    assert_eq!(f["env"]["TERM"], json!("xterm-256color"));
    assert_eq!(f["user_shell"], json!("/bin/bash"));
    assert_eq!(f["selinux"], json!({"status": "disabled"}));
}

#[test]
fn selinux_enforcing_reads_config() {
    let facts =
        parse("==selinux==\nenforce=1\npolicyvers=33\nSELINUX=enforcing\nSELINUXTYPE=targeted\n");
    assert_eq!(
        to_ansible_vars(&facts)["ansible_selinux"],
        json!({"status": "enabled", "mode": "enforcing", "config_mode": "enforcing", "type": "targeted", "policyvers": "33"})
    );
}

#[test]
fn containers_and_bare_metal_virtualization() {
    let lxc = parse("==cgroup1==\n0::/lxc/web1\n==virt-files==\n");
    assert_eq!(
        (
            lxc.virtualization.kind.as_str(),
            lxc.virtualization.role.as_str()
        ),
        ("lxc", "guest")
    );
    assert_eq!(lxc.virtualization.tech_guest, ["lxc", "container"]);
    let podman = parse("==environ1==\ncontainer=podman\n");
    assert_eq!(podman.virtualization.kind, "podman");
    assert_eq!(podman.virtualization.tech_guest, ["podman", "container"]);
    let metal = parse("==cgroup1==\n0::/init.scope\n==detect-virt==\nnone\n");
    assert_eq!(
        (
            metal.virtualization.kind.as_str(),
            metal.virtualization.role.as_str()
        ),
        ("NA", "NA")
    );
    let host = parse("==virt-files==\n/dev/kvm\n");
    assert_eq!(
        (
            host.virtualization.kind.as_str(),
            host.virtualization.role.as_str()
        ),
        ("kvm", "host")
    );
    // Nothing Ansible looks at matched, but systemd-detect-virt knows.
    let nspawn = parse("==detect-virt==\nsystemd-nspawn\n");
    assert_eq!(nspawn.virtualization.kind, "systemd-nspawn");
}
