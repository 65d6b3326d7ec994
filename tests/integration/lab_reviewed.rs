//! Reviewed plans in the lab: `--check --plan-out`, `converge show`, `converge apply`.
//!
//! Four hosts: h1 is converged directly (the reference), h2 by plan then apply, h3 drifts
//! between plan and apply, h4 has a plan of its own for `--reviewed-only`.

use crate::lab::Lab;
use crate::support::Test;

const SITE: &str = r#"- hosts: all
  gather_facts: false
  vars:
    app_version: "1.4"
  tasks:
    - name: app config
      copy:
        dest: /etc/app.conf
        content: "version={{ app_version }}\n"
        mode: "0644"
    - name: motd line
      lineinfile:
        path: /etc/motd.app
        line: "app {{ app_version }}"
        create: true
    - name: database password
      copy:
        dest: /etc/app.secret
        content: "{{ db_password }}\n"
        mode: "0600"
      no_log: true
    - name: ask the app its build
      command: cat /etc/app.conf
      register: build
      changed_when: false
    - name: record the build
      copy:
        dest: /etc/app.build
        content: "{{ build.stdout }}\n"
"#;

const PASSWORD: &str = "s3cret-db-pw-7781";

fn test(lab: &Lab) -> Test {
    Test::new()
        .file("site.yml", SITE)
        .file("plan.key", "a long passphrase for plans\n")
        .file("vars.yml", &format!("db_password: {PASSWORD}\n"))
        .args(&["-i", &lab.inventory(), "site.yml"])
}

fn args(list: &[String]) -> Vec<&str> {
    list.iter().map(String::as_str).collect()
}

fn run(test: Test, args: &[&str]) -> (Test, crate::support::Run) {
    let test = test.args(args);
    let run = test.run();
    (test, run)
}

#[test]
fn lab_reviewed_plan_then_apply_matches_a_direct_run_and_refuses_drift_and_edits() {
    let lab = Lab::start(4);
    let inventory = lab.inventory();
    let base = ["-i", inventory.as_str(), "site.yml", "-e", "@vars.yml"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter()
            .chain(extra)
            .map(|arg| arg.to_string())
            .collect()
    };

    // The reference: h1 converged directly.
    let (test, direct) = run(test(&lab), &args(&with(&["--limit", "h1"])));
    direct.expect_status(0);

    // A plan holding a no_log value is not written without a key.
    let before = lab.snapshot("h2");
    let plan_flags = with(&["--limit", "h2:h3", "--check", "--plan-out", "plan.json"]);
    let (test, refused) = run(test, &args(&plan_flags));
    refused.expect_status(1).stderr_has("holds secrets");
    assert!(!test.path().join("plan.json").exists());

    // With a key: written, the secret sealed, nothing changed on the hosts.
    let mut keyed = plan_flags.clone();
    keyed.extend(["--plan-key".to_string(), "plan.key".to_string()]);
    let (test, planned) = run(test, &args(&keyed));
    planned
        .expect_status(0)
        .stderr_has("plan written to plan.json");
    assert_eq!(lab.snapshot("h2"), before, "--check --plan-out changed h2");
    let plan_text = std::fs::read_to_string(test.path().join("plan.json")).unwrap();
    assert!(!plan_text.contains(PASSWORD), "the password is in clear");
    assert!(plan_text.contains("-----BEGIN AGE ENCRYPTED FILE-----"));

    // show: the diffs, and the tasks decided at apply time.
    let (test, shown) = run(test, &["show", "plan.json", "--plan-key", "plan.key"]);
    shown.expect_status(0);
    assert!(shown.stdout.contains("+version=1.4"), "{}", shown.stdout);
    assert!(
        shown.stdout.contains("decided at apply time")
            && shown.stdout.contains("h2: ask the app its build")
            && shown.stdout.contains("h2: record the build"),
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains(PASSWORD) || shown.stdout.contains("no_log"));

    // A tampered plan and a plan whose inputs changed are refused before any connection.
    let pristine = plan_text.clone();
    std::fs::write(
        test.path().join("plan.json"),
        plan_text.replace("version=1.4", "version=6.6"),
    )
    .unwrap();
    let (test, tampered) = run(test, &["apply", "plan.json", "--plan-key", "plan.key"]);
    tampered
        .expect_status(4)
        .stderr_has("was changed after it was made");
    std::fs::write(test.path().join("plan.json"), &pristine).unwrap();
    std::fs::write(test.path().join("site.yml"), format!("{SITE}# edited\n")).unwrap();
    let (test, stale) = run(test, &["apply", "plan.json", "--plan-key", "plan.key"]);
    stale
        .expect_status(4)
        .stderr_has("the inputs changed")
        .stderr_has("site.yml: changed");
    std::fs::write(test.path().join("site.yml"), SITE).unwrap();
    assert_eq!(lab.snapshot("h2"), before, "a refused apply changed h2");

    // h3 drifts: its config is edited after the plan was made.
    lab.sh("h3", "printf 'version=0.9\\n' > /etc/app.conf");
    // What the tasks would touch (the run lock a real run takes is no change of the plan's).
    let app_files = "cat /etc/app.conf; ls /etc | grep '^app\\|^motd.app' || true";
    let h3_drifted = lab.sh("h3", app_files);
    let (test, applied) = run(
        test,
        &["apply", "plan.json", "--plan-key", "plan.key", "--diff"],
    );
    applied.expect_status(2).stderr_has("drifted");
    assert!(
        applied.stderr.contains("not reviewed"),
        "{}",
        applied.stderr
    );
    assert!(
        applied.recap("h3").contains("failed=1"),
        "{}",
        applied.stderr
    );
    assert!(
        applied.recap("h2").contains("failed=0"),
        "{}",
        applied.stderr
    );
    assert_eq!(
        lab.sh("h3", app_files),
        h3_drifted,
        "a drifted host was changed"
    );

    // h2 ends exactly as the directly converged h1.
    for path in [
        "/etc/app.conf",
        "/etc/motd.app",
        "/etc/app.secret",
        "/etc/app.build",
    ] {
        assert_eq!(
            lab.sh("h2", &format!("stat -c '%a %U' {path} && cat {path}")),
            lab.sh("h1", &format!("stat -c '%a %U' {path} && cat {path}")),
            "{path}"
        );
    }
    // A direct run afterwards has nothing left to do on h2.
    let (test, again) = run(test, &args(&with(&["--limit", "h2"])));
    again.expect_status(0);
    assert!(again.recap("h2").contains("changed=0"), "{}", again.stderr);

    // --reviewed-only refuses the tasks decided at apply time.
    let mut only_h4 = with(&["--limit", "h4", "--check", "--plan-out", "h4.json"]);
    only_h4.extend(["--plan-key".to_string(), "plan.key".to_string()]);
    let (test, planned) = run(test, &args(&only_h4));
    planned.expect_status(0);
    let (_test, strict) = run(
        test,
        &[
            "apply",
            "h4.json",
            "--plan-key",
            "plan.key",
            "--reviewed-only",
        ],
    );
    strict
        .expect_status(2)
        .stderr_has("refused by --reviewed-only");
    assert_eq!(
        lab.sh("h4", "test -e /etc/app.build && echo yes || echo no"),
        "no\n"
    );
}
