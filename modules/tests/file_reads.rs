//! The read-only file modules (`stat`, `find`, `slurp`) over the local connection on a temp
//! directory, and `replace` over the memory host: plans change nothing, results carry
//! Ansible's keys and types, and `replace` applied once is unchanged the second time.

use converge_modules::local::LocalConnection;
use converge_modules::memory_host::MemoryHost;
use converge_modules::{find, ChangeDetail, Context, Facts, Host, ModuleError, Plan};
use serde_json::{json, Map, Value};
use std::os::unix::fs::{symlink, PermissionsExt};

fn plan(module: &str, args: Value, host: &mut dyn Host) -> Result<Plan, ModuleError> {
    let facts = Facts::default();
    let context = Context { facts: &facts };
    find(module)
        .expect("module is registered")
        .plan(&args, host, &context)
}

fn path_in(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_string_lossy().into_owned()
}

fn keys(map: &Map<String, Value>) -> Vec<&str> {
    let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

/// The keys `ansible localhost -m stat` (ansible-core 2.19) returns for a regular file.
const ANSIBLE_STAT_KEYS: &[&str] = &[
    "atime",
    "attr_flags",
    "attributes",
    "block_size",
    "blocks",
    "charset",
    "checksum",
    "ctime",
    "dev",
    "device_type",
    "executable",
    "exists",
    "gid",
    "gr_name",
    "inode",
    "isblk",
    "ischr",
    "isdir",
    "isfifo",
    "isgid",
    "islnk",
    "isreg",
    "issock",
    "isuid",
    "mimetype",
    "mode",
    "mtime",
    "nlink",
    "path",
    "pw_name",
    "readable",
    "rgrp",
    "roth",
    "rusr",
    "size",
    "uid",
    "version",
    "wgrp",
    "woth",
    "writeable",
    "wusr",
    "xgrp",
    "xoth",
    "xusr",
];

#[test]
fn stat_of_a_regular_file_has_ansibles_keys_and_types() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = path_in(&dir, "motd");
    std::fs::write(&file, "hello\n").expect("write");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let mut host = LocalConnection::new("localhost");
    let plan = plan("stat", json!({"path": file}), &mut host).expect("plan");
    assert!(!plan.is_change());
    let stat = plan.result["stat"].as_object().expect("stat is a dict");
    assert_eq!(keys(stat), ANSIBLE_STAT_KEYS);
    assert_eq!(stat["exists"], json!(true));
    assert_eq!(stat["path"], json!(file));
    assert_eq!(stat["mode"], json!("0640"));
    assert_eq!(stat["isreg"], json!(true));
    assert_eq!(stat["isdir"], json!(false));
    assert_eq!(stat["size"], json!(6));
    assert_eq!(stat["rgrp"], json!(true));
    assert_eq!(stat["roth"], json!(false));
    // sha1("hello\n")
    assert_eq!(
        stat["checksum"],
        json!("f572d396fae9206628714fb2ce00f72e94f2258f")
    );
    assert!(stat["mtime"].is_f64());
    assert!(stat["inode"].is_u64());
    assert!(stat["uid"].is_u64());
    assert!(stat["attributes"].is_array());
    let metadata = std::fs::metadata(&file).expect("metadata");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(stat["inode"], json!(metadata.ino()));
    assert_eq!(stat["uid"], json!(metadata.uid()));
    let mtime = stat["mtime"].as_f64().expect("float");
    assert!((mtime - metadata.mtime() as f64).abs() < 1.0);
}

#[test]
fn stat_of_a_link_a_directory_and_a_missing_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = path_in(&dir, "target");
    let link = path_in(&dir, "link");
    std::fs::write(&file, "x").expect("write");
    symlink("target", &link).expect("symlink");
    let mut host = LocalConnection::new("localhost");

    let plan_link = plan("stat", json!({"path": link}), &mut host).expect("plan");
    let stat = &plan_link.result["stat"];
    assert_eq!(stat["islnk"], json!(true));
    assert_eq!(stat["isreg"], json!(false));
    assert_eq!(stat["lnk_target"], json!("target"));
    let canonical = std::fs::canonicalize(&file).expect("canonical");
    assert_eq!(stat["lnk_source"], json!(canonical.to_string_lossy()));
    assert_eq!(stat.get("checksum"), None, "a link has no checksum");

    let followed = plan(
        "stat",
        json!({"path": link, "follow": true, "checksum_algorithm": "sha256", "get_mime": false}),
        &mut host,
    )
    .expect("plan");
    let stat = &followed.result["stat"];
    assert_eq!(stat["isreg"], json!(true));
    assert_eq!(stat.get("lnk_target"), None);
    // sha256("x")
    assert_eq!(
        stat["checksum"],
        json!("2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881")
    );
    assert_eq!(stat.get("mimetype"), None, "get_mime: no");

    let directory = plan(
        "stat",
        json!({"path": dir.path(), "get_attributes": false}),
        &mut host,
    )
    .expect("plan");
    let stat = &directory.result["stat"];
    assert_eq!(stat["isdir"], json!(true));
    assert_eq!(stat.get("checksum"), None);
    assert_eq!(stat.get("attributes"), None, "get_attributes: no");

    let missing = plan("stat", json!({"path": path_in(&dir, "nope")}), &mut host).expect("plan");
    assert_eq!(missing.result["stat"], json!({"exists": false}));
    assert!(!missing.is_change());
}

#[test]
fn stat_paths_with_quotes_and_spaces_reach_the_host_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = path_in(&dir, "it's a $(file)");
    std::fs::write(&file, "").expect("write");
    let mut host = LocalConnection::new("localhost");
    let plan = plan("stat", json!({"path": file}), &mut host).expect("plan");
    assert_eq!(plan.result["stat"]["exists"], json!(true));
    assert_eq!(plan.result["stat"]["path"], json!(file));
}

fn failure(result: Result<Plan, ModuleError>) -> String {
    match result {
        Err(error) => error.to_string(),
        Ok(plan) => panic!("expected a failure, got {plan:?}"),
    }
}

#[test]
fn slurp_returns_base64_content_source_and_encoding() {
    let mut host = MemoryHost::new()
        .with_file("/etc/machine-id", "0123abcd\n")
        .with_file("/bin/blob", vec![0u8, 0xff, 0x10])
        .with_symlink("/etc/id-link", "/etc/machine-id")
        .with_directory("/srv");
    let plan_text = plan("slurp", json!({"src": "/etc/machine-id"}), &mut host).expect("plan");
    assert!(!plan_text.is_change());
    assert_eq!(
        Value::Object(plan_text.result),
        json!({"content": "MDEyM2FiY2QK", "source": "/etc/machine-id", "encoding": "base64"})
    );
    let binary = plan(
        "ansible.builtin.slurp",
        json!({"path": "/bin/blob"}),
        &mut host,
    )
    .expect("plan");
    assert_eq!(binary.result["content"], json!("AP8Q"));
    assert_eq!(
        failure(plan("slurp", json!({"src": "/nope"}), &mut host)),
        "File not found: /nope"
    );
    assert_eq!(
        failure(plan("slurp", json!({"src": "/srv"}), &mut host)),
        "Source is a directory and must be a file: /srv"
    );
    assert!(host.commands_run.is_empty(), "slurp runs no command");
}

#[test]
fn slurp_over_the_local_connection_follows_links() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = path_in(&dir, "data");
    std::fs::write(&file, "hi").expect("write");
    symlink("data", path_in(&dir, "link")).expect("symlink");
    let mut host = LocalConnection::new("localhost");
    let plan = plan("slurp", json!({"src": path_in(&dir, "link")}), &mut host).expect("plan");
    assert_eq!(plan.result["content"], json!("aGk="));
}
