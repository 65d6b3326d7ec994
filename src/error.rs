//! converge's exit codes (Ansible's, plus one for CI).

/// How a run ended, as the process exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Every host is converged (or, with --check, nothing is pending unless asked).
    Success = 0,
    /// converge itself failed (a bug or an environment problem).
    Internal = 1,
    /// At least one host failed a task.
    HostFailed = 2,
    /// At least one host could not be reached (and none failed a task).
    Unreachable = 3,
    /// The inventory, a playbook, a role, a template or an argument is wrong; no host was touched.
    Invalid = 4,
    /// The command line is wrong.
    BadOptions = 5,
    /// `--check --detailed-exitcode`: changes are pending.
    ChangesPending = 6,
    /// Ctrl-C stopped the run (128 + SIGINT, as a shell reports a process it interrupted).
    Interrupted = 130,
}

impl Exit {
    /// The numeric status.
    pub fn code(self) -> i32 {
        self as i32
    }
}
