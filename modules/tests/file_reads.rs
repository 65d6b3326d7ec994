//! The read-only file modules (`stat`, `find`, `slurp`) over the local connection on a temp
//! directory, and `replace` over the memory host: plans change nothing, results carry
//! Ansible's keys and types, and `replace` applied once is unchanged the second time.

use converge_modules::local::LocalConnection;
use converge_modules::memory_host::MemoryHost;
use converge_modules::{find, Context, Facts, Host, ModuleError, Plan};
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

/// The keys `ansible localhost -m find -a 'get_checksum=true'` (ansible-core 2.19) gives a file.
const ANSIBLE_FIND_FILE_KEYS: &[&str] = &[
    "atime", "checksum", "ctime", "dev", "gid", "gr_name", "inode", "isblk", "ischr", "isdir",
    "isfifo", "isgid", "islnk", "isreg", "issock", "isuid", "mode", "mtime", "nlink", "path",
    "pw_name", "rgrp", "roth", "rusr", "size", "uid", "wgrp", "woth", "wusr", "xgrp", "xoth",
    "xusr",
];

/// A tree like the one Ansible's behaviour was checked on:
/// `a.txt`, `big.log` (2 KiB), `.hidden.txt`, `sub/conf.txt` ("Listen 80"), `sub/deep/z.txt`,
/// `.git/config`, a link `lnk -> sub`, a link `fl -> a.txt`.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("sub/deep")).expect("mkdir");
    std::fs::create_dir_all(root.join(".git")).expect("mkdir");
    std::fs::write(root.join("a.txt"), "hello\n").expect("write");
    std::fs::write(root.join("big.log"), vec![b'x'; 2048]).expect("write");
    std::fs::write(root.join(".hidden.txt"), "").expect("write");
    std::fs::write(root.join("sub/conf.txt"), "# web\nListen 80\n").expect("write");
    std::fs::write(root.join("sub/deep/z.txt"), "z\n").expect("write");
    std::fs::write(root.join(".git/config"), "[core]\n").expect("write");
    symlink("sub", root.join("lnk")).expect("symlink");
    symlink("a.txt", root.join("fl")).expect("symlink");
    dir
}

fn found(dir: &tempfile::TempDir, args: Value) -> (Vec<String>, Map<String, Value>) {
    let mut full = json!({"paths": dir.path()});
    if let (Some(map), Some(extra)) = (full.as_object_mut(), args.as_object()) {
        map.extend(extra.clone());
    }
    let mut host = LocalConnection::new("localhost");
    let plan = plan("find", full, &mut host).expect("plan");
    assert!(!plan.is_change(), "find never changes anything");
    let prefix = format!("{}/", dir.path().display());
    let mut paths: Vec<String> = plan.result["files"]
        .as_array()
        .expect("files is a list")
        .iter()
        .map(|file| {
            let path = file["path"].as_str().expect("path");
            path.strip_prefix(&prefix).unwrap_or(path).to_string()
        })
        .collect();
    // Order within a directory is the host's readdir order (as in Ansible): compare sorted.
    paths.sort();
    (paths, plan.result)
}

#[test]
fn find_returns_ansibles_keys_and_counts() {
    let dir = tree();
    let (paths, result) = found(&dir, json!({"get_checksum": true}));
    assert_eq!(paths, ["a.txt", "big.log"]);
    assert_eq!(
        keys(&result),
        ["examined", "files", "matched", "msg", "skipped_paths"]
    );
    assert_eq!(result["matched"], json!(2));
    // a.txt, big.log, .hidden.txt, fl, sub, .git, lnk
    assert_eq!(result["examined"], json!(7));
    assert_eq!(result["msg"], json!("All paths examined"));
    assert_eq!(result["skipped_paths"], json!({}));
    let files = result["files"].as_array().expect("list");
    let a = files
        .iter()
        .find(|f| f["path"].as_str().is_some_and(|p| p.ends_with("/a.txt")))
        .and_then(Value::as_object)
        .expect("a.txt");
    assert_eq!(keys(a), ANSIBLE_FIND_FILE_KEYS);
    assert_eq!(
        a["checksum"],
        json!("f572d396fae9206628714fb2ce00f72e94f2258f")
    );
    assert_eq!(a["size"], json!(6));
    assert_eq!(a["isreg"], json!(true));
    assert!(a["mtime"].is_f64());
}

#[test]
fn find_recurse_hidden_depth_and_types() {
    let dir = tree();
    let (paths, _) = found(&dir, json!({"recurse": true}));
    // Hidden names are skipped, but Ansible still descends into hidden directories
    // (`.git/config` is found).
    assert_eq!(
        paths,
        [
            ".git/config",
            "a.txt",
            "big.log",
            "sub/conf.txt",
            "sub/deep/z.txt"
        ]
    );
    let (paths, _) = found(&dir, json!({"recurse": true, "hidden": true}));
    assert_eq!(
        paths,
        [
            ".git/config",
            ".hidden.txt",
            "a.txt",
            "big.log",
            "sub/conf.txt",
            "sub/deep/z.txt"
        ]
    );
    let (paths, result) = found(
        &dir,
        json!({"recurse": true, "depth": 2, "file_type": "any"}),
    );
    assert_eq!(
        paths,
        [
            ".git/config",
            "a.txt",
            "big.log",
            "fl",
            "lnk",
            "sub",
            "sub/conf.txt",
            "sub/deep"
        ]
    );
    // Entries one level below `depth` are examined, as `os.walk` lists them: 7 at the top,
    // 2 in `sub`, 1 in `.git`, and `sub/deep/z.txt` (ansible-core 2.19 says 11 too).
    assert_eq!(result["examined"], json!(11));
    let (paths, _) = found(&dir, json!({"recurse": true, "file_type": "directory"}));
    assert_eq!(paths, ["sub", "sub/deep"]);
    let (paths, result) = found(&dir, json!({"file_type": "link"}));
    assert_eq!(paths, ["fl", "lnk"]);
    assert_eq!(result["files"][0]["islnk"], json!(true));
    assert_eq!(result["files"][0]["mode"], json!("0777"));
    // With `follow` the link to `sub` is walked into; links are still described as links.
    let (paths, _) = found(
        &dir,
        json!({"recurse": true, "follow": true, "patterns": "*.txt"}),
    );
    assert_eq!(
        paths,
        [
            "a.txt",
            "lnk/conf.txt",
            "lnk/deep/z.txt",
            "sub/conf.txt",
            "sub/deep/z.txt"
        ]
    );
}

#[test]
fn find_patterns_excludes_regexes_size_age_contains_and_limit() {
    let dir = tree();
    let (paths, _) = found(
        &dir,
        json!({"recurse": true, "patterns": ["*.txt", "*.log"], "excludes": "z*"}),
    );
    assert_eq!(paths, ["a.txt", "big.log", "sub/conf.txt"]);
    let (paths, _) = found(
        &dir,
        json!({"recurse": true, "use_regex": true, "patterns": r"^(a|z)\.txt$"}),
    );
    assert_eq!(paths, ["a.txt", "sub/deep/z.txt"]);
    let (paths, _) = found(&dir, json!({"size": "1k"}));
    assert_eq!(paths, ["big.log"]);
    let (paths, _) = found(&dir, json!({"size": "-1k"}));
    assert_eq!(paths, ["a.txt"]);
    let (paths, _) = found(&dir, json!({"age": "1d"}));
    assert!(paths.is_empty(), "everything is new");
    let (paths, _) = found(&dir, json!({"age": "-1d"}));
    assert_eq!(paths, ["a.txt", "big.log"]);
    let (paths, _) = found(&dir, json!({"recurse": true, "contains": r"Listen\s+\d+"}));
    assert_eq!(paths, ["sub/conf.txt"]);
    let (paths, _) = found(
        &dir,
        json!({"recurse": true, "contains": "web.Listen", "read_whole_file": true}),
    );
    assert!(paths.is_empty(), "`.` does not match a newline");
    let (paths, _) = found(
        &dir,
        json!({"recurse": true, "contains": "(?s)web.Listen", "read_whole_file": true}),
    );
    assert_eq!(paths, ["sub/conf.txt"]);
    let (paths, result) = found(&dir, json!({"recurse": true, "limit": 1}));
    assert_eq!(paths.len(), 1);
    assert_eq!(result["msg"], json!("Limit of matches reached"));
    let (paths, _) = found(&dir, json!({"mode": "0644", "patterns": "*.txt"}));
    assert_eq!(paths, ["a.txt"]);
}

#[test]
fn find_skips_paths_that_are_not_directories_with_a_warning() {
    let dir = tree();
    let file = path_in(&dir, "a.txt");
    let mut host = LocalConnection::new("localhost");
    let result = plan(
        "find",
        json!({"paths": [file, path_in(&dir, "nope")], "file_type": "any"}),
        &mut host,
    )
    .expect("plan");
    assert_eq!(result.result["matched"], json!(0));
    assert_eq!(
        result.result["msg"],
        json!("Not all paths examined, check warnings for details")
    );
    assert_eq!(
        result.result["skipped_paths"][&file],
        json!(format!("'{file}' is not a directory"))
    );
    assert_eq!(result.warnings.len(), 2);
}

#[test]
fn find_argument_errors() {
    let module = find("find").expect("registered");
    let error = module
        .validate(&json!({"paths": "/tmp", "age": "2y"}))
        .unwrap_err();
    assert_eq!(error.message, "failed to process age `2y`");
    let error = module
        .validate(&json!({"paths": "/tmp", "patterns": "(", "use_regex": true}))
        .unwrap_err();
    assert_eq!(error.argument.as_deref(), Some("patterns"));
    let error = module
        .validate(&json!({"paths": "/tmp", "file_type": "socket"}))
        .unwrap_err();
    assert!(error.message.contains("file_type"), "{}", error.message);
    assert!(module
        .validate(&json!({"path": "/tmp", "age": 3600}))
        .is_ok());
}

#[test]
fn hostile_names_reach_find_stat_and_replace_as_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let canary = path_in(&dir, "pwned");
    let hostile = format!("a'b\"c; touch {canary} $(touch {canary}) `touch {canary}`");
    let sub = path_in(&dir, &hostile.replace('/', "_"));
    std::fs::create_dir(&sub).expect("mkdir");
    let file = format!("{sub}/-n x\n'y");
    std::fs::write(&file, "Listen 80\n").expect("write");
    let mut host = LocalConnection::new("localhost");
    let result = plan(
        "find",
        json!({"paths": [&sub], "contains": "Listen", "get_checksum": true, "patterns": ["-n*"]}),
        &mut host,
    )
    .expect("plan");
    assert_eq!(result.result["matched"], json!(1));
    assert_eq!(result.result["files"][0]["path"], json!(file));
    assert!(result.result["files"][0]["checksum"].is_string());
    let stat = plan("stat", json!({"path": &file}), &mut host).expect("plan");
    assert_eq!(stat.result["stat"]["isreg"], json!(true));
    let replaced = plan(
        "replace",
        json!({"path": &file, "regexp": "80", "replace": "$(touch /tmp/x)", "validate": "test -f %s"}),
        &mut host,
    )
    .expect("plan");
    replaced.apply(&mut host).expect("apply");
    assert_eq!(
        std::fs::read_to_string(&file).expect("read"),
        "Listen $(touch /tmp/x)\n"
    );
    assert!(
        !std::path::Path::new(&canary).exists(),
        "a name ran as a command"
    );
}
