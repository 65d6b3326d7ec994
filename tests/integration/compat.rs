//! Differential tests: every case in tests/compat/cases is applied by ansible-core (the pinned
//! venv of scripts/compat-venv) to one fresh lab host and by converge to its twin, twice each;
//! then the two hosts must hold the same files (path, kind, mode, owner, content), the same
//! iptables/ip6tables rules and `net.*` sysctls, and both tools must report the same number of
//! changed tasks on the first run and none on the second. tests/compat/pending.txt lists the
//! cases converge is known to fail, with the reason; a listed case that passes fails the test
//! too, so the list only shrinks. `CONVERGE_COMPAT_CASE=07` runs the cases whose name starts
//! with `07` (or contains the text); `CONVERGE_COMPAT_JOBS` sets how many run at once (3).

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::lab::Lab;

const REPO: &str = env!("CARGO_MANIFEST_DIR");
/// Longest a single ansible-playbook or converge run may take before it counts as hung.
const RUN_TIMEOUT_SECONDS: u32 = 240;
/// The overlaid directories of a lab host, as named below `hosts/<name>/upper`.
const OVERLAID: [(&str, &str); 7] = [
    ("etc", "/etc"),
    ("root", "/root"),
    ("home", "/home"),
    ("var", "/var"),
    ("usr_local", "/usr/local"),
    ("srv", "/srv"),
    ("tmp", "/tmp"),
];

/// `case.yml`: what a case covers and what the comparison leaves out.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseSpec {
    /// The features (issue items) the case exercises; listed in tests/compat/README.md.
    features: Vec<String>,
    /// Absolute paths (or prefixes ending in `/`) left out of the file comparison.
    #[serde(default)]
    exclude: Vec<String>,
    /// `net.*` sysctl keys always compared, even where a run left them at a fresh host's value.
    #[serde(default)]
    sysctl: Vec<String>,
    /// Extra command-line arguments for both tools (`--vault-password-file`, `-e`…), run
    /// from the case's directory.
    #[serde(default)]
    args: Vec<String>,
    /// Why the case looks the way it does.
    #[serde(default)]
    #[allow(dead_code)]
    notes: Option<String>,
}

struct Case {
    name: String,
    dir: PathBuf,
    spec: CaseSpec,
}

/// How one case ended.
enum Outcome {
    Pass,
    /// converge left a different state (or failed): the differences.
    Differs(String),
    /// The Ansible side failed: the case itself is broken.
    Broken(String),
}

#[test]
fn compat_converge_leaves_the_same_state_as_ansible_core() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "\n!!! SKIPPED compat differential tests: they need root (lab hosts are namespaces) !!!\n"
        );
        return;
    }
    let started = Instant::now();
    let venv = compat_venv();
    let pending = read_pending();
    let filter = std::env::var("CONVERGE_COMPAT_CASE").ok();
    let cases: Vec<Case> = read_cases()
        .into_iter()
        .filter(|case| match &filter {
            Some(f) => case.name.starts_with(f.as_str()) || case.name.contains(f.as_str()),
            None => true,
        })
        .collect();
    assert!(!cases.is_empty(), "no compat case matches {filter:?}");
    let all_names: BTreeSet<String> = read_cases().into_iter().map(|c| c.name).collect();
    let stale: Vec<&String> = pending.keys().filter(|n| !all_names.contains(*n)).collect();
    assert!(
        stale.is_empty(),
        "tests/compat/pending.txt names cases that do not exist: {stale:?}"
    );

    let lab = Lab::start(cases.len() * 2);
    let jobs: usize = std::env::var("CONVERGE_COMPAT_JOBS")
        .ok()
        .and_then(|j| j.parse().ok())
        .unwrap_or(3);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Outcome, Duration, Timing)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(index) else { break };
                let t0 = Instant::now();
                let twins = (
                    lab.hosts[2 * index].name.as_str(),
                    lab.hosts[2 * index + 1].name.as_str(),
                );
                let (outcome, timing) = run_case(&lab, &venv, case, twins);
                let took = t0.elapsed();
                let word = match &outcome {
                    Outcome::Pass => "pass",
                    Outcome::Differs(_) => "DIFFERS",
                    Outcome::Broken(_) => "BROKEN (ansible side)",
                };
                eprintln!(
                    "compat: {:<28} {word} ({:.1}s)",
                    case.name,
                    took.as_secs_f64()
                );
                results
                    .lock()
                    .expect("results")
                    .push((index, outcome, took, timing));
            });
        }
    });
    let mut results = results.into_inner().expect("results");
    results.sort_by_key(|(index, _, _, _)| *index);

    let mut problems = Vec::new();
    let mut passed = 0;
    for (index, outcome, _, _) in &results {
        let name = &cases[*index].name;
        match (outcome, pending.get(name)) {
            (Outcome::Pass, None) => passed += 1,
            (Outcome::Pass, Some(reason)) => {
                passed += 1;
                problems.push(format!(
                    "{name} passes now: remove it from tests/compat/pending.txt (listed as: {reason})"
                ));
            }
            (Outcome::Differs(_), Some(_)) => {}
            (Outcome::Differs(details), None) => {
                problems.push(format!(
                    "{name}: converge differs from ansible-core\n{details}"
                ));
            }
            (Outcome::Broken(details), _) => {
                problems.push(format!(
                    "{name}: the Ansible side fails, fix the case\n{details}"
                ));
            }
        }
    }
    eprintln!(
        "compat: {} cases, {passed} pass, {} pending, wall time {:.1}s",
        results.len(),
        results.len() - passed,
        started.elapsed().as_secs_f64()
    );
    // Speed on the cases both tools completed (converge as built for the test, usually a
    // debug build; ansible-core with pipelining), both runs of each.
    let completed: Vec<Timing> = results
        .iter()
        .filter(|(_, outcome, _, _)| matches!(outcome, Outcome::Pass))
        .map(|(_, _, _, timing)| *timing)
        .collect();
    let ansible: f64 = completed.iter().map(|t| t.ansible.as_secs_f64()).sum();
    let converge: f64 = completed.iter().map(|t| t.converge.as_secs_f64()).sum();
    if converge > 0.0 {
        eprintln!(
            "compat: speed on {} matching cases: ansible-core {ansible:.1}s, converge {converge:.1}s ({:.1}x)",
            completed.len(),
            ansible / converge
        );
    }
    if std::env::var_os("CONVERGE_COMPAT_VERBOSE").is_some() {
        for (index, outcome, _, _) in &results {
            if let Outcome::Differs(details) = outcome {
                eprintln!("--- {} (pending)\n{details}", cases[*index].name);
            }
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n\n"));
}

/// The pinned ansible-core venv (made on first use by scripts/compat-venv).
fn compat_venv() -> PathBuf {
    let output = Command::new(format!("{REPO}/scripts/compat-venv"))
        .output()
        .expect("run scripts/compat-venv");
    assert!(
        output.status.success(),
        "scripts/compat-venv failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

fn read_cases() -> Vec<Case> {
    let root = Path::new(REPO).join("tests/compat/cases");
    let mut cases: Vec<Case> = std::fs::read_dir(&root)
        .expect("tests/compat/cases")
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| {
            let dir = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(dir.join("case.yml"))
                .unwrap_or_else(|e| panic!("{name}/case.yml: {e}"));
            let spec: CaseSpec =
                serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}/case.yml: {e}"));
            assert!(
                !spec.features.is_empty(),
                "{name}/case.yml lists no features"
            );
            Case { name, dir, spec }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// tests/compat/pending.txt: `NN-name: reason` per line, `#` comments.
fn read_pending() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(Path::new(REPO).join("tests/compat/pending.txt"))
        .unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (name, reason) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("pending.txt: `{line}` lacks `: reason`"));
            (name.trim().to_string(), reason.trim().to_string())
        })
        .collect()
}

/// One tool's two runs on its twin.
struct Applied {
    changed: [Option<u32>; 2],
    output: [String; 2],
    ok: bool,
    /// Wall time of both runs.
    took: Duration,
}

/// Wall time of each tool on a case (both runs), for the speed ratio the summary prints.
#[derive(Clone, Copy, Default)]
struct Timing {
    ansible: Duration,
    converge: Duration,
}

fn run_case(
    lab: &Lab,
    venv: &Path,
    case: &Case,
    (ansible_host, converge_host): (&str, &str),
) -> (Outcome, Timing) {
    let before = [
        (
            snapshot_files(lab, ansible_host),
            net_sysctls(lab, ansible_host),
        ),
        (
            snapshot_files(lab, converge_host),
            net_sysctls(lab, converge_host),
        ),
    ];
    let ansible = apply(lab, case, ansible_host, Tool::Ansible(venv));
    let mut timing = Timing {
        ansible: ansible.took,
        ..Timing::default()
    };
    if !ansible.ok || ansible.changed.iter().any(Option::is_none) {
        return (
            Outcome::Broken(format!(
                "{}\n{}",
                tail(&ansible.output[0]),
                tail(&ansible.output[1])
            )),
            timing,
        );
    }
    if ansible.changed[1] != Some(0) {
        return (
            Outcome::Broken(format!(
                "ansible-playbook is not idempotent on this case (second run changed={:?})\n{}",
                ansible.changed[1],
                tail(&ansible.output[1])
            )),
            timing,
        );
    }
    let converge = apply(lab, case, converge_host, Tool::Converge);
    timing.converge = converge.took;
    let mut report = Vec::new();
    if !converge.ok {
        let last = converge.output.iter().rev().find(|o| !o.is_empty());
        report.push(format!(
            "converge failed:\n{}",
            tail(last.map_or("", String::as_str))
        ));
    }
    if converge.changed[0] != ansible.changed[0] {
        report.push(format!(
            "first run: ansible changed={:?}, converge changed={:?}",
            ansible.changed[0], converge.changed[0]
        ));
    }
    if converge.changed[1] != Some(0) {
        report.push(format!(
            "second run: converge changed={:?} (must be 0)\n{}",
            converge.changed[1],
            tail(&converge.output[1])
        ));
    }
    report.extend(compare_files(
        lab,
        case,
        [ansible_host, converge_host],
        &before,
    ));
    for tool in ["iptables-save", "ip6tables-save"] {
        let a = firewall(lab, ansible_host, tool);
        let c = firewall(lab, converge_host, tool);
        if a != c {
            report.push(format!(
                "{tool} differs (- ansible, + converge):\n{}",
                diff(&a, &c)
            ));
        }
    }
    let after = [
        net_sysctls(lab, ansible_host),
        net_sysctls(lab, converge_host),
    ];
    let mut keys: BTreeSet<&String> = case.spec.sysctl.iter().collect();
    for (twin, now) in after.iter().enumerate() {
        for (key, value) in now {
            if before[twin].1.get(key) != Some(value) && !sysctl_noise(key) {
                keys.insert(key);
            }
        }
    }
    for key in keys {
        let (a, c) = (after[0].get(key), after[1].get(key));
        if a != c {
            report.push(format!("sysctl {key}: ansible {a:?}, converge {c:?}"));
        }
    }
    let outcome = if report.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Differs(report.join("\n"))
    };
    (outcome, timing)
}

enum Tool<'a> {
    Ansible(&'a Path),
    Converge,
}

/// Copy the case into a fresh directory with an inventory naming `twin` (the same inventory
/// name on both sides, so templates see the same `inventory_hostname`), run the tool twice.
fn apply(lab: &Lab, case: &Case, host: &str, tool: Tool) -> Applied {
    let work = tempfile::tempdir().expect("temp dir");
    copy_tree(&case.dir, work.path());
    let address = &lab
        .hosts
        .iter()
        .find(|h| h.name == host)
        .expect("lab host")
        .ipv6;
    let state = lab.state().display();
    std::fs::write(
        work.path().join("inventory.yml"),
        format!(
            "all:\n  children:\n    twins:\n      hosts:\n        twin:\n          ansible_host: \"{address}\"\n          ansible_user: root\n          ansible_port: 22\n          ansible_python_interpreter: /usr/bin/python3\n          ansible_ssh_private_key_file: {state}/id_ed25519\n          ansible_ssh_common_args: \"-o UserKnownHostsFile={state}/known_hosts -o IdentitiesOnly=yes -o KexAlgorithms=curve25519-sha256\"\n"
        ),
    )
    .expect("write inventory");
    let mut applied = Applied {
        changed: [None, None],
        output: [String::new(), String::new()],
        ok: true,
        took: Duration::ZERO,
    };
    let started = Instant::now();
    for run in 0..2 {
        let mut command = Command::new("timeout");
        command.arg(RUN_TIMEOUT_SECONDS.to_string());
        match tool {
            Tool::Ansible(venv) => {
                let home = work.path().join(".ansible-home");
                command
                    .arg(venv.join("bin/ansible-playbook"))
                    .env("ANSIBLE_PIPELINING", "1")
                    .env("ANSIBLE_HOME", &home)
                    .env("ANSIBLE_LOCAL_TEMP", home.join("tmp"))
                    .env("ANSIBLE_SSH_CONTROL_PATH_DIR", home.join("cp"))
                    .env("ANSIBLE_RETRY_FILES_ENABLED", "false")
                    .env("ANSIBLE_NOCOLOR", "1")
                    .env("ANSIBLE_FORCE_COLOR", "0")
                    .env("ANSIBLE_DEPRECATION_WARNINGS", "false")
                    .env("ANSIBLE_PYTHON_INTERPRETER", "/usr/bin/python3")
                    .env("ANSIBLE_CONFIG", work.path().join("no-ansible.cfg"))
                    .env(
                        "PATH",
                        format!("{}/bin:/usr/sbin:/usr/bin:/sbin:/bin", venv.display()),
                    );
            }
            Tool::Converge => {
                command
                    .arg(env!("CARGO_BIN_EXE_converge"))
                    .env("NO_COLOR", "1")
                    .env_remove("CLICOLOR_FORCE");
            }
        }
        let output = command
            .args(["-i", "inventory.yml", "site.yml"])
            .args(&case.spec.args)
            .current_dir(work.path())
            .output()
            .expect("run the tool");
        let text = format!(
            "$ ({}) run {} exit {}\n{}{}",
            match tool {
                Tool::Ansible(_) => "ansible-playbook",
                Tool::Converge => "converge",
            },
            run + 1,
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        applied.took = started.elapsed();
        applied.changed[run] = recap_changed(&text, "twin");
        applied.output[run] = text;
        if !output.status.success() {
            applied.ok = false;
            break;
        }
    }
    applied
}

/// `changed=N` from the host's recap line (ansible-playbook's `PLAY RECAP` or converge's
/// `RECAP`).
fn recap_changed(output: &str, host: &str) -> Option<u32> {
    let line = output
        .lines()
        .rev()
        .find(|line| line.split_whitespace().next() == Some(host) && line.contains("changed="))?;
    let value = line.split("changed=").nth(1)?;
    value
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(60);
    lines[start..].join("\n")
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read case dir").flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy case file");
        }
    }
}

/// A host's files and `net.*` sysctls before the runs.
type HostState = (BTreeMap<String, Entry>, BTreeMap<String, String>);

/// What a path holds on a host, as far as the comparison cares.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    File(Vec<u8>),
    Dir,
    Link(PathBuf),
    Absent,
    Other(u32),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    kind: Kind,
    mode: u32,
    uid: u32,
    gid: u32,
}

impl Entry {
    fn absent() -> Entry {
        Entry {
            kind: Kind::Absent,
            mode: 0,
            uid: 0,
            gid: 0,
        }
    }

    fn read(path: &Path) -> Entry {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return Entry::absent();
        };
        let file_type = meta.file_type();
        let kind = if file_type.is_symlink() {
            Kind::Link(std::fs::read_link(path).unwrap_or_default())
        } else if file_type.is_dir() {
            Kind::Dir
        } else if file_type.is_file() {
            Kind::File(std::fs::read(path).unwrap_or_default())
        } else if meta.mode() & libc::S_IFMT == libc::S_IFCHR && meta.rdev() == 0 {
            // an overlayfs whiteout: the path was deleted on the host
            return Entry::absent();
        } else {
            Kind::Other(meta.mode() & libc::S_IFMT)
        };
        let mode = if matches!(kind, Kind::Link(_)) {
            0
        } else {
            meta.mode() & 0o7777
        };
        Entry {
            kind,
            mode,
            uid: meta.uid(),
            gid: meta.gid(),
        }
    }

    fn describe(&self) -> String {
        let kind = match &self.kind {
            Kind::File(bytes) => format!("file ({} bytes)", bytes.len()),
            Kind::Dir => "directory".to_string(),
            Kind::Link(target) => format!("symlink -> {}", target.display()),
            Kind::Absent => return "absent".to_string(),
            Kind::Other(t) => format!("special file {t:o}"),
        };
        format!(
            "{kind} mode {:04o} owner {}:{}",
            self.mode, self.uid, self.gid
        )
    }
}

/// Every path below a host's upper dirs (absolute host paths), noise left out.
fn snapshot_files(lab: &Lab, host: &str) -> BTreeMap<String, Entry> {
    let upper = lab.state().join("hosts").join(host).join("upper");
    let mut found = BTreeMap::new();
    for (name, absolute) in OVERLAID {
        walk(&upper.join(name), absolute, &mut found);
    }
    found
}

fn walk(dir: &Path, absolute: &str, found: &mut BTreeMap<String, Entry>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let host_path = format!("{absolute}/{}", entry.file_name().to_string_lossy());
        if tool_noise(&host_path) {
            continue;
        }
        let path = entry.path();
        let record = Entry::read(&path);
        let is_dir = record.kind == Kind::Dir;
        found.insert(host_path.clone(), record);
        if is_dir {
            walk(&path, &host_path, found);
        }
    }
}

/// Files that belong to the tools or the lab rather than to the state a playbook describes.
fn tool_noise(path: &str) -> bool {
    const PREFIXES: [&str; 8] = [
        "/root/.ansible",
        "/root/.cache",
        "/var/log/",
        "/var/lib/converge",
        "/root/.converge",
        "/var/cache/",
        "/var/lib/sudo",
        "/root/.python_history",
    ];
    PREFIXES.iter().any(|p| path.starts_with(p))
        || path == "/var/log"
        || path.split('/').any(|part| {
            part == "__pycache__"
                || part == ".ansible"
                || part.starts_with(".ansible_tmp")
                || part.starts_with("ansible-tmp-")
                || part.ends_with(".pyc")
        })
}

/// What `path` holds on the host: the upper entry if the host wrote it, else the lower dir
/// (the machine's own file; /root and /tmp start empty).
fn effective(upper: &BTreeMap<String, Entry>, path: &str) -> Entry {
    if let Some(entry) = upper.get(path) {
        return entry.clone();
    }
    if path.starts_with("/root") || path.starts_with("/tmp") {
        return Entry::absent();
    }
    Entry::read(Path::new(path))
}

fn excluded(case: &Case, path: &str) -> bool {
    case.spec.exclude.iter().any(|e| {
        if e.ends_with('/') {
            path.starts_with(e.as_str()) || format!("{path}/") == *e
        } else {
            path == e
        }
    })
}

/// Paths either run changed (relative to that host's own state before the runs), compared
/// between the twins as the hosts see them.
fn compare_files(lab: &Lab, case: &Case, hosts: [&str; 2], before: &[HostState; 2]) -> Vec<String> {
    let after = [snapshot_files(lab, hosts[0]), snapshot_files(lab, hosts[1])];
    let mut touched = BTreeSet::new();
    for twin in 0..2 {
        for (path, entry) in &after[twin] {
            if before[twin].0.get(path) != Some(entry) {
                touched.insert(path.clone());
            }
        }
        for path in before[twin].0.keys() {
            if !after[twin].contains_key(path) {
                touched.insert(path.clone());
            }
        }
    }
    let mut report = Vec::new();
    for path in touched {
        if excluded(case, &path) {
            continue;
        }
        let a = effective(&after[0], &path);
        let c = effective(&after[1], &path);
        if a == c {
            continue;
        }
        let mut text = format!(
            "file {path}: ansible left {}, converge left {}",
            a.describe(),
            c.describe()
        );
        if let (Kind::File(x), Kind::File(y)) = (&a.kind, &c.kind) {
            if x != y {
                text.push_str(&format!(
                    "\n{}",
                    diff(&String::from_utf8_lossy(x), &String::from_utf8_lossy(y))
                ));
            }
        }
        report.push(text);
    }
    report
}

fn diff(ansible: &str, converge: &str) -> String {
    similar::TextDiff::from_lines(ansible, converge)
        .unified_diff()
        .header("ansible", "converge")
        .to_string()
}

/// `iptables-save`/`ip6tables-save` without comments and counters, leaving out tables that
/// hold nothing (only built-in chains with policy ACCEPT): listing a table creates it.
fn firewall(lab: &Lab, host: &str, tool: &str) -> String {
    let result = lab.exec(host, &[tool]);
    let counters = regex::Regex::new(r"\[\d+:\d+\]").expect("regex");
    let mut out = String::new();
    let mut table: Vec<String> = Vec::new();
    for line in result.stdout.lines() {
        if line.starts_with('#') {
            continue;
        }
        let line = counters.replace_all(line, "").trim_end().to_string();
        table.push(line.clone());
        if line == "COMMIT" {
            let empty = table.iter().all(|l| {
                l.starts_with('*')
                    || l == "COMMIT"
                    || (l.starts_with(':') && l.ends_with(" ACCEPT"))
            });
            if !empty {
                out.push_str(&table.join("\n"));
                out.push('\n');
            }
            table.clear();
        }
    }
    out
}

/// Every `net.*` sysctl inside the host.
fn net_sysctls(lab: &Lab, host: &str) -> BTreeMap<String, String> {
    let result = lab.exec(host, &["sysctl", "-a", "-r", r"^net\."]);
    result
        .stdout
        .lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Keys that change on their own (counters, random values).
fn sysctl_noise(key: &str) -> bool {
    key.ends_with("_count")
        || key.ends_with("stable_secret")
        || key.contains("nf_conntrack_buckets")
        || key.starts_with("net.netfilter.nf_log")
}
