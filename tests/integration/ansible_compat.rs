//! Playbooks written for Ansible on other platforms: modules and arguments converge lacks
//! load and check, and variables Ansible would not fail on are not errors.

use crate::support::Test;

const INVENTORY: &str = "all:\n  hosts:\n    box:\n      ansible_connection: local\n";

fn syntax_check(site: &str) -> crate::support::Run {
    Test::new()
        .file("inventory.yml", INVENTORY)
        .file("site.yml", site)
        .args(&["-i", "inventory.yml", "site.yml", "--syntax-check"])
        .run()
}

#[test]
fn modules_only_ansible_has_pass_the_syntax_check() {
    syntax_check(
        "- hosts: all\n  tasks:\n\
         \x20   - yum: {name: httpd, state: present}\n\
         \x20     when: ansible_os_family == 'RedHat'\n\
         \x20   - community.general.locale_gen: {name: en_US.UTF-8}\n\
         \x20   - package: {name: httpd, enablerepo: epel}\n\
         \x20   - copy: {dest: /tmp/x, content: y, seuser: system_u}\n",
    )
    .expect_status(0)
    .stdout_has("playbook: site.yml");
}

#[test]
fn a_defaulted_variable_defined_nowhere_is_not_an_error() {
    syntax_check(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - debug: {msg: \"{{ nowhere | default('y') }} {{ other | d(omit) }}\"}\n\
         \x20   - debug: {msg: \"{{ maybe }}\"}\n\
         \x20     when: maybe is defined\n\
         \x20   - debug: {msg: \"{{ vars['x'] | default(1) }} {{ lookup('vars', 'z', default='') }}\"}\n",
    )
    .expect_status(0);
}

#[test]
fn a_bare_undefined_name_is_still_an_error_with_a_suggestion() {
    syntax_check(
        "- hosts: all\n  gather_facts: false\n  vars: {colour: red}\n  tasks:\n\
         \x20   - debug: {msg: \"{{ color }}\"}\n",
    )
    .expect_status(4)
    .stderr_has("undefined variable `color`")
    .stderr_has("did you mean `colour`?");
}

#[test]
fn names_set_under_a_computed_name_give_a_warning_naming_the_source() {
    syntax_check(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - include_vars: \"{{ inventory_hostname }}.yml\"\n\
         \x20   - debug: {msg: \"{{ packages }}\"}\n",
    )
    .expect_status(0)
    .stderr_has("warning: variable `packages` is not defined anywhere converge can see")
    .stderr_has("`include_vars` of `{{ inventory_hostname }}.yml`");
}

#[test]
fn a_handler_never_notified_is_not_checked() {
    syntax_check(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - debug: {msg: hi}\n\
         \x20 handlers:\n\
         \x20   - name: unused\n\
         \x20     debug: {msg: \"{{ not_defined_anywhere }}\"}\n",
    )
    .expect_status(0);
    syntax_check(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - debug: {msg: hi}\n\
         \x20     notify: used\n\
         \x20 handlers:\n\
         \x20   - name: used\n\
         \x20     debug: {msg: \"{{ not_defined_anywhere }}\"}\n",
    )
    .expect_status(4)
    .stderr_has("undefined variable `not_defined_anywhere`");
}
