//! The shell lines the SSH transport sends. Every operation is one request to the host's
//! long-lived shell (see [`super::shell`]); every path and argument goes through [`quote`], so nothing the user wrote is
//! re-split or expanded by the remote shell.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use converge_modules::{
    quote, Command, FileKind, FileStat, HostError, Output, Program, WriteOptions, WriteOutcome,
};

use crate::connection::{Become, BecomeMethod};

/// Exit status the read and stat scripts use for "no such file".
pub const ABSENT: i32 = 93;
/// Exit status of the write script when a step failed (its own message is on stderr).
pub const STEP_FAILED: i32 = 90;
/// Exit status of the write script when the validator rejected the content.
pub const VALIDATION_FAILED: i32 = 91;
const VALIDATE_STATUS: &str = "converge-validate-status:";
const BACKUP: &str = "converge-backup:";

/// A value unlikely to repeat: time, process id and a counter.
pub fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}{:x}{:x}", nanos & 0xffff_ffff, std::process::id(), n)
}

/// `cd DIR && export K=V && exec argv…` (or `exec /bin/sh -c SCRIPT`).
pub fn command_line(command: &Command) -> Result<String, HostError> {
    let mut parts = Vec::new();
    if let Some(dir) = &command.chdir {
        parts.push(format!("cd {}", quote(dir)));
    }
    for (key, value) in &command.env {
        let valid = !key.is_empty()
            && !key.starts_with(|c: char| c.is_ascii_digit())
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(HostError::Spawn {
                command: command.to_shell_line(),
                reason: format!("`{key}` is not a valid environment variable name"),
            });
        }
        parts.push(format!("export {}={}", key, quote(value)));
    }
    let body = match &command.program {
        Program::Argv(args) if args.is_empty() => {
            return Err(HostError::Spawn {
                command: String::new(),
                reason: "empty argument vector".into(),
            })
        }
        Program::Argv(args) => {
            let words: Vec<String> = args.iter().map(|a| quote(a)).collect();
            format!("exec {}", words.join(" "))
        }
        Program::Shell(script) => format!("exec /bin/sh -c {}", quote(script)),
    };
    parts.push(body);
    Ok(parts.join(" && "))
}

/// The line a read made ahead runs instead of [`command_line`]'s, for a command that is a
/// converge module's own `sh -c SCRIPT NAME ARGS…`: the script runs in the read's subshell
/// with `set -- ARGS…`, sparing the host a shell. `None` for any other command, and for a
/// script that reads `$0`.
pub fn inline_line(command: &Command) -> Option<String> {
    let Program::Argv(args) = &command.program else {
        return None;
    };
    let [shell, flag, script, rest @ ..] = args.as_slice() else {
        return None;
    };
    if !matches!(shell.as_str(), "sh" | "/bin/sh") || flag != "-c" || script.contains("$0") {
        return None;
    }
    let mut plain = command.clone();
    plain.program = Program::Argv(vec!["true".into()]);
    let prefix = command_line(&plain).ok()?;
    let prefix = prefix.strip_suffix("exec true")?;
    let words: Vec<String> = rest.iter().skip(1).map(|a| quote(a)).collect();
    Some(format!(
        "{prefix}set -- {} && eval {}",
        words.join(" "),
        quote(script)
    ))
}

/// A line wrapped for privilege escalation, and what the exec must do about a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wrapped {
    /// The line to exec.
    pub line: String,
    /// Set when sudo may ask for a password: wait for `prompt` on stderr (answer with the
    /// password) or `marker` on stdout (the command started) before sending stdin.
    pub handshake: Option<PasswordHandshake>,
}

/// The sudo password exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHandshake {
    /// The prompt sudo prints on stderr.
    pub prompt: String,
    /// The line the command prints on stdout once sudo let it run.
    pub marker: String,
    /// The password (never placed in argv or env).
    pub password: String,
}

/// Wrap `line` so it runs as the become user; unchanged when there is none or it is the
/// login user.
pub fn wrap_become(
    line: &str,
    become_as: Option<&Become>,
    login_user: &str,
) -> Result<Wrapped, HostError> {
    let Some(b) = become_as.filter(|b| b.user != login_user) else {
        return Ok(Wrapped {
            line: line.to_string(),
            handshake: None,
        });
    };
    match (b.method, &b.password) {
        (BecomeMethod::Sudo, None) => Ok(Wrapped {
            line: format!("sudo -n -u {} -- /bin/sh -c {}", quote(&b.user), quote(line)),
            handshake: None,
        }),
        (BecomeMethod::Sudo, Some(secret)) => {
            let n = nonce();
            let prompt = format!("[converge-sudo-password-{n}]");
            let marker = format!("converge-become-ok-{n}");
            let inner = format!("echo {marker} && {line}");
            Ok(Wrapped {
                line: format!(
                    "sudo -S -p {} -u {} -- /bin/sh -c {}",
                    quote(&prompt),
                    quote(&b.user),
                    quote(&inner)
                ),
                handshake: Some(PasswordHandshake {
                    prompt,
                    marker,
                    password: secret.0.clone(),
                }),
            })
        }
        (BecomeMethod::Su, None) => Ok(Wrapped {
            line: format!("su -s /bin/sh -c {} {}", quote(line), quote(&b.user)),
            handshake: None,
        }),
        (BecomeMethod::Su, Some(_)) => Err(HostError::Unsupported(
            "become method `su` with a password needs a terminal, which the SSH transport does not allocate; use `sudo`".into(),
        )),
    }
}

/// Print the file, or exit [`ABSENT`] when there is none (a dangling link counts as none).
pub fn read_file(path: &str) -> String {
    let p = quote(path);
    format!("[ -e {p} ] || exit {ABSENT}; exec cat -- {p}")
}

/// What `stat` prints of a path, three lines: raw mode (hex), uid, gid and size; the
/// owner's name; the group's name.
pub const STAT_FORMAT: &str = "'%f %u %g %s\\n%U\\n%G\\n'";

/// [`STAT_FORMAT`]'s lines, then the link target.
pub fn stat(path: &str) -> String {
    let p = quote(path);
    format!(
        "[ -e {p} ] || [ -L {p} ] || exit {ABSENT}; stat --printf {STAT_FORMAT} -- {p} || exit {STEP_FAILED}; if [ -L {p} ]; then readlink -- {p}; fi"
    )
}

/// [`stat`]'s lines, an always-present link target line, then the content of a regular
/// file (or of what a link points to): one round trip for a module about to edit a file.
pub fn stat_and_read(path: &str) -> String {
    let p = quote(path);
    format!(
        "[ -e {p} ] || [ -L {p} ] || exit {ABSENT}; stat --printf {STAT_FORMAT} -- {p} || exit {STEP_FAILED}; if [ -L {p} ]; then readlink -- {p}; else echo; fi; if [ -f {p} ]; then exec cat -- {p}; fi"
    )
}

/// A read of a path, as [`read_file`], [`stat`] or [`stat_and_read`] make it. Reads made
/// ahead of many regular files are made by one `stat` and one `cat` of them all, and each
/// answer is then put together as its own line would have printed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRead {
    /// [`read_file`].
    Content,
    /// [`stat`].
    Stat,
    /// [`stat_and_read`].
    StatAndContent,
}

impl PathRead {
    /// The line that makes this read alone.
    pub fn line(self, path: &str) -> String {
        match self {
            PathRead::Content => read_file(path),
            PathRead::Stat => stat(path),
            PathRead::StatAndContent => stat_and_read(path),
        }
    }

    /// What [`PathRead::line`] prints for a regular file (not a link) whose
    /// [`STAT_FORMAT`] lines and content are these.
    pub fn regular_answer(self, stat: &[u8], content: &[u8]) -> Output {
        let stdout = match self {
            PathRead::Content => content.to_vec(),
            PathRead::Stat => stat.to_vec(),
            PathRead::StatAndContent => [stat, b"\n", content].concat(),
        };
        Output {
            status: 0,
            stdout,
            stderr: Vec::new(),
        }
    }

    /// What [`PathRead::line`] prints for a path where nothing is (not even a dangling link).
    pub fn absent_answer(self) -> Output {
        Output {
            status: ABSENT,
            ..Output::default()
        }
    }
}

/// Split what [`stat_and_read`] printed into the stat text and the content.
pub fn split_stat_and_content(out: &[u8]) -> Option<(String, &[u8])> {
    let mut newlines = out
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i);
    let end = newlines.nth(3)?;
    let head = String::from_utf8_lossy(&out[..=end]).into_owned();
    Some((head, &out[end + 1..]))
}

/// Parse what [`stat`] printed.
pub fn parse_stat(path: &str, out: &str) -> Result<FileStat, HostError> {
    let bad = || HostError::File {
        operation: "stat",
        path: path.to_string(),
        reason: format!("unexpected output from stat: {out:?}"),
    };
    let mut lines = out.splitn(4, '\n');
    let numbers: Vec<&str> = lines.next().ok_or_else(bad)?.split(' ').collect();
    let [raw_mode, uid, gid, size] = numbers[..] else {
        return Err(bad());
    };
    let raw_mode = u32::from_str_radix(raw_mode, 16).map_err(|_| bad())?;
    let owner = lines.next().ok_or_else(bad)?.to_string();
    let group = lines.next().ok_or_else(bad)?.to_string();
    let kind = match raw_mode & 0o170000 {
        0o100000 => FileKind::File,
        0o040000 => FileKind::Directory,
        0o120000 => {
            let rest = lines.next().unwrap_or_default();
            FileKind::Symlink {
                target: rest.strip_suffix('\n').unwrap_or(rest).to_string(),
            }
        }
        _ => FileKind::Other,
    };
    Ok(FileStat {
        kind,
        mode: raw_mode & 0o7777,
        uid: uid.parse().map_err(|_| bad())?,
        gid: gid.parse().map_err(|_| bad())?,
        owner,
        group,
        size: size.parse().map_err(|_| bad())?,
    })
}

/// `rm -rf -- PATH`.
pub fn remove(path: &str) -> String {
    format!("rm -rf -- {}", quote(path))
}

/// Split a path into its directory and file name (`.` for a bare name).
fn split_path(path: &str) -> (String, String) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => ("/".into(), trimmed[1..].to_string()),
        Some(i) => (trimmed[..i].to_string(), trimmed[i + 1..].to_string()),
        None => (".".into(), trimmed.to_string()),
    }
}

/// The largest content [`write_file`] puts in the script itself: the shell loop reads a
/// script a byte at a time (about as long, for this many bytes, as the `head` a payload
/// costs), and a host that only ever gets small files never has to find out which `head`
/// it has.
pub const INLINE_CONTENT_MAX: usize = 4096;

/// `content` as a word [`write_file`] can put in the script: small, UTF-8 (no shell or
/// locale can misread it) and without NUL (which no shell word can hold).
pub fn inline_content(content: &[u8]) -> Option<&str> {
    if content.len() > INLINE_CONTENT_MAX || content.contains(&0) {
        return None;
    }
    std::str::from_utf8(content).ok()
}

/// The script that replaces `path` atomically: temp file in the same directory (created
/// 0600), validator, attributes (kept from the old file, or asked for), backup, `mv -f`
/// (rename(2)). An EXIT trap removes the temp file on every failure. The content is
/// `inline`, written by the shell's `printf` from a word of the script (see
/// [`inline_content`]), or else the bytes on its stdin, the request's payload. Returns the
/// script and the temp file's path.
pub fn write_file(
    path: &str,
    options: &WriteOptions,
    inline: Option<&str>,
) -> Result<(String, String), HostError> {
    if let Some(validator) = &options.validate {
        if !validator.contains("%s") {
            return Err(HostError::File {
                operation: "validate",
                path: path.to_string(),
                reason: format!(
                    "the validate command `{validator}` must contain `%s` (the file to check)"
                ),
            });
        }
    }
    let (dir, name) = split_path(path);
    let temp = if dir == "/" {
        format!("/.{name}.converge-{}", nonce())
    } else {
        format!("{dir}/.{name}.converge-{}", nonce())
    };
    let mut s = String::new();
    s.push_str(&format!(
        "d={}; p={}; t={}\n",
        quote(&dir),
        quote(path),
        quote(&temp)
    ));
    if options.attributes.mode.is_none() {
        // A new file's mode comes from the umask, set aside before the temp file's 077.
        s.push_str("um=$(umask)\n");
    }
    s.push_str(&format!(
        "fail() {{ [ $# -gt 0 ] && printf '%s\\n' \"$*\" >&2; exit {STEP_FAILED}; }}\n"
    ));
    if options.create_parents {
        s.push_str("[ -d \"$d\" ] || mkdir -p -- \"$d\" || fail\n");
    }
    s.push_str("[ -d \"$d\" ] || fail \"directory \\`$d\\` does not exist\"\n");
    s.push_str("if [ -d \"$p\" ] && [ ! -L \"$p\" ]; then fail \"$p is a directory\"; fi\n");
    s.push_str("trap 'rm -f -- \"$t\"' EXIT; trap 'exit 129' HUP INT TERM\n");
    match inline {
        // A builtin writes it; `sync FILE` flushes it (where `sync` takes files: coreutils
        // 8.24 and later, BusyBox).
        Some(content) => s.push_str(&format!(
            "umask 077; printf %s {} > \"$t\" || fail\nsync -- \"$t\" 2>/dev/null\n",
            quote(content)
        )),
        // The shell loop runs this only once the whole payload came, checked by its byte
        // count and the mark after it (see `shell`): `dd` copies a complete file and flushes
        // it to disk before the rename, in one process (GNU and BusyBox know these operands).
        None => s.push_str("umask 077; dd bs=64k conv=fsync status=none of=\"$t\" || fail\n"),
    }
    if let Some(validator) = &options.validate {
        let command = validator.replace("%s", "\"$t\"");
        s.push_str(&format!(
            "out=$( {{ {command}\n}} </dev/null 2>&1 ); st=$?\nif [ $st -ne 0 ]; then printf '%s' \"$out\"; printf '{VALIDATE_STATUS}%d\\n' $st >&2; exit {VALIDATION_FAILED}; fi\n"
        ));
    }
    let attrs = &options.attributes;
    // The old file's owner (a `chown` only when it is not already the temp file's: ours,
    // and our group in a directory without setgid), and its mode unless the task gives one;
    // a new file gets 0644 less the umask, as a shell's redirection would make it.
    s.push_str(
        "if [ -e \"$p\" ] && ! { [ -O \"$p\" ] && [ -G \"$p\" ] && [ ! -g \"$d\" ]; }; then chown --reference=\"$p\" -- \"$t\" 2>/dev/null; fi\n",
    );
    match attrs.mode {
        Some(mode) => s.push_str(&format!("chmod {:o} -- \"$t\" || fail\n", mode & 0o7777)),
        None => s.push_str(
            "if [ -e \"$p\" ]; then chmod --reference=\"$p\" -- \"$t\" || fail\nelse chmod \"$(printf '%o' $(( 0644 & ~0$um )))\" -- \"$t\" || fail; fi\n",
        ),
    }
    if let Some(owner) = &attrs.owner {
        s.push_str(&format!("chown -- {} \"$t\" || fail\n", quote(owner)));
    }
    if let Some(group) = &attrs.group {
        s.push_str(&format!("chgrp -- {} \"$t\" || fail\n", quote(group)));
    }
    if options.backup {
        s.push_str(&format!(
            "if [ -f \"$p\" ]; then b=\"$p.$(date +%Y-%m-%d@%H:%M:%S)~\"; cp -p -- \"$p\" \"$b\" || fail; printf '{BACKUP}%s\\n' \"$b\"; fi\n"
        ));
    }
    // Renamed, the temp file is gone: nothing left for the exit trap to remove.
    s.push_str("mv -f -T -- \"$t\" \"$p\" || fail; trap - EXIT\n");
    Ok((s, temp))
}

/// Turn the write script's result into the trait's answer (`temp` as returned by
/// [`write_file`], for the validator command as run).
pub fn write_outcome(
    path: &str,
    temp: &str,
    options: &WriteOptions,
    status: i32,
    stdout: &str,
    stderr: &str,
) -> Result<WriteOutcome, HostError> {
    match status {
        0 => Ok(WriteOutcome {
            backup_file: stdout
                .lines()
                .find_map(|l| l.strip_prefix(BACKUP))
                .map(str::to_string),
        }),
        VALIDATION_FAILED if stderr.contains(VALIDATE_STATUS) => {
            let status = stderr
                .lines()
                .find_map(|l| l.strip_prefix(VALIDATE_STATUS))
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(1);
            Err(HostError::ValidationFailed {
                path: path.to_string(),
                command: options
                    .validate
                    .as_deref()
                    .unwrap_or_default()
                    .replace("%s", &quote(temp)),
                status,
                output: stdout.trim_end().to_string(),
            })
        }
        _ => Err(HostError::File {
            operation: "write",
            path: path.to_string(),
            reason: if stderr.trim().is_empty() {
                format!("the write script exited with status {status}")
            } else {
                stderr.trim().to_string()
            },
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::Secret;

    #[test]
    fn a_modules_sh_script_is_inlined_with_its_arguments_and_environment() {
        let mut read = Command::argv(["sh", "-c", "echo \"$1\"", "converge-read", "a b", "$x"]);
        read.env.push(("LC_ALL".into(), "C".into()));
        assert_eq!(
            inline_line(&read).as_deref(),
            Some("export LC_ALL=C && set -- 'a b' '$x' && eval 'echo \"$1\"'")
        );
        let bare = Command::argv(["/bin/sh", "-c", "exit 3"]).with_chdir("/etc");
        assert_eq!(
            inline_line(&bare).as_deref(),
            Some("cd /etc && set --  && eval 'exit 3'")
        );
        // `$0` would name the loop's shell; anything but `sh -c` runs as it is.
        assert_eq!(inline_line(&Command::argv(["sh", "-c", "echo $0"])), None);
        assert_eq!(inline_line(&Command::argv(["bash", "-c", "true"])), None);
        assert_eq!(inline_line(&Command::shell("true")), None);
        assert_eq!(inline_line(&Command::argv(["sh", "-e", "x"])), None);
    }

    #[test]
    fn argv_env_and_chdir_are_quoted() {
        let mut c = Command::argv(["printf", "%s\n", "a b", "$(x)"]).with_chdir("/tmp/my dir");
        c.env.push(("LANG".into(), "C 1".into()));
        assert_eq!(
            command_line(&c).expect("valid"),
            "cd '/tmp/my dir' && export LANG='C 1' && exec printf '%s\n' 'a b' '$(x)'"
        );
        assert_eq!(
            command_line(&Command::shell("echo $HOME")).expect("valid"),
            "exec /bin/sh -c 'echo $HOME'"
        );
        let mut bad = Command::argv(["true"]);
        bad.env.push(("A;B".into(), "x".into()));
        assert!(command_line(&bad).is_err());
    }

    #[test]
    fn become_wraps_only_for_another_user() {
        let b = Become {
            user: "root".into(),
            method: BecomeMethod::Sudo,
            password: None,
        };
        assert_eq!(wrap_become("id", Some(&b), "root").expect("ok").line, "id");
        assert_eq!(
            wrap_become("exec id -u", Some(&b), "deploy")
                .expect("ok")
                .line,
            "sudo -n -u root -- /bin/sh -c 'exec id -u'"
        );
        let with_password = Become {
            password: Some(Secret("s3cret".into())),
            ..b.clone()
        };
        let w = wrap_become("exec id", Some(&with_password), "deploy").expect("ok");
        assert!(!w.line.contains("s3cret"));
        assert!(w.line.starts_with("sudo -S -p "));
        assert_eq!(w.handshake.map(|h| h.password), Some("s3cret".to_string()));
        let su = Become {
            method: BecomeMethod::Su,
            ..b
        };
        assert_eq!(
            wrap_become("exec id", Some(&su), "deploy")
                .expect("ok")
                .line,
            "su -s /bin/sh -c 'exec id' root"
        );
    }

    #[test]
    fn stat_output_is_parsed() {
        let s = parse_stat("/x", "81a4 0 0 12\nroot\nroot\n").expect("parse");
        assert_eq!(s.kind, FileKind::File);
        assert_eq!(s.mode, 0o644);
        assert_eq!(s.size, 12);
        let l = parse_stat("/x", "a1ff 1 2 3\nu\ng\ntarget with\nnewline\n").expect("parse");
        assert_eq!(
            l.kind,
            FileKind::Symlink {
                target: "target with\nnewline".into()
            }
        );
        assert!(parse_stat("/x", "garbage").is_err());
    }

    #[test]
    fn paths_split() {
        assert_eq!(split_path("/etc/hosts"), ("/etc".into(), "hosts".into()));
        assert_eq!(split_path("/hosts"), ("/".into(), "hosts".into()));
        assert_eq!(split_path("hosts"), (".".into(), "hosts".into()));
    }
}
