//! `cron`, `hostname` and `timezone` planned over a memory host: the diff a person sees,
//! check mode (planning) changing nothing, applying, and a second plan finding nothing to do.
//! The memory host acts out `crontab -l` / `crontab -` and `hostnamectl` with shared state.

use converge_modules::memory_host::MemoryHost;
use converge_modules::{find, ChangeDetail, Command, Context, Facts, Output, Plan, Program};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/cron");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

fn plan(module: &str, args: Value, host: &mut MemoryHost, facts: &Facts) -> Plan {
    find(module)
        .expect("module")
        .plan(&args, host, &Context { facts })
        .unwrap_or_else(|error| panic!("{module} {args}: {error}"))
}

fn plan_error(module: &str, args: Value, host: &mut MemoryHost) -> String {
    let facts = Facts::default();
    find(module)
        .expect("module")
        .plan(&args, host, &Context { facts: &facts })
        .expect_err("an error")
        .to_string()
}

fn ok(stdout: &str) -> Option<Output> {
    Some(Output {
        status: 0,
        stdout: stdout.as_bytes().to_vec(),
        stderr: Vec::new(),
    })
}

/// A host whose user crontab (`None`: no crontab, `crontab -l` exits 1) lives in `tab`.
fn crontab_host(tab: Arc<Mutex<Option<String>>>) -> MemoryHost {
    MemoryHost::new().respond(move |command: &Command| {
        let Program::Shell(script) = &command.program else {
            return None;
        };
        if script.contains("crontab -l") {
            return Some(match tab.lock().unwrap().clone() {
                Some(text) => Output {
                    status: 0,
                    stdout: text.into_bytes(),
                    stderr: Vec::new(),
                },
                None => Output {
                    status: 1,
                    stdout: Vec::new(),
                    stderr: b"no crontab for root\n".to_vec(),
                },
            });
        }
        if script.contains("crontab -") {
            let input = command.stdin.clone().unwrap_or_default();
            *tab.lock().unwrap() = Some(String::from_utf8(input).unwrap());
            return ok("");
        }
        None
    })
}

fn content(plan: &Plan, index: usize) -> (String, Option<String>, Option<String>) {
    let change = &plan.changes[index];
    match &change.detail {
        ChangeDetail::Content { before, after } => {
            (change.subject.clone(), before.clone(), after.clone())
        }
        other => panic!("not a content change: {other:?}"),
    }
}

/// Plan, prove planning changed nothing, apply, plan again: no change. Returns the first plan.
fn converge(module: &str, args: Value, host: &mut MemoryHost, facts: &Facts) -> Plan {
    let files = host.files.clone();
    let first = plan(module, args.clone(), host, facts);
    assert!(first.is_change(), "{module} {args}: expected a change");
    assert_eq!(host.files, files, "planning (check mode) changed files");
    first.apply(host).expect("apply");
    let second = plan(module, args.clone(), host, facts);
    assert!(
        !second.is_change(),
        "{module} {args}: second run changes {:?}",
        second.changes
    );
    first
}

#[test]
fn cron_adds_a_marked_job_to_an_empty_crontab_and_then_changes_nothing() {
    let tab = Arc::new(Mutex::new(None));
    let mut host = crontab_host(tab.clone());
    let args = json!({"name": "nightly backup", "minute": 0, "hour": "3", "job": "/usr/local/bin/backup", "user": "root"});
    let facts = Facts::default();
    let before_plan = plan("cron", args.clone(), &mut host, &facts);
    assert_eq!(*tab.lock().unwrap(), None, "planning installed a crontab");
    let first = converge("cron", args, &mut host, &facts);
    assert_eq!(before_plan, first);
    assert_eq!(
        content(&first, 0),
        (
            "crontab for user \"root\"".into(),
            Some(String::new()),
            Some("#Ansible: nightly backup\n0 3 * * * /usr/local/bin/backup\n".into())
        )
    );
    assert_eq!(
        tab.lock().unwrap().as_deref(),
        Some("#Ansible: nightly backup\n0 3 * * * /usr/local/bin/backup\n")
    );
    assert_eq!(first.result["jobs"], json!(["nightly backup"]));
}

#[test]
fn cron_updates_a_job_ansible_wrote_and_keeps_every_other_line() {
    let existing = fixture("ansible-written.crontab");
    let tab = Arc::new(Mutex::new(Some(existing.clone())));
    let mut host = crontab_host(tab.clone());
    let args = json!({"name": "logrotate", "special_time": "daily", "job": "/usr/sbin/logrotate /etc/logrotate.conf"});
    converge("cron", args, &mut host, &Facts::default());
    let expected = existing.replace(
        "30 4 * * * /usr/sbin/logrotate /etc/logrotate.conf",
        "@daily /usr/sbin/logrotate /etc/logrotate.conf",
    );
    assert_ne!(expected, existing);
    assert_eq!(tab.lock().unwrap().as_deref(), Some(expected.as_str()));
}

#[test]
fn cron_header_lines_from_crontab_l_are_not_kept() {
    let listed = "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (/tmp/crontab.AbC installed on Mon Dec  7 01:00:00 2026)\n# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\nMAILTO=root\n";
    let tab = Arc::new(Mutex::new(Some(listed.to_string())));
    let mut host = crontab_host(tab.clone());
    let first = plan(
        "cron",
        json!({"name": "x", "job": "true"}),
        &mut host,
        &Facts::default(),
    );
    assert_eq!(
        content(&first, 0),
        (
            "crontab".into(),
            Some("MAILTO=root\n".into()),
            Some("MAILTO=root\n#Ansible: x\n* * * * * true\n".into())
        )
    );
}

#[test]
fn cron_adopts_an_identical_unmarked_job() {
    let tab = Arc::new(Mutex::new(Some("*/5 * * * * /bin/poll\n".to_string())));
    let mut host = crontab_host(tab.clone());
    let args = json!({"name": "poll", "minute": "*/5", "job": "/bin/poll"});
    converge("cron", args, &mut host, &Facts::default());
    assert_eq!(
        tab.lock().unwrap().as_deref(),
        Some("#Ansible: poll\n*/5 * * * * /bin/poll\n")
    );
}

#[test]
fn cron_disabled_job_is_commented_out_under_its_marker() {
    let tab = Arc::new(Mutex::new(Some(
        "#Ansible: poll\n*/5 * * * * /bin/poll\n".into(),
    )));
    let mut host = crontab_host(tab.clone());
    let args = json!({"name": "poll", "minute": "*/5", "job": "/bin/poll", "disabled": "yes"});
    converge("cron", args, &mut host, &Facts::default());
    assert_eq!(
        tab.lock().unwrap().as_deref(),
        Some("#Ansible: poll\n#*/5 * * * * /bin/poll\n")
    );
}

#[test]
fn cron_env_goes_on_top_or_after_another_variable_and_is_quoted() {
    let tab = Arc::new(Mutex::new(Some(
        "MAILTO=root\n#Ansible: a\n* * * * * true\n".into(),
    )));
    let mut host = crontab_host(tab.clone());
    let facts = Facts::default();
    converge(
        "cron",
        json!({"name": "PATH", "env": true, "job": "/usr/bin:/bin"}),
        &mut host,
        &facts,
    );
    converge(
        "cron",
        json!({"name": "SHELL", "env": true, "value": "/bin/bash", "insertafter": "MAILTO"}),
        &mut host,
        &facts,
    );
    assert_eq!(
        tab.lock().unwrap().as_deref(),
        Some("PATH=\"/usr/bin:/bin\"\nMAILTO=root\nSHELL=\"/bin/bash\"\n#Ansible: a\n* * * * * true\n")
    );
    let changed = converge(
        "cron",
        json!({"name": "PATH", "env": true, "state": "absent"}),
        &mut host,
        &facts,
    );
    assert_eq!(changed.result["envs"], json!(["MAILTO", "SHELL"]));
    let message = plan_error(
        "cron",
        json!({"name": "X", "env": true, "job": "1", "insertbefore": "NOPE"}),
        &mut host,
    );
    assert_eq!(message, "Variable named 'NOPE' not found.");
}

#[test]
fn cron_absent_removes_marker_and_job_and_a_missing_final_newline_is_a_change() {
    let tab = Arc::new(Mutex::new(Some(
        "#Ansible: a\n* * * * * true\n#Ansible: b\n1 * * * * false".into(),
    )));
    let mut host = crontab_host(tab.clone());
    let facts = Facts::default();
    converge(
        "cron",
        json!({"name": "a", "state": "absent"}),
        &mut host,
        &facts,
    );
    assert_eq!(
        tab.lock().unwrap().as_deref(),
        Some("#Ansible: b\n1 * * * * false\n")
    );
    // Absent and already gone: nothing to do.
    assert!(!plan(
        "cron",
        json!({"name": "a", "state": "absent"}),
        &mut host,
        &facts
    )
    .is_change());
}

#[test]
fn cron_file_has_the_user_column_and_goes_away_with_its_last_job() {
    let mut host = MemoryHost::new().with_directory("/etc/cron.d");
    let facts = Facts::default();
    let args = json!({"name": "clean tmp", "special_time": "daily", "user": "root", "cron_file": "clean-tmp", "job": "find /tmp -mtime +7 -delete"});
    let first = converge("cron", args, &mut host, &facts);
    assert_eq!(first.changes[0].subject, "/etc/cron.d/clean-tmp");
    assert_eq!(
        host.text("/etc/cron.d/clean-tmp").as_deref(),
        Some("#Ansible: clean tmp\n@daily root find /tmp -mtime +7 -delete\n")
    );
    assert_eq!(first.result["cron_file"], json!("clean-tmp"));
    let removal = converge(
        "cron",
        json!({"name": "clean tmp", "cron_file": "clean-tmp", "state": "absent"}),
        &mut host,
        &facts,
    );
    assert_eq!(
        content(&removal, 0).2,
        None,
        "the diff shows the file going away"
    );
    assert!(!host.files.contains_key("/etc/cron.d/clean-tmp"));
}

#[test]
fn cron_backup_keeps_the_old_crontab() {
    let tab = Arc::new(Mutex::new(Some("MAILTO=root\n".to_string())));
    let mut host = crontab_host(tab.clone()).with_directory("/tmp");
    let first = plan(
        "cron",
        json!({"name": "x", "job": "true", "user": "root", "backup": true}),
        &mut host,
        &Facts::default(),
    );
    let result = first.apply(&mut host).expect("apply");
    let backup = result["backup_file"].as_str().expect("backup_file");
    assert!(backup.starts_with("/tmp/crontab.root."), "{backup}");
    assert_eq!(host.text(backup).as_deref(), Some("MAILTO=root\n"));
}

#[test]
fn cron_refuses_what_ansible_refuses() {
    let mut host = crontab_host(Arc::new(Mutex::new(None)));
    for (args, wanted) in [
        (
            json!({"name": "x", "job": "y", "cron_file": "f"}),
            "you must specify user",
        ),
        (
            json!({"name": "x", "job": "y", "special_time": "daily", "hour": "3"}),
            "cannot combine special_time",
        ),
        (
            json!({"name": "x", "job": "y", "cron_file": "/etc/crontab", "user": "root"}),
            "will not manage /etc/crontab",
        ),
        (json!({"name": "x"}), "must specify `job`"),
        (
            json!({"name": "x", "job": "y", "insertafter": "A"}),
            "valid only with env=yes",
        ),
        (
            json!({"name": "x", "job": "y", "special_time": "fortnightly"}),
            "unknown variant `fortnightly`",
        ),
    ] {
        let message = plan_error("cron", args.clone(), &mut host);
        assert!(message.contains(wanted), "{args}: {message}");
    }
    assert!(host.commands_run.is_empty(), "argument errors ran commands");
}

#[test]
fn cron_without_crontab_says_to_install_cron() {
    let mut host = MemoryHost::new().respond(|command| match &command.program {
        Program::Shell(_) => Some(Output {
            status: 127,
            stdout: Vec::new(),
            stderr: b"crontab: command not found\n".to_vec(),
        }),
        _ => None,
    });
    let message = plan_error("cron", json!({"name": "x", "job": "y"}), &mut host);
    assert_eq!(message, "`crontab` is not installed on the host");
}

fn debian() -> Facts {
    Facts {
        os_family: "Debian".into(),
        service_mgr: "sysvinit".into(),
        ..Facts::default()
    }
}

#[test]
fn hostname_writes_etc_hostname_and_sets_the_live_name() {
    let mut host = MemoryHost::new()
        .with_file("/etc/hostname", "old\n")
        .with_file("/proc/sys/kernel/hostname", "old\n")
        .respond(|command| {
            (command.to_shell_line() == "hostname gw.example.net").then(Output::default)
        });
    let facts = debian();
    let first = plan(
        "hostname",
        json!({"name": "gw.example.net"}),
        &mut host,
        &facts,
    );
    assert_eq!(host.text("/etc/hostname").as_deref(), Some("old\n"));
    assert_eq!(
        content(&first, 0),
        (
            "/etc/hostname".into(),
            Some("old\n".into()),
            Some("gw.example.net\n".into())
        )
    );
    assert_eq!(
        first.result["ansible_facts"],
        json!({"ansible_hostname": "gw", "ansible_nodename": "gw.example.net"})
    );
    assert_eq!(
        first.result["diff"],
        json!({"before": "hostname = old\n", "after": "hostname = gw.example.net\n"})
    );
    first.apply(&mut host).expect("apply");
    assert_eq!(host.commands_run, vec!["hostname gw.example.net"]);
    // The kernel's answer after `hostname NAME`.
    host = host.with_file("/proc/sys/kernel/hostname", "gw.example.net\n");
    let second = plan(
        "hostname",
        json!({"name": "gw.example.net"}),
        &mut host,
        &facts,
    );
    assert!(!second.is_change(), "{:?}", second.changes);
}

#[test]
fn hostname_on_slackware_writes_etc_hostname_in_capitals_and_the_first_label_live() {
    let mut host = MemoryHost::new()
        .with_file("/etc/HOSTNAME", "darkstar.example.net\n")
        .with_file("/proc/sys/kernel/hostname", "darkstar\n");
    let facts = Facts {
        os_family: "Slackware".into(),
        ..Facts::default()
    };
    let first = plan("hostname", json!({"name": "gw.lan"}), &mut host, &facts);
    let subjects: Vec<&str> = first.changes.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(subjects, ["/etc/HOSTNAME", "hostname (live)"]);
    assert!(first
        .steps
        .iter()
        .any(|step| format!("{step:?}").contains("\"hostname\", \"gw\"")));
}

#[test]
fn hostname_uses_hostnamectl_under_systemd() {
    let names = Arc::new(Mutex::new(("old".to_string(), "old".to_string())));
    let state = names.clone();
    let mut host = MemoryHost::new().respond(move |command| {
        let Program::Argv(argv) = &command.program else {
            return None;
        };
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut names = state.lock().unwrap();
        match argv.as_slice() {
            ["hostnamectl", "--static", "status"] => ok(&format!("{}\n", names.0)),
            ["hostnamectl", "--transient", "status"] => ok(&format!("{}\n", names.1)),
            ["hostnamectl", "--pretty", "--static", "set-hostname", name] => {
                names.0 = name.to_string();
                ok("")
            }
            ["hostnamectl", "--transient", "set-hostname", name] => {
                names.1 = name.to_string();
                ok("")
            }
            _ => None,
        }
    });
    let facts = Facts {
        service_mgr: "systemd".into(),
        ..Facts::default()
    };
    converge("hostname", json!({"name": "web1"}), &mut host, &facts);
    assert_eq!(*names.lock().unwrap(), ("web1".into(), "web1".into()));
}

#[test]
fn hostname_strategies_converge_lacks_are_refused_before_touching_the_host() {
    let mut host = MemoryHost::new();
    let message = plan_error("hostname", json!({"name": "x", "use": "redhat"}), &mut host);
    assert!(message.contains("`use: redhat` is not built"), "{message}");
    assert!(host.commands_run.is_empty());
}

fn zone_host() -> MemoryHost {
    MemoryHost::new()
        .with_file("/usr/share/zoneinfo/Etc/UTC", "TZif-utc")
        .with_file("/usr/share/zoneinfo/Europe/Paris", "TZif-paris")
}

#[test]
fn timezone_relinks_localtime_and_writes_etc_timezone_on_debian() {
    let mut host = zone_host()
        .with_symlink("/etc/localtime", "/usr/share/zoneinfo/Etc/UTC")
        .with_file("/etc/timezone", "Etc/UTC\n");
    let first = converge(
        "timezone",
        json!({"name": "Europe/Paris"}),
        &mut host,
        &debian(),
    );
    assert_eq!(
        first.result["diff"],
        json!({"before": {"name": "Etc/UTC"}, "after": {"name": "Europe/Paris"}})
    );
    assert_eq!(
        host.files["/etc/localtime"].kind,
        converge_modules::FileKind::Symlink {
            target: "/usr/share/zoneinfo/Europe/Paris".into()
        }
    );
    assert_eq!(
        host.text("/etc/timezone").as_deref(),
        Some("Europe/Paris\n")
    );
}

#[test]
fn timezone_replaces_a_copied_localtime_and_slackwares_copied_from_link() {
    let mut host = zone_host()
        .with_file("/etc/localtime", "TZif-utc")
        .with_symlink("/etc/localtime-copied-from", "/usr/share/zoneinfo/Etc/UTC");
    let facts = Facts {
        os_family: "Slackware".into(),
        ..Facts::default()
    };
    let first = plan(
        "timezone",
        json!({"name": "Europe/Paris"}),
        &mut host,
        &facts,
    );
    let lines: Vec<String> = first
        .steps
        .iter()
        .map(|step| match step {
            converge_modules::Step::Run { command, .. } => command.to_shell_line(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        lines,
        [
            "cp --remove-destination /usr/share/zoneinfo/Europe/Paris /etc/localtime",
            "ln -sf /usr/share/zoneinfo/Europe/Paris /etc/localtime-copied-from"
        ]
    );
    // Already the same bytes: nothing to do for the copy.
    let mut same = zone_host().with_file("/etc/localtime", "TZif-paris");
    assert!(!plan(
        "timezone",
        json!({"name": "Europe/Paris"}),
        &mut same,
        &facts
    )
    .is_change());
}

#[test]
fn timezone_uses_timedatectl_under_systemd_and_refuses_unknown_zones_and_hwclock() {
    let mut host = zone_host().with_symlink("/etc/localtime", "../usr/share/zoneinfo/Etc/UTC");
    let facts = Facts {
        service_mgr: "systemd".into(),
        ..Facts::default()
    };
    let first = plan(
        "timezone",
        json!({"name": "Europe/Paris"}),
        &mut host,
        &facts,
    );
    assert_eq!(
        first.steps,
        vec![converge_modules::Step::Run {
            command: Command::argv(["timedatectl", "set-timezone", "Europe/Paris"]),
            allow_failure: false
        }]
    );
    assert!(!plan("timezone", json!({"name": "Etc/UTC"}), &mut host, &facts).is_change());
    assert_eq!(
        plan_error("timezone", json!({"name": "Mars/Olympus"}), &mut host),
        "given timezone \"Mars/Olympus\" is not available"
    );
    assert!(plan_error("timezone", json!({"hwclock": "UTC"}), &mut host).contains("not built"));
    assert!(
        plan_error("timezone", json!({"name": "../../etc/shadow"}), &mut host)
            .contains("not a time zone name")
    );
}

mod mount {
    use super::*;
    use converge_modules::mount::{escape, set_entry, unset_entry, FstabEntry};

    fn fstab() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/mount/debian.fstab"
        ))
        .expect("fixture")
    }

    fn entry(src: &str, name: &str, fstype: &str, opts: &str) -> FstabEntry {
        FstabEntry {
            src: src.into(),
            name: name.into(),
            fstype: fstype.into(),
            opts: opts.into(),
            dump: "0".into(),
            passno: "0".into(),
        }
    }

    #[test]
    fn a_changed_entry_is_rewritten_in_place_and_every_other_line_kept() {
        let text = fstab();
        let (after, changed) =
            set_entry(&text, &entry("/dev/sdb1", "/srv/data", "ext4", "noatime"));
        assert!(changed);
        assert_eq!(
            after,
            text.replace(
                "/dev/sdb1       /srv/data       ext4    defaults        0       2\n",
                "/dev/sdb1 /srv/data ext4 noatime 0 0\n"
            )
        );
        // The same entry again: nothing to do, the original spacing stays.
        let mut same = entry("/dev/sdb1", "/srv/data", "ext4", "defaults");
        same.passno = "2".into();
        assert_eq!(set_entry(&text, &same), (text.clone(), false));
    }

    #[test]
    fn a_new_entry_is_appended_and_a_four_field_line_gets_all_six() {
        let text = fstab();
        let (after, changed) = set_entry(&text, &entry("tmpfs", "/srv/cache", "tmpfs", "size=64m"));
        assert!(changed);
        assert_eq!(
            after,
            format!("{text}tmpfs /srv/cache tmpfs size=64m 0 0\n")
        );
        // Ansible compares the missing dump/pass with "0" and always rewrites the line.
        let (after, changed) = set_entry(&text, &entry("tmpfs", "/run/shm", "tmpfs", "defaults"));
        assert!(changed);
        assert!(after.contains("tmpfs /run/shm tmpfs defaults 0 0\n"));
    }

    #[test]
    fn spaces_are_escaped_and_absent_removes_only_six_field_lines() {
        assert_eq!(escape("/srv/my data&x\\y"), "/srv/my\\040data\\046x\\134y");
        let text = fstab();
        let (after, changed) = unset_entry(&text, "/srv/data", None);
        assert!(changed);
        assert!(!after.contains("/srv/data"));
        assert_eq!(after.lines().count(), text.lines().count() - 1);
        // Four fields: Ansible's unset_mount does not see it.
        assert_eq!(unset_entry(&text, "/run/shm", None), (text.clone(), false));
        // Swap lines are told apart by their device.
        let (_, changed) = unset_entry(&text, "none", Some("/dev/other"));
        assert!(!changed);
    }

    fn mount_host(fstab: &str, mounted: &[&str]) -> MemoryHost {
        let mut info = String::from("22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n");
        for (index, path) in mounted.iter().enumerate() {
            info.push_str(&format!(
                "{} 22 0:{} / {} rw,relatime - tmpfs tmpfs rw\n",
                40 + index,
                50 + index,
                path.replace(' ', "\\040")
            ));
        }
        MemoryHost::new()
            .with_file("/etc/fstab", fstab)
            .with_file("/proc/self/mountinfo", info)
            .respond(|command| {
                let line = command.to_shell_line();
                (line.starts_with("mount ") || line.starts_with("umount ")).then(Output::default)
            })
    }

    fn ran(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .map(|step| match step {
                converge_modules::Step::Run { command, .. } => command.to_shell_line(),
                converge_modules::Step::WriteFile { path, .. } => format!("write {path}"),
                converge_modules::Step::Remove { path } => format!("remove {path}"),
            })
            .collect()
    }

    #[test]
    fn mounted_writes_fstab_creates_the_point_mounts_and_then_changes_nothing() {
        let mut host = mount_host("", &[]);
        let facts = Facts::default();
        let args = json!({"path": "/srv/cache", "src": "tmpfs", "fstype": "tmpfs", "opts": "size=16m", "state": "mounted"});
        let first = plan("mount", args.clone(), &mut host, &facts);
        assert_eq!(
            ran(&first),
            [
                "write /etc/fstab",
                "mkdir -p /srv/cache",
                "mount /srv/cache"
            ]
        );
        assert_eq!(host.text("/etc/fstab").as_deref(), Some(""));
        first.apply(&mut host).expect("apply");
        assert_eq!(
            host.text("/etc/fstab").as_deref(),
            Some("tmpfs /srv/cache tmpfs size=16m 0 0\n")
        );
        // What the kernel would now list.
        let fstab_now = host.text("/etc/fstab").unwrap_or_default();
        let mut host = mount_host(&fstab_now, &["/srv/cache"]).with_directory("/srv/cache");
        assert!(!plan("mount", args, &mut host, &facts).is_change());
        // New options for a mounted path: the fstab line changes and the path is remounted.
        let changed = plan(
            "mount",
            json!({"path": "/srv/cache", "src": "tmpfs", "fstype": "tmpfs", "opts": "size=32m", "state": "mounted"}),
            &mut host,
            &facts,
        );
        assert_eq!(
            ran(&changed),
            [
                "write /etc/fstab",
                "mount -o remount /srv/cache || { umount /srv/cache && mount /srv/cache; }"
            ]
        );
    }

    #[test]
    fn unmounted_absent_boot_and_other_fstab() {
        let facts = Facts::default();
        let text = "tmpfs /srv/cache tmpfs size=16m 0 0\n";
        let mut host = mount_host(text, &["/srv/cache"]).with_directory("/srv/cache");
        let unmount = plan(
            "mount",
            json!({"path": "/srv/cache", "state": "unmounted"}),
            &mut host,
            &facts,
        );
        assert_eq!(ran(&unmount), ["umount /srv/cache"]);
        let absent = plan(
            "mount",
            json!({"path": "/srv/cache", "state": "absent"}),
            &mut host,
            &facts,
        );
        assert_eq!(
            ran(&absent),
            ["write /etc/fstab", "umount /srv/cache", "rmdir /srv/cache"]
        );
        let from_fstab = plan(
            "mount",
            json!({"path": "/srv/cache", "state": "absent_from_fstab"}),
            &mut host,
            &facts,
        );
        assert_eq!(ran(&from_fstab), ["write /etc/fstab"]);
        // Not mounted and not in the file: nothing to do.
        let mut empty = mount_host("", &[]);
        assert!(!plan(
            "mount",
            json!({"path": "/srv/cache", "state": "absent"}),
            &mut empty,
            &facts
        )
        .is_change());
        assert!(!plan(
            "mount",
            json!({"path": "/srv/cache", "state": "unmounted"}),
            &mut empty,
            &facts
        )
        .is_change());
        // boot: no adds noauto; another fstab is passed to mount with -T.
        let mut other = mount_host("", &[]).with_file("/etc/fstab.lab", "");
        let planned = plan(
            "mount",
            json!({"path": "/srv/x", "src": "/dev/vdb", "fstype": "ext4", "boot": false, "fstab": "/etc/fstab.lab", "state": "mounted"}),
            &mut other,
            &facts,
        );
        planned.apply(&mut other).expect("apply");
        assert_eq!(
            other.text("/etc/fstab.lab").as_deref(),
            Some("/dev/vdb /srv/x ext4 defaults,noauto 0 0\n")
        );
        assert!(other
            .commands_run
            .contains(&"mount -T /etc/fstab.lab /srv/x".to_string()));
    }

    #[test]
    fn mount_refuses_what_ansible_refuses_and_what_converge_lacks() {
        let mut host = mount_host("", &[]);
        for (args, wanted) in [
            (
                json!({"path": "/srv/x", "state": "mounted"}),
                "state is mounted but all of the following are missing: src, fstype",
            ),
            (
                json!({"path": "/srv/x", "src": "a", "fstype": "b", "state": "ephemeral"}),
                "not built",
            ),
            (json!({"path": "/srv/x"}), "needs the argument `state`"),
        ] {
            let message = plan_error("mount", args.clone(), &mut host);
            assert!(message.contains(wanted), "{args}: {message}");
        }
    }
}

mod pam_limits {
    use super::*;
    use converge_modules::pam_limits::{edit_limits, PamLimitsArgs};

    const LIMITS: &str = "# /etc/security/limits.conf\n#\n#<domain>      <type>  <item>         <value>\n#*               soft    core            0\n@student        hard    nproc           20   # students\nwww-data        soft    nofile          4096\n\n# End of file\n";

    fn args(value: Value) -> PamLimitsArgs {
        serde_json::from_value(value).expect("args")
    }

    fn edit(value: Value) -> Result<String, String> {
        edit_limits(LIMITS, &args(value)).map(|e| e.text)
    }

    #[test]
    fn a_matching_line_takes_the_value_and_keeps_its_comment() {
        assert_eq!(
            edit(json!({"domain": "@student", "limit_type": "hard", "limit_item": "nproc", "value": 50})).unwrap(),
            LIMITS.replace(
                "@student        hard    nproc           20   # students\n",
                "@student\thard\tnproc\t50\t# students\n"
            )
        );
    }

    #[test]
    fn a_new_limit_is_appended_tab_separated_with_its_comment() {
        assert_eq!(
            edit(json!({"domain": "*", "limit_type": "-", "limit_item": "core", "value": "unlimited", "comment": "dumps"})).unwrap(),
            format!("{LIMITS}*\t-\tcore\tunlimited\t#dumps\n")
        );
    }

    #[test]
    fn use_max_and_use_min_compare_with_what_is_there() {
        let base = json!({"domain": "www-data", "limit_type": "soft", "limit_item": "nofile"});
        let with = |extra: Value| {
            let mut value = base.clone();
            value
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            edit(value).unwrap()
        };
        assert_eq!(with(json!({"value": 1024, "use_max": true})), LIMITS);
        assert!(with(json!({"value": 8192, "use_max": true}))
            .contains("www-data\tsoft\tnofile\t8192\n"));
        assert!(with(json!({"value": 1024, "use_min": true}))
            .contains("www-data\tsoft\tnofile\t1024\n"));
        assert_eq!(with(json!({"value": "unlimited", "use_min": true})), LIMITS);
        assert!(
            with(json!({"value": "unlimited", "use_max": true})).contains("nofile\tunlimited\n")
        );
    }

    #[test]
    fn bad_values_in_the_file_or_the_arguments_are_refused() {
        let bad = "x soft nofile lots\n";
        let error = edit_limits(
            bad,
            &args(json!({"domain": "y", "limit_type": "soft", "limit_item": "nofile", "value": 1})),
        )
        .unwrap_err();
        assert!(error.contains("invalid configuration found"), "{error}");
        let mut host = MemoryHost::new();
        for (value, wanted) in [
            (
                json!({"domain": "a", "limit_type": "soft", "limit_item": "nice", "value": 30}),
                "range -20 to 19",
            ),
            (
                json!({"domain": "a", "limit_type": "soft", "limit_item": "files", "value": 3}),
                "value of limit_item must be one of",
            ),
            (
                json!({"domain": "a", "limit_type": "both", "limit_item": "nofile", "value": 3}),
                "unknown variant `both`",
            ),
            (
                json!({"domain": "a", "limit_type": "soft", "limit_item": "nofile", "value": 3, "use_max": true, "use_min": true}),
                "cannot use use_min and use_max",
            ),
        ] {
            let message = plan_error("pam_limits", value.clone(), &mut host);
            assert!(message.contains(wanted), "{value}: {message}");
        }
    }

    #[test]
    fn plan_apply_and_plan_again_over_a_memory_host() {
        let mut host = MemoryHost::new().with_file("/etc/security/limits.conf", LIMITS);
        let first = converge(
            "pam_limits",
            json!({"domain": "www-data", "limit_type": "soft", "limit_item": "nofile", "value": 65536}),
            &mut host,
            &Facts::default(),
        );
        assert_eq!(
            first.result["msg"],
            json!("www-data\tsoft\tnofile\t65536\n")
        );
        assert_eq!(
            host.text("/etc/security/limits.conf").unwrap(),
            LIMITS.replace(
                "www-data        soft    nofile          4096\n",
                "www-data\tsoft\tnofile\t65536\n"
            )
        );
        // A file that does not exist yet is created in an existing directory only.
        let mut bare = MemoryHost::new().with_directory("/etc/security/limits.d");
        converge(
            "pam_limits",
            json!({"domain": "bob", "limit_type": "hard", "limit_item": "nproc", "value": 10, "dest": "/etc/security/limits.d/bob.conf"}),
            &mut bare,
            &Facts::default(),
        );
        assert_eq!(
            bare.text("/etc/security/limits.d/bob.conf").as_deref(),
            Some("bob\thard\tnproc\t10\n")
        );
        let message = plan_error(
            "pam_limits",
            json!({"domain": "bob", "limit_type": "hard", "limit_item": "nproc", "value": 10, "dest": "/nowhere/x.conf"}),
            &mut bare,
        );
        assert!(
            message.contains("directory /nowhere is not writable"),
            "{message}"
        );
    }
}
