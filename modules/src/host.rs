//! The Host trait: everything a module may do to a machine.
//!
//! Modules never know whether they talk to the local machine or to a host over SSH; the
//! transport implements this trait and the runner hands it to the module. Keeping the trait
//! small (run, read, stat, write, remove) keeps every transport honest: directory creation,
//! links and ownership changes are commands, so they cost the same round trip everywhere.

use std::fmt;

/// What to run: an argument vector (no shell involved) or a shell script.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Program {
    /// Executed directly; each element is one argument, never re-split.
    Argv(Vec<String>),
    /// Run by `/bin/sh -c`; the caller is responsible for quoting (see [`quote`]).
    Shell(String),
}

/// A command to run on a host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Command {
    /// The program and its arguments.
    pub program: Program,
    /// Bytes written to the command's standard input (then closed).
    #[serde(with = "crate::plan::base64_bytes::option", default)]
    pub stdin: Option<Vec<u8>>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub chdir: Option<String>,
}

impl Command {
    /// A command run without a shell.
    pub fn argv<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command {
            program: Program::Argv(args.into_iter().map(Into::into).collect()),
            stdin: None,
            env: Vec::new(),
            chdir: None,
        }
    }

    /// A script run by `/bin/sh -c`.
    pub fn shell(script: impl Into<String>) -> Self {
        Command {
            program: Program::Shell(script.into()),
            stdin: None,
            env: Vec::new(),
            chdir: None,
        }
    }

    /// Feed `input` on standard input.
    pub fn with_stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Run in `dir`.
    pub fn with_chdir(mut self, dir: impl Into<String>) -> Self {
        self.chdir = Some(dir.into());
        self
    }

    /// The command as one shell line, every argument quoted: what a person would type.
    pub fn to_shell_line(&self) -> String {
        let body = match &self.program {
            Program::Argv(args) => args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" "),
            Program::Shell(script) => script.clone(),
        };
        match &self.chdir {
            Some(dir) => format!("cd {} && {}", quote(dir), body),
            None => body,
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_shell_line())
    }
}

/// A read a module's plan will make, named before the plan runs so that a transport where
/// a round trip is expensive can make the reads of several tasks in one (see
/// [`crate::Module::reads`]). Each is exactly one call of the [`Host`] method of that name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Read {
    /// [`Host::read_file`].
    File(String),
    /// [`Host::stat`].
    Stat(String),
    /// [`Host::stat_and_read`].
    StatAndRead(String),
    /// [`Host::run`] of a command that only reads (no standard input).
    Run(Command),
}

/// What a finished command left behind.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Output {
    /// Exit status; a command killed by a signal reports 128 + the signal number.
    pub status: i32,
    /// Standard output.
    pub stdout: Vec<u8>,
    /// Standard error.
    pub stderr: Vec<u8>,
}

impl Output {
    /// True when the command exited with status 0.
    pub fn success(&self) -> bool {
        self.status == 0
    }

    /// Standard output as text, invalid UTF-8 replaced.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text, invalid UTF-8 replaced.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// The kind of a filesystem entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link, with the path it points to.
    Symlink {
        /// The link's target, as stored in the link.
        target: String,
    },
    /// Anything else (device, socket, fifo).
    Other,
}

/// What `stat` (without following a final symlink) says about a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStat {
    /// File, directory, link or other.
    pub kind: FileKind,
    /// Permission bits (`0o7777` mask).
    pub mode: u32,
    /// Owner's user id.
    pub uid: u32,
    /// Owner's group id.
    pub gid: u32,
    /// Owner's name, or the uid as text when the host has no name for it.
    pub owner: String,
    /// Group's name, or the gid as text when the host has no name for it.
    pub group: String,
    /// Size in bytes.
    pub size: u64,
}

/// Mode and ownership to give a file; `None` keeps what is there (or the default for new files).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FileAttributes {
    /// Permission bits.
    pub mode: Option<u32>,
    /// Owner, by name or numeric id.
    pub owner: Option<String>,
    /// Group, by name or numeric id.
    pub group: Option<String>,
}

impl FileAttributes {
    /// True when nothing is asked for.
    pub fn is_empty(&self) -> bool {
        self.mode.is_none() && self.owner.is_none() && self.group.is_none()
    }
}

/// How [`Host::write_file`] writes.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct WriteOptions {
    /// Attributes for the file; unset ones are kept from the file being replaced.
    pub attributes: FileAttributes,
    /// Create missing parent directories (otherwise a missing parent is an error).
    pub create_parents: bool,
    /// A command run on the temp file before it replaces the old one; `%s` stands for the
    /// temp file's path. A non-zero exit leaves the old file untouched.
    pub validate: Option<String>,
    /// Keep a copy of the old file as `PATH.TIMESTAMP~` before replacing it.
    pub backup: bool,
}

/// What a write did beyond replacing the file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WriteOutcome {
    /// Where the old content was saved, when a backup was asked for and there was a file.
    pub backup_file: Option<String>,
}

/// How to become another user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BecomeMethod {
    /// `sudo -u USER`.
    Sudo,
    /// `su USER -c`.
    Su,
}

/// A password kept out of `Debug` output and logs.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// Run as another user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Become {
    /// The target user (`root` by default).
    pub user: String,
    /// sudo or su.
    pub method: BecomeMethod,
    /// The password, sent on stdin when the method asks for one; never in argv or env.
    pub password: Option<Secret>,
}

/// Failures of a transport. Each says what was attempted so that a person can act on it.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The connection is gone or could not be made: the host counts as unreachable.
    #[error("host unreachable: {reason}")]
    Unreachable {
        /// What failed (connect, handshake, timeout, dropped session).
        reason: String,
    },
    /// A file operation failed on the host.
    #[error("{operation} `{path}`: {reason}")]
    File {
        /// read, write, stat, remove, rename…
        operation: &'static str,
        /// The path on the host.
        path: String,
        /// The host's own words.
        reason: String,
    },
    /// The validator given in [`WriteOptions::validate`] rejected the new content.
    #[error("validation failed for `{path}`, the old file was kept: `{command}` exited with {status}: {output}")]
    ValidationFailed {
        /// The file that was not replaced.
        path: String,
        /// The validator command as run.
        command: String,
        /// Its exit status.
        status: i32,
        /// What it printed (stderr, then stdout).
        output: String,
    },
    /// A command could not be started.
    #[error("cannot run `{command}`: {reason}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why it did not start.
        reason: String,
    },
    /// The transport does not support what was asked.
    #[error("{0}")]
    Unsupported(String),
}

/// A machine that modules can read and change.
///
/// Implementations: the local connection and the SSH transport in the `converge` crate, and
/// the in-memory host that module tests use.
pub trait Host {
    /// The inventory name, for messages.
    fn name(&self) -> &str;

    /// Run a command and wait for it. A non-zero exit is not an error here; the caller decides.
    fn run(&mut self, command: &Command) -> Result<Output, HostError>;

    /// Run a command that only reads: it changes nothing on the host and starts nothing
    /// that outlives it (a listing, a `-C` check, a script of `cat`s and `grep`s). The answer
    /// is the one [`Host::run`] gives; a transport where each process costs the host may
    /// run it more cheaply, and need not forget what it read ahead. The default runs it.
    fn run_read(&mut self, command: &Command) -> Result<Output, HostError> {
        self.run(command)
    }

    /// Read a whole file; `Ok(None)` when it does not exist (an empty file is `Some(vec![])`).
    fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, HostError>;

    /// Stat a path without following a final symlink; `Ok(None)` when it does not exist.
    fn stat(&mut self, path: &str) -> Result<Option<FileStat>, HostError>;

    /// Stat a path and, when it is (or links to) a regular file, read it: what a module
    /// needs before editing a file. Transports where a round trip is expensive do both in
    /// one; the default does a `stat` and a `read_file`.
    fn stat_and_read(
        &mut self,
        path: &str,
    ) -> Result<(Option<FileStat>, Option<Vec<u8>>), HostError> {
        let stat = self.stat(path)?;
        let content = match stat.as_ref().map(|s| &s.kind) {
            Some(FileKind::File) | Some(FileKind::Symlink { .. }) => self.read_file(path)?,
            _ => None,
        };
        Ok((stat, content))
    }

    /// Replace a file atomically: write a temp file in the same directory, validate, set
    /// attributes, fsync, rename over the old one. A reader sees the old or the new content,
    /// never a mix.
    fn write_file(
        &mut self,
        path: &str,
        content: &[u8],
        options: &WriteOptions,
    ) -> Result<WriteOutcome, HostError>;

    /// Remove a file, link or (recursively) directory; absent is not an error.
    fn remove(&mut self, path: &str) -> Result<(), HostError>;
}

/// Quote `word` for a POSIX shell so that it reaches the command as one argument, unchanged.
///
/// ```
/// assert_eq!(converge_modules::quote("a b"), "'a b'");
/// assert_eq!(converge_modules::quote("it's"), r#"'it'"'"'s'"#);
/// assert_eq!(converge_modules::quote("plain/path-1.conf"), "plain/path-1.conf");
/// ```
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./_-".contains(&b));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r#"'"'"'"#))
    }
}
