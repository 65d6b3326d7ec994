//! The builder every integration test uses: write files into a temp dir, run the real
//! `converge` binary there (optionally inside the overlay sandbox), look at what it did.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A test case in its own directory.
pub struct Test {
    dir: tempfile::TempDir,
    args: Vec<String>,
    sandbox: Option<PathBuf>,
    env: Vec<(String, String)>,
    timeout_seconds: Option<u32>,
}

/// What a run left behind.
#[derive(Debug)]
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Assert the exit status, showing the output when it differs.
    pub fn expect_status(&self, status: i32) -> &Self {
        assert_eq!(
            self.status, status,
            "unexpected exit status\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Assert stderr contains `text`.
    pub fn stderr_has(&self, text: &str) -> &Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}\n--- stderr\n{}",
            self.stderr
        );
        self
    }

    /// Assert stdout contains `text`.
    pub fn stdout_has(&self, text: &str) -> &Self {
        assert!(
            self.stdout.contains(text),
            "stdout lacks {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The recap line of `host`.
    pub fn recap(&self, host: &str) -> String {
        self.stderr
            .lines()
            .skip_while(|line| *line != "RECAP")
            .find(|line| line.split_whitespace().next() == Some(host))
            .unwrap_or_else(|| panic!("no recap line for {host}\n{}", self.stderr))
            .split(" : ")
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }
}

impl Test {
    pub fn new() -> Self {
        Test {
            dir: tempfile::tempdir().expect("temp dir"),
            args: Vec::new(),
            sandbox: None,
            env: vec![("NO_COLOR".into(), "1".into())],
            timeout_seconds: None,
        }
    }

    /// The test's directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Write a file (relative to the test dir), creating parents. `{dir}` in the content is
    /// replaced by the test dir's path.
    pub fn file(self, relative: &str, content: &str) -> Self {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        let content = content.replace("{dir}", &self.dir.path().display().to_string());
        std::fs::write(path, content).expect("write file");
        self
    }

    /// Write raw bytes to a file (relative to the test dir), creating parents.
    pub fn bytes(self, relative: &str, content: &[u8]) -> Self {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create dirs");
        }
        std::fs::write(path, content).expect("write file");
        self
    }

    /// Set an environment variable for converge (`{dir}` is replaced by the test dir).
    pub fn env(mut self, key: &str, value: &str) -> Self {
        let value = value.replace("{dir}", &self.dir.path().display().to_string());
        self.env.push((key.to_string(), value));
        self
    }

    /// Kill converge after this many seconds (exit status 124, like `timeout`).
    pub fn timeout(mut self, seconds: u32) -> Self {
        self.timeout_seconds = Some(seconds);
        self
    }

    /// Command-line arguments (`{dir}` is replaced by the test dir).
    pub fn args(mut self, args: &[&str]) -> Self {
        let dir = self.dir.path().display().to_string();
        self.args = args.iter().map(|a| a.replace("{dir}", &dir)).collect();
        self
    }

    /// Run converge inside the overlay sandbox (scripts/sandbox); state persists between runs.
    pub fn sandboxed(mut self) -> Self {
        let state = tempfile::Builder::new()
            .prefix("converge-sandbox-")
            .tempdir_in("/dev/shm")
            .expect("sandbox state dir in /dev/shm")
            .keep();
        self.sandbox = Some(state);
        self
    }

    /// What the sandboxed runs changed on the "machine": paths below the overlay upper dirs.
    pub fn sandbox_changes(&self) -> Vec<String> {
        let Some(state) = &self.sandbox else {
            return Vec::new();
        };
        let mut found = Vec::new();
        walk(&state.join("upper"), &state.join("upper"), &mut found);
        found.sort();
        found
    }

    /// Read a file as the sandbox sees it (upper layer first, then the machine).
    pub fn sandbox_file(&self, absolute: &str) -> Option<String> {
        let state = self.sandbox.as_ref()?;
        let relative = absolute.trim_start_matches('/');
        let (top, rest) = relative.split_once('/').unwrap_or((relative, ""));
        let top = if top == "usr" && rest.starts_with("local") {
            "usr_local".to_string()
        } else {
            top.to_string()
        };
        let rest = if top == "usr_local" {
            rest.trim_start_matches("local").trim_start_matches('/')
        } else {
            rest
        };
        let upper = state.join("upper").join(top).join(rest);
        std::fs::read_to_string(upper)
            .ok()
            .or_else(|| std::fs::read_to_string(absolute).ok())
    }

    /// Run converge and collect its output.
    pub fn run(&self) -> Run {
        self.run_in(self.sandbox.as_ref())
    }

    /// Run converge on this machine even if the test is sandboxed (for commands that only
    /// touch the test's own files, like `converge vault`).
    pub fn run_outside_sandbox(&self) -> Run {
        self.run_in(None)
    }

    /// Start converge without waiting, in a process group of its own (as a shell starts a
    /// foreground job, so that signalling the group is what a Ctrl-C does), its output piped.
    pub fn spawn(&self) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        let mut command = self.command_in(self.sandbox.as_ref());
        command
            .process_group(0)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start converge")
    }

    fn run_in(&self, sandbox: Option<&PathBuf>) -> Run {
        let output = self.command_in(sandbox).output().expect("run converge");
        Run {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    fn command_in(&self, sandbox: Option<&PathBuf>) -> Command {
        let binary = env!("CARGO_BIN_EXE_converge");
        let mut command = match (sandbox, self.timeout_seconds) {
            (_, Some(seconds)) => {
                let mut c = Command::new("timeout");
                c.arg(seconds.to_string());
                if let Some(state) = &self.sandbox {
                    c.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/sandbox"))
                        .arg(state);
                }
                c.arg(binary);
                c
            }
            (sandbox, None) => match sandbox {
                Some(state) => {
                    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/sandbox");
                    let mut c = Command::new(script);
                    c.arg(state).arg(binary);
                    c
                }
                None => Command::new(binary),
            },
        };
        command.args(&self.args).current_dir(self.dir.path());
        command.env_remove("CLICOLOR_FORCE");
        // Vault passwords only from what a test gives, never from the developer's shell.
        command.env_remove("ANSIBLE_VAULT_PASSWORD_FILE");
        command.env_remove("ANSIBLE_VAULT_IDENTITY_LIST");
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command
    }
}

/// A sandboxed test of one local host `box` running `tasks` (YAML list items indented
/// by four spaces), with `-i inventory.yml site.yml` as its arguments.
pub fn sandboxed_play(tasks: &str) -> Test {
    sandboxed_playbook(&format!(
        "- hosts: all\n  gather_facts: false\n  tasks:\n{tasks}"
    ))
}

/// A sandboxed test of one local host `box` running the whole playbook `site` (for plays
/// with their own keywords), with `-i inventory.yml site.yml` as its arguments.
pub fn sandboxed_playbook(site: &str) -> Test {
    Test::new()
        .sandboxed()
        .file(
            "inventory.yml",
            "all:\n  hosts:\n    box:\n      ansible_connection: local\n",
        )
        .file("site.yml", site)
        .args(&["-i", "inventory.yml", "site.yml"])
}

impl Drop for Test {
    fn drop(&mut self) {
        if let Some(state) = &self.sandbox {
            let _ = std::fs::remove_dir_all(state);
        }
    }
}

fn walk(root: &Path, dir: &Path, found: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let depth = path
            .strip_prefix(root)
            .map(|p| p.components().count())
            .unwrap_or(0);
        if depth >= 2 {
            found.push(
                path.strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string(),
            );
        }
        if path.is_dir() && !path.is_symlink() {
            walk(root, &path, found);
        }
    }
}
