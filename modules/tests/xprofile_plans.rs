//! `xprofile`: the block edit over fixture files, sourcing the result with the real `/bin/sh`
//! (a temp dir on this machine; nothing else is touched), and plans against a memory host:
//! plan, apply, check file and owner, plan again (unchanged).

use converge_modules::memory_host::MemoryHost;
use converge_modules::xprofile::{
    block_variables, edit_xprofile, render_block, XprofileArgs, READ_SCRIPT_NAME,
};
use converge_modules::{ChangeDetail, Context, Facts, Output, Plan, Program};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::Path;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/xprofile");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name)).expect("fixture")
}

fn args(value: Value) -> XprofileArgs {
    serde_json::from_value(value).expect("args")
}

/// The environment `sh` ends up with after sourcing `text`, minus what `sh` sets by itself.
fn sourced_env(text: &str) -> BTreeMap<String, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let env_of = |content: &str| -> BTreeMap<String, String> {
        let file = dir.path().join("xprofile");
        std::fs::write(&file, content).expect("write");
        let output = std::process::Command::new("env")
            .args([
                "-i",
                "HOME=/nonexistent",
                "/bin/sh",
                "-c",
                ". \"$1\" && env -0",
                "sh",
            ])
            .arg(&file)
            .output()
            .expect("run sh");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .split('\0')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let base = env_of("");
    env_of(text)
        .into_iter()
        .filter(|(k, v)| base.get(k) != Some(v))
        .collect()
}

#[test]
fn sourcing_the_block_exports_exactly_the_variables_and_the_users_lines_still_run() {
    let task = args(json!({
        "user": "alice",
        "im": "fcitx5",
        "env": {
            "GTK_IM_MODULE": null,
            "WEIRD": "it's \"quoted\" $HOME `id` \\ and  spaces",
            "EMPTY": ""
        }
    }));
    let vars = block_variables(&task).expect("vars");
    let block = render_block(&vars);
    let text = edit_xprofile(&fixture("user-xprofile"), Some(&block)).expect("edit");
    assert!(
        text.starts_with(&fixture("user-xprofile")),
        "user lines kept first"
    );
    let env = sourced_env(&text);
    let mut expected: BTreeMap<String, String> = vars.iter().cloned().collect();
    // The user's own lines ran too.
    expected.insert("LANG".into(), "ja_JP.UTF-8".into());
    expected.insert("MY_NOTE".into(), "keep me".into());
    assert_eq!(env, expected);
    assert_eq!(env["WEIRD"], "it's \"quoted\" $HOME `id` \\ and  spaces");
    assert!(!env.contains_key("GTK_IM_MODULE"));
    assert_eq!(env["XMODIFIERS"], "@im=fcitx");
    // The same block again is no change.
    assert_eq!(edit_xprofile(&text, Some(&block)).expect("edit"), text);
}

#[test]
fn an_existing_block_is_replaced_where_it_stands() {
    let text = fixture("existing-block");
    let block =
        render_block(&block_variables(&args(json!({"user": "a", "im": "fcitx"}))).expect("vars"));
    let out = edit_xprofile(&text, Some(&block)).expect("edit");
    assert_eq!(
        out,
        "export EDITOR=vi\n# BEGIN converge xprofile\nexport GTK_IM_MODULE=fcitx\nexport QT_IM_MODULE=fcitx\nexport XMODIFIERS=@im=fcitx\n# END converge xprofile\nsetxkbmap -option ctrl:nocaps\n"
    );
    let env = sourced_env(&out.replace("setxkbmap", "true"));
    assert_eq!(env["GTK_IM_MODULE"], "fcitx");
    assert_eq!(env["EDITOR"], "vi");
}

// ---- plans against a memory host -----------------------------------------------------------

/// A host with users `deploy` (home /home/deploy, group deploy) and `root`.
fn deploy_host() -> MemoryHost {
    MemoryHost::new()
        .with_directory("/home/deploy")
        .with_attributes("/home/deploy", 0o755, "deploy", "deploy")
        .respond(|command| {
            let Program::Argv(argv) = &command.program else {
                return None;
            };
            if argv.get(3).map(String::as_str) != Some(READ_SCRIPT_NAME) {
                return None;
            }
            Some(match argv.get(4).map(String::as_str) {
                Some("deploy") => Output {
                    status: 0,
                    stdout: b"deploy:x:2001:2001::/home/deploy:/bin/sh\ndeploy\n".to_vec(),
                    stderr: Vec::new(),
                },
                _ => Output {
                    status: 2,
                    ..Output::default()
                },
            })
        })
}

fn plan(host: &mut MemoryHost, value: Value) -> Result<Plan, String> {
    let facts = Facts::default();
    let module = converge_modules::find("xprofile").expect("registered");
    module
        .plan(&value, host, &Context { facts: &facts })
        .map_err(|error| error.to_string())
}

fn apply_and_replan(host: &mut MemoryHost, value: Value) -> Plan {
    let planned = plan(host, value.clone()).expect("plan");
    planned.apply(host).expect("apply");
    let again = plan(host, value).expect("replan");
    assert!(!again.is_change(), "not idempotent: {:?}", again.changes);
    planned
}

#[test]
fn new_file_is_created_owned_by_the_user_with_mode_0644() {
    let mut host = deploy_host();
    let planned = apply_and_replan(&mut host, json!({"user": "deploy", "im": "ibus"}));
    let subjects: Vec<&str> = planned.changes.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "/home/deploy/.xprofile",
            "/home/deploy/.xprofile owner",
            "/home/deploy/.xprofile group"
        ]
    );
    assert!(matches!(
        &planned.changes[0].detail,
        ChangeDetail::Content { before: None, .. }
    ));
    let entry = &host.files["/home/deploy/.xprofile"];
    assert_eq!(
        (entry.mode, entry.owner.as_str(), entry.group.as_str()),
        (0o644, "deploy", "deploy")
    );
    assert_eq!(
        host.text("/home/deploy/.xprofile").expect("file"),
        "# BEGIN converge xprofile\nexport GTK_IM_MODULE=ibus\nexport QT_IM_MODULE=ibus\nexport XMODIFIERS=@im=ibus\n# END converge xprofile\n"
    );
}

#[test]
fn existing_root_owned_file_keeps_lines_and_mode_and_goes_back_to_the_user() {
    let mut host = deploy_host()
        .with_file("/home/deploy/.xprofile", fixture("user-xprofile"))
        .with_attributes("/home/deploy/.xprofile", 0o600, "root", "root");
    apply_and_replan(&mut host, json!({"user": "deploy", "im": "scim"}));
    let text = host.text("/home/deploy/.xprofile").expect("file");
    assert!(text.starts_with(&fixture("user-xprofile")));
    assert!(
        text.ends_with("export XMODIFIERS=@im=SCIM\n# END converge xprofile\n"),
        "{text}"
    );
    let entry = &host.files["/home/deploy/.xprofile"];
    assert_eq!((entry.mode, entry.owner.as_str()), (0o600, "deploy"));
}

#[test]
fn only_the_owner_is_wrong_then_chown_alone() {
    let mut host = deploy_host();
    apply_and_replan(&mut host, json!({"user": "deploy", "im": "uim"}));
    host = host.with_attributes("/home/deploy/.xprofile", 0o644, "root", "deploy");
    let before = host.commands_run.len();
    apply_and_replan(&mut host, json!({"user": "deploy", "im": "uim"}));
    assert!(
        host.commands_run[before..].contains(&"chown deploy /home/deploy/.xprofile".to_string())
    );
}

#[test]
fn absent_removes_only_the_block_and_missing_file_is_fine() {
    let mut host = deploy_host().with_file("/home/deploy/.xprofile", fixture("existing-block"));
    apply_and_replan(&mut host, json!({"user": "deploy", "state": "absent"}));
    assert_eq!(
        host.text("/home/deploy/.xprofile").expect("file"),
        "export EDITOR=vi\nsetxkbmap -option ctrl:nocaps\n"
    );
    let mut empty = deploy_host();
    let planned = plan(&mut empty, json!({"user": "deploy", "state": "absent"})).expect("plan");
    assert!(!planned.is_change());
}

#[test]
fn tilde_path_is_below_the_home() {
    let mut host = deploy_host().with_directory("/home/deploy/.profile.d");
    apply_and_replan(
        &mut host,
        json!({"user": "deploy", "path": "~/.profile.d/input-method.sh", "im": "fcitx"}),
    );
    assert!(host
        .text("/home/deploy/.profile.d/input-method.sh")
        .is_some());
    // Sourced only when executable (Slackware's profile): a new one is 0755.
    assert_eq!(
        host.files["/home/deploy/.profile.d/input-method.sh"].mode,
        0o755
    );
}

#[test]
fn errors_name_the_fix() {
    let mut host = deploy_host();
    let unknown = plan(&mut host, json!({"user": "nobody2", "im": "fcitx"})).unwrap_err();
    assert_eq!(unknown, "user `nobody2` does not exist on this host");
    let xim = plan(&mut host, json!({"user": "deploy", "im": "xim"})).unwrap_err();
    assert!(xim.contains("the `xim` preset needs `XMODIFIERS`"), "{xim}");
    let nothing = plan(&mut host, json!({"user": "deploy"})).unwrap_err();
    assert!(nothing.contains("needs `im` or `env`"), "{nothing}");
    let bad_name = plan(&mut host, json!({"user": "deploy", "env": {"A-B": "1"}})).unwrap_err();
    assert!(
        bad_name.contains("`A-B` is not a shell variable name"),
        "{bad_name}"
    );
    let typo = plan(&mut host, json!({"user": "deploy", "imm": "fcitx"})).unwrap_err();
    assert!(typo.contains("unknown argument `imm`"), "{typo}");
    let mut broken = host.with_file(
        "/home/deploy/.xprofile",
        "# BEGIN converge xprofile\nexport A=1\n",
    );
    let unpaired = plan(&mut broken, json!({"user": "deploy", "im": "fcitx"})).unwrap_err();
    assert!(
        unpaired.contains("no `# END converge xprofile` follows"),
        "{unpaired}"
    );
}

#[test]
fn a_later_user_line_that_overrides_the_block_is_warned_about() {
    let mut host = deploy_host().with_file(
        "/home/deploy/.xprofile",
        "# BEGIN converge xprofile\n# END converge xprofile\nexport XMODIFIERS=@im=uim\n",
    );
    let planned = plan(&mut host, json!({"user": "deploy", "im": "fcitx"})).expect("plan");
    assert_eq!(
        planned.warnings,
        ["line 6 of `/home/deploy/.xprofile` sets `XMODIFIERS` again after converge's block, so it wins over the block"]
    );
}
