//! `apt` and `package_facts`: plans from scripted dpkg-query / apt-cache outputs, and the pure
//! parsers over fixture text.

use converge_modules::memory_host::MemoryHost;
use converge_modules::module::{Context, ModuleError};
use converge_modules::{Change, Command, Facts, Output, Plan, Program, Step};
use serde_json::{json, Value};

fn out(status: i32, stdout: &str) -> Option<Output> {
    Some(Output {
        status,
        stdout: stdout.as_bytes().to_vec(),
        stderr: Vec::new(),
    })
}

fn facts(pkg_mgr: &str, os_family: &str) -> Facts {
    Facts {
        pkg_mgr: pkg_mgr.into(),
        os_family: os_family.into(),
        ..Facts::default()
    }
}

fn debian() -> Facts {
    facts("apt", "Debian")
}

fn plan_with(
    module: &str,
    args: Value,
    host: &mut MemoryHost,
    facts: &Facts,
) -> Result<Plan, ModuleError> {
    converge_modules::find(module)
        .expect("registered")
        .plan(&args, host, &Context { facts })
}

fn plan(args: Value, host: &mut MemoryHost) -> Result<Plan, ModuleError> {
    plan_with("ansible.builtin.apt", args, host, &debian())
}

fn argvs(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .map(|step| match step {
            Step::Run {
                command:
                    Command {
                        program: Program::Argv(argv),
                        ..
                    },
                ..
            } => argv.join(" "),
            other => panic!("unexpected step {other:?}"),
        })
        .collect()
}

const DPKG: &str = "vim\tinstall ok installed\t2:9.0.1378-2\nradvd\tdeinstall ok config-files\t1:2.19-1\nnano\tinstall ok installed\t7.2-1\n";
const POLICY: &str = "radvd:\n  Installed: (none)\n  Candidate: 1:2.19-1\n  Version table:\n     1:2.19-1 500\nvim:\n  Installed: 2:9.0.1378-2\n  Candidate: 2:9.0.1378-2+deb12u1\nnano:\n  Installed: 7.2-1\n  Candidate: 7.2-1\n";

/// A Debian host whose apt cache was refreshed at `cache_mtime` (the clock says 100000).
fn apt_host(cache_mtime: u64) -> MemoryHost {
    MemoryHost::new().respond(move |command: &Command| match &command.program {
        Program::Shell(script) if script.contains("update-success-stamp") => {
            out(0, &format!("100000\n{cache_mtime}\n"))
        }
        Program::Argv(argv) => match argv.first().map(String::as_str) {
            Some("dpkg-query") => out(1, DPKG),
            Some("apt-cache") => out(0, POLICY),
            Some("dpkg-deb") => out(
                0,
                "Package: convtest-a\nVersion: 2.0\nArchitecture: all\nDescription: test\n",
            ),
            _ => None,
        },
        _ => None,
    })
}

const INSTALL: &str =
    "apt-get -y -q -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold";

#[test]
fn present_installs_only_the_missing_package_and_names_its_version() {
    let mut host = apt_host(0);
    let plan = plan(json!({"name": "vim,radvd"}), &mut host).expect("plan");
    assert_eq!(
        plan.changes,
        [Change::value("radvd", None, Some("1:2.19-1".into()))]
    );
    assert_eq!(argvs(&plan.steps), [format!("{INSTALL} install radvd")]);
    let Step::Run { command, .. } = &plan.steps[0] else {
        unreachable!()
    };
    assert!(command
        .env
        .contains(&("DEBIAN_FRONTEND".into(), "noninteractive".into())));
    assert_eq!(
        host.commands_run,
        [
            r"dpkg-query -W -f '${Package}\t${Status}\t${Version}\n' vim radvd",
            "apt-cache policy radvd"
        ]
    );
    assert_eq!(plan.result["cache_updated"], json!(false));
    assert_eq!(plan.result["cache_update_time"], json!(0));
}

#[test]
fn present_and_installed_is_no_change_in_one_round_trip() {
    let mut host = apt_host(0);
    let plan = plan(json!({"pkg": ["vim", "nano"]}), &mut host).expect("plan");
    assert!(!plan.is_change());
    assert_eq!(host.commands_run.len(), 1);
}

#[test]
fn latest_upgrades_only_outdated_packages_with_the_version_diff() {
    let mut host = apt_host(0);
    let plan = plan(
        json!({"name": ["vim", "nano"], "state": "latest", "install_recommends": false, "default_release": "bookworm-backports"}),
        &mut host,
    )
    .expect("plan");
    assert_eq!(
        plan.changes,
        [Change::value(
            "vim",
            Some("2:9.0.1378-2".into()),
            Some("2:9.0.1378-2+deb12u1".into())
        )]
    );
    assert_eq!(
        argvs(&plan.steps),
        [format!(
            "{INSTALL} -t bookworm-backports --no-install-recommends install vim"
        )]
    );
}

#[test]
fn a_pin_installs_that_version() {
    let mut host = apt_host(0);
    let plan = plan(
        json!({"name": "vim=2:9.0.1378-2+deb12u1", "allow_downgrade": true}),
        &mut host,
    )
    .expect("plan");
    assert_eq!(
        plan.changes,
        [Change::value(
            "vim",
            Some("2:9.0.1378-2".into()),
            Some("2:9.0.1378-2+deb12u1".into())
        )]
    );
    assert_eq!(
        argvs(&plan.steps),
        [format!(
            "{INSTALL} --allow-downgrades install vim=2:9.0.1378-2+deb12u1"
        )]
    );
    // A glob pin that the installed version matches is no change.
    let plan = plan_with(
        "apt",
        json!({"name": "vim=2:9.0*"}),
        &mut apt_host(0),
        &debian(),
    )
    .expect("plan");
    assert!(!plan.is_change());
}

#[test]
fn absent_removes_installed_and_purge_also_config_files() {
    let mut host = apt_host(0);
    let plan = plan(
        json!({"name": ["vim", "radvd", "nosuch"], "state": "absent"}),
        &mut host,
    )
    .expect("plan");
    assert_eq!(
        plan.changes,
        [Change::value("vim", Some("2:9.0.1378-2".into()), None)]
    );
    assert_eq!(argvs(&plan.steps), [format!("{INSTALL} remove vim")]);

    let plan = plan_with(
        "apt",
        json!({"name": ["vim", "radvd"], "state": "absent", "purge": true, "autoremove": true}),
        &mut apt_host(0),
        &debian(),
    )
    .expect("plan");
    assert_eq!(
        plan.changes,
        [
            Change::value("vim", Some("2:9.0.1378-2".into()), None),
            Change::value("radvd", Some("1:2.19-1 (configuration files)".into()), None),
        ]
    );
    assert_eq!(
        argvs(&plan.steps),
        [format!("{INSTALL} --purge --auto-remove remove vim radvd")]
    );
}

#[test]
fn update_cache_alone_is_a_change_unless_the_cache_is_fresh() {
    // Refreshed 50 s ago, valid for an hour: nothing to do.
    let plan = plan(
        json!({"update_cache": true, "cache_valid_time": 3600}),
        &mut apt_host(99_950),
    )
    .expect("plan");
    assert!(!plan.is_change());
    assert_eq!(plan.result["cache_updated"], json!(false));
    assert_eq!(plan.result["cache_update_time"], json!(99_950));

    // cache_valid_time alone implies update_cache; an old cache is refreshed.
    let plan = plan_with(
        "apt",
        json!({"cache_valid_time": 3600}),
        &mut apt_host(1_000),
        &debian(),
    )
    .expect("plan");
    assert!(plan.is_change());
    assert_eq!(argvs(&plan.steps), ["apt-get update -q"]);
    assert_eq!(plan.result["cache_updated"], json!(true));
}

#[test]
fn update_cache_with_packages_refreshes_without_counting_as_a_change() {
    let plan = plan(
        json!({"name": "vim", "update_cache": true}),
        &mut apt_host(1_000),
    )
    .expect("plan");
    assert!(!plan.is_change(), "vim is installed: Ansible reports ok");
    assert_eq!(argvs(&plan.always), ["apt-get update -q"]);
    assert_eq!(plan.result["cache_updated"], json!(true));
}

#[test]
fn a_deb_file_installs_when_its_version_is_not_installed() {
    let plan = plan(
        json!({"deb": "/tmp/convtest-a_2.0_all.deb"}),
        &mut apt_host(0),
    )
    .expect("plan");
    assert_eq!(
        plan.changes,
        [Change::value("convtest-a", None, Some("2.0".into()))]
    );
    assert_eq!(
        argvs(&plan.steps),
        [format!("{INSTALL} install /tmp/convtest-a_2.0_all.deb")]
    );
}

#[test]
fn an_unknown_package_fails_with_a_hint() {
    let host = MemoryHost::new().respond(|command: &Command| match &command.program {
        Program::Argv(argv) if argv[0] == "dpkg-query" => out(1, ""),
        Program::Argv(argv) if argv[0] == "apt-cache" => out(0, ""),
        _ => None,
    });
    let error = plan(json!({"name": "nosuch"}), &mut { host }).unwrap_err();
    let ModuleError::Failed { message, hint } = error else {
        panic!("{error:?}")
    };
    assert_eq!(message, "no package matching `nosuch` is available");
    assert!(hint.unwrap().contains("update_cache"));
}

#[test]
fn slackware_hosts_are_told_to_use_slackbuild_or_package() {
    let error = plan_with(
        "apt",
        json!({"name": "vim"}),
        &mut MemoryHost::new(),
        &facts("slackpkg", "Slackware"),
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "apt is Debian's; on Slackware use `slackbuild` or `package`"
    );
}

#[test]
fn arguments_not_built_or_wrong_say_so() {
    let apt = converge_modules::find("apt").unwrap();
    let error = apt
        .validate(&json!({"name": "gcc", "state": "build-dep"}))
        .unwrap_err();
    assert_eq!(error.message, "`state: build-dep` is not built in converge");
    let error = apt
        .validate(&json!({"deb": "https://example.org/x.deb"}))
        .unwrap_err();
    assert!(error.message.contains("not built"), "{}", error.message);
    let error = apt.validate(&json!({"name": "-oops"})).unwrap_err();
    assert!(error.message.contains("starts with `-`"));
    let error = apt.validate(&json!({"nme": "vim"})).unwrap_err();
    assert_eq!(error.hint.as_deref(), Some("did you mean `name`?"));
    let error = apt
        .validate(&json!({"name": "x", "deb": "/tmp/x.deb"}))
        .unwrap_err();
    assert_eq!(
        error.message,
        "module `apt` takes `name` or `deb`, not both"
    );
}

// ------------------------------------------------------------------ package_facts

const STATUS: &str = "Package: vim
Status: install ok installed
Priority: optional
Section: editors
Installed-Size: 3000
Architecture: amd64
Version: 2:9.0.1378-2
Description: Vi IMproved - enhanced vi editor
 Vim is an almost compatible version of the UNIX editor Vi.
 .
 Many new features have been added.

Package: nano
Status: deinstall ok config-files
Architecture: amd64
Version: 7.2-1

Package: libc6
Status: install ok installed
Section: libs
Architecture: i386
Version: 2.36-9+deb12u4
";

#[test]
fn package_facts_from_dpkg_status_in_ansibles_shape() {
    let mut host = MemoryHost::new().respond(|command: &Command| match &command.program {
        Program::Argv(argv) if argv.join(" ") == "cat /var/lib/dpkg/status" => out(0, STATUS),
        _ => None,
    });
    let plan = plan_with("package_facts", json!({}), &mut host, &debian()).expect("plan");
    assert!(!plan.is_change());
    assert_eq!(
        plan.result["ansible_facts"],
        json!({"packages": {
            "vim": [{"name": "vim", "version": "2:9.0.1378-2", "arch": "amd64", "category": "editors", "source": "apt"}],
            "libc6": [{"name": "libc6", "version": "2.36-9+deb12u4", "arch": "i386", "category": "libs", "source": "apt"}],
        }})
    );
}

#[test]
fn package_facts_from_slackware_package_names() {
    let mut host = MemoryHost::new().respond(|command: &Command| match &command.program {
        Program::Shell(script) if script.contains("/var/lib/pkgtools/packages") => out(
            0,
            "openssh-9.3p2-x86_64-1_slack15.0\ngcc-g++-11.2.0-x86_64-2\n",
        ),
        _ => None,
    });
    let plan = plan_with(
        "package_facts",
        json!({"manager": "auto"}),
        &mut host,
        &facts("slackpkg", "Slackware"),
    )
    .expect("plan");
    assert_eq!(
        plan.result["ansible_facts"]["packages"],
        json!({
            "openssh": [{"name": "openssh", "version": "9.3p2", "arch": "x86_64", "release": "1_slack15.0", "source": "pkgtools"}],
            "gcc-g++": [{"name": "gcc-g++", "version": "11.2.0", "arch": "x86_64", "release": "2", "source": "pkgtools"}],
        })
    );
}

#[test]
fn package_facts_rpm_is_not_built() {
    let error = converge_modules::find("package_facts")
        .unwrap()
        .validate(&json!({"manager": ["rpm"]}))
        .unwrap_err();
    assert_eq!(error.message, "`manager: rpm` is not built in converge");
}
