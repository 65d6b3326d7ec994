//! `locale_gen`, `debconf` and `apt_repository` planned over a memory host whose commands
//! act on shared state: the diff, check mode (planning) changing nothing, applying, and a
//! second plan finding nothing to do; and the errors a host that cannot do it gets.

use converge_modules::memory_host::MemoryHost;
use converge_modules::{find, ChangeDetail, Command, Context, Facts, Output, Plan, Program, Step};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

fn ok(stdout: &str) -> Option<Output> {
    Some(Output {
        status: 0,
        stdout: stdout.as_bytes().to_vec(),
        stderr: Vec::new(),
    })
}

fn plan_with(
    module: &str,
    args: &Value,
    host: &mut MemoryHost,
    facts: &Facts,
) -> Result<Plan, String> {
    find(module)
        .expect("module")
        .plan(args, host, &Context { facts })
        .map_err(|error| error.to_string())
}

fn shell(command: &Command) -> Option<&str> {
    match &command.program {
        Program::Shell(script) => Some(script),
        Program::Argv(_) => None,
    }
}

fn argv(command: &Command) -> Option<Vec<&str>> {
    match &command.program {
        Program::Argv(argv) => Some(argv.iter().map(String::as_str).collect()),
        Program::Shell(_) => None,
    }
}

// ---------------------------------------------------------------------------------------------
// locale_gen

const LOCALE_GEN: &str = "# This file lists locales that you wish to have built.\n\n# de_CH ISO-8859-1\n# de_CH.UTF-8 UTF-8\n# en_US.UTF-8 UTF-8\n";
const SUPPORTED: &str = "de_CH.UTF-8 UTF-8\nde_CH ISO-8859-1\nen_US.UTF-8 UTF-8\nfr_FR.UTF-8 UTF-8\nsr_RS@latin UTF-8\n";

struct Locales {
    /// `None`: no /etc/locale.gen.
    locale_gen: Option<String>,
    compiled: Vec<String>,
}

/// A Debian host: the read script answers from `state`; `locale-gen` compiles what
/// /etc/locale.gen (as the memory host has it after a write) enables.
fn locale_host(state: Arc<Mutex<Locales>>) -> MemoryHost {
    MemoryHost::new()
        .with_directory("/etc")
        .respond(move |command: &Command| {
            let state = state.lock().unwrap();
            if shell(command).is_some_and(|s| s.contains("locale -a")) {
                let section = "--converge-locale_gen-section--";
                let (mechanism, file) = match &state.locale_gen {
                    Some(text) => ("glibc", text.clone()),
                    None => ("none", String::new()),
                };
                return ok(&format!(
                    "{mechanism}\n{section}\n{file}\n{section}\n{SUPPORTED}\n{section}\n{}",
                    state
                        .compiled
                        .iter()
                        .map(|l| format!("{l}\n"))
                        .collect::<String>()
                ));
            }
            if argv(command).is_some_and(|a| a == ["locale-gen"]) {
                return ok("Generating locales (this might take a while)...\n");
            }
            None
        })
}

/// What `locale-gen` compiles from `text`: the uncommented names, as `locale -a` lists them.
fn compile(text: &str) -> Vec<String> {
    let mut out = vec!["C".to_string(), "C.utf8".to_string(), "POSIX".to_string()];
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let name = line.split_whitespace().next().unwrap();
        out.push(name.replace(".UTF-8", ".utf8"));
    }
    out
}

/// Plan (a change, nothing written), apply (then act out `locale-gen`), plan again.
fn converge_locales(state: &Arc<Mutex<Locales>>, args: Value) -> Plan {
    let mut host = locale_host(state.clone());
    if let Some(text) = &state.lock().unwrap().locale_gen {
        host = host.with_file("/etc/locale.gen", text.clone());
    }
    let facts = Facts::default();
    let first = plan_with("community.general.locale_gen", &args, &mut host, &facts).expect("plan");
    assert!(first.is_change(), "{args}: expected a change");
    let before = host.text("/etc/locale.gen");
    assert_eq!(before, state.lock().unwrap().locale_gen, "planning wrote");
    first.apply(&mut host).expect("apply");
    let after = host.text("/etc/locale.gen").expect("locale.gen");
    {
        let mut state = state.lock().unwrap();
        state.compiled = compile(&after);
        state.locale_gen = Some(after);
    }
    let second = plan_with("community.general.locale_gen", &args, &mut host, &facts).expect("plan");
    assert!(
        !second.is_change(),
        "{args}: second run: {:?}",
        second.changes
    );
    first
}

fn locales(compiled: &[&str]) -> Arc<Mutex<Locales>> {
    Arc::new(Mutex::new(Locales {
        locale_gen: Some(LOCALE_GEN.to_string()),
        compiled: compiled.iter().map(|s| s.to_string()).collect(),
    }))
}

#[test]
fn locale_gen_uncomments_the_line_and_runs_locale_gen() {
    let state = locales(&["C", "C.utf8", "POSIX"]);
    let plan = converge_locales(&state, json!({"name": "de_CH.UTF-8"}));
    assert_eq!(
        state.lock().unwrap().locale_gen.as_deref(),
        Some(LOCALE_GEN.replace("# de_CH.UTF-8", "de_CH.UTF-8").as_str())
    );
    assert_eq!(plan.changes[1].subject, "locales");
    assert_eq!(
        plan.changes[1].detail,
        ChangeDetail::Note("generate de_CH.UTF-8 (`locale-gen`)".into())
    );
    let Step::Run { command, .. } = &plan.steps[1] else {
        panic!("locale-gen")
    };
    assert_eq!(command.to_shell_line(), "locale-gen");
    assert_eq!(plan.result["mechanism"], json!("glibc"));
    assert_eq!(plan.result["name"], json!(["de_CH.UTF-8"]));
}

#[test]
fn locale_gen_appends_a_supported_locale_missing_from_locale_gen() {
    let state = locales(&["C"]);
    converge_locales(&state, json!({"name": ["fr_FR.UTF-8", "en_US.UTF-8"]}));
    assert_eq!(
        state.lock().unwrap().locale_gen.as_deref(),
        Some(
            LOCALE_GEN
                .replace("# en_US.UTF-8", "en_US.UTF-8")
                .add("fr_FR.UTF-8 UTF-8\n")
                .as_str()
        )
    );
}

trait Add {
    fn add(self, more: &str) -> String;
}

impl Add for String {
    fn add(mut self, more: &str) -> String {
        self.push_str(more);
        self
    }
}

#[test]
fn locale_gen_absent_comments_the_line_out_and_regenerates() {
    let state = locales(&[]);
    let enabled = LOCALE_GEN.replace("# de_CH.UTF-8", "de_CH.UTF-8");
    state.lock().unwrap().compiled = compile(&enabled);
    state.lock().unwrap().locale_gen = Some(enabled);
    converge_locales(&state, json!({"name": "de_CH.UTF-8", "state": "absent"}));
    assert_eq!(
        state.lock().unwrap().locale_gen.as_deref(),
        Some(LOCALE_GEN)
    );
}

#[test]
fn locale_gen_present_and_compiled_is_one_round_trip_and_no_change() {
    let state = locales(&["C", "de_CH.utf8", "POSIX"]);
    let mut host = locale_host(state);
    let plan = plan_with(
        "locale_gen",
        &json!({"name": ["de_CH.UTF-8", "C.UTF-8"]}),
        &mut host,
        &Facts::default(),
    );
    // C.UTF-8 is not in SUPPORTED and not compiled: refused.
    assert_eq!(
        plan.expect_err("C.UTF-8"),
        "The following locales you have entered are not available on your system: C.UTF-8"
    );
    let plan = plan_with(
        "locale_gen",
        &json!({"name": "de_CH.UTF-8"}),
        &mut host,
        &Facts::default(),
    )
    .expect("plan");
    assert!(!plan.is_change());
    assert_eq!(host.commands_run.len(), 2);
}

#[test]
fn locale_gen_without_locale_gen_says_what_is_missing() {
    let state = Arc::new(Mutex::new(Locales {
        locale_gen: None,
        compiled: vec![],
    }));
    let error = plan_with(
        "locale_gen",
        &json!({"name": "de_CH.UTF-8"}),
        &mut locale_host(state),
        &Facts::default(),
    )
    .expect_err("no locales package");
    assert_eq!(
        error,
        "/var/lib/locales/supported.d and /etc/locale.gen are missing. Is the package \"locales\" installed?"
    );
}
