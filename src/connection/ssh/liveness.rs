//! Finding a dead link by SSH keepalives, as OpenSSH's client does with ServerAliveInterval and
//! ServerAliveCountMax, not by a command being silent: `newaliases` waiting a minute on DNS
//! prints nothing and must not make its host unreachable.
//!
//! While a command runs, a keepalive (`keepalive@openssh.com`, which the server must answer) is
//! sent every interval. The link is dead when nothing at all has come from the server for
//! `(count_max + 1) × interval`: OpenSSH's client counts one unanswered keepalive per silent
//! interval and gives up when the count passes ServerAliveCountMax. When the server was last
//! heard from is read from the kernel for a TCP socket (`TCP_INFO`'s time since the last data
//! segment), and kept by the relay thread for ProxyJump and ProxyCommand links.

use std::os::unix::io::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shortest interval libssh2 keeps (it turns 1 s into 2 s).
const MIN_INTERVAL: u32 = 2;
/// Keepalive interval unless ServerAliveInterval says otherwise.
pub const DEFAULT_INTERVAL: u32 = 15;
/// Unanswered keepalives before the link is dead, unless ServerAliveCountMax says otherwise
/// (OpenSSH's default).
pub const DEFAULT_COUNT_MAX: u32 = 3;

/// The keepalive settings of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keepalive {
    /// Seconds between keepalives while the session is silent.
    pub interval: u32,
    /// Unanswered keepalives that make the link dead.
    pub count_max: u32,
}

impl Keepalive {
    /// From ServerAliveInterval and ServerAliveCountMax; `None` when the interval is 0 (as in
    /// OpenSSH, no keepalives: a dead link is then found only by the TCP stack). libssh2 sends
    /// at most one keepalive every 2 s, so a 1 s interval counts as 2 s.
    pub fn from_options(interval: Option<u32>, count_max: Option<u32>) -> Option<Keepalive> {
        let interval = interval.unwrap_or(DEFAULT_INTERVAL);
        (interval > 0).then(|| Keepalive {
            interval: interval.max(MIN_INTERVAL),
            count_max: count_max.unwrap_or(DEFAULT_COUNT_MAX),
        })
    }

    /// Silence after which the link is dead.
    pub fn dead_after(&self) -> Duration {
        Duration::from_secs(u64::from(self.interval) * (u64::from(self.count_max) + 1))
    }

    /// The reason given when the link is found dead.
    pub fn dead_reason(&self, silence: Duration) -> String {
        format!(
            "no answer from the host for {} s ({} keepalives sent every {} s went unanswered); the link is down",
            silence.as_secs(),
            self.count_max,
            self.interval
        )
    }
}

/// When the server was last heard from, shared with the thread that relays a piped link.
#[derive(Debug)]
pub struct Heard {
    start: Instant,
    millis: AtomicU64,
}

impl Heard {
    /// Heard just now.
    pub fn new() -> Arc<Heard> {
        Arc::new(Heard {
            start: Instant::now(),
            millis: AtomicU64::new(0),
        })
    }

    /// Bytes arrived from the server.
    pub fn mark(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.millis.store(now, Ordering::Relaxed);
    }

    /// Time since bytes last arrived.
    pub fn silence(&self) -> Duration {
        let last = Duration::from_millis(self.millis.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
}

/// Where to learn how long the server has been silent.
#[derive(Debug, Clone)]
pub enum Liveness {
    /// A TCP socket: the kernel knows when the last data segment arrived.
    Tcp(RawFd),
    /// A socket pair fed by a relay thread, which marks what it receives.
    Relayed(Arc<Heard>),
}

impl Liveness {
    /// How long nothing has come from the server; `None` if that cannot be known.
    pub fn silence(&self) -> Option<Duration> {
        match self {
            Liveness::Tcp(fd) => tcp_silence(*fd),
            Liveness::Relayed(heard) => Some(heard.silence()),
        }
    }
}

#[cfg(target_os = "linux")]
fn tcp_silence(fd: RawFd) -> Option<Duration> {
    // SAFETY: tcp_info is plain old data; zeroed is a valid value.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the pointer and length describe `info`, which outlives the call.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (rc == 0).then(|| Duration::from_millis(u64::from(info.tcpi_last_data_recv)))
}

#[cfg(not(target_os = "linux"))]
fn tcp_silence(_fd: RawFd) -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_openssh_bound() {
        let k = Keepalive::from_options(None, None).expect("on by default");
        assert_eq!((k.interval, k.count_max), (15, 3));
        assert_eq!(k.dead_after(), Duration::from_secs(60));
        let k = Keepalive::from_options(Some(2), Some(1)).expect("on");
        assert_eq!(k.dead_after(), Duration::from_secs(4));
        assert_eq!(Keepalive::from_options(Some(0), Some(3)), None);
        assert_eq!(
            Keepalive::from_options(Some(1), Some(1)).map(|k| k.interval),
            Some(2)
        );
    }

    #[test]
    fn tcp_silence_counts_from_the_last_data_received() {
        use std::io::{Read, Write};
        use std::os::unix::io::AsRawFd;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut client =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (mut server, _) = listener.accept().expect("accept");
        server.write_all(b"x").expect("write");
        let mut byte = [0u8; 1];
        client.read_exact(&mut byte).expect("read");
        std::thread::sleep(Duration::from_millis(300));
        let silence = Liveness::Tcp(client.as_raw_fd())
            .silence()
            .expect("TCP_INFO");
        assert!(silence >= Duration::from_millis(250), "{silence:?}");
        server.write_all(b"y").expect("write");
        client.read_exact(&mut byte).expect("read");
        let silence = Liveness::Tcp(client.as_raw_fd())
            .silence()
            .expect("TCP_INFO");
        assert!(silence < Duration::from_millis(200), "{silence:?}");
    }
}
