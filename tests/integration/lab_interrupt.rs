//! Ctrl-C: a run interrupted in the middle of a slow task says so (which host was in which
//! task), prints the recap so far, leaves no temp file or held run lock on the hosts, and
//! exits 130; a second Ctrl-C ends it at once.

use crate::lab::Lab;
use crate::support::{sandboxed_play, Run, Test};
use std::process::Child;
use std::time::{Duration, Instant};

/// What a Ctrl-C in the terminal does: SIGINT to the foreground process group.
fn ctrl_c(child: &Child) {
    let group = child.id() as i32;
    // SAFETY: kill(2) with a negative pid signals the process group the child leads.
    let result = unsafe { libc::kill(-group, libc::SIGINT) };
    assert_eq!(result, 0, "could not signal converge's process group");
}

/// Wait for `child` at most `limit`; kill it and fail the test when it takes longer.
fn finish_within(mut child: Child, limit: Duration) -> Run {
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait for converge").is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().expect("collect converge");
            panic!(
                "converge still ran {limit:?} after Ctrl-C:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("collect converge");
    Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Wait until `ready` holds (at most `limit`).
fn wait_for(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ctrl_c_in_a_slow_task_stops_at_once_reports_cleans_up_and_exits_130() {
    let lab = Lab::start(2);
    let test = Test::new()
        .file(
            "site.yml",
            "- hosts: lab\n  gather_facts: false\n  tasks:\n\
             \x20   - name: Before\n      copy: {dest: /etc/interrupt-before, content: \"written\\n\"}\n\
             \x20   - name: Slow task\n      shell: touch /tmp/slow-started && sleep 30\n\
             \x20   - name: After\n      copy: {dest: /etc/interrupt-after, content: \"never\\n\"}\n",
        )
        .args(&["-i", &lab.inventory(), "site.yml"]);
    let child = test.spawn();
    wait_for(
        "the slow task to start on both hosts",
        Duration::from_secs(60),
        || {
            lab.hosts.iter().all(|h| {
                lab.exec(&h.name, &["test", "-e", "/tmp/slow-started"])
                    .status
                    == 0
            })
        },
    );
    let interrupted = Instant::now();
    ctrl_c(&child);
    // Well before `sleep 30` ends: the run does not wait for the host's command.
    let run = finish_within(child, Duration::from_secs(15));
    assert!(
        interrupted.elapsed() < Duration::from_secs(15),
        "the run waited for the slow task"
    );
    run.expect_status(130)
        .stderr_has("INTERRUPTED (Ctrl-C)")
        .stderr_has("h1: in the middle of task `Slow task`")
        .stderr_has("h2: in the middle of task `Slow task`")
        .stderr_has("h1: connection cut; run lock released")
        .stderr_has("h2: connection cut; run lock released")
        .stderr_has("RECAP");
    for host in ["h1", "h2"] {
        // The recap so far: `Before` changed, the slow task is neither ok nor failed.
        assert!(
            run.recap(host)
                .contains("ok=1 changed=1 unreachable=0 failed=0"),
            "{host}: {}",
            run.stderr
        );
        assert_eq!(
            lab.sh(host, "cat /etc/interrupt-before"),
            "written\n",
            "{host}"
        );
        assert_eq!(
            lab.exec(host, &["test", "-e", "/etc/interrupt-after"])
                .status,
            1,
            "{host}: a task after the interrupt ran"
        );
        // The run lock is free: another run could start now.
        let lock = lab.exec(host, &["flock", "-n", "/var/lib/converge/run.lock", "true"]);
        assert_eq!(lock.status, 0, "{host}: the run lock is still held");
        // No temp file of converge's atomic writes is left anywhere on the host.
        let upper = lab.state().join("hosts").join(host).join("upper");
        let output = std::process::Command::new("find")
            .arg(&upper)
            .args(["-name", "*.converge-*"])
            .output()
            .expect("find");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "",
            "{host}: temp files left"
        );
    }
    assert!(!run.stderr.contains("UNREACHABLE"), "{}", run.stderr);
}

#[test]
fn ctrl_c_on_a_local_host_ends_its_command_and_is_no_failure() {
    // With `ansible_connection: local` the command gets the terminal's SIGINT too.
    let test = sandboxed_play(
        "    - name: Slow local task\n      shell: touch /tmp/local-started && sleep 30\n\
         \x20   - name: After\n      copy: {dest: /etc/interrupt-after, content: \"never\\n\"}\n",
    );
    let child = test.spawn();
    wait_for("the local task to start", Duration::from_secs(60), || {
        test.sandbox_file("/tmp/local-started").is_some()
    });
    ctrl_c(&child);
    let run = finish_within(child, Duration::from_secs(10));
    run.expect_status(130)
        .stderr_has("box: in the middle of task `Slow local task`");
    assert!(
        run.recap("box")
            .contains("ok=0 changed=0 unreachable=0 failed=0"),
        "{}",
        run.stderr
    );
    assert_eq!(test.sandbox_file("/etc/interrupt-after"), None);
}

#[test]
fn a_second_ctrl_c_ends_the_run_at_once() {
    // The command ignores SIGINT, as some do: the first Ctrl-C cannot stop it, so the run
    // waits for it; the second ends converge without waiting.
    let test = sandboxed_play(
        "    - name: Stubborn\n      shell: \"trap '' INT; touch /tmp/stubborn-started; sleep 30\"\n",
    );
    let child = test.spawn();
    wait_for(
        "the stubborn task to start",
        Duration::from_secs(60),
        || test.sandbox_file("/tmp/stubborn-started").is_some(),
    );
    ctrl_c(&child);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child_running(&child),
        "the first Ctrl-C ended converge although its task was still running"
    );
    let second = Instant::now();
    ctrl_c(&child);
    let run = finish_within(child, Duration::from_secs(5));
    assert!(second.elapsed() < Duration::from_secs(5));
    run.expect_status(130)
        .stderr_has("interrupted: stopping")
        .stderr_has("interrupted again: quitting at once");
}

/// Whether the process is still there (not yet reaped, not a zombie).
fn child_running(child: &Child) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", child.id())).unwrap_or_default();
    // The state is the field after the parenthesised command name.
    let state = stat.rsplit(')').next().unwrap_or("").trim_start();
    !stat.is_empty() && !state.starts_with('Z')
}
