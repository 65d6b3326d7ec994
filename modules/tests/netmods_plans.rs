//! `get_url`, `uri`, `unarchive`: plans against a memory host (the probe's answers given),
//! then the real scripts on this machine against a `python3 -m http.server` bound to
//! 127.0.0.1, writing only into a temp dir.

use converge_modules::local::LocalConnection;
use converge_modules::memory_host::MemoryHost;
use converge_modules::{find, Command, Context, Facts, ModuleError, Output, Program};
use serde_json::{json, Value};
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

const HELLO_SHA256: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

fn script_name(command: &Command) -> Option<String> {
    match &command.program {
        Program::Argv(argv) if argv.len() > 3 && argv[0] == "sh" => Some(argv[3].clone()),
        _ => None,
    }
}

fn ok(stdout: &str) -> Output {
    Output {
        status: 0,
        stdout: stdout.as_bytes().to_vec(),
        stderr: Vec::new(),
    }
}

fn plan(
    module: &str,
    args: Value,
    host: &mut dyn converge_modules::Host,
) -> Result<converge_modules::Plan, ModuleError> {
    let facts = Facts::default();
    find(module)
        .expect("module registered")
        .plan(&args, host, &Context { facts: &facts })
}

fn probe_host(stdout: &'static str) -> MemoryHost {
    MemoryHost::new().respond(move |command| {
        (script_name(command).as_deref() == Some("converge-get_url-probe")).then(|| ok(stdout))
    })
}

#[test]
fn get_url_with_a_matching_checksum_is_no_change() {
    let mut host = probe_host(
        "tool=curl\npath=/srv/f\nkind=file\ndigest=5891B5B522D5DF086D0FF0B110FBD9D21BB4FC7163AF34D08286A2E846F6BE03\nparent=yes\n",
    );
    let plan = plan(
        "get_url",
        json!({"url": "http://h/f", "dest": "/srv/f", "checksum": format!("sha256:{HELLO_SHA256}")}),
        &mut host,
    )
    .unwrap();
    assert!(!plan.is_change());
    assert_eq!(plan.result["msg"], json!("file already exists"));
}

#[test]
fn get_url_with_a_different_checksum_downloads_with_secrets_on_stdin() {
    let mut host = probe_host("tool=curl\npath=/srv/f\nkind=file\ndigest=00\nparent=yes\n");
    let plan = plan(
        "ansible.builtin.get_url",
        json!({"url": "http://h/f", "dest": "/srv/f", "checksum": format!("sha256:{HELLO_SHA256}"),
               "url_username": "admin", "url_password": "s3cret"}),
        &mut host,
    )
    .unwrap();
    assert!(plan.is_change());
    assert_eq!(plan.steps.len(), 1);
    let converge_modules::Step::Run { command, .. } = &plan.steps[0] else {
        panic!("a download command");
    };
    assert!(!command.to_shell_line().contains("s3cret"));
    let stdin = String::from_utf8(command.stdin.clone().unwrap()).unwrap();
    assert!(stdin.contains("admin:s3cret"));
}

#[test]
fn get_url_without_checksum_keeps_an_existing_file_unless_forced() {
    let stdout = "tool=wget\ndir=yes\npath=/srv/dl/f.tgz\nkind=file\ndigest=ab\nparent=yes\n";
    let args = json!({"url": "http://h/x/f.tgz", "dest": "/srv/dl"});
    let plan_once = plan("get_url", args.clone(), &mut probe_host(stdout)).unwrap();
    assert!(!plan_once.is_change());
    assert_eq!(plan_once.result["dest"], json!("/srv/dl/f.tgz"));
    let mut forced = args;
    forced["force"] = json!("yes");
    assert!(plan("get_url", forced, &mut probe_host(stdout))
        .unwrap()
        .is_change());
}

#[test]
fn get_url_refuses_a_checksum_url_and_a_missing_directory() {
    let error = find("get_url")
        .unwrap()
        .validate(
            &json!({"url": "http://h/f", "dest": "/srv/f", "checksum": "sha256:http://h/SUMS"}),
        )
        .unwrap_err();
    assert!(error.message.contains("not supported"), "{}", error.message);
    let error = plan(
        "get_url",
        json!({"url": "http://h/f", "dest": "/nope/f"}),
        &mut probe_host("tool=curl\npath=/nope/f\nkind=missing\nparent=no\n"),
    )
    .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("destination /nope does not exist"),
        "{error}"
    );
}

#[test]
fn uri_post_is_a_step_unknowable_in_check_mode_and_creates_skips() {
    let mut host = MemoryHost::new();
    let plan_post = plan(
        "uri",
        json!({"url": "http://h/api", "method": "POST", "body_format": "json", "body": {"a": 1}}),
        &mut host,
    )
    .unwrap();
    assert!(plan_post.is_change());
    assert!(plan_post.unknowable_in_check_mode);
    assert!(
        host.commands_run.is_empty(),
        "planning a POST sends nothing"
    );

    let mut host = MemoryHost::new().with_file("/srv/done", "");
    let skipped = plan(
        "uri",
        json!({"url": "http://h/api", "method": "POST", "creates": "/srv/done"}),
        &mut host,
    )
    .unwrap();
    assert!(!skipped.is_change());
    assert_eq!(
        skipped.result["stdout"],
        json!("skipped, since '/srv/done' exists")
    );
}

#[test]
fn uri_get_is_read_while_planning() {
    let body = base64_of(b"{\"ok\": true}");
    let response = format!(
        "{{\"status\": 200, \"url\": \"http://h/x\", \"msg\": \"OK\", \"headers\": [[\"Content-Type\", \"application/json\"]], \"body\": \"{body}\", \"elapsed\": 0}}"
    );
    let mut host = MemoryHost::new().respond(move |command| {
        (script_name(command).as_deref() == Some("converge-uri")).then(|| ok(&response))
    });
    let plan = plan("uri", json!({"url": "http://h/x"}), &mut host).unwrap();
    assert!(!plan.is_change());
    assert_eq!(plan.result["json"], json!({"ok": true}));
    assert_eq!(plan.result["content_type"], json!("application/json"));
    assert_eq!(plan.result["status"], json!(200));
}

fn base64_of(bytes: &[u8]) -> String {
    use std::process::Command as Process;
    let mut child = Process::new("base64")
        .arg("-w0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("base64");
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
}

#[test]
fn unarchive_from_the_controller_is_refused() {
    let error = find("unarchive")
        .unwrap()
        .validate(&json!({"src": "files/a.tgz", "dest": "/srv"}))
        .unwrap_err();
    assert!(error.message.contains("not built"), "{}", error.message);
}

#[test]
fn unarchive_is_no_change_when_every_member_is_there_with_its_size() {
    let read = "format=tar\n--- names\n./\n./a.txt\n--- list\ndrwxr-xr-x root/root 0 2026-12-07 01:56 ./\n-rw-r--r-- root/root 3 2026-12-07 01:56 ./a.txt\n--- stat\nd 4096 755 root root\nf 3 644 root root\n";
    let respond = |stdout: String| {
        MemoryHost::new().respond(move |command| {
            (script_name(command).as_deref() == Some("converge-unarchive-read"))
                .then(|| ok(&stdout))
        })
    };
    let args =
        json!({"src": "/srv/a.tgz", "dest": "/srv/x", "remote_src": true, "list_files": true});
    let same = plan("unarchive", args.clone(), &mut respond(read.to_string())).unwrap();
    assert!(!same.is_change());
    assert_eq!(same.result["files"], json!(["./", "./a.txt"]));
    let resized = read.replace("f 3 644", "f 9 644");
    assert!(plan("unarchive", args.clone(), &mut respond(resized))
        .unwrap()
        .is_change());
    let missing = read.replace("f 3 644 root root", "M");
    assert!(plan("unarchive", args.clone(), &mut respond(missing))
        .unwrap()
        .is_change());
    let mut with_mode = args;
    with_mode["mode"] = json!("0600");
    assert!(plan("unarchive", with_mode, &mut respond(read.to_string()))
        .unwrap()
        .is_change());
}

// ---- real scripts on this machine, against a server on 127.0.0.1 ----

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(root: &Path) -> Server {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = std::process::Command::new("timeout")
        .args(["120", "python3", "-m", "http.server", "--bind", "127.0.0.1"])
        .arg(port.to_string())
        .arg("--directory")
        .arg(root)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 -m http.server");
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, port }
}

#[test]
fn local_get_url_uri_unarchive_against_a_loopback_server() {
    let www = tempfile::tempdir().unwrap();
    std::fs::write(www.path().join("hello.txt"), "hello\n").unwrap();
    std::fs::write(
        www.path().join("doc.json"),
        "{\"name\": \"converge\", \"n\": [1, 2]}",
    )
    .unwrap();
    let content = tempfile::tempdir().unwrap();
    std::fs::create_dir(content.path().join("d")).unwrap();
    std::fs::write(content.path().join("d/a.txt"), "abc").unwrap();
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(www.path().join("bundle.tar.gz"))
        .arg("-C")
        .arg(content.path())
        .arg("d")
        .status()
        .unwrap();
    assert!(status.success());
    let server = serve(www.path());
    let base = format!("http://127.0.0.1:{}", server.port);
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("hello.txt").display().to_string();
    let mut host = LocalConnection::new("localhost");

    // get_url with the right checksum: a change, then none.
    let args = json!({"url": format!("{base}/hello.txt"), "dest": dest, "checksum": format!("sha256:{HELLO_SHA256}"), "mode": "0640"});
    let first = plan("get_url", args.clone(), &mut host).unwrap();
    assert!(first.is_change());
    let applied = first.apply(&mut host).unwrap();
    let result = converge_modules::get_url::download_result(
        &first.result,
        applied["stdout"].as_str().unwrap(),
    );
    assert_eq!(result["status_code"], json!(200));
    assert_eq!(result["size"], json!(6));
    assert_eq!(std::fs::read_to_string(&dest).unwrap(), "hello\n");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o7777,
        0o640
    );
    assert!(!plan("get_url", args, &mut host).unwrap().is_change());

    // A wrong checksum fails and leaves no file (no temp file either).
    let bad = out.path().join("bad.txt").display().to_string();
    let args = json!({"url": format!("{base}/hello.txt"), "dest": bad, "checksum": format!("sha256:{}", "0".repeat(64))});
    let error = plan("get_url", args, &mut host)
        .unwrap()
        .apply(&mut host)
        .unwrap_err();
    assert!(error.to_string().contains("did not match"), "{error}");
    let left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("hello.txt")]);

    // uri GET returns the JSON, no change; a 404 fails with Ansible's message.
    let got = plan(
        "uri",
        json!({"url": format!("{base}/doc.json"), "return_content": true}),
        &mut host,
    )
    .unwrap();
    assert!(!got.is_change());
    assert_eq!(got.result["json"], json!({"name": "converge", "n": [1, 2]}));
    assert_eq!(got.result["status"], json!(200));
    assert!(got.result.contains_key("content_length"));
    let missing = plan("uri", json!({"url": format!("{base}/nope")}), &mut host).unwrap_err();
    assert!(
        missing
            .to_string()
            .contains("Status code was 404 and not [200]"),
        "{missing}"
    );

    // unarchive: extracts, then no change.
    let into = out.path().join("x");
    std::fs::create_dir(&into).unwrap();
    let archive = out.path().join("bundle.tar.gz");
    let fetched = plan(
        "get_url",
        json!({"url": format!("{base}/bundle.tar.gz"), "dest": archive}),
        &mut host,
    )
    .unwrap();
    fetched.apply(&mut host).unwrap();
    let args = json!({"src": archive, "dest": into, "remote_src": true});
    let first = plan("unarchive", args.clone(), &mut host).unwrap();
    assert!(first.is_change());
    first.apply(&mut host).unwrap();
    assert_eq!(
        std::fs::read_to_string(into.join("d/a.txt")).unwrap(),
        "abc"
    );
    assert!(!plan("unarchive", args, &mut host).unwrap().is_change());
    drop(server);
}
