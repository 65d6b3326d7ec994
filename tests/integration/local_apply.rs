//! Applying with the local connection, always inside the overlay sandbox so the machine
//! running the tests is never changed. The sandbox's upper layer is exactly what a run
//! changed, which is how check mode is proved to change nothing.

use crate::support::{sandboxed_play, sandboxed_playbook, Test};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn example(flag: &str, test: Test) -> Test {
    let inventory = format!("{REPO}/inventory/hosts.yml");
    let site = format!("{REPO}/examples/site.yml");
    // The desktop: the home server's roles change networking and start daemons, which
    // belongs in the lab (tests lab_ssh and e2e_home_server), not on the test machine.
    test.args(&[
        "-i",
        &inventory,
        &site,
        "--connection",
        "local",
        "--limit",
        "desktop",
        // The example's desktop user does not exist on the test machine.
        "-e",
        r#"{"input_method_users": ["root"]}"#,
        "--diff",
        flag,
    ])
}

#[test]
fn example_check_mode_changes_nothing_then_apply_converges_then_nothing_left() {
    let test = example("--check", Test::new().sandboxed());
    let run = test.run();
    run.expect_status(0)
        .stderr_has("check mode")
        .stderr_has("+++ b/etc/converge/managed-by");
    assert!(
        test.sandbox_changes().is_empty(),
        "--check changed the host: {:?}",
        test.sandbox_changes()
    );
    assert!(run.recap("desktop").contains("failed=0"), "{}", run.stderr);

    let test = example("-v", test);
    let run = test.run();
    run.expect_status(0);
    assert!(
        !run.recap("desktop").contains("changed=0"),
        "{}",
        run.stderr
    );
    let managed = test
        .sandbox_file("/etc/converge/managed-by")
        .expect("file written");
    assert_eq!(
        managed,
        "This host is managed by converge.\nContact: root@localhost\n"
    );
    let motd = test.sandbox_file("/etc/motd").expect("motd written");
    assert!(motd.contains("This machine is the desktop."), "{motd}");

    let run = test.run();
    run.expect_status(0);
    assert!(
        run.recap("desktop").contains("changed=0"),
        "second run changed something:\n{}",
        run.stderr
    );
}

#[test]
fn register_when_and_loop() {
    let test = sandboxed_play(
        "    - command: echo fd00::1\n      register: out\n      changed_when: false\n    - copy:\n        dest: /etc/conv-{{ item }}\n        content: \"{{ out.stdout }}\\n\"\n      loop: [a, b]\n      when: out.rc == 0\n    - copy: {dest: /etc/conv-never, content: x}\n      when: out.stdout == 'other'\n",
    );
    let run = test.run();
    run.expect_status(0);
    assert_eq!(
        test.sandbox_file("/etc/conv-a").as_deref(),
        Some("fd00::1\n")
    );
    assert_eq!(
        test.sandbox_file("/etc/conv-b").as_deref(),
        Some("fd00::1\n")
    );
    assert_eq!(test.sandbox_file("/etc/conv-never"), None);
    assert_eq!(
        run.recap("box"),
        "ok=2 changed=1 unreachable=0 failed=0 skipped=1 rescued=0 ignored=0"
    );
}

#[test]
fn block_rescue_always() {
    let test = sandboxed_play(
        "    - block:\n        - command: /bin/false\n      rescue:\n        - copy: {dest: /etc/conv-rescued, content: done}\n      always:\n        - copy: {dest: /etc/conv-always, content: done}\n",
    );
    let run = test.run();
    run.expect_status(0);
    assert!(test.sandbox_file("/etc/conv-rescued").is_some());
    assert!(test.sandbox_file("/etc/conv-always").is_some());
    assert!(run.recap("box").contains("failed=0"), "{}", run.stderr);
    assert!(run.recap("box").contains("rescued=1"), "{}", run.stderr);
}

#[test]
fn a_failed_task_fails_the_host_with_exit_2_and_stops_it() {
    let test = sandboxed_play(
        "    - command: /bin/false\n    - copy: {dest: /etc/conv-after, content: x}\n",
    );
    let run = test.run();
    run.expect_status(2);
    assert_eq!(test.sandbox_file("/etc/conv-after"), None);
    assert!(run.recap("box").contains("failed=1"));
}

#[test]
fn ignore_errors_and_failed_when() {
    let test = sandboxed_play(
        "    - command: /bin/false\n      ignore_errors: true\n    - command: echo boom\n      register: r\n      failed_when: \"'boom' in r.stdout\"\n      ignore_errors: yes\n    - copy: {dest: /etc/conv-after, content: x}\n",
    );
    let run = test.run();
    run.expect_status(0);
    assert!(test.sandbox_file("/etc/conv-after").is_some());
    assert!(run.recap("box").contains("ignored=2"), "{}", run.stderr);
}

#[test]
fn tags_select_tasks() {
    let test = sandboxed_play(
        "    - copy: {dest: /etc/conv-a, content: x}\n      tags: [one]\n    - copy: {dest: /etc/conv-b, content: x}\n      tags: [two]\n",
    );
    let test = test.args(&["-i", "inventory.yml", "site.yml", "--tags", "two"]);
    test.run().expect_status(0);
    assert_eq!(test.sandbox_file("/etc/conv-a"), None);
    assert!(test.sandbox_file("/etc/conv-b").is_some());
}

#[test]
fn handlers_run_once_at_the_end_and_only_when_notified() {
    let test = Test::new()
        .sandboxed()
        .file("inventory.yml", "all:\n  hosts:\n    box:\n      ansible_connection: local\n")
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  handlers:\n    - name: restart thing\n      command: sh -c 'echo run >> /etc/conv-handler'\n    - name: never\n      command: sh -c 'echo run >> /etc/conv-never'\n  tasks:\n    - copy: {dest: /etc/conv-a, content: x}\n      notify: restart thing\n    - copy: {dest: /etc/conv-b, content: x}\n      notify: restart thing\n    - copy: {dest: /etc/conv-a, content: x}\n      notify: never\n",
        )
        .args(&["-i", "inventory.yml", "site.yml"]);
    test.run().expect_status(0);
    assert_eq!(
        test.sandbox_file("/etc/conv-handler").as_deref(),
        Some("run\n")
    );
    assert_eq!(test.sandbox_file("/etc/conv-never"), None);
    test.run().expect_status(0);
    assert_eq!(
        test.sandbox_file("/etc/conv-handler").as_deref(),
        Some("run\n"),
        "handler ran on a run with no change"
    );
}

#[test]
fn extra_vars_win_over_play_vars() {
    let test = Test::new()
        .sandboxed()
        .file("inventory.yml", "all:\n  hosts:\n    box:\n      ansible_connection: local\n")
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  vars:\n    word: play\n  tasks:\n    - copy: {dest: /etc/conv-word, content: \"{{ word }}\"}\n",
        )
        .args(&["-i", "inventory.yml", "site.yml", "-e", "word=extra"]);
    test.run().expect_status(0);
    assert_eq!(
        test.sandbox_file("/etc/conv-word").as_deref(),
        Some("extra")
    );
}

#[test]
fn a_config_its_validator_rejects_keeps_the_old_file_and_no_handler_runs() {
    let test = Test::new()
        .sandboxed()
        .file("inventory.yml", "all:\n  hosts:\n    box:\n      ansible_connection: local\n")
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  handlers:\n    - name: restart daemon\n      command: touch /etc/conv-restarted\n  tasks:\n    - copy: {dest: /etc/conv-daemon.conf, content: \"good\\n\"}\n    - copy:\n        dest: /etc/conv-daemon.conf\n        content: \"broken\\n\"\n        validate: \"sh -c 'grep -q good \\\"$1\\\" || { echo \\\"line 1: syntax error near broken\\\"; exit 1; }' check %s\"\n      notify: restart daemon\n",
        )
        .args(&["-i", "inventory.yml", "site.yml"]);
    let run = test.run();
    run.expect_status(2)
        .stderr_has("line 1: syntax error near broken");
    assert_eq!(
        test.sandbox_file("/etc/conv-daemon.conf").as_deref(),
        Some("good\n")
    );
    assert_eq!(
        test.sandbox_file("/etc/conv-restarted"),
        None,
        "the handler ran"
    );
    let leftovers: Vec<String> = test
        .sandbox_changes()
        .into_iter()
        .filter(|p| p.contains(".converge-"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");
}

#[test]
fn no_log_hides_arguments_results_and_diffs() {
    let test = Test::new()
        .sandboxed()
        .file("inventory.yml", "all:\n  hosts:\n    box:\n      ansible_connection: local\n")
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {dest: /etc/conv-token, content: \"token-abc-123\\n\"}\n      no_log: true\n    - command: sh -c 'echo token-abc-123; exit 3'\n      no_log: true\n      ignore_errors: true\n    - debug: {msg: \"token-abc-123\"}\n      no_log: true\n",
        )
        .args(&["-i", "inventory.yml", "site.yml", "--diff", "-vv"]);
    let run = test.run();
    run.expect_status(0)
        .stderr_has("the output has been hidden due to `no_log: true`");
    assert!(!run.stderr.contains("token-abc-123"), "{}", run.stderr);
    let test = test.args(&[
        "-i",
        "inventory.yml",
        "site.yml",
        "--diff",
        "--format",
        "json",
    ]);
    let run = test.run();
    assert!(!run.stdout.contains("token-abc-123"), "{}", run.stdout);
}

#[test]
fn a_role_relative_template_src_is_found_as_ansible_finds_it() {
    let test = sandboxed_playbook("- hosts: all\n  gather_facts: false\n  roles: [motd]\n")
        .file(
            "roles/motd/tasks/main.yml",
            "- template: {src: templates/motd.j2, dest: /etc/conv-motd}\n",
        )
        .file(
            "roles/motd/templates/motd.j2",
            "hello {{ inventory_hostname }}\n",
        );
    test.run().expect_status(0);
    assert_eq!(
        test.sandbox_file("/etc/conv-motd").as_deref(),
        Some("hello box\n")
    );
}
