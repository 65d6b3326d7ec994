//! Encrypted variables files: `converge vault`, decryption in memory during a run, and
//! secret values masked everywhere converge prints, diffs included.

use crate::support::Test;

const SECRET: &str = "hunter2-correct-horse";

#[test]
fn encrypted_vars_are_used_but_never_printed() {
    let test = Test::new()
        .sandboxed()
        .file("secrets.yml", &format!("db_password: {SECRET}\n"))
        .file("password", "vault pass phrase\n")
        .file("wrong", "not it\n")
        .file("inventory.yml", "all:\n  hosts:\n    box:\n      ansible_connection: local\n")
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  vars_files: [secrets.yml]\n  tasks:\n    - copy: {dest: /etc/conv-secret, content: \"password={{ db_password }}\\n\"}\n    - debug: {msg: \"the password is {{ db_password }}\"}\n",
        );
    let test = test.args(&[
        "vault",
        "encrypt",
        "secrets.yml",
        "--vault-password-file",
        "password",
    ]);
    test.run_outside_sandbox().expect_status(0);
    let armored = std::fs::read_to_string(test.path().join("secrets.yml")).expect("file");
    assert!(
        armored.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"),
        "{armored}"
    );
    assert!(!armored.contains(SECRET));

    let test = test.args(&[
        "vault",
        "view",
        "secrets.yml",
        "--vault-password-file",
        "password",
    ]);
    test.run_outside_sandbox()
        .expect_status(0)
        .stdout_has(SECRET);

    let test = test.args(&["-i", "inventory.yml", "site.yml", "--diff"]);
    test.run()
        .expect_status(4)
        .stderr_has("secrets.yml` is encrypted, and no vault password was given")
        .stderr_has("--vault-password-file");

    let test = test.args(&[
        "-i",
        "inventory.yml",
        "site.yml",
        "--vault-password-file",
        "wrong",
    ]);
    test.run()
        .expect_status(4)
        .stderr_has("wrong vault password");
    assert!(test.sandbox_changes().is_empty());

    let test = test.args(&[
        "-i",
        "inventory.yml",
        "site.yml",
        "--diff",
        "--vault-password-file",
        "password",
    ]);
    let run = test.run();
    run.expect_status(0)
        .stderr_has("+password=********")
        .stderr_has("the password is ********");
    assert!(
        !run.stderr.contains(SECRET),
        "the secret was printed:\n{}",
        run.stderr
    );
    assert_eq!(
        test.sandbox_file("/etc/conv-secret").as_deref(),
        Some(format!("password={SECRET}\n").as_str())
    );

    let test = test.args(&[
        "vault",
        "decrypt",
        "secrets.yml",
        "--vault-password-file",
        "password",
    ]);
    test.run_outside_sandbox().expect_status(0);
    assert_eq!(
        std::fs::read_to_string(test.path().join("secrets.yml")).expect("file"),
        format!("db_password: {SECRET}\n")
    );
}

#[test]
fn private_files_show_no_content_diff_unless_asked() {
    let test = Test::new()
        .sandboxed()
        .file("inventory.yml", "all:\n  hosts:\n    box:\n      ansible_connection: local\n")
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - copy: {dest: /etc/conv-key, content: \"private-key-material\\n\", mode: \"0600\"}\n    - copy: {dest: /etc/conv-public, content: \"public-text\\n\", mode: \"0644\"}\n",
        )
        .args(&["-i", "inventory.yml", "site.yml", "--check", "--diff"]);
    let run = test.run();
    run.expect_status(0)
        .stderr_has("/etc/conv-key: changed (mode 0600, 21 bytes: content not shown")
        .stderr_has("+public-text");
    assert!(
        !run.stderr.contains("private-key-material"),
        "{}",
        run.stderr
    );
    let test = test.args(&[
        "-i",
        "inventory.yml",
        "site.yml",
        "--check",
        "--diff",
        "--show-private-diffs",
    ]);
    test.run()
        .expect_status(0)
        .stderr_has("+private-key-material");
}
