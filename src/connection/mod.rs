//! Host transports: the local machine, and SSH (its own issue). Both implement
//! [`converge_modules::Host`] plus [`Connection`], which adds what only the runner needs.

pub mod environment;
pub mod local;
pub mod open;
pub mod simulated;
pub mod ssh;

use converge_modules::{Host, HostError, Read};

pub use converge_modules::host::{Become, BecomeMethod, Secret};

/// A transport to one host, owned by the worker thread that serves that host.
pub trait Connection: Host + Send {
    /// Run later commands and file operations as this user; `None` runs as the login user.
    fn set_become(&mut self, become_as: Option<Become>);

    /// Take converge's per-host run lock until the connection closes, so that two runs
    /// never change one host at the same time.
    fn hold_run_lock(&mut self) -> Result<(), RunLockError>;

    /// Facts about how the connection was made that are worth a line with `-v`: SSH options
    /// accepted without effect (`ControlPersist`, `GSSAPIAuthentication`…), algorithms not
    /// implemented, a host key recorded.
    fn notes(&self) -> &[String] {
        &[]
    }

    /// What the user must see even without `-v`: a changed host key accepted because host key
    /// checking is off.
    fn warnings(&self) -> &[String] {
        &[]
    }

    /// For Ctrl-C: what cuts this connection from another thread, so that an operation
    /// blocked on the host fails at once. `None` when the transport needs nothing (a local
    /// command receives the terminal's SIGINT itself).
    fn interrupter(&self) -> Option<Interrupter> {
        None
    }

    /// Channels opened and requests sent to the host so far (SSH only).
    fn round_trips(&self) -> Option<&RoundTrips> {
        None
    }

    /// Whether [`Connection::read_ahead`] does anything here.
    fn can_read_ahead(&self) -> bool {
        false
    }

    /// Make `reads` now, in one round trip, as the current become user, and answer them
    /// from what came back until anything that is not one of them runs on the host (see
    /// `runner/read_ahead.rs`). Replaces what was kept before. A transport where a round
    /// trip costs little does nothing, and the reads are made when asked.
    fn read_ahead(&mut self, _reads: &[Read]) -> Result<(), HostError> {
        Ok(())
    }

    /// Drop the answers [`Connection::read_ahead`] kept.
    fn forget_reads(&mut self) {}

    /// Whether answers of reads made ahead are kept (nothing else ran on the host since).
    fn has_reads_ahead(&self) -> bool {
        false
    }
}

/// Cuts a connection's socket from another thread ([`Connection::interrupter`]): blocked
/// reads and writes on it fail, and the host sees the session end, which ends what the
/// session ran there (the run lock's holder, an upload's `cat`). Valid while the connection
/// lives.
#[derive(Debug, Clone, Copy)]
pub struct Interrupter {
    socket: std::os::unix::io::RawFd,
}

impl Interrupter {
    /// For the socket `fd` that a connection owns.
    pub fn socket(fd: std::os::unix::io::RawFd) -> Self {
        Interrupter { socket: fd }
    }

    /// Shut the socket down both ways (the descriptor stays open: its owner closes it).
    pub fn interrupt(&self) {
        // SAFETY: shutdown(2) on a descriptor the connection still owns; it neither closes
        // nor frees anything.
        unsafe {
            libc::shutdown(self.socket, libc::SHUT_RDWR);
        }
    }
}

/// What a connection cost the host: channels opened (one shell each) and requests sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundTrips {
    /// Exec channels opened: the login shell, and one per become user.
    pub channels: u64,
    /// Requests sent over them (commands, reads, writes, the run lock).
    pub requests: u64,
    /// Reads answered from a request that made them ahead, with no request of their own.
    pub answered_ahead: u64,
    /// Each request's command, shortened (`[user] line`), for `-vv`.
    pub commands: Vec<String>,
}

/// Where the run lock lives on a host: on the persistent filesystem (not /run, which a
/// sandbox or lab host may share with the machine), falling back to the login user's home
/// when /var/lib is not writable.
const RUN_LOCK_DIRS: &str = "/var/lib/converge \"$HOME\"";

/// Exit status `flock -E` reports when the lock is held by someone else.
const LOCK_BUSY: i32 = 75;

/// The shell line that takes the lock and keeps it until its standard input closes.
pub fn run_lock_script() -> String {
    format!(
        "for d in {RUN_LOCK_DIRS}; do {{ [ -d \"$d\" ] || mkdir -p \"$d\" 2>/dev/null; }} && [ -w \"$d\" ] && break; done; \
         exec flock -n -E {LOCK_BUSY} \"$d/run.lock\" sh -c 'echo locked; exec cat >/dev/null'"
    )
}

/// The run lock taken inside the host's long-lived shell (a request run in the loop's own
/// shell, see `ssh::shell`): the lock file stays open on fd 9 for the shell's life, and
/// commands run with fd 9 closed so a daemon they start never inherits it.
pub fn run_lock_fd_script() -> String {
    format!(
        "for d in {RUN_LOCK_DIRS}; do {{ [ -d \"$d\" ] || mkdir -p \"$d\" 2>/dev/null; }} && [ -w \"$d\" ] && break; done\n\
         command exec 9>>\"$d/run.lock\" || return 1\n\
         flock -n -E {LOCK_BUSY} 9 && echo $$ > \"$d/run.lock\""
    )
}

/// The error for a lock that could not be taken (`status` of the lock script).
pub fn run_lock_refusal(host: &str, status: i32, output: &str) -> RunLockError {
    if status == LOCK_BUSY {
        RunLockError::Busy {
            host: host.to_string(),
        }
    } else {
        RunLockError::Host(converge_modules::HostError::Spawn {
            command: "flock".into(),
            reason: format!(
                "could not take the run lock on `{host}` (status {status}{}); is util-linux's flock installed?",
                if output.trim().is_empty() { String::new() } else { format!(": {}", output.trim()) }
            ),
        })
    }
}

/// Why the run lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum RunLockError {
    /// Another converge run holds it.
    #[error("another converge run is changing `{host}` right now (its run lock is held); wait for it to finish and run again")]
    Busy {
        /// The host.
        host: String,
    },
    /// The transport failed.
    #[error(transparent)]
    Host(#[from] converge_modules::HostError),
}

/// After an interrupted run, over a fresh connection: the script that removes the temp files
/// converge's atomic writes of `paths` may have left (`.NAME.converge-*` beside each file).
pub fn temp_files_cleanup_script(paths: &[String]) -> String {
    let mut script = String::new();
    for path in paths {
        let trimmed = path.trim_end_matches('/');
        let (dir, name) = match trimmed.rsplit_once('/') {
            Some(("", name)) => ("/".to_string(), name),
            Some((dir, name)) => (format!("{dir}/"), name),
            None => (String::new(), trimmed),
        };
        script.push_str(&format!(
            "rm -f -- {}.{}.converge-*\n",
            converge_modules::quote(&dir),
            converge_modules::quote(name)
        ));
    }
    script
}

/// After an interrupted run, over a fresh connection: the script that releases the run lock
/// of the session that was cut. The lock is held by that session's shell (its pid is in the
/// lock file), which waits for the command it was running when the connection went and
/// defers signals it traps until then; that shell is killed and its temp directory removed
/// (the command itself runs to its end, as with Ansible), then the script waits
/// up to `wait_seconds` for the lock. Prints `lock held DIR` for a lock still held. The lock
/// is only taken from a holder while it is held: the cut session's shell held it until now.
pub fn run_lock_release_script(wait_seconds: u32) -> String {
    format!(
        "for d in {RUN_LOCK_DIRS}; do [ -e \"$d/run.lock\" ] || continue; \
         if ! flock -n \"$d/run.lock\" true; then \
         p=$(head -c 16 \"$d/run.lock\" 2>/dev/null); \
         case \"$p\" in ''|*[!0-9]*) ;; *) kill -KILL \"$p\" 2>/dev/null; \
         rm -rf \"${{TMPDIR:-/tmp}}\"/.converge-\"$p\"-* /tmp/.converge-\"$p\"-* \
         /var/tmp/.converge-\"$p\"-* /dev/shm/.converge-\"$p\"-* ;; esac; fi; \
         flock -w {wait_seconds} \"$d/run.lock\" true || echo \"lock held $d\"; done\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The clean-up removes exactly the temp files of the named writes, in any directory,
    /// names with spaces included, and nothing else.
    #[test]
    fn temp_files_cleanup_removes_only_the_named_writes_temp_files() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().display().to_string();
        let sub = format!("{root}/my dir");
        std::fs::create_dir(&sub).expect("mkdir");
        for name in [
            format!("{root}/.app.conf.converge-1a2b"),
            format!("{sub}/.hosts file.converge-99"),
            format!("{root}/.other.conf.converge-77"),
            format!("{root}/app.conf"),
        ] {
            std::fs::write(&name, "x").expect("write");
        }
        let script =
            temp_files_cleanup_script(&[format!("{root}/app.conf"), format!("{sub}/hosts file")]);
        let status = std::process::Command::new("sh")
            .args(["-c", &script])
            .status()
            .expect("sh");
        assert!(status.success(), "{script}");
        let mut left: Vec<String> = walkdir(dir.path());
        left.sort();
        assert_eq!(
            left,
            vec![
                ".other.conf.converge-77".to_string(),
                "app.conf".to_string(),
                "my dir".to_string(),
            ]
        );
        assert_eq!(temp_files_cleanup_script(&[]), "");
    }

    fn walkdir(dir: &std::path::Path) -> Vec<String> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
            names.push(entry.file_name().to_string_lossy().into_owned());
            if entry.path().is_dir() {
                names.extend(walkdir(&entry.path()));
            }
        }
        names
    }

    #[test]
    fn the_lock_release_script_waits_for_the_lock_in_each_lock_directory() {
        let script = run_lock_release_script(5);
        assert!(
            script.contains("for d in /var/lib/converge \"$HOME\""),
            "{script}"
        );
        assert!(script.contains("flock -w 5 \"$d/run.lock\" true || echo \"lock held $d\""));
    }
}
