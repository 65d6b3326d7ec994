//! When a request gives up, and errors in words. The requests themselves go through the
//! host's long-lived shell (see [`super::shell`]), which sends keepalives while it waits and
//! gives up only when the link is dead (see [`super::liveness`]) or, if asked, when a request
//! has had no answer for `--command-timeout`.

use std::time::Duration;

use ssh2::ErrorCode;

use super::liveness::Keepalive;

/// Why an exec failed. `Session` errors leave the connection unusable.
#[derive(Debug)]
pub enum ExecError {
    /// The session failed (dropped, timed out); the message says what happened.
    Session(String),
    /// sudo rejected the become password.
    BecomePassword,
}

/// When a session gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `--command-timeout`: a command silent this long fails the host. `None` (the default,
    /// as in Ansible): no limit.
    pub command_timeout: Option<Duration>,
    /// Keepalives; `None` with ServerAliveInterval 0.
    pub keepalive: Option<Keepalive>,
}

impl Limits {
    /// The limit for one blocking libssh2 call (opening a channel, closing it): the sooner of
    /// the command timeout and the dead-link bound; `None` for no limit.
    pub fn blocking(&self) -> Option<Duration> {
        match (self.command_timeout, self.keepalive.map(|k| k.dead_after())) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// The session's timeout for blocking calls, in libssh2's terms (0 = none).
pub fn blocking_timeout_ms(limits: &Limits) -> u32 {
    limits
        .blocking()
        .map_or(0, |d| d.as_millis().clamp(1, u128::from(u32::MAX)) as u32)
}

/// "10 s", or milliseconds below a second.
pub fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// An ssh2 error in words, naming the timeout when that is what happened.
pub fn describe(what: &str, e: &ssh2::Error, timeout: Duration) -> String {
    if e.code() == ErrorCode::Session(-9) {
        format!("{what}: timed out after {}", seconds(timeout))
    } else {
        format!("{what}: {}", e.message().to_lowercase())
    }
}
