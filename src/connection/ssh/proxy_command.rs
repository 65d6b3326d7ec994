//! ProxyCommand: the session runs over a command's stdin and stdout, as with OpenSSH
//! (`ProxyCommand ssh -W %h:%p bastion`, `nc -X connect -x proxy:3128 %h %p`,
//! `aws ssm start-session …`). libssh2 needs a socket, so the session gets one end of a socket
//! pair and two threads copy bytes between the other end and the command's pipes. The
//! command runs under `/bin/sh -c 'exec …'` like OpenSSH's; what it prints on stderr is kept
//! for the error message when the connection fails.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::liveness::Heard;

/// Keep at most this much of the command's stderr.
const STDERR_KEPT: usize = 4096;

/// `%h` (host address), `%p` (port), `%r` (user), `%n` (the name as given) and `%%` replaced,
/// as OpenSSH does for ProxyCommand.
pub fn expand(template: &str, host: &str, port: u16, user: &str, name: &str) -> String {
    let mut out = String::new();
    let mut chars = template.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('h') => out.push_str(host),
            Some('p') => out.push_str(&port.to_string()),
            Some('r') => out.push_str(user),
            Some('n') => out.push_str(name),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

/// A running proxy command and its copying threads; dropping it kills the command.
pub struct ProxyCommand {
    command: String,
    child: Child,
    socket: UnixStream,
    stderr: Arc<Mutex<Vec<u8>>>,
    threads: Vec<JoinHandle<()>>,
    stderr_thread: Option<JoinHandle<()>>,
}

impl ProxyCommand {
    /// Start `command` (already expanded); returns it and the socket the session should use.
    /// `heard` is marked whenever bytes come from the command.
    pub fn spawn(command: &str, heard: Arc<Heard>) -> std::io::Result<(ProxyCommand, UnixStream)> {
        let mut child = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("exec {command}"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (ours, theirs) = UnixStream::pair()?;
        let mut threads = Vec::new();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut stderr_thread = None;
        let started = (|| -> std::io::Result<()> {
            let missing = || std::io::Error::other("the proxy command has no pipes");
            let mut out = child.stdout.take().ok_or_else(missing)?;
            let mut input = child.stdin.take().ok_or_else(missing)?;
            let mut err = child.stderr.take().ok_or_else(missing)?;
            let mut to_session = theirs.try_clone()?;
            let mut from_session = theirs.try_clone()?;
            threads.push(spawn_named("converge-proxy-out", move || {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match out.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            heard.mark();
                            if to_session.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = to_session.shutdown(Shutdown::Write);
            })?);
            threads.push(spawn_named("converge-proxy-in", move || {
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match from_session.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if input.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
                // Dropping `input` closes the command's stdin.
            })?);
            let kept = stderr.clone();
            stderr_thread = Some(spawn_named("converge-proxy-err", move || {
                let mut buf = [0u8; 1024];
                while let Ok(n) = err.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut kept) = kept.lock() {
                        let room = STDERR_KEPT.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                }
            })?);
            Ok(())
        })();
        let proxy = ProxyCommand {
            command: command.to_string(),
            child,
            socket: theirs,
            stderr,
            threads,
            stderr_thread,
        };
        // On failure, dropping `proxy` kills the command and ends the threads started.
        started?;
        Ok((proxy, ours))
    }

    /// Why the connection through the command failed, with what the command said (waiting a
    /// moment for it to exit and finish its message).
    pub fn failure(&mut self, reason: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
        let mut status = None;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        // The command's last words: its stderr ends when it has exited.
        if let Some(thread) = self.stderr_thread.take() {
            while !thread.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
        let said = self
            .stderr
            .lock()
            .map(|s| String::from_utf8_lossy(&s).trim().to_string())
            .unwrap_or_default();
        let mut text = format!("{reason} (through ProxyCommand `{}`", self.command);
        if let Some(status) = status {
            text.push_str(&format!(", which exited with {status}"));
        }
        if !said.is_empty() {
            text.push_str(&format!(": {said}"));
        }
        text.push(')');
        text
    }
}

fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.into()).spawn(f)
}

impl Drop for ProxyCommand {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Wakes the thread reading the session's side; the others end when the command's
        // pipes close. They are not joined: a grandchild of the command may hold a pipe open.
        let _ = self.socket.shutdown(Shutdown::Both);
        self.threads.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_as_openssh_does() {
        assert_eq!(
            expand(
                "ssh -W %h:%p -l %r jump # %n 100%% %x",
                "10.0.0.5",
                2222,
                "deploy",
                "web1"
            ),
            "ssh -W 10.0.0.5:2222 -l deploy jump # web1 100% %x"
        );
    }

    #[test]
    fn bytes_flow_both_ways_and_stderr_is_kept() {
        let heard = Heard::new();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let (mut proxy, mut socket) =
            ProxyCommand::spawn("sh -c 'echo starting >&2; cat'", heard.clone()).expect("spawn");
        socket.write_all(b"ping\n").expect("write");
        let mut buf = [0u8; 5];
        socket.read_exact(&mut buf).expect("read back");
        assert_eq!(&buf, b"ping\n");
        assert!(heard.silence() < std::time::Duration::from_millis(50));
        socket.shutdown(Shutdown::Write).expect("shutdown");
        let message = proxy.failure("ssh handshake failed");
        assert!(
            message.starts_with("ssh handshake failed (through ProxyCommand `sh -c"),
            "{message}"
        );
        assert!(message.ends_with(": starting)"), "{message}");
    }
}
