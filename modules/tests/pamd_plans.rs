//! `pamd`: the service-file parser over real Debian files and a file of PAM's quirks, and
//! plans over a memory host: the diff, check mode changing nothing, applying, and a second
//! plan finding nothing to do.

use converge_modules::memory_host::MemoryHost;
use converge_modules::pamd::{parse_service, PamLine};
use converge_modules::{find, ChangeDetail, Command, Context, Facts, Output, Plan, Program, Step};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pamd");
const NOW: &str = "2026-12-07T03:30:00.123456";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

/// A host whose service file `path` holds `file` (shared so the test can follow writes).
fn pam_host(path: &'static str, file: Arc<Mutex<Option<String>>>) -> MemoryHost {
    MemoryHost::new()
        .with_directory("/etc/pam.d")
        .respond(move |command: &Command| {
            let Program::Shell(script) = &command.program else {
                return None;
            };
            if !script.contains("readlink -f") || !script.contains(path) {
                return None;
            }
            Some(match file.lock().unwrap().clone() {
                Some(text) => Output {
                    status: 0,
                    stdout: format!("{NOW}\n2026-12-07@03:30:00\n{path}\n{text}").into_bytes(),
                    stderr: Vec::new(),
                },
                None => Output {
                    status: 3,
                    stdout: Vec::new(),
                    stderr: format!("No such file: {path}\n").into_bytes(),
                },
            })
        })
}

fn plan(args: &Value, host: &mut MemoryHost) -> Result<Plan, String> {
    let facts = Facts::default();
    find("community.general.pamd")
        .expect("pamd")
        .plan(args, host, &Context { facts: &facts })
        .map_err(|error| error.to_string())
}

/// Plan (a change, nothing written), apply, plan again (no change). Returns the new file.
fn converge(path: &'static str, start: &str, args: Value) -> (Plan, String) {
    let file = Arc::new(Mutex::new(Some(start.to_string())));
    let mut host = pam_host(path, file.clone());
    let first = plan(&args, &mut host).expect("plan");
    assert!(first.is_change(), "{args}: expected a change");
    assert!(host.text(path).is_none(), "planning wrote the file");
    first.apply(&mut host).expect("apply");
    let written = host.text(path).expect("written");
    *file.lock().unwrap() = Some(written.clone());
    let second = plan(&args, &mut host).expect("second plan");
    assert!(
        !second.is_change(),
        "{args}: second run: {:?}",
        second.changes
    );
    assert_eq!(second.result["change_count"], json!(0));
    (first, written)
}

/// `text` with Ansible's mark as its second line.
fn marked(text: &str) -> String {
    let (first, rest) = text.split_once('\n').expect("two lines");
    format!("{first}\n# Updated by Ansible - {NOW}\n{rest}")
}

#[test]
fn real_debian_files_and_quirks_parse_and_print_back_unchanged() {
    for name in ["common-auth", "su", "login", "quirks"] {
        let text = fixture(name);
        let service = parse_service(&text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(service.text(), text, "{name}");
        service.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let common = parse_service(&fixture("common-auth")).unwrap();
    let rules: Vec<_> = common
        .lines
        .iter()
        .filter_map(|l| match l {
            PamLine::Rule(r) => Some((
                r.rule_type.as_str(),
                r.control.as_str(),
                r.module_path.as_str(),
                r.args.clone(),
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        rules,
        [
            (
                "auth",
                "[success=1 default=ignore]",
                "pam_unix.so",
                vec!["nullok".to_string()]
            ),
            ("auth", "requisite", "pam_deny.so", vec![]),
            ("auth", "required", "pam_permit.so", vec![]),
            ("auth", "optional", "pam_cap.so", vec![]),
        ]
    );
}

#[test]
fn the_quirks_comments_continuations_includes_and_brackets() {
    let service = parse_service(&fixture("quirks")).unwrap();
    let kinds: Vec<String> = service
        .lines
        .iter()
        .map(|line| match line {
            PamLine::Blank(_) => "blank".to_string(),
            PamLine::Comment(_) => "comment".to_string(),
            PamLine::Include(text) => format!("include {}", text.trim()),
            PamLine::Rule(rule) => format!(
                "{} {} {} {:?}",
                rule.rule_type, rule.control, rule.module_path, rule.args
            ),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "comment",
            "comment",
            "auth required pam_env.so []",
            "auth sufficient pam_rootok.so []",
            "auth [success=1 default=ignore] pam_unix.so [\"nullok\", \"try_first_pass\"]",
            "-auth optional pam_gnome_keyring.so []",
            "auth required pam_mysql.so [\"user=pam\", \"passwd=secret\", \"query=[select name from users where name = '%u']\", \"verbose\"]",
            "blank",
            "include @include common-account",
            "session optional pam_motd.so [\"motd=/run/motd.dynamic\"]",
            "session optional pam_motd.so [\"noupdate\"]",
            "password include system-auth []",
        ]
    );
}

#[test]
fn a_line_that_is_no_rule_is_an_error_with_its_line_number() {
    let error = parse_service("# x\nauth\n").expect_err("no control");
    assert_eq!(error.line, 2);
    assert!(error.message.contains("no control"), "{}", error.message);
    let error = parse_service("auth [success=1 pam_unix.so\n").expect_err("open bracket");
    assert!(error.message.contains("has no `]`"), "{}", error.message);
}

#[test]
fn after_inserts_pam_wheel_below_pam_rootok_with_the_ansible_mark() {
    let su = fixture("su");
    let (plan, written) = converge(
        "/etc/pam.d/su",
        &su,
        json!({"name": "su", "type": "auth", "control": "sufficient", "module_path": "pam_rootok.so",
               "new_type": "auth", "new_control": "required", "new_module_path": "pam_wheel.so",
               "module_arguments": "use_uid", "state": "after"}),
    );
    let expected = marked(&su.replacen(
        "auth       sufficient pam_rootok.so\n",
        "auth       sufficient pam_rootok.so\nauth       required pam_wheel.so use_uid\n",
        1,
    ));
    assert_eq!(written, expected);
    assert_eq!(plan.result["change_count"], json!(1));
    assert_eq!(plan.result["backupdest"], json!(""));
    let ChangeDetail::Content { before, after } = &plan.changes[0].detail else {
        panic!("a content change")
    };
    assert_eq!(plan.changes[0].subject, "/etc/pam.d/su");
    assert_eq!(before.as_deref(), Some(su.as_str()));
    assert_eq!(after.as_deref(), Some(expected.as_str()));
}

#[test]
fn before_the_first_rule_and_before_a_rule_after_an_include() {
    let text = "@include common-auth\nauth required pam_b.so\n";
    let (_, written) = converge(
        "/etc/pam.d/svc",
        text,
        json!({"name": "svc", "type": "auth", "control": "required", "module_path": "pam_b.so",
               "new_type": "auth", "new_control": "requisite", "new_module_path": "pam_a.so", "state": "before"}),
    );
    assert_eq!(
        written,
        format!("@include common-auth\n# Updated by Ansible - {NOW}\nauth       requisite pam_a.so\nauth required pam_b.so\n")
    );
}

#[test]
fn updated_changes_a_bracketed_control_and_replaces_or_clears_arguments() {
    let common = fixture("common-auth");
    let (_, written) = converge(
        "/etc/pam.d/common-auth",
        &common,
        json!({"name": "common-auth", "type": "auth", "control": "[success=1 default=ignore]",
               "module_path": "pam_unix.so", "new_control": "[success=2 default=ignore]",
               "module_arguments": "nullok try_first_pass"}),
    );
    assert_eq!(
        written,
        marked(&common.replace(
            "auth\t[success=1 default=ignore]\tpam_unix.so nullok\n",
            "auth       [success=2 default=ignore] pam_unix.so nullok try_first_pass\n"
        ))
    );
    // An empty string clears the arguments; the mark is replaced, not added again.
    let (_, cleared) = converge(
        "/etc/pam.d/common-auth",
        &written,
        json!({"name": "common-auth", "type": "auth", "control": "[success=2 default=ignore]",
               "module_path": "pam_unix.so", "module_arguments": ""}),
    );
    assert_eq!(
        cleared,
        written.replace(" pam_unix.so nullok try_first_pass\n", " pam_unix.so\n")
    );
}

#[test]
fn args_present_adds_missing_and_sets_values_args_absent_removes_exact_ones() {
    let text = "#%PAM-1.0\nsession optional pam_motd.so motd=/run/motd.dynamic\nsession optional pam_env.so readenv=1\n";
    let (_, written) = converge(
        "/etc/pam.d/login",
        text,
        json!({"name": "login", "type": "session", "control": "optional", "module_path": "pam_env.so",
               "module_arguments": ["readenv=0", "user_readenv=1", "debug"], "state": "args_present"}),
    );
    assert_eq!(
        written,
        format!("#%PAM-1.0\n# Updated by Ansible - {NOW}\nsession optional pam_motd.so motd=/run/motd.dynamic\nsession    optional pam_env.so readenv=0 debug user_readenv=1\n")
    );
    let (_, removed) = converge(
        "/etc/pam.d/login",
        &written,
        json!({"name": "login", "type": "session", "control": "optional", "module_path": "pam_env.so",
               "module_arguments": "debug,readenv", "state": "args_absent"}),
    );
    assert!(
        removed.ends_with("session    optional pam_env.so readenv=0 user_readenv=1\n"),
        "{removed}"
    );
}

#[test]
fn absent_removes_every_matching_rule_and_counts_them() {
    let login = fixture("login");
    let (plan, written) = converge(
        "/etc/pam.d/login",
        &login,
        json!({"name": "login", "type": "session", "control": "optional", "module_path": "pam_motd.so", "state": "absent"}),
    );
    assert_eq!(plan.result["change_count"], json!(2));
    assert!(!written.contains("pam_motd.so"));
    assert_eq!(written.lines().count(), login.lines().count() - 2 + 1);
}

#[test]
fn nothing_matches_nothing_changes() {
    let file = Arc::new(Mutex::new(Some(fixture("su"))));
    let mut host = pam_host("/etc/pam.d/su", file);
    let plan = plan(
        &json!({"name": "su", "type": "auth", "control": "required", "module_path": "pam_nothere.so", "state": "absent"}),
        &mut host,
    )
    .expect("plan");
    assert!(!plan.is_change());
    assert_eq!(plan.result["change_count"], json!(0));
    assert_eq!(host.commands_run.len(), 1, "one round trip");
}

#[test]
fn backup_copies_the_file_first_and_names_the_copy() {
    let file = Arc::new(Mutex::new(Some(
        "auth required pam_a.so\nauth required pam_b.so\n".to_string(),
    )));
    let mut host = pam_host("/etc/pam.d/x", file);
    let plan = plan(
        &json!({"name": "x", "type": "auth", "control": "required", "module_path": "pam_b.so", "state": "absent", "backup": true}),
        &mut host,
    )
    .expect("plan");
    assert_eq!(
        plan.result["backupdest"],
        json!("/etc/pam.d/x.2026-12-07@03:30:00~")
    );
    let Step::Run { command, .. } = &plan.steps[0] else {
        panic!("a copy first")
    };
    assert_eq!(
        command.to_shell_line(),
        "cp -p -- /etc/pam.d/x '/etc/pam.d/x.2026-12-07@03:30:00~'"
    );
}

#[test]
fn invalid_results_missing_files_and_bad_arguments_are_refused() {
    let file = Arc::new(Mutex::new(Some(fixture("su"))));
    let mut host = pam_host("/etc/pam.d/su", file);
    let error = plan(
        &json!({"name": "su", "type": "auth", "control": "sufficient", "module_path": "pam_rootok.so", "new_control": "maybe"}),
        &mut host,
    )
    .expect_err("invalid control");
    assert_eq!(
        error,
        "Rule control, maybe, is not valid in rule auth       maybe pam_rootok.so"
    );
    let error = plan(
        &json!({"name": "other", "type": "auth", "control": "required", "module_path": "x.so"}),
        &mut pam_host("/etc/pam.d/other", Arc::new(Mutex::new(None))),
    )
    .expect_err("missing file");
    assert!(
        error.starts_with("Unable to open/read PAM module file /etc/pam.d/other"),
        "{error}"
    );
    let module = find("pamd").unwrap();
    let error = module
        .validate(&json!({"name": "su", "type": "auth", "control": "required", "module_path": "x.so", "state": "before", "new_type": "auth"}))
        .expect_err("before needs the new rule");
    assert_eq!(
        error.message,
        "state is before but all of the following are missing: new_control, new_module_path"
    );
    let error = module
        .validate(&json!({"name": "su", "type": "auth", "control": "required", "module_path": "x.so", "state": "args_present", "module_arguments": ["[a b]"]}))
        .expect_err("brackets");
    assert!(
        error.message.contains("Please use 'updated'"),
        "{}",
        error.message
    );
    let error = module
        .validate(
            &json!({"name": "su", "type": "authx", "control": "required", "module_path": "x.so"}),
        )
        .expect_err("type");
    assert!(error.message.contains("authx"), "{}", error.message);
}
