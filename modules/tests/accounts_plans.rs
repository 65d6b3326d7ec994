//! `user`, `group`, `authorized_key` and `getent` planned against a memory host holding
//! fixture `/etc/passwd`, `/etc/group` and `/etc/shadow` files: the commands each plan runs,
//! the changes it shows (never a password hash), its result, and no change when the files
//! already say what the task asks.

use converge_modules::authorized_key::{edit_authorized_keys, KeyEdit, KeyLine};
use converge_modules::getent::parse_getent;
use converge_modules::memory_host::MemoryHost;
use converge_modules::user::AccountState;
use converge_modules::{
    find, ChangeDetail, Context, Facts, ModuleError, Output, Plan, Program, Step,
};
use serde_json::{json, Value};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/accounts");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

fn host() -> MemoryHost {
    MemoryHost::new()
        .with_file("/etc/passwd", fixture("passwd"))
        .with_file("/etc/group", fixture("group"))
        .with_file("/etc/shadow", fixture("shadow"))
        .with_directory("/home/alice")
}

fn plan_on(host: &mut MemoryHost, module: &str, args: Value) -> Result<Plan, ModuleError> {
    let facts = Facts::default();
    let module = find(module).expect("module is registered");
    module.plan(&args, host, &Context { facts: &facts })
}

fn plan(module: &str, args: Value) -> Plan {
    plan_on(&mut host(), module, args).expect("plan")
}

/// Each step as a shell line, with stdin after ` <<< ` (to check where the hash goes).
fn steps(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .map(|step| match step {
            Step::Run { command, .. } => match &command.stdin {
                Some(input) => format!(
                    "{} <<< {}",
                    command.to_shell_line(),
                    String::from_utf8_lossy(input).trim_end()
                ),
                None => command.to_shell_line(),
            },
            Step::WriteFile { path, .. } => format!("write {path}"),
            Step::Remove { path } => format!("remove {path}"),
        })
        .collect()
}

fn shown(plan: &Plan) -> String {
    format!("{:?}", plan.changes)
}

#[test]
fn user_new_account_runs_useradd_then_chpasswd_with_the_hash_only_on_stdin() {
    let plan = plan(
        "user",
        json!({"name": "carol", "uid": 1500, "group": "users", "groups": "sudo,adm",
               "shell": "/bin/bash", "comment": "Carol", "password": "$6$salt$newhash"}),
    );
    assert_eq!(
        steps(&plan),
        [
            "useradd -u 1500 -g users -G sudo,adm -c Carol -s /bin/bash -m carol",
            "chpasswd -e <<< carol:$6$salt$newhash",
        ]
    );
    assert!(!shown(&plan).contains("newhash"), "{}", shown(&plan));
    assert!(plan
        .changes
        .iter()
        .any(|c| matches!(c.detail, ChangeDetail::Hidden(_))));
    assert_eq!(plan.result["password"], json!("NOT_LOGGING_PASSWORD"));
    assert_eq!(plan.result["uid"], json!(1500));
    assert_eq!(plan.result["group"], json!(100));
    assert_eq!(plan.result["groups"], json!("sudo,adm"));
    assert_eq!(plan.result["create_home"], json!(true));
    assert_eq!(plan.result["system"], json!(false));
    assert!(plan.warnings.is_empty());
}

#[test]
fn user_with_a_group_named_like_it_gets_minus_n_and_system_no_home() {
    let plan = plan(
        "ansible.builtin.user",
        json!({"name": "bob", "system": true, "createhome": false}),
    );
    assert_eq!(steps(&plan), ["useradd -N -M -r bob"]);
}

#[test]
fn user_missing_group_is_an_error_naming_it() {
    let error = plan_on(
        &mut host(),
        "user",
        json!({"name": "carol", "groups": ["nope"]}),
    )
    .unwrap_err();
    assert_eq!(error.to_string(), "group `nope` does not exist");
}

#[test]
fn user_existing_account_as_asked_is_unchanged() {
    let plan = plan(
        "user",
        json!({"name": "alice", "uid": "1001", "group": "alice", "groups": ["sudo", "adm"],
               "shell": "/bin/sh", "comment": "Alice", "home": "/home/alice",
               "password": "$6$salt$oldhash", "expires": 1735689600.5,
               "password_expire_max": 99999}),
    );
    assert!(!plan.is_change(), "{:?}", plan.changes);
    assert_eq!(plan.result["uid"], json!(1001));
    assert_eq!(plan.result["group"], json!(1001));
    assert_eq!(plan.result["home"], json!("/home/alice"));
    assert_eq!(plan.result["append"], json!(false));
}

#[test]
fn user_differences_make_one_usermod_and_the_new_hash_goes_through_chpasswd() {
    let plan = plan(
        "user",
        json!({"name": "alice", "shell": "/bin/bash", "groups": ["sudo", "docker"],
               "password": "!$6$salt$newhash", "password_lock": true,
               "expires": -1, "password_expire_max": 90}),
    );
    assert_eq!(
        steps(&plan),
        [
            "usermod -G sudo,docker -s /bin/bash -e '' alice",
            "chpasswd -e <<< alice:!$6$salt$newhash",
            "chage -M 90 alice",
        ]
    );
    assert!(!shown(&plan).contains("newhash"), "{}", shown(&plan));
    assert_eq!(plan.result["shell"], json!("/bin/bash"));
}

#[test]
fn user_append_only_adds_and_on_create_leaves_the_hash() {
    let plan = plan(
        "user",
        json!({"name": "alice", "groups": "docker", "append": "yes",
               "password": "$6$x$y", "update_password": "on_create"}),
    );
    assert_eq!(steps(&plan), ["usermod -a -G docker alice"]);
    let plan = plan_on(
        &mut host(),
        "user",
        json!({"name": "alice", "groups": "sudo", "append": true}),
    )
    .expect("plan");
    assert!(!plan.is_change());
}

#[test]
fn user_empty_groups_removes_every_membership() {
    let plan = plan("user", json!({"name": "alice", "groups": ""}));
    assert_eq!(steps(&plan), ["usermod -G '' alice"]);
}

#[test]
fn user_lock_and_unlock_follow_the_shadow_marker() {
    assert_eq!(
        steps(&plan(
            "user",
            json!({"name": "alice", "password_lock": true})
        )),
        ["usermod -L alice"]
    );
    assert_eq!(
        steps(&plan(
            "user",
            json!({"name": "deploy", "password_lock": false})
        )),
        ["usermod -U deploy"]
    );
    assert!(!plan("user", json!({"name": "deploy", "password_lock": true})).is_change());
}

#[test]
fn user_clear_text_password_warns() {
    let plan = plan("user", json!({"name": "alice", "password": "hunter2"}));
    assert_eq!(plan.warnings.len(), 1);
    assert!(plan.warnings[0].contains("not to have been hashed"));
}

#[test]
fn user_absent_runs_userdel_and_absent_twice_is_unchanged() {
    let plan = plan(
        "user",
        json!({"name": "alice", "state": "absent", "remove": true, "force": true}),
    );
    assert_eq!(steps(&plan), ["userdel -f -r alice"]);
    assert_eq!(plan.result["remove"], json!(true));
    assert!(!self::plan("user", json!({"name": "nobody2", "state": "absent"})).is_change());
}

#[test]
fn user_refuses_what_is_not_built() {
    for (args, argument) in [
        (json!({"name": "a", "local": true}), "local"),
        (
            json!({"name": "a", "generate_ssh_key": true}),
            "generate_ssh_key",
        ),
        (json!({"name": "a", "non_unique": true}), "non_unique"),
    ] {
        let error = find("user").unwrap().validate(&args).unwrap_err();
        assert_eq!(error.argument.as_deref(), Some(argument), "{error}");
    }
}

#[test]
fn group_add_modify_delete_and_unchanged() {
    assert_eq!(
        steps(&plan(
            "group",
            json!({"name": "web", "gid": 2001, "system": true})
        )),
        ["groupadd -g 2001 -r web"]
    );
    let plan_mod = plan(
        "group",
        json!({"name": "docker", "gid": 999, "non_unique": true}),
    );
    assert_eq!(steps(&plan_mod), ["groupmod -g 999 -o docker"]);
    assert_eq!(plan_mod.result["gid"], json!(999));
    assert_eq!(
        steps(&plan(
            "group",
            json!({"name": "docker", "state": "absent", "force": true})
        )),
        ["groupdel -f docker"]
    );
    let same = plan(
        "ansible.builtin.group",
        json!({"name": "docker", "gid": 998}),
    );
    assert!(!same.is_change());
    assert_eq!(
        same.result,
        json!({"name": "docker", "state": "present", "system": false, "gid": 998})
            .as_object()
            .unwrap()
            .clone()
    );
    assert!(!plan("group", json!({"name": "nope", "state": "absent"})).is_change());
}

const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOne alice@laptop";
const RSA: &str = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQKeyTwo bob@desk";

#[test]
fn authorized_key_creates_dir_and_file_owned_by_the_user() {
    let mut host = host();
    let plan = plan_on(
        &mut host,
        "ansible.posix.authorized_key",
        json!({"user": "alice", "key": format!("{ED}\n{RSA}\n")}),
    )
    .expect("plan");
    assert_eq!(
        steps(&plan),
        [
            "mkdir -p /home/alice/.ssh",
            "chmod 0700 /home/alice/.ssh",
            "chown alice:alice /home/alice/.ssh",
            "write /home/alice/.ssh/authorized_keys",
        ]
    );
    let Step::WriteFile {
        content, options, ..
    } = &plan.steps[3]
    else {
        panic!("write step");
    };
    assert_eq!(String::from_utf8_lossy(content), format!("{ED}\n{RSA}\n"));
    assert_eq!(options.attributes.mode, Some(0o600));
    assert_eq!(options.attributes.owner.as_deref(), Some("alice"));
    assert_eq!(
        plan.result["keyfile"],
        json!("/home/alice/.ssh/authorized_keys")
    );
    plan.apply(&mut host).expect("apply");
    let entry = &host.files["/home/alice/.ssh"];
    assert_eq!((entry.mode, entry.owner.as_str()), (0o700, "alice"));
    let again = plan_on(
        &mut host,
        "authorized_key",
        json!({"user": "alice", "key": format!("{ED}\n{RSA}\n")}),
    )
    .expect("plan");
    assert!(!again.is_change(), "{:?}", again.changes);
}

#[test]
fn authorized_key_unknown_user_is_an_error() {
    let error = plan_on(
        &mut host(),
        "authorized_key",
        json!({"user": "zed", "key": ED}),
    )
    .unwrap_err();
    assert_eq!(error.to_string(), "user `zed` does not exist");
}

fn key_edit<'a>(keys: &'a str, state: AccountState) -> KeyEdit<'a> {
    KeyEdit {
        keys,
        state,
        key_options: None,
        comment: None,
        exclusive: false,
    }
}

#[test]
fn authorized_keys_edits_follow_ansible() {
    let file = format!("# managed by hand\n{ED}\n");
    // The same key: nothing to do.
    assert_eq!(
        edit_authorized_keys(&file, &key_edit(ED, AccountState::Present)),
        Ok(None)
    );
    // A new key goes after the existing lines.
    assert_eq!(
        edit_authorized_keys(&file, &key_edit(RSA, AccountState::Present)),
        Ok(Some(format!("# managed by hand\n{ED}\n{RSA}\n")))
    );
    // Options change the key's line in place of the old one.
    let with_options = KeyEdit {
        key_options: Some("no-pty,from=\"10.0.0.1,10.0.0.2\""),
        ..key_edit(ED, AccountState::Present)
    };
    assert_eq!(
        edit_authorized_keys(&file, &with_options),
        Ok(Some(format!(
            "# managed by hand\nno-pty,from=\"10.0.0.1,10.0.0.2\" {ED}\n"
        )))
    );
    // Exclusive drops every other line, comments too.
    let exclusive = KeyEdit {
        exclusive: true,
        ..key_edit(RSA, AccountState::Present)
    };
    assert_eq!(
        edit_authorized_keys(&file, &exclusive),
        Ok(Some(format!("{RSA}\n")))
    );
    // Absent removes the key, whatever its comment.
    let other_comment = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKeyOne";
    assert_eq!(
        edit_authorized_keys(&file, &key_edit(other_comment, AccountState::Absent)),
        Ok(Some("# managed by hand\n".into()))
    );
    assert!(edit_authorized_keys(&file, &key_edit("not a key", AccountState::Present)).is_err());
}

#[test]
fn key_lines_without_comment_render_as_ansible_writes_them() {
    let key = KeyLine::parse("ssh-ed25519 AAAAblob").expect("key");
    assert_eq!(key.render(), "ssh-ed25519 AAAAblob \n");
    assert!(KeyLine::parse("# ssh-ed25519 AAAAblob").is_none());
}

#[test]
fn getent_facts_and_failures() {
    let mut host = host().respond(|command| {
        let Program::Argv(argv) = &command.program else {
            return None;
        };
        let (status, stdout) = match argv.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["getent", "passwd", "alice"] => (0, "alice:x:1001:1001:Alice:/home/alice:/bin/sh\n"),
            ["getent", "passwd", _] => (2, ""),
            ["getent", "nosuchdb"] => (1, ""),
            _ => return None,
        };
        Some(Output {
            status,
            stdout: stdout.into(),
            stderr: Vec::new(),
        })
    });
    let plan = plan_on(
        &mut host,
        "getent",
        json!({"database": "passwd", "key": "alice"}),
    )
    .expect("plan");
    assert!(!plan.is_change());
    assert_eq!(
        plan.result["ansible_facts"],
        json!({"getent_passwd": {"alice": ["x", "1001", "1001", "Alice", "/home/alice", "/bin/sh"]}})
    );
    let missing = plan_on(
        &mut host,
        "getent",
        json!({"database": "passwd", "key": "zed"}),
    )
    .unwrap_err();
    assert!(
        missing.to_string().contains("could not be found"),
        "{missing}"
    );
    let tolerated = plan_on(
        &mut host,
        "getent",
        json!({"database": "passwd", "key": "zed", "fail_key": false}),
    )
    .expect("plan");
    assert_eq!(
        tolerated.result["ansible_facts"],
        json!({"getent_passwd": {"zed": null}})
    );
    let unknown = plan_on(&mut host, "getent", json!({"database": "nosuchdb"})).unwrap_err();
    assert!(
        unknown.to_string().contains("database unknown"),
        "{unknown}"
    );
}

#[test]
fn getent_splits_on_whitespace_and_collects_repeated_keys() {
    let facts = parse_getent(
        "127.0.0.1 localhost\n::1 localhost ip6-localhost\n127.0.0.1 other\n",
        "hosts",
        None,
    );
    assert_eq!(
        Value::Object(facts),
        json!({"127.0.0.1": [["localhost"], ["other"]], "::1": ["localhost", "ip6-localhost"]})
    );
}
