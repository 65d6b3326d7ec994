//! `converge inventory --list | --graph | --host` and `converge PATTERN --list-hosts` print
//! exactly what `ansible-inventory` and `ansible --list-hosts` print on the same inventory
//! (expected outputs recorded from ansible-core 2.19.14, see tests/fixtures/inventory/expected).

use crate::support::Test;

fn fixture(path: &str) -> String {
    format!(
        "{}/tests/fixtures/inventory/{path}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn expected(name: &str) -> String {
    let path = fixture(&format!("expected/{name}"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Run converge with `args` and assert it succeeds printing exactly Ansible's output.
fn assert_prints(args: &[&str], expected_file: &str) {
    let run = Test::new().args(args).run();
    run.expect_status(0);
    assert_eq!(
        run.stdout,
        expected(expected_file),
        "converge {} differs from Ansible's {expected_file}\n--- stderr\n{}",
        args.join(" "),
        run.stderr
    );
}

#[test]
fn inventory_list_is_ansible_inventory_list() {
    let yaml = fixture("basic/hosts.yml");
    let ini = fixture("basic/hosts.ini");
    assert_prints(&["inventory", "-i", &yaml, "--list"], "basic-list.json");
    assert_prints(&["inventory", "-i", &ini, "--list"], "basic-list.json");
    let dir = fixture("dir");
    assert_prints(&["inventory", "-i", &dir, "--list"], "dir-list.json");
}

#[test]
fn inventory_graph_is_ansible_inventory_graph() {
    let yaml = fixture("basic/hosts.yml");
    assert_prints(&["inventory", "-i", &yaml, "--graph"], "basic-graph.txt");
    assert_prints(
        &["inventory", "-i", &yaml, "--graph", "prod"],
        "basic-graph-prod.txt",
    );
    let dir = fixture("dir");
    assert_prints(&["inventory", "-i", &dir, "--graph"], "dir-graph.txt");
}

#[test]
fn inventory_host_is_ansible_inventory_host() {
    let yaml = fixture("basic/hosts.yml");
    assert_prints(
        &["inventory", "-i", &yaml, "--host", "web01.example.org"],
        "basic-host-web01.json",
    );
    assert_prints(
        &["inventory", "-i", &yaml, "--host", "bastion.example.org"],
        "basic-host-bastion.json",
    );
}

#[test]
fn inventory_unknown_host_or_group_is_a_usage_error() {
    let yaml = fixture("basic/hosts.yml");
    Test::new()
        .args(&["inventory", "-i", &yaml, "--host", "nosuch"])
        .run()
        .expect_status(5)
        .stderr_has("error: the inventory has no host `nosuch`");
    Test::new()
        .args(&["inventory", "-i", &yaml, "--graph", "nosuch"])
        .run()
        .expect_status(5)
        .stderr_has("no group `nosuch`");
    Test::new()
        .args(&["inventory", "-i", &yaml])
        .run()
        .expect_status(5);
}

#[test]
fn list_hosts_without_a_module_lists_the_pattern_as_ansible_does() {
    let yaml = fixture("basic/hosts.yml");
    assert_prints(
        &["-i", &yaml, "prod", "--list-hosts"],
        "basic-list-hosts-prod.txt",
    );
    assert_prints(
        &["-i", &yaml, "web", "--list-hosts", "--limit", "web0[12]*"],
        "basic-list-hosts-web-limit.txt",
    );
    // With -m the same listing, and the module is not run.
    assert_prints(
        &["-i", &yaml, "prod", "-m", "debug", "--list-hosts"],
        "basic-list-hosts-prod.txt",
    );
    let run = Test::new()
        .args(&["-i", &yaml, "nosuch", "--list-hosts"])
        .run();
    run.expect_status(0).stderr_has("no host matches `nosuch`");
    assert_eq!(run.stdout, "  hosts (0):\n");
}

#[test]
fn list_hosts_with_a_missing_playbook_still_says_so() {
    let yaml = fixture("basic/hosts.yml");
    let run = Test::new()
        .args(&["-i", &yaml, "missing.yml", "--list-hosts"])
        .run();
    assert_ne!(
        run.status, 0,
        "a missing playbook is an error\n{}",
        run.stdout
    );
}
