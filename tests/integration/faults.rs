//! Faults in the lab, bounded in time: connections killed mid-run, a link cut, a full
//! filesystem, and the become password kept out of every process's argv and environment.
//! `CONVERGE_KILL_TRIALS` raises the number of kill trials (default 30).

use crate::lab::Lab;
use crate::support::Test;
use std::time::{Duration, Instant};

const FILES: usize = 10;

fn version_text(version: usize) -> String {
    format!("version {version} of the managed file\n").repeat(4000)
}

fn playbook(version: usize) -> String {
    let mut text = String::from("- hosts: lab\n  gather_facts: false\n  tasks:\n");
    for file in 0..FILES {
        text.push_str(&format!(
            "    - copy:\n        dest: /srv/managed/file{file}.conf\n        content: \"{{{{ body }}}}\"\n"
        ));
    }
    let _ = version;
    text
}

fn sshd_listener_pid(lab: &Lab, host: &str) -> String {
    let hosts = std::fs::read_to_string(lab.state().join("hosts.txt")).expect("hosts.txt");
    hosts
        .lines()
        .find(|line| line.split_whitespace().next() == Some(host))
        .and_then(|line| line.split_whitespace().nth(3))
        .expect("sshd pid in hosts.txt")
        .to_string()
}

#[test]
fn connections_killed_mid_run_leave_every_file_old_or_new_with_mode_and_owner() {
    let trials: usize = std::env::var("CONVERGE_KILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let lab = Lab::start(1);
    lab.sh(
        "h1",
        &format!(
            "mkdir -p /srv/managed && for i in $(seq 0 {}); do printf 'initial\\n' > /srv/managed/file$i.conf; chmod 640 /srv/managed/file$i.conf; chown nobody:nogroup /srv/managed/file$i.conf; done",
            FILES - 1
        ),
    );
    let listener = sshd_listener_pid(&lab, "h1");
    let mut known: Vec<String> = vec!["initial\n".to_string()];
    let mut interrupted = 0;
    // A fixed pseudo-random sequence of kill delays, so a failure can be reproduced.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for trial in 1..=trials {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(30 + seed % 400);
        let body = version_text(trial);
        known.push(body.clone());
        let test = Test::new()
            .file("site.yml", &playbook(trial))
            .file("vars.yml", &format!("body: {:?}\n", body))
            .args(&[
                "-i",
                &lab.inventory(),
                "site.yml",
                "-e",
                "@vars.yml",
                "-T",
                "5",
            ]);
        let status = std::thread::scope(|scope| {
            let run = scope.spawn(|| test.run());
            std::thread::sleep(delay);
            // The listener's children are the per-connection sshd processes.
            let _ = std::process::Command::new("pkill")
                .args(["-KILL", "-P", &listener])
                .status();
            run.join().expect("converge run").status
        });
        if status != 0 {
            interrupted += 1;
            assert!(
                matches!(status, 2 | 3),
                "trial {trial}: exit status {status}"
            );
        }
        let listing = lab.sh(
            "h1",
            "for f in /srv/managed/file*.conf; do stat -c '%n %a %U:%G' \"$f\"; done",
        );
        for line in listing.lines() {
            assert!(
                line.ends_with(" 640 nobody:nogroup"),
                "trial {trial}: mode or owner lost: {line}"
            );
        }
        for file in 0..FILES {
            let content = lab.sh("h1", &format!("cat /srv/managed/file{file}.conf"));
            assert!(
                known.contains(&content),
                "trial {trial}: file{file} is neither an old nor the new content ({} bytes)",
                content.len()
            );
        }
    }
    assert!(
        interrupted * 5 >= trials,
        "only {interrupted} of {trials} runs were interrupted: the kills came too late to test anything"
    );
    // The next run converges the host, and the one after finds nothing to do.
    let body = version_text(trials + 1);
    let test = Test::new()
        .file("site.yml", &playbook(trials + 1))
        .file("vars.yml", &format!("body: {:?}\n", body))
        .args(&["-i", &lab.inventory(), "site.yml", "-e", "@vars.yml"]);
    test.run().expect_status(0);
    for file in 0..FILES {
        assert_eq!(
            lab.sh("h1", &format!("cat /srv/managed/file{file}.conf")),
            body
        );
    }
    assert!(test
        .run()
        .expect_status(0)
        .recap("h1")
        .contains("changed=0"));
}

#[test]
fn a_cut_link_makes_that_host_unreachable_within_the_timeout_and_the_others_finish() {
    let lab = Lab::start(3);
    let test = Test::new()
        .file(
            "site.yml",
            "- hosts: lab\n  gather_facts: false\n  tasks:\n    - command: sleep 2\n    - copy: {dest: /etc/conv-after-cut, content: \"done\\n\"}\n",
        )
        .args(&["-i", &lab.inventory(), "site.yml", "-T", "3", "--command-timeout", "4"]);
    let started = Instant::now();
    let run = std::thread::scope(|scope| {
        let run = scope.spawn(|| test.run());
        std::thread::sleep(Duration::from_millis(800));
        lab.sh("h2", "ip link set eth0 down");
        run.join().expect("converge run")
    });
    let elapsed = started.elapsed();
    run.expect_status(3);
    assert!(run.recap("h2").contains("unreachable=1"), "{}", run.stderr);
    for host in ["h1", "h3"] {
        assert!(
            run.recap(host).contains("unreachable=0 failed=0"),
            "{}",
            run.stderr
        );
        assert_eq!(lab.sh(host, "cat /etc/conv-after-cut"), "done\n");
    }
    assert!(
        elapsed < Duration::from_secs(20),
        "the cut host held the run for {elapsed:?}"
    );
}

#[test]
fn a_full_filesystem_is_a_clear_error_and_leaves_the_old_file_and_no_temp_files() {
    let lab = Lab::start(1);
    lab.sh(
        "h1",
        "mkdir -p /srv/full && mount -t tmpfs -o size=64k tmpfs /srv/full && printf 'old\\n' > /srv/full/app.conf",
    );
    let big = "x".repeat(1024 * 1024);
    let test = Test::new()
        .file(
            "site.yml",
            "- hosts: lab\n  gather_facts: false\n  tasks:\n    - copy: {dest: /srv/full/app.conf, content: \"{{ big }}\"}\n",
        )
        .file("vars.yml", &format!("big: {big}\n"))
        .args(&["-i", &lab.inventory(), "site.yml", "-e", "@vars.yml"]);
    let run = test.run();
    run.expect_status(2).stderr_has("No space left on device");
    assert_eq!(lab.sh("h1", "cat /srv/full/app.conf"), "old\n");
    assert_eq!(
        lab.sh("h1", "ls -A /srv/full"),
        "app.conf\n",
        "a temp file was left behind"
    );
}

#[test]
fn the_become_password_never_appears_in_argv_or_environment() {
    let lab = Lab::start(1);
    let key = lab.state().join("id_ed25519").display().to_string();
    let known = lab.state().join("known_hosts").display().to_string();
    let address = lab.hosts[0].ipv6.clone();
    // A password no path or other process on this machine contains.
    let password = format!(
        "Pw-{}-{:x}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ 0x5eed
    );
    lab.sh("h1", &format!("echo 'deploypw:{password}' | chpasswd"));
    let test = Test::new()
        .file(
            "inventory.yml",
            &format!(
                "all:\n  hosts:\n    h1:\n      ansible_host: \"{address}\"\n      ansible_user: deploypw\n      ansible_ssh_private_key_file: {key}\n      ansible_ssh_common_args: \"-o UserKnownHostsFile={known}\"\n"
            ),
        )
        .file(
            "site.yml",
            "- hosts: h1\n  gather_facts: false\n  become: true\n  tasks:\n    - command: sleep 3\n    - copy: {dest: /root/become-ok, content: ok}\n",
        )
        .file("password", &format!("{password}\n"))
        .args(&["-i", "inventory.yml", "site.yml", "--become-password-file", "password"]);
    let leaks = std::thread::scope(|scope| {
        let run = scope.spawn(|| test.run());
        let mut leaks = Vec::new();
        let deadline = Instant::now() + Duration::from_millis(2500);
        // PIDs are shared between the lab hosts and this machine: one scan sees both sides.
        while Instant::now() < deadline {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                for what in ["cmdline", "environ"] {
                    if let Ok(bytes) = std::fs::read(entry.path().join(what)) {
                        if String::from_utf8_lossy(&bytes).contains(&password) {
                            leaks.push(format!("{}/{what}", entry.path().display()));
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        run.join().expect("run").expect_status(0);
        leaks
    });
    assert!(leaks.is_empty(), "the password showed in {leaks:?}");
    assert_eq!(lab.sh("h1", "cat /root/become-ok"), "ok");
}
