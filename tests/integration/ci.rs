//! converge in CI: offline validation, JSON events, JUnit, exit codes, ad-hoc modules,
//! sharding, generated docs, completions and the man page.

use crate::support::{sandboxed_play, Test};
use serde_json::Value;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn validate_accepts_every_shipped_example_and_role() {
    let inventory = format!("{REPO}/inventory/hosts.yml");
    let examples = std::fs::read_dir(format!("{REPO}/examples")).expect("examples");
    let mut checked = 0;
    for entry in examples.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("yml") {
            continue;
        }
        let path = path.display().to_string();
        let run = Test::new()
            .args(&["validate", "-i", &inventory, &path])
            .run();
        run.expect_status(0).stdout_has("playbook:");
        checked += 1;
    }
    assert!(checked >= 1, "no example playbook was checked");
    // Every shipped role, applied alone to the example inventory's hosts.
    for entry in std::fs::read_dir(format!("{REPO}/roles"))
        .expect("roles")
        .flatten()
    {
        let role = entry.file_name().to_string_lossy().into_owned();
        let test = Test::new().file(
            "site.yml",
            &format!("- hosts: all\n  roles:\n    - {role}\n"),
        );
        let run = test
            .args(&[
                "validate",
                "-i",
                &inventory,
                "--roles-path",
                &format!("{REPO}/roles"),
                "site.yml",
            ])
            .run();
        run.expect_status(0);
    }
}

#[test]
fn validate_reports_every_problem_and_what_is_only_known_at_run_time() {
    let test = Test::new()
        .file("inventory.yml", "all:\n  hosts:\n    far:\n      ansible_host: 192.0.2.1\n")
        .file(
            "site.yml",
            "- hosts: all\n  tasks:\n    - command: uname -r\n      register: kernel\n    - copy: {dest: /tmp/a, content: \"{{ kernel.stdout }} {{ ansible_hostname }}\"}\n    - copy: {dest: /tmp/b, contnet: x}\n    - cpy: {dest: /tmp/c}\n",
        )
        .args(&["validate", "-i", "inventory.yml", "site.yml"]);
    let run = test.run();
    run.expect_status(4)
        .stderr_has("unknown argument `contnet`")
        .stderr_has("site.yml:6:")
        .stderr_has("2 problems found");
    let test = Test::new()
        .file("inventory.yml", "all:\n  hosts:\n    far:\n      ansible_host: 192.0.2.1\n")
        .file(
            "site.yml",
            "- hosts: all\n  tasks:\n    - command: uname -r\n      register: kernel\n    - copy: {dest: /tmp/a, content: \"{{ kernel.stdout }} {{ ansible_hostname }}\"}\n",
        )
        .args(&["--syntax-check", "-i", "inventory.yml", "site.yml"]);
    test.run()
        .expect_status(0)
        .stderr_has("known only at run time")
        .stderr_has("`ansible_hostname`, `kernel`");
}

#[test]
fn json_events_one_per_line_with_diffs() {
    let test = sandboxed_play(
        "    - name: motd\n      copy: {dest: /etc/conv-json, content: \"hi\\n\"}\n",
    )
    .args(&[
        "-i",
        "inventory.yml",
        "site.yml",
        "--format",
        "json",
        "--check",
    ]);
    let run = test.run();
    run.expect_status(0);
    let events: Vec<Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["event"].as_str()).collect();
    assert_eq!(kinds, ["play_start", "task_start", "task_result", "recap"]);
    let result = &events[2];
    assert_eq!(result["host"], "box");
    assert_eq!(result["status"], "changed");
    assert_eq!(result["changes"][0]["subject"], "/etc/conv-json");
    assert_eq!(
        result["changes"][0]["diff"],
        "--- /dev/null\n+++ b/etc/conv-json\n@@ -0,0 +1 @@\n+hi\n"
    );
    assert_eq!(events[3]["hosts"]["box"]["changed"], 1);
    assert!(
        test.sandbox_changes().is_empty(),
        "--check changed the host"
    );
}

#[test]
fn junit_report_has_a_case_per_host_and_task() {
    let test = sandboxed_play(
        "    - name: good\n      copy: {dest: /etc/conv-ok, content: x}\n    - name: bad\n      command: /bin/false\n",
    )
    .args(&["-i", "inventory.yml", "site.yml", "--junit", "{dir}/report.xml"]);
    test.run().expect_status(2);
    // The sandbox overlays /tmp, so the report is where the sandboxed run put it.
    let report = format!("{}/report.xml", test.path().display());
    let xml = test.sandbox_file(&report).expect("junit written");
    let doc = roxmltree::Document::parse(&xml).expect("valid XML");
    let cases: Vec<(String, String, bool)> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .map(|n| {
            (
                n.attribute("classname").unwrap_or("").to_string(),
                n.attribute("name").unwrap_or("").to_string(),
                n.children().any(|c| c.has_tag_name("failure")),
            )
        })
        .collect();
    assert_eq!(
        cases,
        [
            ("box".to_string(), "good".to_string(), false),
            ("box".to_string(), "bad".to_string(), true)
        ]
    );
    let root = doc.root_element();
    assert_eq!(root.attribute("tests"), Some("2"));
    assert_eq!(root.attribute("failures"), Some("1"));
}

#[test]
fn detailed_exitcode_only_when_asked_and_changes_pending() {
    let test = sandboxed_play("    - copy: {dest: /etc/conv-pending, content: x}\n");
    let test = test.args(&["-i", "inventory.yml", "site.yml", "--check"]);
    test.run().expect_status(0);
    let test = test.args(&[
        "-i",
        "inventory.yml",
        "site.yml",
        "--check",
        "--detailed-exitcode",
    ]);
    test.run().expect_status(6);
    let test = test.args(&["-i", "inventory.yml", "site.yml"]);
    test.run().expect_status(0);
    let test = test.args(&[
        "-i",
        "inventory.yml",
        "site.yml",
        "--check",
        "--detailed-exitcode",
    ]);
    test.run().expect_status(0);
}

#[test]
fn ad_hoc_module_with_key_value_and_yaml_arguments() {
    let test = Test::new()
        .sandboxed()
        .file(
            "inventory.yml",
            "all:\n  hosts:\n    box:\n      ansible_connection: local\n",
        )
        .args(&[
            "-i",
            "inventory.yml",
            "box",
            "-m",
            "ansible.builtin.lineinfile",
            "-a",
            "path=/etc/conv-adhoc line='a b' create=yes",
            "--diff",
        ]);
    test.run().expect_status(0).stderr_has("+a b");
    assert_eq!(
        test.sandbox_file("/etc/conv-adhoc").as_deref(),
        Some("a b\n")
    );
    let test = test.args(&[
        "-i",
        "inventory.yml",
        "box",
        "-m",
        "copy",
        "-a",
        "{dest: /etc/conv-adhoc2, content: \"x\\n\"}",
        "--check",
    ]);
    test.run().expect_status(0).stderr_has("changed: [box]");
    assert_eq!(test.sandbox_file("/etc/conv-adhoc2"), None);
    Test::new()
        .args(&["localhost", "-m", "cpy", "-a", "dest=/x"])
        .run()
        .expect_status(4)
        .stderr_has("did you mean `copy`?");
    Test::new()
        .args(&["localhost", "-m", "copy", "-a", "dest=/x contnet=y"])
        .run()
        .expect_status(4)
        .stderr_has("did you mean `content`?");
}

#[test]
fn ad_hoc_setup_prints_the_facts() {
    let test = Test::new().args(&[
        "localhost",
        "-c",
        "local",
        "-m",
        "setup",
        "-a",
        "filter=ansible_machine",
    ]);
    let run = test.run();
    run.expect_status(0);
    let machine = std::env::consts::ARCH;
    run.stderr_has(&format!(
        "ok: [localhost] setup\n    {{\n      \"ansible_facts\": {{\n        \"ansible_machine\": \"{machine}\"\n      }},\n      \"changed\": false\n    }}\n"
    ));
    let test = test.args(&[
        "localhost",
        "-c",
        "local",
        "-m",
        "setup",
        "-a",
        "filter=ansible_machine",
        "--format",
        "json",
    ]);
    let run = test.run();
    run.expect_status(0);
    let event: serde_json::Value = run
        .stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|event| event["event"] == "task_result" && event["task"] == "setup")
        .expect("the setup task's event");
    let shown: serde_json::Value =
        serde_json::from_str(event["message"].as_str().expect("message")).expect("json");
    assert_eq!(shown["ansible_facts"]["ansible_machine"], machine);
}

#[test]
fn shards_partition_the_hosts() {
    let hosts: String = (1..=30).map(|i| format!("web{i}\n")).collect();
    let test = Test::new()
        .file("inventory.ini", &format!("[web]\n{hosts}"))
        .file(
            "site.yml",
            "- hosts: web\n  tasks:\n    - debug: {msg: hi}\n",
        );
    let mut seen: Vec<String> = Vec::new();
    let mut test = test;
    for k in 1..=3 {
        let shard = format!("{k}/3");
        test = test.args(&[
            "-i",
            "inventory.ini",
            "site.yml",
            "--list-hosts",
            "--shard",
            &shard,
        ]);
        let run = test.run();
        run.expect_status(0);
        let part: Vec<String> = run
            .stdout
            .lines()
            .filter(|l| l.starts_with("    web"))
            .map(|l| l.trim().to_string())
            .collect();
        assert!(!part.is_empty(), "shard {shard} is empty");
        seen.extend(part);
    }
    seen.sort();
    let mut all: Vec<String> = (1..=30).map(|i| format!("web{i}")).collect();
    all.sort();
    assert_eq!(seen, all, "every host exactly once");
    test.args(&["-i", "inventory.ini", "site.yml", "--shard", "4/3"])
        .run()
        .expect_status(5)
        .stderr_has("K must be between 1 and N");
}

#[test]
fn doc_pages_are_generated_from_the_argument_definitions() {
    let run = Test::new().args(&["doc", "lineinfile"]).run();
    run.expect_status(0);
    insta::assert_snapshot!("doc_lineinfile", run.stdout);
    let run = Test::new().args(&["doc", "debug"]).run();
    run.expect_status(0);
    insta::assert_snapshot!("doc_debug", run.stdout);
}

#[test]
fn completions_and_man_page() {
    let run = Test::new().args(&["completions", "bash"]).run();
    run.expect_status(0)
        .stdout_has("_converge()")
        .stdout_has("--check");
    let run = Test::new().args(&["man"]).run();
    run.expect_status(0)
        .stdout_has(".TH converge 1")
        .stdout_has("\\-\\-check");
}
