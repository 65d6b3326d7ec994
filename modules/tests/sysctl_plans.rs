//! `sysctl`: the pure parse/edit functions over fixture files, the real-world corpus, and
//! cases as data (`tests/cases/sysctl/*.yml`) run against a memory host whose `/proc/sys` is
//! a map: plan, check, apply, check the file and the live values, plan again (unchanged).
//!
//! A case file:
//!
//! ```yaml
//! args: {name: net.ipv4.ip_forward, value: 1}
//! file: "net.ipv4.ip_forward = 0\n"     # /etc/sysctl.conf before (omit: no file)
//! live: {net.ipv4.ip_forward: "0"}     # keys the kernel has, with their values
//! routes: "00000000000000000000000000000000 00 … 00450003 eth0\n"   # /proc/net/ipv6_route
//! default_ipv6: {interface: eth0, protocol: ra}                   # the fact
//! expect:
//!   changes: [{subject: "net.ipv4.ip_forward (live)", before: "0", after: "1"}]
//!   warnings: ["substring"]            # exactly these warnings (substrings), default none
//!   file: "…"                          # the file after applying
//!   live: {net.ipv4.ip_forward: "1"}   # live values after applying
//!   ran: ["sysctl -q -w net.ipv4.ip_forward=1"]
//!   error: "substring"                 # planning fails (and `hint`)
//! ```

use converge_modules::facts::DefaultRoute;
use converge_modules::memory_host::MemoryHost;
use converge_modules::sysctl::{
    edit_conf, parse_conf, ConfEdit, SysctlKey, ACCEPT_RA_SCRIPT, ACCEPT_RA_SCRIPT_NAME,
    IPV6_ROUTES,
};
use converge_modules::{ChangeDetail, Command, Context, Facts, ModuleError, Output, Program};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sysctl");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/sysctl");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name)).expect("fixture")
}

fn edit(key: &str, value: Option<&str>) -> ConfEdit {
    ConfEdit {
        key: SysctlKey::parse(key).expect("key"),
        written: key.to_string(),
        value: value.map(str::to_string),
    }
}

#[test]
fn all_commented_file_has_no_settings_and_new_keys_go_at_the_end() {
    let text = fixture("all-commented.conf");
    assert!(parse_conf(&text).is_empty());
    let out = edit_conf(
        &text,
        &[
            edit("net.ipv6.conf.eth0.accept_ra", Some("2")),
            edit("net.ipv6.conf.all.forwarding", Some("1")),
        ],
    );
    assert_eq!(
        out,
        format!("{text}net.ipv6.conf.eth0.accept_ra=2\nnet.ipv6.conf.all.forwarding=1\n")
    );
}

#[test]
fn semicolon_file_parses_like_procps() {
    let entries = parse_conf(&fixture("semicolon-mixed.conf"));
    let shown: Vec<(usize, String, String, bool)> = entries
        .iter()
        .map(|e| {
            (
                e.line,
                e.key.as_ref().map(|k| k.to_string()).unwrap_or_default(),
                e.value.clone(),
                e.ignore_failure,
            )
        })
        .collect();
    let row = |line, key: &str, value: &str, dash| (line, key.to_string(), value.to_string(), dash);
    assert_eq!(
        shown,
        vec![
            row(3, "net.ipv4.ip_forward", "0", false),
            row(6, "net.ipv6.conf.eth0/100.accept_ra", "1", false),
            row(7, "net.ipv6.conf.eth0/100.autoconf", "0", false),
            row(8, "net.ipv4.ip_local_port_range", "32768\t60999", false),
            row(9, "net.ipv6.conf.virbr0.proxy_ndp", "1", true),
            row(11, "net.ipv4.ip_forward", "1", false),
        ]
    );
    assert_eq!(
        SysctlKey::parse("net/ipv6/conf/eth0.100/accept_ra")
            .expect("key")
            .proc_path(),
        "/proc/sys/net/ipv6/conf/eth0.100/accept_ra"
    );
}

#[test]
fn semicolon_file_edits_in_place() {
    let text = fixture("semicolon-mixed.conf");
    let out = edit_conf(
        &text,
        &[
            // Same key in the other spelling: replaced where it stands, spacing kept.
            edit("net.ipv6.conf.eth0/100.accept_ra", Some("2")),
            // Duplicate: first line updated, the later one removed.
            edit("net.ipv4.ip_forward", Some("1")),
            // Same tokens as the tab-separated line: untouched.
            edit("net.ipv4.ip_local_port_range", Some("32768 60999")),
            // The `-` line is removed.
            edit("net.ipv6.conf.virbr0.proxy_ndp", None),
            edit("net.ipv6.conf.all.forwarding", Some("1")),
        ],
    );
    let expected = "; server sysctl settings\n;\nnet.ipv4.ip_forward=1\n\n; a VLAN interface, slash form\nnet/ipv6/conf/eth0.100/accept_ra = 2\nnet.ipv6.conf.eth0/100.autoconf=0\n  net.ipv4.ip_local_port_range =\t32768\t60999\n# duplicate: the later line wins at boot\na line without an equals sign\nnet.ipv6.conf.all.forwarding = 1\n";
    assert_eq!(out, expected);
    // Editing again with the same values changes nothing.
    assert_eq!(
        edit_conf(
            &out,
            &[
                edit("net/ipv6/conf/eth0.100/accept_ra", Some("2")),
                edit("net.ipv4.ip_forward", Some("1")),
                edit("net.ipv6.conf.all.forwarding", Some("1")),
            ]
        ),
        out
    );
}

#[test]
fn missing_final_newline_is_kept_and_duplicates_removed() {
    let text = fixture("no-final-newline.conf");
    let out = edit_conf(&text, &[edit("net.ipv6.conf.all.forwarding", Some("1"))]);
    // The file had no final newline; removing the duplicate last line keeps it that way.
    assert_eq!(out, "net.ipv6.conf.all.forwarding=1");
    let out = edit_conf(&text, &[edit("net.ipv4.ip_forward", Some("1"))]);
    assert_eq!(
        out,
        "net.ipv6.conf.all.forwarding=1\nnet.ipv6.conf.all.forwarding=1\nnet.ipv4.ip_forward=1"
    );
}

/// Every real-world file: editing with its own values changes nothing, and setting a new key
/// only appends one line.
#[test]
fn corpus_files_round_trip() {
    let dir = Path::new(CORPUS);
    if !dir.is_dir() {
        println!("skipped: no corpus at {}", dir.display());
        return;
    }
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("corpus dir") {
        let path = entry.expect("entry").path();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        count += 1;
        let same: Vec<ConfEdit> = parse_conf(&text)
            .into_iter()
            .filter_map(|e| {
                Some(ConfEdit {
                    key: e.key?,
                    written: e.written,
                    value: Some(e.value),
                })
            })
            .collect();
        let deduplicated = edit_conf(&text, &same);
        assert!(
            text.len() >= deduplicated.len(),
            "{}: own values grew the file",
            path.display()
        );
        let out = edit_conf(
            &text,
            &[edit("net.ipv6.conf.cvgtest0.accept_ra", Some("2"))],
        );
        // Appended like the file's last setting, or as Ansible's `key=value` in a file with
        // none.
        let expected_tail = [
            "net.ipv6.conf.cvgtest0.accept_ra = 2\n",
            "net.ipv6.conf.cvgtest0.accept_ra=2\n",
        ]
        .into_iter()
        .find(|tail| out.ends_with(tail))
        .unwrap_or_else(|| panic!("{}: the key is not appended", path.display()));
        assert_eq!(
            &out[..out.len() - expected_tail.len()],
            text.as_str(),
            "{}: other lines kept",
            path.display()
        );
    }
    assert!(count > 0, "corpus directory has files");
}

// ---- cases ---------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    args: Value,
    file: Option<String>,
    #[serde(default)]
    live: BTreeMap<String, String>,
    #[serde(default)]
    routes: String,
    default_ipv6: Option<RouteSpec>,
    expect: Expect,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    interface: String,
    protocol: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    changes: Option<Vec<ExpectChange>>,
    #[serde(default)]
    warnings: Vec<String>,
    file: Option<String>,
    #[serde(default)]
    live: BTreeMap<String, String>,
    ran: Option<Vec<String>>,
    error: Option<String>,
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectChange {
    subject: String,
    before: Option<String>,
    after: Option<String>,
}

type Proc = Arc<Mutex<BTreeMap<String, String>>>;

fn proc_path(key: &str) -> String {
    SysctlKey::parse(key)
        .map(|k| k.proc_path())
        .unwrap_or_default()
}

/// A memory host whose `/proc/sys` is `proc` and whose `/proc/net/ipv6_route` is the case's
/// routes: answers their reads, the `accept_ra` script and `sysctl -q -w`.
fn host_for(case: &Case, proc: Proc) -> MemoryHost {
    let mut host = MemoryHost::new().with_directory("/etc");
    if let Some(text) = &case.file {
        host = host.with_file("/etc/sysctl.conf", text.clone());
    }
    let routes = case.routes.clone();
    let files = Arc::clone(&proc);
    host.pseudo_files(move |path: &str| {
        if path == IPV6_ROUTES {
            return Some(Ok(Some(routes.clone().into_bytes())));
        }
        let path = path.strip_prefix("/proc/sys/")?;
        let values = files.lock().expect("proc");
        Some(Ok(values
            .get(&format!("/proc/sys/{path}"))
            .map(|value| format!("{value}\n").into_bytes())))
    })
    .respond(move |command: &Command| {
        let Program::Argv(argv) = &command.program else {
            return None;
        };
        let values = proc.lock().expect("proc");
        if argv.len() == 4 && argv[2] == ACCEPT_RA_SCRIPT && argv[3] == ACCEPT_RA_SCRIPT_NAME {
            let mut out = String::new();
            for (path, value) in values.iter() {
                if path.starts_with("/proc/sys/net/ipv6/conf/") && path.ends_with("/accept_ra") {
                    out.push_str(&format!("{path}:{value}\n"));
                }
            }
            return Some(Output {
                status: 0,
                stdout: out.into_bytes(),
                stderr: Vec::new(),
            });
        }
        if argv.len() == 4 && argv[0] == "sysctl" && argv[1] == "-q" && argv[2] == "-w" {
            drop(values);
            let (key, value) = argv[3].split_once('=')?;
            let path = proc_path(key);
            let mut values = proc.lock().expect("proc");
            return Some(match values.get_mut(&path) {
                Some(slot) => {
                    *slot = value.split_whitespace().collect::<Vec<_>>().join("\t");
                    Output {
                        status: 0,
                        stdout: format!("{key} = {value}\n").into_bytes(),
                        stderr: Vec::new(),
                    }
                }
                None => Output {
                    status: 255,
                    stdout: Vec::new(),
                    stderr: format!("sysctl: cannot stat {path}: No such file or directory\n")
                        .into_bytes(),
                },
            });
        }
        None
    })
}

fn run_case(file: &Path) -> Vec<String> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(error) => return vec![format!("cannot read: {error}")],
    };
    let case: Case = match serde_saphyr::from_str(&text) {
        Ok(case) => case,
        Err(error) => return vec![format!("bad case file: {error}")],
    };
    let proc: Proc = Arc::new(Mutex::new(
        case.live
            .iter()
            .map(|(key, value)| (proc_path(key), value.clone()))
            .collect(),
    ));
    let mut host = host_for(&case, proc.clone());
    let facts = Facts {
        default_ipv6: case.default_ipv6.as_ref().map(|route| DefaultRoute {
            gateway: Some("fe80::1".into()),
            interface: route.interface.clone(),
            protocol: Some(route.protocol.clone()),
        }),
        ..Facts::default()
    };
    let context = Context { facts: &facts };
    let module = converge_modules::find("sysctl").expect("sysctl registered");
    let expect = &case.expect;
    let mut failures = Vec::new();
    let reads_before = host.commands_run.len();
    let plan = match (module.plan(&case.args, &mut host, &context), &expect.error) {
        (Err(error), Some(wanted)) => {
            let hint = match &error {
                ModuleError::Args(args) => args.hint.clone(),
                ModuleError::Failed { hint, .. } => hint.clone(),
                _ => None,
            }
            .unwrap_or_default();
            if !error.to_string().contains(wanted.as_str()) {
                failures.push(format!("error: expected {wanted:?} in {error}"));
            }
            if let Some(want) = &expect.hint {
                if !hint.contains(want.as_str()) {
                    failures.push(format!("hint: expected {want:?} in {hint:?}"));
                }
            }
            return failures;
        }
        (Err(error), None) => return vec![format!("planning failed: {error}")],
        (Ok(plan), Some(wanted)) => return vec![format!("expected error {wanted:?}: {plan:?}")],
        (Ok(plan), None) => plan,
    };
    // The live values, and the routes for the SLAAC check (one request when read ahead).
    if host.commands_run.len() - reads_before > 2 {
        failures.push(format!(
            "planning ran more than the two reads: {:?}",
            &host.commands_run[reads_before..]
        ));
    }
    if let Some(changes) = &expect.changes {
        let subjects: Vec<&str> = plan.changes.iter().map(|c| c.subject.as_str()).collect();
        let wanted: Vec<&str> = changes.iter().map(|c| c.subject.as_str()).collect();
        if subjects != wanted {
            failures.push(format!(
                "changes: expected {wanted:?}, planned {subjects:?}"
            ));
        } else {
            for (change, want) in plan.changes.iter().zip(changes) {
                let ChangeDetail::Value { before, after } = &change.detail else {
                    failures.push(format!("{}: not a value change", change.subject));
                    continue;
                };
                if (before, after) != (&want.before, &want.after) {
                    failures.push(format!(
                        "{}: expected {:?} → {:?}, planned {before:?} → {after:?}",
                        change.subject, want.before, want.after
                    ));
                }
            }
        }
    }
    let warned_ok = plan.warnings.len() == expect.warnings.len()
        && plan
            .warnings
            .iter()
            .zip(&expect.warnings)
            .all(|(have, want)| have.contains(want.as_str()));
    if !warned_ok {
        failures.push(format!(
            "warnings: expected {:?}, planned {:?}",
            expect.warnings, plan.warnings
        ));
    }
    let before_apply = host.commands_run.len();
    if let Err(error) = plan.apply(&mut host) {
        failures.push(format!("apply failed: {error}"));
        return failures;
    }
    if let Some(ran) = &expect.ran {
        if &host.commands_run[before_apply..] != ran.as_slice() {
            failures.push(format!(
                "ran: expected {ran:?}, ran {:?}",
                &host.commands_run[before_apply..]
            ));
        }
    }
    if let Some(want) = &expect.file {
        let have = host.text("/etc/sysctl.conf");
        if have.as_deref() != Some(want.as_str()) {
            failures.push(format!("file: expected {want:?}, found {have:?}"));
        }
    }
    for (key, want) in &expect.live {
        let have = proc.lock().expect("proc").get(&proc_path(key)).cloned();
        if have.as_deref() != Some(want.as_str()) {
            failures.push(format!("live {key}: expected {want:?}, found {have:?}"));
        }
    }
    match module.plan(&case.args, &mut host, &context) {
        Ok(again) if again.is_change() => failures.push(format!(
            "not idempotent: {:?} / {:?}",
            again.changes, again.steps
        )),
        Ok(_) => {}
        Err(error) => failures.push(format!("planning after apply failed: {error}")),
    }
    failures
}

#[test]
fn sysctl_cases() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cases/sysctl"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("cases dir")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "sysctl cases: found {}", files.len());
    let report: Vec<String> = files
        .iter()
        .flat_map(|file| {
            run_case(file)
                .into_iter()
                .map(move |failure| format!("{}: {failure}", file.display()))
        })
        .collect();
    assert!(report.is_empty(), "{}", report.join("\n"));
}
