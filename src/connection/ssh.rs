//! The SSH transport, on libssh2 (the `ssh2` crate).
//!
//! One [`SshConnection`] owns one SSH session and is used by one worker thread (sessions
//! shared between threads corrupt each other). Every operation is one exec on the remote
//! login shell: `run` sends the quoted command line, `read_file` is `cat`, `stat` is `stat`,
//! `write_file` streams the content on stdin into a script that writes a temp file beside the
//! target, validates it, copies mode and owner, backs up and renames. With become, the same
//! lines are wrapped in `sudo`/`su`, so files are written by the become user directly.
//!
//! Connecting follows OpenSSH where it matters to an Ansible user: `~/.ssh/config` (see
//! [`config`]), known_hosts checking with hashed entries (see [`known_hosts`]), ProxyJump
//! chains, and the authentication order ssh-agent, identity files, default keys, password.
//! [`HostKeyChecking::Off`] accepts any host key: it allows a man in the middle to read and
//! change everything the run sends, including become passwords.

pub mod config;
mod exec;
pub mod known_hosts;
mod relay;
mod script;

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use converge_modules::{Command, FileStat, Host, HostError, Output, WriteOptions, WriteOutcome};
use ssh2::{ErrorCode, MethodType, Session};

use self::config::{HostConfig, SshConfig};
use self::exec::{describe, seconds, ExecError};
use self::known_hosts::Verdict;
use self::relay::Relay;
use super::RunLockError;
use super::{Become, Connection, Secret};

/// What to do with the server's host key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyChecking {
    /// Refuse hosts that are not in known_hosts, and changed keys.
    #[default]
    Strict,
    /// Record unknown hosts in known_hosts and continue; refuse changed keys.
    AcceptNew,
    /// Accept any key. Unsafe: a man in the middle sees and changes everything.
    Off,
}

/// Where and how to connect; fields left unset come from `~/.ssh/config`, then defaults.
#[derive(Debug, Clone)]
pub struct SshTarget {
    /// The inventory name (for messages, and matched against `Host` patterns).
    pub name: String,
    /// `ansible_host`, or the name; IPv6 literals allowed, with or without brackets.
    pub address: String,
    /// `ansible_port`; else the config's Port, else 22.
    pub port: Option<u16>,
    /// `ansible_user`; else the config's User, else `$USER`.
    pub user: Option<String>,
    /// `ansible_ssh_private_key_file`: tried after ssh-agent, before the config's keys.
    pub identity_files: Vec<PathBuf>,
    /// The known_hosts file; else the config's UserKnownHostsFile, else `~/.ssh/known_hosts`.
    pub known_hosts: Option<PathBuf>,
    /// The ssh config file; else `~/.ssh/config` when it exists.
    pub ssh_config: Option<PathBuf>,
    /// Host key policy.
    pub host_key_checking: HostKeyChecking,
    /// TCP connect and handshake limit (the config's ConnectTimeout wins when set).
    pub connect_timeout: Duration,
    /// Limit for each blocking operation (a command silent for longer fails).
    pub command_timeout: Duration,
    /// Login password (`--ask-pass`), tried last.
    pub password: Option<Secret>,
    /// Passphrase for encrypted private keys.
    pub passphrase: Option<Secret>,
}

impl SshTarget {
    /// A target with the defaults: port, user and keys from the ssh config, strict host key
    /// checking, 10 s connect timeout, 60 s command timeout.
    pub fn new(name: impl Into<String>) -> SshTarget {
        let name = name.into();
        SshTarget {
            address: name.clone(),
            name,
            port: None,
            user: None,
            identity_files: Vec::new(),
            known_hosts: None,
            ssh_config: None,
            host_key_checking: HostKeyChecking::Strict,
            connect_timeout: Duration::from_secs(10),
            command_timeout: Duration::from_secs(60),
            password: None,
            passphrase: None,
        }
    }
}

/// A connected, authenticated SSH session to one host.
pub struct SshConnection {
    name: String,
    user: String,
    session: Session,
    fd: RawFd,
    command_timeout: Duration,
    become_as: Option<Become>,
    /// Set when the session failed; later operations report the host unreachable.
    broken: Option<String>,
    /// The channel whose `flock` holds converge's per-host run lock; closing the session
    /// (or losing it) ends the process and frees the lock.
    run_lock: Option<ssh2::Channel>,
    /// Sessions of the jump hosts, each served by its relay thread (dropped after `session`).
    _relays: Vec<Relay>,
}

impl std::fmt::Debug for SshConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SshConnection")
            .field("name", &self.name)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// At most this many SSH handshakes in flight in the process (default 8), whatever the
/// number of forks: servers drop unauthenticated connections beyond their MaxStartups.
pub fn set_max_concurrent_handshakes(limit: usize) {
    let (lock, cvar) = &HANDSHAKES;
    if let Ok(mut state) = lock.lock() {
        state.1 = limit.max(1);
        cvar.notify_all();
    }
}

/// (in flight, limit)
static HANDSHAKES: (Mutex<(usize, usize)>, Condvar) = (Mutex::new((0, 8)), Condvar::new());

struct HandshakePermit;

impl HandshakePermit {
    fn acquire() -> HandshakePermit {
        let (lock, cvar) = &HANDSHAKES;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        while state.0 >= state.1 {
            state = cvar.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        state.0 += 1;
        HandshakePermit
    }
}

impl Drop for HandshakePermit {
    fn drop(&mut self) {
        let (lock, cvar) = &HANDSHAKES;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        state.0 = state.0.saturating_sub(1);
        cvar.notify_one();
    }
}

/// One hop: the target or a jump host, with everything resolved.
#[derive(Debug, Clone)]
struct Endpoint {
    label: String,
    address: String,
    port: u16,
    user: String,
    identity_files: Vec<PathBuf>,
    use_agent: bool,
    use_default_keys: bool,
}

struct Settings {
    known_hosts: PathBuf,
    checking: HostKeyChecking,
    connect_timeout: Duration,
    password: Option<Secret>,
    passphrase: Option<Secret>,
}

fn unreachable(reason: impl Into<String>) -> HostError {
    HostError::Unreachable {
        reason: reason.into(),
    }
}

fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn strip_brackets(address: &str) -> &str {
    address
        .strip_prefix('[')
        .and_then(|a| a.strip_suffix(']'))
        .unwrap_or(address)
}

impl SshConnection {
    /// Connect, check the host key and authenticate; errors are [`HostError::Unreachable`]
    /// with a reason that names what failed.
    pub fn connect(target: &SshTarget) -> Result<SshConnection, HostError> {
        let home = home_dir();
        let config_path = target
            .ssh_config
            .clone()
            .unwrap_or_else(|| home.join(".ssh/config"));
        let config = SshConfig::load(&config_path).map_err(|e| {
            unreachable(format!(
                "cannot read ssh config {}: {e}",
                config_path.display()
            ))
        })?;
        let address = strip_brackets(&target.address).to_string();
        let hc = config.lookup(&[target.name.as_str(), address.as_str()], &home);
        let default_user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        let mut identity_files = target.identity_files.clone();
        identity_files.extend(hc.identity_files.iter().cloned());
        let endpoint = Endpoint {
            label: target.name.clone(),
            address: if target.address != target.name {
                address
            } else {
                hc.host_name.clone().unwrap_or(address)
            },
            port: target.port.or(hc.port).unwrap_or(22),
            user: target
                .user
                .clone()
                .or(hc.user.clone())
                .unwrap_or(default_user.clone()),
            use_agent: !hc.identities_only || identity_files.is_empty(),
            use_default_keys: !hc.identities_only,
            identity_files,
        };
        let settings = Settings {
            known_hosts: target
                .known_hosts
                .clone()
                .or(hc.user_known_hosts_file.clone())
                .unwrap_or_else(|| home.join(".ssh/known_hosts")),
            checking: target.host_key_checking,
            connect_timeout: hc.connect_timeout.unwrap_or(target.connect_timeout),
            password: target.password.clone(),
            passphrase: target.passphrase.clone(),
        };
        let jumps: Vec<Endpoint> = match &hc.proxy_jump {
            Some(spec) => spec
                .split(',')
                .map(|hop| jump_endpoint(hop.trim(), &config, &home, &default_user))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };

        let _permit = HandshakePermit::acquire();
        let mut relays = Vec::new();
        let mut previous: Option<(Session, RawFd, String)> = None;
        for hop in jumps.iter().chain(std::iter::once(&endpoint)) {
            let (session, fd) = match previous.take() {
                None => open_direct(hop, &settings)?,
                Some((jump, jump_fd, jump_label)) => {
                    let (session, fd, relay) =
                        open_through(hop, &settings, jump, jump_fd, &jump_label)?;
                    relays.push(relay);
                    (session, fd)
                }
            };
            previous = Some((session, fd, hop.label.clone()));
        }
        let Some((session, fd, _)) = previous else {
            return Err(unreachable("no endpoint to connect to"));
        };
        session.set_timeout(duration_ms(target.command_timeout));
        session.set_keepalive(true, 15);
        Ok(SshConnection {
            name: target.name.clone(),
            user: endpoint.user,
            session,
            fd,
            command_timeout: target.command_timeout,
            become_as: None,
            broken: None,
            run_lock: None,
            _relays: relays,
        })
    }

    /// Take converge's per-host run lock for as long as this session lives: a channel runs
    /// `flock` on the host and keeps it. A second run finds it held and is refused.
    pub fn hold_run_lock(&mut self) -> Result<(), RunLockError> {
        if self.run_lock.is_some() {
            return Ok(());
        }
        let fail = |what: &str, e: ssh2::Error| {
            RunLockError::Host(unreachable(describe(what, &e, self.command_timeout)))
        };
        self.session.set_blocking(true);
        let mut channel = self
            .session
            .channel_session()
            .map_err(|e| fail("open channel", e))?;
        channel
            .exec(&super::run_lock_script())
            .map_err(|e| fail("exec", e))?;
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match std::io::Read::read(&mut channel, &mut byte) {
                Ok(0) => break,
                Ok(_) if byte[0] == b'\n' => break,
                Ok(_) => line.push(byte[0]),
                Err(e) => {
                    return Err(RunLockError::Host(unreachable(format!(
                        "reading the run lock's answer: {e}"
                    ))))
                }
            }
        }
        if line == b"locked" {
            self.run_lock = Some(channel);
            return Ok(());
        }
        let _ = channel.wait_close();
        let status = channel.exit_status().unwrap_or(-1);
        Err(super::run_lock_refusal(
            &self.name,
            status,
            &String::from_utf8_lossy(&line),
        ))
    }

    /// The user this session logged in as.
    pub fn login_user(&self) -> &str {
        &self.user
    }

    /// Run one shell line (wrapped for become), feeding `stdin`.
    fn exec_line(&mut self, line: &str, stdin: &[u8]) -> Result<Output, HostError> {
        if let Some(reason) = &self.broken {
            return Err(unreachable(reason.clone()));
        }
        let wrapped = script::wrap_become(line, self.become_as.as_ref(), &self.user)?;
        match exec::exec(
            &self.session,
            self.fd,
            self.command_timeout,
            &wrapped.line,
            stdin,
            wrapped.handshake.as_ref(),
        ) {
            Ok(output) => Ok(output),
            Err(ExecError::BecomePassword) => Err(HostError::Spawn {
                command: line.to_string(),
                reason: "sudo rejected the become password".into(),
            }),
            Err(ExecError::Session(reason)) => {
                let reason = format!("ssh session to `{}` failed: {reason}", self.name);
                self.broken = Some(reason.clone());
                Err(unreachable(reason))
            }
        }
    }
}

fn duration_ms(d: Duration) -> u32 {
    d.as_millis().min(u32::MAX as u128) as u32
}

/// `[user@]host[:port]` from a ProxyJump list, completed from the config's block for `host`.
fn jump_endpoint(
    spec: &str,
    config: &SshConfig,
    home: &Path,
    default_user: &str,
) -> Result<Endpoint, HostError> {
    let spec = spec.strip_prefix("ssh://").unwrap_or(spec);
    let (user, rest) = match spec.rsplit_once('@') {
        Some((u, r)) => (Some(u.to_string()), r),
        None => (None, spec),
    };
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (h, after) = inner
            .split_once(']')
            .ok_or_else(|| unreachable(format!("invalid ProxyJump host `{spec}`")))?;
        (h.to_string(), after.strip_prefix(':').map(str::to_string))
    } else if rest.matches(':').count() == 1 {
        let (h, p) = rest.split_once(':').unwrap_or((rest, ""));
        (h.to_string(), Some(p.to_string()))
    } else {
        (rest.to_string(), None)
    };
    let port = match port {
        Some(p) => Some(
            p.parse::<u16>()
                .map_err(|_| unreachable(format!("invalid port in ProxyJump `{spec}`")))?,
        ),
        None => None,
    };
    let hc: HostConfig = config.lookup(&[host.as_str()], home);
    Ok(Endpoint {
        label: host.clone(),
        address: hc.host_name.clone().unwrap_or(host),
        port: port.or(hc.port).unwrap_or(22),
        user: user
            .or(hc.user.clone())
            .unwrap_or_else(|| default_user.to_string()),
        use_agent: !hc.identities_only || hc.identity_files.is_empty(),
        use_default_keys: !hc.identities_only,
        identity_files: hc.identity_files,
    })
}

/// TCP connect (with timeout, TCP_NODELAY), then handshake, host key and authentication; a
/// dropped banner or handshake is retried up to 3 attempts.
fn open_direct(ep: &Endpoint, settings: &Settings) -> Result<(Session, RawFd), HostError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let stream = tcp_connect(ep, settings.connect_timeout)?;
        let fd = stream.as_raw_fd();
        let mut session = Session::new().map_err(|e| unreachable(e.to_string()))?;
        session.set_tcp_stream(stream);
        match handshake(&mut session, ep, settings) {
            Ok(()) => {
                authenticate(&session, ep, settings)?;
                return Ok((session, fd));
            }
            Err(Handshake::Retry(reason)) if attempt < 3 => {
                let _ = reason;
                std::thread::sleep(Duration::from_millis(100 * (1 << attempt)));
            }
            Err(Handshake::Retry(reason)) | Err(Handshake::Fatal(reason)) => {
                return Err(unreachable(reason))
            }
        }
    }
}

/// The same over a direct-tcpip channel of the previous hop's session.
fn open_through(
    ep: &Endpoint,
    settings: &Settings,
    jump: Session,
    jump_fd: RawFd,
    jump_label: &str,
) -> Result<(Session, RawFd, Relay), HostError> {
    let channel = jump
        .channel_direct_tcpip(&ep.address, ep.port, None)
        .map_err(|e| {
            unreachable(format!(
                "connect to {} through jump host `{jump_label}`: {}",
                display_addr(&ep.address, ep.port),
                e.message().to_lowercase()
            ))
        })?;
    let (ours, theirs) =
        UnixStream::pair().map_err(|e| unreachable(format!("socket pair: {e}")))?;
    let relay = Relay::start(jump, jump_fd, channel, theirs)
        .map_err(|e| unreachable(format!("start ProxyJump relay: {e}")))?;
    let fd = ours.as_raw_fd();
    let mut session = Session::new().map_err(|e| unreachable(e.to_string()))?;
    session.set_tcp_stream(ours);
    match handshake(&mut session, ep, settings) {
        Ok(()) => {}
        Err(Handshake::Retry(reason)) | Err(Handshake::Fatal(reason)) => {
            return Err(unreachable(reason))
        }
    }
    authenticate(&session, ep, settings)?;
    Ok((session, fd, relay))
}

fn display_addr(address: &str, port: u16) -> String {
    if address.contains(':') {
        format!("[{address}]:{port}")
    } else {
        format!("{address}:{port}")
    }
}

fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    text.to_lowercase()
}

fn tcp_connect(ep: &Endpoint, timeout: Duration) -> Result<TcpStream, HostError> {
    let shown = display_addr(&ep.address, ep.port);
    let addrs: Vec<SocketAddr> = (ep.address.as_str(), ep.port)
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("resolve `{}`: {}", ep.address, io_reason(&e))))?
        .collect();
    let deadline = Instant::now() + timeout;
    let mut last = unreachable(format!("resolve `{}`: no address", ep.address));
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(stream) => {
                stream
                    .set_nodelay(true)
                    .map_err(|e| unreachable(format!("connect to {addr}: {}", io_reason(&e))))?;
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                last = unreachable(format!(
                    "connect to {shown}: timed out after {}",
                    seconds(timeout)
                ));
            }
            Err(e) => last = unreachable(format!("connect to {addr}: {}", io_reason(&e))),
        }
    }
    Err(last)
}

enum Handshake {
    /// The server dropped the connection during banner or key exchange (MaxStartups, load).
    Retry(String),
    /// Timeouts and host key refusals.
    Fatal(String),
}

fn handshake(session: &mut Session, ep: &Endpoint, settings: &Settings) -> Result<(), Handshake> {
    session.set_timeout(duration_ms(settings.connect_timeout));
    let key_name = known_hosts::host_key_name(&ep.address, ep.port);
    let text = match std::fs::read_to_string(&settings.known_hosts) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Handshake::Fatal(format!(
                "cannot read {}: {e}",
                settings.known_hosts.display()
            )))
        }
    };
    let entries = known_hosts::entries_for(&text, &key_name);
    if settings.checking != HostKeyChecking::Off {
        if let Some(known) = known_hosts::host_key_methods(&entries) {
            // Known types first, then the rest: a server that lost the known key still shows
            // its new one, so the refusal can say which line is stale.
            let mut prefs: Vec<String> = known.split(',').map(str::to_string).collect();
            if let Ok(all) = session.supported_algs(MethodType::HostKey) {
                for alg in all {
                    if !prefs.iter().any(|p| p == alg) {
                        prefs.push(alg.to_string());
                    }
                }
            }
            let _ = session.method_pref(MethodType::HostKey, &prefs.join(","));
        }
    }
    if let Err(e) = session.handshake() {
        let reason = format!(
            "ssh handshake with `{}` ({}): {}",
            ep.label,
            display_addr(&ep.address, ep.port),
            describe("", &e, settings.connect_timeout).trim_start_matches(": ")
        );
        return Err(if e.code() == ErrorCode::Session(-9) {
            Handshake::Fatal(reason)
        } else {
            Handshake::Retry(reason)
        });
    }
    let Some((key, _)) = session.host_key() else {
        return Err(Handshake::Fatal(format!("`{}` sent no host key", ep.label)));
    };
    let key = key.to_vec();
    let file = settings.known_hosts.display();
    match (settings.checking, known_hosts::check(&entries, &key)) {
        (HostKeyChecking::Off, _) | (_, Verdict::Match) => Ok(()),
        (_, Verdict::Mismatch { line }) => Err(Handshake::Fatal(format!(
            "host key for `{}` ({key_name}) has CHANGED and does not match {file}:{line}; \
             if the host was reinstalled, remove the stale entry with `ssh-keygen -R '{key_name}' -f {file}`, \
             otherwise someone may be intercepting the connection",
            ep.label
        ))),
        (HostKeyChecking::Strict, Verdict::NotFound) => Err(Handshake::Fatal(format!(
            "host key for `{}` ({key_name}) is not known; add it to {file} or run with --host-key-checking accept-new",
            ep.label
        ))),
        (HostKeyChecking::AcceptNew, Verdict::NotFound) => {
            known_hosts::append(&settings.known_hosts, &key_name, &key).map_err(|e| {
                Handshake::Fatal(format!("cannot record the host key of `{}` in {file}: {e}", ep.label))
            })
        }
    }
}

fn authenticate(session: &Session, ep: &Endpoint, settings: &Settings) -> Result<(), HostError> {
    let mut tried: Vec<String> = Vec::new();
    if ep.use_agent && std::env::var_os("SSH_AUTH_SOCK").is_some() {
        tried.push("ssh-agent".into());
        if session.userauth_agent(&ep.user).is_ok() && session.authenticated() {
            return Ok(());
        }
    }
    let mut keys: Vec<(PathBuf, bool)> = ep
        .identity_files
        .iter()
        .map(|p| (p.clone(), true))
        .collect();
    if ep.use_default_keys {
        let ssh_dir = home_dir().join(".ssh");
        for name in ["id_ed25519", "id_ecdsa", "id_rsa"] {
            keys.push((ssh_dir.join(name), false));
        }
    }
    let mut seen: Vec<PathBuf> = Vec::new();
    for (key, explicit) in keys {
        if seen.contains(&key) {
            continue;
        }
        seen.push(key.clone());
        if !key.exists() {
            if explicit {
                tried.push(format!("{} (missing)", key.display()));
            }
            continue;
        }
        let public = PathBuf::from(format!("{}.pub", key.display()));
        let public = public.exists().then_some(public);
        let passphrase = settings.passphrase.as_ref().map(|s| s.0.as_str());
        match session.userauth_pubkey_file(&ep.user, public.as_deref(), &key, passphrase) {
            Ok(()) if session.authenticated() => return Ok(()),
            Err(e) if e.code() == ErrorCode::Session(-16) => {
                // LIBSSH2_ERROR_FILE: unreadable or encrypted without the right passphrase.
                tried.push(format!("{} (cannot load: {})", key.display(), e.message()));
            }
            _ => tried.push(key.display().to_string()),
        }
    }
    if let Some(password) = &settings.password {
        tried.push("password".into());
        if session.userauth_password(&ep.user, &password.0).is_ok() && session.authenticated() {
            return Ok(());
        }
    }
    Err(unreachable(if tried.is_empty() {
        format!(
            "permission denied for {}@{}: no ssh-agent, identity file or password to try",
            ep.user, ep.label
        )
    } else {
        format!(
            "permission denied for {}@{}: tried {}",
            ep.user,
            ep.label,
            tried.join(", ")
        )
    }))
}

impl Host for SshConnection {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&mut self, command: &Command) -> Result<Output, HostError> {
        let line = script::command_line(command)?;
        self.exec_line(&line, command.stdin.as_deref().unwrap_or_default())
    }

    fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        let out = self.exec_line(&script::read_file(path), &[])?;
        match out.status {
            0 => Ok(Some(out.stdout)),
            script::ABSENT if out.stderr.is_empty() => Ok(None),
            status => Err(file_error("read", path, &out, status)),
        }
    }

    fn stat(&mut self, path: &str) -> Result<Option<FileStat>, HostError> {
        let out = self.exec_line(&script::stat(path), &[])?;
        match out.status {
            0 => script::parse_stat(path, &out.stdout_text()).map(Some),
            script::ABSENT if out.stderr.is_empty() => Ok(None),
            status => Err(file_error("stat", path, &out, status)),
        }
    }

    fn stat_and_read(
        &mut self,
        path: &str,
    ) -> Result<(Option<FileStat>, Option<Vec<u8>>), HostError> {
        let out = self.exec_line(&script::stat_and_read(path), &[])?;
        match out.status {
            0 => {
                let (head, content) =
                    script::split_stat_and_content(&out.stdout).ok_or_else(|| HostError::File {
                        operation: "stat",
                        path: path.to_string(),
                        reason: "unexpected output from stat".into(),
                    })?;
                let stat = script::parse_stat(path, &head)?;
                let content = match stat.kind {
                    converge_modules::FileKind::File => Some(content.to_vec()),
                    converge_modules::FileKind::Symlink { .. } if !content.is_empty() => {
                        Some(content.to_vec())
                    }
                    converge_modules::FileKind::Symlink { .. } => {
                        // A link to an empty file and a dangling link print the same.
                        self.read_file(path)?
                    }
                    _ => None,
                };
                Ok((Some(stat), content))
            }
            script::ABSENT if out.stderr.is_empty() => Ok((None, None)),
            status => Err(file_error("stat", path, &out, status)),
        }
    }

    fn write_file(
        &mut self,
        path: &str,
        content: &[u8],
        options: &WriteOptions,
    ) -> Result<WriteOutcome, HostError> {
        let (line, temp) = script::write_file(path, options, content.len())?;
        let out = self.exec_line(&line, content)?;
        script::write_outcome(
            path,
            &temp,
            options,
            out.status,
            &out.stdout_text(),
            &out.stderr_text(),
        )
    }

    fn remove(&mut self, path: &str) -> Result<(), HostError> {
        let out = self.exec_line(&script::remove(path), &[])?;
        if out.success() {
            Ok(())
        } else {
            Err(file_error("remove", path, &out, out.status))
        }
    }
}

fn file_error(operation: &'static str, path: &str, out: &Output, status: i32) -> HostError {
    let text = out.stderr_text();
    HostError::File {
        operation,
        path: path.to_string(),
        reason: if text.trim().is_empty() {
            format!("exited with status {status}")
        } else {
            text.trim().to_string()
        },
    }
}

impl Connection for SshConnection {
    fn set_become(&mut self, become_as: Option<Become>) {
        self.become_as = become_as;
    }

    fn hold_run_lock(&mut self) -> Result<(), RunLockError> {
        SshConnection::hold_run_lock(self)
    }
}
