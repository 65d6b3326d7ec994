//! Lab hosts for tests: real sshd in network + mount namespaces (tests/lab/lab), removed when
//! the `Lab` is dropped. Tests run converge against `lab.inventory()` over real SSH and look
//! at the hosts with `lab.sh(host, script)`, which runs inside the host's namespaces.

use std::path::{Path, PathBuf};
use std::process::Command;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/lab");

/// One lab host.
#[derive(Debug, Clone)]
pub struct LabHost {
    pub name: String,
    pub ipv6: String,
    #[allow(dead_code)] // read by the IPv4 lab tests (dhcpd, firewall)
    pub ipv4: String,
}

/// A running lab; `down` on drop.
pub struct Lab {
    state: PathBuf,
    pub hosts: Vec<LabHost>,
}

/// The output of a command run in a host.
#[derive(Debug)]
pub struct Exec {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Lab {
    /// Start `count` hosts named h1..hN.
    pub fn start(count: usize) -> Lab {
        Lab::start_with(count, &[])
    }

    /// Start `count` hosts with extra `lab up` options (e.g. `--overlay-usr`).
    pub fn start_with(count: usize, options: &[&str]) -> Lab {
        let state = tempfile::Builder::new()
            .prefix("converge-lab-")
            .tempdir_in("/dev/shm")
            .expect("lab state dir")
            .keep();
        // `up` wants an absent or empty directory; it is empty.
        let output = Command::new(SCRIPT)
            .arg("up")
            .arg(&state)
            .arg(count.to_string())
            .args(options)
            .output()
            .expect("run tests/lab/lab up");
        let mut lab = Lab {
            state,
            hosts: Vec::new(),
        };
        assert!(
            output.status.success(),
            "lab up failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let hosts = std::fs::read_to_string(lab.state.join("hosts.txt")).expect("hosts.txt");
        lab.hosts = hosts
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                Some(LabHost {
                    name: fields.next()?.to_string(),
                    ipv6: fields.next()?.to_string(),
                    ipv4: fields.next()?.to_string(),
                })
            })
            .collect();
        assert_eq!(lab.hosts.len(), count, "hosts.txt lists every host");
        lab
    }

    /// The lab's state directory (inventory.yml, ssh_config, known_hosts, id_ed25519).
    pub fn state(&self) -> &Path {
        &self.state
    }

    /// The Ansible inventory the lab wrote (group `lab`).
    pub fn inventory(&self) -> String {
        self.state.join("inventory.yml").display().to_string()
    }

    /// Run a command inside a host's namespaces.
    pub fn exec(&self, host: &str, args: &[&str]) -> Exec {
        let output = Command::new(SCRIPT)
            .arg("exec")
            .arg(&self.state)
            .arg(host)
            .args(args)
            .output()
            .expect("run tests/lab/lab exec");
        Exec {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Write `content` to `path` inside a host with `mode`, copied from the controller's side
    /// (a host has its own /tmp, so a checkout under /tmp is not visible inside it).
    pub fn put(&self, host: &str, path: &str, content: &[u8], mode: u32) {
        use std::io::Write;
        let script = format!(
            "mkdir -p \"$(dirname '{path}')\" && cat > '{path}' && chmod {mode:o} '{path}'"
        );
        let mut child = Command::new(SCRIPT)
            .arg("exec")
            .arg(&self.state)
            .arg(host)
            .args(["sh", "-c", &script])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("run tests/lab/lab exec");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(content)
            .expect("write to the host");
        let status = child.wait().expect("wait for tests/lab/lab exec");
        assert!(status.success(), "writing {path} in {host} failed");
    }

    /// Run a shell script inside a host; panics unless it succeeds; returns stdout.
    pub fn sh(&self, host: &str, script: &str) -> String {
        let result = self.exec(host, &["sh", "-c", script]);
        assert_eq!(
            result.status, 0,
            "`{script}` failed in {host}:\n{}{}",
            result.stdout, result.stderr
        );
        result.stdout
    }

    /// Stop or start a host's sshd.
    pub fn sshd(&self, host: &str, running: bool) {
        let verb = if running { "start-sshd" } else { "stop-sshd" };
        let status = Command::new(SCRIPT)
            .arg(verb)
            .arg(&self.state)
            .arg(host)
            .status()
            .expect("run tests/lab/lab");
        assert!(status.success(), "{verb} {host}");
    }

    /// Every file below a host's overlay upper dirs with its mode, owner and content hash:
    /// compare two snapshots to prove a run changed nothing on the host.
    pub fn snapshot(&self, host: &str) -> String {
        let root = self.state.join("hosts").join(host).join("upper");
        let output = Command::new("sh")
            .arg("-c")
            .arg("cd \"$1\" && find . -printf '%p %m %u:%g %y %s\\n' | sort && find . -type f -exec md5sum {} + | sort")
            .arg("sh")
            .arg(&root)
            .output()
            .expect("snapshot");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = Command::new(SCRIPT).arg("down").arg(&self.state).status();
        let _ = std::fs::remove_dir_all(&self.state);
    }
}
