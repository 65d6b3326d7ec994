//! `file`: make a path be a directory, a symbolic or hard link, an (empty) file, or absent,
//! with a given mode and ownership.
//!
//! Reads the path with one stat (plus the link source's stat for `state: link`, one stat
//! per missing parent for a new directory, the inodes of both names for `state: hard`, and
//! one `find` per attribute for `recurse`). Idempotence: a path that already has the asked
//! kind, link target (for a hard link: the same inode as `src`) and attributes gives no
//! change. Directories are made with `mkdir -p`, and every directory created, missing
//! parents included, gets the task's mode and ownership (as Ansible's `ensure_directory`);
//! symbolic links with `ln -sfn`, hard links with `ln` (`ln -fT` replaces a name
//! atomically), attributes with `chmod`/`chown` (`chown -h` for the link itself; the mode
//! of a link is its target's, as with Ansible's `follow: yes`).
//!
//! A symbolic `mode` (`u=rwx,g=rx,o=`, `a+X`) is resolved against the path's current bits
//! (for a new path, the host's default from its umask), as Ansible resolves it; with
//! `recurse`, against each entry's own bits. `modification_time`/`access_time` (`now`,
//! `preserve`, or a time in their `_format`) cost one more round trip, made only when given.
//!
//! Differences from Ansible: `state: touch` on an existing path changes nothing but the
//! attributes asked for unless `modification_time`/`access_time` say `now` or a time
//! (Ansible's touch defaults to `now` and so always reports a change), so a touch task is
//! idempotent; `state: hard` needs an absolute `src` (Ansible reads a relative one from
//! its module's working directory); the SELinux arguments (`seuser`, `serole`,
//! `setype`, `selevel`) are accepted and not applied, `unsafe_writes` is ignored (converge
//! always writes atomically), and a non-empty `attributes` (chattr flags) fails the task.
//!
//! ```yaml
//! - file:
//!     path: /etc/radvd.d
//!     state: directory
//!     mode: "0755"
//! ```

use crate::args::{Flag, Mode};
use crate::command::yes;
use crate::fsutil::{self, NewKind, Reach};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Step};
use crate::{FileAttributes, FileKind, FileStat, Host, Plan, WriteOptions};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// What `path` should be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileState {
    /// An existing regular file: only its attributes are managed (it is never created).
    File,
    /// A directory, created with its parents if missing.
    Directory,
    /// Nothing: a file or link is removed, a directory recursively.
    Absent,
    /// A symbolic link to `src`.
    Link,
    /// A hard link to the file `src` (the same inode).
    Hard,
    /// A file that exists: an empty one is created if missing.
    Touch,
}

/// Arguments of `file`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileArgs {
    /// The path to manage.
    #[serde(alias = "dest", alias = "name")]
    pub path: String,
    /// What the path should be. Unset: `directory` if it is one, else `file`.
    pub state: Option<FileState>,
    /// For `state: link`: where the link points (relative to the link's directory when
    /// relative). For `state: hard`: the existing file to link to (an absolute path).
    pub src: Option<String>,
    /// Permission bits, e.g. `"0755"` or `u=rwx,g=rx,o=rx`.
    pub mode: Option<Mode>,
    /// Owner, by name or numeric id.
    pub owner: Option<String>,
    /// Group, by name or numeric id.
    pub group: Option<String>,
    /// For directories: give everything below the same mode and ownership.
    #[serde(default)]
    pub recurse: Flag,
    /// For `state: link`: replace an existing file by the link, and allow a link to a
    /// source that does not exist. For `state: hard`: replace an existing file or another
    /// hard link by the link.
    #[serde(default)]
    pub force: Flag,
    /// When `path` is a symbolic link, manage what it points to (the default). With `no`,
    /// ownership applies to the link itself, and `state: file` or `directory` on a link fails.
    #[serde(default = "yes")]
    pub follow: Flag,
    /// The modification time to set: `now`, `preserve` (keep it), or a time written in
    /// `modification_time_format` (the host's local time). Unset keeps it, even for
    /// `state: touch` (Ansible's touch sets `now`, so it changes on every run).
    pub modification_time: Option<String>,
    /// The `strftime` format of `modification_time`.
    #[serde(default = "time_format")]
    pub modification_time_format: String,
    /// The access time to set, like `modification_time`.
    pub access_time: Option<String>,
    /// The `strftime` format of `access_time`.
    #[serde(default = "time_format")]
    pub access_time_format: String,
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
}

fn time_format() -> String {
    "%Y%m%d%H%M.%S".into()
}

/// The `file` module.
pub struct File;

impl TypedModule for File {
    type Args = FileArgs;
    const NAME: &'static str = "file";
    const SUMMARY: &'static str =
        "Make a path a directory, a link, a file, or absent, with its mode and ownership";
    const EXAMPLES: &'static str = "- file:\n    path: /etc/radvd.d\n    state: directory\n    mode: \"0755\"\n\n- file:\n    src: /etc/nginx/sites-available/default\n    dest: /etc/nginx/sites-enabled/default\n    state: link\n\n- file:\n    path: /etc/cron.daily/old-backup\n    state: absent\n\n- file:\n    path: /srv/www\n    state: directory\n    owner: www-data\n    group: www-data\n    recurse: yes\n";
    const USES_FACTS: bool = false;

    fn check(args: &FileArgs) -> Result<(), ArgsError> {
        if args.path.is_empty() {
            return Err(ArgsError::new(
                Some("path"),
                "`path` of module `file` is empty",
            ));
        }
        match (args.state, &args.src) {
            (Some(FileState::Link), None) => {
                return Err(ArgsError::new(
                    Some("src"),
                    "`state: link` needs `src`, the link's target",
                ))
            }
            (Some(FileState::Hard), Some(src)) if !src.starts_with('/') => {
                return Err(ArgsError::new(
                    Some("src"),
                    format!("`src` `{src}` of `state: hard` must be an absolute path"),
                )
                .with_hint("write the full path of the file to link to"))
            }
            (Some(FileState::Link | FileState::Hard), _) => {}
            (_, Some(_)) => {
                return Err(ArgsError::new(
                    Some("src"),
                    "`src` of module `file` needs `state: link` or `state: hard`",
                ))
            }
            _ => {}
        }
        fsutil::check_attributes("file", args.attributes.as_ref())?;
        Times::from_args(args, args.state.unwrap_or(FileState::File))?;
        if args.recurse.0 && !matches!(args.state, None | Some(FileState::Directory)) {
            return Err(ArgsError::new(
                Some("recurse"),
                "`recurse` needs `state: directory`",
            ));
        }
        Ok(())
    }

    fn plan(args: FileArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Self::check(&args)?;
        let path = args.path.clone();
        let current = host.stat(&path)?;
        let state = match (args.state, current.as_ref().map(|stat| &stat.kind)) {
            (Some(state), _) => state,
            (None, Some(FileKind::Directory)) => FileState::Directory,
            (None, _) => FileState::File,
        };
        let times = Times::from_args(&args, state)?;
        let mut plan = Plan::unchanged();
        plan.result
            .insert("path".into(), Value::String(path.clone()));
        plan.result
            .insert("state".into(), Value::String(state_name(state).into()));
        let link_itself = !args.follow.0
            && matches!(
                current.as_ref().map(|s| &s.kind),
                Some(FileKind::Symlink { .. })
            );
        if link_itself && matches!(state, FileState::File | FileState::Directory) {
            return Err(ModuleError::Failed {
                message: format!(
                    "`{path}` is a symbolic link, not a {} (`follow: no`)",
                    state_name(state)
                ),
                hint: Some("set `follow: yes` to manage what the link points to".into()),
            });
        }
        match state {
            FileState::Absent => {
                if let Some(stat) = &current {
                    plan.push(
                        Change::value(&path, Some(describe(&stat.kind)), None),
                        [Step::Remove { path: path.clone() }],
                    );
                }
            }
            FileState::File => {
                let Some(stat) = current else {
                    return Err(ModuleError::Failed {
                        message: format!("file `{path}` does not exist"),
                        hint: Some(
                            "use `state: touch` to create an empty file, or `state: directory`"
                                .into(),
                        ),
                    });
                };
                let (target, stat) = follow(host, &path, stat)?;
                if stat.kind == FileKind::Directory {
                    return Err(ModuleError::Failed {
                        message: format!("`{path}` is a directory, not a file"),
                        hint: Some("use `state: directory` to manage a directory".into()),
                    });
                }
                let wanted = wanted(host, &args, Some(&stat), NewKind::File)?;
                attributes(&mut plan, &target, Some(&stat), &wanted, Reach::default());
                times.plan(&mut plan, host, &target, false)?;
            }
            FileState::Touch => match current {
                None => {
                    let parent = fsutil::parent(&path);
                    if host.stat(&parent)?.is_none() {
                        return Err(missing_parent(&parent));
                    }
                    let wanted = wanted(host, &args, None, NewKind::File)?;
                    plan.changes
                        .push(Change::value(&path, None, Some("file".into())));
                    plan.changes
                        .extend(fsutil::attribute_changes(&path, None, &wanted));
                    plan.steps.push(Step::WriteFile {
                        path: path.clone(),
                        content: Vec::new(),
                        options: WriteOptions {
                            attributes: wanted,
                            ..WriteOptions::default()
                        },
                    });
                    times.plan(&mut plan, host, &path, true)?;
                }
                Some(stat) if link_itself => {
                    // The link itself: only its ownership (Linux links have no mode).
                    let mut wanted = wanted(host, &args, Some(&stat), NewKind::File)?;
                    wanted.mode = None;
                    let reach = Reach {
                        link: true,
                        recurse: false,
                    };
                    attributes(&mut plan, &path, Some(&stat), &wanted, reach);
                }
                Some(stat) => {
                    let (target, stat) = follow(host, &path, stat)?;
                    let wanted = wanted(host, &args, Some(&stat), NewKind::File)?;
                    attributes(&mut plan, &target, Some(&stat), &wanted, Reach::default());
                    times.plan(&mut plan, host, &target, false)?;
                }
            },
            FileState::Directory => {
                let new = current.is_none();
                let target = plan_directory(&mut plan, host, &args, current)?;
                times.plan(&mut plan, host, &target, new)?;
            }
            FileState::Link => {
                let src = args.src.clone().unwrap_or_default();
                plan_link(&mut plan, host, &args, &src, current)?;
            }
            FileState::Hard => {
                plan.result.remove("path");
                let (dest, new) = plan_hard_link(&mut plan, host, &args, current)?;
                plan.result
                    .insert("dest".into(), Value::String(dest.clone()));
                if let Some(src) = &args.src {
                    plan.result.insert("src".into(), Value::String(src.clone()));
                }
                times.plan(&mut plan, host, &dest, new)?;
            }
        }
        Ok(plan)
    }
}

/// The attributes `args` ask for, for a path whose (followed) stat is `current`.
fn wanted(
    host: &mut dyn Host,
    args: &FileArgs,
    current: Option<&FileStat>,
    new: NewKind,
) -> Result<FileAttributes, ModuleError> {
    fsutil::attributes(
        host,
        args.mode.as_ref(),
        args.owner.as_ref(),
        args.group.as_ref(),
        current,
        new,
    )
}

/// Plan `state: directory`; returns the directory's path (a link's target when `path` is a
/// link to a directory).
fn plan_directory(
    plan: &mut Plan,
    host: &mut dyn Host,
    args: &FileArgs,
    current: Option<FileStat>,
) -> Result<String, ModuleError> {
    let path = args.path.as_str();
    let recurse = args.recurse.0;
    let reach = Reach {
        link: false,
        recurse,
    };
    let Some(stat) = current else {
        // As Ansible's `ensure_directory`: every directory created, missing parents
        // included, gets the task's mode, owner and group.
        let missing = fsutil::missing_directories(host, path, &Default::default())?;
        let wanted = wanted(host, args, None, NewKind::Directory)?;
        fsutil::plan_new_directories(plan, &missing, &wanted);
        return Ok(path.to_string());
    };
    let (target, stat) = follow(host, path, stat)?;
    if stat.kind != FileKind::Directory {
        return Err(ModuleError::Failed {
            message: format!(
                "`{path}` exists and is a {}, not a directory",
                describe(&stat.kind)
            ),
            hint: Some("remove it first with `state: absent`".into()),
        });
    }
    let wanted = wanted(host, args, Some(&stat), NewKind::Directory)?;
    match args
        .mode
        .as_ref()
        .filter(|mode| recurse && mode.bits().is_none())
    {
        // A symbolic mode gives each entry below its own result (X depends on the entry).
        Some(symbolic) => {
            let ownership = FileAttributes {
                mode: None,
                ..wanted.clone()
            };
            let top_mode = FileAttributes {
                mode: wanted.mode,
                ..FileAttributes::default()
            };
            let mut changes = fsutil::attribute_changes(&target, Some(&stat), &wanted);
            changes.extend(fsutil::recursive_attribute_changes(
                host, &target, &ownership,
            )?);
            let mut steps = fsutil::attribute_steps(&target, &ownership, &changes, reach);
            steps.extend(fsutil::attribute_steps(
                &target,
                &top_mode,
                &changes,
                Reach::default(),
            ));
            plan.changes.extend(changes);
            plan.steps.extend(steps);
            fsutil::plan_recursive_symbolic_mode(plan, host, &target, symbolic)?;
        }
        None => {
            let mut changes = fsutil::attribute_changes(&target, Some(&stat), &wanted);
            if recurse {
                changes.extend(fsutil::recursive_attribute_changes(host, &target, &wanted)?);
            }
            let steps = fsutil::attribute_steps(&target, &wanted, &changes, reach);
            plan.changes.extend(changes);
            plan.steps.extend(steps);
        }
    }
    Ok(target)
}

fn plan_link(
    plan: &mut Plan,
    host: &mut dyn Host,
    args: &FileArgs,
    src: &str,
    current: Option<FileStat>,
) -> Result<(), ModuleError> {
    let path = args.path.as_str();
    let force = args.force.0;
    let source = resolve(path, src);
    let source_stat = host.stat(&source)?;
    // The mode is the source's (a symbolic one resolved against it); ownership the link's.
    let wanted = wanted(host, args, source_stat.as_ref(), NewKind::File)?;
    let wanted = &wanted;
    if source_stat.is_none() && !force {
        return Err(ModuleError::Failed {
            message: format!("link source `{source}` does not exist"),
            hint: Some("set `force: yes` to create the link anyway".into()),
        });
    }
    let wanted_text = format!("link to {src}");
    let link_step = fsutil::run(vec![
        "ln".into(),
        "-sfn".into(),
        src.to_string(),
        path.to_string(),
    ]);
    let link_stat = match current {
        Some(FileStat {
            kind: FileKind::Symlink { ref target },
            ..
        }) if target == src => current,
        Some(FileStat {
            kind: FileKind::Symlink { ref target },
            ..
        }) => {
            plan.push(
                Change::value(path, Some(format!("link to {target}")), Some(wanted_text)),
                [link_step],
            );
            current
        }
        None => {
            plan.push(Change::value(path, None, Some(wanted_text)), [link_step]);
            None
        }
        Some(FileStat {
            kind: FileKind::Directory,
            ..
        }) => {
            return Err(ModuleError::Failed {
                message: format!("`{path}` is a directory, refusing to replace it with a link"),
                hint: Some("remove it first with `state: absent`".into()),
            })
        }
        Some(stat) if force => {
            plan.push(
                Change::value(path, Some(describe(&stat.kind)), Some(wanted_text)),
                [
                    Step::Remove {
                        path: path.to_string(),
                    },
                    link_step,
                ],
            );
            None
        }
        Some(stat) => {
            return Err(ModuleError::Failed {
                message: format!(
                    "refusing to convert `{path}` from a {} to a link",
                    describe(&stat.kind)
                ),
                hint: Some("set `force: yes` to replace it".into()),
            })
        }
    };
    // The link itself carries owner and group; its mode is the target's.
    let ownership = FileAttributes {
        mode: None,
        ..wanted.clone()
    };
    attributes(
        plan,
        path,
        link_stat.as_ref(),
        &ownership,
        Reach {
            link: true,
            recurse: false,
        },
    );
    if let (Some(mode), Some(stat)) = (wanted.mode, source_stat) {
        let bits = FileAttributes {
            mode: Some(mode),
            ..FileAttributes::default()
        };
        attributes(plan, &source, Some(&stat), &bits, Reach::default());
    }
    Ok(())
}

/// Device, inode and link count of `path` (`stat -L` when `follow`); `None` when it does
/// not exist.
fn inode(
    host: &mut dyn Host,
    path: &str,
    follow: bool,
) -> Result<Option<(u64, u64, u64)>, ModuleError> {
    let mut argv = vec!["stat"];
    if follow {
        argv.push("-L");
    }
    argv.extend(["-c", "%d %i %h", "--", path]);
    let command = crate::Command::argv(argv);
    let output = host.run(&command)?;
    if !output.success() {
        let stderr = output.stderr_text();
        if stderr.contains("No such file") {
            return Ok(None);
        }
        return Err(ModuleError::failed(format!(
            "cannot read the inode of `{path}`: `{command}` exited with status {}: {}",
            output.status,
            stderr.trim()
        )));
    }
    let text = output.stdout_text();
    let numbers: Vec<u64> = text
        .split_whitespace()
        .filter_map(|word| word.parse().ok())
        .collect();
    match numbers.as_slice() {
        [device, inode, links] => Ok(Some((*device, *inode, *links))),
        _ => Err(ModuleError::failed(format!(
            "cannot read the inode of `{path}`: `{command}` printed `{}`",
            text.trim()
        ))),
    }
}

/// Plan `state: hard` as Ansible's `ensure_hardlink`: `path` becomes another name of the
/// file `src` (inside `path` when that is a directory). Already the same inode: no change.
/// A symbolic link at `path` is replaced when it does not point to `src`; a regular file or
/// a hard link to another file only with `force`. Mode and ownership then apply to the
/// (shared) file. Returns the link's path and whether it is new.
fn plan_hard_link(
    plan: &mut Plan,
    host: &mut dyn Host,
    args: &FileArgs,
    current: Option<FileStat>,
) -> Result<(String, bool), ModuleError> {
    let mut path = args.path.clone();
    let mut current = current;
    if let (Some(src), Some(FileKind::Directory)) = (&args.src, current.as_ref().map(|s| &s.kind)) {
        if let Some(name) = fsutil::basename(src) {
            path = fsutil::join(&path, &name);
            current = host.stat(&path)?;
        }
    }
    let Some(src) = args.src.clone() else {
        // Without `src`, an existing hard link only has its attributes managed.
        let existing = match &current {
            Some(stat) if stat.kind == FileKind::File => inode(host, &path, false)?,
            _ => None,
        };
        let Some(stat) = current.filter(|_| existing.is_some_and(|(_, _, links)| links > 1)) else {
            return Err(ArgsError::new(
                Some("src"),
                format!("`src` is required to create the hard link `{path}`"),
            )
            .into());
        };
        let wanted = wanted(host, args, Some(&stat), NewKind::File)?;
        attributes(plan, &path, Some(&stat), &wanted, Reach::default());
        return Ok((path, false));
    };
    let Some(source_inode) = inode(host, &src, true)? else {
        return Err(ModuleError::Failed {
            message: format!("hard link source `{src}` does not exist"),
            hint: Some("create the file first, or correct `src`".into()),
        });
    };
    let source_stat = match host.stat(&src)? {
        Some(stat) => follow(host, &src, stat)?.1,
        None => {
            return Err(ModuleError::failed(format!(
                "hard link source `{src}` does not exist"
            )))
        }
    };
    if source_stat.kind == FileKind::Directory {
        return Err(ModuleError::Failed {
            message: format!("`{src}` is a directory: a hard link must name a file"),
            hint: Some("use `state: link` for a symbolic link to a directory".into()),
        });
    }
    let force = args.force.0;
    let wanted_text = format!("hard link to {src}");
    // `ln -f` replaces an existing name atomically (a temp link renamed over it), as
    // Ansible's link-then-rename does; `-T` never puts the link inside a directory.
    let replace = fsutil::run(vec![
        "ln".into(),
        "-f".into(),
        "-T".into(),
        src.clone(),
        path.clone(),
    ]);
    let refuse = |what: &str| ModuleError::Failed {
        message: format!("refusing to replace {what} `{path}` with a hard link to `{src}`"),
        hint: Some("set `force: yes` to replace it".into()),
    };
    let new = match current.as_ref().map(|s| &s.kind) {
        None => {
            let mut argv = vec!["ln".to_string()];
            if args.follow.0 {
                argv.push("-L".into());
            }
            argv.extend([src.clone(), path.clone()]);
            plan.push(
                Change::value(&path, None, Some(wanted_text)),
                [fsutil::run(argv)],
            );
            true
        }
        Some(FileKind::Symlink { target }) => {
            if *target != src {
                plan.push(
                    Change::value(&path, Some(format!("link to {target}")), Some(wanted_text)),
                    [replace],
                );
            }
            false
        }
        Some(FileKind::Directory) => {
            return Err(ModuleError::Failed {
                message: format!(
                    "`{path}` is a directory, refusing to replace it with a hard link"
                ),
                hint: Some("remove it first with `state: absent`".into()),
            })
        }
        Some(kind) => {
            let Some((device, number, links)) = inode(host, &path, false)? else {
                return Err(ModuleError::failed(format!(
                    "`{path}` vanished while planning"
                )));
            };
            if (device, number) != (source_inode.0, source_inode.1) {
                let what = if links > 1 {
                    "the hard link"
                } else if *kind == FileKind::File {
                    "the file"
                } else {
                    "the special file"
                };
                if !force {
                    return Err(refuse(what));
                }
                let before = if links > 1 {
                    "another hard link".to_string()
                } else {
                    describe(kind)
                };
                plan.push(
                    Change::value(&path, Some(before), Some(wanted_text)),
                    [replace],
                );
            }
            false
        }
    };
    // The link is the source's inode: its mode and ownership are the source's.
    let wanted = wanted(host, args, Some(&source_stat), NewKind::File)?;
    attributes(plan, &path, Some(&source_stat), &wanted, Reach::default());
    Ok((path, new))
}

/// Add the changes and chmod/chown steps that give `path` the `wanted` attributes.
fn attributes(
    plan: &mut Plan,
    path: &str,
    current: Option<&FileStat>,
    wanted: &FileAttributes,
    reach: Reach,
) {
    let changes = fsutil::attribute_changes(path, current, wanted);
    let steps = fsutil::attribute_steps(path, wanted, &changes, reach);
    plan.changes.extend(changes);
    plan.steps.extend(steps);
}

/// A symbolic link's target path and stat (one level, as `chmod` would reach it); any other
/// path is returned as it is.
fn follow(
    host: &mut dyn Host,
    path: &str,
    stat: FileStat,
) -> Result<(String, FileStat), ModuleError> {
    let FileKind::Symlink { target } = &stat.kind else {
        return Ok((path.to_string(), stat));
    };
    let resolved = resolve(path, target);
    match host.stat(&resolved)? {
        Some(target_stat) => Ok((resolved, target_stat)),
        None => Err(ModuleError::failed(format!(
            "`{path}` is a link to `{target}`, which does not exist"
        ))),
    }
}

/// `target` as seen from the link at `link`.
fn resolve(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        target.to_string()
    } else {
        fsutil::join(&fsutil::parent(link), target)
    }
}

fn describe(kind: &FileKind) -> String {
    match kind {
        FileKind::File => "file".into(),
        FileKind::Directory => "directory".into(),
        FileKind::Symlink { target } => format!("link to {target}"),
        FileKind::Other => "special file".into(),
    }
}

fn state_name(state: FileState) -> &'static str {
    match state {
        FileState::File => "file",
        FileState::Directory => "directory",
        FileState::Absent => "absent",
        FileState::Link => "link",
        FileState::Touch => "touch",
        FileState::Hard => "hard",
    }
}

fn missing_parent(parent: &str) -> ModuleError {
    ModuleError::Failed {
        message: format!("directory `{parent}` does not exist"),
        hint: Some(format!(
            "create it first with `file: path={parent} state=directory`"
        )),
    }
}

/// What `modification_time` or `access_time` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TimeSpec {
    /// The time of the run: a change every time.
    Now,
    /// A local time on the host, as `date -d` reads it (`YYYY-MM-DD HH:MM:SS`).
    At(String),
}

/// The times a `file` task sets (`None`: preserved).
#[derive(Debug, Default)]
struct Times {
    modification: Option<TimeSpec>,
    access: Option<TimeSpec>,
}

impl Times {
    fn from_args(args: &FileArgs, state: FileState) -> Result<Times, ArgsError> {
        let one = |name: &str, value: &Option<String>, format: &str| -> Result<_, ArgsError> {
            match value.as_deref() {
                None | Some("preserve") => Ok(None),
                Some("now") => Ok(Some(TimeSpec::Now)),
                Some(text) => strptime(text, format).map(|t| Some(TimeSpec::At(t))).map_err(|reason| {
                    ArgsError::new(
                        Some(name),
                        format!("`{name}` `{text}` does not match the format `{format}`: {reason}"),
                    )
                    .with_hint(format!("write it like `{format}` (set `{name}_format`), or use `now` or `preserve`"))
                }),
            }
        };
        let times = Times {
            modification: one(
                "modification_time",
                &args.modification_time,
                &args.modification_time_format,
            )?,
            access: one("access_time", &args.access_time, &args.access_time_format)?,
        };
        if (times.modification.is_some() || times.access.is_some())
            && matches!(state, FileState::Absent | FileState::Link)
        {
            return Err(ArgsError::new(
                Some("modification_time"),
                format!(
                    "`modification_time` and `access_time` do not apply to `state: {}`",
                    state_name(state)
                ),
            ));
        }
        Ok(times)
    }

    /// Add the change and `touch` steps that give `path` these times. `new`: the path is
    /// created by this plan, so it has no times to compare yet.
    fn plan(
        &self,
        plan: &mut Plan,
        host: &mut dyn Host,
        path: &str,
        new: bool,
    ) -> Result<(), ModuleError> {
        if self.modification.is_none() && self.access.is_none() {
            return Ok(());
        }
        // One round trip: the current times, then each wanted time as seconds since the epoch.
        let mut script = String::new();
        if !new {
            script.push_str(&format!("stat -L -c '%X %Y' {} &&\n", crate::quote(path)));
        }
        for spec in [&self.access, &self.modification].into_iter().flatten() {
            if let TimeSpec::At(time) = spec {
                script.push_str(&format!("date -d {} +%s &&\n", crate::quote(time)));
            }
        }
        script.push_str("true");
        let output = host.run(&crate::Command::shell(script.clone()))?;
        if !output.success() {
            return Err(ModuleError::failed(format!(
                "cannot read the times of `{path}`: `{script}` exited with status {}: {}",
                output.status,
                output.stderr_text().trim()
            )));
        }
        let text = output.stdout_text();
        let mut numbers = text.split_whitespace().map(|word| word.parse::<i64>().ok());
        let (current_access, current_modification) = if new {
            (None, None)
        } else {
            (numbers.next().flatten(), numbers.next().flatten())
        };
        let specs = [
            ("access time", "-a", &self.access, current_access),
            (
                "modification time",
                "-m",
                &self.modification,
                current_modification,
            ),
        ];
        for (name, flag, spec, current) in specs {
            let Some(spec) = spec else { continue };
            let (after, argv) = match spec {
                TimeSpec::Now => (
                    "now".to_string(),
                    vec!["touch".into(), "-c".into(), flag.into(), path.to_string()],
                ),
                TimeSpec::At(time) => {
                    let Some(wanted) = numbers.next().flatten() else {
                        return Err(ModuleError::failed(format!(
                            "the host's `date` could not read the time `{time}` for `{path}`"
                        )));
                    };
                    if current == Some(wanted) {
                        continue;
                    }
                    (
                        time.clone(),
                        vec![
                            "touch".into(),
                            "-c".into(),
                            flag.into(),
                            "-d".into(),
                            format!("@{wanted}"),
                            path.to_string(),
                        ],
                    )
                }
            };
            plan.push(
                Change::value(
                    fsutil::attribute_subject(path, name),
                    current.map(|seconds| format!("@{seconds}")),
                    Some(after),
                ),
                [fsutil::run(argv)],
            );
        }
        Ok(())
    }
}

/// Python's `time.strptime` for the directives times are written with (`%Y %m %d %H %M %S
/// %y %%`), giving the time as `YYYY-MM-DD HH:MM:SS` for `date -d` on the host (which reads
/// it in the host's local time zone, as Ansible's `time.mktime` does).
fn strptime(text: &str, format: &str) -> Result<String, String> {
    let (mut year, mut month, mut day, mut hour, mut minute, mut second) =
        (1900u32, 1u32, 1u32, 0u32, 0u32, 0u32);
    let mut rest = text;
    let mut directives = format.chars();
    while let Some(c) = directives.next() {
        if c != '%' {
            rest = rest
                .strip_prefix(c)
                .ok_or_else(|| format!("expected `{c}` at `{rest}`"))?;
            continue;
        }
        let directive = directives.next().ok_or("the format ends with `%`")?;
        let (width, range, slot): (usize, (u32, u32), &mut u32) = match directive {
            'Y' => (4, (0, 9999), &mut year),
            'y' => (2, (0, 99), &mut year),
            'm' => (2, (1, 12), &mut month),
            'd' => (2, (1, 31), &mut day),
            'H' => (2, (0, 23), &mut hour),
            'M' => (2, (0, 59), &mut minute),
            'S' => (2, (0, 61), &mut second),
            '%' => {
                rest = rest.strip_prefix('%').ok_or("expected `%`")?;
                continue;
            }
            other => return Err(format!("converge does not read the directive `%{other}`")),
        };
        let digits: String = rest
            .chars()
            .take(width)
            .take_while(char::is_ascii_digit)
            .collect();
        if digits.is_empty() {
            return Err(format!("expected a number for `%{directive}` at `{rest}`"));
        }
        let value: u32 = digits
            .parse()
            .map_err(|_| format!("bad number `{digits}`"))?;
        if value < range.0 || value > range.1 {
            return Err(format!("`{digits}` is out of range for `%{directive}`"));
        }
        *slot = if directive == 'y' {
            // Python: 69–99 are 1969–1999, 0–68 are 2000–2068.
            if value >= 69 {
                1900 + value
            } else {
                2000 + value
            }
        } else {
            value
        };
        rest = &rest[digits.len()..];
    }
    if !rest.is_empty() {
        return Err(format!("unconverted data remains: `{rest}`"));
    }
    Ok(format!(
        "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strptime_reads_ansibles_default_format_and_others() {
        assert_eq!(
            strptime("202401311530.05", "%Y%m%d%H%M.%S").unwrap(),
            "2024-01-31 15:30:05"
        );
        assert_eq!(
            strptime("2024-01-31 15:30", "%Y-%m-%d %H:%M").unwrap(),
            "2024-01-31 15:30:00"
        );
        assert_eq!(
            strptime("99/12/31", "%y/%m/%d").unwrap(),
            "1999-12-31 00:00:00"
        );
        assert_eq!(strptime("05%", "%y%%").unwrap(), "2005-01-01 00:00:00");
        assert_eq!(
            strptime("2024013", "%Y%m%d").unwrap(),
            "2024-01-03 00:00:00"
        );
        assert!(strptime("2024", "%Y%m%d").unwrap_err().contains("%m"));
        assert!(strptime("20241301", "%Y%m%d")
            .unwrap_err()
            .contains("out of range"));
        assert!(strptime("2024-01-01x", "%Y-%m-%d")
            .unwrap_err()
            .contains("unconverted"));
        assert!(strptime("Jan", "%b").unwrap_err().contains("%b"));
    }
}
