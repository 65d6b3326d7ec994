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
         \x20   - community.general.snap: {name: hello}\n\
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

/// dev-sec's ssh_hardening writes `include_tasks: hardening.yml` with `args: {apply: {become:
/// true}}`: Ansible merges a task's `args:` into any action's arguments, includes too.
#[test]
fn include_tasks_takes_apply_under_args() {
    let run = Test::new()
        .file("inventory.yml", INVENTORY)
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n\
             \x20   - include_tasks: inner.yml\n\
             \x20     args:\n\
             \x20       apply:\n\
             \x20         when: false\n",
        )
        .file("inner.yml", "- debug: {msg: inner-ran}\n")
        .args(&["-i", "inventory.yml", "site.yml"])
        .run();
    run.expect_status(0);
    // The include itself is ok, its task skipped by the applied `when` (as ansible-core 2.19.14).
    assert!(
        run.recap("box")
            .contains("ok=1 changed=0 unreachable=0 failed=0 skipped=1"),
        "{}",
        run.recap("box")
    );
}

/// `args:` that is not a mapping is refused where it is written, as for a module.
#[test]
fn include_tasks_args_must_be_a_mapping() {
    syntax_check(
        "- hosts: all\n  gather_facts: false\n  tasks:\n\
         \x20   - include_tasks: inner.yml\n\
         \x20     args: [apply]\n",
    )
    .expect_status(4)
    .stderr_has("`args` must be a mapping, found a list")
    .stderr_has("site.yml:5:13");
}

/// `with_first_found` under `include_vars` searches the role's `vars/` (Ansible gives the
/// loop's lookup the subdirectory of the task's action), as dev-sec's roles load
/// `vars/{{ ansible_facts.os_family }}.yml`.
#[test]
fn with_first_found_under_include_vars_searches_the_roles_vars_dir() {
    Test::new()
        .file("inventory.yml", INVENTORY)
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  roles: [osvars]\n",
        )
        .file(
            "roles/osvars/tasks/main.yml",
            "- include_vars:\n\
             \x20   file: \"{{ item }}\"\n\
             \x20   name: os_vars\n\
             \x20 with_first_found:\n\
             \x20   - files: [Missing.yml, Debian.yml]\n\
             \x20     skip: true\n\
             - debug: {msg: \"from {{ os_vars.origin }}\"}\n",
        )
        .file("roles/osvars/vars/Debian.yml", "origin: role-vars-dir\n")
        .file("roles/osvars/files/Debian.yml", "origin: role-files-dir\n")
        .args(&["-i", "inventory.yml", "site.yml", "-v"])
        .run()
        .expect_status(0)
        .stderr_has("from role-vars-dir");
}

/// geerlingguy's firewall role still carries `args: {warn: false}` on `command` tasks for
/// other platforms. ansible-core 2.14 removed `warn`, and Ansible fails on it only where such
/// a task runs: converge loads it, and fails the same way where it is reached.
#[test]
fn an_argument_ansible_removed_fails_only_where_reached() {
    let site = "- hosts: all\n  gather_facts: false\n  tasks:\n\
                \x20   - command: yum list installed firewalld\n\
                \x20     args: {warn: false}\n\
                \x20     when: false\n\
                \x20   - command: echo reached\n\
                \x20     args: {warn: false}\n";
    let run = Test::new()
        .file("inventory.yml", INVENTORY)
        .file("site.yml", site)
        .args(&["-i", "inventory.yml", "site.yml"])
        .run();
    run.expect_status(2).stderr_has(
        "unsupported argument `warn` for module `command`: ansible-core 2.14 removed it",
    );
    assert!(
        run.recap("box").contains("failed=1 skipped=1"),
        "{}",
        run.recap("box")
    );
}

/// A loop over a value that is undefined is no error when the task's `when` is false without
/// an item, as in Ansible (`loop: "{{ user.private_keys }}"` with `when: user.private_keys is
/// defined`, in robertdebock's users role).
#[test]
fn a_loop_over_an_undefined_value_is_skipped_when_the_condition_is_false() {
    let run = Test::new()
        .file("inventory.yml", INVENTORY)
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  vars: {user: {name: alice}}\n  tasks:\n\
             \x20   - debug: {msg: \"{{ item }}\"}\n\
             \x20     loop: \"{{ user.private_keys }}\"\n\
             \x20     when: user.private_keys is defined\n\
             \x20   - debug: {msg: \"{{ item }}\"}\n\
             \x20     loop: \"{{ user.private_keys }}\"\n",
        )
        .args(&["-i", "inventory.yml", "site.yml"])
        .run();
    // The second task has no condition to skip it: the undefined loop fails it.
    run.expect_status(2)
        .stderr_has("`user.private_keys` is undefined");
    assert!(
        run.recap("box").contains("failed=1 skipped=1"),
        "{}",
        run.recap("box")
    );
}

/// `become_user: "{{ user.name }}"` is rendered per task (and item), as Ansible does.
#[test]
fn become_user_is_templated() {
    let run = Test::new()
        .file("inventory.yml", INVENTORY)
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  vars: {who: root}\n  tasks:\n\
             \x20   - command: id -un\n\
             \x20     become: true\n\
             \x20     become_user: \"{{ who }}\"\n\
             \x20     register: out\n\
             \x20   - debug: {msg: \"ran as {{ out.stdout }}\"}\n",
        )
        .args(&["-i", "inventory.yml", "site.yml", "-v"])
        .run();
    run.expect_status(0).stderr_has("ran as root");
}

/// The recap counts what Ansible counts: each file or role an include brings in is ok once
/// per item ("included: ..."), and an include looping over no items is skipped.
#[test]
fn includes_count_in_the_recap_as_in_ansible() {
    let run = Test::new()
        .file("inventory.yml", INVENTORY)
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n\
             \x20   - include_tasks: inner.yml\n\
             \x20   - include_tasks: inner.yml\n\
             \x20     loop: [1, 2]\n\
             \x20   - include_tasks: inner.yml\n\
             \x20     loop: []\n\
             \x20   - include_role: {name: r}\n",
        )
        .file("inner.yml", "- debug: {msg: inner}\n")
        .file("roles/r/tasks/main.yml", "- debug: {msg: role}\n")
        .args(&["-i", "inventory.yml", "site.yml"])
        .run();
    run.expect_status(0);
    // ansible-core 2.19.14 prints ok=8 skipped=1 for this playbook.
    assert!(
        run.recap("box")
            .contains("ok=8 changed=0 unreachable=0 failed=0 skipped=1"),
        "{}",
        run.recap("box")
    );
}

#[test]
fn a_guarded_chain_through_a_missing_key_takes_the_default() {
    // robertdebock's users role: `getent_passwd[user.name][4] | default('/home')` for a user
    // getent did not find. Ansible's chained undefined gives the default at any depth.
    let run = Test::new()
        .file("inventory.yml", INVENTORY)
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n\
             \x20 vars:\n\
             \x20   getent_passwd: {alice: ['x', 1000, 1000, '', '/home/alice', '/bin/sh']}\n\
             \x20   users: [{name: alice}, {name: carol}]\n\
             \x20 tasks:\n\
             \x20   - debug: {msg: \"home={{ getent_passwd[item.name][4] | default('/home') }}\"}\n\
             \x20     loop: \"{{ users }}\"\n\
             \x20   - debug: {msg: \"deep={{ getent_passwd.carol.shell.x | d('none') }} known={{ getent_passwd.carol.x is defined }}\"}\n\
             \x20   - debug: {msg: \"{{ getent_passwd.carol[0] }}\"}\n",
        )
        .args(&["-i", "inventory.yml", "site.yml", "-v"])
        .run();
    run.expect_status(2)
        .stderr_has("home=/home/alice")
        .stderr_has("home=/home\n")
        .stderr_has("deep=none known=False")
        .stderr_has("`getent_passwd.carol` is undefined");
}

/// The variables that list every host are built only for the templates that read them,
/// directly, in a condition, or through another variable; each of those still sees them.
#[test]
fn groups_and_play_hosts_reach_every_template_that_reads_them() {
    let inventory = "all:\n  children:\n    web:\n      hosts:\n        w1: {ansible_connection: local}\n        w2: {ansible_connection: local}\n    db:\n      hosts:\n        d1: {ansible_connection: local}\n";
    let site = "- hosts: web\n  gather_facts: false\n  vars:\n    web_hosts: \"{{ groups['web'] }}\"\n  tasks:\n\
         \x20   - debug: {msg: \"direct {{ groups['db'] | join(',') }}\"}\n\
         \x20   - debug: {msg: \"through a variable {{ web_hosts | join(',') }}\"}\n\
         \x20   - debug: {msg: \"play {{ ansible_play_hosts | join(',') }} batch {{ ansible_play_batch | length }}\"}\n\
         \x20   - debug: {msg: condition held}\n\
         \x20     when: \"'w1' in ansible_play_hosts and 'w2' in groups.web\"\n";
    let run = Test::new()
        .file("inventory.yml", inventory)
        .file("site.yml", site)
        .args(&["-i", "inventory.yml", "site.yml", "--limit", "w1"])
        .run();
    run.expect_status(0)
        .stderr_has("direct d1")
        .stderr_has("through a variable w1,w2")
        .stderr_has("play w1 batch 1")
        .stderr_has("condition held");
}
