//! `fetch`: copy a file from the host to the controller, as Ansible's `fetch`.
//!
//! Converges a file on the controller: `DEST/INVENTORY_HOSTNAME/SRC`, or with `flat: yes`
//! `DEST` itself (`DEST/BASENAME` when `dest` ends in `/`). A relative `dest` is relative to
//! the playbook's directory. Reads the host's file with one stat-and-read round trip, then
//! compares its SHA-1 with the controller's copy: equal is no change; otherwise the plan's one
//! step writes the controller's file (missing directories are created), atomically, and with
//! `validate_checksum` the new file is checked against the host's checksum (with the
//! controller's `sha1sum`, or `shasum -a 1`) before it replaces the old one. The plan's steps are for the controller: the engine applies them there
//! ([`plan_fetch`]), never on the host.
//!
//! Results are Ansible's: `dest`, `checksum`, `md5sum`, and `remote_checksum`/`remote_md5sum`
//! when copied, `file` when not. A missing file (or a directory) fails unless
//! `fail_on_missing: no`, with Ansible's messages. Unlike Ansible, check mode plans (it says
//! whether the copy would change) instead of skipping, and a `src` that would land outside
//! `DEST/INVENTORY_HOSTNAME` (`../` in it) is refused.
//!
//! ```yaml
//! - fetch:
//!     src: /etc/ssh/ssh_host_ed25519_key.pub
//!     dest: keys/
//! - fetch:
//!     src: /var/log/app.log
//!     dest: "logs/{{ inventory_hostname }}.log"
//!     flat: yes
//! ```

use crate::args::Flag;
use crate::host::{FileKind, Host, HostError, WriteOptions};
use crate::module::{Context, ModuleError, Target, TypedModule};
use crate::plan::{Change, ChangeDetail, Plan, Step};
use md5::Md5;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use std::path::{Component, Path, PathBuf};

fn yes() -> Flag {
    Flag(true)
}

/// Arguments of `fetch`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FetchArgs {
    /// The file on the host (not a directory).
    pub src: String,
    /// Where on the controller: a directory that gets `INVENTORY_HOSTNAME/SRC` below it, or
    /// with `flat: yes` the file itself (ending in `/`: a directory for `src`'s base name).
    /// Relative to the playbook's directory.
    pub dest: String,
    /// Fail when the file cannot be read (missing, a directory, unreadable).
    #[serde(default = "yes")]
    pub fail_on_missing: Flag,
    /// Check the controller's new file against the host's checksum before it replaces the
    /// old one.
    #[serde(default = "yes")]
    pub validate_checksum: Flag,
    /// `dest` is the file (or, ending in `/`, its directory), without the host name and the
    /// source path below it.
    #[serde(default)]
    pub flat: Flag,
}

/// The `fetch` module.
pub struct Fetch;

impl TypedModule for Fetch {
    type Args = FetchArgs;
    const NAME: &'static str = "fetch";
    const SUMMARY: &'static str = "Copy a file from the host to the controller";
    const EXAMPLES: &'static str = "- fetch:\n    src: /etc/ssh/ssh_host_ed25519_key.pub\n    dest: keys/\n\n- fetch:\n    src: /var/log/app.log\n    dest: \"logs/{{ inventory_hostname }}.log\"\n    flat: yes\n\n- fetch:\n    src: /etc/maybe.conf\n    dest: backup\n    fail_on_missing: no\n";
    const USES_FACTS: bool = false;
    /// The engine plans it against the host and applies the plan on the controller.
    const TARGET: Target = Target::Controller;

    fn plan(_: FetchArgs, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::ControllerOnly(Self::NAME))
    }
}

/// Where the run is: what a relative `dest` and the per-host directory are made from.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// The host's inventory name (the directory below `dest` without `flat`).
    pub inventory_hostname: &'a str,
    /// The playbook's directory.
    pub base_dir: &'a Path,
}

/// Read `src` on `host` and plan the controller's copy. The plan's steps write on the
/// controller: apply it to a connection to this machine, not to `host`.
pub fn plan_fetch(
    args: FetchArgs,
    host: &mut dyn Host,
    origin: &Origin,
) -> Result<Plan, ModuleError> {
    let fail_on_missing = args.fail_on_missing.0;
    let src = crate::known_hosts::expand_home(&args.src, host)?;
    let mut plan = Plan::unchanged();
    let unreadable = |mut plan: Plan, message: String, ignored: bool| {
        if fail_on_missing {
            return Err(ModuleError::failed(message));
        }
        if ignored {
            plan.result.insert("file".into(), json!(src));
        }
        plan.result.insert("msg".into(), json!(message));
        Ok(plan)
    };
    let read_error = |plan: Plan, error: HostError| {
        let message = read_failure(&src, error)?;
        // A link to a directory: Ansible's stat follows it.
        let ignored = !message.starts_with(DIRECTORY);
        let message = if ignored || fail_on_missing {
            message
        } else {
            format!("{message}, not transferring, ignored")
        };
        unreadable(plan, message, ignored)
    };
    let content = match host.stat_and_read(&src) {
        Ok((None, _)) => {
            return unreadable(
                plan,
                "the remote file does not exist, not transferring, ignored".into(),
                true,
            )
        }
        Ok((Some(stat), _)) if stat.kind == FileKind::Directory => {
            let mut message = DIRECTORY.to_string();
            if !fail_on_missing {
                message.push_str(", not transferring, ignored");
            }
            return unreadable(plan, message, false);
        }
        Ok((Some(_), Some(content))) => content,
        Ok((Some(_), None)) => match host.read_file(&src) {
            Ok(Some(content)) => content,
            Ok(None) => {
                return unreadable(
                    plan,
                    "the remote file does not exist, not transferring, ignored".into(),
                    true,
                )
            }
            Err(error) => return read_error(plan, error),
        },
        Err(error) => return read_error(plan, error),
    };
    let dest = destination(&args, &src, origin)?;
    let dest_text = dest.display().to_string();
    let remote_checksum = hex(Sha1::digest(&content).as_slice());
    let local = match std::fs::read(&dest) {
        Ok(bytes) => Some(bytes),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) if dest.is_dir() => {
            let _ = error;
            None
        }
        Err(error) => {
            return Err(ModuleError::failed(format!(
                "cannot read `{dest_text}` on the controller: {error}"
            )))
        }
    };
    let local_checksum = local
        .as_ref()
        .map(|bytes| hex(Sha1::digest(bytes).as_slice()));
    if local_checksum.as_deref() == Some(remote_checksum.as_str()) {
        let md5sum = local
            .as_ref()
            .map(|bytes| hex(Md5::digest(bytes).as_slice()));
        plan.result.insert("md5sum".into(), json!(md5sum));
        plan.result.insert("file".into(), json!(src));
        plan.result.insert("dest".into(), json!(dest_text));
        plan.result.insert("checksum".into(), json!(local_checksum));
        return Ok(plan);
    }
    plan.result.insert(
        "md5sum".into(),
        json!(hex(Md5::digest(&content).as_slice())),
    );
    plan.result.insert("dest".into(), json!(dest_text));
    plan.result.insert("remote_md5sum".into(), Value::Null);
    plan.result
        .insert("checksum".into(), json!(remote_checksum));
    plan.result
        .insert("remote_checksum".into(), json!(remote_checksum));
    let validate = args.validate_checksum.0.then(|| {
        format!(
            "test \"$( (sha1sum 2>/dev/null || shasum -a 1) < %s | cut -d' ' -f1)\" = {remote_checksum}"
        )
    });
    let change = match (
        local.as_ref().map(|b| String::from_utf8(b.clone())),
        String::from_utf8(content.clone()),
    ) {
        (None, Ok(after)) => Change::content(dest_text.clone(), None, Some(after)),
        (Some(Ok(before)), Ok(after)) => {
            Change::content(dest_text.clone(), Some(before), Some(after))
        }
        _ => Change {
            subject: dest_text.clone(),
            detail: ChangeDetail::Hidden(format!(
                "binary file from {}:{src} ({} bytes)",
                origin.inventory_hostname,
                content.len()
            )),
        },
    };
    plan.push(
        change,
        [Step::WriteFile {
            path: dest_text,
            content,
            options: WriteOptions {
                create_parents: true,
                validate,
                ..WriteOptions::default()
            },
        }],
    );
    Ok(plan)
}

/// Ansible's message for a directory.
const DIRECTORY: &str = "remote file is a directory, fetch cannot work on directories";

/// Ansible's messages (slurp's) for a file that cannot be read; a lost connection stays
/// an error whatever `fail_on_missing` says.
fn read_failure(src: &str, error: HostError) -> Result<String, ModuleError> {
    let reason = error.to_string();
    if matches!(error, HostError::Unreachable { .. }) {
        return Err(ModuleError::Host(error));
    }
    let lower = reason.to_lowercase();
    Ok(if lower.contains("permission denied") {
        format!("file is not readable: {src}")
    } else if lower.contains("is a directory") || lower.contains("not a regular file") {
        DIRECTORY.to_string()
    } else {
        format!("unable to read {src}: {reason}")
    })
}

/// The controller path of the copy, as Ansible's fetch computes it.
pub fn destination(args: &FetchArgs, src: &str, origin: &Origin) -> Result<PathBuf, ModuleError> {
    let dest = expand_controller_home(&args.dest);
    let dwim = |path: &str| -> PathBuf {
        if path.starts_with('/') {
            PathBuf::from(path)
        } else {
            origin.base_dir.join(path)
        }
    };
    if args.flat.0 {
        let mut dest = dest;
        // Ansible tests the directories relative to its working directory; converge to the
        // playbook's, where the file goes.
        if dwim(&dest).is_dir() && !dest.ends_with('/') {
            return Err(ModuleError::failed(
                "dest is an existing directory, use a trailing slash if you want to fetch src into that directory",
            ));
        }
        if dest.ends_with('/') {
            let base = src.rsplit('/').next().unwrap_or(src);
            dest = format!("{dest}{base}");
            if dwim(&dest).is_dir() {
                return Err(ModuleError::failed(format!(
                    "calculated dest '{dest}' is an existing directory, use another path that does not point to an existing directory"
                )));
            }
        }
        return Ok(normalize(&dwim(&dest)));
    }
    let root = normalize(&dwim(&dest).join(origin.inventory_hostname));
    let joined = normalize(&PathBuf::from(format!(
        "{}/{}",
        root.display(),
        src.trim_start_matches('/')
    )));
    if !joined.starts_with(&root) || joined == root {
        return Err(ModuleError::failed(format!(
            "Detected directory traversal, expected to be contained in '{}' but got '{}'",
            root.display(),
            joined.display()
        )));
    }
    Ok(joined)
}

/// `~` and `~/…` on the controller.
fn expand_controller_home(path: &str) -> String {
    match (path.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => path.to_string(),
    }
}

/// Python's `os.path.normpath`: `.` and `..` resolved lexically, slashes collapsed.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(dest: &str, flat: bool) -> FetchArgs {
        FetchArgs {
            src: String::new(),
            dest: dest.into(),
            fail_on_missing: Flag(true),
            validate_checksum: Flag(true),
            flat: Flag(flat),
        }
    }

    #[test]
    fn destinations_are_ansibles() {
        let origin = Origin {
            inventory_hostname: "web1",
            base_dir: Path::new("/play"),
        };
        let at = |dest: &str, flat: bool, src: &str| {
            destination(&args(dest, flat), src, &origin)
                .map(|p| p.display().to_string())
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            at("/backup", false, "/etc/profile").unwrap(),
            "/backup/web1/etc/profile"
        );
        assert_eq!(
            at("fetched", false, "/etc/x").unwrap(),
            "/play/fetched/web1/etc/x"
        );
        assert_eq!(at("out/", false, "rel/x").unwrap(), "/play/out/web1/rel/x");
        assert_eq!(
            at("keys/", true, "/etc/ssh/k.pub").unwrap(),
            "/play/keys/k.pub"
        );
        assert_eq!(at("/srv/a.conf", true, "/etc/x").unwrap(), "/srv/a.conf");
        assert!(at("/b", false, "/../../etc/passwd")
            .unwrap_err()
            .contains("directory traversal"));
    }
}
