//! Lab tests for `group`, `user`, `authorized_key` and `getent`: converge over SSH creates an
//! account on real hosts, checked with `getent`, `id`, `stat` and an SSH login as that user;
//! a second run changes nothing; check mode removes nothing; then the account goes.

use crate::lab::Lab;
use crate::support::Test;

const HASH: &str = "$6$convergelab$SK3fE82IgWts0SimXYBdtj9Ww5oV2cacALTogFFG6h5m5DxULBXjkj.Y9Z26tr5a8dvJD2D2qp55WVR1n4oHU.";

fn site(key: &str) -> String {
    format!(
        "- hosts: lab\n  gather_facts: no\n  tasks:\n    - group: {{name: webteam, gid: 2345}}\n    - ansible.builtin.user:\n        name: carol\n        comment: Carol Converge\n        shell: /bin/bash\n        groups: webteam,adm\n        password: '{HASH}'\n    - ansible.posix.authorized_key:\n        user: carol\n        key: \"{key}\"\n    - getent: {{database: passwd, key: carol}}\n      register: looked\n    - copy:\n        dest: /root/carol-home\n        content: \"{{{{ looked.ansible_facts.getent_passwd.carol[4] }}}}\\n\"\n"
    )
}

const REMOVE: &str = "- hosts: lab\n  gather_facts: no\n  tasks:\n    - user: {name: carol, state: absent, remove: yes}\n    - group: {name: webteam, state: absent}\n";

#[test]
fn lab_accounts_user_with_groups_password_and_key_then_removed() {
    let lab = Lab::start(2);
    let inventory = lab.inventory();
    let public = std::fs::read_to_string(lab.state().join("id_ed25519.pub")).expect("lab key");
    let public = public.trim();
    let test = Test::new()
        .file("site.yml", &site(public))
        .file("remove.yml", REMOVE)
        .args(&["-i", &inventory, "site.yml", "--diff"]);
    let run = test.run();
    run.expect_status(0);
    // The hash is never shown.
    assert!(!run.stderr.contains("SK3fE82"), "{}", run.stderr);
    assert!(!run.stdout.contains("SK3fE82"), "{}", run.stdout);
    for host in ["h1", "h2"] {
        assert!(
            !run.recap(host).contains("changed=0"),
            "{}",
            run.recap(host)
        );
        assert_eq!(
            lab.sh(host, "getent passwd carol | cut -d: -f5-"),
            "Carol Converge:/home/carol:/bin/bash\n"
        );
        let groups = lab.sh(host, "id -nG carol");
        assert!(
            groups.contains("webteam") && groups.contains("adm"),
            "{groups}"
        );
        assert_eq!(lab.sh(host, "getent group webteam | cut -d: -f3"), "2345\n");
        assert_eq!(
            lab.sh(host, "getent shadow carol | cut -d: -f2"),
            format!("{HASH}\n")
        );
        assert_eq!(
            lab.sh(
                host,
                "stat -c '%a %U %G' /home/carol/.ssh /home/carol/.ssh/authorized_keys"
            ),
            "700 carol carol\n600 carol carol\n"
        );
        assert_eq!(
            lab.sh(host, "cat /home/carol/.ssh/authorized_keys"),
            format!("{public}\n")
        );
        assert_eq!(lab.sh(host, "cat /root/carol-home"), "/home/carol\n");
    }

    // The key lets carol in over SSH.
    let address = lab.hosts[0].ipv6.clone();
    let key = lab.state().join("id_ed25519").display().to_string();
    let known = lab.state().join("known_hosts").display().to_string();
    let login = Test::new()
        .file(
            "carol.yml",
            &format!("all:\n  hosts:\n    h1:\n      ansible_host: \"{address}\"\n      ansible_user: carol\n      ansible_ssh_private_key_file: {key}\n      ansible_ssh_common_args: \"-o UserKnownHostsFile={known}\"\n"),
        )
        .file(
            "whoami.yml",
            "- hosts: h1\n  gather_facts: no\n  tasks:\n    - command: id -un\n      register: who\n      changed_when: false\n    - copy: {dest: /home/carol/who, content: \"{{ who.stdout }}\\n\"}\n",
        )
        .args(&["-i", "carol.yml", "whoami.yml"]);
    login.run().expect_status(0);
    assert_eq!(lab.sh("h1", "cat /home/carol/who"), "carol\n");

    // Again: nothing changes.
    let again = test.run();
    again.expect_status(0);
    for host in ["h1", "h2"] {
        assert!(again.recap(host).contains("changed=0"), "{}", again.stderr);
    }

    // Check mode shows the removal and removes nothing.
    let before = lab.snapshot("h2");
    let check =
        Test::new()
            .file("remove.yml", REMOVE)
            .args(&["-i", &inventory, "remove.yml", "--check"]);
    let run = check.run();
    run.expect_status(0);
    assert!(!run.recap("h2").contains("changed=0"), "{}", run.stderr);
    assert_eq!(lab.snapshot("h2"), before, "--check changed h2");

    let remove = Test::new()
        .file("remove.yml", REMOVE)
        .args(&["-i", &inventory, "remove.yml"]);
    remove.run().expect_status(0);
    for host in ["h1", "h2"] {
        assert_eq!(lab.exec(host, &["getent", "passwd", "carol"]).status, 2);
        assert_eq!(lab.exec(host, &["getent", "group", "webteam"]).status, 2);
        assert_eq!(lab.exec(host, &["test", "-e", "/home/carol"]).status, 1);
    }
    let run = remove.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);
}
