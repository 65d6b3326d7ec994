//! `unarchive`: the members of a tar (plain, gzip, bzip2, xz) or zip archive present in a
//! directory on the host.
//!
//! Only `remote_src: yes` (the archive already on the host) is built: copying an archive
//! from the controller first needs the runner to upload it, and converge refuses that case
//! with an error rather than guessing. zip archives need `unzip` on the host.
//!
//! Reads, in one round trip: which kind of archive `src` is (`unzip -Z1` succeeds → zip,
//! `tar -tf` succeeds → tar, compression detected by GNU tar), its verbose listing (type and
//! size of every member) and, for every member, what is at `dest/MEMBER` (type, size, mode,
//! owner, group). Pure functions ([`parse_tar_listing`], [`parse_zip_listing`],
//! [`parse_stats`]) turn that into [`Member`]s and [`Found`]s.
//!
//! Idempotence (simpler than Ansible's, which compares each member's content): the task is
//! no change when every member not excluded exists in `dest` with the same type, a regular
//! file also with the same size, and with the requested `mode`/`owner`/`group` when given.
//! A member edited in place keeping its size is therefore not restored. `creates`: when
//! that path exists nothing is read or extracted (Ansible reports the task skipped; converge
//! reports it ok, unchanged, with Ansible's message).
//!
//! Applying runs `tar -xf SRC -C DEST` (or `unzip -o SRC -d DEST`) with `exclude` and
//! `extra_opts`, then `chmod`/`chown`/`chgrp` on every extracted member (not through
//! symlinks) when `mode`/`owner`/`group` are given.
//!
//! ```yaml
//! - unarchive:
//!     src: /srv/dist/tool-1.2.tar.gz
//!     dest: /opt/tool
//!     remote_src: yes
//!     creates: /opt/tool/bin/tool
//! ```

use crate::args::{Flag, Mode, StringList};
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

/// Arguments of `unarchive`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UnarchiveArgs {
    /// The archive: with `remote_src: yes` a path on the host (the only form converge
    /// builds).
    pub src: String,
    /// The directory to extract into; it must exist.
    pub dest: String,
    /// `src` is on the host already. Required by converge.
    #[serde(default)]
    pub remote_src: Flag,
    /// Ansible's older spelling: `copy: no` means `remote_src: yes`.
    pub copy: Option<Flag>,
    /// Do nothing when this path exists on the host.
    pub creates: Option<String>,
    /// More options for `tar` or `unzip`, e.g. `["--strip-components=1"]`.
    #[serde(default)]
    pub extra_opts: StringList,
    /// Return the archive's member names as `files`.
    #[serde(default)]
    pub list_files: Flag,
    /// Members (paths or glob patterns) not to extract.
    #[serde(default)]
    pub exclude: StringList,
    /// Permission bits set on every extracted member.
    pub mode: Option<Mode>,
    /// Owner set on every extracted member.
    pub owner: Option<String>,
    /// Group set on every extracted member.
    pub group: Option<String>,
}

impl UnarchiveArgs {
    fn remote(&self) -> bool {
        self.remote_src.0 || self.copy.is_some_and(|copy| !copy.0)
    }
}

/// The kind of archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Read by GNU tar (compression detected).
    Tar,
    /// Read by unzip.
    Zip,
}

/// What kind of entry a member (or a path in dest) is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (or a hard link, whose size tar does not list).
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// Anything else (device, fifo).
    Other,
}

/// One member of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Its path inside the archive, as listed.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// Size in bytes; `None` when the listing does not give it (tar hard links).
    pub size: Option<u64>,
}

/// Kinds and sizes from `tar -tvf` lines, in order (names come from `tar -tf`).
pub fn parse_tar_listing(text: &str) -> Vec<(Kind, Option<u64>)> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split_whitespace();
            let kind = match fields.next().and_then(|perms| perms.chars().next()) {
                Some('-') => Kind::File,
                Some('h') => Kind::File,
                Some('d') => Kind::Directory,
                Some('l') => Kind::Symlink,
                _ => Kind::Other,
            };
            let hard_link = line.starts_with('h');
            let size = fields.nth(1).and_then(|size| size.parse().ok());
            (kind, if hard_link { None } else { size })
        })
        .collect()
}

/// Members from `unzip -l` output (`Length Date Time Name` rows between the dashed lines).
pub fn parse_zip_listing(text: &str) -> Vec<Member> {
    let mut members = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim_start().starts_with("---------") {
            if inside {
                break;
            }
            inside = true;
            continue;
        }
        if !inside {
            continue;
        }
        let trimmed = line.trim_start();
        let mut rest = trimmed;
        let mut fields = Vec::new();
        for _ in 0..3 {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            fields.push(&rest[..end]);
            rest = rest[end..].trim_start();
        }
        let Ok(size) = fields[0].parse::<u64>() else {
            continue;
        };
        let name = rest.to_string();
        if name.is_empty() {
            continue;
        }
        let kind = if name.ends_with('/') {
            Kind::Directory
        } else {
            Kind::File
        };
        members.push(Member {
            name,
            kind,
            size: Some(size),
        });
    }
    members
}

/// What is at `dest/MEMBER` on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Nothing.
    Missing,
    /// An entry.
    Entry {
        /// Its kind.
        kind: Kind,
        /// Size in bytes.
        size: u64,
        /// Permission bits.
        mode: u32,
        /// Owner name.
        owner: String,
        /// Group name.
        group: String,
    },
}

/// Stat lines (`M` or `KIND SIZE MODE OWNER GROUP`, KIND one of `f d l o`), in order.
pub fn parse_stats(text: &str) -> Vec<Found> {
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                [kind, size, mode, owner, group] => Found::Entry {
                    kind: match *kind {
                        "f" => Kind::File,
                        "d" => Kind::Directory,
                        "l" => Kind::Symlink,
                        _ => Kind::Other,
                    },
                    size: size.parse().unwrap_or(0),
                    mode: u32::from_str_radix(mode, 8).unwrap_or(0),
                    owner: owner.to_string(),
                    group: group.to_string(),
                },
                _ => Found::Missing,
            }
        })
        .collect()
}

/// Name given to the read script (`$0`).
pub const READ_NAME: &str = "converge-unarchive-read";

/// `$1` src, `$2` dest. Prints `format=tar|zip|none|nosrc|nodest`, then `--- names`,
/// `--- list` (verbose listing) and `--- stat` (one line per name) sections.
pub const READ_SCRIPT: &str = r#"src=$1 dest=$2
[ -f "$src" ] || { echo format=nosrc; exit 0; }
[ -d "$dest" ] || { echo format=nodest; exit 0; }
if command -v unzip >/dev/null 2>&1 && unzip -Z1 "$src" >/dev/null 2>&1; then
  echo format=zip; names() { unzip -Z1 "$src"; }; list() { unzip -l "$src"; }
elif tar -tf "$src" >/dev/null 2>&1; then
  echo format=tar; names() { tar --quoting-style=literal -tf "$src"; }; list() { tar --quoting-style=literal -tvf "$src"; }
else
  echo format=none; exit 0
fi
echo "--- names"; names
echo "--- list"; list
echo "--- stat"
names | while IFS= read -r n; do
  p="$dest/$n"
  if [ -L "$p" ]; then k=l; elif [ -f "$p" ]; then k=f; elif [ -d "$p" ]; then k=d; elif [ -e "$p" ]; then k=o; else echo M; continue; fi
  echo "$k $(stat -c '%s %a %U %G' -- "$p")"
done
"#;

/// Name given to the extract script (`$0`).
pub const EXTRACT_NAME: &str = "converge-unarchive";

/// `$1` format, `$2` src, `$3` dest, `$4` mode, `$5` owner, `$6` group, then `--` and
/// tar/unzip options. Extracts, then sets mode/owner/group on every member.
pub const EXTRACT_SCRIPT: &str = r#"format=$1 src=$2 dest=$3 mode=$4 owner=$5 group=$6
shift 7
if [ "$format" = zip ]; then
  unzip -o -q "$src" -d "$dest" "$@" || exit 1
  names() { unzip -Z1 "$src"; }
else
  tar -xf "$src" -C "$dest" "$@" || exit 1
  names() { tar --quoting-style=literal -tf "$src"; }
fi
[ -n "$mode$owner$group" ] || exit 0
names | while IFS= read -r n; do
  p="$dest/$n"
  [ -e "$p" ] && [ ! -L "$p" ] || continue
  if [ -n "$mode" ]; then chmod "$mode" "$p" || exit 1; fi
  if [ -n "$owner" ]; then chown "$owner" "$p" || exit 1; fi
  if [ -n "$group" ]; then chgrp "$group" "$p" || exit 1; fi
done
"#;

/// What the read script found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadOut {
    /// `tar`, `zip`, `none`, `nosrc`, `nodest`.
    pub format: String,
    /// The members, in archive order.
    pub members: Vec<Member>,
    /// What is at each member's path in dest, in the same order.
    pub found: Vec<Found>,
}

/// Parse the read script's output.
pub fn parse_read(text: &str) -> ReadOut {
    let mut format = String::new();
    let mut section = "";
    let (mut names, mut list, mut stats) = (String::new(), String::new(), String::new());
    for line in text.lines() {
        match line {
            "--- names" | "--- list" | "--- stat" => {
                section = &line[4..];
                continue;
            }
            _ => {}
        }
        let target = match section {
            "names" => &mut names,
            "list" => &mut list,
            "stat" => &mut stats,
            _ => {
                if let Some(value) = line.strip_prefix("format=") {
                    format = value.to_string();
                }
                continue;
            }
        };
        target.push_str(line);
        target.push('\n');
    }
    let members = if format == "zip" {
        parse_zip_listing(&list)
    } else {
        let kinds = parse_tar_listing(&list);
        names
            .lines()
            .zip(
                kinds
                    .into_iter()
                    .chain(std::iter::repeat((Kind::Other, None))),
            )
            .map(|(name, (kind, size))| Member {
                name: name.to_string(),
                kind,
                size,
            })
            .collect()
    };
    ReadOut {
        format,
        members,
        found: parse_stats(&stats),
    }
}

/// True when `name` matches an `exclude` entry (a path, or a glob with `*` and `?`).
pub fn excluded(name: &str, patterns: &[String]) -> bool {
    let name = name.trim_start_matches("./").trim_end_matches('/');
    patterns.iter().any(|pattern| {
        let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
        glob(pattern.as_bytes(), name.as_bytes())
            || name
                .strip_prefix(pattern)
                .is_some_and(|rest| rest.starts_with('/'))
    })
}

fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match (pattern.first(), text.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], text) || (!text.is_empty() && glob(pattern, &text[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &text[1..]),
        (Some(p), Some(t)) if p == t => glob(&pattern[1..], &text[1..]),
        _ => false,
    }
}

/// The members that differ from what is in dest (the idempotence rule above), by name.
pub fn differing(args: &UnarchiveArgs, read: &ReadOut) -> Vec<String> {
    let mut out = Vec::new();
    for (index, member) in read.members.iter().enumerate() {
        if excluded(&member.name, &args.exclude.0) {
            continue;
        }
        let same = match read.found.get(index) {
            Some(Found::Entry {
                kind,
                size,
                mode,
                owner,
                group,
            }) => {
                *kind == member.kind
                    && (member.kind != Kind::File || member.size.is_none_or(|want| want == *size))
                    && (member.kind == Kind::Symlink
                        || (args
                            .mode
                            .as_ref()
                            .is_none_or(|want| want.resolve(*mode, false, 0o022) == *mode)
                            && args.owner.as_ref().is_none_or(|want| want == owner)
                            && args.group.as_ref().is_none_or(|want| want == group)))
            }
            _ => false,
        };
        if !same {
            out.push(member.name.clone());
        }
    }
    out
}

/// The `unarchive` module.
pub struct Unarchive;

impl TypedModule for Unarchive {
    type Args = UnarchiveArgs;
    const NAME: &'static str = "unarchive";
    const SUMMARY: &'static str =
        "Extract a tar (gz, bz2, xz) or zip archive that is on the host into a directory";
    const EXAMPLES: &'static str = r#"- unarchive:
    src: /srv/dist/tool-1.2.tar.gz
    dest: /opt/tool
    remote_src: yes
    creates: /opt/tool/bin/tool
"#;
    const USES_FACTS: bool = false;

    fn check(args: &UnarchiveArgs) -> Result<(), ArgsError> {
        if !args.remote() {
            return Err(ArgsError::new(
                Some("src"),
                format!(
                    "converge's `unarchive` extracts only archives already on the host: copying `{}` from the controller is not built",
                    args.src
                ),
            )
            .with_hint("copy the archive with `copy:` first, then use `remote_src: yes`"));
        }
        Ok(())
    }

    fn plan(
        args: UnarchiveArgs,
        host: &mut dyn Host,
        _context: &Context,
    ) -> Result<Plan, ModuleError> {
        let mut plan = Plan::unchanged();
        plan.result.insert("dest".into(), json!(args.dest));
        plan.result.insert("src".into(), json!(args.src));
        if let Some(creates) = &args.creates {
            if host.stat(creates)?.is_some() {
                plan.result.insert(
                    "msg".into(),
                    json!(format!("skipped, since {creates} exists")),
                );
                return Ok(plan);
            }
        }
        let output = host.run(&Command::argv([
            "sh".to_string(),
            "-c".to_string(),
            READ_SCRIPT.to_string(),
            READ_NAME.to_string(),
            args.src.clone(),
            args.dest.clone(),
        ]))?;
        if !output.success() {
            return Err(ModuleError::failed(format!(
                "cannot read the archive `{}`: {}",
                args.src,
                output.stderr_text().trim()
            )));
        }
        let read = parse_read(&output.stdout_text());
        let format = match read.format.as_str() {
            "tar" => Format::Tar,
            "zip" => Format::Zip,
            "nosrc" => {
                return Err(ModuleError::failed(format!(
                    "Source '{}' does not exist",
                    args.src
                )))
            }
            "nodest" => {
                return Err(ModuleError::failed(format!(
                    "Destination '{}' is not a directory",
                    args.dest
                )))
            }
            _ => {
                return Err(ModuleError::Failed {
                    message: format!(
                        "Failed to find handler for \"{}\": it is neither a tar archive nor a zip archive",
                        args.src
                    ),
                    hint: Some("zip archives need `unzip` on the host".into()),
                })
            }
        };
        plan.result.insert(
            "handler".into(),
            json!(match format {
                Format::Tar => "TgzArchive",
                Format::Zip => "ZipArchive",
            }),
        );
        if args.list_files.0 {
            plan.result.insert(
                "files".into(),
                Value::from(
                    read.members
                        .iter()
                        .map(|member| member.name.clone())
                        .collect::<Vec<_>>(),
                ),
            );
        }
        let differing = differing(&args, &read);
        if differing.is_empty() {
            return Ok(plan);
        }
        let shown: Vec<&str> = differing.iter().take(5).map(String::as_str).collect();
        let more = differing.len().saturating_sub(5);
        plan.changes.push(Change::note(
            args.dest.clone(),
            format!(
                "will extract {} ({} member(s) missing or different: {}{})",
                args.src,
                differing.len(),
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            ),
        ));
        let mut argv = vec![
            "sh".to_string(),
            "-c".to_string(),
            EXTRACT_SCRIPT.to_string(),
            EXTRACT_NAME.to_string(),
            match format {
                Format::Tar => "tar",
                Format::Zip => "zip",
            }
            .to_string(),
            args.src.clone(),
            args.dest.clone(),
            args.mode.as_ref().map_or(String::new(), |m| {
                // A symbolic mode applies to a new file (0644 under the usual umask).
                format!(
                    "{:04o}",
                    m.bits().unwrap_or_else(|| m.resolve(0o644, false, 0o022))
                )
            }),
            args.owner.clone().unwrap_or_default(),
            args.group.clone().unwrap_or_default(),
            "--".to_string(),
        ];
        argv.extend(args.extra_opts.0.iter().cloned());
        match format {
            Format::Tar => argv.extend(
                args.exclude
                    .0
                    .iter()
                    .map(|item| format!("--exclude={item}")),
            ),
            Format::Zip if !args.exclude.0.is_empty() => {
                argv.push("-x".into());
                argv.extend(args.exclude.0.iter().cloned());
            }
            Format::Zip => {}
        }
        plan.steps.push(Step::Run {
            command: Command::argv(argv),
            allow_failure: false,
        });
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_listing_gives_kinds_and_sizes() {
        let listing = "drwxr-xr-x root/root         0 2026-12-07 01:56 ./\n-rw-r--r-- root/root         4 2026-12-07 01:56 ./sp ace.txt\nlrwxrwxrwx root/root         0 2026-12-07 01:56 ./link -> d/a.txt\nhrw-r--r-- root/root         0 2026-12-07 01:56 ./b link to ./sp ace.txt\n";
        assert_eq!(
            parse_tar_listing(listing),
            vec![
                (Kind::Directory, Some(0)),
                (Kind::File, Some(4)),
                (Kind::Symlink, Some(0)),
                (Kind::File, None),
            ]
        );
    }

    #[test]
    fn zip_listing_keeps_spaces_in_names() {
        let listing = "Archive:  t.zip\n  Length      Date    Time    Name\n---------  ---------- -----   ----\n        0  2026-12-07 01:56   d/\n        3  2026-12-07 01:56   d/a b.txt\n---------                     -------\n        3                     2 files\n";
        let members = parse_zip_listing(listing);
        assert_eq!(members.len(), 2);
        assert_eq!(members[1].name, "d/a b.txt");
        assert_eq!(members[1].size, Some(3));
        assert_eq!(members[0].kind, Kind::Directory);
    }

    #[test]
    fn exclude_matches_paths_globs_and_children() {
        let patterns = vec!["docs".to_string(), "*.log".to_string()];
        assert!(excluded("./docs/", &patterns));
        assert!(excluded("docs/a.txt", &patterns));
        assert!(excluded("x.log", &patterns));
        assert!(!excluded("src/a.txt", &patterns));
    }
}
