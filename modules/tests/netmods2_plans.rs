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
