//! Module cases as data: every `tests/cases/<module>/<name>.yml` sets up a memory host,
//! plans the module, checks the plan (or the error) against `expect`, applies it, checks the
//! resulting files, and plans again to prove that a second run changes nothing.
//!
//! A case file:
//!
//! ```yaml
//! args: {path: /etc/hosts, line: "fd00::1 router"}   # the task's arguments
//! files:                        # the host before the run
//!   /etc/hosts: "127.0.0.1 localhost\n"           # a file (0644 root:root)…
//!   /etc/ssh: {directory: true, mode: "0755"}      # …a directory, a link, attributes
//!   /etc/alias: {link: /etc/hosts}
//!   /etc/hosts.hard: {hard: /etc/hosts}           # a hard link (same inode)
//! controller_files: {a.conf: "x\n"}   # files on the controller; `{controller}` in args is their dir
//! rendered: "text"              # template only: what the engine rendered
//! responses: {"make install": {status: 0, stdout: "done"}}
//! expect:
//!   changed: true
//!   changes: [{subject: /etc/hosts, after: "…"}]   # also before, note, hidden (substrings)
//!   files: {/etc/hosts: "…", /gone: null}          # the host after applying
//!   ran: ["mkdir -p /srv/www"]                     # the commands apply ran, in order
//!   result: {msg: "…"}                             # planned result values
//!   error: "substring"          # planning must fail with this (and `hint`)
//!   idempotent: false           # commands run every time
//! ```

use converge_modules::args::parse_mode;
use converge_modules::memory_host::MemoryHost;
use converge_modules::module::parse_args;
use converge_modules::{
    copy, template, ChangeDetail, Context, Facts, FileKind, Host, ModuleError, Output, Plan,
};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    args: Value,
    #[serde(default)]
    files: BTreeMap<String, FileSpec>,
    #[serde(default)]
    controller_files: BTreeMap<String, String>,
    #[serde(default)]
    responses: BTreeMap<String, Response>,
    rendered: Option<String>,
    expect: Expect,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum FileSpec {
    Text(String),
    Entry(EntrySpec),
}

#[derive(Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
struct EntrySpec {
    content: Option<String>,
    mode: Option<String>,
    owner: Option<String>,
    group: Option<String>,
    link: Option<String>,
    /// A hard link to this (existing) path: the same inode.
    hard: Option<String>,
    #[serde(default)]
    directory: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Response {
    #[serde(default)]
    status: i32,
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    stderr: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    changed: Option<bool>,
    changes: Option<Vec<ExpectChange>>,
    #[serde(default)]
    files: BTreeMap<String, Option<FileSpec>>,
    ran: Option<Vec<String>>,
    #[serde(default)]
    result: BTreeMap<String, Value>,
    error: Option<String>,
    hint: Option<String>,
    unknowable: Option<bool>,
    #[serde(default = "yes")]
    idempotent: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectChange {
    subject: String,
    before: Option<String>,
    after: Option<String>,
    note: Option<String>,
    hidden: Option<String>,
}

/// A case's mode, which must be octal: it states the bits a file has.
fn octal(text: &str) -> Result<u32, String> {
    parse_mode(text)?
        .bits()
        .ok_or_else(|| format!("mode `{text}` in a case must be octal"))
}

fn host_for(case: &Case) -> Result<MemoryHost, String> {
    let mut host = MemoryHost::new();
    // Hard links last: they name an entry that must exist.
    let mut files: Vec<(&String, &FileSpec)> = case.files.iter().collect();
    files.sort_by_key(|(_, spec)| matches!(spec, FileSpec::Entry(e) if e.hard.is_some()));
    for (path, spec) in files {
        let entry = match spec {
            FileSpec::Text(text) => EntrySpec {
                content: Some(text.clone()),
                ..EntrySpec::default()
            },
            FileSpec::Entry(entry) => entry.clone(),
        };
        host = match (&entry.link, entry.directory) {
            _ if entry.hard.is_some() => {
                host.with_hard_link(path, entry.hard.as_deref().unwrap_or_default())
            }
            (Some(target), _) => host.with_symlink(path, target),
            (None, true) => host.with_directory(path),
            (None, false) => host.with_file(path, entry.content.clone().unwrap_or_default()),
        };
        let current = &host.files[path.as_str()];
        let mode = match &entry.mode {
            Some(text) => octal(text)?,
            None => current.mode,
        };
        let owner = entry.owner.clone().unwrap_or_else(|| current.owner.clone());
        let group = entry.group.clone().unwrap_or_else(|| current.group.clone());
        host = host.with_attributes(path, mode, &owner, &group);
    }
    for (line, response) in &case.responses {
        let line = line.clone();
        let output = Output {
            status: response.status,
            stdout: response.stdout.clone().into_bytes(),
            stderr: response.stderr.clone().into_bytes(),
        };
        host =
            host.respond(move |command| (command.to_shell_line() == line).then(|| output.clone()));
    }
    Ok(host)
}

fn plan(module: &str, case: &Case, args: &Value, host: &mut dyn Host) -> Result<Plan, ModuleError> {
    let facts = Facts::default();
    let context = Context { facts: &facts };
    if module == "template" {
        // What the engine does: render on the controller, then plan `copy` on the host.
        let typed = parse_args::<template::Template>(args)?;
        let rendered = case.rendered.clone().unwrap_or_default();
        return copy::plan_copy(template::copy_args(typed, rendered), host, &context);
    }
    let found =
        converge_modules::find(module).ok_or_else(|| ModuleError::failed("no such module"))?;
    found.plan(args, host, &context)
}

fn error_text(error: &ModuleError) -> (String, String) {
    let hint = match error {
        ModuleError::Args(args) => args.hint.clone(),
        ModuleError::Failed { hint, .. } => hint.clone(),
        _ => None,
    };
    (error.to_string(), hint.unwrap_or_default())
}

fn check_changes(plan: &Plan, expected: &[ExpectChange], failures: &mut Vec<String>) {
    let subjects: Vec<&str> = plan.changes.iter().map(|c| c.subject.as_str()).collect();
    let wanted: Vec<&str> = expected.iter().map(|c| c.subject.as_str()).collect();
    if subjects != wanted {
        failures.push(format!(
            "change subjects: expected {wanted:?}, planned {subjects:?}"
        ));
        return;
    }
    for (change, want) in plan.changes.iter().zip(expected) {
        let (before, after, note, hidden) = match &change.detail {
            ChangeDetail::Content { before, after } | ChangeDetail::Value { before, after } => {
                (before.clone(), after.clone(), None, None)
            }
            ChangeDetail::Note(note) => (None, None, Some(note.clone()), None),
            ChangeDetail::Hidden(text) => (None, None, None, Some(text.clone())),
        };
        let mut compare =
            |what: &str, expected: &Option<String>, actual: Option<String>, exact: bool| {
                if let Some(expected) = expected {
                    let actual = actual.unwrap_or_else(|| "<none>".into());
                    let ok = if exact {
                        &actual == expected
                    } else {
                        actual.contains(expected.as_str())
                    };
                    if !ok {
                        failures.push(format!(
                            "{} {what}: expected {expected:?}, planned {actual:?}",
                            change.subject
                        ));
                    }
                }
            };
        compare("before", &want.before, before, true);
        compare("after", &want.after, after, true);
        compare("note", &want.note, note, false);
        compare("hidden", &want.hidden, hidden, false);
    }
}

fn check_files(
    host: &MemoryHost,
    expected: &BTreeMap<String, Option<FileSpec>>,
    failures: &mut Vec<String>,
) {
    for (path, spec) in expected {
        let entry = host.files.get(path);
        match (spec, entry) {
            (None, None) => {}
            (None, Some(_)) => failures.push(format!("{path}: expected absent after apply")),
            (Some(_), None) => failures.push(format!("{path}: expected to exist after apply")),
            (Some(spec), Some(entry)) => {
                let spec = match spec {
                    FileSpec::Text(text) => EntrySpec {
                        content: Some(text.clone()),
                        ..EntrySpec::default()
                    },
                    FileSpec::Entry(entry) => entry.clone(),
                };
                if let Some(content) = &spec.content {
                    let actual = String::from_utf8_lossy(&entry.content);
                    if actual != content.as_str() || entry.kind != FileKind::File {
                        failures.push(format!(
                            "{path}: expected content {content:?}, found {actual:?} ({:?})",
                            entry.kind
                        ));
                    }
                }
                if let Some(mode) = &spec.mode {
                    if octal(mode) != Ok(entry.mode) {
                        failures.push(format!(
                            "{path}: expected mode {mode}, found {:04o}",
                            entry.mode
                        ));
                    }
                }
                for (what, want, have) in [
                    ("owner", &spec.owner, &entry.owner),
                    ("group", &spec.group, &entry.group),
                ] {
                    if want.as_ref().is_some_and(|want| want != have) {
                        failures.push(format!("{path}: expected {what} {want:?}, found {have}"));
                    }
                }
                if let Some(target) = &spec.link {
                    if entry.kind
                        != (FileKind::Symlink {
                            target: target.clone(),
                        })
                    {
                        failures.push(format!(
                            "{path}: expected a link to {target}, found {:?}",
                            entry.kind
                        ));
                    }
                }
                if let Some(other) = &spec.hard {
                    if host.inode(path) != host.inode(other) || !host.files.contains_key(other) {
                        failures.push(format!("{path}: expected a hard link to {other}"));
                    }
                }
                if spec.directory && entry.kind != FileKind::Directory {
                    failures.push(format!(
                        "{path}: expected a directory, found {:?}",
                        entry.kind
                    ));
                }
            }
        }
    }
}

/// Run one case; the failures it found.
fn run_case(module: &str, file: &Path) -> Vec<String> {
    let mut failures = Vec::new();
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) => return vec![format!("cannot read: {error}")],
    };
    // YAML 1.1 as the playbook loader reads it: `mode: 0644` is the octal number 420.
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    let case: Case = match serde_saphyr::from_str_with_options(&text, options) {
        Ok(case) => case,
        Err(error) => return vec![format!("bad case file: {error}")],
    };
    let controller = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => return vec![format!("no temp dir: {error}")],
    };
    for (name, content) in &case.controller_files {
        let file = controller.path().join(name);
        if let Some(dir) = file.parent() {
            if let Err(error) = std::fs::create_dir_all(dir) {
                return vec![format!("cannot make controller directory: {error}")];
            }
        }
        if let Err(error) = std::fs::write(file, content) {
            return vec![format!("cannot write controller file: {error}")];
        }
    }
    let args_text = case
        .args
        .to_string()
        .replace("{controller}", &controller.path().to_string_lossy());
    let args: Value = match serde_json::from_str(&args_text) {
        Ok(args) => args,
        Err(error) => return vec![format!("args: {error}")],
    };
    let mut host = match host_for(&case) {
        Ok(host) => host,
        Err(error) => return vec![format!("files: {error}")],
    };
    let expect = &case.expect;
    let planned = plan(module, &case, &args, &mut host);
    let planned = match (planned, &expect.error) {
        (Err(error), Some(wanted)) => {
            let (message, hint) = error_text(&error);
            if !message.contains(wanted.as_str()) {
                failures.push(format!("error: expected {wanted:?} in {message:?}"));
            }
            if let Some(want) = &expect.hint {
                if !hint.contains(want.as_str()) {
                    failures.push(format!("hint: expected {want:?} in {hint:?}"));
                }
            }
            return failures;
        }
        (Err(error), None) => return vec![format!("planning failed: {error}")],
        (Ok(plan), Some(wanted)) => {
            return vec![format!("expected error {wanted:?}, planned {plan:?}")]
        }
        (Ok(plan), None) => plan,
    };
    if let Some(changed) = expect.changed {
        if planned.is_change() != changed {
            failures.push(format!(
                "changed: expected {changed}, planned {:?}",
                planned.changes
            ));
        }
    }
    if let Some(changes) = &expect.changes {
        check_changes(&planned, changes, &mut failures);
    }
    if let Some(unknowable) = expect.unknowable {
        if planned.unknowable_in_check_mode != unknowable {
            failures.push(format!("unknowable_in_check_mode: expected {unknowable}"));
        }
    }
    for (key, value) in &expect.result {
        if planned.result.get(key) != Some(value) {
            failures.push(format!(
                "result.{key}: expected {value}, planned {:?}",
                planned.result.get(key)
            ));
        }
    }
    let commands_before = host.commands_run.len();
    if let Err(error) = planned.apply(&mut host) {
        failures.push(format!("apply failed: {error}"));
        return failures;
    }
    if let Some(ran) = &expect.ran {
        let actual = &host.commands_run[commands_before..];
        if actual != ran.as_slice() {
            failures.push(format!("ran: expected {ran:?}, ran {actual:?}"));
        }
    }
    check_files(&host, &expect.files, &mut failures);
    if expect.idempotent {
        match plan(module, &case, &args, &mut host) {
            Ok(again) if again.is_change() => failures.push(format!(
                "not idempotent: planning after apply gives {:?} / {:?}",
                again.changes, again.steps
            )),
            Ok(_) => {}
            Err(error) => failures.push(format!("planning after apply failed: {error}")),
        }
    }
    failures
}

fn cases_dir(module: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/cases")
        .join(module)
}

fn run_module(module: &str) {
    let mut files: Vec<PathBuf> = std::fs::read_dir(cases_dir(module))
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    assert!(
        files.len() >= 4,
        "{module}: at least 4 cases expected, found {}",
        files.len()
    );
    let mut report = Vec::new();
    for file in &files {
        for failure in run_case(module, file) {
            report.push(format!("{}: {failure}", file.display()));
        }
    }
    assert!(
        report.is_empty(),
        "{} failure(s):\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn command_cases() {
    run_module("command");
}

#[test]
fn shell_cases() {
    run_module("shell");
}

#[test]
fn copy_cases() {
    run_module("copy");
}

#[test]
fn template_cases() {
    run_module("template");
}

#[test]
fn file_cases() {
    run_module("file");
}

#[test]
fn lineinfile_cases() {
    run_module("lineinfile");
}

#[test]
fn blockinfile_cases() {
    run_module("blockinfile");
}
