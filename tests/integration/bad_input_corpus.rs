//! The corpus of malformed and hostile inputs in tests/bad_inputs/: every case gets a clear
//! error with the right exit code, never a panic or a hang, and the (sandboxed) host is not
//! changed. A case is a directory with the files it needs, an optional `args` file (default
//! `-i inventory.yml site.yml`) and `expect`: the exit code on the first line, then text
//! that must appear in stderr, one per line. Cases too big or too binary to keep in git
//! are generated below.

use crate::support::{Run, Test};
use std::path::Path;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bad_inputs");
const INVENTORY: &str = "all:\n  hosts:\n    box:\n      ansible_connection: local\n";

fn copy_dir(from: &Path, test: Test, prefix: &str) -> Test {
    let mut test = test;
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .expect("case dir")
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        if entry.path().is_dir() {
            test = copy_dir(&entry.path(), test, &format!("{name}/"));
        } else {
            let bytes = std::fs::read(entry.path()).expect("case file");
            test = test.bytes(&name, &bytes);
        }
    }
    test
}

fn check(name: &str, test: &Test, run: &Run, status: i32, needles: &[&str]) {
    if let Err(problem) = problems(name, test, run, status, needles) {
        panic!("{problem}");
    }
}

fn problems(
    name: &str,
    test: &Test,
    run: &Run,
    status: i32,
    needles: &[&str],
) -> Result<(), String> {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        check_inner(name, test, run, status, needles)
    }));
    outcome.map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| format!("{name}: failed"))
    })
}

fn check_inner(name: &str, test: &Test, run: &Run, status: i32, needles: &[&str]) {
    assert!(
        !run.stderr.contains("panicked at") && run.status != 101,
        "{name}: converge panicked\n{}",
        run.stderr
    );
    assert_ne!(run.status, 124, "{name}: converge hung (killed by timeout)");
    assert_eq!(run.status, status, "{name}: exit status\n{}", run.stderr);
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "{name}: stderr lacks {needle:?}\n{}",
            run.stderr
        );
    }
    // converge's own run lock (taken when a run starts changing hosts) is not a change.
    let changes: Vec<String> = test
        .sandbox_changes()
        .into_iter()
        .filter(|p| {
            !matches!(
                p.as_str(),
                "var/lib" | "var/lib/converge" | "var/lib/converge/run.lock"
            )
        })
        .collect();
    assert!(
        changes.is_empty(),
        "{name}: the host was changed: {changes:?}"
    );
}

#[test]
fn every_case_in_the_corpus_fails_cleanly() {
    let mut cases: Vec<_> = std::fs::read_dir(CORPUS)
        .expect("corpus")
        .flatten()
        .collect();
    cases.sort_by_key(|e| e.file_name());
    assert!(cases.len() >= 40, "the corpus has {} cases", cases.len());
    let mut failures = Vec::new();
    for case in cases {
        let name = case.file_name().to_string_lossy().into_owned();
        let expect = std::fs::read_to_string(case.path().join("expect")).expect("expect file");
        let mut lines = expect.lines();
        let status: i32 = lines
            .next()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name}: first line of expect is the exit status"));
        let needles: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
        let args = std::fs::read_to_string(case.path().join("args"))
            .unwrap_or_else(|_| "-i inventory.yml site.yml".into());
        let args: Vec<&str> = args.split_whitespace().collect();
        let test = copy_dir(&case.path(), Test::new(), "")
            .sandboxed()
            .timeout(30)
            .args(&args);
        let run = test.run();
        if let Err(problem) = problems(&name, &test, &run, status, &needles) {
            failures.push(problem);
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn generated(name: &str, site: &[u8], status: i32, needles: &[&str]) {
    let test = Test::new()
        .file("inventory.yml", INVENTORY)
        .bytes("site.yml", site)
        .sandboxed()
        .timeout(30)
        .args(&["-i", "inventory.yml", "site.yml"]);
    let run = test.run();
    check(name, &test, &run, status, needles);
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let depth = 100_000;
    let mut text = String::from("- hosts: all\n  vars:\n    deep: ");
    text.push_str(&"[".repeat(depth));
    text.push_str(&"]".repeat(depth));
    text.push_str("\n  tasks: []\n");
    generated("deep nesting", text.as_bytes(), 4, &["invalid YAML"]);
}

#[test]
fn a_huge_playbook_is_refused_before_parsing() {
    let mut text = String::from("- hosts: all\n  tasks:\n");
    let line = "    - debug: {msg: \"padding padding padding padding padding padding\"}\n";
    while text.len() < 17 * 1024 * 1024 {
        text.push_str(line);
    }
    generated("huge file", text.as_bytes(), 4, &["bytes, more than the"]);
}

#[test]
fn non_utf8_and_binary_playbooks_are_refused() {
    generated(
        "latin-1",
        b"- hosts: all\n  tasks:\n    - debug: {msg: \"caf\xe9\"}\n",
        4,
        &["not valid UTF-8", "site.yml:3:"],
    );
    let mut binary = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
    binary.extend((0..4096u32).map(|i| (i * 7919 % 251) as u8));
    generated("binary", &binary, 4, &["site.yml"]);
}

#[test]
fn a_very_long_line_is_handled() {
    let long = "x".repeat(2 * 1024 * 1024);
    let text = format!("- hosts: all\n  gather_facts: false\n  vars:\n    long: \"{long}\"\n  tasks:\n    - debug: {{msg: \"{{{{ nosuch }}}}\"}}\n");
    generated(
        "long line",
        text.as_bytes(),
        4,
        &["undefined variable `nosuch`"],
    );
}
