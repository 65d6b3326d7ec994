//! Task and play keywords that real Ansible roles use: `environment`, `until`/`retries`,
//! templated `ignore_errors`, `run_once`, `delegate_to`/`local_action`, `loop_control`,
//! `include_tasks` with `apply`, `any_errors_fatal`, `vars_prompt`, and the recap's counts.
//! Each runs on local hosts inside the overlay sandbox.

use crate::support::{sandboxed_play, sandboxed_playbook, Test};

/// Two local hosts `a` and `b` in the sandbox running `play` (a whole play, YAML).
fn two_hosts(play: &str) -> Test {
    Test::new()
        .sandboxed()
        .file(
            "inventory.yml",
            "all:\n  hosts:\n    a:\n      ansible_connection: local\n    b:\n      ansible_connection: local\n",
        )
        .file("site.yml", play)
        .args(&["-i", "inventory.yml", "site.yml"])
}

#[test]
fn environment_of_play_and_task_reaches_commands_and_the_inner_level_wins() {
    let test = sandboxed_playbook(
            "- hosts: all\n  gather_facts: false\n  environment:\n    GREETING: hello\n    WHO: nobody\n  tasks:\n    - name: greet\n      shell: echo \"$GREETING $WHO\" > /etc/conv-env\n      environment:\n        WHO: \"{{ who }}\"\n      vars:\n        who: world\n",
        );
    test.run().expect_status(0);
    assert_eq!(
        test.sandbox_file("/etc/conv-env").as_deref(),
        Some("hello world\n")
    );
}

#[test]
fn until_retries_until_the_condition_holds_and_counts_attempts() {
    let test = sandboxed_play(
        "    - shell: n=$(cat /etc/conv-count 2>/dev/null || echo 0); n=$((n+1)); echo $n > /etc/conv-count; echo $n\n      register: counter\n      until: counter.stdout == '3'\n      retries: 5\n      delay: 0\n    - copy:\n        dest: /etc/conv-attempts\n        content: \"attempts={{ counter.attempts }}\"\n",
    );
    test.run().expect_status(0);
    assert_eq!(test.sandbox_file("/etc/conv-count").as_deref(), Some("3\n"));
    assert_eq!(
        test.sandbox_file("/etc/conv-attempts").as_deref(),
        Some("attempts=3")
    );
}

#[test]
fn until_that_never_holds_fails_after_retries_plus_one_attempts() {
    let test = sandboxed_play(
        "    - shell: echo x >> /etc/conv-tries\n      register: out\n      until: out.rc == 7\n      retries: 2\n      delay: \"{{ 0 }}\"\n",
    );
    test.run()
        .expect_status(2)
        .stderr_has("`until` did not hold after 3 attempts");
    assert_eq!(
        test.sandbox_file("/etc/conv-tries").as_deref(),
        Some("x\nx\nx\n")
    );
}

#[test]
fn templated_ignore_errors_is_decided_on_the_host_and_counted_as_ansible_does() {
    let test = sandboxed_play(
        "    - command: /bin/false\n      ignore_errors: \"{{ tolerate }}\"\n      vars:\n        tolerate: true\n    - copy: {dest: /etc/conv-after, content: x}\n",
    );
    let run = test.run();
    run.expect_status(0);
    assert_eq!(
        run.recap("box"),
        "ok=2 changed=1 unreachable=0 failed=0 skipped=0 rescued=0 ignored=1"
    );
    assert!(test.sandbox_file("/etc/conv-after").is_some());
}

#[test]
fn run_once_runs_on_one_host_and_every_host_gets_its_registered_result() {
    let test = two_hosts(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - shell: echo ran >> /etc/conv-once; hostname\n      register: once\n      run_once: true\n    - copy:\n        dest: \"/etc/conv-seen-{{ inventory_hostname }}\"\n        content: \"rc={{ once.rc }}\"\n",
    );
    test.run().expect_status(0);
    assert_eq!(
        test.sandbox_file("/etc/conv-once").as_deref(),
        Some("ran\n")
    );
    assert_eq!(
        test.sandbox_file("/etc/conv-seen-a").as_deref(),
        Some("rc=0")
    );
    assert_eq!(
        test.sandbox_file("/etc/conv-seen-b").as_deref(),
        Some("rc=0")
    );
}

#[test]
fn delegate_to_localhost_and_local_action_run_on_the_controller() {
    let test = sandboxed_play(
        "    - copy: {dest: /etc/conv-delegated, content: \"{{ inventory_hostname }}\"}\n      delegate_to: localhost\n    - local_action: copy content=local dest=/etc/conv-local-action\n    - local_action:\n        module: ansible.builtin.copy\n        content: mapped\n        dest: /etc/conv-local-map\n",
    );
    test.run().expect_status(0);
    // The variables stay the delegating host's, as in Ansible.
    assert_eq!(
        test.sandbox_file("/etc/conv-delegated").as_deref(),
        Some("box")
    );
    assert_eq!(
        test.sandbox_file("/etc/conv-local-action").as_deref(),
        Some("local")
    );
    assert_eq!(
        test.sandbox_file("/etc/conv-local-map").as_deref(),
        Some("mapped")
    );
}

#[test]
fn delegate_to_a_host_outside_the_inventory_is_a_clear_failure() {
    let test = sandboxed_play(
        "    - copy: {dest: /etc/conv-never, content: x}\n      delegate_to: nosuchhost\n",
    );
    test.run()
        .expect_status(2)
        .stderr_has("`delegate_to: nosuchhost` names a host that is not in the inventory");
    assert_eq!(test.sandbox_file("/etc/conv-never"), None);
}

#[test]
fn loop_control_index_var_extended_and_label() {
    let test = sandboxed_play(
        "    - copy:\n        dest: \"/etc/conv-{{ item.name }}\"\n        content: \"{{ idx }} {{ ansible_loop.index }}/{{ ansible_loop.length }} first={{ ansible_loop.first }} last={{ ansible_loop.last }}\"\n      loop: [{name: x}, {name: y}]\n      loop_control:\n        index_var: idx\n        extended: true\n        label: \"{{ item.name }}\"\n        pause: 0\n",
    );
    test.run().expect_status(0);
    assert_eq!(
        test.sandbox_file("/etc/conv-x").as_deref(),
        Some("0 1/2 first=True last=False")
    );
    assert_eq!(
        test.sandbox_file("/etc/conv-y").as_deref(),
        Some("1 2/2 first=False last=True")
    );
}

#[test]
fn include_tasks_apply_gives_its_keywords_to_every_included_task() {
    let test = sandboxed_play(
        "    - include_tasks:\n        file: inc.yml\n        apply:\n          environment: {APPLIED: yes-applied}\n          tags: [inc]\n",
    )
    .file(
        "inc.yml",
        "- shell: echo \"$APPLIED\" > /etc/conv-applied\n",
    );
    test.run().expect_status(0);
    assert_eq!(
        test.sandbox_file("/etc/conv-applied").as_deref(),
        Some("yes-applied\n")
    );
}

#[test]
fn any_errors_fatal_stops_every_host_after_one_fails() {
    let test = two_hosts(
        "- hosts: all\n  gather_facts: false\n  any_errors_fatal: true\n  tasks:\n    - fail: {msg: a breaks}\n      when: inventory_hostname == 'a'\n    - command: sleep 1\n      when: inventory_hostname == 'b'\n    - copy: {dest: \"/etc/conv-after-{{ inventory_hostname }}\", content: x}\n- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {dest: /etc/conv-next-play, content: x}\n",
    );
    test.run().expect_status(2).stderr_has("a breaks");
    assert_eq!(test.sandbox_file("/etc/conv-after-a"), None);
    assert_eq!(test.sandbox_file("/etc/conv-after-b"), None);
    assert_eq!(test.sandbox_file("/etc/conv-next-play"), None);
}

#[test]
fn max_fail_percentage_ends_the_run_once_too_many_hosts_failed() {
    let test = two_hosts(
        "- hosts: all\n  gather_facts: false\n  max_fail_percentage: 40\n  tasks:\n    - fail: {msg: a breaks}\n      when: inventory_hostname == 'a'\n    - command: sleep 1\n      when: inventory_hostname == 'b'\n    - copy: {dest: \"/etc/conv-after-{{ inventory_hostname }}\", content: x}\n",
    );
    test.run().expect_status(2);
    assert_eq!(test.sandbox_file("/etc/conv-after-b"), None);
}

#[test]
fn vars_prompt_takes_extra_vars_and_without_a_terminal_refuses_clearly() {
    let play = "- hosts: all\n  gather_facts: false\n  vars_prompt:\n    - name: release\n      prompt: Which release?\n      private: false\n  tasks:\n    - copy: {dest: /etc/conv-release, content: \"{{ release }}\"}\n";
    let test = sandboxed_playbook(play);
    test.run()
        .expect_status(4)
        .stderr_has("there is no terminal to ask on; give it with `-e release=...`");
    assert_eq!(test.sandbox_file("/etc/conv-release"), None);
    let test = test.args(&["-i", "inventory.yml", "site.yml", "-e", "release=15.0"]);
    test.run().expect_status(0);
    assert_eq!(
        test.sandbox_file("/etc/conv-release").as_deref(),
        Some("15.0")
    );
}

#[test]
fn with_lookup_loops_give_ansibles_items() {
    let test = sandboxed_play(
        "    - copy: {dest: \"/etc/conv-dict-{{ item.key }}\", content: \"uid={{ item.value.uid }}\"}\n      with_dict: \"{{ users }}\"\n    - copy: {dest: \"/etc/conv-sub-{{ item.0.name }}-{{ item.1 }}\", content: x}\n      with_subelements:\n        - \"{{ people }}\"\n        - groups\n    - copy: {dest: \"/etc/conv-seq-{{ item }}\", content: x}\n      with_sequence: start=1 end=3 format=n%02d\n    - copy: {dest: \"/etc/conv-tog-{{ item.0 }}{{ item.1 }}\", content: x}\n      with_together: [[a, b], [1, 2]]\n    - copy: {dest: \"/etc/conv-nest-{{ item.0 }}{{ item.1 }}\", content: x}\n      with_nested: [[x], [1, 2]]\n    - copy: {dest: \"/etc/conv-idx-{{ item.0 }}-{{ item.1 }}\", content: x}\n      with_indexed_items: [p, q]\n    - include_vars: \"{{ item }}\"\n      with_first_found:\n        - files: [\"{{ missing_os }}.yml\", default.yml]\n          paths: [vars]\n    - copy: {dest: /etc/conv-found, content: \"{{ found_in }}\"}\n  vars:\n    missing_os: Plan9\n    users: {alice: {uid: 1001}, bob: {uid: 1002}}\n    people:\n      - {name: carol, groups: [wheel, adm]}\n",
    )
    .file("vars/default.yml", "found_in: default\n");
    test.run().expect_status(0);
    assert_eq!(
        test.sandbox_file("/etc/conv-dict-alice").as_deref(),
        Some("uid=1001")
    );
    assert_eq!(
        test.sandbox_file("/etc/conv-dict-bob").as_deref(),
        Some("uid=1002")
    );
    for path in [
        "/etc/conv-sub-carol-wheel",
        "/etc/conv-sub-carol-adm",
        "/etc/conv-seq-n01",
        "/etc/conv-seq-n03",
        "/etc/conv-tog-a1",
        "/etc/conv-tog-b2",
        "/etc/conv-nest-x1",
        "/etc/conv-nest-x2",
        "/etc/conv-idx-0-p",
        "/etc/conv-idx-1-q",
    ] {
        assert!(test.sandbox_file(path).is_some(), "{path} missing");
    }
    assert_eq!(
        test.sandbox_file("/etc/conv-found").as_deref(),
        Some("default")
    );
}

#[test]
fn a_plays_connection_local_runs_on_this_machine_where_the_inventory_names_no_connection() {
    // `web` has an address no one answers on: only `connection: local` lets the play run.
    let test = Test::new()
        .sandboxed()
        .file(
            "inventory.yml",
            "all:\n  hosts:\n    web:\n      ansible_host: 192.0.2.1\n",
        )
        .file(
            "site.yml",
            "- hosts: web\n  connection: local\n  gather_facts: false\n  tasks:\n    - copy:\n        dest: /etc/converge-connection-test\n        content: \"local\\n\"\n",
        )
        .args(&["-i", "inventory.yml", "site.yml"]);
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("web").contains("changed=1"), "{}", run.stderr);
    assert_eq!(
        test.sandbox_file("/etc/converge-connection-test")
            .as_deref(),
        Some("local\n")
    );
}

#[test]
fn task_names_are_rendered_with_the_hosts_variables_where_they_can_be() {
    let run = sandboxed_play(
        "    - name: \"Install {{ pkg }}\"\n      debug: {msg: hi}\n      vars: {pkg: nginx}\n    - name: \"Each {{ item }}\"\n      debug: {msg: \"{{ item }}\"}\n      loop: [a]\n",
    )
    .run();
    run.expect_status(0)
        .stderr_has("ok: [box] Install nginx\n")
        .stderr_has("ok: [box] Each {{ item }} (item=a)");
}
