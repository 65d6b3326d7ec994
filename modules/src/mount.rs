//! `mount` (ansible.posix): an fstab entry, and whether it is mounted now.
//!
//! Converges two things: the line for `path` in the fstab (`/etc/fstab` unless `fstab` says
//! otherwise), edited with the pure functions [`set_entry`] and [`unset_entry`] by Ansible's
//! rules (every line whose mount point is `path` takes the wanted fields; `\040`-style
//! escapes for spaces, `&` and `\`), and the live mount, read from `/proc/self/mountinfo`
//! (bind mounts included). Planning reads both files; the steps write the fstab atomically
//! and run `mkdir -p`, `mount`, `mount -o remount` (falling back to `umount` + `mount`) or
//! `umount`. Idempotence: with the line in place and the path mounted, planning again
//! changes nothing, except `state: remounted`, which always remounts (as in Ansible).
//!
//! Not built: `state: ephemeral`, `opts_no_log`, SunOS/BSD fstab formats.
//!
//! ```yaml
//! - ansible.posix.mount:
//!     path: /srv/data
//!     src: UUID=0a1b2c3d-0000-4000-8000-000000000001
//!     fstype: ext4
//!     opts: noatime
//!     state: mounted
//! ```

use crate::args::{Flag, Text};
use crate::fsutil;
use crate::host::{Command, Host, WriteOptions};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// What to converge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MountState {
    /// In the fstab and mounted now (the mount point is created).
    Mounted,
    /// Not mounted now; the fstab is left alone.
    Unmounted,
    /// In the fstab; the live state is left alone.
    Present,
    /// Not in the fstab, not mounted, and the mount point removed.
    Absent,
    /// Not in the fstab; the live state is left alone.
    AbsentFromFstab,
    /// Remount now (always a change).
    Remounted,
    /// Mounted now without an fstab entry (not built in converge).
    Ephemeral,
}

/// Arguments of `mount`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MountArgs {
    /// The mount point.
    #[serde(alias = "name")]
    pub path: String,
    /// The device (or `UUID=…`, `LABEL=…`, a remote share, a directory for bind mounts).
    pub src: Option<String>,
    /// The filesystem type (`ext4`, `tmpfs`, `none` for bind mounts…).
    pub fstype: Option<String>,
    /// Mount options; default `defaults`.
    pub opts: Option<String>,
    /// The fstab's dump field; default `0`.
    pub dump: Option<Text>,
    /// The fstab's pass field; default `0`.
    pub passno: Option<Text>,
    /// What to converge.
    pub state: MountState,
    /// The fstab file; default `/etc/fstab`.
    pub fstab: Option<String>,
    /// Mount at boot; `no` adds `noauto` to the options.
    #[serde(default = "yes")]
    pub boot: Flag,
    /// Keep the old fstab as `FSTAB.TIMESTAMP~` when changing it.
    #[serde(default)]
    pub backup: Flag,
    /// Hide `opts` from logs (not built in converge).
    #[serde(default)]
    pub opts_no_log: Flag,
}

fn yes() -> Flag {
    Flag(true)
}

/// The fields of one fstab line, as Ansible writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FstabEntry {
    /// Device.
    pub src: String,
    /// Mount point.
    pub name: String,
    /// Filesystem type.
    pub fstype: String,
    /// Options.
    pub opts: String,
    /// Dump field.
    pub dump: String,
    /// Pass field.
    pub passno: String,
}

impl FstabEntry {
    /// The line, fields escaped.
    pub fn line(&self) -> String {
        format!(
            "{} {} {} {} {} {}\n",
            escape(&self.src),
            escape(&self.name),
            escape(&self.fstype),
            escape(&self.opts),
            escape(&self.dump),
            escape(&self.passno)
        )
    }
}

/// Ansible's fstab escaping: `\` → `\134`, space → `\040`, `&` → `\046`.
pub fn escape(value: &str) -> String {
    value
        .replace('\\', "\\134")
        .replace(' ', "\\040")
        .replace('&', "\\046")
}

/// Put `entry` in the fstab `text`: every line whose mount point is the entry's (and, for
/// swap lines named `none`, whose device is the entry's) takes the entry's fields; none
/// found, the line is appended. Returns the new text and whether it changed.
pub fn set_entry(text: &str, entry: &FstabEntry) -> (String, bool) {
    let wanted = [
        escape(&entry.src),
        escape(&entry.name),
        escape(&entry.fstype),
        escape(&entry.opts),
        escape(&entry.dump),
        escape(&entry.passno),
    ];
    let mut out = String::new();
    let mut exists = false;
    let mut changed = false;
    for raw in text.split_inclusive('\n') {
        let line = if raw.ends_with('\n') {
            raw.to_string()
        } else {
            format!("{raw}\n")
        };
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            out.push_str(&line);
            continue;
        }
        let fields: Vec<&str> = line
            .split('#')
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        if !(4..=6).contains(&fields.len()) || !same_mount(&fields, entry) {
            out.push_str(&line);
            continue;
        }
        exists = true;
        // A missing dump/pass field is Python's 0, never equal to the string "0": Ansible
        // rewrites such a line with all six fields.
        let differs = fields.len() < 6
            || fields
                .iter()
                .zip(wanted.iter())
                .enumerate()
                .any(|(index, (have, want))| index != 1 && have != want);
        if differs {
            changed = true;
            out.push_str(&entry.line());
        } else {
            out.push_str(&line);
        }
    }
    if !exists {
        out.push_str(&entry.line());
        changed = true;
    }
    (out, changed)
}

fn same_mount(fields: &[&str], entry: &FstabEntry) -> bool {
    let name = escape(&entry.name);
    if fields[1] != name {
        return false;
    }
    !(fields[1] == "none" && fields[2] == "swap" && fields[0] != entry.src)
}

/// Remove the lines for `name` from the fstab `text` (only six-field lines count, as in
/// Ansible). `src`, when given, tells swap lines named `none` apart.
pub fn unset_entry(text: &str, name: &str, src: Option<&str>) -> (String, bool) {
    let escaped = escape(name);
    let mut out = String::new();
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        let fields: Vec<&str> = line.split_whitespace().collect();
        if trimmed.is_empty() || trimmed.starts_with('#') || fields.len() != 6 {
            out.push_str(line);
            continue;
        }
        let other_swap =
            src.is_some_and(|src| fields[1] == "none" && fields[2] == "swap" && fields[0] != src);
        if fields[1] != escaped || other_swap {
            out.push_str(line);
            continue;
        }
        changed = true;
    }
    (out, changed)
}

/// The mount points in `/proc/self/mountinfo` (field 5, octal escapes decoded).
pub fn mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape_octal)
        .collect()
}

fn unescape_octal(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'\\' && index + 4 <= bytes.len() {
            let digits = &bytes[index + 1..index + 4];
            if digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                if let Ok(byte) = u8::try_from(value) {
                    out.push(byte);
                    index += 4;
                    continue;
                }
            }
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `mount` module.
pub struct Mount;

impl TypedModule for Mount {
    type Args = MountArgs;
    const NAME: &'static str = "mount";
    const SUMMARY: &'static str = "Manage an fstab entry and whether it is mounted";
    const EXAMPLES: &'static str = "- ansible.posix.mount:\n    path: /srv/data\n    src: UUID=0a1b2c3d-0000-4000-8000-000000000001\n    fstype: ext4\n    opts: noatime\n    state: mounted\n\n- ansible.posix.mount:\n    path: /srv/www\n    src: /home/www\n    fstype: none\n    opts: bind\n    state: mounted\n\n- ansible.posix.mount:\n    path: /mnt/old\n    state: absent\n";
    const USES_FACTS: bool = false;

    fn check(args: &MountArgs) -> Result<(), ArgsError> {
        if args.state == MountState::Ephemeral {
            return Err(ArgsError::new(
                Some("state"),
                "`state: ephemeral` of module `mount` is not built in converge",
            )
            .with_hint("use `state: mounted` (which also writes the fstab entry)"));
        }
        if args.opts_no_log.0 {
            return Err(ArgsError::new(
                Some("opts_no_log"),
                "`opts_no_log` of module `mount` is not built in converge",
            ));
        }
        if matches!(args.state, MountState::Mounted | MountState::Present) {
            let state = if args.state == MountState::Mounted {
                "mounted"
            } else {
                "present"
            };
            let mut missing = Vec::new();
            if args.src.is_none() {
                missing.push("src");
            }
            if args.fstype.is_none() {
                missing.push("fstype");
            }
            if !missing.is_empty() {
                return Err(ArgsError::new(
                    Some(missing[0]),
                    format!(
                        "state is {state} but all of the following are missing: {}",
                        missing.join(", ")
                    ),
                ));
            }
        }
        if !args.path.starts_with('/') {
            return Err(ArgsError::new(
                Some("path"),
                format!("`path` must be absolute, found `{}`", args.path),
            ));
        }
        Ok(())
    }

    fn plan(args: MountArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let mut plan = Plan::unchanged();
        let path = args.path.trim_end_matches('/').to_string();
        let path = if path.is_empty() {
            "/".to_string()
        } else {
            path
        };
        let fstab = args.fstab.clone().unwrap_or_else(|| "/etc/fstab".into());
        let mut opts = args.opts.clone().unwrap_or_else(|| "defaults".into());
        let noauto = opts.split(',').any(|o| o == "noauto");
        if args.boot.0 && noauto {
            plan.warnings
                .push("Ignore the 'boot' due to 'opts' contains 'noauto'.".into());
        } else if !args.boot.0 {
            opts.push_str(",noauto");
        }
        let entry = FstabEntry {
            src: args.src.clone().unwrap_or_default(),
            name: path.clone(),
            fstype: args.fstype.clone().unwrap_or_default(),
            opts: opts.clone(),
            dump: args.dump.clone().map_or("0".into(), |t| t.0),
            passno: args.passno.clone().map_or("0".into(), |t| t.0),
        };
        for (key, value) in [
            ("name", Some(path.clone())),
            ("src", args.src.clone()),
            ("fstype", args.fstype.clone()),
            ("opts", Some(opts.clone())),
            ("dump", Some(entry.dump.clone())),
            ("passno", Some(entry.passno.clone())),
            ("fstab", Some(fstab.clone())),
            (
                "boot",
                Some(if args.boot.0 { "yes" } else { "no" }.to_string()),
            ),
        ] {
            if let Some(value) = value {
                plan.result.insert(key.into(), Value::String(value));
            }
        }
        let touches_fstab = !matches!(args.state, MountState::Unmounted | MountState::Remounted);
        let fstab_text = if touches_fstab {
            match host.read_file(&fstab)? {
                Some(bytes) => Some(
                    String::from_utf8(bytes)
                        .map_err(|_| ModuleError::failed(format!("`{fstab}` is not UTF-8 text")))?,
                ),
                None => None,
            }
        } else {
            None
        };
        let mounted = match host.read_file("/proc/self/mountinfo")? {
            Some(bytes) => mount_points(&String::from_utf8_lossy(&bytes)).contains(&path),
            None => {
                return Err(ModuleError::failed(
                    "cannot read /proc/self/mountinfo to tell what is mounted",
                ))
            }
        };
        let fstab_args: Vec<String> = if fstab == "/etc/fstab" {
            Vec::new()
        } else {
            vec!["-T".into(), fstab.clone()]
        };
        let text = fstab_text.clone().unwrap_or_default();
        let mut fstab_changed = false;
        let write = |plan: &mut Plan, after: String| {
            plan.push(
                fsutil::content_change(
                    &fstab,
                    fstab_text.as_deref().map(str::as_bytes),
                    Some(after.as_bytes()),
                ),
                [Step::WriteFile {
                    path: fstab.clone(),
                    content: after.into_bytes(),
                    options: WriteOptions {
                        create_parents: true,
                        backup: args.backup.0,
                        ..WriteOptions::default()
                    },
                }],
            );
        };
        match args.state {
            MountState::Present | MountState::Mounted => {
                let (after, changed) = set_entry(&text, &entry);
                if changed {
                    fstab_changed = true;
                    write(&mut plan, after);
                }
            }
            MountState::Absent | MountState::AbsentFromFstab => {
                let (after, changed) = unset_entry(&text, &path, args.src.as_deref());
                if changed {
                    fstab_changed = true;
                    write(&mut plan, after);
                }
            }
            _ => {}
        }
        match args.state {
            MountState::Mounted => {
                if mounted {
                    if fstab_changed {
                        plan.push(
                            Change::note(&path, "remount with the new fstab entry"),
                            [remount_step(&path, None, &fstab_args)],
                        );
                    }
                } else {
                    if host.stat(&path)?.is_none() {
                        plan.push(
                            Change::note(&path, "create the mount point"),
                            [fsutil::run(vec!["mkdir".into(), "-p".into(), path.clone()])],
                        );
                    }
                    let mut argv = vec!["mount".to_string()];
                    argv.extend(fstab_args.iter().cloned());
                    argv.push(path.clone());
                    plan.push(
                        Change::value(
                            format!("{path} (mounted)"),
                            Some("no".into()),
                            Some("yes".into()),
                        ),
                        [fsutil::run(argv)],
                    );
                }
            }
            MountState::Unmounted if mounted => {
                plan.push(
                    Change::value(
                        format!("{path} (mounted)"),
                        Some("yes".into()),
                        Some("no".into()),
                    ),
                    [fsutil::run(vec!["umount".into(), path.clone()])],
                );
            }
            MountState::Absent if fstab_changed => {
                if mounted {
                    plan.push(
                        Change::value(
                            format!("{path} (mounted)"),
                            Some("yes".into()),
                            Some("no".into()),
                        ),
                        [fsutil::run(vec!["umount".into(), path.clone()])],
                    );
                }
                if host.stat(&path)?.is_some() {
                    plan.push(
                        Change::note(&path, "remove the mount point (rmdir)"),
                        [fsutil::run(vec!["rmdir".into(), path.clone()])],
                    );
                }
            }
            MountState::Remounted => {
                let extra = (opts != "defaults").then_some(opts.as_str());
                plan.push(
                    Change::note(&path, "remount"),
                    [remount_step(&path, extra, &fstab_args)],
                );
            }
            _ => {}
        }
        Ok(plan)
    }
}

/// `mount -o remount[,OPTS] PATH`, and if the filesystem cannot remount, `umount` + `mount`
/// (Ansible's fallback).
fn remount_step(path: &str, opts: Option<&str>, fstab_args: &[String]) -> Step {
    let options = match opts {
        Some(opts) => format!("remount,{opts}"),
        None => "remount".into(),
    };
    let fstab: String = fstab_args
        .iter()
        .map(|a| format!(" {}", crate::quote(a)))
        .collect();
    let path = crate::quote(path);
    let options = crate::quote(&options);
    Step::Run {
        command: Command::shell(format!(
            "mount{fstab} -o {options} {path} || {{ umount {path} && mount{fstab} {path}; }}"
        )),
        allow_failure: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_mount_points_decode_octal_escapes() {
        let info = "22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw\n40 22 0:35 / /srv/my\\040data rw - tmpfs tmpfs rw\n";
        assert_eq!(mount_points(info), vec!["/", "/srv/my data"]);
    }
}
