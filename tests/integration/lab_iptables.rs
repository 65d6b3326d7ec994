//! Lab tests for the `iptables` module's rule form with Ansible's arguments: converge over SSH
//! against a lab host (its own network namespace), checked with `iptables-save`.

use crate::lab::Lab;
use crate::support::Test;

const PLAYBOOK: &str = r#"- hosts: h1
  gather_facts: false
  vars:
    open_ports: [22, 8080]
  tasks:
    - name: Loopback
      ansible.builtin.iptables:
        chain: INPUT
        in_interface: lo
        jump: ACCEPT
        comment: loopback
    - name: Established
      ansible.builtin.iptables:
        chain: INPUT
        match: conntrack
        ctstate: [ESTABLISHED, RELATED]
        jump: ACCEPT
    - name: Service ports, an integer from the loop
      ansible.builtin.iptables:
        chain: INPUT
        protocol: tcp
        destination_port: "{{ item }}"
        match: tcp
        ctstate: NEW
        jump: ACCEPT
        comment: "port {{ item }}"
      loop: "{{ open_ports }}"
    - name: Pings, limited
      ansible.builtin.iptables:
        chain: INPUT
        protocol: icmp
        icmp_type: echo-request
        limit: 5/second
        limit_burst: 10
        jump: ACCEPT
    - name: A bad host, inserted first
      ansible.builtin.iptables:
        chain: INPUT
        source: 192.0.2.66
        jump: DROP
        action: insert
        rule_num: 1
    - name: Web over IPv6
      ansible.builtin.iptables:
        ip_version: ipv6
        chain: INPUT
        protocol: tcp
        destination_ports: [80, 443]
        jump: ACCEPT
        comment: web
"#;

/// The `-A` lines of `tool` on `host`.
fn rules(lab: &Lab, host: &str, tool: &str) -> Vec<String> {
    lab.sh(host, tool)
        .lines()
        .filter(|line| line.starts_with("-A "))
        .map(String::from)
        .collect()
}

#[test]
fn lab_iptables_ansible_arguments_leave_the_rules_ansible_leaves_and_converge_once() {
    let lab = Lab::start(1);
    let inventory = lab.inventory();
    let test = Test::new().file("site.yml", PLAYBOOK);

    let before = lab.snapshot("h1");
    let check = test.args(&["-i", &inventory, "site.yml", "--check", "--diff"]);
    let run = check.run();
    run.expect_status(0)
        .stderr_has("/iptables/filter/INPUT: absent → -A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m comment --comment \"port 22\" -j ACCEPT")
        .stderr_has("absent → -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT")
        .stderr_has("absent → -I INPUT 1 -s 192.0.2.66/32 -j DROP");
    assert!(run.recap("h1").contains("changed=6"), "{}", run.stderr);
    assert_eq!(lab.snapshot("h1"), before, "--check changed files on h1");
    assert!(
        rules(&lab, "h1", "iptables-save").is_empty(),
        "--check added rules"
    );

    let apply = check.args(&["-i", &inventory, "site.yml"]);
    let run = apply.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=6"), "{}", run.stderr);
    // What ansible-core 2.19 leaves for the same tasks (the same argv, so the kernel stores
    // the matches in the same order).
    assert_eq!(
        rules(&lab, "h1", "iptables-save"),
        [
            "-A INPUT -s 192.0.2.66/32 -j DROP",
            "-A INPUT -i lo -m comment --comment loopback -j ACCEPT",
            "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m comment --comment \"port 22\" -j ACCEPT",
            "-A INPUT -p tcp -m tcp --dport 8080 -m conntrack --ctstate NEW -m comment --comment \"port 8080\" -j ACCEPT",
            "-A INPUT -p icmp -m limit --limit 5/sec --limit-burst 10 -m icmp --icmp-type 8 -j ACCEPT",
        ]
    );
    assert_eq!(
        rules(&lab, "h1", "ip6tables-save"),
        ["-A INPUT -p tcp -m multiport --dports 80,443 -m comment --comment web -j ACCEPT"]
    );

    let run = apply.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);
    assert_eq!(rules(&lab, "h1", "iptables-save").len(), 6, "no duplicates");

    // The machine running the lab got nothing.
    if let Ok(output) = std::process::Command::new("iptables-save").output() {
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("192.0.2.66"),
            "the real machine got the rules"
        );
    }
}
