//! Shared by the modules that manage files: attribute comparison, content changes, argument
//! checks, and the chmod/chown commands that set attributes (the Host trait has no chmod).

use crate::args::Mode;
use crate::host::{Command, FileAttributes, FileStat, Host};
use crate::module::{ArgsError, ModuleError};
use crate::plan::{Change, ChangeDetail, Step};

/// Larger files are not diffed: the report only says that they change.
pub(crate) const MAX_DIFF_BYTES: usize = 1024 * 1024;

/// Octal text of permission bits, as Ansible prints them (`0644`).
pub(crate) fn format_mode(bits: u32) -> String {
    format!("{bits:04o}")
}

/// What a path will be if it does not exist yet: its default mode is the host's
/// `0666 & ~umask` for a file and `0777 & ~umask` for a directory, which a symbolic `mode`
/// starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NewKind {
    File,
    Directory,
}

/// The attributes asked for by a module's `mode`, `owner` and `group`, for the path whose
/// stat is `current` (`None`: a `new` path to be created). A symbolic mode is resolved here
/// against the current bits, reading the host's umask only when it matters.
pub(crate) fn attributes(
    host: &mut dyn Host,
    mode: Option<&Mode>,
    owner: Option<&String>,
    group: Option<&String>,
    current: Option<&FileStat>,
    new: NewKind,
) -> Result<FileAttributes, ModuleError> {
    let mode = match mode {
        None => None,
        Some(Mode::Bits(bits)) => Some(*bits),
        Some(symbolic) => {
            let umask = if symbolic.uses_umask() || current.is_none() {
                host_umask(host)?
            } else {
                0
            };
            Some(match current {
                Some(stat) => symbolic.resolve(
                    stat.mode & 0o7777,
                    stat.kind == crate::FileKind::Directory,
                    umask,
                ),
                None => match new {
                    NewKind::File => symbolic.resolve(0o666 & !umask, false, umask),
                    NewKind::Directory => symbolic.resolve(0o777 & !umask, true, umask),
                },
            })
        }
    };
    Ok(FileAttributes {
        mode,
        owner: owner.cloned(),
        group: group.cloned(),
    })
}

/// The umask a command on the host runs with (one round trip; only symbolic modes need it).
pub(crate) fn host_umask(host: &mut dyn Host) -> Result<u32, ModuleError> {
    let command = Command::shell("umask");
    let output = host.run(&command)?;
    let text = output.stdout_text();
    match (output.success(), u32::from_str_radix(text.trim(), 8)) {
        (true, Ok(umask)) if umask <= 0o777 => Ok(umask),
        _ => Err(ModuleError::failed(format!(
            "cannot read the umask on the host for a symbolic `mode`: `umask` printed `{}` (status {}) {}",
            text.trim(),
            output.status,
            output.stderr_text().trim()
        ))),
    }
}

/// `attributes` (chattr flags) is not implemented: a non-empty value fails rather than being
/// silently dropped (an empty one asks for nothing, as in Ansible).
pub(crate) fn check_attributes(module: &str, attributes: Option<&String>) -> Result<(), ArgsError> {
    match attributes.map(|a| a.trim()) {
        Some(flags) if !flags.is_empty() => Err(ArgsError::new(
            Some("attributes"),
            format!("`attributes` (`{flags}`) of module `{module}` is not implemented by converge"),
        )
        .with_hint(format!(
            "drop `attributes`, or set the flags with `command: chattr {flags} PATH`"
        ))),
        _ => Ok(()),
    }
}

/// `validate` must name the file under test with `%s`.
pub(crate) fn check_validate(module: &str, validate: Option<&String>) -> Result<(), ArgsError> {
    match validate {
        Some(command) if !command.contains("%s") => Err(ArgsError::new(
            Some("validate"),
            format!(
                "`validate` of module `{module}` must contain `%s`, the path of the file to check"
            ),
        )
        .with_hint(format!("e.g. `validate: {command} %s`"))),
        _ => Ok(()),
    }
}

/// A file content change: a text diff, or withheld when either side is binary or large.
pub(crate) fn content_change(path: &str, before: Option<&[u8]>, after: Option<&[u8]>) -> Change {
    let as_text = |bytes: Option<&[u8]>| -> Result<Option<String>, ()> {
        match bytes {
            None => Ok(None),
            Some(b) if b.len() > MAX_DIFF_BYTES => Err(()),
            Some(b) => std::str::from_utf8(b)
                .map(|t| Some(t.to_string()))
                .map_err(|_| ()),
        }
    };
    match (as_text(before), as_text(after)) {
        (Ok(before), Ok(after)) => Change::content(path, before, after),
        _ => {
            let size = after.or(before).map_or(0, <[u8]>::len);
            Change {
                subject: path.to_string(),
                detail: ChangeDetail::Hidden(format!("binary file, {size} bytes")),
            }
        }
    }
}

/// Whether content diffs of private files (no group or other permission bits) are shown.
static SHOW_PRIVATE_DIFFS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Show the content of private (0600-like) files in diffs; off by default, because such
/// files hold keys and passwords.
pub fn set_show_private_diffs(show: bool) {
    SHOW_PRIVATE_DIFFS.store(show, std::sync::atomic::Ordering::Relaxed);
}

/// [`content_change`], withheld when the file ends up private (`mode` without group or
/// other bits) unless private diffs were asked for.
pub(crate) fn file_content_change(
    path: &str,
    before: Option<&[u8]>,
    after: Option<&[u8]>,
    mode: Option<u32>,
) -> Change {
    let private = mode.is_some_and(|m| m & 0o077 == 0);
    if private && !SHOW_PRIVATE_DIFFS.load(std::sync::atomic::Ordering::Relaxed) {
        let size = after.or(before).map_or(0, <[u8]>::len);
        return Change {
            subject: path.to_string(),
            detail: ChangeDetail::Hidden(format!(
                "mode {:04o}, {size} bytes: content not shown (--show-private-diffs shows it)",
                mode.unwrap_or(0)
            )),
        };
    }
    content_change(path, before, after)
}

/// True when `wanted` (a name or a numeric id) names the same user or group as `name`/`id`.
pub(crate) fn same_principal(wanted: &str, name: &str, id: u32) -> bool {
    match wanted.parse::<u32>() {
        Ok(number) => number == id,
        Err(_) => wanted == name,
    }
}

/// The subject of an attribute change of `path`.
pub(crate) fn attribute_subject(path: &str, attribute: &str) -> String {
    format!("{path} {attribute}")
}

/// How chmod/chown reach the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Reach {
    /// The path is a symbolic link: change the link itself (`chown -h`), never its target.
    pub link: bool,
    /// Change everything below a directory too (`-R`).
    pub recurse: bool,
}

/// What differs between `current` and `wanted`: one Value change per attribute.
/// `current == None` is a path that will be created, so every wanted attribute is a change.
pub(crate) fn attribute_changes(
    path: &str,
    current: Option<&FileStat>,
    wanted: &FileAttributes,
) -> Vec<Change> {
    let mut changes = Vec::new();
    if let Some(mode) = wanted.mode {
        let before = current.map(|stat| stat.mode & 0o7777);
        if before != Some(mode) {
            changes.push(Change::value(
                attribute_subject(path, "mode"),
                before.map(format_mode),
                Some(format_mode(mode)),
            ));
        }
    }
    if let Some(owner) = &wanted.owner {
        if !current.is_some_and(|stat| same_principal(owner, &stat.owner, stat.uid)) {
            changes.push(Change::value(
                attribute_subject(path, "owner"),
                current.map(|stat| stat.owner.clone()),
                Some(owner.clone()),
            ));
        }
    }
    if let Some(group) = &wanted.group {
        if !current.is_some_and(|stat| same_principal(group, &stat.group, stat.gid)) {
            changes.push(Change::value(
                attribute_subject(path, "group"),
                current.map(|stat| stat.group.clone()),
                Some(group.clone()),
            ));
        }
    }
    changes
}

/// The chmod/chown commands that give `path` the attributes named in `changes` (as returned
/// by [`attribute_changes`]).
pub(crate) fn attribute_steps(
    path: &str,
    wanted: &FileAttributes,
    changes: &[Change],
    reach: Reach,
) -> Vec<Step> {
    let differs = |attribute: &str| {
        let recursive = attribute_subject(path, &format!("{attribute} (recursive)"));
        changes.iter().any(|change| {
            change.subject == attribute_subject(path, attribute) || change.subject == recursive
        })
    };
    let mut steps = Vec::new();
    let flags = |base: &[&str]| -> Vec<String> {
        let mut argv: Vec<String> = base.iter().map(|s| s.to_string()).collect();
        if reach.recurse {
            argv.push("-R".into());
        }
        argv
    };
    let owner = wanted.owner.as_ref().filter(|_| differs("owner"));
    let group = wanted.group.as_ref().filter(|_| differs("group"));
    if owner.is_some() || group.is_some() {
        let mut argv = flags(&["chown"]);
        if reach.link {
            argv.push("-h".into());
        }
        argv.push(match (owner, group) {
            (Some(o), Some(g)) => format!("{o}:{g}"),
            (Some(o), None) => o.clone(),
            (None, Some(g)) => format!(":{g}"),
            (None, None) => String::new(),
        });
        argv.push(path.to_string());
        steps.push(run(argv));
    }
    // Linux has no mode on symbolic links; chmod would change the target instead.
    if let (Some(mode), true, false) = (wanted.mode, differs("mode"), reach.link) {
        let mut argv = flags(&["chmod"]);
        argv.push(format_mode(mode));
        argv.push(path.to_string());
        steps.push(run(argv));
    }
    steps
}

/// A `Step::Run` of an argument vector that must succeed.
pub(crate) fn run(argv: Vec<String>) -> Step {
    Step::Run {
        command: Command::argv(argv),
        allow_failure: false,
    }
}

/// For `recurse`: the changes for entries below the directory `path` whose attributes differ
/// from `wanted`, found with one `find … -print -quit` per attribute (a read: nothing changes).
pub(crate) fn recursive_attribute_changes(
    host: &mut dyn Host,
    path: &str,
    wanted: &FileAttributes,
) -> Result<Vec<Change>, ModuleError> {
    let mut changes = Vec::new();
    let checks = [
        ("mode", "-perm", wanted.mode.map(format_mode)),
        ("owner", "-user", wanted.owner.clone()),
        ("group", "-group", wanted.group.clone()),
    ];
    for (attribute, test, value) in checks {
        let Some(value) = value else { continue };
        let command = Command::argv([
            "find",
            path,
            "-mindepth",
            "1",
            "!",
            test,
            &value,
            "-print",
            "-quit",
        ]);
        let output = host.run(&command)?;
        if !output.success() {
            return Err(ModuleError::failed(format!(
                "cannot check the {attribute} of the files below `{path}`: `{command}` exited with status {}: {}",
                output.status,
                output.stderr_text().trim()
            )));
        }
        let first = output.stdout_text().lines().next().map(str::to_string);
        if let Some(first) = first {
            changes.push(Change::value(
                attribute_subject(path, &format!("{attribute} (recursive)")),
                Some(format!("differs, e.g. at `{first}`")),
                Some(value),
            ));
        }
    }
    Ok(changes)
}

/// For `recurse` with a symbolic mode: every entry below the directory `path` gets the mode
/// resolved against its own bits (`X` depends on each entry), as Ansible applies it file by
/// file. One `find` lists the entries (symbolic links are skipped: they have no mode); each
/// entry whose mode changes gets its own `chmod`.
pub(crate) fn plan_recursive_symbolic_mode(
    plan: &mut crate::Plan,
    host: &mut dyn Host,
    path: &str,
    mode: &Mode,
) -> Result<(), ModuleError> {
    let umask = if mode.uses_umask() {
        host_umask(host)?
    } else {
        0
    };
    let command = Command::argv([
        "find",
        path,
        "-mindepth",
        "1",
        "!",
        "-type",
        "l",
        "-printf",
        "%m %y %p\\0",
    ]);
    let output = host.run(&command)?;
    if !output.success() {
        return Err(ModuleError::failed(format!(
            "cannot list the files below `{path}`: `{command}` exited with status {}: {}",
            output.status,
            output.stderr_text().trim()
        )));
    }
    let listing = output.stdout_text();
    let mut steps = Vec::new();
    let mut first = None;
    for record in listing.split('\0').filter(|r| !r.is_empty()) {
        let mut fields = record.splitn(3, ' ');
        let (Some(bits), Some(kind), Some(entry)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let Ok(bits) = u32::from_str_radix(bits, 8) else {
            continue;
        };
        let after = mode.resolve(bits, kind == "d", umask);
        if after != bits {
            first.get_or_insert_with(|| entry.to_string());
            steps.push(run(vec![
                "chmod".into(),
                format_mode(after),
                entry.to_string(),
            ]));
        }
    }
    if let Some(first) = first {
        plan.push(
            Change::value(
                attribute_subject(path, "mode (recursive)"),
                Some(format!("differs, e.g. at `{first}`")),
                Some(mode.to_string()),
            ),
            steps,
        );
    }
    Ok(())
}

/// The directories `mkdir -p path` would create, outermost first: `path` and each missing
/// ancestor up to the first one that exists (on the host, or in `planned`: directories an
/// earlier part of the same plan creates). One stat per missing directory, plus one for the
/// first existing ancestor, which must be a directory (or a link to one).
pub(crate) fn missing_directories(
    host: &mut dyn Host,
    path: &str,
    planned: &std::collections::BTreeSet<String>,
) -> Result<Vec<String>, ModuleError> {
    let mut missing = Vec::new();
    let mut current = path.trim_end_matches('/').to_string();
    if current.is_empty() {
        return Ok(missing);
    }
    loop {
        if planned.contains(&current) {
            break;
        }
        match host.stat(&current)? {
            None => missing.push(current.clone()),
            Some(stat) => {
                if matches!(stat.kind, crate::FileKind::File | crate::FileKind::Other) {
                    return Err(ModuleError::Failed {
                        message: format!(
                            "cannot create directory `{path}`: `{current}` exists and is not a directory"
                        ),
                        hint: Some(format!("remove `{current}` first, or choose another path")),
                    });
                }
                break;
            }
        }
        let up = parent(&current);
        if up == current || up == "." {
            break;
        }
        current = up;
    }
    missing.reverse();
    Ok(missing)
}

/// Plan the creation of the directories `missing` (outermost first, as
/// [`missing_directories`] lists them), each given `wanted`, as Ansible's `file` and
/// `copy` give every directory they create the task's mode and ownership: one change per
/// directory and per attribute; `mkdir -p` of the innermost, then one `chown` and one
/// `chmod` naming them all.
pub(crate) fn plan_new_directories(
    plan: &mut crate::Plan,
    missing: &[String],
    wanted: &FileAttributes,
) {
    let Some(innermost) = missing.last() else {
        return;
    };
    for dir in missing {
        plan.changes
            .push(Change::value(dir, None, Some("directory".into())));
        plan.changes.extend(attribute_changes(dir, None, wanted));
    }
    plan.steps
        .push(run(vec!["mkdir".into(), "-p".into(), innermost.clone()]));
    let ownership = match (&wanted.owner, &wanted.group) {
        (Some(o), Some(g)) => Some(format!("{o}:{g}")),
        (Some(o), None) => Some(o.clone()),
        (None, Some(g)) => Some(format!(":{g}")),
        (None, None) => None,
    };
    if let Some(ownership) = ownership {
        let mut argv = vec!["chown".to_string(), ownership];
        argv.extend(missing.iter().cloned());
        plan.steps.push(run(argv));
    }
    if let Some(mode) = wanted.mode {
        let mut argv = vec!["chmod".to_string(), format_mode(mode)];
        argv.extend(missing.iter().cloned());
        plan.steps.push(run(argv));
    }
}

/// The parent directory of `path` (`/` for top-level paths, `.` for bare names).
pub(crate) fn parent(path: &str) -> String {
    match std::path::Path::new(path).parent() {
        Some(dir) if dir.as_os_str().is_empty() => ".".into(),
        Some(dir) => dir.to_string_lossy().into_owned(),
        None => "/".into(),
    }
}

/// The last component of `path`, ignoring a trailing slash.
pub(crate) fn basename(path: &str) -> Option<String> {
    std::path::Path::new(path.trim_end_matches('/'))
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
}

/// `dir` joined with `name`.
pub(crate) fn join(dir: &str, name: &str) -> String {
    if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// A text-file edit as `lineinfile` and `blockinfile` describe it.
pub(crate) struct TextEdit<'a> {
    pub module: &'a str,
    pub path: &'a str,
    /// Create the file when missing (otherwise an error, unless `removing`).
    pub create: bool,
    /// The edit removes text: a missing file is already in the wanted state.
    pub removing: bool,
    pub mode: Option<&'a Mode>,
    pub owner: Option<&'a String>,
    pub group: Option<&'a String>,
    pub validate: Option<String>,
    pub backup: bool,
}

/// Plan a text-file edit: read the file, run `edit` over its text, and write the result
/// (with attributes, validation and backup) when it differs; otherwise only attributes.
pub(crate) fn plan_text_edit(
    host: &mut dyn Host,
    spec: TextEdit,
    edit: impl FnOnce(&str) -> String,
) -> Result<crate::Plan, ModuleError> {
    let path = spec.path;
    let (current, before) = host.stat_and_read(path)?;
    if matches!(
        current.as_ref().map(|s| &s.kind),
        Some(crate::FileKind::Directory)
    ) {
        return Err(ModuleError::failed(format!(
            "`{path}` is a directory, not a text file"
        )));
    }
    let mut plan = crate::Plan::unchanged();
    plan.result
        .insert("path".into(), serde_json::Value::String(path.to_string()));
    let text = match &before {
        Some(bytes) => String::from_utf8(bytes.clone()).map_err(|_| {
            ModuleError::failed(format!(
                "`{path}` is not UTF-8 text, refusing to edit it with `{}`",
                spec.module
            ))
        })?,
        None if spec.removing => return Ok(plan),
        None if !spec.create => {
            return Err(ModuleError::Failed {
                message: format!("file `{path}` does not exist"),
                hint: Some("set `create: yes` to create it".into()),
            })
        }
        None => String::new(),
    };
    let after = edit(&text);
    let spec_attributes = attributes(
        host,
        spec.mode,
        spec.owner,
        spec.group,
        current.as_ref(),
        NewKind::File,
    )?;
    let changes = attribute_changes(path, current.as_ref(), &spec_attributes);
    if after != text {
        plan.changes.push(file_content_change(
            path,
            before.as_deref(),
            Some(after.as_bytes()),
            spec_attributes.mode.or(current.as_ref().map(|s| s.mode)),
        ));
        plan.changes.extend(changes);
        plan.steps.push(Step::WriteFile {
            path: path.to_string(),
            content: after.into_bytes(),
            options: crate::WriteOptions {
                attributes: spec_attributes,
                create_parents: spec.create,
                validate: spec.validate,
                backup: spec.backup,
            },
        });
    } else if current.is_some() {
        let steps = attribute_steps(path, &spec_attributes, &changes, Reach::default());
        plan.changes.extend(changes);
        plan.steps.extend(steps);
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FileKind;

    #[test]
    fn binary_and_large_content_is_withheld() {
        let binary = content_change("/bin/x", None, Some(&[0xff, 0xfe, 0]));
        assert_eq!(
            binary.detail,
            ChangeDetail::Hidden("binary file, 3 bytes".into())
        );
        let large = vec![b'a'; MAX_DIFF_BYTES + 1];
        let change = content_change("/x", Some(b"a"), Some(&large));
        assert_eq!(
            change.detail,
            ChangeDetail::Hidden(format!("binary file, {} bytes", MAX_DIFF_BYTES + 1))
        );
        let text = content_change("/x", None, Some(b"hi\n"));
        assert_eq!(
            text.detail,
            ChangeDetail::Content {
                before: None,
                after: Some("hi\n".into())
            }
        );
    }

    #[test]
    fn owners_match_by_name_or_id_and_steps_set_only_what_differs() {
        let stat = FileStat {
            kind: FileKind::File,
            mode: 0o100644 & 0o7777,
            uid: 33,
            gid: 0,
            owner: "www-data".into(),
            group: "root".into(),
            size: 0,
        };
        let wanted = FileAttributes {
            mode: Some(0o644),
            owner: Some("33".into()),
            group: Some("adm".into()),
        };
        let changes = attribute_changes("/x", Some(&stat), &wanted);
        assert_eq!(
            changes,
            vec![Change::value(
                "/x group",
                Some("root".into()),
                Some("adm".into())
            )]
        );
        let steps = attribute_steps(
            "/x",
            &wanted,
            &changes,
            Reach {
                link: true,
                recurse: false,
            },
        );
        assert_eq!(
            steps,
            vec![run(vec![
                "chown".into(),
                "-h".into(),
                ":adm".into(),
                "/x".into()
            ])]
        );
    }
}
