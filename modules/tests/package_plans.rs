//! `package`: apt and slackpkg plans from scripted query outputs.

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

fn facts(pkg_mgr: &str) -> Facts {
    Facts {
        pkg_mgr: pkg_mgr.into(),
        ..Facts::default()
    }
}

fn plan(args: Value, host: &mut MemoryHost, facts: &Facts) -> Result<Plan, ModuleError> {
    converge_modules::find("ansible.builtin.package")
        .expect("registered")
        .plan(&args, host, &Context { facts })
}

fn argvs(plan: &Plan) -> Vec<Vec<String>> {
    plan.steps
        .iter()
        .map(|step| match step {
            Step::Run {
                command:
                    Command {
                        program: Program::Argv(argv),
                        ..
                    },
                ..
            } => argv.clone(),
            other => panic!("unexpected step {other:?}"),
        })
        .collect()
}

const DPKG: &str =
    "vim\tinstall ok installed\t2:9.0.1378-2\nradvd\tdeinstall ok config-files\t1:2.19-1\n";
const POLICY: &str = "radvd:\n  Installed: (none)\n  Candidate: 1:2.19-1\n  Version table:\nvim:\n  Installed: 2:9.0.1378-2\n  Candidate: 2:9.0.1378-2+deb12u1\n";

fn apt_host() -> MemoryHost {
    MemoryHost::new().respond(|command: &Command| {
        let Program::Argv(argv) = &command.program else {
            return None;
        };
        match argv.first().map(String::as_str) {
            Some("dpkg-query") => out(1, DPKG),
            Some("apt-cache") => out(0, POLICY),
            _ => None,
        }
    })
}

const APT_INSTALL: [&str; 8] = [
    "apt-get",
    "install",
    "-y",
    "-q",
    "-o",
    "Dpkg::Options::=--force-confdef",
    "-o",
    "Dpkg::Options::=--force-confold",
];

#[test]
fn apt_installs_only_what_is_missing() {
    let mut host = apt_host();
    let plan = plan(json!({"name": "vim,radvd"}), &mut host, &facts("apt")).expect("plan");
    let mut expected: Vec<String> = APT_INSTALL.iter().map(|s| s.to_string()).collect();
    expected.push("radvd".into());
    assert_eq!(argvs(&plan), [expected]);
    assert_eq!(
        plan.changes,
        [Change::value("radvd", None, Some("1:2.19-1".into()))]
    );
    let Step::Run { command, .. } = &plan.steps[0] else {
        unreachable!()
    };
    assert!(command
        .env
        .contains(&("DEBIAN_FRONTEND".into(), "noninteractive".into())));
    assert_eq!(
        host.commands_run[0],
        r"dpkg-query -W -f '${Package}\t${Status}\t${Version}\n' vim radvd"
    );
    assert_eq!(
        host.commands_run[1], "apt-cache policy radvd",
        "only the missing name"
    );
}

#[test]
fn apt_present_and_installed_is_no_change() {
    let mut host = apt_host();
    let plan = plan(
        json!({"name": ["vim"], "state": "installed"}),
        &mut host,
        &facts("apt"),
    )
    .expect("plan");
    assert!(!plan.is_change());
    assert_eq!(host.commands_run.len(), 1);
}

#[test]
fn apt_latest_upgrades_outdated_packages() {
    let mut host = apt_host();
    let plan = plan(
        json!({"name": ["vim"], "state": "latest"}),
        &mut host,
        &facts("apt"),
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
    assert_eq!(argvs(&plan)[0].last().map(String::as_str), Some("vim"));
}

#[test]
fn apt_removes_installed_packages_only() {
    let mut host = apt_host();
    let plan = plan(
        json!({"name": ["vim", "radvd"], "state": "absent"}),
        &mut host,
        &facts("apt"),
    )
    .expect("plan");
    assert_eq!(argvs(&plan), [["apt-get", "remove", "-y", "-q", "vim"]]);
    assert_eq!(
        plan.changes,
        [Change::value("vim", Some("2:9.0.1378-2".into()), None)]
    );
}

#[test]
fn apt_version_pins_match_globs() {
    let mut host = apt_host();
    let pinned = plan(json!({"name": ["vim=2:9.0*"]}), &mut host, &facts("apt")).expect("plan");
    assert!(!pinned.is_change());
    let other = plan(json!({"name": ["vim=2:8*"]}), &mut host, &facts("apt")).expect("plan");
    assert_eq!(
        argvs(&other)[0].last().map(String::as_str),
        Some("vim=2:8*")
    );
    let latest = plan(
        json!({"name": ["vim=2:8*"], "state": "latest"}),
        &mut host,
        &facts("apt"),
    );
    assert!(latest.is_err());
}

#[test]
fn apt_unknown_package_is_an_error_unless_the_cache_is_refreshed() {
    let mut host = apt_host();
    let error =
        plan(json!({"name": ["nosuchpkg"]}), &mut host, &facts("apt")).expect_err("unknown");
    assert_eq!(
        error.to_string(),
        "no package matching `nosuchpkg` is available"
    );
    let plan = plan(
        json!({"name": ["nosuchpkg"], "update_cache": true}),
        &mut host,
        &facts("apt"),
    )
    .expect("plan");
    assert_eq!(argvs(&plan)[0], ["apt-get", "update", "-q"]);
    assert_eq!(plan.warnings.len(), 1);
}

#[test]
fn apt_cache_valid_time_skips_a_fresh_cache() {
    let mut host = apt_host().respond(|command: &Command| match &command.program {
        Program::Shell(script) if script.starts_with("date +%s") => {
            out(0, "1700003600\n1700000000\n")
        }
        _ => None,
    });
    let fresh = plan(
        json!({"name": "vim", "update_cache": true, "cache_valid_time": 7200}),
        &mut host,
        &facts("apt"),
    )
    .expect("plan");
    assert!(!fresh.is_change());
    let stale = plan(
        json!({"name": "vim", "update_cache": true, "cache_valid_time": 600}),
        &mut host,
        &facts("apt"),
    )
    .expect("plan");
    assert_eq!(argvs(&stale), [["apt-get", "update", "-q"]]);
}

fn slack_host() -> MemoryHost {
    MemoryHost::new().respond(|command: &Command| match &command.program {
        Program::Argv(argv) if argv == &["ls", "-1", "/var/log/packages"] => out(
            0,
            "gcc-11.2.0-x86_64-2\ngcc-g++-11.2.0-x86_64-2\nopenssh-9.3p2-x86_64-1_slack15.0\nradvd-2.19-x86_64-1_SBo\n",
        ),
        _ => None,
    })
}

#[test]
fn slackpkg_matches_names_exactly() {
    let mut host = slack_host();
    let plan = plan(
        json!({"name": ["gcc-g++", "dhcp", "openssh"]}),
        &mut host,
        &facts("slackpkg"),
    )
    .expect("plan");
    assert_eq!(
        argvs(&plan),
        [[
            "slackpkg",
            "-batch=on",
            "-default_answer=y",
            "install",
            "dhcp"
        ]]
    );
    assert_eq!(
        plan.changes,
        [Change::value("dhcp", None, Some("present".into()))]
    );
    // `gcc` being installed does not make `gcc-gfortran` installed.
    let plan2 = self::plan(
        json!({"name": "gcc-gfortran"}),
        &mut host,
        &facts("slackpkg"),
    )
    .expect("plan");
    assert!(plan2.is_change());
}

#[test]
fn slackpkg_removal_uses_removepkg() {
    let mut host = slack_host();
    let plan = plan(
        json!({"name": ["gcc", "dhcp"], "state": "removed"}),
        &mut host,
        &facts("slackpkg"),
    )
    .expect("plan");
    assert_eq!(argvs(&plan), [["removepkg", "gcc"]]);
    assert_eq!(
        plan.changes,
        [Change::value("gcc", Some("11.2.0-x86_64-2".into()), None)]
    );
}

#[test]
fn slackpkg_latest_is_a_clear_error() {
    let mut host = slack_host();
    let error = plan(
        json!({"name": "gcc", "state": "latest"}),
        &mut host,
        &facts("slackpkg"),
    )
    .expect_err("latest");
    assert_eq!(
        error.to_string(),
        "`state: latest` is not supported with slackpkg"
    );
}

#[test]
fn unknown_package_manager_names_the_fact_and_use_overrides() {
    let mut host = slack_host();
    let error = plan(json!({"name": "gcc"}), &mut host, &facts("yum")).expect_err("unknown");
    assert_eq!(
        error.to_string(),
        "module `package` does not know how to install packages here: the fact `pkg_mgr` is `yum`"
    );
    let ModuleError::Failed { hint, .. } = error else {
        panic!("failed")
    };
    assert!(hint.unwrap_or_default().contains("use: slackpkg"));
    let plan = plan(
        json!({"name": "gcc", "use": "slackpkg"}),
        &mut host,
        &facts(""),
    )
    .expect("plan");
    assert!(!plan.is_change());
}

#[test]
fn names_that_look_like_options_are_rejected() {
    let module = converge_modules::find("package").expect("registered");
    let error = module
        .validate(&json!({"name": ["vim", "--purge"]}))
        .expect_err("option");
    assert!(
        error.message.contains("starts with `-`"),
        "{}",
        error.message
    );
    assert!(module.validate(&json!({"name": "a b"})).is_err());
    assert!(module.validate(&json!({"state": "present"})).is_err());
    assert!(module.validate(&json!({"update_cache": "yes"})).is_ok());
}

#[test]
fn pkgtools_without_slackpkg_refuses_an_install_and_names_slackbuild() {
    let mut host = slack_host();
    let error = plan(
        json!({"name": ["gcc", "radvd", "dhcp"]}),
        &mut host,
        &facts("pkgtools"),
    )
    .expect_err("no slackpkg");
    assert_eq!(
        error.to_string(),
        "module `package` cannot install dhcp: this host has Slackware's pkgtools but no slackpkg"
    );
    let ModuleError::Failed { hint, .. } = error else {
        panic!("failed")
    };
    assert!(hint.unwrap_or_default().contains("`slackbuild` module"));
    // Installed ones are present; removal needs only removepkg.
    let present = plan(
        json!({"name": ["gcc", "radvd"]}),
        &mut host,
        &facts("pkgtools"),
    )
    .expect("installed");
    assert!(!present.is_change());
    let absent = plan(
        json!({"name": "radvd", "state": "absent"}),
        &mut host,
        &facts("pkgtools"),
    )
    .expect("removal");
    assert_eq!(argvs(&absent), [["removepkg", "radvd"]]);
}
