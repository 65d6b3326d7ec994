//! One exec channel, driven without blocking: stdin is written while stdout and stderr are
//! drained in turn, so a command that fills one pipe while we feed another cannot deadlock.
//! While it waits, it sends keepalives and gives up only when the link is dead (see
//! [`super::liveness`]) or, if asked, when the command has been silent for `--command-timeout`.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::io::RawFd;
use std::time::{Duration, Instant};

use converge_modules::Output;
use ssh2::{BlockDirections, Channel, ErrorCode, Session};

use super::liveness::{Keepalive, Liveness};
use super::script::PasswordHandshake;

/// libssh2's "would block".
const EAGAIN: i32 = -37;

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

/// Run `line` on a fresh channel of `session`, feeding `stdin`.
pub fn exec(
    session: &Session,
    fd: RawFd,
    liveness: &Liveness,
    limits: &Limits,
    line: &str,
    stdin: &[u8],
    handshake: Option<&PasswordHandshake>,
) -> Result<Output, ExecError> {
    let timeout = limits.blocking().unwrap_or_default();
    let fail = |what: &str, e: ssh2::Error| {
        ExecError::Session(
            if e.code() == ErrorCode::Session(-9) && limits.keepalive.is_some() {
                format!(
                    "{what}: no answer from the host for {}; the link is down",
                    seconds(timeout)
                )
            } else {
                describe(what, &e, timeout)
            },
        )
    };
    session.set_blocking(true);
    let mut channel = session
        .channel_session()
        .map_err(|e| fail("open channel", e))?;
    channel.exec(line).map_err(|e| fail("exec", e))?;
    session.set_blocking(false);
    let result = pump(
        session,
        fd,
        liveness,
        limits,
        &mut channel,
        stdin,
        handshake,
    );
    session.set_blocking(true);
    let (stdout, stderr) = result?;
    channel.wait_close().map_err(|e| fail("close channel", e))?;
    let mut status = channel.exit_status().map_err(|e| fail("exit status", e))?;
    if let Ok(signal) = channel.exit_signal() {
        if let Some(name) = signal.exit_signal {
            status = 128 + signal_number(&name);
        }
    }
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

fn pump(
    session: &Session,
    fd: RawFd,
    liveness: &Liveness,
    limits: &Limits,
    channel: &mut Channel,
    stdin: &[u8],
    handshake: Option<&PasswordHandshake>,
) -> Result<(Vec<u8>, Vec<u8>), ExecError> {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let (mut out_done, mut err_done) = (false, false);
    let mut written = 0;
    let mut eof_sent = false;
    let mut stdin_open = handshake.is_none();
    let mut password: Vec<u8> = Vec::new();
    let mut password_written = 0;
    let mut prompts_seen = 0;
    let mut last_progress = Instant::now();
    let mut last_keepalive = Instant::now();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let mut progress = false;
        // The sudo password, once asked for.
        if password_written < password.len() {
            match channel.write(&password[password_written..]) {
                Ok(n) => {
                    password_written += n;
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(ExecError::Session(format!("write password: {e}"))),
            }
        }
        if stdin_open && !eof_sent {
            if written < stdin.len() {
                match channel.write(&stdin[written..]) {
                    Ok(n) => {
                        written += n;
                        progress = true;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    // The command closed its stdin (it did not want the rest).
                    Err(_) => written = stdin.len(),
                }
            }
            if written == stdin.len() {
                match channel.send_eof() {
                    Err(e) if e.code() == ErrorCode::Session(EAGAIN) => {}
                    _ => {
                        eof_sent = true;
                        progress = true;
                    }
                }
            }
        }
        for (stream_id, sink, done) in [(0, &mut out, &mut out_done), (1, &mut err, &mut err_done)]
        {
            if *done {
                continue;
            }
            let mut stream = channel.stream(stream_id);
            loop {
                match stream.read(&mut buf) {
                    Ok(0) => {
                        *done = true;
                        break;
                    }
                    Ok(n) => {
                        sink.extend_from_slice(&buf[..n]);
                        progress = true;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(ExecError::Session(format!("read from channel: {e}"))),
                }
            }
        }
        if let Some(h) = handshake {
            if !stdin_open {
                let marker = format!("{}\n", h.marker);
                if out.starts_with(marker.as_bytes()) {
                    out.drain(..marker.len());
                    stdin_open = true;
                    strip_all(&mut err, h.prompt.as_bytes());
                } else {
                    let seen = count(&err, h.prompt.as_bytes());
                    if seen > prompts_seen {
                        prompts_seen = seen;
                        if prompts_seen > 1 {
                            return Err(ExecError::BecomePassword);
                        }
                        password = format!("{}\n", h.password).into_bytes();
                        progress = true;
                    }
                }
            }
        }
        if out_done && err_done {
            return Ok((out, err));
        }
        if progress {
            last_progress = Instant::now();
            continue;
        }
        let mut wait = Duration::from_millis(500);
        if let Some(keepalive) = limits.keepalive {
            // Our own clock, not libssh2's (whole seconds since its last keepalive): one
            // keepalive each interval of silence, so a live link answers well within the bound.
            let interval = Duration::from_secs(u64::from(keepalive.interval));
            let since = last_keepalive.elapsed();
            if since >= interval {
                // libssh2 sends only with an interval set (its gate: 2 s since its last one,
                // which the interval here is at least); it is unset again at once, because
                // libssh2 also cuts blocking calls short at each interval (see `connect`).
                // Never EAGAIN: libssh2 queues the keepalive if the socket is full.
                session.set_keepalive(true, 1);
                let sent = session.keepalive_send();
                session.set_keepalive(true, 0);
                sent.map_err(|e| ExecError::Session(describe("keepalive", &e, Duration::ZERO)))?;
                last_keepalive = Instant::now();
            } else {
                wait = wait.min(interval - since);
            }
        }
        if let Some(limit) = limits.command_timeout {
            let idle = last_progress.elapsed();
            if idle >= limit {
                return Err(ExecError::Session(format!(
                    "timed out after {} without output (--command-timeout)",
                    seconds(limit)
                )));
            }
            wait = wait.min(limit - idle);
        }
        if let (Some(keepalive), Some(silence)) = (limits.keepalive, liveness.silence()) {
            if silence >= keepalive.dead_after() {
                return Err(ExecError::Session(keepalive.dead_reason(silence)));
            }
        }
        wait_socket(session, fd, wait);
    }
}

/// Sleep until the session's socket is ready in the direction libssh2 is waiting for.
fn wait_socket(session: &Session, fd: RawFd, max: Duration) {
    let events = match session.block_directions() {
        BlockDirections::Outbound => libc::POLLOUT,
        BlockDirections::Both => libc::POLLIN | libc::POLLOUT,
        _ => libc::POLLIN,
    };
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    let ms = max.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: one valid pollfd, the count says 1.
    unsafe {
        libc::poll(&mut pfd, 1, ms);
    }
}

fn count(haystack: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() {
        return 0;
    }
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

fn strip_all(haystack: &mut Vec<u8>, needle: &[u8]) {
    while let Some(pos) = haystack.windows(needle.len()).position(|w| w == needle) {
        haystack.drain(pos..pos + needle.len());
    }
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

/// The number of a signal named as in SSH's exit-signal message (`KILL`, `TERM`…).
pub fn signal_number(name: &str) -> i32 {
    match name.trim_start_matches("SIG") {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ILL" => 4,
        "TRAP" => 5,
        "ABRT" => 6,
        "BUS" => 7,
        "FPE" => 8,
        "KILL" => 9,
        "USR1" => 10,
        "SEGV" => 11,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        _ => 0,
    }
}
