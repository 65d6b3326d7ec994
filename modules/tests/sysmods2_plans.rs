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

// ---------------------------------------------------------------------------------------------
// debconf

/// Debconf answers: (question, type, value, seen).
type Answers = Arc<Mutex<Vec<(String, String, String, bool)>>>;

/// A Debian host whose debconf answers for `locales` and `tripwire` live in `db`
/// (question → (type, value, seen)); `debconf-set-selections` stores what it reads.
fn debconf_host(db: Answers) -> MemoryHost {
    MemoryHost::new().respond(move |command: &Command| {
        let mut db = db.lock().unwrap();
        if let Some(script) = shell(command) {
            if !script.contains("debconf-show") {
                return None;
            }
            let package = if script.contains("debconf-show locales") {
                "locales"
            } else {
                "tripwire"
            };
            let mut out = String::new();
            for (question, vtype, value, seen) in db.iter() {
                if question.starts_with(package) {
                    let shown = if vtype == "password" {
                        "(password omitted)"
                    } else {
                        value
                    };
                    out.push_str(&format!(
                        "{} {question}: {shown}\n",
                        if *seen { "*" } else { " " }
                    ));
                }
            }
            if script.contains("debconf-get-selections") {
                out.push_str("--converge-debconf-section--\n");
                for (question, vtype, value, _) in db.iter() {
                    if vtype == "password" && script.contains(question.as_str()) {
                        out.push_str(&format!("{package}\t{question}\t{vtype}\t{value}\n"));
                    }
                }
            }
            return ok(&out);
        }
        let argv = argv(command)?;
        if argv[0] != "debconf-set-selections" {
            return None;
        }
        let line = String::from_utf8(command.stdin.clone().unwrap_or_default()).unwrap();
        let mut fields = line.trim_end().splitn(4, ' ');
        let (_, question, vtype, value) = (
            fields.next().unwrap(),
            fields.next().unwrap().to_string(),
            fields.next().unwrap().to_string(),
            fields.next().unwrap_or_default().to_string(),
        );
        let seen = !argv.contains(&"-u");
        db.retain(|(q, ..)| *q != question);
        db.push((question, vtype, value, seen));
        ok("")
    })
}

fn debconf_db() -> Answers {
    Arc::new(Mutex::new(vec![
        (
            "locales/default_environment_locale".into(),
            "select".into(),
            "None".into(),
            false,
        ),
        (
            "locales/locales_to_be_generated".into(),
            "multiselect".into(),
            "en_US.UTF-8 UTF-8, de_CH.UTF-8 UTF-8".into(),
            true,
        ),
        (
            "tripwire/site-passphrase".into(),
            "password".into(),
            "old".into(),
            true,
        ),
    ]))
}

fn converge_debconf(db: &Answers, args: Value) -> Plan {
    let mut host = debconf_host(db.clone());
    let facts = Facts::default();
    let before = db.lock().unwrap().clone();
    let first = plan_with("ansible.builtin.debconf", &args, &mut host, &facts).expect("plan");
    assert!(first.is_change(), "{args}: expected a change");
    assert_eq!(*db.lock().unwrap(), before, "planning changed debconf");
    first.apply(&mut host).expect("apply");
    let second = plan_with("ansible.builtin.debconf", &args, &mut host, &facts).expect("plan");
    assert!(
        !second.is_change(),
        "{args}: second run: {:?}",
        second.changes
    );
    first
}

#[test]
fn debconf_sets_a_select_answer_and_returns_previous_and_current() {
    let db = debconf_db();
    let plan = converge_debconf(
        &db,
        json!({"name": "locales", "question": "locales/default_environment_locale", "vtype": "select", "value": "de_CH.UTF-8"}),
    );
    assert_eq!(
        plan.changes[0],
        converge_modules::Change::value(
            "locales locales/default_environment_locale",
            Some("None".into()),
            Some("de_CH.UTF-8".into())
        )
    );
    let Step::Run { command, .. } = &plan.steps[0] else {
        panic!("set-selections")
    };
    assert_eq!(command.to_shell_line(), "debconf-set-selections");
    assert_eq!(
        command.stdin.as_deref(),
        Some(&b"locales locales/default_environment_locale select de_CH.UTF-8\n"[..])
    );
    assert_eq!(
        plan.result["current"],
        json!({"locales/default_environment_locale": "de_CH.UTF-8"})
    );
    assert_eq!(
        plan.result["previous"],
        json!({"locales/default_environment_locale": "None"})
    );
    assert_eq!(plan.result["msg"], json!(""));
}

#[test]
fn debconf_multiselect_lists_compare_in_any_order() {
    let db = debconf_db();
    let args = json!({"name": "locales", "question": "locales/locales_to_be_generated", "vtype": "multiselect",
                      "value": ["de_CH.UTF-8 UTF-8", "en_US.UTF-8 UTF-8"]});
    let plan = plan_with(
        "debconf",
        &args,
        &mut debconf_host(db.clone()),
        &Facts::default(),
    )
    .expect("plan");
    assert!(!plan.is_change());
    converge_debconf(
        &db,
        json!({"name": "locales", "question": "locales/locales_to_be_generated", "vtype": "multiselect",
               "value": ["fr_FR.UTF-8 UTF-8", "de_CH.UTF-8 UTF-8"], "unseen": true}),
    );
    let stored = db
        .lock()
        .unwrap()
        .iter()
        .find(|e| e.0 == "locales/locales_to_be_generated")
        .cloned()
        .unwrap();
    assert_eq!(stored.2, "de_CH.UTF-8 UTF-8, fr_FR.UTF-8 UTF-8");
    assert!(!stored.3, "unseen");
}

#[test]
fn debconf_booleans_compare_in_lowercase_and_a_new_question_is_a_change() {
    let db = debconf_db();
    let plan = converge_debconf(
        &db,
        json!({"pkg": "locales", "setting": "locales/use_converge", "vtype": "boolean", "answer": true}),
    );
    assert_eq!(plan.result["previous"]["locales/use_converge"], json!(""));
    assert_eq!(
        plan.result["current"],
        json!({"locales/use_converge": "true"})
    );
    let again = plan_with(
        "debconf",
        &json!({"name": "locales", "question": "locales/use_converge", "vtype": "boolean", "value": "True"}),
        &mut debconf_host(db),
        &Facts::default(),
    )
    .expect("plan");
    assert!(!again.is_change());
}

#[test]
fn debconf_passwords_are_read_from_selections_and_never_shown() {
    let db = debconf_db();
    let args = json!({"name": "tripwire", "question": "tripwire/site-passphrase", "vtype": "password", "value": "new"});
    let plan = converge_debconf(&db, args);
    assert_eq!(
        plan.changes[0].detail,
        ChangeDetail::Hidden("password".into())
    );
    let same = json!({"name": "tripwire", "question": "tripwire/site-passphrase", "vtype": "password", "value": "new"});
    let mut host = debconf_host(db);
    assert!(!plan_with("debconf", &same, &mut host, &Facts::default())
        .unwrap()
        .is_change());
    assert_eq!(host.commands_run.len(), 1, "one round trip");
}

#[test]
fn debconf_without_a_question_returns_every_answer() {
    let plan = plan_with(
        "debconf",
        &json!({"name": "locales"}),
        &mut debconf_host(debconf_db()),
        &Facts::default(),
    )
    .expect("plan");
    assert!(!plan.is_change());
    assert_eq!(
        plan.result["current"],
        json!({"locales/default_environment_locale": "None", "locales/locales_to_be_generated": "en_US.UTF-8 UTF-8, de_CH.UTF-8 UTF-8"})
    );
}

#[test]
fn debconf_on_a_host_without_debconf_and_half_given_arguments_are_refused() {
    let error = plan_with(
        "debconf",
        &json!({"name": "locales"}),
        &mut MemoryHost::new().respond(|_| {
            Some(Output {
                status: 127,
                stdout: vec![],
                stderr: vec![],
            })
        }),
        &Facts::default(),
    )
    .expect_err("no debconf");
    assert!(
        error.contains("debconf is not installed on this host"),
        "{error}"
    );
    let module = find("debconf").unwrap();
    let error = module
        .validate(&json!({"name": "locales", "question": "locales/x", "value": "a"}))
        .expect_err("vtype missing");
    assert_eq!(
        error.message,
        "parameters are required together: question, vtype, value"
    );
    let error = module
        .validate(
            &json!({"name": "locales", "question": "locales/x", "vtype": "string", "value": ["a"]}),
        )
        .expect_err("list");
    assert!(
        error.message.contains("only `vtype: multiselect`"),
        "{}",
        error.message
    );
}

// ---------------------------------------------------------------------------------------------
// apt_repository

use std::collections::BTreeMap;

type Sources = Arc<Mutex<BTreeMap<String, String>>>;

fn debian() -> Facts {
    Facts {
        os_family: "Debian".into(),
        pkg_mgr: "apt".into(),
        distribution: "Debian".into(),
        distribution_release: "bookworm".into(),
        ..Facts::default()
    }
}

/// A host whose sources files are `sources` (path → content) and whose `apt-get update`
/// succeeds unless `update_fails`.
fn sources_host(sources: Sources, update_fails: bool) -> MemoryHost {
    let mut host = MemoryHost::new().with_directory("/etc/apt/sources.list.d");
    for (path, text) in sources.lock().unwrap().iter() {
        host = host.with_file(path, text.clone());
    }
    host.respond(move |command: &Command| {
        let script = shell(command)?;
        if script.contains("--converge-apt_repository-file--") {
            let mut out = String::new();
            for (path, text) in sources.lock().unwrap().iter() {
                out.push_str(&format!(
                    "--converge-apt_repository-file-- {path}\n{path}\n{text}\n"
                ));
            }
            return ok(&out);
        }
        if script.contains("apt-get update") {
            return Some(Output {
                status: i32::from(update_fails),
                stdout: Vec::new(),
                stderr: Vec::new(),
            });
        }
        None
    })
}

/// The memory host's sources files, as the next read sees them.
fn sync(host: &MemoryHost, sources: &Sources) {
    let mut map = sources.lock().unwrap();
    map.clear();
    for (path, entry) in &host.files {
        if (path == "/etc/apt/sources.list" || path.starts_with("/etc/apt/sources.list.d/"))
            && path.ends_with(".list")
        {
            map.insert(
                path.clone(),
                String::from_utf8(entry.content.clone()).unwrap(),
            );
        }
    }
}

fn converge_sources(sources: &Sources, args: Value) -> (Plan, MemoryHost) {
    let mut host = sources_host(sources.clone(), false);
    let files = host.files.clone();
    let first = plan_with(
        "ansible.builtin.apt_repository",
        &args,
        &mut host,
        &debian(),
    )
    .expect("plan");
    assert!(first.is_change(), "{args}: expected a change");
    assert_eq!(host.files, files, "planning changed files");
    first.apply(&mut host).expect("apply");
    sync(&host, sources);
    let second = plan_with(
        "ansible.builtin.apt_repository",
        &args,
        &mut host,
        &debian(),
    )
    .expect("plan");
    assert!(
        !second.is_change(),
        "{args}: second run: {:?}",
        second.changes
    );
    (first, host)
}

const MAIN_LIST: &str = "# See sources.list(5)\ndeb http://deb.debian.org/debian bookworm main\n#deb   http://deb.debian.org/debian  bookworm-backports main # later\n";

fn sources() -> Sources {
    Arc::new(Mutex::new(BTreeMap::from([(
        "/etc/apt/sources.list".to_string(),
        MAIN_LIST.to_string(),
    )])))
}

#[test]
fn apt_repository_adds_a_file_named_after_the_uri_then_updates_the_cache() {
    let sources = sources();
    let repo =
        "deb [signed-by=/etc/apt/keyrings/example.asc] https://dl.example.com/debian stable main";
    let (plan, host) = converge_sources(&sources, json!({"repo": repo}));
    let path = "/etc/apt/sources.list.d/dl_example_com_debian.list";
    assert_eq!(
        host.text(path).as_deref(),
        Some(format!("{repo}\n").as_str())
    );
    assert_eq!(host.files[path].mode, 0o644);
    assert_eq!(plan.result["sources_added"], json!([path]));
    assert_eq!(plan.result["sources_removed"], json!([]));
    assert_eq!(plan.result["repo"], json!(repo));
    assert_eq!(plan.result["state"], json!("present"));
    let Step::Run { command, .. } = plan.steps.last().unwrap() else {
        panic!("apt-get update last")
    };
    let script = shell(command).unwrap();
    assert!(
        script.contains("apt-get update -q --error-on=any"),
        "{script}"
    );
    assert!(
        script.contains(&format!("rm -f -- {path}")),
        "reverts: {script}"
    );
    // The machine's file was not touched.
    assert_eq!(
        host.text("/etc/apt/sources.list").as_deref(),
        Some(MAIN_LIST)
    );
}

#[test]
fn apt_repository_enables_a_disabled_copy_in_place_and_keeps_other_lines() {
    let sources = sources();
    let (plan, host) = converge_sources(
        &sources,
        json!({"repo": "deb http://deb.debian.org/debian bookworm-backports main", "update_cache": false, "filename": "ignored"}),
    );
    assert_eq!(
        host.text("/etc/apt/sources.list").as_deref(),
        Some("# See sources.list(5)\ndeb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-backports main # later\n")
    );
    assert_eq!(plan.steps.len(), 1, "no cache update: {:?}", plan.steps);
    assert_eq!(plan.result["sources_added"], json!([]));
}

#[test]
fn apt_repository_absent_removes_the_line_and_an_emptied_file() {
    let sources = sources();
    sources.lock().unwrap().insert(
        "/etc/apt/sources.list.d/example.list".into(),
        "deb  https://dl.example.com/debian stable main\n".into(),
    );
    let (plan, host) = converge_sources(
        &sources,
        json!({"repo": "deb https://dl.example.com/debian stable main", "state": "absent", "update_cache": "no"}),
    );
    assert!(host.text("/etc/apt/sources.list.d/example.list").is_none());
    assert_eq!(
        plan.result["sources_removed"],
        json!(["/etc/apt/sources.list.d/example.list"])
    );
    // The line in sources.list too: the file stays, with its comment.
    let (_, host) = converge_sources(
        &sources,
        json!({"repo": "deb http://deb.debian.org/debian bookworm main", "state": "absent", "update_cache": false}),
    );
    assert_eq!(
        host.text("/etc/apt/sources.list").as_deref(),
        Some("# See sources.list(5)\n#deb   http://deb.debian.org/debian  bookworm-backports main # later\n")
    );
}

#[test]
fn apt_repository_present_already_is_one_round_trip() {
    let sources = sources();
    let mut host = sources_host(sources, false);
    let plan = plan_with(
        "apt_repository",
        &json!({"repo": "deb   http://deb.debian.org/debian bookworm main"}),
        &mut host,
        &debian(),
    )
    .expect("plan");
    assert!(!plan.is_change());
    assert_eq!(host.commands_run.len(), 1);
}

#[test]
fn apt_repository_a_failing_update_fails_the_task() {
    let sources = sources();
    let mut host = sources_host(sources, true);
    let plan = plan_with(
        "apt_repository",
        &json!({"repo": "deb http://bad.example/debian x main", "filename": "bad", "mode": "0600"}),
        &mut host,
        &debian(),
    )
    .expect("plan");
    assert!(!host.files.contains_key("/etc/apt/sources.list.d/bad.list"));
    assert!(plan.apply(&mut host).is_err(), "the update failed");
}

#[test]
fn apt_repository_ppa_offline_where_it_can_and_refused_where_it_cannot() {
    let sources = sources();
    sources.lock().unwrap().insert(
        "/etc/apt/sources.list.d/ppa.list".into(),
        "deb https://ppa.launchpadcontent.net/deadsnakes/ppa/ubuntu noble main\n".into(),
    );
    let mut host = sources_host(sources.clone(), false);
    let present = plan_with(
        "apt_repository",
        &json!({"repo": "ppa:deadsnakes/ppa", "codename": "noble"}),
        &mut host,
        &debian(),
    )
    .expect("plan");
    assert!(!present.is_change());
    let error = plan_with(
        "apt_repository",
        &json!({"repo": "ppa:deadsnakes/ppa"}),
        &mut host,
        &debian(),
    )
    .expect_err("needs the network");
    assert!(
        error.contains("needs its signing key from Launchpad"),
        "{error}"
    );
    converge_sources(
        &sources,
        json!({"repo": "ppa:deadsnakes/ppa", "codename": "noble", "state": "absent", "update_cache": false}),
    );
}

#[test]
fn apt_repository_on_slackware_and_bad_lines_are_refused() {
    let slackware = Facts {
        os_family: "Slackware".into(),
        distribution: "Slackware".into(),
        pkg_mgr: "slackpkg".into(),
        ..Facts::default()
    };
    let error = plan_with(
        "apt_repository",
        &json!({"repo": "deb http://a/ b c"}),
        &mut MemoryHost::new(),
        &slackware,
    )
    .expect_err("not Debian");
    assert!(
        error.starts_with("Module apt_repository is not supported on target"),
        "{error}"
    );
    let module = find("apt_repository").unwrap();
    let error = module
        .validate(&json!({"repo": "http://a/ b c"}))
        .expect_err("no deb");
    assert_eq!(error.message, "Invalid repository string: http://a/ b c");
    let error = module
        .validate(&json!({"repo": "# deb http://a/ b c"}))
        .expect_err("disabled");
    assert!(
        error.message.starts_with("Invalid repository string"),
        "{}",
        error.message
    );
}
