//! `slackbuild`: plans on a MemoryHost. The host's one read script runs for real (`sh`) over
//! converge's fixture tree, with the package database in a temp dir and the pkgtools test
//! doubles on PATH; build and remove steps are acted out on that database, so a plan can be
//! applied and planned again.

use converge_modules::memory_host::MemoryHost;
use converge_modules::module::{Context, ModuleError};
use converge_modules::{ChangeDetail, Command, Facts, Output, Plan, Program, Step};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const REPO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/slackbuild/repo"
);
const SOURCES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/slackbuild/sources"
);
const PKGTOOLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/pkgtools");

/// A Slackware host as far as this module sees it: a package database directory.
struct Fake {
    db: tempfile::TempDir,
    /// PATH for the read script: with or without the pkgtools (test doubles).
    path: String,
    /// Build and fetch scripts run, in order (their first line).
    ran: Arc<Mutex<Vec<String>>>,
}

impl Fake {
    fn new(installed: &[&str]) -> Fake {
        let db = tempfile::tempdir().expect("db dir");
        for entry in installed {
            std::fs::write(db.path().join(entry), "PACKAGE NAME:\n").expect("entry");
        }
        Fake {
            db,
            path: format!("{PKGTOOLS}:/usr/bin:/bin"),
            ran: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn entries(&self) -> Vec<String> {
        let mut list: Vec<String> = std::fs::read_dir(self.db.path())
            .expect("db")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        list.sort();
        list
    }

    fn host(&self) -> MemoryHost {
        self.host_probed("")
    }

    /// The host, answering the source probe (copies on the host, URLs) with `probe`.
    fn host_probed(&self, probe: &str) -> MemoryHost {
        let db: PathBuf = self.db.path().to_path_buf();
        let ran = Arc::clone(&self.ran);
        let path = self.path.clone();
        let probe = probe.to_string();
        MemoryHost::new().respond(move |command: &Command| match &command.program {
            Program::Shell(script) if script.starts_with("probe()") => Some(Output {
                status: 0,
                stdout: probe.clone().into_bytes(),
                stderr: Vec::new(),
            }),
            _ => act(command, &db, &path, &ran),
        })
    }
}

fn act(command: &Command, db: &Path, path: &str, ran: &Mutex<Vec<String>>) -> Option<Output> {
    match &command.program {
        Program::Shell(script) if script.contains("@@converge-packages") => {
            let script = script.replace("/var/log/packages/", &format!("{}/", db.display()));
            let output = std::process::Command::new("sh")
                .arg("-c")
                .arg(&script)
                .env("PATH", path)
                .output()
                .expect("sh");
            Some(Output {
                status: output.status.code().unwrap_or(-1),
                stdout: output.stdout,
                stderr: output.stderr,
            })
        }
        Program::Shell(script) => {
            let first = script.lines().next().unwrap_or_default().to_string();
            ran.lock().expect("lock").push(first.clone());
            if let Some(rest) = first.strip_prefix("# build ") {
                let (name, version) = rest.split_once(' ')?;
                // Like upgradepkg: the new package replaces any other version.
                for entry in std::fs::read_dir(db).ok()?.flatten() {
                    let file = entry.file_name().to_string_lossy().into_owned();
                    if converge_modules::slackbuild::parse_package_entry(&file)
                        .is_some_and(|p| p.name == name)
                    {
                        std::fs::remove_file(entry.path()).ok()?;
                    }
                }
                std::fs::write(db.join(format!("{name}-{version}-noarch-1_SBo")), "").ok()?;
            }
            Some(Output::default())
        }
        Program::Argv(argv) if argv.first().map(String::as_str) == Some("removepkg") => {
            std::fs::remove_file(db.join(&argv[1])).ok()?;
            Some(Output::default())
        }
        _ => None,
    }
}

fn facts() -> Facts {
    Facts {
        architecture: "x86_64".into(),
        os_family: "Slackware".into(),
        ..Facts::default()
    }
}

fn plan(args: Value, host: &mut MemoryHost) -> Result<Plan, ModuleError> {
    let facts = facts();
    converge_modules::find("slackbuild")
        .expect("registered")
        .plan(&args, host, &Context { facts: &facts })
}

fn notes(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .map(|change| match &change.detail {
            ChangeDetail::Note(note) => format!("{}: {note}", change.subject),
            other => format!("{}: {other:?}", change.subject),
        })
        .collect()
}

fn scripts(plan: &Plan) -> Vec<String> {
    plan.steps
        .iter()
        .filter_map(|step| match step {
            Step::Run {
                command:
                    Command {
                        program: Program::Shell(script),
                        ..
                    },
                ..
            } => Some(script.clone()),
            _ => None,
        })
        .collect()
}

fn writes(plan: &Plan) -> Vec<(String, Option<u32>)> {
    plan.steps
        .iter()
        .filter_map(|step| match step {
            Step::WriteFile { path, options, .. } => {
                assert!(options.create_parents, "{path}: uploads create parents");
                Some((path.clone(), options.attributes.mode))
            }
            _ => None,
        })
        .collect()
}

fn error_of(result: Result<Plan, ModuleError>) -> (String, String) {
    match result {
        Err(ModuleError::Failed { message, hint }) => (message, hint.unwrap_or_default()),
        Err(ModuleError::Args(args)) => (args.message, args.hint.unwrap_or_default()),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn builds_dependencies_first_with_one_read_then_is_idempotent() {
    let fake = Fake::new(&["aaa_base-15.0-x86_64-3"]);
    let mut host = fake.host();
    let args = json!({
        "name": "hello-converge",
        "repo": REPO,
        "sources": SOURCES,
        "env": {"WHO": "lab", "TAG": "_test", "JOBS": 2},
    });
    let planned = plan(args.clone(), &mut host).expect("plan");
    assert_eq!(host.commands_run.len(), 1, "one round trip to plan");
    assert_eq!(
        notes(&planned),
        [
            "hello-greeting: build hello-greeting 1.0 (1 of 2; not installed; sources from the controller)",
            "hello-converge: build hello-converge 1.0 (2 of 2; not installed; sources from the controller)",
        ]
    );
    assert_eq!(
        planned.result["msg"],
        json!("build hello-greeting 1.0 then hello-converge 1.0")
    );
    assert_eq!(
        planned.result["queue"],
        json!(["hello-greeting-1.0", "hello-converge-1.0"])
    );
    assert_eq!(
        writes(&planned),
        [
            (
                format!("{REPO}/misc/hello-greeting/hello-greeting-1.0.txt"),
                Some(0o644)
            ),
            (
                format!("{REPO}/misc/hello-converge/hello-converge-1.0.sh"),
                Some(0o644)
            ),
        ]
    );
    let scripts = scripts(&planned);
    let firsts: Vec<&str> = scripts
        .iter()
        .map(|s| s.lines().next().unwrap_or(""))
        .collect();
    assert_eq!(
        firsts,
        [
            "# sources of hello-greeting 1.0: check MD5",
            "# sources of hello-converge 1.0: check MD5",
            "# build hello-greeting 1.0",
            "# build hello-converge 1.0",
        ],
        "every source is checked before anything is built"
    );
    assert!(scripts[1].contains("check hello-converge-1.0.sh d3d1980e490928dad523ece85250bfcc"));
    assert!(
        !scripts[1].contains("wget"),
        "uploaded sources are not downloaded"
    );
    let build = &scripts[3];
    for expected in [
        &format!("cd {REPO}/misc/hello-converge\n"),
        "export JOBS=2\nexport TAG=_test\nexport WHO=lab\n",
        "work=$(mktemp -d",
        "trap 'rm -rf \"$work\"' EXIT",
        "export OUTPUT=\"$work/output\" TMP=\"$work/tmp\"",
        "mv -f \"$1\" /var/cache/converge/slackbuild/\n",
        "upgradepkg --install-new \"$package\"",
    ] {
        assert!(
            build.contains(expected),
            "build script lacks {expected:?}:\n{build}"
        );
    }

    planned.apply(&mut host).expect("apply");
    assert_eq!(
        fake.entries(),
        [
            "aaa_base-15.0-x86_64-3",
            "hello-converge-1.0-noarch-1_SBo",
            "hello-greeting-1.0-noarch-1_SBo"
        ]
    );
    let again = plan(args, &mut host).expect("plan again");
    assert!(!again.is_change(), "second plan: {:?}", again.changes);
    assert!(again.warnings.is_empty(), "{:?}", again.warnings);
}

#[test]
fn downloads_from_the_info_urls_when_no_sources_are_given() {
    let fake = Fake::new(&["hello-greeting-1.0-noarch-1_SBo"]);
    let mut host = fake.host();
    let planned = plan(json!({"name": "hello-converge", "repo": REPO}), &mut host).expect("plan");
    assert_eq!(
        notes(&planned),
        ["hello-converge: build hello-converge 1.0 (1 of 1; not installed; 1 source to download)"]
    );
    assert!(writes(&planned).is_empty());
    let fetch = &scripts(&planned)[0];
    assert!(fetch.contains(
        "get hello-converge-1.0.sh d3d1980e490928dad523ece85250bfcc https://example.org/hello-converge/hello-converge-1.0.sh"
    ), "{fetch}");
    assert!(
        fetch.contains("wget -q -O") && fetch.contains("curl -fsSL"),
        "{fetch}"
    );
    let get = fetch.find("\nget ").expect("get");
    let check = fetch.find("\ncheck ").expect("check");
    assert!(get < check, "download, then check");
}

#[test]
fn check_mode_reads_once_and_runs_nothing() {
    let fake = Fake::new(&[]);
    let mut host = fake.host();
    let planned = plan(json!({"name": "hello-converge", "repo": REPO}), &mut host).expect("plan");
    assert!(planned.is_change());
    // The tree and package database, then the sources (copies on the host, URLs).
    assert_eq!(host.commands_run.len(), 2);
    assert!(fake.ran.lock().expect("lock").is_empty(), "no step ran");
    assert!(fake.entries().is_empty());
}

#[test]
fn latest_rebuilds_an_older_version_and_present_keeps_it() {
    let fake = Fake::new(&[
        "hello-greeting-1.0-noarch-1_SBo",
        "hello-converge-0.9-noarch-2_SBo",
    ]);
    let mut host = fake.host();
    let present = plan(json!({"name": "hello-converge", "repo": REPO}), &mut host).expect("plan");
    assert!(!present.is_change(), "{:?}", present.changes);
    let latest =
        json!({"name": "hello-converge", "repo": REPO, "state": "latest", "sources": SOURCES});
    let planned = plan(latest.clone(), &mut host).expect("plan");
    assert_eq!(
        notes(&planned),
        ["hello-converge: build hello-converge 1.0 (1 of 1; installed 0.9; sources from the controller)"]
    );
    planned.apply(&mut host).expect("apply");
    assert_eq!(
        fake.entries(),
        [
            "hello-converge-1.0-noarch-1_SBo",
            "hello-greeting-1.0-noarch-1_SBo"
        ]
    );
    assert!(!plan(latest, &mut host).expect("again").is_change());
}

#[test]
fn pinned_version_must_match_the_tree() {
    let fake = Fake::new(&["hello-greeting-1.0-noarch-1_SBo"]);
    let mut host = fake.host();
    let (message, hint) = error_of(plan(
        json!({"name": "hello-converge", "repo": REPO, "version": "2.0"}),
        &mut host,
    ));
    assert_eq!(
        message,
        format!("`version` pins `hello-converge` 2.0, but the tree `{REPO}` has 1.0")
    );
    assert!(hint.contains("branch"), "{hint}");
    let fake = Fake::new(&[
        "hello-greeting-1.0-noarch-1_SBo",
        "hello-converge-1.0-noarch-1_SBo",
    ]);
    let mut host = fake.host();
    let pinned = plan(
        json!({"name": "hello-converge", "repo": REPO, "version": "1.0"}),
        &mut host,
    )
    .expect("plan");
    assert!(!pinned.is_change());
}

#[test]
fn cycle_is_refused_naming_it() {
    let fake = Fake::new(&[]);
    let (message, _) = error_of(plan(
        json!({"name": "cyc-a", "repo": REPO}),
        &mut fake.host(),
    ));
    assert_eq!(
        message,
        format!("dependency cycle: `cyc-a` → `cyc-b` → `cyc-c` → `cyc-a` in the `REQUIRES` of the SlackBuilds tree `{REPO}`")
    );
}

#[test]
fn missing_dependency_is_an_error_unless_installed() {
    let fake = Fake::new(&[]);
    let (message, hint) = error_of(plan(
        json!({"name": "needs-ghost", "repo": REPO}),
        &mut fake.host(),
    ));
    assert_eq!(
        message,
        format!("`ghost-lib`, required by `needs-ghost`, is neither in the SlackBuilds tree `{REPO}` nor installed")
    );
    assert!(hint.contains("add `ghost-lib` to the tree"), "{hint}");

    // Installed already: the missing dependency does not matter.
    let fake = Fake::new(&["needs-ghost-2.0-x86_64-1_SBo"]);
    let planned = plan(
        json!({"name": "needs-ghost", "repo": REPO}),
        &mut fake.host(),
    )
    .expect("plan");
    assert!(!planned.is_change());

    let fake = Fake::new(&["ghost-lib-3-x86_64-1"]);
    let planned = plan(
        json!({"name": "needs-ghost", "repo": REPO}),
        &mut fake.host(),
    )
    .expect("plan");
    assert_eq!(
        notes(&planned),
        ["needs-ghost: build needs-ghost 2.0 (1 of 1; not installed; 1 source to download)"]
    );
}

#[test]
fn unknown_package_names_the_tree() {
    let fake = Fake::new(&[]);
    let (message, _) = error_of(plan(
        json!({"name": "nowhere", "repo": REPO}),
        &mut fake.host(),
    ));
    assert_eq!(
        message,
        format!("no SlackBuild `nowhere` in the tree `{REPO}`")
    );
    let installed = Fake::new(&["nowhere-1-x86_64-1"]);
    assert!(!plan(
        json!({"name": "nowhere", "repo": REPO}),
        &mut installed.host()
    )
    .expect("installed needs no SlackBuild")
    .is_change());
    let (message, _) = error_of(plan(
        json!({"name": "nowhere", "repo": "/nonexistent/sbo"}),
        &mut fake.host(),
    ));
    assert_eq!(
        message,
        "the SlackBuilds tree `/nonexistent/sbo` does not exist on the host"
    );
}

#[test]
fn readme_marker_becomes_a_warning_for_packages_built() {
    let fake = Fake::new(&[]);
    let planned = plan(
        json!({"name": "readme-app", "repo": REPO}),
        &mut fake.host(),
    )
    .expect("plan");
    assert_eq!(
        notes(&planned),
        [
            "readme-lib: build readme-lib 0.9 (1 of 2; not installed; 1 source to download)",
            "readme-app: build readme-app 3.1 (2 of 2; not installed; 1 source to download)",
        ]
    );
    assert_eq!(
        planned.warnings,
        [format!("`readme-app` lists %README% in REQUIRES: read `{REPO}/misc/readme-app/README` for optional or extra dependencies")]
    );
}

#[test]
fn d5sum_typo_refuses_that_package_clearly() {
    let fake = Fake::new(&[]);
    let (message, hint) = error_of(plan(
        json!({"name": "typo-sum", "repo": REPO}),
        &mut fake.host(),
    ));
    assert!(
        message.starts_with("cannot build `typo-sum`: `typo-sum.info` lists 1 URL(s) in `DOWNLOAD` but 0 checksum(s) in `MD5SUM`")
            && message.contains("unknown key `D5SUM` (did you mean `MD5SUM`?)"),
        "{message}"
    );
    assert!(hint.contains("desktop/typo-sum/typo-sum.info"), "{hint}");
    // Installed already: its defect does not matter.
    let fake = Fake::new(&["typo-sum-1.4-x86_64-1_SBo"]);
    assert!(
        !plan(json!({"name": "typo-sum", "repo": REPO}), &mut fake.host())
            .expect("plan")
            .is_change()
    );
}

#[test]
fn architecture_picks_the_sources() {
    let fake = Fake::new(&[]);
    let planned = plan(
        json!({"name": "arch-split", "repo": REPO}),
        &mut fake.host(),
    )
    .expect("plan");
    assert!(scripts(&planned)[0].contains("https://example.org/arch-split-5-x86_64.tar.gz"));
    let planned = plan(
        json!({"name": "arch-split", "repo": REPO, "arch": "i586"}),
        &mut fake.host(),
    )
    .expect("plan");
    assert!(scripts(&planned)[0].contains("https://example.org/arch-split-5-i586.tar.gz"));
    let (message, _) = error_of(plan(
        json!({"name": "x86-only", "repo": REPO, "arch": "i586"}),
        &mut fake.host(),
    ));
    assert!(message.contains("builds only on x86_64"), "{message}");
}

#[test]
fn repo_src_is_read_on_the_controller_and_uploaded() {
    let fake = Fake::new(&[]);
    let mut host = fake.host();
    let planned = plan(
        json!({"name": "hello-converge", "repo": "/var/lib/sbo", "repo_src": REPO, "sources": SOURCES}),
        &mut host,
    )
    .expect("plan");
    assert!(
        !host.commands_run[0].contains("@@converge-info"),
        "the host only lists its packages"
    );
    let uploads = writes(&planned);
    let expected = [
        ("/var/lib/sbo/misc/hello-greeting/README", 0o644),
        (
            "/var/lib/sbo/misc/hello-greeting/hello-greeting.SlackBuild",
            0o755,
        ),
        (
            "/var/lib/sbo/misc/hello-greeting/hello-greeting.info",
            0o644,
        ),
        ("/var/lib/sbo/misc/hello-greeting/slack-desc", 0o644),
        (
            "/var/lib/sbo/misc/hello-greeting/hello-greeting-1.0.txt",
            0o644,
        ),
        ("/var/lib/sbo/misc/hello-converge/README", 0o644),
        (
            "/var/lib/sbo/misc/hello-converge/hello-converge.SlackBuild",
            0o755,
        ),
        (
            "/var/lib/sbo/misc/hello-converge/hello-converge.info",
            0o644,
        ),
        ("/var/lib/sbo/misc/hello-converge/slack-desc", 0o644),
        (
            "/var/lib/sbo/misc/hello-converge/hello-converge-1.0.sh",
            0o644,
        ),
    ];
    let expected: Vec<(String, Option<u32>)> = expected
        .iter()
        .map(|(p, m)| (p.to_string(), Some(*m)))
        .collect();
    assert_eq!(uploads, expected);
    planned.apply(&mut host).expect("apply");
    assert_eq!(
        host.files["/var/lib/sbo/misc/hello-converge/hello-converge.SlackBuild"].mode,
        0o755
    );
    let again = plan(
        json!({"name": "hello-converge", "repo": "/var/lib/sbo", "repo_src": REPO, "sources": SOURCES}),
        &mut host,
    )
    .expect("again");
    assert!(!again.is_change());
}

#[test]
fn missing_source_file_on_the_controller_is_named() {
    let fake = Fake::new(&[]);
    let (message, _) = error_of(plan(
        json!({"name": "readme-lib", "repo": REPO, "sources": SOURCES}),
        &mut fake.host(),
    ));
    assert_eq!(
        message,
        format!("source `readme-lib-0.9.tar.gz` of `readme-lib` is not in `sources` (looked for `{SOURCES}/readme-lib/readme-lib-0.9.tar.gz` and `{SOURCES}/readme-lib-0.9.tar.gz`)")
    );
}

#[test]
fn resolve_deps_off_builds_only_what_is_named_and_warns() {
    let fake = Fake::new(&[]);
    let planned = plan(
        json!({"name": "hello-converge", "repo": REPO, "resolve_deps": false}),
        &mut fake.host(),
    )
    .expect("plan");
    assert_eq!(planned.changes.len(), 1);
    assert_eq!(
        planned.warnings,
        ["`hello-converge` requires `hello-greeting`, which is not installed (`resolve_deps` is off)"]
    );
}

#[test]
fn absent_removes_installed_and_is_idempotent() {
    let fake = Fake::new(&[
        "hello-converge-1.0-noarch-1_SBo",
        "hello-greeting-1.0-noarch-1_SBo",
    ]);
    let mut host = fake.host();
    let args = json!({"name": "hello-converge", "state": "absent"});
    let planned = plan(args.clone(), &mut host).expect("plan");
    assert_eq!(
        planned.steps,
        [Step::Run {
            command: Command::argv(["removepkg", "hello-converge-1.0-noarch-1_SBo"]),
            allow_failure: false,
        }]
    );
    assert_eq!(
        planned.changes[0].detail,
        ChangeDetail::Value {
            before: Some("1.0".into()),
            after: None
        }
    );
    planned.apply(&mut host).expect("apply");
    assert_eq!(fake.entries(), ["hello-greeting-1.0-noarch-1_SBo"]);
    assert!(!plan(args, &mut host).expect("again").is_change());
}

#[test]
fn arguments_are_checked() {
    let fake = Fake::new(&[]);
    for (args, expected) in [
        (
            json!({"name": "x", "env": {"OUTPUT": "/tmp"}}),
            "`OUTPUT` is set by module `slackbuild`",
        ),
        (
            json!({"name": "x", "colour": "red"}),
            "unknown argument `colour`",
        ),
        (
            json!({"name": ["a", "b"], "version": "1"}),
            "`version` pins one package",
        ),
        (json!({"name": "a;rm -rf /"}), "is not a SlackBuild name"),
        (
            json!({"name": "x", "sources": "relative/dir"}),
            "must be an absolute path on the controller",
        ),
        (
            json!({"name": "x", "state": "gone"}),
            "unknown variant `gone`",
        ),
    ] {
        let (message, _) = error_of(plan(args.clone(), &mut fake.host()));
        assert!(message.contains(expected), "{args}: {message}");
    }
}

#[test]
fn without_pkgtools_nothing_is_planned_to_build() {
    let mut fake = Fake::new(&[]);
    fake.path = "/usr/bin:/bin".into();
    let (message, hint) = error_of(plan(
        json!({"name": "hello-greeting", "repo": REPO}),
        &mut fake.host(),
    ));
    assert_eq!(
        message,
        "`upgradepkg` is not on the host's PATH, so no package can be installed"
    );
    assert!(hint.contains("pkgtools"), "{hint}");
}

#[test]
fn a_source_url_that_does_not_answer_is_refused_before_anything_is_built() {
    let fake = Fake::new(&["hello-greeting-1.0-noarch-1_SBo"]);
    let mut host = fake.host_probed(
        "@@dead hello-converge https://example.org/hello-converge/hello-converge-1.0.sh Remote file does not exist -- broken link!!!\n",
    );
    let error =
        plan(json!({"name": "hello-converge", "repo": REPO}), &mut host).expect_err("dead URL");
    assert_eq!(
        error.to_string(),
        "hello-converge: source URL https://example.org/hello-converge/hello-converge-1.0.sh does not answer (Remote file does not exist -- broken link!!!); not building"
    );
    assert!(fake.ran.lock().expect("lock").is_empty(), "no step ran");
}

#[test]
fn sources_already_on_the_host_are_checked_and_a_wrong_copy_is_fetched_again() {
    let dir = format!("{REPO}/misc/hello-converge");
    let fake = Fake::new(&["hello-greeting-1.0-noarch-1_SBo"]);
    let mut good = fake.host_probed(&format!(
        "@@cached d3d1980e490928dad523ece85250bfcc hello-converge-1.0.sh {dir}\n"
    ));
    let planned = plan(json!({"name": "hello-converge", "repo": REPO}), &mut good).expect("plan");
    assert_eq!(
        notes(&planned),
        ["hello-converge: build hello-converge 1.0 (1 of 1; not installed; 1 source already on the host (MD5 checked))"]
    );
    let mut stale = fake.host_probed(&format!(
        "@@cached 00000000000000000000000000000000 hello-converge-1.0.sh {dir}\n@@alive hello-converge https://example.org/hello-converge/hello-converge-1.0.sh\n"
    ));
    let planned = plan(json!({"name": "hello-converge", "repo": REPO}), &mut stale).expect("plan");
    assert_eq!(
        notes(&planned),
        ["hello-converge: build hello-converge 1.0 (1 of 1; not installed; 1 source to download)"]
    );
    assert_eq!(
        planned.warnings,
        ["hello-converge: the copy of hello-converge-1.0.sh on the host has MD5 00000000000000000000000000000000, not d3d1980e490928dad523ece85250bfcc: it is downloaded again"]
    );
}

#[test]
fn a_wrong_md5_in_the_controllers_sources_is_refused_while_planning() {
    let sources = tempfile::tempdir().expect("sources");
    std::fs::create_dir_all(sources.path().join("hello-converge")).expect("dir");
    std::fs::write(
        sources.path().join("hello-converge/hello-converge-1.0.sh"),
        "echo Goodbye\n",
    )
    .expect("write");
    let fake = Fake::new(&["hello-greeting-1.0-noarch-1_SBo"]);
    let mut host = fake.host();
    let error = plan(
        json!({"name": "hello-converge", "repo": REPO, "sources": sources.path().to_str()}),
        &mut host,
    )
    .expect_err("md5");
    assert!(
        error.to_string().starts_with(
            "hello-converge: MD5 mismatch for hello-converge-1.0.sh: expected d3d1980e490928dad523ece85250bfcc, found "
        ),
        "{error}"
    );
    assert!(fake.ran.lock().expect("lock").is_empty(), "no step ran");
}

#[test]
fn the_package_is_kept_in_package_dir_and_new_config_files_are_reported() {
    let fake = Fake::new(&["hello-greeting-1.0-noarch-1_SBo"]);
    let mut host = fake.host();
    let planned = plan(
        json!({"name": "hello-converge", "repo": REPO, "package_dir": "/srv/packages"}),
        &mut host,
    )
    .expect("plan");
    let build = planned
        .steps
        .iter()
        .find_map(|step| match step {
            Step::Run { command, .. } => match &command.program {
                Program::Shell(script) if script.starts_with("# build ") => Some(script.clone()),
                _ => None,
            },
            _ => None,
        })
        .expect("a build step");
    assert!(
        build.contains("mv -f \"$1\" /srv/packages/\n")
            && build.contains("upgradepkg --install-new \"$package\"\n"),
        "{build}"
    );
    assert!(
        build.contains("@@converge-warning hello-converge: /$f.new"),
        "{build}"
    );
    assert_eq!(planned.result["package_dir"], json!("/srv/packages"));
}
