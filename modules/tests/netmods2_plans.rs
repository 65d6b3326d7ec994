//! `service_facts`, `known_hosts`, `wait_for` and `fetch`: plans against memory hosts and
//! fixtures of the tools' real output; `wait_for` also against real sockets and files on
//! this machine.

use converge_modules::memory_host::MemoryHost;
use converge_modules::{find, Command, Context, Facts, Host, ModuleError, Output, Plan, Program};
use serde_json::{json, Value};

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn plan(module: &str, args: Value, host: &mut dyn Host) -> Result<Plan, ModuleError> {
    let facts = Facts::default();
    find(module)
        .expect("module registered")
        .plan(&args, host, &Context { facts: &facts })
}

fn ok(stdout: &str) -> Output {
    Output {
        status: 0,
        stdout: stdout.as_bytes().to_vec(),
        stderr: Vec::new(),
    }
}

fn is_script(command: &Command, script: &str) -> bool {
    matches!(&command.program, Program::Shell(text) if text == script)
}

fn services_host(stdout: String) -> MemoryHost {
    MemoryHost::new().respond(move |command| {
        is_script(command, converge_modules::service_facts::READ_SCRIPT).then(|| ok(&stdout))
    })
}

#[test]
fn service_facts_on_debian_with_systemd_are_ansibles_dictionary() {
    let mut host = services_host(fixture("service_facts/debian-systemd.txt"));
    let plan = plan("ansible.builtin.service_facts", json!({}), &mut host).unwrap();
    assert!(!plan.is_change());
    let services = &plan.result["ansible_facts"]["services"];
    assert_eq!(
        services["ssh.service"],
        json!({"name": "ssh.service", "state": "running", "status": "enabled", "source": "systemd"})
    );
    // A loaded unit that failed keeps `failed` over the unit file's `enabled`.
    assert_eq!(services["nginx.service"]["status"], json!("failed"));
    assert_eq!(services["nginx.service"]["state"], json!("stopped"));
    assert_eq!(services["auditd.service"]["status"], json!("not-found"));
    assert_eq!(services["apparmor.service"]["status"], json!("enabled"));
    // Units systemd has not loaded: their ActiveState, else unknown.
    assert_eq!(
        services["rsync.service"],
        json!({"name": "rsync.service", "state": "inactive", "status": "disabled", "source": "systemd"})
    );
    assert_eq!(services["sshd.service"]["status"], json!("alias"));
    assert_eq!(services["getty@.service"]["state"], json!("unknown"));
    // SysV scripts beside them, without a status.
    assert_eq!(
        services["ssh"],
        json!({"name": "ssh", "state": "running", "source": "sysv"})
    );
    assert_eq!(services["hwclock.sh"]["state"], json!("stopped"));
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn service_facts_on_slackware_read_rc_d_scripts() {
    let mut host = services_host(fixture("service_facts/slackware.txt"));
    let plan = plan("service_facts", json!({}), &mut host).unwrap();
    let services = &plan.result["ansible_facts"]["services"];
    assert_eq!(
        services["sshd"],
        json!({"name": "sshd", "state": "running", "status": "enabled", "source": "bsdinit"})
    );
    // Exit status 0 but "is not running": stopped.
    assert_eq!(services["bind"]["state"], json!("stopped"));
    assert_eq!(services["bind"]["status"], json!("disabled"));
    assert_eq!(services["cups"]["state"], json!("stopped"));
    assert_eq!(services["crond"]["state"], json!("running"));
}

#[test]
fn service_facts_without_any_service_say_so() {
    let mut host = services_host("@@converge unsupported rc-status\n".into());
    let plan = plan("service_facts", json!({}), &mut host).unwrap();
    assert_eq!(plan.result["skipped"], json!(true));
    assert!(plan.result["msg"]
        .as_str()
        .unwrap()
        .starts_with("Failed to find any services"));
    assert!(plan.warnings[0].contains("OpenRC"), "{:?}", plan.warnings);
}

#[test]
fn service_facts_take_no_arguments() {
    let error = find("service_facts")
        .unwrap()
        .validate(&json!({"name": "ssh"}))
        .unwrap_err();
    assert!(
        error.message.contains("unknown argument `name`"),
        "{}",
        error.message
    );
}

#[test]
fn service_facts_script_reads_this_machine() {
    // The real script on this machine: valid shell, and whatever it finds parses.
    let mut host = converge_modules::local::LocalConnection::new("localhost");
    let output = host
        .run(&Command::shell(
            converge_modules::service_facts::READ_SCRIPT,
        ))
        .unwrap();
    assert!(output.success(), "{}", output.stderr_text());
    let found = converge_modules::service_facts::parse_services(&output.stdout_text());
    for (name, entry) in &found.services {
        assert_eq!(entry["name"], json!(name));
        assert!(entry["state"].is_string(), "{entry}");
    }
}

const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOSDGODqRye4cmZxPEVC+M2tqKQc+57v0ogin8Umjptf";
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC";

fn home_host() -> MemoryHost {
    MemoryHost::new()
        .with_directory("/root/.ssh")
        .respond(|command| (command.to_shell_line() == "printf '%s' ~").then(|| ok("/root")))
}

/// Plan, apply, and plan again: the second plan must change nothing.
fn converge(args: Value, host: &mut MemoryHost) -> Plan {
    let first = plan("known_hosts", args.clone(), host).unwrap();
    first.apply(host).unwrap();
    let second = plan("known_hosts", args, host).unwrap();
    assert!(!second.is_change(), "second run: {:?}", second.changes);
    first
}

#[test]
fn known_hosts_adds_a_key_to_the_users_file_once() {
    let mut host = home_host();
    let first = converge(
        json!({"name": "Example.com", "key": format!("example.com {ED}")}),
        &mut host,
    );
    assert!(first.is_change());
    assert_eq!(
        host.text("/root/.ssh/known_hosts").unwrap(),
        format!("example.com {ED}\n")
    );
    assert_eq!(first.result["path"], json!("/root/.ssh/known_hosts"));
    assert_eq!(first.result["name"], json!("Example.com"));
    assert_eq!(first.result["state"], json!("file"));
}

#[test]
fn known_hosts_replaces_another_key_of_the_same_type_and_keeps_other_types() {
    let old_ed = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOld";
    let mut host = MemoryHost::new().with_file(
        "/etc/ssh/ssh_known_hosts",
        format!("example.com {old_ed}\nother.org {ED}\nexample.com {RSA}\n"),
    );
    converge(
        json!({"name": "example.com", "key": format!("example.com {ED}"), "path": "/etc/ssh/ssh_known_hosts"}),
        &mut host,
    );
    assert_eq!(
        host.text("/etc/ssh/ssh_known_hosts").unwrap(),
        format!("other.org {ED}\nexample.com {RSA}\nexample.com {ED}\n")
    );
}

#[test]
fn known_hosts_with_hash_host_is_idempotent() {
    let mut host = MemoryHost::new().with_directory("/srv");
    converge(
        json!({"name": "h.example", "key": format!("h.example {ED}"), "path": "/srv/kh", "hash_host": "yes"}),
        &mut host,
    );
    let text = host.text("/srv/kh").unwrap();
    assert!(
        text.starts_with("|1|") && text.ends_with(&format!(" {ED}\n")),
        "{text}"
    );
    assert!(!text.contains("h.example"));
}

#[test]
fn known_hosts_absent_without_key_removes_every_line_of_the_host_keeping_the_old_file() {
    let before = format!(
        "example.com {ED}\n# comment\n@cert-authority example.com {RSA}\n*.com {RSA}\nother.org {ED}\n"
    );
    let mut host = MemoryHost::new().with_file("/srv/kh", before.clone());
    converge(
        json!({"name": "example.com", "path": "/srv/kh", "state": "absent"}),
        &mut host,
    );
    assert_eq!(
        host.text("/srv/kh").unwrap(),
        format!("# comment\n@cert-authority example.com {RSA}\nother.org {ED}\n")
    );
    assert_eq!(host.text("/srv/kh.old").unwrap(), before);
}

#[test]
fn known_hosts_absent_with_a_key_not_there_changes_nothing() {
    let mut host = MemoryHost::new().with_file("/srv/kh", format!("example.com {RSA}\n"));
    let plan = plan(
        "known_hosts",
        json!({"name": "example.com", "key": format!("example.com {ED}"), "path": "/srv/kh", "state": "absent"}),
        &mut host,
    )
    .unwrap();
    assert!(!plan.is_change());
    let plan_removing = converge(
        json!({"name": "example.com", "key": format!("example.com {RSA}"), "path": "/srv/kh", "state": "absent"}),
        &mut host,
    );
    assert!(plan_removing.is_change());
    assert_eq!(host.text("/srv/kh").unwrap(), "");
}

#[test]
fn known_hosts_refuses_a_key_for_another_host_and_a_missing_key() {
    let module = find("ansible.builtin.known_hosts").unwrap();
    let error = module
        .validate(&json!({"name": "example.com", "key": format!("other.org {ED}")}))
        .unwrap_err();
    assert_eq!(
        error.message,
        "Host parameter does not match hashed host field in supplied key"
    );
    let error = module
        .validate(&json!({"host": "example.com"}))
        .unwrap_err();
    assert_eq!(error.message, "No key specified when adding a host");
    let error = module
        .validate(&json!({"name": "a,b", "state": "absent"}))
        .unwrap_err();
    assert!(error.message.starts_with("Comma separated list"));
}

fn local() -> converge_modules::local::LocalConnection {
    converge_modules::local::LocalConnection::new("localhost")
}

fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn wait_for_an_open_port_returns_at_once() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let plan = plan(
        "wait_for",
        json!({"port": port, "timeout": 10}),
        &mut local(),
    )
    .unwrap();
    assert!(!plan.is_change());
    assert_eq!(plan.result["port"], json!(port));
    assert_eq!(plan.result["state"], json!("started"));
    assert_eq!(plan.result["elapsed"], json!(0));
    assert_eq!(plan.result["match_groups"], json!([]));
}

#[test]
fn wait_for_reads_a_banner_until_the_expression_matches() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        // Each client gets the banner, and the connection stays open a while, as sshd does.
        for stream in listener.incoming().take(3) {
            let mut stream = stream.unwrap();
            let _ = std::io::Write::write_all(&mut stream, b"SSH-2.0-OpenSSH_9.2p1 Debian\r\n");
            std::thread::sleep(std::time::Duration::from_millis(1500));
        }
    });
    let found = plan(
        "wait_for",
        json!({"host": "127.0.0.1", "port": port, "search_regex": "OpenSSH_(?P<version>[0-9.]+)", "timeout": 20}),
        &mut local(),
    )
    .unwrap();
    // Found, but as in Ansible a port's match gives no groups.
    assert_eq!(found.result["match_groups"], json!([]));
    assert_eq!(found.result["match_groupdict"], json!({}));
    assert_eq!(
        found.result["search_regex"],
        json!("OpenSSH_(?P<version>[0-9.]+)")
    );
    let error = plan(
        "wait_for",
        json!({"port": port, "search_regex": "Dropbear", "timeout": 2}),
        &mut local(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("Timeout when waiting for search string Dropbear in 127.0.0.1:{port}")
    );
    drop(server);
}

#[test]
fn wait_for_a_closed_port_to_stop_and_a_missing_file_to_be_absent() {
    let port = closed_port();
    let plan_stop = plan(
        "wait_for",
        json!({"port": port, "state": "stopped", "timeout": 5}),
        &mut local(),
    )
    .unwrap();
    assert_eq!(plan_stop.result["state"], json!("stopped"));
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("lock");
    let plan_absent = plan(
        "wait_for",
        json!({"path": missing, "state": "absent", "timeout": 5}),
        &mut local(),
    )
    .unwrap();
    assert_eq!(plan_absent.result["path"], json!(missing));
}

#[test]
fn wait_for_text_that_appears_in_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    std::fs::write(&log, "booting\n").unwrap();
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(1200));
            std::fs::write(&log, "booting\nstarted in 42 ms\n").unwrap();
        })
    };
    let plan = plan(
        "wait_for",
        json!({"path": log, "search_regex": "^started in (?P<ms>\\d+) ms$", "timeout": 10}),
        &mut local(),
    )
    .unwrap();
    writer.join().unwrap();
    assert_eq!(plan.result["match_groupdict"], json!({"ms": "42"}));
    assert!(plan.result["elapsed"].as_u64().unwrap() >= 1);
}

#[test]
fn wait_for_times_out_with_ansibles_message_or_msg() {
    let port = closed_port();
    let error = plan(
        "wait_for",
        json!({"port": port, "timeout": 1}),
        &mut local(),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        format!("Timeout when waiting for 127.0.0.1:{port}")
    );
    let error = plan(
        "wait_for",
        json!({"path": "/nonexistent/converge", "timeout": 1, "msg": "no file"}),
        &mut local(),
    )
    .unwrap_err();
    assert_eq!(error.to_string(), "no file");
}

#[test]
fn wait_for_drained_counts_ansibles_active_connections() {
    use converge_modules::wait_for::active_connections;
    let tcp = fixture("wait_for/proc_net_tcp.txt");
    let established = ["01"];
    let any4: std::net::IpAddr = "0.0.0.0".parse().unwrap();
    let lo: std::net::IpAddr = "127.0.0.1".parse().unwrap();
    let peer: std::net::IpAddr = "10.0.0.7".parse().unwrap();
    // Two established connections to port 22 (one over IPv4, one IPv6 ::1 is not IPv4).
    assert_eq!(active_connections(&tcp, 22, &[any4], &[], &established), 2);
    assert_eq!(active_connections(&tcp, 22, &[lo], &[], &established), 1);
    assert_eq!(
        active_connections(&tcp, 22, &[any4], &[peer], &established),
        1
    );
    // The listening socket counts only when LISTEN is asked for.
    assert_eq!(active_connections(&tcp, 22, &[any4], &[], &["0A"]), 1);
    assert_eq!(active_connections(&tcp, 80, &[any4], &[], &established), 0);
    let any6: std::net::IpAddr = "::".parse().unwrap();
    assert_eq!(active_connections(&tcp, 22, &[any6], &[], &established), 1);
}

#[test]
fn wait_for_refuses_ansibles_bad_combinations() {
    let module = find("ansible.builtin.wait_for").unwrap();
    let cases = [
        (
            json!({"port": 22, "path": "/x"}),
            "port and path parameter can not both be passed to wait_for",
        ),
        (
            json!({"path": "/x", "state": "stopped"}),
            "state=stopped should only be used for checking a port in the wait_for module",
        ),
        (
            json!({"port": 22, "exclude_hosts": ["a"]}),
            "exclude_hosts should only be with state=drained",
        ),
        (
            json!({"port": 22, "state": "drained", "active_connection_states": ["BOGUS"]}),
            "unknown active_connection_state (BOGUS) defined",
        ),
        (
            json!({"path": "/x", "search_regex": "("}),
            "Invalid regular expression",
        ),
    ];
    for (args, message) in cases {
        let error = module.validate(&args).unwrap_err();
        assert!(
            error.message.starts_with(message),
            "{args}: {}",
            error.message
        );
    }
    assert!(!module.supports_check_mode());
    assert!(module
        .validate(&json!({"port": "22", "timeout": "30", "state": "present"}))
        .is_ok());
}

fn fetch_args(value: Value) -> converge_modules::fetch::FetchArgs {
    converge_modules::module::parse_args::<converge_modules::fetch::Fetch>(&value).unwrap()
}

#[test]
fn fetch_copies_to_the_controller_once_and_then_changes_nothing() {
    use converge_modules::fetch::{plan_fetch, Origin};
    let controller = tempfile::tempdir().unwrap();
    let origin = Origin {
        inventory_hostname: "web1",
        base_dir: controller.path(),
    };
    let mut host = MemoryHost::new().with_file("/etc/motd", "hello\n");
    let args = json!({"src": "/etc/motd", "dest": "fetched"});
    let first = plan_fetch(fetch_args(args.clone()), &mut host, &origin).unwrap();
    assert!(first.is_change());
    let dest = controller.path().join("fetched/web1/etc/motd");
    assert_eq!(first.result["dest"], json!(dest));
    assert_eq!(
        first.result["checksum"],
        json!("f572d396fae9206628714fb2ce00f72e94f2258f")
    );
    assert_eq!(
        first.result["md5sum"],
        json!("b1946ac92492d2347c6235b4d2611184")
    );
    assert_eq!(first.result["remote_md5sum"], Value::Null);
    // Planning wrote nothing on the controller; applying there does.
    assert!(!dest.exists());
    first.apply(&mut local()).unwrap();
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello\n");
    // The host's file was not touched.
    assert_eq!(host.text("/etc/motd").unwrap(), "hello\n");
    let second = plan_fetch(fetch_args(args), &mut host, &origin).unwrap();
    assert!(!second.is_change());
    assert_eq!(second.result["file"], json!("/etc/motd"));
    assert_eq!(second.result["checksum"], first.result["checksum"]);
}

#[test]
fn fetch_flat_into_a_directory_needs_the_trailing_slash() {
    use converge_modules::fetch::{plan_fetch, Origin};
    let controller = tempfile::tempdir().unwrap();
    std::fs::create_dir(controller.path().join("keys")).unwrap();
    let origin = Origin {
        inventory_hostname: "web1",
        base_dir: controller.path(),
    };
    let mut host = MemoryHost::new().with_file("/etc/ssh/k.pub", "ssh-ed25519 AAAA\n");
    let error = plan_fetch(
        fetch_args(json!({"src": "/etc/ssh/k.pub", "dest": "keys", "flat": true})),
        &mut host,
        &origin,
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("dest is an existing directory"),
        "{error}"
    );
    let plan = plan_fetch(
        fetch_args(json!({"src": "/etc/ssh/k.pub", "dest": "keys/", "flat": "yes"})),
        &mut host,
        &origin,
    )
    .unwrap();
    assert_eq!(
        plan.result["dest"],
        json!(controller.path().join("keys/k.pub"))
    );
}

#[test]
fn fetch_of_a_missing_file_fails_unless_told_not_to() {
    use converge_modules::fetch::{plan_fetch, Origin};
    let controller = tempfile::tempdir().unwrap();
    let origin = Origin {
        inventory_hostname: "web1",
        base_dir: controller.path(),
    };
    let mut host = MemoryHost::new().with_directory("/etc");
    let error = plan_fetch(
        fetch_args(json!({"src": "/etc/nope", "dest": "out"})),
        &mut host,
        &origin,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "the remote file does not exist, not transferring, ignored"
    );
    let plan = plan_fetch(
        fetch_args(json!({"src": "/etc/nope", "dest": "out", "fail_on_missing": false})),
        &mut host,
        &origin,
    )
    .unwrap();
    assert!(!plan.is_change());
    assert_eq!(plan.result["file"], json!("/etc/nope"));
    let error = plan_fetch(
        fetch_args(json!({"src": "/etc", "dest": "out"})),
        &mut host,
        &origin,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "remote file is a directory, fetch cannot work on directories"
    );
}

#[test]
fn fetch_validates_the_copy_against_the_hosts_checksum() {
    use converge_modules::fetch::{plan_fetch, Origin};
    let controller = tempfile::tempdir().unwrap();
    let origin = Origin {
        inventory_hostname: "web1",
        base_dir: controller.path(),
    };
    let mut host = MemoryHost::new().with_file("/srv/data.bin", vec![0u8, 159, 146, 150]);
    let mut plan = plan_fetch(
        fetch_args(json!({"src": "/srv/data.bin", "dest": "bin"})),
        &mut host,
        &origin,
    )
    .unwrap();
    // Binary content is not shown.
    assert!(matches!(
        plan.changes[0].detail,
        converge_modules::ChangeDetail::Hidden(_)
    ));
    // A copy whose checksum is not the host's is refused and leaves nothing behind.
    let converge_modules::Step::WriteFile { content, .. } = &mut plan.steps[0] else {
        panic!("a write");
    };
    content.push(0);
    let error = plan.apply(&mut local()).unwrap_err();
    assert!(error.to_string().contains("validation failed"), "{error}");
    assert!(!controller.path().join("bin/web1/srv/data.bin").exists());
}

#[test]
fn fetch_of_a_link_to_a_directory_is_a_directory() {
    use converge_modules::fetch::{plan_fetch, Origin};
    let controller = tempfile::tempdir().unwrap();
    let origin = Origin {
        inventory_hostname: "web1",
        base_dir: controller.path(),
    };
    let mut host = MemoryHost::new()
        .with_directory("/srv/real")
        .with_symlink("/srv/link", "/srv/real");
    let error = plan_fetch(
        fetch_args(json!({"src": "/srv/link", "dest": "out"})),
        &mut host,
        &origin,
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "remote file is a directory, fetch cannot work on directories"
    );
    let plan = plan_fetch(
        fetch_args(json!({"src": "/srv/link", "dest": "out", "fail_on_missing": "no"})),
        &mut host,
        &origin,
    )
    .unwrap();
    assert_eq!(
        plan.result["msg"],
        json!("remote file is a directory, fetch cannot work on directories, not transferring, ignored")
    );
    assert!(plan.result.get("file").is_none());
}
