//! The local host (`ansible_connection: local`): the machine converge runs on.
//!
//! Commands run through [`std::process::Command`]: an argv directly, a shell script with
//! `/bin/sh -c`. Standard input is written from a separate thread while the output is read,
//! so a command that prints a lot before reading its input cannot deadlock.
//!
//! Files are replaced atomically: a temp file `.NAME.converge-XXXXXX` (mode 0600, created
//! exclusively) in the target's directory is written, synced, validated, given its mode and
//! owner, and renamed over the target; the directory is then synced. The temp file is
//! removed on every failure.
//!
//! Become: when [`LocalConnection::set_become`] names a user other than the current one, commands
//! run as `sudo -n -u USER -- …` (with a password: `sudo -S -k -p '' …` and the password on
//! standard input ahead of the command's own input, never in argv or the environment), or
//! `su -s /bin/sh USER -c '…'` (only without a password: su reads passwords from a
//! terminal). File operations then go through commands run as that user (`cat`, `stat -c`,
//! and a small script that writes a temp file from standard input and `mv -f`s it), because
//! this process may not touch the files itself. Becoming the user converge already runs as
//! (root as root) needs nothing and uses the direct path.

use crate::host::{
    quote, Become, BecomeMethod, Command, FileKind, FileStat, Host, HostError, Output, Program,
    WriteOptions, WriteOutcome,
};
use std::ffi::{CStr, CString};
use std::fs;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Exit status the helper scripts use for "the path does not exist".
const ABSENT_STATUS: i32 = 3;
/// Exit status the write script uses for "the validator refused the content".
const VALIDATION_STATUS: i32 = 4;

/// A connection to the machine converge runs on.
#[derive(Debug)]
pub struct LocalConnection {
    name: String,
    become_as: Option<Become>,
    /// Whether sudo asks this user for a password; probed once per become setting.
    sudo_needs_password: Option<bool>,
    /// Send file operations through commands even without become (to test that path).
    files_through_commands: bool,
}

impl LocalConnection {
    /// A connection to this machine, called `name` in messages (the inventory name).
    pub fn new(name: &str) -> Self {
        LocalConnection {
            name: name.to_string(),
            become_as: None,
            sudo_needs_password: None,
            files_through_commands: false,
        }
    }

    /// The become setting when it actually switches user: `None` when there is none or when
    /// it names the user this process already runs as.
    fn becoming(&self) -> Option<&Become> {
        let become_as = self.become_as.as_ref()?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        let target = become_as
            .user
            .parse::<u32>()
            .ok()
            .or_else(|| uid_of(&become_as.user));
        if target == Some(euid) {
            None
        } else {
            Some(become_as)
        }
    }

    fn through_commands(&self) -> bool {
        self.files_through_commands || self.becoming().is_some()
    }

    /// `command` rewritten to run as the become user.
    fn wrap(&mut self, command: &Command) -> Result<Command, HostError> {
        let Some(become_as) = self.becoming().cloned() else {
            return Ok(command.clone());
        };
        match become_as.method {
            BecomeMethod::Sudo => {
                let password = match &become_as.password {
                    Some(secret) if self.sudo_asks_password(&become_as.user)? => {
                        Some(secret.0.clone())
                    }
                    _ => None,
                };
                Ok(sudo_command(command, &become_as.user, password.as_deref()))
            }
            BecomeMethod::Su => {
                if become_as.password.is_some() {
                    return Err(HostError::Unsupported(format!(
                        "become_method `su` with a password needs a terminal, which converge does not have; \
                         use `become_method: sudo` to become `{}`",
                        become_as.user
                    )));
                }
                Ok(su_command(command, &become_as.user))
            }
        }
    }

    fn sudo_asks_password(&mut self, user: &str) -> Result<bool, HostError> {
        if let Some(known) = self.sudo_needs_password {
            return Ok(known);
        }
        let probe = Command::argv(["sudo", "-n", "-u", user, "--", "true"]);
        let asks = !run_direct(&probe)?.success();
        self.sudo_needs_password = Some(asks);
        Ok(asks)
    }

    /// Run a helper script for a file operation, as the become user if there is one.
    fn run_helper(&mut self, script: String, stdin: Option<Vec<u8>>) -> Result<Output, HostError> {
        let mut command = Command::shell(script);
        command.stdin = stdin;
        let wrapped = self.wrap(&command)?;
        run_direct(&wrapped)
    }
}

impl LocalConnection {
    /// Run later commands and file operations as this user; `None` runs as the current user.
    pub fn set_become(&mut self, become_as: Option<Become>) {
        if self.become_as != become_as {
            self.sudo_needs_password = None;
        }
        self.become_as = become_as;
    }
}

/// `command` run through `sudo -u USER`; with `password`, sudo reads it from standard input.
fn sudo_command(command: &Command, user: &str, password: Option<&str>) -> Command {
    let mut argv: Vec<String> = vec!["sudo".into()];
    match password {
        // -k: ignore cached credentials, so sudo always reads the password line and never
        // leaves it for the command to read.
        Some(_) => argv.extend(["-S", "-k", "-p", ""].map(String::from)),
        None => argv.push("-n".into()),
    }
    argv.extend(["-u".to_string(), user.to_string(), "--".to_string()]);
    // sudo resets the environment; `env` sets the command's variables again.
    if !command.env.is_empty() {
        argv.push("env".into());
        argv.extend(command.env.iter().map(|(k, v)| format!("{k}={v}")));
    }
    match &command.program {
        Program::Argv(args) => argv.extend(args.iter().cloned()),
        Program::Shell(script) => {
            argv.extend(["/bin/sh".to_string(), "-c".to_string(), script.clone()])
        }
    }
    let stdin = match password {
        Some(password) => {
            let mut input = format!("{password}\n").into_bytes();
            input.extend(command.stdin.clone().unwrap_or_default());
            Some(input)
        }
        None => command.stdin.clone(),
    };
    Command {
        program: Program::Argv(argv),
        stdin,
        env: Vec::new(),
        chdir: command.chdir.clone(),
    }
}

/// `command` run through `su -s /bin/sh USER -c LINE` (no password: only root can do this).
fn su_command(command: &Command, user: &str) -> Command {
    let exports: String = command
        .env
        .iter()
        .map(|(k, v)| format!("export {k}={}; ", quote(v)))
        .collect();
    let line = format!("{exports}{}", command.to_shell_line());
    Command {
        program: Program::Argv(
            ["su", "-s", "/bin/sh", user, "-c", &line]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        ),
        stdin: command.stdin.clone(),
        env: Vec::new(),
        chdir: None,
    }
}

/// Run `command` as this process's user and wait for it.
fn run_direct(command: &Command) -> Result<Output, HostError> {
    let spawn_error = |reason: String| HostError::Spawn {
        command: command.to_shell_line(),
        reason,
    };
    let mut process = match &command.program {
        Program::Argv(args) => {
            let (program, rest) = args
                .split_first()
                .ok_or_else(|| spawn_error("the command is empty".into()))?;
            let mut process = std::process::Command::new(program);
            process.args(rest);
            process
        }
        Program::Shell(script) => {
            let mut process = std::process::Command::new("/bin/sh");
            process.arg("-c").arg(script);
            process
        }
    };
    process.envs(command.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    if let Some(dir) = &command.chdir {
        if !Path::new(dir).is_dir() {
            return Err(spawn_error(format!("directory `{dir}` does not exist")));
        }
        process.current_dir(dir);
    }
    process
        .stdin(if command.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match process.spawn() {
        Ok(child) => child,
        // What a shell (and so the SSH transport) reports for a missing program.
        Err(error) if error.kind() == ErrorKind::NotFound => {
            let program = match &command.program {
                Program::Argv(args) => args.first().cloned().unwrap_or_default(),
                Program::Shell(_) => "/bin/sh".into(),
            };
            return Ok(Output {
                status: 127,
                stdout: Vec::new(),
                stderr: format!("{program}: command not found\n").into_bytes(),
            });
        }
        Err(error) => return Err(spawn_error(error.to_string())),
    };
    let writer = match (child.stdin.take(), command.stdin.clone()) {
        (Some(mut pipe), Some(input)) => Some(std::thread::spawn(move || {
            // A command that exits without reading its input closes the pipe: not an error.
            let _ = pipe.write_all(&input);
        })),
        _ => None,
    };
    let output = child
        .wait_with_output()
        .map_err(|error| spawn_error(error.to_string()))?;
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    use std::os::unix::process::ExitStatusExt;
    let status = output
        .status
        .code()
        .or_else(|| output.status.signal().map(|signal| 128 + signal))
        .unwrap_or(-1);
    Ok(Output {
        status,
        stdout: output.stdout,
        stderr: output.stderr,
    })
}

fn file_error(operation: &'static str, path: &str, reason: impl ToString) -> HostError {
    HostError::File {
        operation,
        path: path.to_string(),
        reason: reason.to_string(),
    }
}

/// The C account-database records looked up below: plain structs of integers and pointers,
/// for which all-zero bytes are a valid (empty) value.
trait AccountEntry {}
impl AccountEntry for libc::passwd {}
impl AccountEntry for libc::group {}

/// Run one `get{pw,gr}{nam,uid,gid}_r` lookup, growing the string buffer while libc says
/// ERANGE, and read the entry found while its strings are still alive.
fn lookup<T: AccountEntry, R>(
    call: impl Fn(&mut T, &mut [libc::c_char], &mut *mut T) -> libc::c_int,
    read: impl FnOnce(&T) -> Option<R>,
) -> Option<R> {
    let mut buffer = vec![0 as libc::c_char; 1024];
    loop {
        // SAFETY: `T` is `passwd` or `group` (AccountEntry), valid when all-zero.
        let mut entry: T = unsafe { std::mem::zeroed() };
        let mut result: *mut T = std::ptr::null_mut();
        let rc = call(&mut entry, &mut buffer, &mut result);
        if rc == libc::ERANGE && buffer.len() < 1 << 20 {
            buffer.resize(buffer.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() {
            return None;
        }
        return read(&entry);
    }
}

/// A name field of an entry `lookup` found.
fn entry_name(field: *const libc::c_char) -> Option<String> {
    if field.is_null() {
        return None;
    }
    // SAFETY: on success the field points to a NUL-terminated string in lookup's buffer,
    // which is alive while `read` runs.
    Some(
        unsafe { CStr::from_ptr(field) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// Resolve a user name (or numeric id) to a uid.
fn uid_of(user: &str) -> Option<u32> {
    if let Ok(uid) = user.parse() {
        return Some(uid);
    }
    let name = CString::new(user).ok()?;
    lookup(
        // SAFETY: every pointer is valid for the call and the buffer length is correct.
        |entry: &mut libc::passwd, buffer, result| unsafe {
            libc::getpwnam_r(
                name.as_ptr(),
                entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                result,
            )
        },
        |entry| Some(entry.pw_uid),
    )
}

/// Resolve a group name (or numeric id) to a gid.
fn gid_of(group: &str) -> Option<u32> {
    if let Ok(gid) = group.parse() {
        return Some(gid);
    }
    let name = CString::new(group).ok()?;
    lookup(
        // SAFETY: every pointer is valid for the call and the buffer length is correct.
        |entry: &mut libc::group, buffer, result| unsafe {
            libc::getgrnam_r(
                name.as_ptr(),
                entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                result,
            )
        },
        |entry| Some(entry.gr_gid),
    )
}

/// The name of a uid, or the uid as text when it has none.
fn user_name(uid: u32) -> String {
    lookup(
        // SAFETY: every pointer is valid for the call and the buffer length is correct.
        |entry: &mut libc::passwd, buffer, result| unsafe {
            libc::getpwuid_r(uid, entry, buffer.as_mut_ptr(), buffer.len(), result)
        },
        |entry| entry_name(entry.pw_name),
    )
    .unwrap_or_else(|| uid.to_string())
}

/// The name of a gid, or the gid as text when it has none.
fn group_name(gid: u32) -> String {
    lookup(
        // SAFETY: every pointer is valid for the call and the buffer length is correct.
        |entry: &mut libc::group, buffer, result| unsafe {
            libc::getgrgid_r(gid, entry, buffer.as_mut_ptr(), buffer.len(), result)
        },
        |entry| entry_name(entry.gr_name),
    )
    .unwrap_or_else(|| gid.to_string())
}

/// This process's umask, read without changing it (`umask(2)` can only set, and setting it
/// even briefly would affect files other threads create).
fn current_umask() -> u32 {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Umask:"))
                .and_then(|value| u32::from_str_radix(value.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

/// `YYYY-MM-DD@HH:MM:SS` in local time, as Ansible names backups.
fn backup_timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as libc::time_t)
        .unwrap_or(0);
    // SAFETY: all-zero is a valid `tm`; localtime_r only writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call.
    unsafe { libc::localtime_r(&now, &mut tm) };
    format!(
        "{:04}-{:02}-{:02}@{:02}:{:02}:{:02}",
        tm.tm_year + 1900,
        tm.tm_mon + 1,
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    )
}

/// Removes the temp file when a write fails at any point.
struct TempFile {
    path: PathBuf,
    keep: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Create `.NAME.converge-XXXXXX` next to `target`, exclusively, mode 0600.
fn create_temp(dir: &Path, base: &str) -> std::io::Result<(fs::File, TempFile)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut last_error = None;
    for _ in 0..100 {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let mut seed = nanos
            ^ (u64::from(std::process::id()) << 32)
            ^ COUNTER
                .fetch_add(1, Ordering::Relaxed)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let suffix: String = (0..6)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ALPHABET[(seed >> 33) as usize % ALPHABET.len()] as char
            })
            .collect();
        let path = dir.join(format!(".{base}.converge-{suffix}"));
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(file) => return Ok((file, TempFile { path, keep: false })),
            Err(error) if error.kind() == ErrorKind::AlreadyExists => last_error = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(last_error.unwrap_or_else(|| std::io::Error::other("cannot create a temp file")))
}

fn parent_and_base(path: &str) -> Result<(PathBuf, String), HostError> {
    let target = Path::new(path);
    let base = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .ok_or_else(|| file_error("write", path, "not a file path"))?;
    let parent = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, base))
}

fn check_removable(path: &str) -> Result<(), HostError> {
    if path.trim_end_matches('/').is_empty() {
        return Err(file_error(
            "remove",
            path,
            "refusing to remove the root directory or an empty path",
        ));
    }
    Ok(())
}

impl LocalConnection {
    fn write_direct(
        &mut self,
        path: &str,
        content: &[u8],
        options: &WriteOptions,
    ) -> Result<WriteOutcome, HostError> {
        let (dir, base) = parent_and_base(path)?;
        if !dir.is_dir() {
            if options.create_parents {
                fs::create_dir_all(&dir)
                    .map_err(|e| file_error("create directory", &dir.to_string_lossy(), e))?;
            } else {
                return Err(file_error(
                    "write",
                    path,
                    format!("directory `{}` does not exist", dir.display()),
                ));
            }
        }
        // Mode and owner of the file being replaced (following a symlink, as Ansible does).
        let old = match fs::metadata(path) {
            Ok(metadata) => Some(metadata),
            Err(error) if error.kind() == ErrorKind::NotFound => None,
            Err(error) => return Err(file_error("stat", path, error)),
        };
        let (mut file, mut temp) = create_temp(&dir, &base)
            .map_err(|e| file_error("create temp file in", &dir.to_string_lossy(), e))?;
        let temp_path = temp.path.to_string_lossy().into_owned();
        file.write_all(content)
            .map_err(|e| file_error("write", &temp_path, e))?;
        file.sync_all()
            .map_err(|e| file_error("sync", &temp_path, e))?;
        drop(file);

        if let Some(validate) = &options.validate {
            let command = validate_command(validate, &quote(&temp_path), path)?;
            let output = run_direct(&Command::shell(command.clone()))?;
            if !output.success() {
                return Err(HostError::ValidationFailed {
                    path: path.to_string(),
                    command,
                    status: output.status,
                    output: format!("{}{}", output.stderr_text(), output.stdout_text())
                        .trim()
                        .to_string(),
                });
            }
        }

        let attributes = &options.attributes;
        let uid = match &attributes.owner {
            Some(owner) => Some(uid_of(owner).ok_or_else(|| {
                file_error("chown", path, format!("no user `{owner}` on this host"))
            })?),
            None => old.as_ref().map(MetadataExt::uid),
        };
        let gid = match &attributes.group {
            Some(group) => Some(gid_of(group).ok_or_else(|| {
                file_error("chown", path, format!("no group `{group}` on this host"))
            })?),
            None => old.as_ref().map(MetadataExt::gid),
        };
        let current = fs::metadata(&temp.path).map_err(|e| file_error("stat", &temp_path, e))?;
        let uid = uid.filter(|uid| *uid != current.uid());
        let gid = gid.filter(|gid| *gid != current.gid());
        if uid.is_some() || gid.is_some() {
            std::os::unix::fs::chown(&temp.path, uid, gid)
                .map_err(|e| file_error("chown", path, e))?;
        }
        let mode = attributes
            .mode
            .or(old.as_ref().map(|m| m.mode() & 0o7777))
            .unwrap_or(0o644 & !current_umask());
        fs::set_permissions(&temp.path, fs::Permissions::from_mode(mode))
            .map_err(|e| file_error("chmod", path, e))?;

        let mut outcome = WriteOutcome::default();
        if options.backup && old.as_ref().is_some_and(fs::Metadata::is_file) {
            let backup = format!("{path}.{}~", backup_timestamp());
            fs::copy(path, &backup).map_err(|e| file_error("back up", path, e))?;
            if let Some(old) = &old {
                // Best effort: a non-root user cannot give the copy someone else's ownership.
                let _ = std::os::unix::fs::chown(&backup, Some(old.uid()), Some(old.gid()));
            }
            outcome.backup_file = Some(backup);
        }

        fs::rename(&temp.path, path).map_err(|e| file_error("rename", path, e))?;
        temp.keep = true;
        if let Ok(directory) = fs::File::open(&dir) {
            // Makes the rename durable; some filesystems cannot sync a directory, which
            // leaves the new content in place all the same.
            let _ = directory.sync_all();
        }
        Ok(outcome)
    }

    fn write_through_commands(
        &mut self,
        path: &str,
        content: &[u8],
        options: &WriteOptions,
    ) -> Result<WriteOutcome, HostError> {
        let (dir, base) = parent_and_base(path)?;
        let attributes = &options.attributes;
        let mut script = format!(
            "p={p}; d={d}\n\
             if [ ! -d \"$d\" ]; then\n",
            p = quote(path),
            d = quote(&dir.to_string_lossy()),
        );
        if options.create_parents {
            script.push_str("  mkdir -p -- \"$d\" || exit 1\n");
        } else {
            script.push_str(&format!(
                "  echo \"directory \\`$d' does not exist\" >&2; exit {ABSENT_STATUS}\n"
            ));
        }
        script.push_str(&format!(
            "fi\n\
             t=$(mktemp \"$d/\"{temp}) || exit 1\n\
             trap 'rm -f -- \"$t\"' EXIT\n\
             trap 'exit 1' HUP INT TERM\n\
             cat > \"$t\" || exit 1\n",
            temp = quote(&format!(".{base}.converge-XXXXXX")),
        ));
        let validate_line = match &options.validate {
            Some(validate) => Some(validate_command(validate, "\"$t\"", path)?),
            None => None,
        };
        if let Some(line) = &validate_line {
            script.push_str(&format!(
                "if ( {line}\n) >&2; then :; else echo \"validate-status $?\"; exit {VALIDATION_STATUS}; fi\n"
            ));
        }
        match (&attributes.owner, &attributes.group) {
            (None, None) => script.push_str(
                "if [ -e \"$p\" ]; then chown --reference=\"$p\" -- \"$t\" 2>/dev/null; fi\n",
            ),
            (owner, group) => {
                let spec = format!(
                    "{}{}",
                    owner.as_deref().unwrap_or(""),
                    group
                        .as_deref()
                        .map(|g| format!(":{g}"))
                        .unwrap_or_default()
                );
                if owner.is_none() || group.is_none() {
                    // Keep the other half from the old file.
                    script.push_str("if [ -e \"$p\" ]; then chown --reference=\"$p\" -- \"$t\" 2>/dev/null; fi\n");
                }
                script.push_str(&format!("chown {} -- \"$t\" || exit 1\n", quote(&spec)));
            }
        }
        match attributes.mode {
            Some(mode) => script.push_str(&format!("chmod {mode:o} -- \"$t\" || exit 1\n")),
            None => script.push_str(
                "if [ -e \"$p\" ]; then chmod --reference=\"$p\" -- \"$t\" || exit 1\n\
                 else u=$(umask); chmod \"$(printf '%o' $(( 0644 & ~0$u )))\" -- \"$t\" || exit 1; fi\n",
            ),
        }
        if options.backup {
            script.push_str(
                "if [ -f \"$p\" ]; then b=\"$p.$(date +%Y-%m-%d@%H:%M:%S)~\"; cp -p -- \"$p\" \"$b\" || exit 1; echo \"backup=$b\"; fi\n",
            );
        }
        script.push_str(
            "sync -- \"$t\" 2>/dev/null\n\
             mv -f -- \"$t\" \"$p\" || exit 1\n\
             sync -- \"$d\" 2>/dev/null\n\
             exit 0\n",
        );
        let output = self.run_helper(script, Some(content.to_vec()))?;
        let stdout = output.stdout_text();
        match output.status {
            0 => Ok(WriteOutcome {
                backup_file: stdout
                    .lines()
                    .find_map(|line| line.strip_prefix("backup="))
                    .map(str::to_string),
            }),
            VALIDATION_STATUS if validate_line.is_some() => Err(HostError::ValidationFailed {
                path: path.to_string(),
                command: validate_line.unwrap_or_default(),
                status: stdout
                    .lines()
                    .find_map(|line| line.strip_prefix("validate-status "))
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(1),
                output: output.stderr_text().trim().to_string(),
            }),
            _ => Err(file_error("write", path, output.stderr_text().trim())),
        }
    }
}

/// The validator command with `%s` replaced by `temp` (already quoted for the shell).
fn validate_command(validate: &str, temp: &str, path: &str) -> Result<String, HostError> {
    if !validate.contains("%s") {
        return Err(file_error(
            "validate",
            path,
            format!("the validate command `{validate}` must contain `%s` (the file to check)"),
        ));
    }
    Ok(validate.replace("%s", temp))
}

/// Parse `stat -c '%f %u %g %s %U %G'` plus an optional `readlink` line.
fn parse_stat_output(text: &str) -> Option<FileStat> {
    let mut lines = text.lines();
    let fields: Vec<&str> = lines.next()?.split_whitespace().collect();
    let [raw_mode, uid, gid, size, owner, group] = fields.as_slice() else {
        return None;
    };
    let raw = u32::from_str_radix(raw_mode, 16).ok()?;
    let uid: u32 = uid.parse().ok()?;
    let gid: u32 = gid.parse().ok()?;
    let kind = match raw & 0o170000 {
        0o100000 => FileKind::File,
        0o040000 => FileKind::Directory,
        0o120000 => FileKind::Symlink {
            target: lines.next().unwrap_or("").to_string(),
        },
        _ => FileKind::Other,
    };
    let name_or_id = |name: &str, id: u32| {
        if name == "UNKNOWN" {
            id.to_string()
        } else {
            name.to_string()
        }
    };
    Some(FileStat {
        kind,
        mode: raw & 0o7777,
        uid,
        gid,
        owner: name_or_id(owner, uid),
        group: name_or_id(group, gid),
        size: size.parse().ok()?,
    })
}

impl Host for LocalConnection {
    fn name(&self) -> &str {
        &self.name
    }

    fn run(&mut self, command: &Command) -> Result<Output, HostError> {
        let wrapped = self.wrap(command)?;
        run_direct(&wrapped)
    }

    fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        if self.through_commands() {
            let script = format!(
                "p={}; if [ -e \"$p\" ]; then exec cat -- \"$p\"; else exit {ABSENT_STATUS}; fi",
                quote(path)
            );
            let output = self.run_helper(script, None)?;
            return match output.status {
                0 => Ok(Some(output.stdout)),
                ABSENT_STATUS => Ok(None),
                _ => Err(file_error("read", path, output.stderr_text().trim())),
            };
        }
        match fs::read(path) {
            Ok(content) => Ok(Some(content)),
            Err(error) if error.kind() == ErrorKind::NotFound => Ok(None),
            Err(error) => Err(file_error("read", path, error)),
        }
    }

    fn stat(&mut self, path: &str) -> Result<Option<FileStat>, HostError> {
        if self.through_commands() {
            let script = format!(
                "p={}\nif [ -e \"$p\" ] || [ -L \"$p\" ]; then\n\
                 stat -c '%f %u %g %s %U %G' -- \"$p\" || exit 1\n\
                 if [ -L \"$p\" ]; then readlink -- \"$p\"; fi\nexit 0\nfi\nexit {ABSENT_STATUS}",
                quote(path)
            );
            let output = self.run_helper(script, None)?;
            return match output.status {
                0 => parse_stat_output(&output.stdout_text())
                    .map(Some)
                    .ok_or_else(|| {
                        file_error(
                            "stat",
                            path,
                            format!("unexpected `stat` output: {}", output.stdout_text().trim()),
                        )
                    }),
                ABSENT_STATUS => Ok(None),
                _ => Err(file_error("stat", path, output.stderr_text().trim())),
            };
        }
        let metadata = match fs::symlink_metadata(path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(file_error("stat", path, error)),
        };
        let file_type = metadata.file_type();
        let kind = if file_type.is_symlink() {
            let target = fs::read_link(path).map_err(|e| file_error("read link", path, e))?;
            FileKind::Symlink {
                target: target.to_string_lossy().into_owned(),
            }
        } else if file_type.is_dir() {
            FileKind::Directory
        } else if file_type.is_file() {
            FileKind::File
        } else {
            FileKind::Other
        };
        Ok(Some(FileStat {
            kind,
            mode: metadata.mode() & 0o7777,
            uid: metadata.uid(),
            gid: metadata.gid(),
            owner: user_name(metadata.uid()),
            group: group_name(metadata.gid()),
            size: metadata.size(),
        }))
    }

    fn write_file(
        &mut self,
        path: &str,
        content: &[u8],
        options: &WriteOptions,
    ) -> Result<WriteOutcome, HostError> {
        if self.through_commands() {
            self.write_through_commands(path, content, options)
        } else {
            self.write_direct(path, content, options)
        }
    }

    fn remove(&mut self, path: &str) -> Result<(), HostError> {
        check_removable(path)?;
        if self.through_commands() {
            let output = self.run_helper(format!("rm -rf -- {}", quote(path)), None)?;
            return if output.success() {
                Ok(())
            } else {
                Err(file_error("remove", path, output.stderr_text().trim()))
            };
        }
        let metadata = match fs::symlink_metadata(path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(file_error("remove", path, error)),
        };
        let result = if metadata.is_dir() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        result.map_err(|e| file_error("remove", path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_lookups_by_name_and_by_id() {
        assert_eq!(uid_of("root"), Some(0));
        assert_eq!(gid_of("root"), Some(0));
        assert_eq!(uid_of("1234"), Some(1234));
        assert_eq!(uid_of("no-such-user-converge"), None);
        assert_eq!(gid_of("no-such-group-converge"), None);
        assert_eq!(user_name(0), "root");
        assert_eq!(group_name(0), "root");
        assert_eq!(user_name(4_000_000_000), "4000000000");
        assert_eq!(group_name(4_000_000_000), "4000000000");
    }
    use crate::host::FileAttributes;

    /// The direct path, and the command path that become uses (run as this same user).
    fn connections() -> [LocalConnection; 2] {
        let mut through_commands = LocalConnection::new("local-commands");
        through_commands.files_through_commands = true;
        [LocalConnection::new("local"), through_commands]
    }

    fn path_in(dir: &tempfile::TempDir, name: &str) -> String {
        dir.path().join(name).to_string_lossy().into_owned()
    }

    fn entries(dir: &tempfile::TempDir) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn run_argv_shell_stdin_env_and_chdir() {
        let mut local = LocalConnection::new("local");
        let output = local
            .run(&Command::argv(["printf", "%s|", "a b", "$HOME"]))
            .expect("run");
        assert_eq!(
            output.stdout_text(),
            "a b|$HOME|",
            "argv is not re-split or expanded"
        );
        let output = local
            .run(&Command::shell("read line; echo \"got $line\"; exit 3").with_stdin("hello\n"))
            .expect("run");
        assert_eq!(
            (output.status, output.stdout_text()),
            (3, "got hello\n".to_string())
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let mut command = Command::shell("echo \"$CONVERGE_TEST_VAR\"; pwd")
            .with_chdir(dir.path().to_string_lossy());
        command.env.push(("CONVERGE_TEST_VAR".into(), "x y".into()));
        let output = local.run(&command).expect("run");
        let canonical = dir.path().canonicalize().expect("canonical");
        assert_eq!(
            output.stdout_text(),
            format!("x y\n{}\n", canonical.display())
        );
        let error = local
            .run(&Command::argv(["true"]).with_chdir("/nonexistent/converge"))
            .expect_err("missing chdir");
        assert!(error.to_string().contains("does not exist"), "{error}");
    }

    #[test]
    fn missing_program_is_status_127_and_signals_are_128_plus() {
        let mut local = LocalConnection::new("local");
        let output = local
            .run(&Command::argv(["converge-no-such-program"]))
            .expect("run");
        assert_eq!(output.status, 127);
        let output = local.run(&Command::shell("kill -9 $$")).expect("run");
        assert_eq!(output.status, 137);
    }

    #[test]
    fn large_output_and_large_input_do_not_deadlock() {
        let mut local = LocalConnection::new("local");
        let output = local
            .run(&Command::shell(
                "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2",
            ))
            .expect("run");
        assert_eq!(
            (output.stdout.len(), output.stderr.len()),
            (1 << 20, 1 << 20)
        );
        // The command writes all its output before reading any input.
        let input = vec![b'x'; 1 << 20];
        let output = local
            .run(&Command::shell("head -c 1048576 /dev/zero; wc -c").with_stdin(input))
            .expect("run");
        assert_eq!(output.stdout.len(), (1 << 20) + "1048576\n".len());
        // A command that never reads its input.
        let output = local
            .run(&Command::argv(["true"]).with_stdin(vec![0u8; 1 << 20]))
            .expect("run");
        assert!(output.success());
    }

    #[test]
    fn read_absent_empty_and_present_files() {
        for mut local in connections() {
            let dir = tempfile::tempdir().expect("tempdir");
            let empty = path_in(&dir, "empty");
            fs::write(&empty, b"").expect("write");
            assert_eq!(
                local.read_file(&path_in(&dir, "absent")).expect("read"),
                None
            );
            assert_eq!(local.read_file(&empty).expect("read"), Some(Vec::new()));
            let data = path_in(&dir, "it's data");
            fs::write(&data, b"\x00\xffbinary").expect("write");
            assert_eq!(
                local.read_file(&data).expect("read"),
                Some(b"\x00\xffbinary".to_vec())
            );
            assert!(
                local.read_file(&dir.path().to_string_lossy()).is_err(),
                "a directory"
            );
        }
    }

    #[test]
    fn stat_of_file_directory_symlink_and_absent() {
        for mut local in connections() {
            let dir = tempfile::tempdir().expect("tempdir");
            let file = path_in(&dir, "file");
            fs::write(&file, b"12345").expect("write");
            fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).expect("chmod");
            let link = path_in(&dir, "link");
            std::os::unix::fs::symlink("file", &link).expect("symlink");
            let dangling = path_in(&dir, "dangling");
            std::os::unix::fs::symlink("/nonexistent/converge", &dangling).expect("symlink");

            let stat = local.stat(&file).expect("stat").expect("exists");
            assert_eq!(
                (stat.kind.clone(), stat.mode, stat.size),
                (FileKind::File, 0o640, 5)
            );
            // SAFETY: geteuid cannot fail.
            let euid = unsafe { libc::geteuid() };
            assert_eq!(stat.uid, euid);
            assert_eq!(stat.owner, user_name(euid));
            let stat = local.stat(&link).expect("stat").expect("exists");
            assert_eq!(
                stat.kind,
                FileKind::Symlink {
                    target: "file".into()
                }
            );
            let stat = local
                .stat(&dangling)
                .expect("stat")
                .expect("a dangling link exists");
            assert_eq!(
                stat.kind,
                FileKind::Symlink {
                    target: "/nonexistent/converge".into()
                }
            );
            let stat = local
                .stat(&dir.path().to_string_lossy())
                .expect("stat")
                .expect("exists");
            assert_eq!(stat.kind, FileKind::Directory);
            assert_eq!(local.stat(&path_in(&dir, "absent")).expect("stat"), None);
        }
    }

    #[test]
    fn atomic_replace_keeps_mode_and_owner() {
        for mut local in connections() {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = path_in(&dir, "app.conf");
            fs::write(&path, b"old\n").expect("write");
            fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
            // SAFETY: getegid cannot fail.
            let egid = unsafe { libc::getegid() };
            // Give the old file another group when we can (as root), to see it kept.
            let other_gid = if unsafe { libc::geteuid() } == 0 {
                4242
            } else {
                egid
            };
            let _ = std::os::unix::fs::chown(&path, None, Some(other_gid));
            let before = fs::metadata(&path).expect("meta");

            let outcome = local
                .write_file(&path, b"new\n", &WriteOptions::default())
                .expect("write");
            assert_eq!(outcome.backup_file, None);
            assert_eq!(fs::read(&path).expect("read"), b"new\n");
            let after = fs::metadata(&path).expect("meta");
            assert_eq!(after.mode() & 0o7777, 0o640, "{}", local.name);
            assert_eq!(
                (after.uid(), after.gid()),
                (before.uid(), before.gid()),
                "{}",
                local.name
            );
            assert_ne!(
                after.ino(),
                before.ino(),
                "replaced by rename, not rewritten"
            );
            assert_eq!(entries(&dir), ["app.conf"], "no temp file left");
        }
    }

    #[test]
    fn new_file_gets_requested_mode_or_default() {
        for mut local in connections() {
            let dir = tempfile::tempdir().expect("tempdir");
            let default = path_in(&dir, "default");
            local
                .write_file(&default, b"x", &WriteOptions::default())
                .expect("write");
            let mode = fs::metadata(&default).expect("meta").mode() & 0o7777;
            assert_eq!(mode, 0o644 & !current_umask(), "{}", local.name);
            let explicit = path_in(&dir, "explicit");
            let options = WriteOptions {
                attributes: FileAttributes {
                    mode: Some(0o600),
                    owner: Some(user_name(unsafe { libc::geteuid() })),
                    group: Some(unsafe { libc::getegid() }.to_string()),
                },
                ..WriteOptions::default()
            };
            local.write_file(&explicit, b"x", &options).expect("write");
            assert_eq!(
                fs::metadata(&explicit).expect("meta").mode() & 0o7777,
                0o600
            );
            let bad_owner = WriteOptions {
                attributes: FileAttributes {
                    owner: Some("converge-no-such-user".into()),
                    ..FileAttributes::default()
                },
                ..WriteOptions::default()
            };
            assert!(local
                .write_file(&path_in(&dir, "bad"), b"x", &bad_owner)
                .is_err());
            assert_eq!(
                entries(&dir),
                ["default", "explicit"],
                "{}: no temp or bad file",
                local.name
            );
        }
    }

    #[test]
    fn validation_failure_keeps_the_old_file_and_leaves_no_temp_file() {
        for mut local in connections() {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = path_in(&dir, "sudoers");
            fs::write(&path, b"good\n").expect("write");
            let options = WriteOptions {
                validate: Some(
                    "grep -q good %s || { echo \"rejected $(cat %s)\"; exit 7; }".into(),
                ),
                ..WriteOptions::default()
            };
            let error = local
                .write_file(&path, b"bad\n", &options)
                .expect_err("rejected");
            match error {
                HostError::ValidationFailed { status, output, .. } => {
                    assert_eq!(status, 7, "{}", local.name);
                    assert_eq!(output, "rejected bad", "{}", local.name);
                }
                other => panic!("{}: unexpected {other}", local.name),
            }
            assert_eq!(fs::read(&path).expect("read"), b"good\n");
            assert_eq!(entries(&dir), ["sudoers"], "{}", local.name);
            local
                .write_file(&path, b"good too\n", &options)
                .expect("accepted");
            assert_eq!(fs::read(&path).expect("read"), b"good too\n");
            let no_placeholder = WriteOptions {
                validate: Some("true".into()),
                ..WriteOptions::default()
            };
            assert!(local.write_file(&path, b"x", &no_placeholder).is_err());
            assert_eq!(fs::read(&path).expect("read"), b"good too\n");
        }
    }

    #[test]
    fn missing_parent_is_an_error_unless_create_parents() {
        for mut local in connections() {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = path_in(&dir, "a/b/file");
            let error = local
                .write_file(&path, b"x", &WriteOptions::default())
                .expect_err("no parent");
            assert!(
                error.to_string().contains("does not exist"),
                "{}: {error}",
                local.name
            );
            assert_eq!(entries(&dir), Vec::<String>::new());
            let options = WriteOptions {
                create_parents: true,
                ..WriteOptions::default()
            };
            local.write_file(&path, b"x", &options).expect("write");
            assert_eq!(fs::read(&path).expect("read"), b"x");
        }
    }

    #[test]
    fn backup_keeps_the_old_content() {
        for mut local in connections() {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = path_in(&dir, "hosts");
            let options = WriteOptions {
                backup: true,
                ..WriteOptions::default()
            };
            // No old file: nothing to back up.
            assert_eq!(
                local
                    .write_file(&path, b"one\n", &options)
                    .expect("write")
                    .backup_file,
                None
            );
            let backup = local
                .write_file(&path, b"two\n", &options)
                .expect("write")
                .backup_file
                .expect("a backup");
            assert_eq!(fs::read(&backup).expect("read backup"), b"one\n");
            assert_eq!(fs::read(&path).expect("read"), b"two\n");
            let stamp = backup
                .strip_prefix(&format!("{path}."))
                .and_then(|rest| rest.strip_suffix('~'))
                .expect("PATH.STAMP~");
            let shape: String = stamp
                .chars()
                .map(|c| if c.is_ascii_digit() { '9' } else { c })
                .collect();
            assert_eq!(shape, "9999-99-99@99:99:99", "{}", local.name);
        }
    }

    #[test]
    fn remove_file_link_directory_and_absent() {
        for mut local in connections() {
            let dir = tempfile::tempdir().expect("tempdir");
            let sub = path_in(&dir, "sub");
            fs::create_dir_all(format!("{sub}/deep")).expect("mkdir");
            fs::write(format!("{sub}/deep/f"), b"x").expect("write");
            let target = path_in(&dir, "target");
            fs::write(&target, b"x").expect("write");
            let link = path_in(&dir, "link");
            std::os::unix::fs::symlink(&target, &link).expect("symlink");
            local.remove(&link).expect("remove link");
            assert!(Path::new(&target).exists(), "the link's target stays");
            local.remove(&sub).expect("remove dir");
            local.remove(&target).expect("remove file");
            local
                .remove(&path_in(&dir, "absent"))
                .expect("absent is ok");
            assert_eq!(entries(&dir), Vec::<String>::new());
            assert!(local.remove("/").is_err());
        }
    }

    #[test]
    fn becoming_the_current_user_takes_the_direct_path() {
        let mut local = LocalConnection::new("local");
        // SAFETY: geteuid cannot fail.
        let me = user_name(unsafe { libc::geteuid() });
        local.set_become(Some(Become {
            user: me.clone(),
            method: BecomeMethod::Sudo,
            password: None,
        }));
        assert!(local.becoming().is_none());
        let command = Command::argv(["id", "-un"]);
        assert_eq!(local.wrap(&command).expect("wrap"), command);
        assert_eq!(local.run(&command).expect("run").stdout_text().trim(), me);
        local.set_become(None);
        assert!(!local.through_commands());
    }

    #[test]
    fn sudo_and_su_wrapping() {
        let mut command = Command::shell("cat > /tmp/x")
            .with_stdin("data")
            .with_chdir("/srv");
        command.env.push(("LC_ALL".into(), "C".into()));
        let wrapped = sudo_command(&command, "postgres", None);
        assert_eq!(
            wrapped.to_shell_line(),
            "cd /srv && sudo -n -u postgres -- env LC_ALL=C /bin/sh -c 'cat > /tmp/x'"
        );
        assert_eq!(wrapped.stdin.as_deref(), Some(&b"data"[..]));
        let wrapped = sudo_command(&command, "postgres", Some("s3cret"));
        let line = wrapped.to_shell_line();
        assert!(
            line.starts_with("cd /srv && sudo -S -k -p '' -u postgres -- "),
            "{line}"
        );
        assert!(!line.contains("s3cret"), "the password is never in argv");
        assert!(wrapped.env.is_empty());
        assert_eq!(wrapped.stdin.as_deref(), Some(&b"s3cret\ndata"[..]));
        let wrapped = su_command(&command, "nobody");
        assert_eq!(
            wrapped.to_shell_line(),
            r#"su -s /bin/sh nobody -c 'export LC_ALL=C; cd /srv && cat > /tmp/x'"#
        );
    }

    #[test]
    fn su_with_a_password_is_refused() {
        let mut local = LocalConnection::new("local");
        local.set_become(Some(Become {
            user: "converge-no-such-user".into(),
            method: BecomeMethod::Su,
            password: Some(crate::host::Secret("pw".into())),
        }));
        let error = local.run(&Command::argv(["true"])).expect_err("refused");
        assert!(error.to_string().contains("needs a terminal"), "{error}");
    }

    #[test]
    fn stat_output_parsing() {
        let stat = parse_stat_output("81a4 0 0 12 root root\n").expect("parsed");
        assert_eq!(
            (stat.kind, stat.mode, stat.size),
            (FileKind::File, 0o644, 12)
        );
        let stat = parse_stat_output("a1ff 1000 1000 4 UNKNOWN UNKNOWN\nfile\n").expect("parsed");
        assert_eq!(
            stat.kind,
            FileKind::Symlink {
                target: "file".into()
            }
        );
        assert_eq!((stat.owner.as_str(), stat.group.as_str()), ("1000", "1000"));
        assert!(parse_stat_output("garbage").is_none());
    }
}
