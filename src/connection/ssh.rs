//! The SSH transport, on libssh2 (the `ssh2` crate).
//!
//! One [`SshConnection`] owns one SSH session and is used by one worker thread (sessions
//! shared between threads corrupt each other). Every operation is one request to the host's
//! long-lived shell (see [`shell`]; one exec channel for the whole run): `run` sends the quoted
//! command line, `read_file` is `cat`, `stat` is `stat`, `write_file` sends the content as the
//! request's payload to a script that writes a temp file beside the target, validates it,
//! copies mode and owner, backs up and renames. With become, the requests go to a second shell
//! started once through `sudo`/`su`, so files are written by the become user directly.
//!
//! Connecting follows OpenSSH where it matters to an Ansible user: the client options of
//! `ansible_ssh_common_args` and `~/.ssh/config` (see [`config`]), known_hosts checking in the
//! user's then the global files with hashed entries (see [`known_hosts`]), ProxyJump chains,
//! ProxyCommand, the algorithm lists, and the authentication order ssh-agent, identity files,
//! default keys, password. A dead link is found by keepalives, not by a silent command (see
//! [`liveness`]). [`HostKeyChecking::Off`] accepts changed host keys: it allows a man in the
//! middle to read and change everything the run sends, including become passwords.

pub mod config;
mod exec;
pub mod known_hosts;
pub mod liveness;
mod proxy_command;
mod relay;
mod script;
pub mod shell;

use std::cell::RefCell;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::io::{AsRawFd, RawFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use self::script::PathRead;
use converge_modules::{
    Command, FileStat, Host, HostError, Output, Read, WriteOptions, WriteOutcome,
};
use ssh2::{ErrorCode, MethodType, Session};

use self::config::{algorithm_list, AddressFamily, HostConfig, Proxy, SshConfig};
use self::exec::{blocking_timeout_ms, describe, seconds, ExecError, Limits};
use self::known_hosts::Verdict;
use self::liveness::{Heard, Keepalive, Liveness};
use self::proxy_command::ProxyCommand;
use self::relay::Relay;
use self::shell::{Kind, Link, Password, Shell, Started};
use super::{Become, Connection, RoundTrips, Secret};
use super::{BecomeMethod, RunLockError};

/// What to do with the server's host key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HostKeyChecking {
    /// Refuse hosts that are not in known_hosts, and changed keys (`StrictHostKeyChecking
    /// yes`).
    #[default]
    Strict,
    /// Record unknown hosts in known_hosts and continue; refuse changed keys.
    AcceptNew,
    /// OpenSSH's `StrictHostKeyChecking no`, which Ansible's `host_key_checking = False`
    /// sets: record unknown hosts, accept a changed key with a warning and without password
    /// authentication. Unsafe: a man in the middle sees and changes everything.
    Off,
}

/// Where and how to connect; fields left unset come from [`SshTarget::options`], then
/// `~/.ssh/config`, then defaults.
#[derive(Debug, Clone)]
pub struct SshTarget {
    /// The inventory name (for messages, and matched against `Host` patterns).
    pub name: String,
    /// `ansible_host`, or the name; IPv6 literals allowed, with or without brackets.
    pub address: String,
    /// `ansible_port`; else the options' or config's Port, else 22.
    pub port: Option<u16>,
    /// `ansible_user`; else the options' or config's User, else `$USER`.
    pub user: Option<String>,
    /// `ansible_ssh_private_key_file`: tried after ssh-agent, before the options' and config's
    /// keys.
    pub identity_files: Vec<PathBuf>,
    /// The known_hosts file; else UserKnownHostsFile, else `~/.ssh/known_hosts` and
    /// `~/.ssh/known_hosts2`. GlobalKnownHostsFile (default `/etc/ssh/ssh_known_hosts` and
    /// `…2`) is read after it.
    pub known_hosts: Option<PathBuf>,
    /// The ssh config file; else `~/.ssh/config` when it exists.
    pub ssh_config: Option<PathBuf>,
    /// Host key policy (`--host-key-checking`, `ansible_host_key_checking`); else the
    /// StrictHostKeyChecking of the options or config; else strict.
    pub host_key_checking: Option<HostKeyChecking>,
    /// TCP connect and handshake limit (`-T`); else ConnectTimeout; else 10 s.
    pub connect_timeout: Option<Duration>,
    /// `--command-timeout`: a command silent this long fails the host. `None` (the default, as
    /// in Ansible): commands may be silent as long as the link answers keepalives.
    pub command_timeout: Option<Duration>,
    /// OpenSSH client options given as arguments (`-o`, `-J`, `-C`… in
    /// `ansible_ssh_common_args`); they come before `~/.ssh/config`, and the first value wins.
    pub options: HostConfig,
    /// Login password (`--ask-pass`, `ansible_password`), tried last.
    pub password: Option<Secret>,
    /// Passphrase for encrypted private keys.
    pub passphrase: Option<Secret>,
}

/// Connect timeout unless `-T` or ConnectTimeout say otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl SshTarget {
    /// A target with the defaults: port, user, keys and options from the ssh config, strict
    /// host key checking, 10 s connect timeout, no command timeout.
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
            host_key_checking: None,
            connect_timeout: None,
            command_timeout: None,
            options: HostConfig::default(),
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
    liveness: Liveness,
    limits: Limits,
    become_as: Option<Become>,
    /// Set when the session failed; later operations report the host unreachable.
    broken: Option<String>,
    /// Whether the login shell holds converge's per-host run lock (its fd 9); closing the
    /// session (or losing it) ends the shell and frees the lock.
    run_lock: bool,
    /// The login user's shell (key `None`) and one per become user, each on its own
    /// channel, started on first use and kept for the session.
    shells: Vec<(ShellKey, Shell)>,
    /// Channels opened and requests sent, with each request's command (for `-vv`).
    round_trips: RoundTrips,
    /// Answers of reads made ahead ([`Connection::read_ahead`]), by shell and line, kept
    /// until anything else runs on the host.
    kept: Vec<(ShellKey, String, Output)>,
    /// Options accepted without effect, and other facts worth a line with `-v`.
    notes: Vec<String>,
    /// What must be shown even without `-v` (a changed host key accepted).
    warnings: Vec<String>,
    /// Sessions of the jump hosts, each served by its relay thread (dropped after `session`).
    _relays: Vec<Relay>,
    /// The ProxyCommand the session runs over (dropped after `session`).
    _proxy: Option<ProxyCommand>,
}

/// How long freeing a broken session's channels may wait for the host (milliseconds).
const FREE_ON_DEAD_LINK_MS: u32 = 100;

/// Which shell a request goes to: the login user's (`None`) or a become user's.
type ShellKey = Option<(String, BecomeMethod)>;

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
    /// HostKeyAlias (the target only).
    host_key_alias: Option<String>,
}

struct Settings {
    /// User known_hosts files; new keys are recorded in the first.
    user_known_hosts: Vec<PathBuf>,
    global_known_hosts: Vec<PathBuf>,
    checking: HostKeyChecking,
    connect_timeout: Duration,
    password: Option<Secret>,
    passphrase: Option<Secret>,
    host_key_algorithms: Option<String>,
    kex_algorithms: Option<String>,
    ciphers: Option<String>,
    macs: Option<String>,
    pubkey_accepted_algorithms: Option<String>,
    pubkey_authentication: bool,
    compression: bool,
    address_family: Option<AddressFamily>,
    notes: RefCell<Vec<String>>,
    warnings: RefCell<Vec<String>>,
    /// Set when a changed host key was accepted (checking off): as OpenSSH, no password is
    /// then sent to what may be a man in the middle.
    no_password: std::cell::Cell<bool>,
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

/// A session ready for the handshake, with what keeps its transport alive.
struct Opened {
    session: Session,
    fd: RawFd,
    liveness: Liveness,
    relay: Option<Relay>,
    proxy: Option<ProxyCommand>,
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
        let mut hc = target.options.clone();
        config.apply(&mut hc, &[target.name.as_str(), address.as_str()], &home);
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
            host_key_alias: hc.host_key_alias.clone(),
        };
        let user_known_hosts = match &target.known_hosts {
            Some(file) => vec![file.clone()],
            None if !hc.user_known_hosts_files.is_empty() => hc.user_known_hosts_files.clone(),
            None => vec![
                home.join(".ssh/known_hosts"),
                home.join(".ssh/known_hosts2"),
            ],
        };
        let global_known_hosts = if hc.global_known_hosts_files.is_empty() {
            vec![
                PathBuf::from("/etc/ssh/ssh_known_hosts"),
                PathBuf::from("/etc/ssh/ssh_known_hosts2"),
            ]
        } else {
            hc.global_known_hosts_files.clone()
        };
        let settings = Settings {
            user_known_hosts,
            global_known_hosts,
            checking: target
                .host_key_checking
                .or(hc.strict_host_key_checking)
                .unwrap_or_default(),
            connect_timeout: target
                .connect_timeout
                .or(hc.connect_timeout)
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            password: if hc.password_authentication == Some(false) {
                None
            } else {
                target.password.clone()
            },
            passphrase: target.passphrase.clone(),
            host_key_algorithms: hc.host_key_algorithms.clone(),
            kex_algorithms: hc.kex_algorithms.clone(),
            ciphers: hc.ciphers.clone(),
            macs: hc.macs.clone(),
            pubkey_accepted_algorithms: hc.pubkey_accepted_algorithms.clone(),
            pubkey_authentication: hc.pubkey_authentication != Some(false),
            compression: hc.compression == Some(true),
            address_family: hc.address_family,
            notes: RefCell::new(std::mem::take(&mut hc.notes)),
            warnings: RefCell::new(Vec::new()),
            no_password: std::cell::Cell::new(false),
        };
        let (jumps, proxy_command): (Vec<Endpoint>, Option<String>) = match &hc.proxy {
            Some(Proxy::Jump(spec)) => (
                spec.split(',')
                    .map(|hop| jump_endpoint(hop.trim(), &config, &home, &default_user))
                    .collect::<Result<_, _>>()?,
                None,
            ),
            Some(Proxy::Command(command)) => (Vec::new(), Some(command.clone())),
            Some(Proxy::None) | None => (Vec::new(), None),
        };

        let _permit = HandshakePermit::acquire();
        let mut relays = Vec::new();
        let mut proxy = None;
        let mut previous: Option<(Session, RawFd, Liveness, String)> = None;
        for hop in jumps.iter().chain(std::iter::once(&endpoint)) {
            let opened = match previous.take() {
                None => match &proxy_command {
                    Some(command) => open_proxied(hop, &settings, command, &target.name)?,
                    None => open_direct(hop, &settings)?,
                },
                Some((jump, jump_fd, _, jump_label)) => {
                    open_through(hop, &settings, jump, jump_fd, &jump_label)?
                }
            };
            relays.extend(opened.relay);
            if opened.proxy.is_some() {
                proxy = opened.proxy;
            }
            previous = Some((
                opened.session,
                opened.fd,
                opened.liveness,
                hop.label.clone(),
            ));
        }
        let Some((session, fd, liveness, _)) = previous else {
            return Err(unreachable("no endpoint to connect to"));
        };
        let keepalive =
            Keepalive::from_options(hc.server_alive_interval, hc.server_alive_count_max);
        let limits = Limits {
            command_timeout: target.command_timeout,
            keepalive,
        };
        session.set_timeout(blocking_timeout_ms(&limits));
        // No libssh2 keepalive interval: with one, libssh2 ends a blocking call with a timeout
        // as soon as an interval passes in silence. The exec loop sends keepalives itself.
        session.set_keepalive(true, 0);
        Ok(SshConnection {
            name: target.name.clone(),
            user: endpoint.user,
            session,
            fd,
            liveness,
            limits,
            become_as: None,
            broken: None,
            run_lock: false,
            shells: Vec::new(),
            round_trips: RoundTrips::default(),
            kept: Vec::new(),
            notes: settings.notes.into_inner(),
            warnings: settings.warnings.into_inner(),
            _relays: relays,
            _proxy: proxy,
        })
    }

    /// Take converge's per-host run lock for as long as this session lives: the login shell
    /// opens the lock file on its fd 9 and `flock`s it. A second run finds it held and is
    /// refused.
    pub fn hold_run_lock(&mut self) -> Result<(), RunLockError> {
        if self.run_lock {
            return Ok(());
        }
        let out = self.request(None, Kind::Main, &super::run_lock_fd_script(), &[])?;
        if out.status == 0 {
            self.run_lock = true;
            return Ok(());
        }
        Err(super::run_lock_refusal(
            &self.name,
            out.status,
            &out.stderr_text(),
        ))
    }

    /// The user this session logged in as.
    pub fn login_user(&self) -> &str {
        &self.user
    }

    /// SSH options accepted without effect and other facts about the connection, one line
    /// each, for `-v`.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// What the user must see even without `-v` (a changed host key accepted because host key
    /// checking is off).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Channels opened and requests sent so far, with each request's command.
    pub fn round_trips(&self) -> &RoundTrips {
        &self.round_trips
    }

    /// Run one shell line in the shell of the become user (or the login user's), feeding
    /// `stdin`.
    fn exec_line(&mut self, line: &str, stdin: &[u8]) -> Result<Output, HostError> {
        if let Some(answer) = self.kept_answer(line, stdin) {
            return Ok(answer);
        }
        // Anything but a read made ahead may change what those reads saw.
        self.kept.clear();
        let key = self.shell_key();
        self.request(key, Kind::Command, line, stdin)
    }

    /// One of the transport's own reads (a stat, a file's content), which changes nothing:
    /// answered from the reads made ahead when it is one of them, and keeping them otherwise.
    fn read_line(&mut self, line: &str) -> Result<Output, HostError> {
        self.read_line_sent_as(line, line)
    }

    /// [`SshConnection::read_line`] for a read known by `line` (its answer's key) that is
    /// sent to the host as `sent`.
    fn read_line_sent_as(&mut self, line: &str, sent: &str) -> Result<Output, HostError> {
        if let Some(answer) = self.kept_answer(line, &[]) {
            return Ok(answer);
        }
        let key = self.shell_key();
        self.request(key, Kind::Read, sent, &[])
    }

    fn kept_answer(&mut self, line: &str, stdin: &[u8]) -> Option<Output> {
        if !stdin.is_empty() || self.kept.is_empty() {
            return None;
        }
        let key = self.shell_key();
        let answer = self
            .kept
            .iter()
            .find(|(k, l, _)| *k == key && l == line)
            .map(|(_, _, answer)| answer.clone())?;
        self.round_trips.answered_ahead += 1;
        Some(answer)
    }

    /// The shell of the current become user (`None`: the login user's).
    fn shell_key(&self) -> ShellKey {
        self.become_as
            .as_ref()
            .filter(|b| b.user != self.user)
            .map(|b| (b.user.clone(), b.method))
    }

    /// [`Connection::read_ahead`]: the reads, each as the line its `Host` method would send,
    /// in one request; the answers are kept for that line.
    fn read_lines_ahead(&mut self, reads: &[Read]) -> Result<(), HostError> {
        self.kept.clear();
        // Each read: the line its `Host` method sends (the answer's key), and how the batch
        // makes it.
        let mut batch: Vec<(String, shell::BatchRead)> = Vec::new();
        for read in reads {
            let (line, run, path) = match read {
                Read::File(path) => (
                    script::read_file(path),
                    None,
                    Some((path, PathRead::Content)),
                ),
                Read::Stat(path) => (script::stat(path), None, Some((path, PathRead::Stat))),
                Read::StatAndRead(path) => (
                    script::stat_and_read(path),
                    None,
                    Some((path, PathRead::StatAndContent)),
                ),
                Read::Run(command) if command.stdin.is_none() => {
                    match script::command_line(command) {
                        Ok(line) => (line, script::inline_line(command), None),
                        // `run` reports it, if the plan gets there.
                        Err(_) => continue,
                    }
                }
                Read::Run(_) => continue,
            };
            if batch.iter().any(|(known, _)| *known == line) {
                continue;
            }
            let read = shell::BatchRead {
                line: run.unwrap_or_else(|| line.clone()),
                path: path.map(|(path, how)| (path.clone(), how)),
            };
            batch.push((line, read));
        }
        // A read alone gains nothing: the plan makes it in a round trip of its own.
        if batch.len() < 2 {
            return Ok(());
        }
        let mark = shell::new_mark();
        let runs: Vec<shell::BatchRead> = batch.iter().map(|(_, read)| read.clone()).collect();
        let script = shell::batch_script(&runs, &mark);
        let key = self.shell_key();
        let out = self.request(key.clone(), Kind::Read, &script, &[])?;
        // A batch that did not answer whole keeps nothing: each read is made again, alone.
        if out.status == 0 {
            if let Some(answers) = shell::split_batch(out.stdout, &mark, &runs) {
                for ((line, _), answer) in batch.into_iter().zip(answers) {
                    if let Some(answer) = answer {
                        self.kept.push((key.clone(), line, answer));
                    }
                }
            }
        }
        Ok(())
    }

    /// One request to the shell for `key`, started first if need be. A become shell that
    /// sudo or su refused to start answers with the launcher's own status and output, as
    /// the command would have.
    fn request(
        &mut self,
        key: Option<(String, BecomeMethod)>,
        kind: Kind,
        line: &str,
        stdin: &[u8],
    ) -> Result<Output, HostError> {
        if let Some(reason) = &self.broken {
            return Err(unreachable(reason.clone()));
        }
        let index = match self.shells.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => match self.start_shell(&key) {
                Ok(Started::Ready(shell)) => {
                    self.shells.push((key.clone(), shell));
                    self.shells.len() - 1
                }
                Ok(Started::Refused(output)) => return Ok(output),
                Err(e) => return Err(self.exec_failure(line, e)),
            },
        };
        let who = key.as_ref().map_or(self.user.as_str(), |(u, _)| u.as_str());
        self.round_trips.requests += 1;
        self.round_trips
            .commands
            .push(format!("[{who}] {}", shown_command(line, stdin.len())));
        let link = Link {
            session: &self.session,
            fd: self.fd,
            liveness: &self.liveness,
            limits: &self.limits,
        };
        match self.shells[index].1.request(link, kind, line, stdin) {
            Ok(output) => Ok(output),
            Err(e) => Err(self.exec_failure(line, e)),
        }
    }

    fn start_shell(&mut self, key: &Option<(String, BecomeMethod)>) -> Result<Started, ExecError> {
        let nonce = script::nonce();
        let become_as = match key {
            None => None,
            Some(_) => self.become_as.clone(),
        };
        let (line, handshake) = match &become_as {
            None => (shell::login_line(&nonce), None),
            Some(b) => {
                let wrapped = script::wrap_become(&shell::loop_script(&nonce), Some(b), &self.user)
                    .map_err(|e| ExecError::Session(e.to_string()))?;
                (wrapped.line, wrapped.handshake)
            }
        };
        self.round_trips.channels += 1;
        let link = Link {
            session: &self.session,
            fd: self.fd,
            liveness: &self.liveness,
            limits: &self.limits,
        };
        Shell::start(
            link,
            &line,
            &nonce,
            handshake.as_ref().map(|h| Password {
                prompt: &h.prompt,
                secret: &h.password,
            }),
        )
    }

    /// A failed request in the caller's terms; a failed session makes the host unreachable
    /// from now on.
    fn exec_failure(&mut self, line: &str, e: ExecError) -> HostError {
        match e {
            ExecError::BecomePassword => HostError::Spawn {
                command: line.to_string(),
                reason: "sudo rejected the become password".into(),
            },
            ExecError::Session(reason) => {
                let reason = format!("ssh session to `{}` failed: {reason}", self.name);
                self.broken = Some(reason.clone());
                // Freeing a channel closes it and waits for the host's answer, which a dead
                // link never sends: without this the failure came a whole keepalive bound
                // late (12 s instead of 6 through a frozen ProxyCommand).
                self.session.set_timeout(FREE_ON_DEAD_LINK_MS);
                self.shells.clear();
                unreachable(reason)
            }
        }
    }
}

/// A request's command for `-vv`: its first line, cut at 120 characters, and the payload's
/// size (never its content: it may be a secret).
fn shown_command(line: &str, payload: usize) -> String {
    let first = line.lines().next().unwrap_or_default();
    let mut shown: String = first.chars().take(120).collect();
    if shown.len() < line.len() {
        shown.push('…');
    }
    if payload > 0 {
        shown.push_str(&format!(" <{payload} bytes>"));
    }
    shown
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
        host_key_alias: None,
    })
}

/// TCP connect (with timeout, TCP_NODELAY), then handshake, host key and authentication; a
/// dropped banner or handshake is retried up to 3 attempts.
fn open_direct(ep: &Endpoint, settings: &Settings) -> Result<Opened, HostError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let stream = tcp_connect(ep, settings)?;
        let fd = stream.as_raw_fd();
        let mut session = Session::new().map_err(|e| unreachable(e.to_string()))?;
        session.set_tcp_stream(stream);
        match handshake(&mut session, ep, settings) {
            Ok(()) => {
                authenticate(&session, ep, settings)?;
                return Ok(Opened {
                    session,
                    fd,
                    liveness: Liveness::Tcp(fd),
                    relay: None,
                    proxy: None,
                });
            }
            Err(Handshake::Retry(_)) if attempt < 3 => {
                std::thread::sleep(Duration::from_millis(100 * (1 << attempt)));
            }
            Err(Handshake::Retry(reason)) | Err(Handshake::Fatal(reason)) => {
                return Err(unreachable(reason))
            }
        }
    }
}

/// The same over a ProxyCommand's stdin and stdout.
fn open_proxied(
    ep: &Endpoint,
    settings: &Settings,
    template: &str,
    name: &str,
) -> Result<Opened, HostError> {
    let command = proxy_command::expand(template, &ep.address, ep.port, &ep.user, name);
    let heard = Heard::new();
    let (mut proxy, ours) = ProxyCommand::spawn(&command, heard.clone())
        .map_err(|e| unreachable(format!("cannot start ProxyCommand `{command}`: {e}")))?;
    let fd = ours.as_raw_fd();
    let mut session = Session::new().map_err(|e| unreachable(e.to_string()))?;
    session.set_tcp_stream(ours);
    if let Err(Handshake::Retry(reason) | Handshake::Fatal(reason)) =
        handshake(&mut session, ep, settings)
    {
        return Err(unreachable(proxy.failure(&reason)));
    }
    authenticate(&session, ep, settings)?;
    Ok(Opened {
        session,
        fd,
        liveness: Liveness::Relayed(heard),
        relay: None,
        proxy: Some(proxy),
    })
}

/// The same over a direct-tcpip channel of the previous hop's session.
fn open_through(
    ep: &Endpoint,
    settings: &Settings,
    jump: Session,
    jump_fd: RawFd,
    jump_label: &str,
) -> Result<Opened, HostError> {
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
    let heard = Heard::new();
    let relay = Relay::start(jump, jump_fd, channel, theirs, heard.clone())
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
    Ok(Opened {
        session,
        fd,
        liveness: Liveness::Relayed(heard),
        relay: Some(relay),
        proxy: None,
    })
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

fn tcp_connect(ep: &Endpoint, settings: &Settings) -> Result<TcpStream, HostError> {
    let timeout = settings.connect_timeout;
    let shown = display_addr(&ep.address, ep.port);
    let addrs: Vec<SocketAddr> = (ep.address.as_str(), ep.port)
        .to_socket_addrs()
        .map_err(|e| unreachable(format!("resolve `{}`: {}", ep.address, io_reason(&e))))?
        .filter(|a| match settings.address_family {
            Some(AddressFamily::Inet) => a.is_ipv4(),
            Some(AddressFamily::Inet6) => a.is_ipv6(),
            None => true,
        })
        .collect();
    let deadline = Instant::now() + timeout;
    let mut last = unreachable(match settings.address_family {
        Some(family) => format!(
            "resolve `{}`: no address of AddressFamily {family:?}",
            ep.address
        )
        .replace("Inet6", "inet6")
        .replace("Inet", "inet"),
        None => format!("resolve `{}`: no address", ep.address),
    });
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

/// Ask libssh2 for the algorithms an OpenSSH-style list names. A list that leaves nothing
/// libssh2 implements is an error; names it does not implement are noted.
fn prefer_algorithms(
    session: &Session,
    methods: &[MethodType],
    keyword: &str,
    spec: &str,
    settings: &Settings,
) -> Result<(), Handshake> {
    let available = session
        .supported_algs(methods[0])
        .map_err(|e| Handshake::Fatal(format!("{keyword}: {}", e.message().to_lowercase())))?;
    let (list, missing) = algorithm_list(spec, &available);
    if list.is_empty() {
        return Err(Handshake::Fatal(format!(
            "{keyword} `{spec}` leaves no algorithm converge's SSH client (libssh2) implements; it implements {}",
            available.join(",")
        )));
    }
    if !missing.is_empty() {
        settings.notes.borrow_mut().push(format!(
            "{keyword}: `{}` not implemented by converge's SSH client (libssh2); using {}",
            missing.join(","),
            list.join(",")
        ));
    }
    for method in methods {
        session
            .method_pref(*method, &list.join(","))
            .map_err(|e| Handshake::Fatal(format!("{keyword}: {}", e.message().to_lowercase())))?;
    }
    Ok(())
}

fn handshake(session: &mut Session, ep: &Endpoint, settings: &Settings) -> Result<(), Handshake> {
    session.set_timeout(duration_ms(settings.connect_timeout));
    let key_name = ep
        .host_key_alias
        .clone()
        .unwrap_or_else(|| known_hosts::host_key_name(&ep.address, ep.port));
    let files: Vec<PathBuf> = settings
        .user_known_hosts
        .iter()
        .chain(&settings.global_known_hosts)
        .cloned()
        .collect();
    let entries = known_hosts::entries_in(&files, &key_name).map_err(Handshake::Fatal)?;
    if settings.compression {
        session.set_compress(true);
    }
    for (methods, keyword, spec) in [
        (
            &[MethodType::Kex][..],
            "KexAlgorithms",
            &settings.kex_algorithms,
        ),
        (
            &[MethodType::CryptCs, MethodType::CryptSc][..],
            "Ciphers",
            &settings.ciphers,
        ),
        (
            &[MethodType::MacCs, MethodType::MacSc][..],
            "MACs",
            &settings.macs,
        ),
        (
            &[MethodType::HostKey][..],
            "HostKeyAlgorithms",
            &settings.host_key_algorithms,
        ),
    ] {
        if let Some(spec) = spec {
            prefer_algorithms(session, methods, keyword, spec, settings)?;
        }
    }
    if settings.host_key_algorithms.is_none() {
        if let Some(known) = known_hosts::host_key_methods(&entries) {
            // As OpenSSH: known types first, then the rest: a server that lost the known key
            // still shows its new one, so the refusal can say which line is stale.
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
    let record = settings
        .user_known_hosts
        .first()
        .cloned()
        .unwrap_or_else(|| home_dir().join(".ssh/known_hosts"));
    let record_shown = record.display();
    match (settings.checking, known_hosts::check(&entries, &key)) {
        (_, Verdict::Match) => Ok(()),
        (HostKeyChecking::Off, Verdict::Mismatch { file, line }) => {
            settings.no_password.set(true);
            settings.warnings.borrow_mut().push(format!(
                "host key for `{}` ({key_name}) has CHANGED and does not match {}:{line}; accepted because host key checking is off (StrictHostKeyChecking no), password authentication disabled",
                ep.label,
                file.display()
            ));
            Ok(())
        }
        (_, Verdict::Mismatch { file, line }) => {
            let file = file.display();
            Err(Handshake::Fatal(format!(
                "host key for `{}` ({key_name}) has CHANGED and does not match {file}:{line}; \
                 if the host was reinstalled, remove the stale entry with `ssh-keygen -R '{key_name}' -f {file}`, \
                 otherwise someone may be intercepting the connection",
                ep.label
            )))
        }
        (HostKeyChecking::Strict, Verdict::NotFound) => Err(Handshake::Fatal(format!(
            "host key for `{}` ({key_name}) is not known; add it to {record_shown} or run with --host-key-checking accept-new",
            ep.label
        ))),
        (HostKeyChecking::AcceptNew, Verdict::NotFound) => {
            known_hosts::append(&record, &key_name, &key).map_err(|e| {
                Handshake::Fatal(format!(
                    "cannot record the host key of `{}` in {record_shown}: {e}",
                    ep.label
                ))
            })
        }
        (HostKeyChecking::Off, Verdict::NotFound) => {
            // OpenSSH records the key and goes on even when it cannot.
            let note = match known_hosts::append(&record, &key_name, &key) {
                Ok(()) => format!("recorded the host key of `{}` in {record_shown}", ep.label),
                Err(e) => format!(
                    "could not record the host key of `{}` in {record_shown}: {e}",
                    ep.label
                ),
            };
            settings.notes.borrow_mut().push(note);
            Ok(())
        }
    }
}

/// What converge's client can sign with, for PubkeyAcceptedAlgorithms.
const SIGNING_ALGORITHMS: [&str; 7] = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
    "ssh-rsa",
];

/// Whether a key of `key_type` (as in a `.pub` file) may sign with one of `accepted`.
fn key_type_accepted(key_type: &str, accepted: &[String]) -> bool {
    if key_type == "ssh-rsa" {
        accepted
            .iter()
            .any(|a| matches!(a.as_str(), "rsa-sha2-512" | "rsa-sha2-256" | "ssh-rsa"))
    } else {
        accepted.iter().any(|a| a == key_type)
    }
}

/// The key type of a private key file, from its `.pub` beside it or from the public part of
/// an OpenSSH-format private key; `None` when it cannot be told.
fn private_key_type(path: &Path) -> Option<String> {
    let public = PathBuf::from(format!("{}.pub", path.display()));
    if let Ok(text) = std::fs::read_to_string(public) {
        return text.split_whitespace().next().map(str::to_string);
    }
    let text = std::fs::read_to_string(path).ok()?;
    known_hosts::openssh_private_key_type(&text)
}

fn authenticate(session: &Session, ep: &Endpoint, settings: &Settings) -> Result<(), HostError> {
    let mut tried: Vec<String> = Vec::new();
    let accepted: Option<Vec<String>> = match &settings.pubkey_accepted_algorithms {
        None => None,
        Some(spec) => {
            let (list, _) = algorithm_list(spec, &SIGNING_ALGORITHMS);
            if list.is_empty() {
                return Err(unreachable(format!(
                    "PubkeyAcceptedAlgorithms `{spec}` leaves no key algorithm converge's SSH client (libssh2) can sign with; it can sign with {}",
                    SIGNING_ALGORITHMS.join(",")
                )));
            }
            let rsa: Vec<&str> = list
                .iter()
                .map(String::as_str)
                .filter(|a| a.starts_with("rsa-") || *a == "ssh-rsa")
                .collect();
            if !rsa.is_empty() {
                let _ = session.method_pref(MethodType::SignAlgo, &rsa.join(","));
            }
            Some(list)
        }
    };
    if settings.pubkey_authentication {
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
            if let Some(accepted) = &accepted {
                if let Some(kind) = private_key_type(&key) {
                    if !key_type_accepted(&kind, accepted) {
                        tried.push(format!(
                            "{} (skipped: {kind} is not in PubkeyAcceptedAlgorithms)",
                            key.display()
                        ));
                        continue;
                    }
                }
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
    }
    if let Some(password) = &settings.password {
        if settings.no_password.get() {
            tried.push("no password (the host key changed)".into());
        } else {
            tried.push("password".into());
            if session.userauth_password(&ep.user, &password.0).is_ok() && session.authenticated() {
                return Ok(());
            }
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

    fn run_read(&mut self, command: &Command) -> Result<Output, HostError> {
        if command.stdin.is_some() {
            return self.run(command);
        }
        // Answered or kept under the line `run` sends, as a read made ahead is; a module's
        // own `sh -c` script runs inline, and the output comes straight down the channel.
        let line = script::command_line(command)?;
        match script::inline_line(command) {
            Some(inline) => {
                // `-vv` shows a request's first line: the script's name and arguments.
                let named: Vec<String> = match &command.program {
                    converge_modules::Program::Argv(args) => args
                        .iter()
                        .skip(3)
                        .map(|a| converge_modules::quote(a))
                        .collect(),
                    converge_modules::Program::Shell(_) => Vec::new(),
                };
                let sent = format!(
                    "# {}\n{}\n{inline}",
                    named.join(" ").replace('\n', " "),
                    shell::FRESH
                );
                self.read_line_sent_as(&line, &sent)
            }
            None => self.read_line(&line),
        }
    }

    fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        let out = self.read_line(&script::read_file(path))?;
        match out.status {
            0 => Ok(Some(out.stdout)),
            script::ABSENT if out.stderr.is_empty() => Ok(None),
            status => Err(file_error("read", path, &out, status)),
        }
    }

    fn stat(&mut self, path: &str) -> Result<Option<FileStat>, HostError> {
        let out = self.read_line(&script::stat(path))?;
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
        let out = self.read_line(&script::stat_and_read(path))?;
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
        let inline = script::inline_content(content);
        let (line, temp) = script::write_file(path, options, inline)?;
        let payload = if inline.is_some() { &[][..] } else { content };
        // The script may hold the content: an error names the write, not the script.
        let out = self
            .exec_line(&line, payload)
            .map_err(|error| match error {
                HostError::Spawn { reason, .. } => HostError::Spawn {
                    command: format!("write {path}"),
                    reason,
                },
                other => other,
            })?;
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

    fn notes(&self) -> &[String] {
        SshConnection::notes(self)
    }

    fn round_trips(&self) -> Option<&RoundTrips> {
        Some(&self.round_trips)
    }

    fn warnings(&self) -> &[String] {
        SshConnection::warnings(self)
    }

    fn interrupter(&self) -> Option<super::Interrupter> {
        Some(super::Interrupter::socket(self.fd))
    }

    fn can_read_ahead(&self) -> bool {
        true
    }

    fn read_ahead(&mut self, reads: &[Read]) -> Result<(), HostError> {
        self.read_lines_ahead(reads)
    }

    fn forget_reads(&mut self) {
        self.kept.clear();
    }

    fn has_reads_ahead(&self) -> bool {
        !self.kept.is_empty()
    }
}
