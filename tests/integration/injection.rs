//! Shell injection: hostile values given to every module that runs commands on a host reach
//! those commands as data. Each task may fail (most of these values are invalid) but nothing
//! extra may run: the canary files must not appear.

use crate::lab::Lab;
use crate::support::Test;

/// Quotes, `;`, `|`, `$(…)`, backticks, a newline and a leading dash, each trying to create
/// a canary file.
const HOSTILE: &str = "-x a'b\"c; touch /tmp/pwned1 | touch /tmp/pwned2 $(touch /tmp/pwned3) `touch /tmp/pwned4`\ntouch /tmp/pwned5";

#[test]
fn hostile_values_never_run_as_commands_in_any_module() {
    let lab = Lab::start(1);
    lab.sh("h1", "mkdir -p /tmp/inj && ip link add virbr9 type bridge");
    let tasks = [
        "command: {argv: [echo, \"{{ h }}\"]}",
        "copy: {dest: \"/tmp/inj/{{ h }}\", content: x, owner: \"{{ h }}\"}",
        "file: {path: \"/tmp/inj/{{ h }}\", state: directory, mode: \"0755\", group: \"{{ h }}\"}",
        "file: {path: /tmp/inj/link, src: \"{{ h }}\", state: link, force: true}",
        "lineinfile: {path: /tmp/inj/lines, line: \"{{ h }}\", create: true}",
        "blockinfile: {path: /tmp/inj/block, block: \"{{ h }}\", create: true}",
        "service: {name: \"{{ h }}\", state: started}",
        "systemd: {name: \"{{ h }}\", state: started}",
        "package: {name: \"{{ h }}\", state: present}",
        "sysctl: {name: \"net.ipv4.{{ h }}\", value: \"{{ h }}\", sysctl_file: /tmp/inj/sysctl.conf}",
        "iproute: {routes: [{to: \"fd42:9::1/128\", dev: \"{{ h }}\"}]}",
        "ip6tables: {chain: INPUT, protocol: tcp, destination_port: \"22\", jump: ACCEPT, comment: \"{{ h }}\"}",
        "ip6tables: {chain: \"{{ h }}\", jump: ACCEPT}",
        "iptables: {chain: INPUT, in_interface: \"{{ h }}\", jump: ACCEPT}",
        "dhcpd: {family: ipv4, path: /tmp/inj/dhcpd.conf, leases_file: /tmp/inj/leases, domain_name: \"{{ h }}\", subnets: [{subnet: 10.9.0.0/24}]}",
        "sendmail_mc: {mc_path: /tmp/inj/sendmail.mc, cf_path: /tmp/inj/sendmail.cf, defines: {confX: \"{{ h }}\"}}",
        "slackbuild: {name: \"{{ h }}\", repo: /tmp/inj/repo}",
        "xprofile: {user: root, path: /tmp/inj/xprofile, env: {VAR: \"{{ h }}\"}}",
        "service: {name: sshd, state: started, pattern: \"{{ h }}\"}",
    ];
    let mut site = String::from("- hosts: lab\n  vars_files: [hostile.yml]\n  tasks:\n");
    for task in tasks {
        site.push_str(&format!("    - {task}\n      ignore_errors: true\n"));
    }
    let test = Test::new()
        .file("hostile.yml", &format!("h: {HOSTILE:?}\n"))
        .file("site.yml", &site)
        .args(&["-i", &lab.inventory(), "site.yml"]);
    let run = test.run();
    run.expect_status(0);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    // Every task ran: most fail on their invalid value, and each failure is ignored.
    let recap = run.recap("h1");
    let ignored: usize = recap
        .split_whitespace()
        .find_map(|f| f.strip_prefix("ignored="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        ignored >= 10,
        "only {ignored} tasks failed: {recap}\n{}",
        run.stderr
    );
    let canaries = lab.exec("h1", &["sh", "-c", "ls /tmp/pwned* 2>/dev/null"]);
    assert!(
        canaries.stdout.trim().is_empty(),
        "a hostile value ran as a command: {}\n{}",
        canaries.stdout,
        run.stderr
    );
    // The same on the controller: nothing ran locally either.
    assert!(!std::path::Path::new("/tmp/pwned1").exists());
    // And the line written literally is the value itself.
    assert!(lab
        .sh("h1", "cat /tmp/inj/lines")
        .contains("touch /tmp/pwned1 | touch"));
}
