//! Host transports: the local machine, and SSH (its own issue). Both implement
//! [`converge_modules::Host`] plus [`Connection`], which adds what only the runner needs.

pub mod environment;
pub mod local;
pub mod open;
pub mod simulated;
pub mod ssh;

use converge_modules::Host;

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

    /// Channels opened and requests sent to the host so far (SSH only).
    fn round_trips(&self) -> Option<&RoundTrips> {
        None
    }
}

/// What a connection cost the host: channels opened (one shell each) and requests sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundTrips {
    /// Exec channels opened: the login shell, and one per become user.
    pub channels: u64,
    /// Requests sent over them (commands, reads, writes, the run lock).
    pub requests: u64,
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
        "for d in {RUN_LOCK_DIRS}; do mkdir -p \"$d\" 2>/dev/null && [ -w \"$d\" ] && break; done; \
         exec flock -n -E {LOCK_BUSY} \"$d/run.lock\" sh -c 'echo locked; exec cat >/dev/null'"
    )
}

/// The run lock taken inside the host's long-lived shell (a request run in the loop's own
/// shell, see `ssh::shell`): the lock file stays open on fd 9 for the shell's life, and
/// commands run with fd 9 closed so a daemon they start never inherits it.
pub fn run_lock_fd_script() -> String {
    format!(
        "for d in {RUN_LOCK_DIRS}; do mkdir -p \"$d\" 2>/dev/null && [ -w \"$d\" ] && break; done\n\
         command exec 9>>\"$d/run.lock\" || return 1\n\
         flock -n -E {LOCK_BUSY} 9"
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
