//! Every kind of bad input gets one clear message with file:line:col, a non-zero exit, and
//! no host is changed. Each playbook below starts with a task that would create
//! `{dir}/touched`; the file must not exist afterwards.

use crate::support::Test;

const INVENTORY: &str = "all:\n  hosts:\n    box:\n      ansible_connection: local\n";
const FIRST_TASK: &str = "    - name: would touch the host\n      copy:\n        dest: \"{dir}/touched\"\n        content: x\n";

fn playbook_with(tasks: &str) -> String {
    format!("- hosts: all\n  gather_facts: false\n  tasks:\n{FIRST_TASK}{tasks}")
}

fn run_bad(tasks: &str) -> (Test, crate::support::Run) {
    let test = Test::new()
        .file("inventory.yml", INVENTORY)
        .file("site.yml", &playbook_with(tasks))
        .args(&["-i", "inventory.yml", "site.yml"]);
    let run = test.run();
    assert!(
        !test.path().join("touched").exists(),
        "a host was changed despite bad input\n{}",
        run.stderr
    );
    (test, run)
}

#[test]
fn malformed_yaml_points_at_the_line() {
    let (_test, run) = run_bad("    - name: broken\n      debug: {msg: [1, 2}\n");
    run.expect_status(4)
        .stderr_has("error: invalid YAML")
        .stderr_has("site.yml:9:");
}

#[test]
fn task_without_module() {
    let (_test, run) = run_bad("    - name: nothing to do\n      when: true\n");
    run.expect_status(4)
        .stderr_has("has no module")
        .stderr_has("site.yml:8:");
}

#[test]
fn task_with_two_modules() {
    let (_test, run) = run_bad(
        "    - name: two\n      copy: {dest: /tmp/a, content: b}\n      file: {path: /tmp/a}\n",
    );
    run.expect_status(4)
        .stderr_has("two modules")
        .stderr_has("site.yml:10:7");
}

#[test]
fn unknown_module_suggests_the_closest() {
    let (_test, run) = run_bad("    - name: typo\n      cpy: {dest: /tmp/a, content: b}\n");
    run.expect_status(4)
        .stderr_has("`cpy`")
        .stderr_has("did you mean `copy`?")
        .stderr_has("site.yml:9:7");
}

#[test]
fn misspelled_argument_suggests_the_right_one() {
    let (_test, run) = run_bad("    - name: typo\n      copy: {dest: /tmp/a, contnet: b}\n");
    run.expect_status(4)
        .stderr_has("unknown argument `contnet` for module `copy`")
        .stderr_has("did you mean `content`?")
        .stderr_has("site.yml:9:");
}

#[test]
fn argument_of_the_wrong_type() {
    let (_test, run) =
        run_bad("    - name: bad mode\n      file: {path: /tmp/a, state: directory, mode: [1]}\n");
    run.expect_status(4)
        .stderr_has("argument `mode` of module `file`")
        .stderr_has("site.yml:9:");
}

#[test]
fn missing_required_argument() {
    let (_test, run) = run_bad("    - name: no dest\n      copy: {content: b}\n");
    run.expect_status(4)
        .stderr_has("module `copy` needs the argument `dest`")
        .stderr_has("site.yml:9:");
}

#[test]
fn undefined_variable_in_an_argument() {
    let (_test, run) = run_bad(
        "    - name: undefined\n      copy: {dest: /tmp/a, content: \"{{ wan_interfce }}\"}\n",
    );
    run.expect_status(4)
        .stderr_has("undefined variable `wan_interfce`")
        .stderr_has("site.yml:9:");
}

#[test]
fn undefined_variable_in_when_suggests_a_defined_one() {
    let test = Test::new()
        .file("inventory.yml", "all:\n  hosts:\n    box:\n      ansible_connection: local\n      wan_interface: eth0\n")
        .file(
            "site.yml",
            &playbook_with("    - name: cond\n      debug: {msg: hi}\n      when: wan_interfce == 'eth0'\n"),
        )
        .args(&["-i", "inventory.yml", "site.yml"]);
    let run = test.run();
    run.expect_status(4)
        .stderr_has("undefined variable `wan_interfce`")
        .stderr_has("did you mean `wan_interface`?")
        .stderr_has("site.yml:10:");
    assert!(!test.path().join("touched").exists());
}

#[test]
fn undefined_variable_in_a_template_file() {
    let test = Test::new()
        .file("inventory.yml", INVENTORY)
        .file("templates/motd.j2", "hello {{ nosuch }}\n")
        .file(
            "site.yml",
            &playbook_with("    - name: tpl\n      template: {src: motd.j2, dest: /tmp/x}\n"),
        )
        .args(&["-i", "inventory.yml", "site.yml"]);
    let run = test.run();
    run.expect_status(4)
        .stderr_has("undefined variable `nosuch` in template")
        .stderr_has("motd.j2");
    assert!(!test.path().join("touched").exists());
}

#[test]
fn missing_role_lists_where_it_looked() {
    let test = Test::new()
        .file("inventory.yml", INVENTORY)
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  roles:\n    - nosuchrole\n",
        )
        .args(&["-i", "inventory.yml", "site.yml"]);
    test.run()
        .expect_status(4)
        .stderr_has("`nosuchrole`")
        .stderr_has("site.yml:4:");
}

#[test]
fn missing_task_file() {
    let (_test, run) = run_bad("    - import_tasks: nosuch.yml\n");
    run.expect_status(4)
        .stderr_has("nosuch.yml")
        .stderr_has("site.yml:8:");
}

#[test]
fn missing_template_and_copy_source() {
    let (_test, run) = run_bad(
        "    - template: {src: nosuch.j2, dest: /tmp/x}\n    - copy: {src: nosuch.txt, dest: /tmp/y}\n",
    );
    run.expect_status(4)
        .stderr_has("nosuch.j2")
        .stderr_has("nosuch.txt");
}

#[test]
fn circular_role_dependency_names_the_chain() {
    let test = Test::new()
        .file("inventory.yml", INVENTORY)
        .file("roles/a/meta/main.yml", "dependencies:\n  - b\n")
        .file("roles/b/meta/main.yml", "dependencies:\n  - a\n")
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  roles:\n    - a\n",
        )
        .args(&["-i", "inventory.yml", "site.yml"]);
    test.run().expect_status(4).stderr_has("a -> b -> a");
}

#[test]
fn pattern_that_matches_nothing_warns_and_succeeds() {
    let test = Test::new()
        .file("inventory.yml", INVENTORY)
        .file(
            "site.yml",
            "- hosts: nosuchgroup\n  tasks:\n    - debug: {msg: hi}\n",
        )
        .args(&["-i", "inventory.yml", "site.yml"]);
    test.run()
        .expect_status(0)
        .stderr_has("warning: play `nosuchgroup`: no hosts matched `nosuchgroup`");
}

#[test]
fn extra_vars_that_are_not_key_value() {
    let test = Test::new()
        .file("inventory.yml", INVENTORY)
        .file("site.yml", &playbook_with(""))
        .args(&["-i", "inventory.yml", "site.yml", "-e", "justaword"]);
    test.run()
        .expect_status(5)
        .stderr_has("`-e justaword` is not `key=value`");
    assert!(!test.path().join("touched").exists());
}

#[test]
fn inventory_group_that_is_its_own_child() {
    let test = Test::new()
        .file(
            "inventory.yml",
            "all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a: {}\n",
        )
        .file("site.yml", &playbook_with(""))
        .args(&["-i", "inventory.yml", "site.yml"]);
    test.run().expect_status(4).stderr_has("own child");
    assert!(!test.path().join("touched").exists());
}

#[test]
fn every_problem_is_reported_at_once() {
    let (_test, run) = run_bad(
        "    - name: one\n      cpy: {dest: /tmp/a}\n    - name: two\n      copy: {dest: /tmp/a, contnet: b}\n",
    );
    run.expect_status(4)
        .stderr_has("`cpy`")
        .stderr_has("`contnet`")
        .stderr_has("problems found; no host was changed");
}
