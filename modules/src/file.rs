//! `file`: make a path be a directory, a symbolic link, an (empty) file, or absent, with a
//! given mode and ownership.
//!
//! Reads the path with one stat (plus the link source's stat for `state: link`, and one
//! `find` per attribute for `recurse`). Idempotence: a path that already has the asked
//! kind, link target and attributes gives no change. Directories are made with `mkdir -p`,
//! links with `ln -sfn`, attributes with `chmod`/`chown` (`chown -h` for the link itself;
//! the mode of a link is its target's, as with Ansible's `follow: yes`).
//!
//! Differences from Ansible: `state: touch` on an existing path changes nothing but the
//! attributes asked for (Ansible always reports a change, because it updates the times), so
//! a touch task is idempotent; `state: hard` is not supported.
//!
//! ```yaml
//! - file:
//!     path: /etc/radvd.d
//!     state: directory
//!     mode: "0755"
//! ```

use crate::args::{Flag, Mode};
use crate::fsutil::{self, Reach};
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
    /// relative).
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
    /// source that does not exist.
    #[serde(default)]
    pub force: Flag,
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
            (Some(FileState::Link), Some(_)) => {}
            (_, Some(_)) => {
                return Err(ArgsError::new(
                    Some("src"),
                    "`src` of module `file` needs `state: link`",
                ))
            }
            _ => {}
        }
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
        let wanted = fsutil::attributes(args.mode, args.owner.as_ref(), args.group.as_ref());
        let state = match (args.state, current.as_ref().map(|stat| &stat.kind)) {
            (Some(state), _) => state,
            (None, Some(FileKind::Directory)) => FileState::Directory,
            (None, _) => FileState::File,
        };
        let mut plan = Plan::unchanged();
        plan.result
            .insert("path".into(), Value::String(path.clone()));
        plan.result
            .insert("state".into(), Value::String(state_name(state).into()));
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
                attributes(&mut plan, &target, Some(&stat), &wanted, Reach::default());
            }
            FileState::Touch => match current {
                None => {
                    let parent = fsutil::parent(&path);
                    if host.stat(&parent)?.is_none() {
                        return Err(missing_parent(&parent));
                    }
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
                }
                Some(stat) => {
                    let (target, stat) = follow(host, &path, stat)?;
                    attributes(&mut plan, &target, Some(&stat), &wanted, Reach::default());
                }
            },
            FileState::Directory => {
                plan_directory(&mut plan, host, &path, current, &wanted, args.recurse.0)?;
            }
            FileState::Link => {
                let src = args.src.clone().unwrap_or_default();
                plan_link(&mut plan, host, &path, &src, current, &wanted, args.force.0)?;
            }
        }
        Ok(plan)
    }
}

fn plan_directory(
    plan: &mut Plan,
    host: &mut dyn Host,
    path: &str,
    current: Option<FileStat>,
    wanted: &FileAttributes,
    recurse: bool,
) -> Result<(), ModuleError> {
    let reach = Reach {
        link: false,
        recurse,
    };
    let Some(stat) = current else {
        plan.push(
            Change::value(path, None, Some("directory".into())),
            [fsutil::run(vec![
                "mkdir".into(),
                "-p".into(),
                path.to_string(),
            ])],
        );
        attributes(plan, path, None, wanted, reach);
        return Ok(());
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
    let mut changes = fsutil::attribute_changes(&target, Some(&stat), wanted);
    if recurse {
        changes.extend(fsutil::recursive_attribute_changes(host, &target, wanted)?);
    }
    let steps = fsutil::attribute_steps(&target, wanted, &changes, reach);
    plan.changes.extend(changes);
    plan.steps.extend(steps);
    Ok(())
}

fn plan_link(
    plan: &mut Plan,
    host: &mut dyn Host,
    path: &str,
    src: &str,
    current: Option<FileStat>,
    wanted: &FileAttributes,
    force: bool,
) -> Result<(), ModuleError> {
    let source = resolve(path, src);
    let source_stat = host.stat(&source)?;
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
