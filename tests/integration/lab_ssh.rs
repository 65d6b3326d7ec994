//! converge over real SSH against lab hosts: many hosts in parallel, idempotence, check mode
//! that changes nothing, unreachable hosts, host keys, ProxyJump, become, quoting.

use crate::lab::Lab;
use crate::support::{Run, Test};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The example site applied to lab hosts as desktops: the lab's inventory plus a file that
/// puts the `lab` group under `desktops`, with the example's group_vars beside it. (The home
/// server's roles are exercised end to end by `e2e_home_server`.)
fn example_on(lab: &Lab) -> Test {
    let mut test = Test::new().file(
        "groups.yml",
        "all:\n  children:\n    desktops:\n      children:\n        lab: {}\n",
    );
    for name in ["all.yml", "desktops.yml"] {
        let text = std::fs::read_to_string(format!("{REPO}/inventory/group_vars/{name}"))
            .expect("example group_vars");
        test = test.file(&format!("group_vars/{name}"), &text);
    }
    let inventory = lab.inventory();
    let site = format!("{REPO}/examples/site.yml");
    test.args(&["-i", &inventory, "-i", "groups.yml", &site])
}

fn with_args(test: Test, lab: &Lab, extra: &[&str]) -> Test {
    let inventory = lab.inventory();
    let site = format!("{REPO}/examples/site.yml");
    let mut args = vec![
        "-i",
        inventory.as_str(),
        "-i",
        "groups.yml",
        site.as_str(),
        "-e",
        r#"{"input_method_users": ["deploy"]}"#,
    ];
    args.extend_from_slice(extra);
    test.args(&args)
}

#[test]
fn twenty_hosts_converge_in_parallel_check_changes_nothing_and_one_dead_host_is_unreachable() {
    let lab = Lab::start(20);
    let names: Vec<String> = lab.hosts.iter().map(|h| h.name.clone()).collect();

    let before: Vec<String> = names.iter().map(|h| lab.snapshot(h)).collect();
    let test = with_args(example_on(&lab), &lab, &["--check", "--diff"]);
    let run = test.run();
    run.expect_status(0)
        .stderr_has("+++ b/etc/converge/managed-by");
    let after: Vec<String> = names.iter().map(|h| lab.snapshot(h)).collect();
    assert_eq!(before, after, "--check changed a host");

    let test = with_args(test, &lab, &["--diff"]);
    let run = test.run();
    run.expect_status(0);
    for name in &names {
        let recap = run.recap(name);
        assert!(
            recap.contains("failed=0") && !recap.contains("changed=0"),
            "{name}: {recap}"
        );
        assert_eq!(
            lab.sh(name, "cat /etc/converge/managed-by"),
            "This host is managed by converge.\nContact: root@localhost\n"
        );
        assert!(lab
            .sh(name, "cat /home/deploy/.xprofile")
            .contains("export XMODIFIERS=@im=fcitx"));
    }
    assert!(
        !std::path::Path::new("/etc/converge/managed-by").exists(),
        "the real machine was changed"
    );

    let test = with_args(test, &lab, &[]);
    let run = test.run();
    run.expect_status(0);
    for name in &names {
        assert!(
            run.recap(name).contains("changed=0"),
            "{name} changed on the second run"
        );
    }

    lab.sshd("h7", false);
    let run = test.run();
    run.expect_status(3);
    assert!(run.recap("h7").contains("unreachable=1"), "{}", run.stderr);
    for name in names.iter().filter(|n| *n != "h7") {
        assert!(
            run.recap(name).contains("unreachable=0 failed=0"),
            "{name}: {}",
            run.stderr
        );
    }
    run.stderr_has("connection refused");
}

#[test]
fn a_changed_host_key_is_refused_and_names_the_known_hosts_line() {
    let lab = Lab::start(1);
    let known_hosts = lab.state().join("known_hosts");
    let text = std::fs::read_to_string(&known_hosts).expect("known_hosts");
    // Swap in another host's key for h1: what a man in the middle would present.
    let other = tempfile::tempdir().expect("tmp");
    let key = other.path().join("key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen");
    assert!(status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("pub");
    let fake: Vec<&str> = public.split_whitespace().take(2).collect();
    let swapped: String = text
        .lines()
        .map(|line| {
            let mut fields = line.splitn(3, ' ');
            let hosts = fields.next().unwrap_or("");
            format!("{hosts} {} {}\n", fake[0], fake[1])
        })
        .collect();
    std::fs::write(&known_hosts, swapped).expect("write known_hosts");
    let test = Test::new()
        .file(
            "site.yml",
            "- hosts: lab\n  tasks:\n    - copy: {dest: /etc/should-not-exist, content: x}\n",
        )
        .args(&["-i", &lab.inventory(), "site.yml"]);
    let run = test.run();
    run.expect_status(3)
        .stderr_has("has CHANGED")
        .stderr_has("known_hosts:1");
    assert_eq!(
        lab.exec("h1", &["test", "-e", "/etc/should-not-exist"])
            .status,
        1
    );
}

#[test]
fn proxyjump_reaches_a_host_only_reachable_through_another() {
    let lab = Lab::start(2);
    let h1 = lab.hosts[0].ipv6.clone();
    let h2 = lab.hosts[1].ipv6.clone();
    // h2 drops SSH from the controller's own address: only h1 can reach it.
    lab.sh(
        "h2",
        "ip6tables -A INPUT -s fd00:c0::1 -p tcp --dport 22 -j DROP",
    );
    let state = lab.state().display().to_string();
    let test = Test::new()
        .file(
            "ssh_config",
            &format!(
                "Host jump\n  HostName {h1}\n  User root\n  IdentityFile {state}/id_ed25519\n  UserKnownHostsFile {state}/known_hosts\n\nHost inner\n  HostName {h2}\n  User root\n  ProxyJump jump\n  IdentityFile {state}/id_ed25519\n  UserKnownHostsFile {state}/known_hosts\n"
            ),
        )
        .file(
            "inventory.yml",
            "all:\n  hosts:\n    inner:\n      ansible_ssh_common_args: \"-F {dir}/ssh_config -o ConnectTimeout=5\"\n",
        )
        .file(
            "site.yml",
            "- hosts: inner\n  gather_facts: false\n  tasks:\n    - copy: {dest: /etc/via-jump, content: \"hello\\n\"}\n",
        )
        .args(&["-i", "inventory.yml", "site.yml"]);
    let run = test.run();
    run.expect_status(0);
    assert_eq!(lab.sh("h2", "cat /etc/via-jump"), "hello\n");
    assert_eq!(lab.exec("h1", &["test", "-e", "/etc/via-jump"]).status, 1);
}

#[test]
fn become_with_sudo_with_and_without_a_password() {
    let lab = Lab::start(1);
    let key = lab.state().join("id_ed25519").display().to_string();
    let known = lab.state().join("known_hosts").display().to_string();
    let address = lab.hosts[0].ipv6.clone();
    let inventory = |user: &str| {
        format!(
            "all:\n  hosts:\n    h1:\n      ansible_host: \"{address}\"\n      ansible_user: {user}\n      ansible_ssh_private_key_file: {key}\n      ansible_ssh_common_args: \"-o UserKnownHostsFile={known}\"\n"
        )
    };
    let site = "- hosts: h1\n  gather_facts: false\n  become: true\n  tasks:\n    - command: id -un\n      register: who\n      changed_when: false\n    - copy:\n        dest: /root/become-{{ ansible_user }}\n        content: \"{{ who.stdout }}\\n\"\n";
    let test = Test::new()
        .file("nopasswd.yml", &inventory("deploy"))
        .file("passwd.yml", &inventory("deploypw"))
        .file("site.yml", site)
        .file("password", "converge-lab\n");
    let run = test.args(&["-i", "nopasswd.yml", "site.yml"]).run();
    run.expect_status(0);
    assert_eq!(lab.sh("h1", "cat /root/become-deploy"), "root\n");
    assert_eq!(lab.sh("h1", "stat -c %U /root/become-deploy"), "root\n");

    let test = Test::new()
        .file("passwd.yml", &inventory("deploypw"))
        .file("site.yml", site)
        .file("password", "converge-lab\n");
    let test = test.args(&["-i", "passwd.yml", "site.yml"]);
    let run = test.run();
    assert_ne!(run.status, 0, "sudo without the password must fail");
    let run = test
        .args(&[
            "-i",
            "passwd.yml",
            "site.yml",
            "--become-password-file",
            "password",
        ])
        .run();
    run.expect_status(0);
    assert_eq!(lab.sh("h1", "cat /root/become-deploypw"), "root\n");
}

#[test]
fn hostile_argument_reaches_the_command_as_one_literal_argument() {
    let lab = Lab::start(1);
    let test = Test::new()
        .file(
            "site.yml",
            "- hosts: lab\n  gather_facts: false\n  tasks:\n    - command:\n        argv:\n          - /bin/sh\n          - -c\n          - 'printf \"%s\\n\" \"$#\" \"$1\" > /tmp/argv'\n          - sh\n          - \"-n it's \\\"q\\\"; touch /tmp/pwned | $(touch /tmp/pwned2) `touch /tmp/pwned3`\\nnext line\"\n",
        )
        .args(&["-i", &lab.inventory(), "site.yml"]);
    test.run().expect_status(0);
    assert_eq!(
        lab.sh("h1", "cat /tmp/argv"),
        "1\n-n it's \"q\"; touch /tmp/pwned | $(touch /tmp/pwned2) `touch /tmp/pwned3`\nnext line\n"
    );
    for file in ["/tmp/pwned", "/tmp/pwned2", "/tmp/pwned3"] {
        assert_eq!(
            lab.exec("h1", &["test", "-e", file]).status,
            1,
            "{file} was created"
        );
    }
}

#[test]
fn a_second_run_is_refused_while_the_first_holds_the_hosts_run_lock() {
    let lab = Lab::start(1);
    let slow = Test::new()
        .file(
            "site.yml",
            "- hosts: lab\n  gather_facts: false\n  tasks:\n    - command: sleep 4\n    - copy: {dest: /etc/conv-lock, content: \"first\\n\"}\n",
        )
        .args(&["-i", &lab.inventory(), "site.yml"]);
    let quick = Test::new()
        .file(
            "site.yml",
            "- hosts: lab\n  gather_facts: false\n  tasks:\n    - copy: {dest: /etc/conv-lock, content: \"second\\n\"}\n",
        )
        .args(&["-i", &lab.inventory(), "site.yml"]);
    let dry = Test::new()
        .file(
            "site.yml",
            "- hosts: lab\n  gather_facts: false\n  tasks:\n    - copy: {dest: /etc/conv-lock, content: x}\n",
        )
        .args(&["-i", &lab.inventory(), "site.yml", "--check"]);
    std::thread::scope(|scope| {
        let first = scope.spawn(|| slow.run());
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let second = quick.run();
        second
            .expect_status(2)
            .stderr_has("another converge run is changing `h1`");
        // A dry run does not need the lock.
        dry.run().expect_status(0);
        first.join().expect("first run").expect_status(0);
    });
    assert_eq!(lab.sh("h1", "cat /etc/conv-lock"), "first\n");
    quick.run().expect_status(0);
    assert_eq!(lab.sh("h1", "cat /etc/conv-lock"), "second\n");
}

#[test]
fn a_silent_command_keeps_its_host_and_a_cut_link_is_found_by_keepalives() {
    let lab = Lab::start(2);
    let state = lab.state().display().to_string();
    // Keepalives every 2 s, 2 unanswered make the link dead: 6 s of silence from the host.
    let args = format!(
        "-o UserKnownHostsFile={state}/known_hosts -o IdentitiesOnly=yes -o ServerAliveInterval=2 -o ServerAliveCountMax=2 -o ControlMaster=auto -o ControlPersist=60s"
    );
    let test = Test::new()
        .file(
            "keepalive.yml",
            &format!(
                "all:\n  hosts:\n    h1:\n      ansible_ssh_common_args: \"{args}\"\n    h2:\n      ansible_ssh_common_args: \"{args}\"\n"
            ),
        )
        .file(
            "site.yml",
            "- hosts: lab\n  gather_facts: false\n  tasks:\n    - command: sleep 9\n    - copy: {dest: /etc/conv-after-silence, content: \"done\\n\"}\n",
        )
        .args(&["-i", &lab.inventory(), "-i", "keepalive.yml", "site.yml"]);
    let started = std::time::Instant::now();
    let run = std::thread::scope(|scope| {
        let run = scope.spawn(|| test.run());
        std::thread::sleep(std::time::Duration::from_millis(1500));
        lab.sh("h2", "ip link set eth0 down");
        run.join().expect("converge run")
    });
    let elapsed = started.elapsed();
    run.expect_status(3).stderr_has("the link is down");
    // h1's command was silent for 9 s, longer than the dead-link bound: still reachable.
    assert!(
        run.recap("h1").contains("unreachable=0 failed=0"),
        "{}",
        run.stderr
    );
    assert_eq!(lab.sh("h1", "cat /etc/conv-after-silence"), "done\n");
    assert!(run.recap("h2").contains("unreachable=1"), "{}", run.stderr);
    assert!(
        elapsed < std::time::Duration::from_secs(25),
        "the cut host held the run for {elapsed:?}"
    );
}

/// The recap event of a `--format json` run.
fn json_recap(run: &Run) -> serde_json::Value {
    run.stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|event| event["event"] == "recap")
        .expect("a recap event")
}

/// The benchmark's workload (bench/workload/converge), for the round-trip count.
fn bench_workload() -> Test {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/workload/converge");
    let read =
        |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).expect("bench workload file");
    Test::new()
        .file("site.yml", &read("site.yml"))
        .file("templates/app.conf.j2", &read("templates/app.conf.j2"))
        .file("templates/peers.conf.j2", &read("templates/peers.conf.j2"))
}

#[test]
fn the_benchmarks_no_change_run_makes_one_channel_and_a_fixed_number_of_requests_per_host() {
    let lab = Lab::start(2);
    let first = bench_workload().args(&["-i", &lab.inventory(), "site.yml"]);
    first.run().expect_status(0);
    let again = bench_workload().args(&["-i", &lab.inventory(), "site.yml", "--format", "json"]);
    let run = again.run();
    run.expect_status(0);
    let recap = json_recap(&run);
    for host in ["h1", "h2"] {
        let stats = &recap["hosts"][host];
        assert_eq!(stats["changed"], 0, "{recap}");
        // One long-lived shell per host: every command, read and write goes through it.
        assert_eq!(stats["channels"], 1, "{recap}");
        // The run lock, one request with the reads of the nine plans, the command task.
        assert_eq!(stats["requests"], NO_CHANGE_REQUESTS, "{recap}");
        // Nine plans make seventeen reads (a sysctl reads the file, its live value, the
        // routes and the accept_ra values; a rule reads the firewall's version and the
        // chain, which shows the rule) of ten lines: the sysctls share the file, the routes
        // and the accept_ra values, the three lines edit one file, the rules share the
        // version and the chain.
        assert_eq!(stats["answered_ahead"], 17, "{recap}");
    }
    // `-vv` lists each host's round trips and commands.
    let verbose = bench_workload()
        .args(&["-i", &lab.inventory(), "site.yml", "-vv"])
        .run();
    verbose
        .expect_status(0)
        .stderr_has(&format!(
            "note: [h1] 1 channel, {NO_CHANGE_REQUESTS} requests, 17 reads answered ahead"
        ))
        .stderr_has("# 10 reads made ahead")
        .stderr_has("cat /etc/hostname");
}

/// Requests the benchmark's no-change run sends to each host.
const NO_CHANGE_REQUESTS: u64 = 3;

/// Reads made ahead answer a plan only while nothing else ran on the host: a command that
/// changes a file between two edits of it, or a change, makes the next plan read the host
/// again, and the result is what task-by-task reads would give.
#[test]
fn reads_made_ahead_are_dropped_when_anything_else_runs_on_the_host() {
    let lab = Lab::start(1);
    lab.sh(
        "h1",
        "printf 'a=1\\n' > /etc/conv-ahead.conf; printf 'x=1\\n' > /etc/conv-ahead-2.conf",
    );
    let playbook = r#"
- hosts: all
  gather_facts: false
  tasks:
    - name: a is already there
      lineinfile: {path: /etc/conv-ahead.conf, line: a=1}
    - name: x is already there
      lineinfile: {path: /etc/conv-ahead-2.conf, line: x=1}
    - name: another line appears behind converge's back
      shell: echo b=0 >> /etc/conv-ahead.conf
      changed_when: false
    - name: b is set, replacing the line the command added
      lineinfile: {path: /etc/conv-ahead.conf, regexp: '^b=', line: b=2}
    - name: c is added after b
      lineinfile: {path: /etc/conv-ahead.conf, line: c=3}
    - name: y is added
      lineinfile: {path: /etc/conv-ahead-2.conf, line: y=2}
"#;
    let run = Test::new()
        .file("site.yml", playbook)
        .args(&["-i", &lab.inventory(), "site.yml", "-vv"])
        .run();
    // Read ahead: the first two plans, then the three edits (the first of which changes).
    run.expect_status(0)
        .stderr_has("# 2 reads made ahead")
        .stderr_has("3 reads answered ahead");
    assert!(run.recap("h1").contains("changed=3"), "{}", run.stderr);
    assert_eq!(lab.sh("h1", "cat /etc/conv-ahead.conf"), "a=1\nb=2\nc=3\n");
    assert_eq!(lab.sh("h1", "cat /etc/conv-ahead-2.conf"), "x=1\ny=2\n");
}

/// A play that gathers facts sends them in the request that reads ahead for its first
/// tasks: the run lock and one request, whatever the number of tasks.
#[test]
fn a_plays_facts_go_in_the_request_that_reads_ahead_for_its_first_tasks() {
    let lab = Lab::start(1);
    lab.sh(
        "h1",
        "printf 'a=1\\n' > /etc/conv-facts-a.conf; printf 'b=1\\n' > /etc/conv-facts-b.conf",
    );
    let playbook = r#"
- hosts: all
  gather_facts: true
  tasks:
    - lineinfile: {path: /etc/conv-facts-a.conf, line: a=1}
    - lineinfile: {path: /etc/conv-facts-b.conf, line: b=1}
    - debug: {msg: "family {{ ansible_os_family }} on {{ ansible_hostname }}"}
"#;
    let run = Test::new()
        .file("site.yml", playbook)
        .args(&["-i", &lab.inventory(), "site.yml", "--format", "json"])
        .run();
    run.expect_status(0);
    assert!(run.stdout.contains("family Debian on h1"), "{}", run.stdout);
    let recap = json_recap(&run);
    let stats = &recap["hosts"]["h1"];
    assert_eq!(stats["changed"], 0, "{recap}");
    // The run lock, then the facts and both files' reads in one request.
    assert_eq!(stats["requests"], 2, "{recap}");
    assert_eq!(stats["answered_ahead"], 3, "{recap}");
}
