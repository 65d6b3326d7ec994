//! `lineinfile`: make sure one line is in a text file (or that matching lines are not).
//!
//! Converges one file's content, line by line, plus its mode and ownership. Reads the file
//! (one stat, one read); the edit itself is the pure function [`edit_lines`]. The rules are
//! Ansible's: with `regexp` (or `search_string`) the last matching line is replaced (the
//! first with `firstmatch`); without a match the line is added after the last line matching
//! `insertafter` (or before the one matching `insertbefore`), else at the end; an identical
//! line anywhere already satisfies the task; `backrefs` without a match changes nothing;
//! `state: absent` removes every matching line. Idempotence: planning after applying finds the
//! line and changes nothing.
//!
//! Differences from Ansible, all to keep files as they are: a line keeps its own ending
//! (CRLF stays CRLF, and added lines take the file's ending), and a file that did not end
//! with a newline still does not. Patterns are Python's (look-around, `(?P<name>…)`, `\d`;
//! see [`crate::pyregex`]), and `line` with `backrefs` is expanded as Python's
//! `match.expand` does (`\1`, `\g<1>`, `\g<name>`). The SELinux arguments are accepted and
//! not applied, `unsafe_writes` and `follow` are ignored (the file a link points to is
//! edited), and a non-empty `attributes` fails the task.
//!
//! ```yaml
//! - lineinfile:
//!     path: /etc/ssh/sshd_config
//!     regexp: '^#?PermitRootLogin '
//!     line: PermitRootLogin prohibit-password
//!     validate: sshd -t -f %s
//! ```

use crate::args::{Flag, Mode};
use crate::fsutil;
use crate::lines::Lines;
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::pyregex::{Flags, PyRegex, Replacement};
use crate::{Host, Plan, Read};
use schemars::JsonSchema;
use serde::Deserialize;

/// Whether the line should be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LineState {
    /// The line is in the file.
    #[default]
    Present,
    /// No line matches (`regexp`, `search_string`, or exactly `line`).
    Absent,
}

/// Arguments of `lineinfile`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LineinfileArgs {
    /// The file to edit.
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    pub path: String,
    /// The line to put in the file (without newline). With `backrefs`, `\1` and
    /// `\g<name>` are replaced by the groups `regexp` captured.
    #[serde(alias = "value")]
    pub line: Option<String>,
    /// A regular expression: the last line it matches is replaced by `line`
    /// (`state: present`), or every line it matches is removed (`state: absent`).
    #[serde(alias = "regex")]
    pub regexp: Option<String>,
    /// A literal string, used like `regexp` (a line containing it matches).
    pub search_string: Option<String>,
    /// Whether the line should be there.
    #[serde(default)]
    pub state: LineState,
    /// Where to add the line when nothing matches: after the last line matching this
    /// regular expression, or `EOF` (the default) or `BOF`.
    pub insertafter: Option<String>,
    /// Where to add the line when nothing matches: before the last line matching this
    /// regular expression, or `BOF`.
    pub insertbefore: Option<String>,
    /// Create the file when it does not exist (otherwise that is an error).
    #[serde(default)]
    pub create: Flag,
    /// Use `regexp`'s groups in `line`; when `regexp` matches nothing, change nothing.
    #[serde(default)]
    pub backrefs: Flag,
    /// Use the first match of `regexp` or `insertafter`/`insertbefore` instead of the last.
    #[serde(default)]
    pub firstmatch: Flag,
    /// Keep the old file as `PATH.TIMESTAMP~` when changing it.
    #[serde(default)]
    pub backup: Flag,
    /// A command that must accept the edited file before it replaces the old one; `%s`
    /// is its path.
    pub validate: Option<String>,
    /// Permission bits, e.g. `"0644"` or symbolic `u=rw,g=r,o=r` (applied to the current bits).
    pub mode: Option<Mode>,
    /// Owner, by name or numeric id.
    pub owner: Option<String>,
    /// Group, by name or numeric id.
    pub group: Option<String>,
    /// Accepted for Ansible's sake: the file is edited where a link points either way.
    #[serde(default = "crate::command::yes")]
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
}

/// The `lineinfile` module.
pub struct Lineinfile;

impl TypedModule for Lineinfile {
    type Args = LineinfileArgs;
    const NAME: &'static str = "lineinfile";
    const SUMMARY: &'static str =
        "Make sure a line is in a text file, or that matching lines are not";
    const EXAMPLES: &'static str = "- lineinfile:\n    path: /etc/ssh/sshd_config\n    regexp: '^#?PermitRootLogin '\n    line: PermitRootLogin prohibit-password\n    validate: sshd -t -f %s\n\n- lineinfile:\n    path: /etc/hosts\n    line: \"fd00::1 router\"\n\n- lineinfile:\n    path: /etc/default/grub\n    regexp: '^(GRUB_CMDLINE_LINUX=\".*)\"$'\n    line: '\\1 ipv6.disable=0\"'\n    backrefs: yes\n\n- lineinfile:\n    path: /etc/sudoers\n    regexp: '^%wheel'\n    state: absent\n";
    const USES_FACTS: bool = false;

    fn reads(args: &LineinfileArgs) -> Vec<Read> {
        vec![Read::StatAndRead(args.path.clone())]
    }

    fn check(args: &LineinfileArgs) -> Result<(), ArgsError> {
        Edit::compile(args).map(|_| ())
    }

    fn plan(args: LineinfileArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let edit = Edit::compile(&args)?;
        let spec = fsutil::TextEdit {
            module: Self::NAME,
            path: &args.path,
            create: args.create.0,
            removing: args.state == LineState::Absent,
            mode: args.mode.as_ref(),
            owner: args.owner.as_ref(),
            group: args.group.as_ref(),
            validate: args.validate.clone(),
            backup: args.backup.0,
        };
        fsutil::plan_text_edit(host, spec, |text| edit.apply(text))
    }
}

/// The file's text after the edit `args` describe (Ansible's `lineinfile` rules, keeping
/// line endings). Fails only on arguments that do not make sense (see the module's checks).
pub fn edit_lines(text: &str, args: &LineinfileArgs) -> Result<String, ArgsError> {
    Ok(Edit::compile(args)?.apply(text))
}

/// Where a new line goes when nothing matches.
enum Insert {
    Eof,
    Bof,
    After(PyRegex),
    Before(PyRegex),
}

/// How lines are matched.
enum Matcher {
    /// The pattern, and `line` parsed as its replacement template when `backrefs` is on.
    Regexp(Box<PyRegex>, Option<Replacement>),
    Search(String),
    None,
}

/// The arguments, checked and compiled.
struct Edit {
    line: Option<String>,
    matcher: Matcher,
    insert: Insert,
    present: bool,
    backrefs: bool,
    firstmatch: bool,
}

fn compile(argument: &str, pattern: &str) -> Result<PyRegex, ArgsError> {
    PyRegex::new(pattern, Flags::default()).map_err(|error| {
        let reason = error
            .reason()
            .lines()
            .last()
            .unwrap_or("invalid pattern")
            .trim()
            .to_string();
        ArgsError::new(
            Some(argument),
            format!("`{argument}` is not a valid regular expression: {reason}"),
        )
        .with_hint("patterns use Python's `re` syntax, as in Ansible")
    })
}

/// Python's `re.search` on one line. A pattern that exceeds the backtracking limit on a line
/// counts as not matching it.
fn search(regex: &PyRegex, text: &str) -> bool {
    matches!(regex.search(text), Ok(Some(_)))
}

impl Edit {
    fn compile(args: &LineinfileArgs) -> Result<Edit, ArgsError> {
        let present = args.state == LineState::Present;
        if args.path.is_empty() {
            return Err(ArgsError::new(
                Some("path"),
                "`path` of module `lineinfile` is empty",
            ));
        }
        if args.regexp.is_some() && args.search_string.is_some() {
            return Err(ArgsError::new(
                Some("search_string"),
                "`regexp` and `search_string` are mutually exclusive in module `lineinfile`",
            ));
        }
        if args.insertafter.is_some() && args.insertbefore.is_some() {
            return Err(ArgsError::new(
                Some("insertbefore"),
                "`insertafter` and `insertbefore` are mutually exclusive in module `lineinfile`",
            ));
        }
        if present && args.line.is_none() {
            return Err(ArgsError::new(
                Some("line"),
                "`state: present` needs `line`",
            ));
        }
        if !present && args.line.is_none() && args.regexp.is_none() && args.search_string.is_none()
        {
            return Err(ArgsError::new(
                Some("state"),
                "`state: absent` needs `line`, `regexp` or `search_string`",
            ));
        }
        if args.backrefs.0 && args.search_string.is_some() {
            return Err(ArgsError::new(
                Some("backrefs"),
                "`backrefs` does not work with `search_string`",
            )
            .with_hint("use `regexp` with groups"));
        }
        if args.backrefs.0 && args.regexp.is_none() {
            return Err(ArgsError::new(
                Some("backrefs"),
                "`backrefs` needs `regexp`",
            ));
        }
        fsutil::check_attributes("lineinfile", args.attributes.as_ref())?;
        fsutil::check_validate("lineinfile", args.validate.as_ref())?;
        let matcher = match (&args.regexp, &args.search_string) {
            (Some(pattern), _) => {
                let regex = compile("regexp", pattern)?;
                let replacement = match (args.backrefs.0, &args.line) {
                    (true, Some(line)) => Some(regex.replacement(line).map_err(|error| {
                        ArgsError::new(
                            Some("line"),
                            format!(
                                "`line` does not fit `regexp` for `backrefs`: {}",
                                error.reason()
                            ),
                        )
                        .with_hint("refer to groups of `regexp` as `\\1` or `\\g<name>`")
                    })?),
                    _ => None,
                };
                Matcher::Regexp(Box::new(regex), replacement)
            }
            (None, Some(text)) => Matcher::Search(text.clone()),
            (None, None) => Matcher::None,
        };
        let insert = match (args.insertafter.as_deref(), args.insertbefore.as_deref()) {
            (Some("BOF"), _) | (_, Some("BOF")) => Insert::Bof,
            (Some("EOF"), _) | (None, None) => Insert::Eof,
            (Some(pattern), _) => Insert::After(compile("insertafter", pattern)?),
            (None, Some(pattern)) => Insert::Before(compile("insertbefore", pattern)?),
        };
        Ok(Edit {
            line: args.line.clone(),
            matcher,
            insert,
            present,
            backrefs: args.backrefs.0,
            firstmatch: args.firstmatch.0,
        })
    }

    fn matches(&self, text: &str) -> bool {
        match &self.matcher {
            Matcher::Regexp(regex, _) => search(regex, text),
            Matcher::Search(needle) => text.contains(needle.as_str()),
            Matcher::None => false,
        }
    }

    fn apply(&self, text: &str) -> String {
        let mut lines = Lines::parse(text);
        if self.present {
            self.present(&mut lines);
        } else {
            self.absent(&mut lines);
        }
        lines.render()
    }

    fn absent(&self, lines: &mut Lines) {
        let mut index = 0;
        while index < lines.len() {
            let text = lines.text(index);
            let hit = match &self.matcher {
                Matcher::None => self.line.as_deref() == Some(text),
                _ => self.matches(text),
            };
            if hit {
                lines.remove(index..index + 1);
            } else {
                index += 1;
            }
        }
    }

    fn present(&self, lines: &mut Lines) {
        let line = self.line.as_deref().unwrap_or_default();
        // 1. A line matching `regexp`/`search_string`: the last one, or the first.
        let mut found = None;
        for index in 0..lines.len() {
            if self.matches(lines.text(index)) {
                found = Some(index);
                if self.firstmatch {
                    break;
                }
            }
        }
        let matched = found.is_some();
        // 2. Otherwise the line itself anywhere, and where to insert it.
        let mut insert_at = None;
        if !matched {
            for index in 0..lines.len() {
                let text = lines.text(index);
                if text == line {
                    found = Some(index);
                } else {
                    let position = match &self.insert {
                        Insert::After(regex) if search(regex, text) => Some(index + 1),
                        Insert::Before(regex) if search(regex, text) => Some(index),
                        _ => None,
                    };
                    if position.is_some() {
                        insert_at = position;
                        if self.firstmatch {
                            break;
                        }
                    }
                }
            }
        }
        if let Some(index) = found {
            let new = match (&self.matcher, self.backrefs && matched) {
                (Matcher::Regexp(regex, Some(replacement)), true) => {
                    match regex.search(lines.text(index)) {
                        Ok(Some(found)) => replacement.expand(&found),
                        _ => line.to_string(),
                    }
                }
                _ => line.to_string(),
            };
            if lines.text(index) != new {
                lines.replace(index, &new);
            }
            return;
        }
        if self.backrefs {
            // Without a match there is nothing to fill the groups with: Ansible changes nothing.
            return;
        }
        match (&self.insert, insert_at) {
            (Insert::Bof, _) => lines.insert(0, line),
            (Insert::Eof, _) | (_, None) => lines.insert(lines.len(), line),
            (Insert::After(_), Some(at)) => {
                let neighbour = if at == lines.len() { at - 1 } else { at };
                if lines.text(neighbour) != line {
                    lines.insert(at, line);
                }
            }
            (Insert::Before(_), Some(at)) => lines.insert(at, line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(value: serde_json::Value) -> LineinfileArgs {
        let mut full = serde_json::json!({"path": "/etc/x"});
        if let (Some(map), Some(extra)) = (full.as_object_mut(), value.as_object()) {
            map.extend(extra.clone());
        }
        serde_json::from_value(full).unwrap()
    }

    fn edit(text: &str, value: serde_json::Value) -> String {
        edit_lines(text, &args(value)).unwrap()
    }

    #[test]
    fn replaces_the_last_match_or_the_first_with_firstmatch() {
        let text = "a=1\nb=2\na=3\n";
        assert_eq!(
            edit(text, serde_json::json!({"regexp": "^a=", "line": "a=9"})),
            "a=1\nb=2\na=9\n"
        );
        assert_eq!(
            edit(
                text,
                serde_json::json!({"regexp": "^a=", "line": "a=9", "firstmatch": true})
            ),
            "a=9\nb=2\na=3\n"
        );
    }

    #[test]
    fn appends_when_nothing_matches_and_keeps_missing_final_newline() {
        assert_eq!(
            edit("a\nb\n", serde_json::json!({"line": "c"})),
            "a\nb\nc\n"
        );
        assert_eq!(edit("a\nb", serde_json::json!({"line": "c"})), "a\nb\nc");
        assert_eq!(edit("", serde_json::json!({"line": "c"})), "c\n");
    }

    #[test]
    fn an_existing_identical_line_is_left_alone() {
        let text = "a\nc\nb";
        assert_eq!(
            edit(text, serde_json::json!({"line": "c", "insertafter": "^b"})),
            text
        );
        assert_eq!(edit(text, serde_json::json!({"line": "b"})), text);
    }

    #[test]
    fn crlf_files_stay_crlf() {
        assert_eq!(
            edit("a\r\nb\r\n", serde_json::json!({"line": "c"})),
            "a\r\nb\r\nc\r\n"
        );
        assert_eq!(
            edit(
                "a=1\r\nb=2\r\n",
                serde_json::json!({"regexp": "^a=1$", "line": "a=2"})
            ),
            "a=2\r\nb=2\r\n"
        );
    }

    #[test]
    fn insertafter_uses_the_last_match_and_insertbefore_too() {
        let text = "[a]\nx\n[a]\ny\n";
        assert_eq!(
            edit(
                text,
                serde_json::json!({"line": "new", "insertafter": "^\\[a\\]"})
            ),
            "[a]\nx\n[a]\nnew\ny\n"
        );
        assert_eq!(
            edit(
                text,
                serde_json::json!({"line": "new", "insertafter": "^\\[a\\]", "firstmatch": true})
            ),
            "[a]\nnew\nx\n[a]\ny\n"
        );
        assert_eq!(
            edit(
                text,
                serde_json::json!({"line": "new", "insertbefore": "^\\[a\\]"})
            ),
            "[a]\nx\nnew\n[a]\ny\n"
        );
        assert_eq!(
            edit(
                text,
                serde_json::json!({"line": "new", "insertbefore": "BOF"})
            ),
            format!("new\n{text}")
        );
        // No match for insertafter: the end of the file.
        assert_eq!(
            edit(
                "x\n",
                serde_json::json!({"line": "new", "insertafter": "^nope"})
            ),
            "x\nnew\n"
        );
    }

    #[test]
    fn insertafter_ignored_when_regexp_matches() {
        assert_eq!(
            edit(
                "a\nport=1\nb\n",
                serde_json::json!({"regexp": "^port=", "line": "port=2", "insertafter": "^b"})
            ),
            "a\nport=2\nb\n"
        );
    }

    #[test]
    fn backrefs_expand_groups_and_change_nothing_without_match() {
        let value = serde_json::json!({"regexp": "^(GRUB=\".*)\"$", "line": "\\1 ipv6\"", "backrefs": true});
        assert_eq!(
            edit("GRUB=\"quiet\"\n", value.clone()),
            "GRUB=\"quiet ipv6\"\n"
        );
        assert_eq!(edit("other\n", value), "other\n");
        let named =
            serde_json::json!({"regexp": "^(?P<k>\\w+)=", "line": "\\g<k>=on", "backrefs": true});
        assert_eq!(edit("x=off\n", named), "x=on\n");
    }

    #[test]
    fn absent_removes_every_match_and_keeps_conventions() {
        assert_eq!(
            edit(
                "a\nb\na\n",
                serde_json::json!({"line": "a", "state": "absent"})
            ),
            "b\n"
        );
        assert_eq!(
            edit(
                "a\nb",
                serde_json::json!({"regexp": "^b", "state": "absent"})
            ),
            "a"
        );
        assert_eq!(
            edit(
                "ab\ncd\n",
                serde_json::json!({"search_string": "b", "state": "absent"})
            ),
            "cd\n"
        );
    }

    #[test]
    fn search_string_is_literal() {
        assert_eq!(
            edit(
                "x.*y\nxzzy\n",
                serde_json::json!({"search_string": ".*", "line": "lit"})
            ),
            "lit\nxzzy\n"
        );
    }

    #[test]
    fn bad_arguments_are_reported() {
        let error = |value| edit_lines("", &args(value)).unwrap_err().message;
        assert!(error(serde_json::json!({"regexp": "(", "line": "x"}))
            .contains("`regexp` is not a valid"));
        assert!(
            error(serde_json::json!({"regexp": "^a", "backrefs": true})).contains("needs `line`")
        );
        assert!(
            error(serde_json::json!({"line": "x", "backrefs": true})).contains("needs `regexp`")
        );
        assert!(error(serde_json::json!({"state": "absent"})).contains("needs `line`, `regexp`"));
    }
}
