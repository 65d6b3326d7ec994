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
