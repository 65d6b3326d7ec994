//! ProxyJump: a thread that copies bytes between a direct-tcpip channel of the jump host's
//! session and one end of a socket pair; the inner session runs its handshake over the other
//! end (libssh2 needs a real file descriptor). The jump session belongs to this thread alone.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ssh2::{Channel, Session};

use super::liveness::Heard;

/// A running relay; dropping it asks the thread to stop once the inner session is gone.
pub struct Relay {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Relay {
    /// Start copying between `channel` (of `session`, whose socket is `session_fd`) and
    /// `socket`; `heard` is marked whenever bytes come from the channel.
    pub fn start(
        session: Session,
        session_fd: std::os::unix::io::RawFd,
        channel: Channel,
        socket: UnixStream,
        heard: Arc<Heard>,
    ) -> std::io::Result<Relay> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        socket.set_nonblocking(true)?;
        let thread = std::thread::Builder::new()
            .name("converge-proxyjump".into())
            .spawn(move || copy_loop(session, session_fd, channel, socket, flag, heard))?;
        Ok(Relay {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            // The thread polls at most 200 ms between checks of the flag.
            let _ = t.join();
        }
    }
}

fn copy_loop(
    session: Session,
    session_fd: std::os::unix::io::RawFd,
    mut channel: Channel,
    mut socket: UnixStream,
    stop: Arc<AtomicBool>,
    heard: Arc<Heard>,
) {
    session.set_blocking(false);
    let mut to_channel: Vec<u8> = Vec::new();
    let mut to_socket: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 32 * 1024];
    let mut socket_eof = false;
    let mut channel_eof = false;
    let mut last_keepalive = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        let mut progress = false;
        if !socket_eof && to_channel.len() < 256 * 1024 {
            match socket.read(&mut buf) {
                Ok(0) => socket_eof = true,
                Ok(n) => {
                    to_channel.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => socket_eof = true,
            }
        }
        if !to_channel.is_empty() {
            match channel.write(&to_channel) {
                Ok(n) => {
                    to_channel.drain(..n);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
        if !channel_eof && to_socket.len() < 256 * 1024 {
            match channel.read(&mut buf) {
                Ok(0) => channel_eof = true,
                Ok(n) => {
                    heard.mark();
                    to_socket.extend_from_slice(&buf[..n]);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => channel_eof = true,
            }
        }
        if !to_socket.is_empty() {
            match socket.write(&to_socket) {
                Ok(n) => {
                    to_socket.drain(..n);
                    progress = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
        if (socket_eof && to_channel.is_empty()) || (channel_eof && to_socket.is_empty()) {
            return;
        }
        if last_keepalive.elapsed() > Duration::from_secs(5) {
            let _ = session.keepalive_send();
            last_keepalive = Instant::now();
        }
        if progress {
            continue;
        }
        let mut fds = [
            libc::pollfd {
                fd: socket.as_raw_fd(),
                events: libc::POLLIN
                    | if to_socket.is_empty() {
                        0
                    } else {
                        libc::POLLOUT
                    },
                revents: 0,
            },
            libc::pollfd {
                fd: session_fd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // A pending channel write waits for window space, which arrives as inbound data;
        // the short timeout covers what libssh2 buffered without the socket showing it.
        let ms = if to_channel.is_empty() { 200 } else { 5 };
        // SAFETY: two valid pollfds, the count says 2.
        unsafe {
            libc::poll(fds.as_mut_ptr(), 2, ms);
        }
    }
}
