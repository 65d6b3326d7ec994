//! Flags, listing, help, doc.

use crate::support::Test;

#[test]
fn help_explains_the_flags() {
    let run = Test::new().args(&["--help"]).run();
    run.expect_status(0)
        .stdout_has("--check")
        .stdout_has("Plan only: show what would change and change nothing on any host")
        .stdout_has("--diff")
        .stdout_has("--limit");
}

#[test]
fn no_playbook_is_a_usage_error() {
    Test::new()
        .args(&[])
        .run()
        .expect_status(5)
        .stderr_has("no playbook given");
}

#[test]
fn list_hosts_and_tasks_print_on_stdout() {
    let test = Test::new()
        .file(
            "inventory.ini",
            "[web]\nweb1 ansible_connection=local\nweb2 ansible_connection=local\n[db]\ndb1\n",
        )
        .file(
            "site.yml",
            "- name: web servers\n  hosts: web\n  tasks:\n    - name: say hi\n      debug: {msg: hi}\n      tags: [greet]\n",
        )
        .args(&["-i", "inventory.ini", "site.yml", "--list-hosts", "--list-tasks"]);
    let run = test.run();
    run.expect_status(0)
        .stdout_has("play: web servers (2 hosts)")
        .stdout_has("    web1\n    web2\n")
        .stdout_has("say hi\tTAGS: [greet]");
    assert!(!run.stdout.contains("db1"));
}

#[test]
fn limit_narrows_the_hosts() {
    let test = Test::new()
        .file("inventory.ini", "[web]\nweb1\nweb2\nweb3\n")
        .file(
            "site.yml",
            "- hosts: web\n  tasks:\n    - debug: {msg: hi}\n",
        )
        .args(&[
            "-i",
            "inventory.ini",
            "site.yml",
            "--list-hosts",
            "--limit",
            "web*:!web2",
        ]);
    let run = test.run();
    run.expect_status(0)
        .stdout_has("(2 hosts)\n    web1\n    web3\n");
}

#[test]
fn doc_lists_modules_and_documents_one() {
    let run = Test::new().args(&["doc"]).run();
    run.expect_status(0)
        .stdout_has("copy")
        .stdout_has("lineinfile");
    let run = Test::new().args(&["doc", "copy"]).run();
    run.expect_status(0)
        .stdout_has("ARGUMENTS")
        .stdout_has("dest")
        .stdout_has("EXAMPLES");
    Test::new()
        .args(&["doc", "cpy"])
        .run()
        .expect_status(5)
        .stderr_has("did you mean `copy`?");
}

#[test]
fn syntax_check_connects_nowhere() {
    let test = Test::new()
        .file(
            "inventory.yml",
            "all:\n  hosts:\n    far:\n      ansible_host: 192.0.2.1\n",
        )
        .file(
            "site.yml",
            "- hosts: all\n  tasks:\n    - copy: {dest: /tmp/x, content: y}\n",
        )
        .args(&["-i", "inventory.yml", "site.yml", "--syntax-check"]);
    test.run().expect_status(0).stdout_has("playbook: site.yml");
}
