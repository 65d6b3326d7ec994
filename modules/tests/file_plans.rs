//! `file` plans that a data case cannot express: a host listing for `recurse` with a
//! symbolic mode.

use converge_modules::memory_host::MemoryHost;
use converge_modules::{find, Context, Facts, Output, Program, Step};
use serde_json::json;

/// `recurse` with `a+X`: each entry's mode is resolved against its own bits (X for
/// directories and for files with an x bit), and only entries that change get a chmod.
#[test]
fn recursive_symbolic_mode_resolves_per_entry() {
    let listing = [
        "644 f /srv/share/readme",
        "744 f /srv/share/run.sh",
        "700 d /srv/share/sub",
        "755 d /srv/share/open",
    ]
    .map(|record| format!("{record}\0"))
    .concat();
    let mut host = MemoryHost::new()
        .with_directory("/srv/share")
        .respond(move |command| {
            let Program::Argv(argv) = &command.program else {
                return None;
            };
            (argv.first().map(String::as_str) == Some("find")
                && argv.iter().any(|a| a == "-printf"))
            .then(|| Output {
                status: 0,
                stdout: listing.as_bytes().to_vec(),
                stderr: Vec::new(),
            })
        });
    let host = &mut host;
    host.files.get_mut("/srv/share").unwrap().mode = 0o755;
    let facts = Facts::default();
    let plan = find("file")
        .unwrap()
        .plan(
            &json!({"path": "/srv/share", "state": "directory", "mode": "a+X", "recurse": true}),
            host,
            &Context { facts: &facts },
        )
        .unwrap();
    let commands: Vec<String> = plan
        .steps
        .iter()
        .map(|step| match step {
            Step::Run { command, .. } => command.to_shell_line(),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        commands,
        vec![
            "chmod 0755 /srv/share/run.sh".to_string(),
            "chmod 0711 /srv/share/sub".to_string(),
        ]
    );
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].subject, "/srv/share mode (recursive)");
}
