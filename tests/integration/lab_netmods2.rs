//! Lab test for `fetch`, `wait_for`, `known_hosts` and `service_facts` over real SSH against
//! lab host h1: the fetched files land in the test's directory on the controller, `wait_for`
//! reads h1's own sshd banner and a log file, `known_hosts` writes a hashed entry that the real
//! `ssh-keygen -F` finds, and `service_facts` lists the Slackware rc.d scripts put in h1's private /etc.

use crate::lab::Lab;
use crate::support::Test;

fn site(address: &str, host_key: &str) -> String {
    format!(
        r#"- hosts: h1
  gather_facts: no
  tasks:
    - name: fetch below the host's name
      ansible.builtin.fetch:
        src: /srv/n2/app.conf
        dest: fetched
    - name: fetch flat
      fetch:
        src: /srv/n2/app.conf
        dest: "flat/{{{{ inventory_hostname }}}}.conf"
        flat: yes
    - name: wait for sshd's banner
      wait_for:
        host: "{address}"
        port: 22
        search_regex: OpenSSH
        timeout: 30
    - name: wait for the log line
      ansible.builtin.wait_for:
        path: /srv/n2/app.log
        search_regex: 'ready on port (\d+)'
        timeout: 30
      register: ready
    - name: trust h1's key, hashed
      ansible.builtin.known_hosts:
        name: lab.example
        key: "lab.example {host_key}"
        path: /srv/n2/ssh/known_hosts
        hash_host: yes
    - service_facts:
    - name: report
      copy:
        dest: /srv/n2/report
        content: "port={{{{ ready.match_groups | default(['none']) | first }}}} demo={{{{ services.demo.state }}}}/{{{{ services.demo.status }}}}/{{{{ services.demo.source }}}} off={{{{ services.off.state }}}}/{{{{ services.off.status }}}}\n"
"#
    )
}

#[test]
fn lab_netmods2_fetch_wait_for_known_hosts_and_service_facts() {
    let lab = Lab::start(1);
    let inventory = lab.inventory();
    let address = lab.hosts[0].ipv6.clone();
    let public = std::fs::read_to_string(lab.state().join("hosts/h1/ssh_host_ed25519_key.pub"))
        .expect("h1's host key");
    let host_key: String = public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    // Slackware's rc.d layout in h1's private /etc: an enabled script with a status case
    // and a disabled one without.
    lab.sh("h1", "mkdir -p /etc/rc.d && : > /etc/rc.d/rc.M");
    lab.put(
        "h1",
        "/etc/rc.d/rc.demo",
        b"#!/bin/sh\ncase \"$1\" in\n  status) echo demo is running ;;\n  *) echo \"usage: $0 start|stop|status\" ;;\nesac\n",
        0o755,
    );
    lab.put(
        "h1",
        "/etc/rc.d/rc.off",
        b"#!/bin/sh\nexec /usr/sbin/off\n",
        0o644,
    );
    lab.sh(
        "h1",
        "rm -rf /srv/n2 && mkdir -p /srv/n2/ssh && printf 'listen = 8080\\n' > /srv/n2/app.conf && printf 'booting\\nready on port 8080\\n' > /srv/n2/app.log",
    );

    // --check: the fetches are planned, wait_for is skipped, nothing changes anywhere.
    let snapshot = lab.snapshot("h1");
    let test = Test::new()
        .file("site.yml", &site(&address, &host_key))
        .args(&["-i", &inventory, "site.yml", "--check", "--diff"]);
    let run = test.run();
    run.expect_status(0);
    assert!(
        run.recap("h1").contains("changed=4") && run.recap("h1").contains("skipped=2"),
        "{}",
        run.stderr
    );
    assert_eq!(lab.snapshot("h1"), snapshot, "--check changed h1");
    assert!(!test.path().join("fetched").exists(), "--check fetched");
    assert!(!test.path().join("flat").exists(), "--check fetched");

    let test = test.args(&["-i", &inventory, "site.yml"]);
    let run = test.run();
    run.expect_status(0);
    assert!(
        run.recap("h1").contains("changed=4") && run.recap("h1").contains("failed=0"),
        "{}",
        run.stderr
    );
    let fetched = |relative: &str| std::fs::read_to_string(test.path().join(relative)).ok();
    assert_eq!(
        fetched("fetched/h1/srv/n2/app.conf").as_deref(),
        Some("listen = 8080\n")
    );
    assert_eq!(fetched("flat/h1.conf").as_deref(), Some("listen = 8080\n"));
    assert_eq!(
        lab.sh("h1", "cat /srv/n2/report"),
        "port=8080 demo=running/enabled/bsdinit off=stopped/disabled\n"
    );
    // The real ssh-keygen finds the hashed entry, and the name is not in the file.
    let found = lab.sh(
        "h1",
        "ssh-keygen -F lab.example -f /srv/n2/ssh/known_hosts; grep -c lab.example /srv/n2/ssh/known_hosts || true",
    );
    assert!(
        found.contains("# Host lab.example found: line 1"),
        "{found}"
    );
    assert!(found.contains(&host_key), "{found}");
    assert!(found.ends_with("0\n"), "{found}");

    // Second run: nothing to do, on the host or the controller.
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);

    // A missing file fails with Ansible's message.
    let missing = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - fetch:\n        src: /srv/n2/nope\n        dest: fetched\n";
    let run = Test::new()
        .file("missing.yml", missing)
        .args(&["-i", &inventory, "missing.yml"])
        .run();
    run.expect_status(2)
        .stderr_has("the remote file does not exist, not transferring, ignored");
}
