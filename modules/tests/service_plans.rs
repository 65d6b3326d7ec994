//! `service` and `systemd`: plans for Slackware rc.d scripts, sysvinit and systemd units.

use converge_modules::memory_host::MemoryHost;
use converge_modules::module::{Context, Module, ModuleError};
use converge_modules::{Command, Facts, Output, Plan, Program, Step};
use serde_json::{json, Value};

fn ok(stdout: &str) -> Option<Output> {
    Some(Output {
        status: 0,
        stdout: stdout.as_bytes().to_vec(),
        stderr: Vec::new(),
    })
}

fn facts(service_mgr: &str) -> Facts {
    Facts {
        service_mgr: service_mgr.into(),
        ..Facts::default()
    }
}

fn plan(
    module: &str,
    args: Value,
    host: &mut MemoryHost,
    facts: &Facts,
) -> Result<Plan, ModuleError> {
    converge_modules::find(module)
        .expect("module is registered")
        .plan(&args, host, &Context { facts })
}

/// The command lines of the plan's steps, those that always run first.
fn steps(plan: &Plan) -> Vec<String> {
    plan.always
        .iter()
        .chain(&plan.steps)
        .map(|step| match step {
            Step::Run { command, .. } => command.to_shell_line(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// A host whose read script answers with `observed` (the script's key=value lines).
fn rc_host(observed: &'static str) -> MemoryHost {
    MemoryHost::new().respond(move |command| match &command.program {
        Program::Shell(script) if script.contains("script=present") => ok(observed),
        _ => None,
    })
}

#[test]
fn slackware_enable_and_start_a_stopped_service() {
    let mut host = rc_host(
        "script=present\nenabled=no\nstatus_rc=1\nstatus_out=sshd is not running.\nhow=status\n",
    );
    let plan = plan(
        "service",
        json!({"name": "sshd", "state": "started", "enabled": "yes"}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect("plan");
    assert_eq!(
        steps(&plan),
        ["chmod 755 /etc/rc.d/rc.sshd", "/etc/rc.d/rc.sshd start"]
    );
    assert_eq!(
        plan.changes,
        [
            converge_modules::Change::value("sshd enabled", Some("no".into()), Some("yes".into())),
            converge_modules::Change::value(
                "sshd state",
                Some("stopped".into()),
                Some("started".into())
            ),
        ]
    );
    assert_eq!(host.commands_run.len(), 1, "one read command");
    assert_eq!(plan.result["state"], json!("started"));
    assert_eq!(plan.result["enabled"], json!(true));
}

#[test]
fn slackware_running_and_enabled_is_no_change() {
    let mut host = rc_host(
        "script=present\nenabled=yes\nstatus_rc=0\nstatus_out=sshd is running.\nhow=status\n",
    );
    let plan = plan(
        "service",
        json!({"name": "sshd", "state": "started", "enabled": true}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect("plan");
    assert!(!plan.is_change(), "{plan:?}");
}

#[test]
fn slackware_stop_then_disable_runs_the_script_while_it_is_executable() {
    let mut host = rc_host("script=present\nenabled=yes\nrunning=yes\nhow=pgrep\n");
    let plan = plan(
        "service",
        json!({"name": "dnsmasq", "state": "stopped", "enabled": false}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect("plan");
    assert_eq!(
        steps(&plan),
        [
            "/etc/rc.d/rc.dnsmasq stop",
            "chmod 644 /etc/rc.d/rc.dnsmasq"
        ]
    );
}

#[test]
fn slackware_disabled_script_is_started_through_the_shell_and_restart_always_changes() {
    let mut host = rc_host("script=present\nenabled=no\nrunning=yes\nhow=pgrep\n");
    let plan = plan(
        "service",
        json!({"name": "httpd", "state": "restarted", "arguments": "-q"}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect("plan");
    assert_eq!(steps(&plan), ["/bin/sh /etc/rc.d/rc.httpd restart -q"]);
    assert!(plan.is_change());
}

#[test]
fn slackware_admin_disabled_stopped_service_is_not_started_by_a_restart() {
    for state in ["restarted", "started", "reloaded"] {
        let mut host = rc_host("script=present\nenabled=no\nrunning=no\nhow=pgrep\n");
        let plan = plan(
            "service",
            json!({"name": "sendmail", "state": state}),
            &mut host,
            &facts("bsdinit"),
        )
        .expect("plan");
        assert!(!plan.is_change(), "{state}: {plan:?}");
        assert_eq!(
            plan.warnings,
            ["/etc/rc.d/rc.sendmail is not executable (disabled): sendmail is not started; set `enabled: true` to enable and start it"]
        );
        assert_eq!(plan.result["state"], json!("stopped"));
    }
    // Asked for: enabled, then started.
    let mut host = rc_host("script=present\nenabled=no\nrunning=no\nhow=pgrep\n");
    let plan = plan(
        "service",
        json!({"name": "sendmail", "state": "restarted", "enabled": true}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect("plan");
    assert_eq!(
        steps(&plan),
        [
            "chmod 755 /etc/rc.d/rc.sendmail",
            "/etc/rc.d/rc.sendmail restart"
        ]
    );
    assert!(plan.warnings.is_empty());
}

#[test]
fn slackware_reload_of_a_stopped_service_starts_it() {
    let mut host = rc_host("script=present\nenabled=yes\nrunning=no\nhow=pgrep\n");
    let plan = plan(
        "service",
        json!({"name": "httpd", "state": "reloaded"}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect("plan");
    assert_eq!(steps(&plan), ["/etc/rc.d/rc.httpd start"]);
}

#[test]
fn slackware_script_an_earlier_task_planned_is_restarted_in_check_mode() {
    // The read command runs on the real host (no script yet); the host's file view (check
    // mode's simulation) has the script an earlier task of the run would write.
    let mut host = rc_host("script=missing\n")
        .with_file("/etc/rc.d/rc.guest-network", "#!/bin/sh\n")
        .with_attributes("/etc/rc.d/rc.guest-network", 0o755, "root", "root");
    let plan = plan(
        "service",
        json!({"name": "guest-network", "state": "restarted", "arguments": "dhcpd"}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect("plan");
    assert_eq!(steps(&plan), ["/etc/rc.d/rc.guest-network restart dhcpd"]);
}

#[test]
fn slackware_missing_script_is_a_clear_error() {
    let mut host = rc_host("script=missing\n");
    let error = plan(
        "service",
        json!({"name": "radvd", "state": "started"}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect_err("no script");
    assert_eq!(
        error.to_string(),
        "no /etc/rc.d/rc.radvd on this host; is the package installed?"
    );
}

#[test]
fn pattern_reaches_pgrep_through_the_environment() {
    let mut host = MemoryHost::new().respond(|command: &Command| {
        let pattern = command
            .env
            .iter()
            .find(|(k, _)| k == "CONVERGE_PATTERN")
            .map(|(_, v)| v.clone())?;
        match &command.program {
            Program::Shell(script) if !script.contains("named -u") && pattern == "named -u" => {
                ok("script=present\nenabled=yes\nrunning=no\nhow=pattern\n")
            }
            _ => None,
        }
    });
    let plan = plan(
        "service",
        json!({"name": "bind", "state": "started", "pattern": "named -u"}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect("plan");
    assert_eq!(steps(&plan), ["/etc/rc.d/rc.bind start"]);
    assert_eq!(plan.result["running_detected_by"], json!("pattern"));
}

/// Run the real read script against fake rc scripts in a temp dir instead of /etc/rc.d.
fn real_shell_host(root: &std::path::Path) -> MemoryHost {
    let root = root.to_string_lossy().into_owned();
    MemoryHost::new().respond(move |command: &Command| {
        let Program::Shell(script) = &command.program else {
            return None;
        };
        let script = script.replace("/etc/rc.d/", &format!("{root}/"));
        let output = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .envs(command.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .ok()?;
        Some(Output {
            status: output.status.code().unwrap_or(1),
            stdout: output.stdout,
            stderr: output.stderr,
        })
    })
}

#[test]
fn read_script_on_a_real_shell() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str, mode: u32| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    // Slackware style: a status case that exits 0 but says stopped.
    write(
        "rc.ntpd",
        "#!/bin/sh\ncase \"$1\" in\n'start') echo start;;\n'status') echo 'ntpd is stopped.';;\nesac\n",
        0o755,
    );
    // No status case: pgrep -x decides (no process has this name).
    write(
        "rc.convergenoproc",
        "#!/bin/sh\ncase \"$1\" in\nstart) :;;\nesac\n",
        0o644,
    );
    // A status that says running, on a disabled script (run through sh).
    write(
        "rc.up",
        "#!/bin/sh\ncase \"$1\" in\n  status|st) echo 'up is running'; exit 0;;\nesac\n",
        0o644,
    );

    let mut host = real_shell_host(dir.path());
    let ntpd = plan(
        "service",
        json!({"name": "ntpd", "state": "started"}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect("plan");
    assert_eq!(steps(&ntpd), ["/etc/rc.d/rc.ntpd start"]);
    assert_eq!(ntpd.result["running_detected_by"], json!("status"));
    assert_eq!(ntpd.result["enabled"], json!(true));

    let noproc = plan(
        "service",
        json!({"name": "convergenoproc", "state": "started", "enabled": true}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect("plan");
    assert_eq!(
        steps(&noproc),
        [
            "chmod 755 /etc/rc.d/rc.convergenoproc",
            "/etc/rc.d/rc.convergenoproc start"
        ]
    );
    assert_eq!(noproc.result["running_detected_by"], json!("pgrep"));

    let up = plan(
        "service",
        json!({"name": "up", "state": "started"}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect("plan");
    assert!(!up.is_change(), "{up:?}");

    // No process has this command line; the reading shell must not match its own pattern.
    let absent = plan(
        "service",
        json!({"name": "up", "state": "started", "pattern": "no-such-process-converge-xyz"}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect("plan");
    // rc.up is not executable: disabled by the admin, so not started (a warning says so).
    assert!(steps(&absent).is_empty(), "{absent:?}");
    assert_eq!(absent.warnings.len(), 1, "{absent:?}");

    let missing = plan(
        "service",
        json!({"name": "gone", "enabled": true}),
        &mut host,
        &facts("bsdinit"),
    )
    .expect_err("missing");
    assert!(missing
        .to_string()
        .starts_with("no /etc/rc.d/rc.gone on this host"));
}

#[test]
fn sysvinit_uses_service_and_update_rc_d() {
    let mut host = rc_host(
        "script=present\nenabled=no\nstatus_rc=3\nstatus_out=radvd is not running\nhow=status\n",
    );
    let plan = plan(
        "service",
        json!({"name": "radvd", "state": "started", "enabled": true}),
        &mut host,
        &facts("sysvinit"),
    )
    .expect("plan");
    assert_eq!(
        steps(&plan),
        [
            "update-rc.d radvd defaults",
            "update-rc.d radvd enable",
            "service radvd start"
        ]
    );
}

fn systemd_host(show: &'static str) -> MemoryHost {
    MemoryHost::new().respond(move |command: &Command| match &command.program {
        Program::Argv(argv)
            if argv.first().map(String::as_str) == Some("systemctl")
                && argv.get(1).map(String::as_str) == Some("show") =>
        {
            ok(show)
        }
        _ => None,
    })
}

#[test]
fn service_on_systemd_delegates_to_systemctl() {
    let mut host = systemd_host("Id=radvd.service\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nUnitFileState=disabled\n");
    let plan = plan(
        "service",
        json!({"name": "radvd", "state": "started", "enabled": true}),
        &mut host,
        &facts("systemd"),
    )
    .expect("plan");
    assert_eq!(
        steps(&plan),
        ["systemctl enable radvd", "systemctl start radvd"]
    );
    assert_eq!(
        host.commands_run,
        ["systemctl show radvd --property=Id,LoadState,ActiveState,SubState,UnitFileState"]
    );
}

#[test]
fn use_overrides_facts_and_missing_facts_are_an_error() {
    let mut host = rc_host("script=present\nenabled=yes\nrunning=yes\nhow=pgrep\n");
    let error = plan(
        "service",
        json!({"name": "sshd", "state": "started"}),
        &mut host,
        &facts(""),
    )
    .expect_err("no facts");
    assert!(
        error.to_string().contains("facts were not gathered"),
        "{error}"
    );
    let plan = plan(
        "service",
        json!({"name": "sshd", "state": "started", "use": "bsdinit"}),
        &mut host,
        &facts(""),
    )
    .expect("plan");
    assert!(!plan.is_change());
}

#[test]
fn service_arguments_are_checked() {
    let module = converge_modules::find("service").expect("registered");
    assert!(
        module.validate(&json!({"name": "sshd"})).is_err(),
        "needs state or enabled"
    );
    assert!(module
        .validate(&json!({"name": "-x", "state": "started"}))
        .is_err());
    assert!(module
        .validate(&json!({"name": "a;b", "state": "started"}))
        .is_err());
    assert!(module
        .validate(&json!({"name": "sshd", "state": "running"}))
        .is_err());
    assert!(module
        .validate(&json!({"name": "getty@tty1", "state": "started"}))
        .is_ok());
}

#[test]
fn systemd_daemon_reload_mask_and_state() {
    let mut host = systemd_host("Id=foo.service\nLoadState=masked\nActiveState=inactive\nSubState=dead\nUnitFileState=masked\n");
    let plan = plan(
        "systemd",
        json!({"name": "foo", "masked": false, "enabled": true, "state": "started", "daemon_reload": true}),
        &mut host,
        &facts("systemd"),
    )
    .expect("plan");
    assert_eq!(
        steps(&plan),
        [
            "systemctl daemon-reload",
            "systemctl unmask foo",
            "systemctl enable foo",
            "systemctl start foo"
        ]
    );
}

#[test]
fn a_lone_daemon_reload_runs_but_is_no_change_as_in_ansible() {
    let mut host = MemoryHost::new();
    let plan = plan(
        "systemd",
        json!({"daemon_reload": true}),
        &mut host,
        &facts("systemd"),
    )
    .expect("plan");
    assert!(!plan.is_change());
    assert_eq!(steps(&plan), ["systemctl daemon-reload"]);
}

#[test]
fn systemd_masked_unit_cannot_start_without_unmask() {
    let mut host = systemd_host("LoadState=masked\nActiveState=inactive\nUnitFileState=masked\n");
    let error = plan(
        "systemd",
        json!({"name": "foo", "state": "started"}),
        &mut host,
        &facts("systemd"),
    )
    .expect_err("masked");
    assert!(error.to_string().contains("is masked"), "{error}");
}

#[test]
fn systemd_unknown_unit_is_a_clear_error() {
    let mut host = systemd_host("Id=nope.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nUnitFileState=\n");
    let error = plan(
        "systemd",
        json!({"name": "nope", "state": "started"}),
        &mut host,
        &facts("systemd"),
    )
    .expect_err("unknown unit");
    assert_eq!(
        error.to_string(),
        "could not find the requested unit `nope`"
    );
    // Stopping a unit that does not exist has nothing to do.
    let plan = plan(
        "systemd",
        json!({"name": "nope", "state": "stopped"}),
        &mut host,
        &facts("systemd"),
    )
    .expect("plan");
    assert!(!plan.is_change());
}

#[test]
fn systemd_restart_and_reload_always_change_and_static_counts_as_enabled() {
    let mut host = systemd_host(
        "LoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=static\n",
    );
    let plan = plan(
        "systemd",
        json!({"name": "foo", "state": "reloaded", "enabled": true, "no_block": true}),
        &mut host,
        &facts("systemd"),
    )
    .expect("plan");
    assert_eq!(steps(&plan), ["systemctl --no-block reload foo"]);
    let restart = converge_modules::Typed::<converge_modules::systemd::SystemdService>::new()
        .plan(
            &json!({"name": "foo", "state": "restarted"}),
            &mut host,
            &Context {
                facts: &facts("systemd"),
            },
        )
        .expect("plan");
    assert_eq!(steps(&restart), ["systemctl restart foo"]);
}

#[test]
fn systemd_arguments_are_checked() {
    let module = converge_modules::find("systemd").expect("registered");
    assert!(module.validate(&json!({"daemon_reload": true})).is_ok());
    assert!(module.validate(&json!({"state": "started"})).is_err());
    assert!(module
        .validate(&json!({"name": "foo", "scope": "user", "state": "started"}))
        .is_err());
    assert!(module
        .validate(&json!({"name": "--all", "state": "started"}))
        .is_err());
}
