//! Lab tests for `ufw` and `git`: converge over SSH against lab hosts, checked with the real
//! tools (`ufw status`, `iptables-save`, `git rev-parse`).
//!
//! A lab host has its own network namespace (so its own netfilter tables) and its own /etc
//! and /srv: ufw's state lives in /etc/ufw and /etc/default/ufw (its /lib/ufw holds only the
//! ufw-init scripts, and its lock is in the host's private /run), so enabling ufw in h1 never
//! reaches h2 or the machine running the tests (checked at the end). The git repositories
//! are made inside h1 and cloned over `file://` and plain paths.

use crate::lab::Lab;
use crate::support::Test;

/// The machine's own ufw state and tables, which no lab run may touch.
fn machine_ufw() -> (String, String, String) {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let listing = std::fs::read_dir("/lib/ufw")
        .map(|dir| {
            let mut names: Vec<String> = dir
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            names.join(" ")
        })
        .unwrap_or_default();
    (
        read("/etc/ufw/user.rules") + &read("/etc/ufw/ufw.conf") + &read("/etc/default/ufw"),
        listing,
        ufw_chains(&String::from_utf8_lossy(
            &std::process::Command::new("iptables-save")
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default(),
        )),
    )
}

/// The `ufw-` lines of an iptables-save output.
fn ufw_chains(save: &str) -> String {
    save.lines()
        .filter(|line| line.contains("ufw-"))
        .collect::<Vec<_>>()
        .join("\n")
}

const UFW_SITE: &str = r#"- hosts: h1
  gather_facts: no
  tasks:
    - name: ssh first
      community.general.ufw:
        rule: allow
        port: 22
        proto: tcp
        comment: ssh
    - name: postgres from the LAN
      ufw:
        rule: allow
        src: 10.0.0.0/8
        port: "5432"
        proto: tcp
    - name: enable, deny incoming
      ufw:
        state: enabled
        policy: deny
      register: enabled
    - ufw:
        logging: medium
    - ufw:
        default: deny
        direction: outgoing
"#;

#[test]
fn lab_ufwgit_ufw_enables_rules_policies_and_logging_in_the_hosts_own_tables() {
    let machine_before = machine_ufw();
    let lab = Lab::start(2);
    let inventory = lab.inventory();
    let h2_before = (
        lab.snapshot("h2"),
        lab.sh("h2", "iptables-save | grep -c ufw- || true"),
    );

    // --check: the plan, nothing changed (files nor tables).
    let snapshot = lab.snapshot("h1");
    let tables = lab.sh("h1", "iptables-save | sed '/^#/d'");
    let test = Test::new()
        .file("site.yml", UFW_SITE)
        .args(&["-i", &inventory, "site.yml", "--check", "--diff"]);
    let check = test.run();
    check
        .expect_status(0)
        .stderr_has("+allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in comment 'ssh'")
        .stderr_has("ufw: inactive → active")
        .stderr_has("ufw default (outgoing): allow → deny");
    assert!(check.recap("h1").contains("changed=5"), "{}", check.stderr);
    assert_eq!(lab.snapshot("h1"), snapshot, "--check changed files");
    assert_eq!(
        lab.sh("h1", "iptables-save | sed '/^#/d'"),
        tables,
        "--check changed the tables"
    );

    // A real run: every task changes.
    let test = test.args(&["-i", &inventory, "site.yml"]);
    let run = test.run();
    run.expect_status(0);
    assert!(
        run.recap("h1").contains("changed=5") && run.recap("h1").contains("failed=0"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("SSH port"),
        "no lock-out warning: 22 is allowed\n{}",
        run.stderr
    );
    let status = lab.sh("h1", "ufw status verbose");
    assert!(
        status.starts_with(
            "Status: active\nLogging: on (medium)\nDefault: deny (incoming), deny (outgoing)"
        ),
        "{status}"
    );
    assert!(
        status.contains("5432/tcp                   ALLOW IN    10.0.0.0/8"),
        "{status}"
    );
    let save = lab.sh("h1", "iptables-save");
    assert!(
        save.contains("-A ufw-user-input -p tcp -m tcp --dport 22 -j ACCEPT"),
        "{save}"
    );
    assert!(
        save.contains("-A ufw-user-input -s 10.0.0.0/8 -p tcp -m tcp --dport 5432 -j ACCEPT"),
        "{save}"
    );
    assert!(save.contains(":INPUT DROP"), "{save}");

    // Second run over a fresh SSH connection (ufw let it in): nothing to do.
    let again = test.run();
    again.expect_status(0);
    assert!(again.recap("h1").contains("changed=0"), "{}", again.stderr);
    let idempotent = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - ufw: {rule: allow, port: 22, proto: tcp, comment: ssh}\n    - ufw: {state: enabled, policy: deny}\n    - ufw: {logging: medium}\n      register: r\n    - assert:\n        that:\n          - not r.changed\n          - \"'Status: active' in r.msg\"\n";
    let run = Test::new()
        .file("again.yml", idempotent)
        .args(&["-i", &inventory, "again.yml"])
        .run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);

    // Deleting the SSH rule would lock the next connection out: check mode says so.
    let lockout = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - ufw: {rule: allow, port: 22, proto: tcp, comment: ssh, delete: yes}\n";
    let run = Test::new()
        .file("lockout.yml", lockout)
        .args(&["-i", &inventory, "lockout.yml", "--check"])
        .run();
    run.expect_status(0)
        .stderr_has("ufw denies new connections to SSH port 22");

    // A rule that does cut SSH off: converge cannot reconnect, the task fails, and the host
    // puts the previous rules back by itself.
    let cut = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - ufw: {rule: deny, port: 22, proto: tcp, insert: 1, rollback_timeout: 3}\n";
    let run = Test::new()
        .file("cut.yml", cut)
        .args(&["-i", &inventory, "cut.yml"])
        .run();
    run.expect_status(2);
    assert!(
        run.stderr
            .contains("could not open a new connection within 3 s")
            || run.stderr.contains("the lock-out guard already ran"),
        "{}",
        run.stderr
    );
    lab.sh(
        "h1",
        "i=0; while ufw status | grep -q DENY || ls -d /run/converge-ufw-* >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.2; done",
    );
    assert_eq!(
        lab.sh("h1", "iptables-save | grep -c 'dport 22 -j DROP' || true"),
        "0\n"
    );
    let run = Test::new()
        .file("again.yml", idempotent)
        .args(&["-i", &inventory, "again.yml"])
        .run();
    run.expect_status(0);
    assert!(
        run.recap("h1").contains("changed=0"),
        "reachable and as before\n{}",
        run.stderr
    );

    // Without ufw the task fails; it is never skipped.
    let missing = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - ufw: {state: enabled}\n      environment: {PATH: /usr/bin:/bin}\n";
    let run = Test::new()
        .file("missing.yml", missing)
        .args(&["-i", &inventory, "missing.yml"])
        .run();
    run.expect_status(2)
        .stderr_has("ufw is not installed on the host");

    // h2 and the machine never saw any of it.
    assert_eq!(
        (
            lab.snapshot("h2"),
            lab.sh("h2", "iptables-save | grep -c ufw- || true")
        ),
        h2_before,
        "h2 changed"
    );
    lab.sh("h1", "ufw --force disable >/dev/null");
    drop(lab);
    assert_eq!(
        machine_ufw(),
        machine_before,
        "the machine's ufw state changed"
    );
}

#[test]
fn lab_ufwgit_git_clones_updates_and_reports_before_and_after() {
    let lab = Lab::start(1);
    let inventory = lab.inventory();
    let commit = |message: &str| {
        lab.sh(
            "h1",
            &format!("cd /srv/work && echo {message} > a.txt && git add a.txt && git commit -qm {message} && git push -q origin HEAD 2>&1 && git rev-parse HEAD"),
        )
        .trim()
        .to_string()
    };
    lab.sh(
        "h1",
        "rm -rf /srv/git /srv/work /srv/site /srv/site-v1 /srv/mirror.git && mkdir -p /srv/git && git init -q --bare -b main /srv/git/site.git && git clone -q /srv/git/site.git /srv/work 2>/dev/null && git -C /srv/work checkout -q -b main && git -C /srv/work config user.email lab@example.com && git -C /srv/work config user.name lab",
    );
    let first = commit("one");
    lab.sh(
        "h1",
        "cd /srv/work && git tag -a v1 -m v1 && git push -q origin v1",
    );
    let site = format!(
        r#"- hosts: h1
  gather_facts: no
  tasks:
    - ansible.builtin.git:
        repo: /srv/git/site.git
        dest: /srv/site
      register: site
    - assert:
        that:
          - site.after == '{first}'
      when: site.before is none
    - git:
        repo: file:///srv/git/site.git
        dest: /srv/site-v1
        version: v1
        depth: 1
    - git:
        repo: /srv/git/site.git
        dest: /srv/mirror.git
        bare: yes
"#
    );
    let snapshot = lab.snapshot("h1");
    let test = Test::new()
        .file("site.yml", &site)
        .args(&["-i", &inventory, "site.yml", "--check", "--diff"]);
    let check = test.run();
    check.expect_status(0).stderr_has(&format!(
        "/srv/site: absent → clone file:///srv/git/site.git at HEAD ({first})"
    ));
    assert!(check.recap("h1").contains("changed=3"), "{}", check.stderr);
    assert_eq!(lab.snapshot("h1"), snapshot, "--check changed files");

    let test = test.args(&["-i", &inventory, "site.yml"]);
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=3"), "{}", run.stderr);
    assert_eq!(
        lab.sh("h1", "git -C /srv/site rev-parse HEAD").trim(),
        first
    );
    assert_eq!(
        lab.sh("h1", "git -C /srv/site symbolic-ref HEAD"),
        "refs/heads/main\n"
    );
    assert_eq!(
        lab.sh(
            "h1",
            "git -C /srv/site-v1 rev-parse --is-shallow-repository"
        ),
        "true\n"
    );
    assert_eq!(
        lab.sh(
            "h1",
            "git -C /srv/mirror.git rev-parse --is-bare-repository"
        ),
        "true\n"
    );
    let again = test.run();
    again.expect_status(0);
    assert!(again.recap("h1").contains("changed=0"), "{}", again.stderr);

    // A new commit upstream: the checkout and the mirror move, the tag's checkout stays.
    let second = commit("two");
    let update = format!(
        "{site}    - assert:\n        that:\n          - site.changed\n          - site.before == '{first}'\n          - site.after == '{second}'\n          - not site.remote_url_changed\n"
    );
    let run = Test::new()
        .file("update.yml", &update)
        .args(&["-i", &inventory, "update.yml", "--diff"])
        .run();
    run.expect_status(0)
        .stderr_has(&format!("/srv/site: {first} → {second} (HEAD)"));
    assert!(run.recap("h1").contains("changed=2"), "{}", run.stderr);
    assert_eq!(lab.sh("h1", "cat /srv/site/a.txt"), "two\n");
    assert_eq!(
        lab.sh("h1", "git -C /srv/mirror.git rev-parse main").trim(),
        second
    );
    assert_eq!(
        lab.sh("h1", "git -C /srv/site-v1 rev-parse HEAD").trim(),
        first
    );

    // Local modifications fail the task unless `force: yes`, which discards them.
    lab.sh("h1", "echo dirty > /srv/site/a.txt");
    let forced = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - git: {repo: /srv/git/site.git, dest: /srv/site, version: v1}\n";
    let run = Test::new()
        .file("forced.yml", forced)
        .args(&["-i", &inventory, "forced.yml"])
        .run();
    run.expect_status(2)
        .stderr_has("Local modifications exist in the destination: /srv/site (force=no).");
    let forced = forced.replace("version: v1}", "version: v1, force: yes}");
    let run = Test::new()
        .file("forced.yml", &forced)
        .args(&["-i", &inventory, "forced.yml"])
        .run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=1"), "{}", run.stderr);
    assert_eq!(lab.sh("h1", "cat /srv/site/a.txt"), "one\n");
    assert_eq!(
        lab.sh("h1", "git -C /srv/site rev-parse HEAD").trim(),
        first
    );
}
