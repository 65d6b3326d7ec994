//! The `sendmail_mc` module: mc editing over fixtures in the style of Slackware's and Debian's
//! stock files, the MSA trap, and the real m4 building the edited mc (when sendmail-cf is
//! installed) with the DaemonPortOptions the plan promises.

use converge_modules::memory_host::MemoryHost;
use converge_modules::sendmail_mc::{
    check_daemons, daemon_port_options, edit_mc, items, m4_command, parse, SendmailMcArgs,
};
use converge_modules::{
    ChangeDetail, Command, Context, Facts, ModuleError, Output, Plan, Program, Step,
};
use serde_json::{json, Value};
use std::io::Write as _;
use std::path::Path;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sendmail");
const CORPUS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/sendmail"
);
const CF_DIR: &str = "/usr/share/sendmail/cf";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name)).expect("fixture")
}

fn edit(text: &str, value: Value) -> Result<String, String> {
    let args: SendmailMcArgs = serde_json::from_value(value).expect("args");
    let state = args.state;
    let wanted = items(&args).map_err(|e| e.message)?;
    edit_mc(text, &wanted, state)
}

/// The lab task: submission on IPv6 without the default MSA, and the port-25 MTA kept.
fn submission_v6() -> Value {
    json!({
        "features": ["no_default_msa"],
        "daemon_options": [
            {"Port": "smtp", "Name": "MTA"},
            {"Port": "submission", "Name": "MSA6", "Family": "inet6", "M": "Ea"}
        ]
    })
}

#[test]
fn slackware_mc_gets_feature_and_daemons_after_the_last_feature() {
    let before = fixture("slackware-like.mc");
    let after = edit(&before, submission_v6()).unwrap();
    let expected = before.replace(
        "FEATURE(`redirect')dnl\n",
        "FEATURE(`redirect')dnl\n\
         FEATURE(`no_default_msa')dnl\n\
         DAEMON_OPTIONS(`Port=smtp, Name=MTA')dnl\n\
         DAEMON_OPTIONS(`Port=submission, Name=MSA6, Family=inet6, M=Ea')dnl\n",
    );
    assert_eq!(after, expected);
    assert_eq!(
        edit(&after, submission_v6()).unwrap(),
        after,
        "second edit changes nothing"
    );
}

#[test]
fn debian_mc_keeps_an_equal_split_define_and_replaces_by_name() {
    let before = fixture("debian-like.mc");
    // Same value as the two-line define: left exactly as written.
    let same = json!({"defines": {"confPRIVACY_FLAGS": "needmailhelo,needexpnhelo,needvrfyhelo,restrictqrun,authwarnings"}});
    assert_eq!(edit(&before, same).unwrap(), before);

    let after = edit(
        &before,
        json!({
            "defines": {"confPRIVACY_FLAGS": "authwarnings", "confTO_QUEUEWARN": "`8:12'"},
            "daemon_options": [
                "Family=inet, Name=MSP-v4, Port=submission, M=Ea",
                {"Family": "inet6", "Name": "MSP-v6", "Port": "submission", "M": "Ea"}
            ]
        }),
    )
    .unwrap();
    let expected = before
        .replace(
            "define(`confPRIVACY_FLAGS',dnl\n`needmailhelo,needexpnhelo,needvrfyhelo,restrictqrun,authwarnings')dnl\n",
            "define(`confPRIVACY_FLAGS', `authwarnings')dnl\n",
        )
        .replace(
            "define(`confCONNECTION_RATE_WINDOW_SIZE',`10m')dnl\n",
            "define(`confCONNECTION_RATE_WINDOW_SIZE',`10m')dnl\ndefine(`confTO_QUEUEWARN', ``8:12'')dnl\n",
        )
        .replace(
            "DAEMON_OPTIONS(`Family=inet,  Name=MSP-v4, Port=submission, M=Ea, Addr=127.0.0.1')dnl\n",
            "DAEMON_OPTIONS(`Family=inet, Name=MSP-v4, Port=submission, M=Ea')dnl\n\
             DAEMON_OPTIONS(`Family=inet6, Name=MSP-v6, Port=submission, M=Ea')dnl\n",
        );
    assert_eq!(after, expected);
    // The commented-out daemons are comments: untouched.
    assert!(after.contains(
        "dnl DAEMON_OPTIONS(`Family=inet6, Name=MSP-v6, Port=submission, M=Ea, Addr=::1')dnl\n"
    ));
}

#[test]
fn absent_removes_whole_statements_including_continued_lines() {
    let before = fixture("debian-like.mc");
    let after = edit(
        &before,
        json!({
            "state": "absent",
            "features": ["greet_pause"],
            "defines": {"confPRIVACY_FLAGS": null},
            "daemon_options": [{"Name": "MTA-v4"}],
            "lines": ["MAILER(`smtp')dnl"]
        }),
    )
    .unwrap();
    assert!(!after.contains("greet_pause"));
    assert!(!after.contains("confPRIVACY_FLAGS"));
    assert!(!after.contains("needmailhelo"));
    assert!(!after.contains("Name=MTA-v4, Port=smtp, Addr=127.0.0.1')dnl\nDAEMON"));
    assert!(after.contains("dnl DAEMON_OPTIONS(`Family=inet6, Name=MTA-v6"));
    assert!(!after.contains("MAILER(`smtp')"));
    assert_eq!(before.lines().count() - after.lines().count(), 5);
}

#[test]
fn daemon_without_name_is_matched_by_its_options() {
    let text = "OSTYPE(`linux')dnl\nDAEMON_OPTIONS(`Port=2525,Addr=::1, Family=inet6')dnl\nMAILER(local)dnl\n";
    let same = json!({"daemon_options": ["Family=inet6, Addr=::1, Port=2525"]});
    assert_eq!(edit(text, same).unwrap(), text);
}

#[test]
fn raw_lines_go_before_mailers_and_mailer_lines_after_them() {
    let before = fixture("slackware-like.mc");
    let after = edit(
        &before,
        json!({"lines": ["MASQUERADE_AS(`example.net')dnl", "MAILER(`cyrus')dnl"]}),
    )
    .unwrap();
    assert!(after.contains("LOCAL_DOMAIN(`localhost.localdomain')dnl\nMASQUERADE_AS(`example.net')dnl\nMAILER(local)dnl\n"));
    assert!(after.ends_with("MAILER(procmail)dnl\nMAILER(`cyrus')dnl\n"));
}

#[test]
fn quotes_m4_cannot_take_are_refused() {
    let error = edit("", json!({"defines": {"confX": "don't"}})).unwrap_err();
    assert!(error.contains("unbalanced m4 quotes"), "{error}");
    let error = edit("", json!({"lines": ["define(`x', `y"]})).unwrap_err();
    assert!(error.contains("unbalanced"), "{error}");
}

#[test]
fn unbalanced_mc_is_not_edited() {
    let error = edit(
        "OSTYPE(`linux')dnl\ndefine(`confX', `oops)dnl\nMAILER(local)dnl\n",
        json!({"features": ["nouucp"]}),
    )
    .unwrap_err();
    assert!(error.starts_with("line 2:"), "{error}");
}

#[test]
fn msa_on_the_submission_port_without_no_default_msa_is_refused() {
    let mc = edit(
        &fixture("slackware-like.mc"),
        json!({"daemon_options": ["Port=submission, Name=MSA, M=Ea, Family=inet6"]}),
    )
    .unwrap();
    let ModuleError::Failed { message, hint } = check_daemons(&mc).unwrap_err() else {
        panic!("a failure");
    };
    assert!(
        message.contains("opendaemonsocket: daemon MSA: cannot listen: Address already in use"),
        "{message}"
    );
    assert!(hint
        .unwrap_or_default()
        .starts_with("add FEATURE(`no_default_msa')"));
}

#[test]
fn daemons_without_port_25_warn_that_the_mta_is_gone() {
    let mc = edit(
        &fixture("slackware-like.mc"),
        json!({"features": ["no_default_msa"], "daemon_options": ["Port=submission, Name=MSA6, Family=inet6, M=Ea"]}),
    )
    .unwrap();
    let check = check_daemons(&mc).unwrap();
    assert_eq!(check.warnings.len(), 1);
    assert!(
        check.warnings[0].contains("port 25"),
        "{:?}",
        check.warnings
    );
    let mc = edit(&fixture("slackware-like.mc"), submission_v6()).unwrap();
    assert!(check_daemons(&mc).unwrap().warnings.is_empty());
}

#[test]
fn m4_runs_where_the_include_resolves() {
    let slack = m4_command(
        &fixture("slackware-like.mc"),
        "/etc/mail/sendmail.mc",
        CF_DIR,
    );
    assert_eq!(slack.to_shell_line(), "cd /usr/share/sendmail/cf/cf && m4");
    let debian = m4_command(&fixture("debian-like.mc"), "/etc/mail/sendmail.mc", CF_DIR);
    assert_eq!(debian.to_shell_line(), "cd /etc/mail && m4");
    let bare = m4_command(
        "OSTYPE(`linux')dnl\nMAILER(local)dnl\n",
        "/srv/my.mc",
        "/opt/cf/",
    );
    assert_eq!(
        bare.to_shell_line(),
        "cd /srv && m4 -D_CF_DIR_=/opt/cf/ /opt/cf/m4/cf.m4 -"
    );
}

// ---- with the real m4 ------------------------------------------------------------------

fn have_cf_tree() -> bool {
    let found = Path::new(CF_DIR).join("m4/cf.m4").exists();
    if !found {
        eprintln!("skipped: {CF_DIR}/m4/cf.m4 is not installed (package sendmail-cf)");
    }
    found
}

/// Run an `m4` command from the module for real on this machine (m4 only reads).
fn run_m4(command: &Command) -> Option<Output> {
    let Program::Argv(argv) = &command.program else {
        return None;
    };
    if argv.first().map(String::as_str) != Some("m4") {
        return None;
    }
    let mut child = std::process::Command::new("m4");
    child
        .args(&argv[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(dir) = &command.chdir {
        child.current_dir(dir);
    }
    let mut child = child.spawn().ok()?;
    let input = command.stdin.clone().unwrap_or_default();
    let mut stdin = child.stdin.take()?;
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().ok()?;
    let _ = writer.join();
    Some(Output {
        status: output.status.code().unwrap_or(-1),
        stdout: output.stdout,
        stderr: output.stderr,
    })
}

fn build(mc: &str, mc_path: &str) -> Output {
    run_m4(&m4_command(mc, mc_path, CF_DIR).with_stdin(mc.as_bytes().to_vec())).expect("m4 runs")
}

/// Debian's mc includes /etc/mail/m4/dialup.m4 and provider.m4: point it at empty ones.
fn with_local_includes(mc: &str, dir: &Path) -> String {
    for name in ["dialup.m4", "provider.m4"] {
        std::fs::write(dir.join(name), "").expect("write include");
    }
    mc.replace("/etc/mail/m4/", &format!("{}/", dir.display()))
}

fn plan(args: Value, host: &mut MemoryHost) -> Result<Plan, ModuleError> {
    let facts = Facts {
        os_family: "Debian".into(),
        fqdn: "mail.example.net".into(),
        ..Facts::default()
    };
    converge_modules::find("sendmail_mc")
        .expect("registered")
        .plan(&args, host, &Context { facts: &facts })
}

#[test]
fn plan_shows_mc_diff_and_daemon_port_options_then_is_idempotent() {
    if !have_cf_tree() {
        return;
    }
    let mc = fixture("slackware-like.mc");
    let old_cf = build(&mc, "/etc/mail/sendmail.mc").stdout_text();
    let mut host = MemoryHost::new()
        .with_file("/etc/mail/sendmail.mc", mc.clone())
        .with_file("/etc/mail/sendmail.cf", old_cf)
        .respond(run_m4);
    let planned = plan(submission_v6(), &mut host).unwrap();
    let subjects: Vec<&str> = planned.changes.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "/etc/mail/sendmail.mc",
            "/etc/mail/sendmail.cf DaemonPortOptions"
        ]
    );
    assert_eq!(
        planned.changes[1].detail,
        ChangeDetail::Value {
            before: Some(
                "O DaemonPortOptions=Name=MTA\nO DaemonPortOptions=Port=587, Name=MSA, M=E".into()
            ),
            after: Some(
                "O DaemonPortOptions=Port=smtp, Name=MTA\nO DaemonPortOptions=Port=submission, Name=MSA6, Family=inet6, M=Ea".into()
            ),
        }
    );
    assert!(
        planned.warnings.iter().all(|w| !w.contains("port 25")),
        "{:?}",
        planned.warnings
    );
    let Step::WriteFile { path, options, .. } = &planned.steps[1] else {
        panic!("the cf write");
    };
    assert_eq!(path, "/etc/mail/sendmail.cf");
    assert_eq!(
        options.validate.as_deref(),
        Some("sendmail -C %s -bt < /dev/null")
    );
    assert!(options.backup);
    let result = planned.apply(&mut host).unwrap();
    assert!(
        result.contains_key("backup_file"),
        "old cf kept: {result:?}"
    );
    let cf = host.text("/etc/mail/sendmail.cf").unwrap();
    assert_eq!(
        daemon_port_options(&cf),
        [
            "O DaemonPortOptions=Port=smtp, Name=MTA",
            "O DaemonPortOptions=Port=submission, Name=MSA6, Family=inet6, M=Ea"
        ]
    );
    // m4 stamps every build with the time; a second plan still finds nothing to do.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let again = plan(submission_v6(), &mut host).unwrap();
    assert!(!again.is_change(), "{:?}", again.changes);
}

#[test]
fn a_stale_cf_is_rebuilt_even_when_the_mc_is_right() {
    if !have_cf_tree() {
        return;
    }
    let mc = edit(&fixture("slackware-like.mc"), submission_v6()).unwrap();
    let stale = build(&fixture("slackware-like.mc"), "/etc/mail/sendmail.mc").stdout_text();
    let mut host = MemoryHost::new()
        .with_file("/etc/mail/sendmail.mc", mc)
        .with_file("/etc/mail/sendmail.cf", stale)
        .respond(run_m4);
    let planned = plan(submission_v6(), &mut host).unwrap();
    let subjects: Vec<&str> = planned.changes.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(subjects, ["/etc/mail/sendmail.cf DaemonPortOptions"]);
}

#[test]
fn m4_error_on_stderr_fails_though_m4_exits_0() {
    if !have_cf_tree() {
        return;
    }
    let mc = format!("{}FEATURE(`nouucp')dnl\n", fixture("slackware-like.mc"));
    let output = build(&mc, "/etc/mail/sendmail.mc");
    assert_eq!(output.status, 0, "m4 itself succeeds");
    let mut host = MemoryHost::new()
        .with_file("/etc/mail/sendmail.mc", mc)
        .respond(run_m4);
    let error = plan(json!({"defines": {"confTO_IDENT": 5}}), &mut host).unwrap_err();
    let ModuleError::Failed { message, hint } = error else {
        panic!("a failure");
    };
    assert!(
        message.contains("*** ERROR: FEATURE() should be before MAILER()"),
        "{message}"
    );
    assert!(hint.unwrap_or_default().contains("before the MAILER lines"));
    assert!(!host.commands_run.iter().any(|c| c.contains("sendmail -C")));
}

#[test]
fn missing_dialup_m4_names_the_fix() {
    if !have_cf_tree() {
        return;
    }
    let mc = fixture("debian-like.mc").replace("/etc/mail/m4/", "/nonexistent/converge/m4/");
    let mut host = MemoryHost::new()
        .with_file("/etc/mail/sendmail.mc", mc)
        .with_directory("/etc/mail")
        .respond(run_m4);
    let ModuleError::Failed { message, hint } =
        plan(json!({"features": ["nouucp"]}), &mut host).unwrap_err()
    else {
        panic!("a failure");
    };
    assert!(message.contains("dialup.m4"), "{message}");
    assert!(hint
        .unwrap_or_default()
        .contains("dialup.m4 and provider.m4"));
}

#[test]
fn debian_mc_builds_the_ipv6_submission_daemon() {
    if !have_cf_tree() || !Path::new("/etc/mail").is_dir() {
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let mc = with_local_includes(&fixture("debian-like.mc"), dir.path());
    let edited = edit(
        &mc,
        json!({"daemon_options": [
            {"Family": "inet6", "Name": "MSP-v6", "Port": "submission", "M": "Ea", "Addr": "::"}
        ]}),
    )
    .unwrap();
    let output = build(&edited, "/etc/mail/sendmail.mc");
    assert_eq!(output.status, 0, "{}", output.stderr_text());
    assert!(!output.stderr_text().contains("*** ERROR"));
    assert_eq!(
        daemon_port_options(&output.stdout_text()),
        [
            "O DaemonPortOptions=Family=inet,  Name=MTA-v4, Port=smtp, Addr=127.0.0.1",
            "O DaemonPortOptions=Family=inet,  Name=MSP-v4, Port=submission, M=Ea, Addr=127.0.0.1",
            "O DaemonPortOptions=Family=inet6, Name=MSP-v6, Port=submission, M=Ea, Addr=::",
        ]
    );
}

#[test]
fn unknown_argument_is_refused() {
    let error = plan(json!({"feature": ["x"]}), &mut MemoryHost::new()).unwrap_err();
    let ModuleError::Args(args) = error else {
        panic!("args error");
    };
    assert_eq!(args.hint.as_deref(), Some("did you mean `features`?"));
}

#[test]
fn missing_mc_on_slackware_says_to_copy_the_stock_one() {
    let facts = Facts {
        os_family: "Slackware".into(),
        ..Facts::default()
    };
    let error = converge_modules::find("sendmail_mc")
        .expect("registered")
        .plan(
            &submission_v6(),
            &mut MemoryHost::new(),
            &Context { facts: &facts },
        )
        .unwrap_err();
    let ModuleError::Failed { hint, .. } = error else {
        panic!("a failure");
    };
    assert!(hint.unwrap_or_default().contains("sendmail-slackware.mc"));
}

#[test]
fn corpus_stock_mc_files_parse_edit_idempotently_and_build() {
    let dir = Path::new(CORPUS);
    if !dir.is_dir() {
        eprintln!(
            "skipped: {CORPUS} does not exist (the shared fixtures are not beside the clone)"
        );
        return;
    }
    let includes = tempfile::tempdir().expect("tmp");
    for (name, mc_path) in [
        ("sendmail-slackware.mc", "/etc/mail/sendmail.mc"),
        ("debian-sendmail.mc", "/etc/mail/sendmail.mc"),
    ] {
        let text = std::fs::read_to_string(dir.join(name)).expect("corpus file");
        let statements = parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            statements
                .iter()
                .any(|s| s.name.as_deref() == Some("MAILER")),
            "{name}"
        );
        let edited = edit(&text, submission_v6()).unwrap();
        assert_eq!(edit(&edited, submission_v6()).unwrap(), edited, "{name}");
        check_daemons(&edited).unwrap_or_else(|e| panic!("{name}: {e}"));
        let added = edited.lines().count() - text.lines().count();
        // Debian's stock mc already has no_default_msa: only the two daemons are new.
        assert_eq!(
            added,
            if name.starts_with("debian") { 2 } else { 3 },
            "{name}"
        );
        if !have_cf_tree() || !Path::new("/etc/mail").is_dir() {
            continue;
        }
        let buildable = with_local_includes(&edited, includes.path());
        let output = build(&buildable, mc_path);
        assert_eq!(output.status, 0, "{name}: {}", output.stderr_text());
        assert!(!output.stderr_text().contains("*** ERROR"), "{name}");
        let lines = daemon_port_options(&output.stdout_text());
        assert!(
            lines.contains(
                &"O DaemonPortOptions=Port=submission, Name=MSA6, Family=inet6, M=Ea".to_string()
            ),
            "{name}: {lines:?}"
        );
        assert!(
            !lines.iter().any(|l| l.contains("Port=587, Name=MSA")),
            "{name}: {lines:?}"
        );
    }
}
