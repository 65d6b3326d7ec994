//! `replace` over the memory host: the plan shows a diff and changes nothing until applied,
//! applying writes exactly the planned text, planning again is unchanged, and the failures
//! and messages are Ansible's.

use converge_modules::memory_host::MemoryHost;
use converge_modules::{find, ChangeDetail, Context, Facts, Host, ModuleError, Plan};
use serde_json::{json, Value};

fn plan(args: Value, host: &mut dyn Host) -> Result<Plan, ModuleError> {
    let facts = Facts::default();
    let context = Context { facts: &facts };
    find("ansible.builtin.replace")
        .expect("replace is registered")
        .plan(&args, host, &context)
}

const SSHD: &str = "Port 22\n#PasswordAuthentication yes\nPermitRootLogin yes\n";

#[test]
fn plan_shows_the_diff_changes_nothing_then_apply_converges() {
    let mut host = MemoryHost::new().with_file("/etc/ssh/sshd_config", SSHD);
    let args = json!({
        "dest": "/etc/ssh/sshd_config",
        "regexp": r"^#?(PasswordAuthentication|PermitRootLogin)\s+yes$",
        "replace": r"\1 no",
    });
    let first = plan(args.clone(), &mut host).expect("plan");
    assert!(first.is_change());
    assert_eq!(
        first.changes[0].detail,
        ChangeDetail::Content {
            before: Some(SSHD.into()),
            after: Some("Port 22\nPasswordAuthentication no\nPermitRootLogin no\n".into()),
        }
    );
    assert_eq!(first.result["msg"], json!("2 replacements made"));
    // Planning (what check mode does) left the file alone.
    assert_eq!(host.text("/etc/ssh/sshd_config").as_deref(), Some(SSHD));

    let result = first.apply(&mut host).expect("apply");
    assert_eq!(result["msg"], json!("2 replacements made"));
    assert_eq!(
        host.text("/etc/ssh/sshd_config").as_deref(),
        Some("Port 22\nPasswordAuthentication no\nPermitRootLogin no\n")
    );
    let second = plan(args, &mut host).expect("plan");
    assert!(!second.is_change());
    assert_eq!(second.result["msg"], json!(""));
}

#[test]
fn attributes_backup_and_validate_ride_on_the_write() {
    let mut host = MemoryHost::new().with_file("/etc/hosts", "10.0.0.1 a\n");
    let args = json!({
        "path": "/etc/hosts",
        "regexp": r"^10\.0\.0\.(\d+)",
        "replace": r"10.0.1.\g<1>",
        "backup": true,
        "mode": "0600",
        "owner": "www-data",
        "validate": "true %s",
    });
    let first = plan(args.clone(), &mut host).expect("plan");
    // A private file's content is withheld from the report.
    assert!(matches!(first.changes[0].detail, ChangeDetail::Hidden(_)));
    let result = first.apply(&mut host).expect("apply");
    assert_eq!(result["backup_file"], json!("/etc/hosts.backup~"));
    let entry = &host.files["/etc/hosts"];
    assert_eq!(String::from_utf8_lossy(&entry.content), "10.0.1.1 a\n");
    assert_eq!((entry.mode, entry.owner.as_str()), (0o600, "www-data"));
    assert!(!plan(args, &mut host).expect("plan").is_change());
}

#[test]
fn attributes_alone_change_without_rewriting() {
    let mut host = MemoryHost::new().with_file("/etc/motd", "hello\n");
    let args = json!({"path": "/etc/motd", "regexp": "absent", "mode": "0640"});
    let first = plan(args.clone(), &mut host).expect("plan");
    assert_eq!(
        first.result["msg"],
        json!("ownership, perms or SE linux context changed")
    );
    first.apply(&mut host).expect("apply");
    assert_eq!(host.commands_run, vec!["chmod 0640 /etc/motd"]);
    assert_eq!(host.files["/etc/motd"].mode, 0o640);
    assert!(!plan(args, &mut host).expect("plan").is_change());
}

#[test]
fn a_symbolic_link_is_followed_to_the_file() {
    let mut host = MemoryHost::new()
        .with_file("/etc/real.conf", "a\n")
        .with_symlink("/etc/link.conf", "real.conf");
    let args = json!({"path": "/etc/link.conf", "regexp": "a", "replace": "b"});
    plan(args, &mut host)
        .expect("plan")
        .apply(&mut host)
        .expect("apply");
    assert_eq!(host.text("/etc/real.conf").as_deref(), Some("b\n"));
    assert!(matches!(
        host.files["/etc/link.conf"].kind,
        converge_modules::FileKind::Symlink { .. }
    ));
}

#[test]
fn missing_files_directories_and_bad_encodings_fail_as_ansible_does() {
    let mut host = MemoryHost::new()
        .with_directory("/srv")
        .with_file("/etc/latin", b"caf\xe9\n".to_vec());
    let message = |result: Result<Plan, ModuleError>| match result {
        Err(error) => error.to_string(),
        Ok(plan) => panic!("expected a failure, got {plan:?}"),
    };
    assert_eq!(
        message(plan(json!({"path": "/nope", "regexp": "a"}), &mut host)),
        "Path /nope does not exist !"
    );
    assert_eq!(
        message(plan(json!({"path": "/srv", "regexp": "a"}), &mut host)),
        "Path /srv is a directory !"
    );
    assert_eq!(
        message(plan(
            json!({"path": "/etc/latin", "regexp": "a"}),
            &mut host
        )),
        "`/etc/latin` is not valid utf-8 text"
    );
    let latin = plan(
        json!({"path": "/etc/latin", "regexp": "caf\u{e9}", "replace": "cafe", "encoding": "latin-1"}),
        &mut host,
    )
    .expect("plan");
    latin.apply(&mut host).expect("apply");
    assert_eq!(host.text("/etc/latin").as_deref(), Some("cafe\n"));
}

#[test]
fn argument_errors_name_the_argument() {
    let module = find("replace").expect("registered");
    let error = module
        .validate(&json!({"path": "/x", "regexp": "(unclosed"}))
        .unwrap_err();
    assert_eq!(error.argument.as_deref(), Some("regexp"));
    let error = module
        .validate(&json!({"path": "/x", "regexp": "a", "validate": "visudo -c"}))
        .unwrap_err();
    assert_eq!(error.argument.as_deref(), Some("validate"));
    let error = module
        .validate(&json!({"path": "/x", "regexp": "a", "replce": "b"}))
        .unwrap_err();
    assert_eq!(error.hint.as_deref(), Some("did you mean `replace`?"));
}
