//! `replace`: replace every match of a regular expression in a file, as Ansible's `replace`.
//!
//! Converges one file's content (and its mode and ownership). Reads the file with one
//! stat-and-read round trip (plus one stat per symbolic link on the way: like Ansible, the
//! file a link points to is edited, never the link). The edit is the pure function
//! [`replace_text`]: `regexp` is a Python regular expression compiled with MULTILINE (`^` and
//! `$` at every line), look-around and backreferences included; `replace` uses Python's `\1`,
//! `\g<1>` and `\g<name>`. With `after` and/or `before` only the text between the first match
//! of `after` and the following match of `before` is edited (both are compiled with DOTALL, as
//! Ansible does); when they match nothing the file is left alone and `msg` says so.
//!
//! Idempotence is the user's: a pattern that still matches its own replacement (`regexp: a`,
//! `replace: aa`) changes the file on every run, exactly as in Ansible. A replacement that
//! leaves the text identical is no change.
//!
//! Returns `msg` (`N replacements made`) and, with `backup`, `backup_file`.
//!
//! ```yaml
//! - replace:
//!     path: /etc/ssh/sshd_config
//!     regexp: '^#?(PasswordAuthentication)\s+yes$'
//!     replace: '\1 no'
//!     validate: sshd -t -f %s
//! ```

use crate::args::{Flag, Mode};
use crate::fsutil;
use crate::host::{FileKind, FileStat, Host, WriteOptions};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Plan, Step};
use crate::pyregex::{Flags, PyRegex, PyRegexError, Replacement};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// Arguments of `replace`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceArgs {
    /// The file to edit (a symbolic link is followed to the file it points to).
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    pub path: String,
    /// A Python regular expression, compiled with MULTILINE; every match is replaced.
    pub regexp: String,
    /// The text replacing each match; `\1`, `\g<1>` and `\g<name>` insert groups. Empty
    /// (the default) removes the matches.
    #[serde(default)]
    pub replace: String,
    /// Only edit the text after the first match of this Python regular expression.
    pub after: Option<String>,
    /// Only edit the text before the match of this Python regular expression.
    pub before: Option<String>,
    /// Keep the old file as `PATH.TIMESTAMP~` when changing it.
    #[serde(default)]
    pub backup: Flag,
    /// A command that must accept the edited file before it replaces the old one; `%s`
    /// is its path.
    pub validate: Option<String>,
    /// The file's character encoding: `utf-8` (the default), `latin-1` or `ascii`.
    #[serde(default = "default_encoding")]
    pub encoding: String,
    /// Permission bits, e.g. `"0644"`.
    pub mode: Option<Mode>,
    /// Owner, by name or numeric id.
    pub owner: Option<String>,
    /// Group, by name or numeric id.
    pub group: Option<String>,
}

fn default_encoding() -> String {
    "utf-8".into()
}

/// The `replace` module.
pub struct Replace;

/// How the file's bytes become text and back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Latin1,
    Ascii,
}

impl Encoding {
    fn parse(name: &str) -> Result<Encoding, ArgsError> {
        let normal = name.trim().to_ascii_lowercase().replace('_', "-");
        match normal.as_str() {
            "utf-8" | "utf8" | "u8" => Ok(Encoding::Utf8),
            "latin-1" | "latin1" | "iso-8859-1" | "iso8859-1" | "l1" => Ok(Encoding::Latin1),
            "ascii" | "us-ascii" => Ok(Encoding::Ascii),
            _ => Err(ArgsError::new(
                Some("encoding"),
                format!("encoding `{name}` is not supported by module `replace`"),
            )
            .with_hint("use `utf-8`, `latin-1` or `ascii`")),
        }
    }

    fn decode(self, bytes: &[u8]) -> Option<String> {
        match self {
            Encoding::Utf8 => String::from_utf8(bytes.to_vec()).ok(),
            Encoding::Latin1 => Some(bytes.iter().map(|b| char::from(*b)).collect()),
            Encoding::Ascii => bytes
                .is_ascii()
                .then(|| String::from_utf8_lossy(bytes).into_owned()),
        }
    }

    fn encode(self, text: &str) -> Option<Vec<u8>> {
        match self {
            Encoding::Utf8 => Some(text.as_bytes().to_vec()),
            Encoding::Latin1 => text.chars().map(|c| u8::try_from(c).ok()).collect(),
            Encoding::Ascii => text.is_ascii().then(|| text.as_bytes().to_vec()),
        }
    }
}

/// The arguments, checked and compiled.
struct Edit {
    regexp: PyRegex,
    template: Replacement,
    section: Option<(PyRegex, String)>,
}

fn regex_error(argument: &str, reason: &str) -> ArgsError {
    ArgsError::new(
        Some(argument),
        format!("`{argument}` is not a valid regular expression: {reason}"),
    )
    .with_hint("patterns use Python's `re` syntax, as in Ansible")
}

impl Edit {
    fn compile(args: &ReplaceArgs) -> Result<Edit, ArgsError> {
        if args.path.is_empty() {
            return Err(ArgsError::new(
                Some("path"),
                "`path` of module `replace` is empty",
            ));
        }
        let regexp = PyRegex::new(
            &args.regexp,
            Flags {
                multiline: true,
                ..Flags::default()
            },
        )
        .map_err(|error| regex_error("regexp", error.reason()))?;
        let template = regexp.replacement(&args.replace).map_err(|error| {
            ArgsError::new(
                Some("replace"),
                format!("`replace` does not fit `regexp`: {}", error.reason()),
            )
            .with_hint(r"groups are written `\1` or `\g<name>`; a literal backslash is `\\`")
        })?;
        let pattern = match (&args.after, &args.before) {
            (Some(after), Some(before)) => Some(format!("{after}(?P<subsection>.*?){before}")),
            (Some(after), None) => Some(format!("{after}(?P<subsection>.*)")),
            (None, Some(before)) => Some(format!("(?P<subsection>.*){before}")),
            (None, None) => None,
        };
        let section = match pattern {
            Some(pattern) => {
                let argument = if args.after.is_some() {
                    "after"
                } else {
                    "before"
                };
                let regex = PyRegex::new(
                    &pattern,
                    Flags {
                        dotall: true,
                        ..Flags::default()
                    },
                )
                .map_err(|error| regex_error(argument, error.reason()))?;
                Some((regex, pattern))
            }
            None => None,
        };
        Ok(Edit {
            regexp,
            template,
            section,
        })
    }
}

/// What [`replace_text`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replaced {
    /// The new text and how many matches were replaced (the text may be unchanged).
    Text(String, usize),
    /// `after`/`before` matched nothing; the message Ansible gives.
    NoSection(String),
}

/// The text after `args`' replacement, by Ansible's rules.
pub fn replace_text(text: &str, args: &ReplaceArgs) -> Result<Replaced, ModuleError> {
    let edit = Edit::compile(args)?;
    edit.apply(text)
}

impl Edit {
    fn apply(&self, text: &str) -> Result<Replaced, ModuleError> {
        let failed = |error: PyRegexError| {
            ModuleError::failed(format!(
                "cannot match the regular expression: {}",
                error.reason()
            ))
        };
        let (start, end) = match &self.section {
            Some((regex, pattern)) => {
                let found = regex.search(text).map_err(failed)?;
                let subsection = regex.group_index("subsection");
                match found.and_then(|found| found.group_span(subsection?)) {
                    Some(range) => range,
                    None => {
                        return Ok(Replaced::NoSection(format!(
                        "Pattern for before/after params did not match the given file: {pattern}"
                    )))
                    }
                }
            }
            None => (0, text.len()),
        };
        let (new, count) = self
            .regexp
            .sub_with(&text[start..end], &self.template, 0)
            .map_err(failed)?;
        Ok(Replaced::Text(
            format!("{}{new}{}", &text[..start], &text[end..]),
            count,
        ))
    }
}

/// Follow `path` through symbolic links (as `os.path.realpath` would for the usual chains) to
/// the file to edit; returns its path and stat.
fn resolve(
    host: &mut dyn Host,
    path: &str,
    mut stat: Option<FileStat>,
) -> Result<(String, Option<FileStat>), ModuleError> {
    let mut path = path.to_string();
    for _ in 0..40 {
        let Some(FileKind::Symlink { target }) = stat.as_ref().map(|s| s.kind.clone()) else {
            return Ok((path, stat));
        };
        path = if target.starts_with('/') {
            target
        } else {
            fsutil::join(&fsutil::parent(&path), &target)
        };
        stat = host.stat(&path)?;
    }
    Err(ModuleError::failed(format!(
        "too many levels of symbolic links at `{path}`"
    )))
}

impl TypedModule for Replace {
    type Args = ReplaceArgs;
    const NAME: &'static str = "replace";
    const SUMMARY: &'static str = "Replace every match of a regular expression in a file";
    const EXAMPLES: &'static str = "- replace:\n    path: /etc/ssh/sshd_config\n    regexp: '^#?(PasswordAuthentication)\\s+yes$'\n    replace: '\\1 no'\n    validate: sshd -t -f %s\n\n- replace:\n    path: /etc/hosts\n    after: '# BEGIN lab'\n    before: '# END lab'\n    regexp: '^10\\.0\\.0\\.(\\d+)'\n    replace: '10.0.1.\\1'\n    backup: yes\n";
    const USES_FACTS: bool = false;

    fn check(args: &ReplaceArgs) -> Result<(), ArgsError> {
        Encoding::parse(&args.encoding)?;
        fsutil::check_validate(Self::NAME, args.validate.as_ref())?;
        Edit::compile(args).map(|_| ())
    }

    fn plan(args: ReplaceArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let edit = Edit::compile(&args)?;
        let encoding = Encoding::parse(&args.encoding)?;
        let (stat, content) = match host.stat_and_read(&args.path) {
            Ok(found) => found,
            // A transport that cannot read through a link: stat it, and read what it points
            // to below (a real read failure shows up again there).
            Err(_) => (host.stat(&args.path)?, None),
        };
        let (path, stat) = resolve(host, &args.path, stat)?;
        let content = match (&stat, content) {
            (None, _) => {
                return Err(ModuleError::failed(format!(
                    "Path {} does not exist !",
                    args.path
                )))
            }
            (Some(s), _) if s.kind == FileKind::Directory => {
                return Err(ModuleError::failed(format!(
                    "Path {} is a directory !",
                    args.path
                )))
            }
            (Some(_), Some(content)) if path == args.path => content,
            (Some(_), _) => host.read_file(&path)?.unwrap_or_default(),
        };
        let text = encoding
            .decode(&content)
            .ok_or_else(|| ModuleError::Failed {
                message: format!("`{path}` is not valid {} text", args.encoding),
                hint: Some("set `encoding` to the file's encoding (e.g. `latin-1`)".into()),
            })?;
        let mut plan = Plan::unchanged();
        let (after, count) = match edit.apply(&text)? {
            Replaced::NoSection(message) => {
                plan.result.insert("msg".into(), Value::String(message));
                return Ok(plan);
            }
            Replaced::Text(after, count) => (after, count),
        };
        let attributes = fsutil::attributes(
            host,
            args.mode.as_ref(),
            args.owner.as_ref(),
            args.group.as_ref(),
            stat.as_ref(),
            fsutil::NewKind::File,
        )?;
        let attribute_changes = fsutil::attribute_changes(&path, stat.as_ref(), &attributes);
        let mut message = String::new();
        if count > 0 && after != text {
            let bytes = encoding.encode(&after).ok_or_else(|| {
                ModuleError::failed(format!(
                    "the replaced text of `{path}` cannot be written as {}",
                    args.encoding
                ))
            })?;
            message = format!("{count} replacements made");
            plan.changes.push(fsutil::file_content_change(
                &path,
                Some(&content),
                Some(&bytes),
                attributes.mode.or(stat.as_ref().map(|s| s.mode)),
            ));
            plan.changes.extend(attribute_changes);
            plan.steps.push(Step::WriteFile {
                path: path.clone(),
                content: bytes,
                options: WriteOptions {
                    attributes,
                    create_parents: false,
                    validate: args.validate.clone(),
                    backup: args.backup.0,
                },
            });
        } else if !attribute_changes.is_empty() {
            message = "ownership, perms or SE linux context changed".into();
            let steps = fsutil::attribute_steps(
                &path,
                &attributes,
                &attribute_changes,
                fsutil::Reach::default(),
            );
            plan.changes.extend(attribute_changes);
            plan.steps.extend(steps);
        }
        plan.result.insert("msg".into(), Value::String(message));
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(value: serde_json::Value) -> ReplaceArgs {
        let mut full = serde_json::json!({"path": "/etc/x"});
        if let (Some(map), Some(extra)) = (full.as_object_mut(), value.as_object()) {
            map.extend(extra.clone());
        }
        serde_json::from_value(full).unwrap()
    }

    fn replaced(text: &str, value: serde_json::Value) -> Replaced {
        replace_text(text, &args(value)).unwrap()
    }

    #[test]
    fn every_match_is_replaced_with_groups() {
        let text = "PermitRootLogin yes\n#PasswordAuthentication yes\n";
        assert_eq!(
            replaced(
                text,
                serde_json::json!({"regexp": r"^#?(\w+Authentication)\s+yes$", "replace": r"\1 no"})
            ),
            Replaced::Text("PermitRootLogin yes\nPasswordAuthentication no\n".into(), 1)
        );
        assert_eq!(
            replaced(
                "a1 a2\n",
                serde_json::json!({"regexp": r"a(?P<n>\d)", "replace": r"b\g<n>"})
            ),
            Replaced::Text("b1 b2\n".into(), 2)
        );
    }

    #[test]
    fn after_and_before_limit_the_section() {
        let text = "x=1\n# BEGIN\nx=1\n# END\nx=1\n";
        assert_eq!(
            replaced(
                text,
                serde_json::json!({"regexp": "^x=1$", "replace": "x=2", "after": "# BEGIN", "before": "# END"})
            ),
            Replaced::Text("x=1\n# BEGIN\nx=2\n# END\nx=1\n".into(), 1)
        );
        assert_eq!(
            replaced(
                text,
                serde_json::json!({"regexp": "^x=1$", "replace": "x=2", "after": "# END"})
            ),
            Replaced::Text("x=1\n# BEGIN\nx=1\n# END\nx=2\n".into(), 1)
        );
        assert_eq!(
            replaced(
                text,
                serde_json::json!({"regexp": "^x=1$", "replace": "x=2", "before": "# BEGIN"})
            ),
            Replaced::Text("x=2\n# BEGIN\nx=1\n# END\nx=1\n".into(), 1)
        );
        assert_eq!(
            replaced(text, serde_json::json!({"regexp": "x", "after": "nope"})),
            Replaced::NoSection(
                "Pattern for before/after params did not match the given file: nope(?P<subsection>.*)"
                    .into()
            )
        );
    }

    #[test]
    fn bad_patterns_and_templates_are_argument_errors() {
        let error = Edit::compile(&args(serde_json::json!({"regexp": "(a"})))
            .err()
            .unwrap();
        assert_eq!(error.argument.as_deref(), Some("regexp"));
        let error = Edit::compile(&args(
            serde_json::json!({"regexp": "(a)", "replace": r"\2"}),
        ))
        .err()
        .unwrap();
        assert_eq!(
            error.message,
            "`replace` does not fit `regexp`: invalid group reference 2"
        );
        assert!(Encoding::parse("utf-16").is_err());
    }

    #[test]
    fn latin1_round_trips() {
        let bytes = b"caf\xe9\n";
        let text = Encoding::Latin1.decode(bytes).unwrap();
        assert_eq!(text, "caf\u{e9}\n");
        assert_eq!(Encoding::Latin1.encode(&text).unwrap(), bytes);
        assert!(Encoding::Utf8.decode(bytes).is_none());
        assert!(Encoding::Ascii.encode("caf\u{e9}").is_none());
    }
}
