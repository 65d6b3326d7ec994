//! `copy`: make a file on the host hold given bytes, with a given mode and ownership.
//!
//! Converges one regular file: its content (from a controller file `src`, a host file with
//! `remote_src`, or inline `content`) and its mode/owner/group. Reads the source, then stats
//! and reads the destination. Idempotence: bytes equal and attributes equal → no change; a
//! content change is one atomic write carrying the attributes (validated first when
//! `validate` is given), an attribute-only change is `chmod`/`chown`. With `force: no` an
//! existing destination is left alone entirely. The engine resolves a relative `src` to an
//! absolute controller path before planning (roles' `files/`, the playbook directory).
//! A symbolic `mode` is resolved against the file's bits (a new file's: the host's
//! `0666 & ~umask`, read with one `umask` round trip). `follow: yes` writes the file a link
//! points to.
//!
//! A controller directory `src` is copied as Ansible's copy action copies it: ending in `/`,
//! what it holds; otherwise the directory itself, by its name. Each file is converged as
//! above with `mode`; links are followed (dangling or circular ones are copied as links).
//! Every directory `copy` makes (missing parents of a `dest` ending in `/` too) gets
//! `directory_mode` and the task's owner and group, and so does each directory of a copied
//! tree that exists already, as Ansible's per-directory `file` call does. The SELinux arguments are accepted and not applied, `unsafe_writes` is ignored
//! (writes are always atomic), and a non-empty `attributes` fails the task.
//!
//! ```yaml
//! - copy:
//!     src: sysctl.conf
//!     dest: /etc/sysctl.d/60-router.conf
//!     mode: "0644"
//!     validate: sysctl -p %s
//! ```

use crate::args::{Flag, Mode};
use crate::command::yes;
use crate::fsutil;
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::Step;
use crate::{FileAttributes, FileKind, FileStat, Host, Plan, Read, WriteOptions};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;

/// Arguments of `copy` (also what `template` becomes once rendered, see
/// [`crate::template::copy_args`]).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyArgs {
    /// The file to copy: a path on the controller (relative paths are looked up in the
    /// role's `files/` and the playbook directory), or on the host with `remote_src`.
    pub src: Option<String>,
    /// The content to write, instead of `src`.
    pub content: Option<String>,
    /// Where to write on the host. Ending in `/`, or an existing directory: the file goes
    /// inside it under `src`'s name.
    pub dest: String,
    /// Permission bits, e.g. `"0644"` or `u=rw,g=r,o=r`. Unset: kept, or the host's
    /// default for a new file. When copying a directory, the mode of the files.
    pub mode: Option<Mode>,
    /// The mode of the directories `copy` creates (for a `dest` ending in `/`, or below a
    /// copied directory), and, when copying a directory, of the directories of the copy
    /// that already exist. Unset: the host's default for new directories.
    pub directory_mode: Option<Mode>,
    /// Owner, by name or numeric id.
    pub owner: Option<String>,
    /// Group, by name or numeric id.
    pub group: Option<String>,
    /// Keep the old file as `DEST.TIMESTAMP~` when replacing it.
    #[serde(default)]
    pub backup: Flag,
    /// A command that must accept the new file before it replaces the old one; `%s` is the
    /// new file's path (e.g. `visudo -cf %s`).
    pub validate: Option<String>,
    /// Replace an existing file whose content differs; `no` only creates missing files.
    #[serde(default = "yes", alias = "thirsty")]
    pub force: Flag,
    /// Read `src` on the host instead of the controller.
    #[serde(default)]
    pub remote_src: Flag,
    /// When `dest` is a symbolic link, write the file it points to (otherwise the link is
    /// replaced by a file).
    #[serde(default)]
    pub follow: Flag,
    /// SELinux user of the file's context. Accepted; converge sets no SELinux contexts
    /// (a host with SELinux enforcing keeps the context its policy gives the file).
    pub seuser: Option<String>,
    /// SELinux role of the file's context; accepted and not applied, as `seuser`.
    pub serole: Option<String>,
    /// SELinux type of the file's context; accepted and not applied, as `seuser`.
    pub setype: Option<String>,
    /// SELinux level of the file's context; accepted and not applied, as `seuser`.
    pub selevel: Option<String>,
    /// Accepted and ignored: converge always writes through a temp file and a rename.
    #[serde(default)]
    pub unsafe_writes: Flag,
    /// File attributes as `chattr` sets them (e.g. `+i`). Not implemented by converge: a
    /// non-empty value fails the task.
    #[serde(alias = "attr")]
    pub attributes: Option<String>,
    /// The file name used when `dest` is a directory and the content is inline (set by
    /// `template` to the template's name); not an argument a task can give.
    #[serde(skip)]
    #[schemars(skip)]
    pub source_name: Option<String>,
}

/// The `copy` module.
pub struct Copy;

impl TypedModule for Copy {
    type Args = CopyArgs;
    const NAME: &'static str = "copy";
    const SUMMARY: &'static str = "Put a file on the host, with its mode and ownership";
    const EXAMPLES: &'static str = "- copy:\n    src: sysctl.conf\n    dest: /etc/sysctl.d/60-router.conf\n    mode: \"0644\"\n\n- copy:\n    content: \"nameserver ::1\\n\"\n    dest: /etc/resolv.conf\n    backup: yes\n\n- copy:\n    src: sudoers.d/backup\n    dest: /etc/sudoers.d/backup\n    mode: \"0440\"\n    validate: visudo -cf %s\n";
    const USES_FACTS: bool = false;

    fn reads(args: &CopyArgs) -> Vec<Read> {
        dest_reads(&args.dest, args.follow.0)
    }

    fn check(args: &CopyArgs) -> Result<(), ArgsError> {
        check_copy(args)
    }

    fn plan(args: CopyArgs, host: &mut dyn Host, context: &Context) -> Result<Plan, ModuleError> {
        plan_copy(args, host, context)
    }
}

fn check_copy(args: &CopyArgs) -> Result<(), ArgsError> {
    match (&args.src, &args.content) {
        (Some(_), Some(_)) => {
            return Err(ArgsError::new(
                Some("content"),
                "`src` and `content` are mutually exclusive in module `copy`",
            ))
        }
        (None, None) => {
            return Err(
                ArgsError::new(None, "module `copy` needs `src` or `content`")
                    .with_hint("give `src` (a file to copy) or `content` (the text to write)"),
            )
        }
        _ => {}
    }
    if args.dest.is_empty() {
        return Err(ArgsError::new(
            Some("dest"),
            "`dest` of module `copy` is empty",
        ));
    }
    if args.remote_src.0 && args.src.is_none() {
        return Err(ArgsError::new(
            Some("remote_src"),
            "`remote_src` needs `src`",
        ));
    }
    fsutil::check_attributes("copy", args.attributes.as_ref())?;
    fsutil::check_validate("copy", args.validate.as_ref())
}

/// The first read of planning a file at `dest`: what is there and its content, or with
/// `follow`, whether it is a link (where it points decides the rest).
pub fn dest_reads(dest: &str, follow: bool) -> Vec<Read> {
    match (dest.ends_with('/'), follow) {
        (true, _) => Vec::new(),
        (false, true) => vec![Read::Stat(dest.to_string())],
        (false, false) => vec![Read::StatAndRead(dest.to_string())],
    }
}

/// Plan `copy` from typed arguments: what the module does, and what the engine calls after
/// rendering a `template`.
pub fn plan_copy(args: CopyArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
    check_copy(&args)?;
    if let (Some(src), false) = (&args.src, args.remote_src.0) {
        if std::path::Path::new(src).is_dir() {
            return plan_directory_copy(&args, src, host);
        }
    }
    let (bytes, name) = source(&args, host)?;
    let mut dest = args.dest.clone();
    // `follow: yes` writes through a link to the file it points to.
    if args.follow.0 && !dest.ends_with('/') {
        if let Some(FileKind::Symlink { target }) = host.stat(&dest)?.map(|stat| stat.kind) {
            dest = if target.starts_with('/') {
                target
            } else {
                fsutil::join(&fsutil::parent(&dest), &target)
            };
        }
    }
    let mut plan = Plan::unchanged();
    let mut planned = BTreeSet::new();
    let dest = plan_file(&mut plan, host, &args, bytes, name, dest, &mut planned)?;
    plan.result.insert("dest".into(), Value::String(dest));
    if let Some(src) = &args.src {
        plan.result.insert("src".into(), Value::String(src.clone()));
    }
    Ok(plan)
}

/// Add to `plan` what puts `bytes` at `dest` (inside it, under `name`, when it is a
/// directory or ends in `/`); returns the file's path. `planned`: directories the plan
/// already creates, and gets the ones this file needs.
fn plan_file(
    plan: &mut Plan,
    host: &mut dyn Host,
    args: &CopyArgs,
    bytes: Vec<u8>,
    name: Option<String>,
    mut dest: String,
    planned: &mut BTreeSet<String>,
) -> Result<String, ModuleError> {
    let mut create_parents = false;
    // One read for the usual case: what is at `dest`, and its content if it is a file.
    let (mut current, mut content) = if dest.ends_with('/') {
        (None, None)
    } else {
        host.stat_and_read(&dest)?
    };
    let into_directory = dest.ends_with('/')
        || current
            .as_ref()
            .is_some_and(|stat| stat.kind == FileKind::Directory);
    if into_directory {
        let name = name.ok_or_else(|| {
            ModuleError::failed(format!(
                "`dest` `{dest}` is a directory: with `content`, name the file in `dest`"
            ))
        })?;
        // Ansible creates a missing directory named with a trailing slash.
        create_parents = dest.ends_with('/');
        dest = fsutil::join(&dest, &name);
        (current, content) = host.stat_and_read(&dest)?;
    }
    let before = match current.as_ref().map(|stat| &stat.kind) {
        None => None,
        Some(FileKind::Directory) => {
            return Err(ModuleError::failed(format!(
                "`{dest}` is a directory, cannot replace it with a file"
            )))
        }
        Some(FileKind::Other) => {
            return Err(ModuleError::failed(format!(
                "`{dest}` is not a regular file, refusing to replace it"
            )))
        }
        Some(_) => content.take(),
    };
    if current.is_none() {
        let parent = fsutil::parent(&dest);
        if create_parents {
            // As Ansible's copy: the directories it makes get `directory_mode` and the
            // task's owner and group.
            let missing = fsutil::missing_directories(host, &parent, planned)?;
            if !missing.is_empty() {
                let wanted = directory_attributes(host, args, None)?;
                fsutil::plan_new_directories(plan, &missing, &wanted);
                planned.extend(missing);
            }
        } else if !planned.contains(&parent) && host.stat(&parent)?.is_none() {
            return Err(ModuleError::Failed {
                message: format!("destination directory `{parent}` does not exist"),
                hint: Some(format!(
                    "create it first with `file: path={parent} state=directory`, or end `dest` with `/`"
                )),
            });
        }
    }
    if before.is_some() && !args.force.0 {
        return Ok(dest);
    }
    let wanted = fsutil::attributes(
        host,
        args.mode.as_ref(),
        args.owner.as_ref(),
        args.group.as_ref(),
        current.as_ref(),
        fsutil::NewKind::File,
    )?;
    let attribute_changes = fsutil::attribute_changes(&dest, current.as_ref(), &wanted);
    if before.as_deref() != Some(bytes.as_slice()) {
        plan.changes.push(fsutil::file_content_change(
            &dest,
            before.as_deref(),
            Some(&bytes),
            wanted.mode.or(current.as_ref().map(|s| s.mode)),
        ));
        plan.changes.extend(attribute_changes);
        plan.steps.push(Step::WriteFile {
            path: dest.clone(),
            content: bytes,
            options: WriteOptions {
                attributes: wanted,
                create_parents,
                validate: args.validate.clone(),
                backup: args.backup.0,
            },
        });
    } else {
        let steps =
            fsutil::attribute_steps(&dest, &wanted, &attribute_changes, fsutil::Reach::default());
        plan.changes.extend(attribute_changes);
        plan.steps.extend(steps);
    }
    Ok(dest)
}

/// The mode (`directory_mode`) and ownership of a directory `copy` makes or, copying a
/// directory, finds (`current`).
fn directory_attributes(
    host: &mut dyn Host,
    args: &CopyArgs,
    current: Option<&FileStat>,
) -> Result<FileAttributes, ModuleError> {
    fsutil::attributes(
        host,
        args.directory_mode.as_ref(),
        args.owner.as_ref(),
        args.group.as_ref(),
        current,
        fsutil::NewKind::Directory,
    )
}

/// What a directory on the controller holds, as Ansible's copy walks it (`local_follow`):
/// paths relative to the copy's top, links followed (a link to a directory is walked unless
/// it leads back into the tree), dangling or circular links kept as links.
#[derive(Debug, Default, PartialEq)]
struct Tree {
    files: Vec<(std::path::PathBuf, String)>,
    directories: Vec<String>,
    links: Vec<(String, String)>,
}

fn walk(src: &std::path::Path, prefix: &str) -> Result<Tree, ModuleError> {
    use std::os::unix::fs::MetadataExt;
    fn visit(
        dir: &std::path::Path,
        relative: &str,
        ancestors: &mut Vec<(u64, u64)>,
        tree: &mut Tree,
    ) -> Result<(), ModuleError> {
        let read = |error: std::io::Error| {
            ModuleError::failed(format!(
                "cannot read `{}` on the controller: {error}",
                dir.display()
            ))
        };
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(read)?
            .collect::<Result<_, _>>()
            .map_err(read)?;
        entries.sort_by_key(|entry| entry.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if relative.is_empty() {
                name
            } else {
                format!("{relative}/{name}")
            };
            let is_link = entry.file_type().map_err(read)?.is_symlink();
            let link_target = || {
                std::fs::read_link(&path)
                    .map(|target| target.to_string_lossy().into_owned())
                    .map_err(read)
            };
            match std::fs::metadata(&path) {
                Err(_) if is_link => tree.links.push((rel, link_target()?)),
                Err(error) => return Err(read(error)),
                Ok(meta) if meta.is_dir() => {
                    let id = (meta.dev(), meta.ino());
                    if is_link && ancestors.contains(&id) {
                        tree.links.push((rel, link_target()?));
                        continue;
                    }
                    tree.directories.push(rel.clone());
                    ancestors.push(id);
                    visit(&path, &rel, ancestors, tree)?;
                    ancestors.pop();
                }
                Ok(_) => tree.files.push((path, rel)),
            }
        }
        Ok(())
    }
    let meta = std::fs::metadata(src).map_err(|error| {
        ModuleError::failed(format!(
            "cannot read `{}` on the controller: {error}",
            src.display()
        ))
    })?;
    let mut tree = Tree::default();
    let mut ancestors = vec![(meta.dev(), meta.ino())];
    visit(src, prefix, &mut ancestors, &mut tree)?;
    Ok(tree)
}

/// Copy a directory from the controller, as Ansible's copy action does: `src` ending in `/`
/// copies what is inside it into `dest`, otherwise the directory itself (by its name).
/// Files get `mode`; the directories made get `directory_mode`, and so do the copy's
/// directories that exist already (Ansible runs `file` on each of them with that mode).
fn plan_directory_copy(
    args: &CopyArgs,
    src: &str,
    host: &mut dyn Host,
) -> Result<Plan, ModuleError> {
    let prefix = if src.ends_with('/') {
        String::new()
    } else {
        fsutil::basename(src).unwrap_or_default()
    };
    let tree = walk(std::path::Path::new(src), &prefix)?;
    let dest = if args.dest.ends_with('/') {
        args.dest.clone()
    } else {
        format!("{}/", args.dest)
    };
    let mut plan = Plan::unchanged();
    let mut planned = BTreeSet::new();
    let mut last = dest.clone();
    for (file, rel) in &tree.files {
        let bytes = std::fs::read(file).map_err(|error| {
            ModuleError::failed(format!(
                "cannot read `{}` on the controller: {error}",
                file.display()
            ))
        })?;
        let target = fsutil::join(&dest, rel);
        let name = fsutil::basename(&target);
        let within = format!("{}/", fsutil::parent(&target));
        last = plan_file(&mut plan, host, args, bytes, name, within, &mut planned)?;
    }
    for rel in &tree.directories {
        let path = fsutil::join(&dest, rel);
        if planned.contains(&path) {
            continue;
        }
        match host.stat(&path)? {
            Some(stat) if stat.kind == FileKind::Directory => {
                let wanted = directory_attributes(host, args, Some(&stat))?;
                let changes = fsutil::attribute_changes(&path, Some(&stat), &wanted);
                let steps =
                    fsutil::attribute_steps(&path, &wanted, &changes, fsutil::Reach::default());
                plan.changes.extend(changes);
                plan.steps.extend(steps);
            }
            Some(stat) => {
                return Err(ModuleError::failed(format!(
                    "`{path}` exists and is a {}, not a directory",
                    match stat.kind {
                        FileKind::Symlink { .. } => "link",
                        _ => "file",
                    }
                )))
            }
            None => {
                let missing = fsutil::missing_directories(host, &path, &planned)?;
                let wanted = directory_attributes(host, args, None)?;
                fsutil::plan_new_directories(&mut plan, &missing, &wanted);
                planned.extend(missing);
            }
        }
    }
    for (rel, target) in &tree.links {
        let path = fsutil::join(&dest, rel);
        let current = host.stat(&path)?;
        let before = match current.as_ref().map(|stat| &stat.kind) {
            Some(FileKind::Symlink { target: now }) if now == target => continue,
            Some(FileKind::Symlink { target: now }) => Some(format!("link to {now}")),
            Some(FileKind::Directory) => {
                return Err(ModuleError::failed(format!(
                    "`{path}` is a directory, refusing to replace it with a link"
                )))
            }
            Some(_) => Some("file".to_string()),
            None => None,
        };
        let parent = fsutil::parent(&path);
        if !planned.contains(&parent) {
            let missing = fsutil::missing_directories(host, &parent, &planned)?;
            let wanted = directory_attributes(host, args, None)?;
            fsutil::plan_new_directories(&mut plan, &missing, &wanted);
            planned.extend(missing);
        }
        plan.push(
            crate::plan::Change::value(&path, before, Some(format!("link to {target}"))),
            [fsutil::run(vec![
                "ln".into(),
                "-sfn".into(),
                target.clone(),
                path.clone(),
            ])],
        );
    }
    // As Ansible: one file copied reports that file, more report the directory.
    let dest = if tree.files.len() == 1 { last } else { dest };
    plan.result.insert("dest".into(), Value::String(dest));
    plan.result
        .insert("src".into(), Value::String(src.to_string()));
    Ok(plan)
}

/// The bytes to write and the name to use inside a directory `dest`.
fn source(args: &CopyArgs, host: &mut dyn Host) -> Result<(Vec<u8>, Option<String>), ModuleError> {
    if let Some(content) = &args.content {
        return Ok((content.clone().into_bytes(), args.source_name.clone()));
    }
    let Some(src) = &args.src else {
        return Err(ArgsError::new(None, "module `copy` needs `src` or `content`").into());
    };
    let name = fsutil::basename(src);
    if args.remote_src.0 {
        return match host.stat(src)?.map(|stat| stat.kind) {
            Some(FileKind::Directory) => Err(directory_source(src)),
            _ => match host.read_file(src)? {
                Some(bytes) => Ok((bytes, name)),
                None => Err(ModuleError::failed(format!(
                    "`src` `{src}` does not exist on the host"
                ))),
            },
        };
    }
    let bytes = std::fs::read(src).map_err(|error| ModuleError::Failed {
        message: format!("cannot read `src` `{src}` on the controller: {error}"),
        hint: Some(
            "relative paths are looked up in the role's `files/` and next to the playbook".into(),
        ),
    })?;
    Ok((bytes, name))
}

fn directory_source(src: &str) -> ModuleError {
    ModuleError::Failed {
        message: format!(
            "`src` `{src}` is a directory on the host; `remote_src` copies of directories are not supported yet"
        ),
        hint: Some(
            "copy a directory from the controller (without `remote_src`), or each file with `remote_src`".into(),
        ),
    }
}
