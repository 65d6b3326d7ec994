//! The SSH transport against a real OpenSSH server on 127.0.0.1.
//!
//! Each test starts its own `sshd` (Debian's openssh-server) on a free loopback port with a
//! generated host key and client key in a temp dir, and stops it by PID when the test ends.
//! The tests log in as the user running them (root in CI) and touch files only inside temp
//! directories.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use converge::connection::ssh::{HostKeyChecking, SshConnection, SshTarget};
use converge::connection::{Become, BecomeMethod, Connection};
use converge_modules::{Command, FileAttributes, FileKind, Host, HostError, Read, WriteOptions};

const SSHD: &str = "/usr/sbin/sshd";

/// A running sshd; killed (by PID) and reaped on drop.
struct Sshd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
    /// `ssh-ed25519 AAAA…` of the server.
    host_key: String,
    client_key: PathBuf,
    user: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sh(cmd: &str) -> String {
    let out = Process::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn keygen(path: &Path) {
    sh(&format!(
        "ssh-keygen -q -t ed25519 -N '' -C test -f '{}'",
        path.display()
    ));
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn start_sshd() -> Sshd {
    assert!(
        Path::new(SSHD).exists(),
        "{SSHD} is missing: apt-get install -y openssh-server"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    keygen(&d.join("host_key"));
    keygen(&d.join("client_key"));
    std::fs::copy(d.join("client_key.pub"), d.join("authorized_keys")).expect("authorized_keys");
    std::fs::create_dir_all("/run/sshd").expect("/run/sshd");
    let port = free_port();
    let config = d.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile {d}/sshd.pid\n\
             AuthorizedKeysFile {d}/authorized_keys\nUsePAM no\nStrictModes no\n\
             PermitRootLogin prohibit-password\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nMaxStartups 100:30:200\nAllowTcpForwarding yes\n\
             LogLevel VERBOSE\n",
            d = d.display()
        ),
    )
    .expect("sshd_config");
    // A private mount namespace with an empty home over /root keeps the machine's own
    // (possibly slow) root .bashrc out of every command; the user's files stay untouched.
    let home = d.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let child = Process::new("unshare")
        .arg("-m")
        .arg("--propagation")
        .arg("private")
        .arg("sh")
        .arg("-c")
        .arg(format!(
            "mount --bind '{}' \"$HOME\" 2>/dev/null; exec \"$0\" \"$@\"",
            home.display()
        ))
        .arg(SSHD)
        .arg("-D")
        .arg("-f")
        .arg(&config)
        .arg("-E")
        .arg(d.join("sshd.log"))
        .stdin(Stdio::null())
        .spawn()
        .expect("start sshd");
    let host_key = std::fs::read_to_string(d.join("host_key.pub")).expect("host key");
    let host_key = host_key
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let user = sh("id -un").trim().to_string();
    let server = Sshd {
        child,
        port,
        host_key,
        client_key: d.join("client_key"),
        user,
        dir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(server.path("ssh_config"), "").expect("empty ssh config");
    std::fs::write(server.path("known_hosts"), server.known_line()).expect("known_hosts");
    server
}

impl Sshd {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn known_line(&self) -> String {
        format!("[127.0.0.1]:{} {}\n", self.port, self.host_key)
    }

    fn target(&self) -> SshTarget {
        let mut t = SshTarget::new("testhost");
        t.address = "127.0.0.1".into();
        t.port = Some(self.port);
        t.user = Some(self.user.clone());
        t.identity_files = vec![self.client_key.clone()];
        t.known_hosts = Some(self.path("known_hosts"));
        t.ssh_config = Some(self.path("ssh_config"));
        t.connect_timeout = Some(Duration::from_secs(5));
        t
    }

    fn connect(&self) -> SshConnection {
        SshConnection::connect(&self.target()).expect("connect")
    }

    /// A scratch directory for file operations (inside the server's temp dir).
    fn work(&self) -> String {
        let w = self.path("work");
        std::fs::create_dir_all(&w).expect("work dir");
        w.display().to_string()
    }
}

fn unreachable_reason(result: Result<SshConnection, HostError>) -> String {
    match result {
        Err(HostError::Unreachable { reason }) => reason,
        Err(other) => panic!("expected Unreachable, got {other}"),
        Ok(_) => panic!("expected Unreachable, connected"),
    }
}

#[test]
fn run_reports_stdout_stderr_status_and_feeds_stdin() {
    let server = start_sshd();
    let mut c = server.connect();
    let out = c
        .run(&Command::shell("echo out; echo err >&2; exit 3"))
        .expect("run");
    assert_eq!(out.stdout_text(), "out\n");
    assert_eq!(out.stderr_text(), "err\n");
    assert_eq!(out.status, 3);

    let out = c
        .run(&Command::argv(["cat"]).with_stdin(b"line one\nline two".to_vec()))
        .expect("cat");
    assert_eq!(out.stdout_text(), "line one\nline two");
    assert!(out.success());

    // No stdin given: the command sees EOF rather than hanging.
    let out = c.run(&Command::argv(["wc", "-c"])).expect("wc");
    assert_eq!(out.stdout_text().trim(), "0");

    let out = c
        .run(&Command::shell("kill -KILL $$"))
        .expect("killed command");
    assert_eq!(out.status, 128 + 9);
}

#[test]
fn big_stdin_stdout_and_stderr_at_once_do_not_deadlock() {
    let server = start_sshd();
    let mut c = server.connect();
    let input = vec![b'x'; 3 * 1024 * 1024];
    let out = c
        .run(
            &Command::shell("head -c 4000000 /dev/zero >&2; wc -c; head -c 5000000 /dev/zero")
                .with_stdin(input),
        )
        .expect("run");
    assert_eq!(out.stderr.len(), 4_000_000);
    assert!(out.stdout.starts_with(b"3145728\n"));
    assert_eq!(out.stdout.len(), 8 + 5_000_000);
}

#[test]
fn hostile_argument_arrives_as_one_literal_argument() {
    let server = start_sshd();
    let work = server.work();
    let script = format!("{work}/argv.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nprintf '%s\\n' \"$#\"\nfor a; do printf '[%s]\\n' \"$a\"; done\n",
    )
    .expect("script");
    sh(&format!("chmod 755 '{script}'"));
    let hostile =
        format!("it's \"q\"; $(touch {work}/pwned) `touch {work}/pwned2` \nline2 $HOME *");
    let mut c = server.connect();
    let out = c
        .run(&Command::argv([
            script.as_str(),
            hostile.as_str(),
            "-n",
            "",
        ]))
        .expect("run");
    assert_eq!(out.stdout_text(), format!("3\n[{hostile}]\n[-n]\n[]\n"));
    assert!(!Path::new(&format!("{work}/pwned")).exists());
    assert!(!Path::new(&format!("{work}/pwned2")).exists());

    let dir = format!("{work}/a dir; with 'quotes'");
    std::fs::create_dir_all(&dir).expect("dir");
    let mut cmd = Command::shell("printf '%s|%s' \"$GREETING\" \"$PWD\"").with_chdir(dir.clone());
    cmd.env.push(("GREETING".into(), "hello $USER `x`".into()));
    let out = c.run(&cmd).expect("run");
    assert_eq!(out.stdout_text(), format!("hello $USER `x`|{dir}"));
}

/// A module's read (`run_read`) answers exactly as `run` does, its own `sh -c` script
/// running inline as in a fresh shell; it keeps the reads made ahead, which a `run` drops.
#[test]
fn a_read_answers_as_run_does_and_keeps_the_reads_made_ahead() {
    let server = start_sshd();
    let work = server.work();
    let mut c = server.connect();
    let script = Command::argv([
        "sh",
        "-c",
        "printf '%s|%s|%s|%s\\n' \"$#\" \"$1\" \"$2\" \"${n-unset}${c-}\"; echo err >&2; exit 4",
        "converge-test-read",
        "a b",
        "it's",
    ]);
    let ran = c.run(&script).expect("run");
    assert_eq!(ran.stdout_text(), "2|a b|it's|unset\n");
    assert_eq!(c.run_read(&script).expect("read"), ran);
    let missing = Command::argv(["ls", "--", "/converge-no-such-path"]);
    let ran = c.run(&missing).expect("run");
    assert_eq!(ran.status, 2);
    assert_eq!(c.run_read(&missing).expect("read"), ran);
    assert!(c
        .round_trips()
        .commands
        .iter()
        .any(|line| line.contains("# converge-test-read 'a b'")));

    let path = format!("{work}/kept.conf");
    std::fs::write(&path, "old\n").expect("write");
    c.read_ahead(&[Read::File(path.clone()), Read::Stat(path.clone())])
        .expect("read ahead");
    std::fs::write(&path, "new\n").expect("write behind converge's back");
    c.run_read(&Command::argv(["true"])).expect("read");
    assert_eq!(c.read_file(&path).expect("read"), Some(b"old\n".to_vec()));
    c.run(&Command::argv(["true"])).expect("run");
    assert_eq!(c.read_file(&path).expect("read"), Some(b"new\n".to_vec()));
}

#[test]
fn read_tells_absent_from_empty() {
    let server = start_sshd();
    let work = server.work();
    std::fs::write(format!("{work}/empty"), "").expect("empty");
    std::fs::write(format!("{work}/data"), b"\x00\xffbinary\n").expect("data");
    let mut c = server.connect();
    assert_eq!(c.read_file(&format!("{work}/absent")).expect("read"), None);
    assert_eq!(
        c.read_file(&format!("{work}/empty")).expect("read"),
        Some(Vec::new())
    );
    assert_eq!(
        c.read_file(&format!("{work}/data")).expect("read"),
        Some(b"\x00\xffbinary\n".to_vec())
    );
    match c.read_file(&work) {
        Err(HostError::File { operation, .. }) => assert_eq!(operation, "read"),
        other => panic!("reading a directory should fail, got {other:?}"),
    }
}

#[test]
fn stat_of_file_directory_symlink_and_absent() {
    let server = start_sshd();
    let work = server.work();
    std::fs::write(format!("{work}/f"), "12345").expect("f");
    sh(&format!(
        "chmod 640 '{work}/f' && chown nobody:nogroup '{work}/f' && mkdir -m 750 '{work}/d' && ln -s 'target with space' '{work}/l'"
    ));
    let mut c = server.connect();
    let f = c.stat(&format!("{work}/f")).expect("stat").expect("exists");
    assert_eq!(f.kind, FileKind::File);
    assert_eq!(f.mode, 0o640);
    assert_eq!(f.size, 5);
    assert_eq!(f.owner, "nobody");
    assert_eq!(f.group, "nogroup");
    assert_eq!(f.uid, 65534);
    let d = c.stat(&format!("{work}/d")).expect("stat").expect("exists");
    assert_eq!(d.kind, FileKind::Directory);
    assert_eq!(d.mode, 0o750);
    let l = c.stat(&format!("{work}/l")).expect("stat").expect("exists");
    assert_eq!(
        l.kind,
        FileKind::Symlink {
            target: "target with space".into()
        }
    );
    assert_eq!(c.stat(&format!("{work}/absent")).expect("stat"), None);
}

/// Small UTF-8 content travels as a word of the write script, anything else as the
/// request's payload: either way the file holds exactly the bytes given.
#[test]
fn written_content_arrives_byte_exact_in_the_script_or_as_payload() {
    let server = start_sshd();
    let work = server.work();
    let mut c = server.connect();
    let big: Vec<u8> = (0..5000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let contents: Vec<Vec<u8>> = vec![
        b"it's \"q\" $(touch pwned) `x` \\n\\\\ %s %%\n  indented\r\n\tno final newline".to_vec(),
        "grüße, 日本語\n".as_bytes().to_vec(),
        b"".to_vec(),
        b"\n\n".to_vec(),
        b"NUL\x00inside\n".to_vec(),
        b"\xff\xfe not UTF-8\n".to_vec(),
        big,
    ];
    for (n, content) in contents.iter().enumerate() {
        let path = format!("{work}/content-{n}");
        c.write_file(&path, content, &WriteOptions::default())
            .expect("write");
        assert_eq!(&std::fs::read(&path).expect("read back"), content, "{n}");
    }
    assert!(!Path::new(&format!("{work}/pwned")).exists());
    assert!(leftovers(&work).is_empty(), "{:?}", leftovers(&work));
    // The four small UTF-8 contents went in their scripts, the other three as payloads.
    let writes = &c.round_trips().commands[c.round_trips().commands.len() - contents.len()..];
    let payloads: Vec<bool> = writes.iter().map(|w| w.ends_with(" bytes>")).collect();
    assert_eq!(
        payloads,
        [false, false, false, false, true, true, true],
        "{writes:#?}"
    );
}

fn leftovers(dir: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".converge-"))
        .collect()
}

#[test]
fn write_is_atomic_and_keeps_mode_and_owner() {
    use std::os::unix::fs::MetadataExt;
    let server = start_sshd();
    let work = server.work();
    let path = format!("{work}/app.conf");
    std::fs::write(&path, "old\n").expect("old");
    sh(&format!(
        "chmod 640 '{path}' && chown nobody:nogroup '{path}'"
    ));
    let mut c = server.connect();
    let outcome = c
        .write_file(
            &path,
            b"new\n",
            &WriteOptions {
                backup: true,
                ..Default::default()
            },
        )
        .expect("write");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "new\n");
    let meta = std::fs::metadata(&path).expect("meta");
    assert_eq!(meta.mode() & 0o7777, 0o640);
    assert_eq!(meta.uid(), 65534);
    let backup = outcome.backup_file.expect("backup made");
    assert_eq!(std::fs::read_to_string(&backup).expect("backup"), "old\n");
    assert!(leftovers(&work).is_empty());

    // Requested attributes win; a new file gets 0644 less the umask (as the local transport).
    let fresh = format!("{work}/fresh");
    c.write_file(&fresh, b"x", &WriteOptions::default())
        .expect("new file");
    let umask = c
        .run(&Command::shell("umask"))
        .expect("umask")
        .stdout_text();
    let umask = u32::from_str_radix(umask.trim(), 8).expect("octal umask");
    assert_eq!(
        std::fs::metadata(&fresh).expect("meta").mode() & 0o7777,
        0o644 & !umask
    );
    let options = WriteOptions {
        attributes: FileAttributes {
            mode: Some(0o600),
            owner: Some("nobody".into()),
            group: Some("nogroup".into()),
        },
        ..Default::default()
    };
    c.write_file(&fresh, b"y", &options).expect("attributes");
    let meta = std::fs::metadata(&fresh).expect("meta");
    assert_eq!((meta.mode() & 0o7777, meta.uid()), (0o600, 65534));

    // Missing parents: an error naming the directory, or created when asked.
    let deep = format!("{work}/a/b/c.conf");
    match c.write_file(&deep, b"z", &WriteOptions::default()) {
        Err(HostError::File { reason, .. }) => {
            assert!(reason.contains("does not exist"), "{reason}")
        }
        other => panic!("expected a missing-parent error, got {other:?}"),
    }
    let options = WriteOptions {
        create_parents: true,
        ..Default::default()
    };
    c.write_file(&deep, b"z", &options).expect("create parents");
    assert_eq!(std::fs::read_to_string(&deep).expect("read"), "z");
    assert!(leftovers(&work).is_empty());
}

#[test]
fn validator_failure_keeps_the_old_file_and_leaves_no_temp() {
    let server = start_sshd();
    let work = server.work();
    let path = format!("{work}/sudoers");
    std::fs::write(&path, "good old\n").expect("old");
    let mut c = server.connect();
    let options = WriteOptions {
        validate: Some("grep -q good %s || { echo \"rejected $(basename %s)\"; exit 4; }".into()),
        ..Default::default()
    };
    match c.write_file(&path, b"bad new\n", &options) {
        Err(HostError::ValidationFailed {
            status,
            output,
            command,
            ..
        }) => {
            assert!(command.starts_with("grep -q good "), "{command}");
            assert!(command.contains("/.sudoers.converge-"), "{command}");
            assert_eq!(status, 4);
            assert!(
                output.starts_with("rejected .sudoers.converge-"),
                "{output}"
            );
        }
        other => panic!("expected ValidationFailed, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "good old\n");
    assert!(leftovers(&work).is_empty(), "{:?}", leftovers(&work));
    let no_placeholder = WriteOptions {
        validate: Some("true".into()),
        ..Default::default()
    };
    match c.write_file(&path, b"x", &no_placeholder) {
        Err(HostError::File { operation, .. }) => assert_eq!(operation, "validate"),
        other => panic!("a validator without %s must be refused, got {other:?}"),
    }
    c.write_file(&path, b"good new\n", &options)
        .expect("valid content");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "good new\n");
    assert!(leftovers(&work).is_empty());
}

#[test]
fn remove_is_recursive_and_absent_is_ok() {
    let server = start_sshd();
    let work = server.work();
    sh(&format!(
        "mkdir -p '{work}/tree/sub' && touch '{work}/tree/sub/f'"
    ));
    let mut c = server.connect();
    c.remove(&format!("{work}/tree")).expect("remove");
    assert!(!Path::new(&format!("{work}/tree")).exists());
    c.remove(&format!("{work}/tree")).expect("absent is fine");
}

#[test]
fn strict_checking_refuses_an_unknown_host() {
    let server = start_sshd();
    std::fs::write(server.path("known_hosts"), "").expect("empty known_hosts");
    let reason = unreachable_reason(SshConnection::connect(&server.target()));
    assert!(reason.contains("host key for `testhost`"), "{reason}");
    assert!(reason.contains("is not known"), "{reason}");
    assert!(reason.contains("accept-new"), "{reason}");
}

#[test]
fn accept_new_records_the_key_then_strict_passes() {
    let server = start_sshd();
    let known = server.path("known_hosts");
    std::fs::remove_file(&known).expect("no known_hosts");
    let mut target = server.target();
    target.host_key_checking = Some(HostKeyChecking::AcceptNew);
    SshConnection::connect(&target).expect("accept-new connects");
    let text = std::fs::read_to_string(&known).expect("recorded");
    assert_eq!(text, server.known_line());
    let mut c = server.connect();
    assert!(c.run(&Command::argv(["true"])).expect("run").success());
}

#[test]
fn changed_host_key_is_refused_naming_the_line() {
    let server = start_sshd();
    keygen(&server.path("other_key"));
    let other = std::fs::read_to_string(server.path("other_key.pub")).expect("other key");
    let other: Vec<&str> = other.split_whitespace().take(2).collect();
    let known = server.path("known_hosts");
    std::fs::write(
        &known,
        format!(
            "# lab hosts\nweb1 {k}\n[127.0.0.1]:1 {k}\n[127.0.0.1]:{} {k}\n",
            server.port,
            k = other.join(" ")
        ),
    )
    .expect("known_hosts");
    for checking in [HostKeyChecking::Strict, HostKeyChecking::AcceptNew] {
        let mut target = server.target();
        target.host_key_checking = Some(checking);
        let reason = unreachable_reason(SshConnection::connect(&target));
        assert!(
            reason.contains(&format!("{}:4", known.display())),
            "{reason}"
        );
        assert!(reason.contains("ssh-keygen -R"), "{reason}");
    }
}

#[test]
fn hashed_known_hosts_entry_is_accepted() {
    let server = start_sshd();
    let known = server.path("known_hosts");
    sh(&format!("ssh-keygen -q -H -f '{}'", known.display()));
    let text = std::fs::read_to_string(&known).expect("hashed");
    assert!(text.starts_with("|1|"), "{text}");
    assert!(!text.contains("127.0.0.1"));
    let mut c = server.connect();
    assert!(c.run(&Command::argv(["true"])).expect("run").success());
}

#[test]
fn refused_connection_is_unreachable_quickly() {
    let port = free_port();
    let mut target = SshTarget::new("nowhere");
    target.address = "127.0.0.1".into();
    target.port = Some(port);
    target.ssh_config = Some(PathBuf::from("/nonexistent/ssh_config"));
    let started = Instant::now();
    let reason = unreachable_reason(SshConnection::connect(&target));
    assert_eq!(
        reason,
        format!("connect to 127.0.0.1:{port}: connection refused")
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn wrong_key_names_what_was_tried() {
    let server = start_sshd();
    keygen(&server.path("stranger"));
    let mut target = server.target();
    target.identity_files = vec![server.path("stranger"), server.path("missing_key")];
    let reason = unreachable_reason(SshConnection::connect(&target));
    assert!(
        reason.starts_with(&format!(
            "permission denied for {}@testhost: tried ",
            server.user
        )),
        "{reason}"
    );
    assert!(
        reason.contains(&server.path("stranger").display().to_string()),
        "{reason}"
    );
    assert!(reason.contains("missing_key (missing)"), "{reason}");
}

#[test]
fn proxy_jump_through_the_same_server() {
    let server = start_sshd();
    let config = format!(
        "Host jumpbox\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {key}\n\n\
         Host via-jump\n  HostName 127.0.0.1\n  Port {port}\n  ProxyJump jumpbox\n\n\
         Host via-two\n  HostName 127.0.0.1\n  Port {port}\n  ProxyJump jumpbox,{user}@127.0.0.1:{port}\n\n\
         Host 127.0.0.1\n  IdentityFile {key}\n",
        port = server.port,
        user = server.user,
        key = server.client_key.display()
    );
    std::fs::write(server.path("ssh_config"), config).expect("config");
    for name in ["via-jump", "via-two"] {
        let mut target = server.target();
        target.name = name.into();
        target.address = name.into();
        target.port = None;
        let mut c = SshConnection::connect(&target).expect("connect through jump host");
        let out = c.run(&Command::argv(["echo", "through"])).expect("run");
        assert_eq!(out.stdout_text(), "through\n");
        // Enough data to need many window adjustments through the relay.
        let out = c
            .run(&Command::argv(["wc", "-c"]).with_stdin(vec![b'y'; 2_000_000]))
            .expect("run");
        assert_eq!(out.stdout_text().trim(), "2000000");
        let out = c
            .run(&Command::shell("head -c 3000000 /dev/zero"))
            .expect("run");
        assert_eq!(out.stdout.len(), 3_000_000);
        let mut times: Vec<Duration> = (0..40)
            .map(|_| {
                let t = Instant::now();
                c.run(&Command::argv(["true"])).expect("run");
                t.elapsed()
            })
            .collect();
        times.sort();
        eprintln!("ssh loopback via {name}: `true` median {:?}", times[20]);
    }
}

#[test]
fn become_runs_commands_and_writes_as_another_user() {
    let server = start_sshd();
    let work = server.work();
    sh(&format!(
        "chmod 755 '{}' '{work}'",
        server.dir.path().display()
    ));
    let nobody_dir = format!("{work}/nobody");
    sh(&format!(
        "mkdir '{nobody_dir}' && chown nobody '{nobody_dir}'"
    ));
    let mut c = server.connect();
    for method in [BecomeMethod::Su, BecomeMethod::Sudo] {
        c.set_become(Some(Become {
            user: "nobody".into(),
            method,
            password: None,
        }));
        let out = c.run(&Command::argv(["id", "-un"])).expect("run");
        assert_eq!(
            out.stdout_text(),
            "nobody\n",
            "{method:?}: {}",
            out.stderr_text()
        );
        let path = format!("{nobody_dir}/{method:?}");
        c.write_file(&path, b"mine", &WriteOptions::default())
            .expect("write as nobody");
        let st = c.stat(&path).expect("stat").expect("exists");
        assert_eq!(st.owner, "nobody");
    }
    // A sudo password that is not asked for must not leak into the command's stdin.
    c.set_become(Some(Become {
        user: "nobody".into(),
        method: BecomeMethod::Sudo,
        password: Some(converge::connection::Secret("not-needed".into())),
    }));
    let out = c
        .run(&Command::argv(["cat"]).with_stdin(b"payload".to_vec()))
        .expect("run");
    assert_eq!(out.stdout_text(), "payload", "{}", out.stderr_text());
    c.set_become(None);
    assert_eq!(
        c.run(&Command::argv(["id", "-un"]))
            .expect("run")
            .stdout_text(),
        format!("{}\n", server.user)
    );
}

#[test]
fn exec_round_trip_on_loopback() {
    let server = start_sshd();
    let started = Instant::now();
    let mut c = server.connect();
    let connect = started.elapsed();
    let first = Instant::now();
    c.run(&Command::argv(["true"])).expect("first");
    let first = first.elapsed();
    let n = 200;
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let out = c.run(&Command::argv(["true"])).expect("run");
        assert!(out.success());
        times.push(t.elapsed());
    }
    times.sort();
    let median = times[n / 2];
    let p95 = times[n * 95 / 100];
    eprintln!(
        "ssh loopback: connect+auth {connect:?}, first exec {first:?}, then `true` median {median:?}, p95 {p95:?} over {n}"
    );
    let work = server.work();
    let path = format!("{work}/timed");
    let median_of = |c: &mut SshConnection, op: &dyn Fn(&mut SshConnection)| {
        let mut t: Vec<Duration> = (0..50)
            .map(|_| {
                let s = Instant::now();
                op(c);
                s.elapsed()
            })
            .collect();
        t.sort();
        t[25]
    };
    let write = median_of(&mut c, &|c| {
        c.write_file(&path, b"content\n", &WriteOptions::default())
            .expect("write");
    });
    let read = median_of(&mut c, &|c| {
        c.read_file(&path).expect("read");
    });
    let stat = median_of(&mut c, &|c| {
        c.stat(&path).expect("stat");
    });
    eprintln!("ssh loopback medians: write_file {write:?}, read_file {read:?}, stat {stat:?}");
    // ~2 ms expected with TCP_NODELAY; Nagle would make it ~44 ms.
    assert!(median < Duration::from_millis(25), "median {median:?}");
}

#[test]
fn silent_server_times_out_with_the_limit_in_the_message() {
    // Accepts TCP but never sends a banner.
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let holder = std::thread::spawn(move || {
        let conn = listener.accept();
        std::thread::sleep(Duration::from_secs(3));
        drop(conn);
    });
    let mut target = SshTarget::new("silent");
    target.address = "127.0.0.1".into();
    target.port = Some(port);
    target.ssh_config = Some(PathBuf::from("/nonexistent/ssh_config"));
    target.connect_timeout = Some(Duration::from_secs(1));
    let started = Instant::now();
    let reason = unreachable_reason(SshConnection::connect(&target));
    assert!(reason.contains("timed out after 1 s"), "{reason}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let _ = holder.join();
}

#[test]
fn many_parallel_connections_all_succeed() {
    let server = start_sshd();
    let target = server.target();
    let threads: Vec<_> = (0..24)
        .map(|i| {
            let target = target.clone();
            std::thread::spawn(move || {
                let mut c = SshConnection::connect(&target).expect("connect");
                let out = c
                    .run(&Command::argv(["echo", &i.to_string()]))
                    .expect("run");
                out.stdout_text()
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        assert_eq!(t.join().expect("thread"), format!("{i}\n"));
    }
}

/// `-o KEY=VALUE` as ansible_ssh_common_args would give it.
fn set(target: &mut SshTarget, key: &str, value: &str) {
    target
        .options
        .set(key, value, Path::new("/nonexistent"), &target.name.clone())
        .expect("valid option");
}

/// A ProxyCommand that relays with bash's /dev/tcp and writes the pids of its two copying
/// processes to `pids`, so a test can freeze the link.
fn bash_proxy(pids: &Path) -> String {
    format!(
        "bash -c 'exec 3<>/dev/tcp/%h/%p; cat <&3 & echo $! > {p}; echo $$ >> {p}; exec cat >&3'",
        p = pids.display()
    )
}

#[test]
fn proxy_command_carries_the_session_and_its_failure_is_explained() {
    let server = start_sshd();
    let mut target = server.target();
    set(
        &mut target,
        "ProxyCommand",
        &bash_proxy(&server.path("pids")),
    );
    let mut c = SshConnection::connect(&target).expect("connect through ProxyCommand");
    let out = c.run(&Command::argv(["echo", "proxied"])).expect("run");
    assert_eq!(out.stdout_text(), "proxied\n");
    let out = c
        .run(&Command::argv(["wc", "-c"]).with_stdin(vec![b'y'; 1_000_000]))
        .expect("run");
    assert_eq!(out.stdout_text().trim(), "1000000");
    drop(c);

    let mut target = server.target();
    set(
        &mut target,
        "ProxyCommand",
        "sh -c 'echo cannot reach %h:%p as %r >&2; exit 7'",
    );
    let reason = unreachable_reason(SshConnection::connect(&target));
    assert!(
        reason.contains(&format!(
            "exited with exit status: 7: cannot reach 127.0.0.1:{} as {}",
            server.port, server.user
        )),
        "{reason}"
    );
}

#[test]
fn a_silent_command_outlives_the_keepalive_bound_and_a_frozen_link_is_found_dead() {
    let server = start_sshd();
    // Direct TCP: `sleep 7` prints nothing for longer than the dead-link bound (2 s × (1 + 1)),
    // and the keepalives' answers keep the link alive.
    let mut target = server.target();
    set(&mut target, "ServerAliveInterval", "2");
    set(&mut target, "ServerAliveCountMax", "1");
    let mut c = SshConnection::connect(&target).expect("connect");
    let out = c
        .run(&Command::argv(["sleep", "7"]))
        .expect("silent command");
    assert!(out.success());

    // Through a ProxyCommand whose processes are then stopped: nothing comes back, the link
    // is dead after about 2 s × (2 + 1), whatever the command does.
    let pids = server.path("pids");
    let mut target = server.target();
    set(&mut target, "ProxyCommand", &bash_proxy(&pids));
    set(&mut target, "ServerAliveInterval", "2");
    set(&mut target, "ServerAliveCountMax", "2");
    let mut c = SshConnection::connect(&target).expect("connect through ProxyCommand");
    let out = c
        .run(&Command::argv(["sleep", "4"]))
        .expect("silent command");
    assert!(out.success());
    let pids = std::fs::read_to_string(&pids).expect("pids");
    let pids: Vec<&str> = pids.split_whitespace().collect();
    assert_eq!(pids.len(), 2, "{pids:?}");
    for pid in &pids {
        sh(&format!("kill -STOP {pid}"));
    }
    let started = Instant::now();
    let result = c.run(&Command::argv(["sleep", "30"]));
    let elapsed = started.elapsed();
    // The proxy's two processes hold the server's end of the link: gone, its session ends.
    for pid in &pids {
        sh(&format!("kill -CONT {pid}; kill -KILL {pid}"));
    }
    match &result {
        Err(HostError::Unreachable { reason }) => {
            // Found by the keepalives while the command runs, or by the same bound while
            // opening its channel.
            assert!(
                reason.contains("2 keepalives sent every 2 s went unanswered); the link is down")
                    || reason.contains("no answer from the host for 6 s; the link is down"),
                "{reason}"
            )
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    // Bounded: the keepalive bound (6 s) after the last answer, and at once reported (the
    // broken session's channels are freed without waiting for the dead link).
    assert!(
        elapsed >= Duration::from_secs(5) && elapsed < Duration::from_secs(9),
        "found dead after {elapsed:?}: {result:?}"
    );
    // The session stays broken.
    assert!(matches!(
        c.run(&Command::argv(["true"])),
        Err(HostError::Unreachable { .. })
    ));
}

#[test]
fn a_command_timeout_is_opt_in() {
    let server = start_sshd();
    let mut target = server.target();
    target.command_timeout = Some(Duration::from_secs(1));
    let mut c = SshConnection::connect(&target).expect("connect");
    let reason = match c.run(&Command::argv(["sleep", "3"])) {
        Err(HostError::Unreachable { reason }) => reason,
        other => panic!("expected unreachable, got {other:?}"),
    };
    assert!(
        reason.contains("timed out after 1 s without an answer (--command-timeout)"),
        "{reason}"
    );
}

#[test]
fn algorithm_options_are_honoured_and_an_impossible_list_is_a_clear_error() {
    let server = start_sshd();
    let mut target = server.target();
    set(
        &mut target,
        "HostKeyAlgorithms",
        "ssh-ed25519,sk-ssh-ed25519@openssh.com",
    );
    set(&mut target, "KexAlgorithms", "curve25519-sha256");
    set(&mut target, "Ciphers", "aes256-ctr");
    set(&mut target, "MACs", "hmac-sha2-512");
    set(&mut target, "Compression", "yes");
    set(
        &mut target,
        "PubkeyAcceptedAlgorithms",
        "ssh-ed25519,rsa-sha2-512",
    );
    set(&mut target, "ControlPersist", "60s");
    let mut c = SshConnection::connect(&target).expect("connect");
    let out = c
        .run(&Command::shell("head -c 200000 /dev/zero | wc -c"))
        .expect("run");
    assert_eq!(out.stdout_text().trim(), "200000");
    let notes = c.notes().join("\n");
    assert!(notes.contains("`ControlPersist 60s`"), "{notes}");
    assert!(
        notes.contains("HostKeyAlgorithms: `sk-ssh-ed25519@openssh.com` not implemented"),
        "{notes}"
    );

    let mut target = server.target();
    set(
        &mut target,
        "HostKeyAlgorithms",
        "sk-ssh-ed25519@openssh.com",
    );
    let reason = unreachable_reason(SshConnection::connect(&target));
    assert!(
        reason.starts_with("HostKeyAlgorithms `sk-ssh-ed25519@openssh.com` leaves no algorithm converge's SSH client (libssh2) implements"),
        "{reason}"
    );

    // The server has only an ed25519 host key.
    let mut target = server.target();
    set(&mut target, "HostKeyAlgorithms", "ecdsa-sha2-nistp256");
    let reason = unreachable_reason(SshConnection::connect(&target));
    assert!(reason.contains("ssh handshake"), "{reason}");

    // The client key is ed25519: not offered when the list excludes it.
    let mut target = server.target();
    set(
        &mut target,
        "PubkeyAcceptedAlgorithms",
        "rsa-sha2-512,rsa-sha2-256",
    );
    let reason = unreachable_reason(SshConnection::connect(&target));
    assert!(
        reason.contains("(skipped: ssh-ed25519 is not in PubkeyAcceptedAlgorithms)"),
        "{reason}"
    );
    let mut target = server.target();
    set(
        &mut target,
        "PubkeyAcceptedAlgorithms",
        "sk-ssh-ed25519@openssh.com",
    );
    let reason = unreachable_reason(SshConnection::connect(&target));
    assert!(
        reason.contains("leaves no key algorithm converge's SSH client (libssh2) can sign with"),
        "{reason}"
    );
}

#[test]
fn global_known_hosts_file_is_read_after_the_users() {
    let server = start_sshd();
    std::fs::write(server.path("known_hosts"), "").expect("empty user file");
    std::fs::write(server.path("global_known_hosts"), server.known_line()).expect("global");
    let target = server.target();
    let reason = unreachable_reason(SshConnection::connect(&target));
    assert!(reason.contains("is not known"), "{reason}");
    let mut target = server.target();
    set(
        &mut target,
        "GlobalKnownHostsFile",
        &server.path("global_known_hosts").display().to_string(),
    );
    SshConnection::connect(&target).expect("known from the global file");
}

#[test]
fn strict_host_key_checking_no_records_new_keys_and_accepts_a_changed_one_with_a_warning() {
    let server = start_sshd();
    let known = server.path("known_hosts");
    std::fs::write(&known, "").expect("empty");
    let mut target = server.target();
    set(&mut target, "StrictHostKeyChecking", "no");
    let c = SshConnection::connect(&target).expect("unknown host accepted");
    assert!(c.warnings().is_empty());
    assert_eq!(
        std::fs::read_to_string(&known).expect("read"),
        server.known_line()
    );
    drop(c);

    let other = server.path("other_key");
    keygen(&other);
    let fake = std::fs::read_to_string(server.path("other_key.pub")).expect("pub");
    let fake: Vec<&str> = fake.split_whitespace().take(2).collect();
    std::fs::write(
        &known,
        format!("[127.0.0.1]:{} {}\n", server.port, fake.join(" ")),
    )
    .expect("stale");
    let c = SshConnection::connect(&target).expect("changed key accepted");
    let warnings = c.warnings().join("\n");
    assert!(
        warnings.contains("has CHANGED") && warnings.contains("known_hosts:1"),
        "{warnings}"
    );
    // The default refuses it.
    let reason = unreachable_reason(SshConnection::connect(&server.target()));
    assert!(reason.contains("has CHANGED"), "{reason}");
}
