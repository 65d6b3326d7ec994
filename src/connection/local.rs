//! The local connection (`ansible_connection: local`). The transport itself lives in
//! `converge-modules` so that modules can be used from Rust on this machine without the CLI.

pub use converge_modules::local::LocalConnection;
use converge_modules::Host;

use super::{run_lock_refusal, run_lock_script, Become, Connection, RunLockError};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::Mutex;

impl Connection for LocalConnection {
    fn set_become(&mut self, become_as: Option<Become>) {
        LocalConnection::set_become(self, become_as);
    }

    /// The same lock script as over SSH, run as a child whose standard input this process
    /// keeps open; the lock goes when converge exits, however it exits.
    fn hold_run_lock(&mut self) -> Result<(), RunLockError> {
        static HELD: Mutex<Vec<Child>> = Mutex::new(Vec::new());
        // Several inventory hosts may be this one machine: its lock is taken once per run.
        if HELD.lock().map(|held| !held.is_empty()).unwrap_or(false) {
            return Ok(());
        }
        let mut child = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(run_lock_script())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| converge_modules::HostError::Spawn {
                command: "flock".into(),
                reason: e.to_string(),
            })?;
        let mut line = String::new();
        if let Some(stdout) = child.stdout.take() {
            let _ = BufReader::new(stdout).read_line(&mut line);
        }
        if line.trim() == "locked" {
            if let Ok(mut held) = HELD.lock() {
                held.push(child);
            }
            return Ok(());
        }
        let status = child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
        Err(run_lock_refusal(self.name(), status, &line))
    }
}
