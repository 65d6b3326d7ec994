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

/// A file made by `ansible-vault` in tests/fixtures/vault/.
fn ansible_fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/vault")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A vars file encrypted by ansible-vault (1.1) and inline `!vault` values (1.1, and 1.2 with
/// the vault id `prod`) from `ansible-vault encrypt_string`: a run decrypts them with
/// `--vault-password-file` and `--vault-id`, applies the values, and prints none of them.
#[test]
fn ansible_vault_files_and_inline_values_are_applied_and_masked() {
    let test = Test::new()
        .sandboxed()
        .file("secrets.yml", &ansible_fixture("vars_1_1.yml"))
        .file("group_vars/all.yml", &ansible_fixture("inline_vars.yml"))
        .file("password", &ansible_fixture("password"))
        .file("prod-password", &ansible_fixture("prod-password"))
        .file("inventory.yml", "all:\n  hosts:\n    box:\n      ansible_connection: local\n")
        .file(
            "site.yml",
            "- hosts: all\n  gather_facts: false\n  vars_files: [secrets.yml]\n  tasks:\n    - copy:\n        dest: /etc/conv-ansible-vault\n        content: \"{{ db_password }} {{ db_user }} {{ api_token }} {{ api_keys[1] }}\\n{{ multi }}\"\n    - debug: {msg: \"user {{ db_user }} token {{ api_token }} plain {{ plain_value }}\"}\n",
        );
    let test = test.args(&["-i", "inventory.yml", "site.yml", "--diff"]);
    test.run()
        .expect_status(4)
        .stderr_has("is encrypted, and no vault password was given")
        .stderr_has("--vault-id");
    assert!(test.sandbox_changes().is_empty());

    // Only the default password: the `prod` value cannot be opened, and the error says where.
    let test = test.args(&[
        "-i",
        "inventory.yml",
        "site.yml",
        "--vault-password-file",
        "password",
    ]);
    test.run()
        .expect_status(4)
        .stderr_has("the `!vault` value of `api_token` in `")
        .stderr_has("cannot be decrypted: wrong vault password (tried vault id `default`)");
    assert!(test.sandbox_changes().is_empty());

    let test = test.args(&[
        "-i",
        "inventory.yml",
        "site.yml",
        "--diff",
        "--vault-password-file",
        "password",
        "--vault-id",
        "prod@prod-password",
    ]);
    let run = test.run();
    run.expect_status(0)
        .stderr_has("+******** ******** ******** ********")
        .stderr_has("user ******** token ******** plain not-a-secret");
    for secret in [
        "hunter2-from-ansible",
        "inline-secret-user",
        "prod-token-ünïcode",
        "key-two-secret",
        "line one",
        "line two",
    ] {
        assert!(
            !run.stderr.contains(secret) && !run.stdout.contains(secret),
            "{secret} was printed:\n{}",
            run.stderr
        );
    }
    assert_eq!(
        test.sandbox_file("/etc/conv-ansible-vault").as_deref(),
        Some("hunter2-from-ansible inline-secret-user prod-token-ünïcode key-two-secret\nline one\nline two\n")
    );
}

/// ANSIBLE_VAULT_PASSWORD_FILE is read as Ansible reads it, and an executable password file
/// is run for its output.
#[test]
fn password_scripts_and_the_environment_variable() {
    use std::os::unix::fs::PermissionsExt;
    let test = Test::new()
        .file("secrets.yml", &ansible_fixture("vars_1_2_prod.yml"))
        .file("prod-pass.sh", "#!/bin/sh\necho prod-vault-password\n");
    std::fs::set_permissions(
        test.path().join("prod-pass.sh"),
        std::fs::Permissions::from_mode(0o700),
    )
    .expect("chmod");
    let test = test
        .env("ANSIBLE_VAULT_PASSWORD_FILE", "prod-pass.sh")
        .args(&["vault", "view", "secrets.yml"]);
    test.run()
        .expect_status(0)
        .stdout_has("db_password: hunter2-from-ansible");
}

/// `converge vault view FILE --vault-id ID`, returning the test for the next step.
fn view(test: Test, file: &str, id: &str) -> (Test, crate::support::Run) {
    let test = test.args(&["vault", "view", file, "--vault-id", id]);
    let run = test.run();
    (test, run)
}

/// `converge vault` reads ansible-vault files, writes them with `--ansible`, keeps their
/// format and vault id through `edit`, and `encrypt_string` prints a `!vault` value that a
/// run reads back.
#[test]
fn vault_subcommand_speaks_ansible_vault() {
    let plain = ansible_fixture("plain_vars.yml");
    let test = Test::new()
        .file("v11.yml", &ansible_fixture("vars_1_1.yml"))
        .file("v12.yml", &ansible_fixture("vars_1_2_prod.yml"))
        .file("password", "converge-test-password\n")
        .file("prod-password", "prod-vault-password\n")
        .file("new.yml", "token: fresh-secret-value\n")
        .file("editor.sh", "#!/bin/sh\nsed -i 's/5432/6543/' \"$1\"\n");

    let test = test.args(&[
        "vault",
        "view",
        "v11.yml",
        "--vault-password-file",
        "password",
    ]);
    assert_eq!(test.run().expect_status(0).stdout, plain);
    let (test, run) = view(test, "v12.yml", "prod@prod-password");
    assert_eq!(run.expect_status(0).stdout, plain);
    let (test, run) = view(test, "v12.yml", "prod@password");
    run.expect_status(4)
        .stderr_has("`v12.yml` cannot be decrypted: wrong vault password (tried vault id `prod`)");

    // --ansible writes the 1.2 header with the password's vault id.
    let test = test.args(&[
        "vault",
        "encrypt",
        "--ansible",
        "new.yml",
        "--vault-id",
        "prod@prod-password",
    ]);
    test.run().expect_status(0);
    let written = std::fs::read_to_string(test.path().join("new.yml")).expect("file");
    assert!(
        written.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"),
        "{written}"
    );
    assert!(!written.contains("fresh-secret-value"));
    let (test, run) = view(test, "new.yml", "prod@prod-password");
    assert_eq!(run.expect_status(0).stdout, "token: fresh-secret-value\n");

    // edit keeps format, vault id and password.
    std::fs::set_permissions(
        test.path().join("editor.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .expect("chmod");
    let test = test.env("EDITOR", "{dir}/editor.sh").args(&[
        "vault",
        "edit",
        "v12.yml",
        "--vault-id",
        "prod@prod-password",
    ]);
    test.run().expect_status(0);
    let edited = std::fs::read_to_string(test.path().join("v12.yml")).expect("file");
    assert!(
        edited.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"),
        "{edited}"
    );
    assert_ne!(edited, ansible_fixture("vars_1_2_prod.yml"));
    let (test, run) = view(test, "v12.yml", "prod@prod-password");
    assert_eq!(run.expect_status(0).stdout, plain.replace("5432", "6543"));

    // decrypt in place.
    let test = test.args(&[
        "vault",
        "decrypt",
        "v11.yml",
        "--vault-password-file",
        "password",
    ]);
    test.run().expect_status(0);
    assert_eq!(
        std::fs::read_to_string(test.path().join("v11.yml")).expect("file"),
        plain
    );

    // Several passwords and no --encrypt-vault-id: which one to encrypt with is asked for.
    let test = test.args(&[
        "vault",
        "encrypt_string",
        "x-value",
        "--vault-password-file",
        "password",
        "--vault-id",
        "prod@prod-password",
    ]);
    test.run()
        .expect_status(4)
        .stderr_has("several vault passwords are given (`prod`, `default`)")
        .stderr_has("--encrypt-vault-id");

    let test = test.args(&[
        "vault",
        "encrypt_string",
        "--name",
        "api_token",
        "inline-from-converge",
        "--vault-password-file",
        "password",
    ]);
    let run = test.run();
    run.expect_status(0);
    assert!(
        run.stdout
            .starts_with("api_token: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("inline-from-converge"));
    // A run reads the value back (its length proves the plaintext; the value is masked).
    let test = test
        .file("vars.yml", &run.stdout)
        .file(
            "site.yml",
            "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - debug: {msg: \"len={{ api_token | length }} {{ api_token }}\"}\n",
        )
        .args(&["site.yml", "-e", "@vars.yml", "--vault-password-file", "password"]);
    let run = test.run();
    run.expect_status(0).stderr_has("len=20 ********");
    assert!(
        !run.stderr.contains("inline-from-converge"),
        "{}",
        run.stderr
    );
}

/// The real `ansible-vault`: `CONVERGE_ANSIBLE_VAULT`, else on PATH, else in bench/run's venv.
fn find_ansible_vault() -> Option<std::path::PathBuf> {
    if let Some(path) = std::env::var_os("CONVERGE_ANSIBLE_VAULT") {
        return Some(path.into());
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("ansible-vault"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| {
        let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target/bench-venv/bin/ansible-vault");
        venv.is_file().then_some(venv)
    })
}

/// What converge writes in ansible-vault's format, ansible-core reads: files (1.1 and 1.2 with
/// a vault id) through `ansible-vault view`, and an `encrypt_string` value through a real
/// `ansible` run that loads it as `-e @vars.yml`.
#[test]
fn ansible_vault_reads_what_converge_writes() {
    let Some(ansible_vault) = find_ansible_vault() else {
        println!(
            "skipped: ansible-vault not found (set CONVERGE_ANSIBLE_VAULT, or put it on PATH)"
        );
        return;
    };
    let test = Test::new()
        .file("v11.yml", "db_password: written-by-converge\n")
        .file("v12.yml", "token: prod-from-converge-ü\n")
        .file("password", "converge-test-password\n")
        .file("prod-password", "prod-vault-password\n");
    let test = test.args(&[
        "vault",
        "encrypt",
        "--ansible",
        "v11.yml",
        "--vault-password-file",
        "password",
    ]);
    test.run().expect_status(0);
    let test = test.args(&[
        "vault",
        "encrypt",
        "--ansible",
        "v12.yml",
        "--vault-id",
        "prod@prod-password",
    ]);
    test.run().expect_status(0);
    let test = test.args(&[
        "vault",
        "encrypt_string",
        "--name",
        "api_token",
        "string-from-converge",
        "--vault-password-file",
        "password",
    ]);
    let run = test.run();
    run.expect_status(0);
    std::fs::write(test.path().join("vars.yml"), &run.stdout).expect("write vars.yml");

    let ansible = |program: &std::path::Path, args: &[&str]| {
        let output = std::process::Command::new(program)
            .args(args)
            .current_dir(test.path())
            .env("PYTHONWARNINGS", "ignore")
            .env("ANSIBLE_LOCALHOST_WARNING", "false")
            .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "false")
            .env_remove("ANSIBLE_VAULT_PASSWORD_FILE")
            .output()
            .expect("run ansible");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{} {args:?} failed\n{stdout}\n{}",
            program.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    assert_eq!(
        ansible(
            &ansible_vault,
            &["view", "v11.yml", "--vault-password-file", "password"]
        ),
        "db_password: written-by-converge\n"
    );
    assert_eq!(
        ansible(
            &ansible_vault,
            &["view", "v12.yml", "--vault-id", "prod@prod-password"]
        ),
        "token: prod-from-converge-ü\n"
    );
    let ansible_bin = ansible_vault.with_file_name("ansible");
    if !ansible_bin.is_file() {
        println!("skipped the encrypt_string half: no `ansible` beside ansible-vault");
        return;
    }
    let shown = ansible(
        &ansible_bin,
        &[
            "localhost",
            "-m",
            "debug",
            "-a",
            "msg=value={{ api_token }}",
            "-e",
            "@vars.yml",
            "--vault-password-file",
            "password",
        ],
    );
    assert!(
        shown.contains("\"msg\": \"value=string-from-converge\""),
        "{shown}"
    );
}
