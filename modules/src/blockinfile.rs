//! `blockinfile`: keep a block of lines between marker lines in a text file.
//!
//! Converges one file's content (the marked block) plus its mode and ownership. Reads the
//! file (one stat, one read); the edit is the pure function [`edit_block`]. The rules are
//! Ansible's, with Ansible's default markers so that files it managed carry over: an
//! existing block (both markers present) is replaced in place; otherwise the block goes
//! after the last line matching `insertafter` (default: the end) or before the last line
//! matching `insertbefore` (or at the top for `BOF`); an empty `block` or `state: absent`
//! removes the block with its markers. Idempotence: planning after applying finds the same
//! block and changes nothing.
//!
//! Differences from Ansible, to keep files as they are: lines keep their own endings (a CRLF
//! file stays CRLF), a file without a final newline still has none, and markers match with
//! or without a line ending. Patterns (`insertafter`, `insertbefore`) are Python's, as in Ansible.
//!
//! ```yaml
//! - blockinfile:
//!     path: /etc/hosts
//!     marker: "# {mark} lab hosts"
//!     block: |
//!       fd00::10 lab-router
//!       fd00::11 lab-client
//! ```

use crate::args::{Flag, Mode};
use crate::fsutil;
use crate::lines::Lines;
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::pyregex::{Flags, PyRegex};
use crate::{Host, Plan, Read};
use schemars::JsonSchema;
use serde::Deserialize;

/// Whether the block should be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BlockState {
    /// The block is in the file, between its markers.
    #[default]
    Present,
    /// The block and its markers are not.
    Absent,
}

fn default_marker() -> String {
    "# {mark} ANSIBLE MANAGED BLOCK".into()
}

fn default_begin() -> String {
    "BEGIN".into()
}

fn default_end() -> String {
    "END".into()
}

/// Arguments of `blockinfile`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BlockinfileArgs {
    /// The file to edit.
    #[serde(alias = "dest", alias = "destfile", alias = "name")]
    pub path: String,
    /// The lines to keep between the markers; empty removes the block.
    #[serde(default, alias = "content")]
    pub block: String,
    /// The marker line template; `{mark}` becomes `marker_begin` or `marker_end`. Use a
    /// different marker for each block in one file.
    #[serde(default = "default_marker")]
    pub marker: String,
    /// What `{mark}` becomes in the first marker.
    #[serde(default = "default_begin")]
    pub marker_begin: String,
    /// What `{mark}` becomes in the last marker.
    #[serde(default = "default_end")]
    pub marker_end: String,
    /// Whether the block should be there.
    #[serde(default)]
    pub state: BlockState,
    /// For a new block: after the last line matching this regular expression, or `EOF`
    /// (the default).
    pub insertafter: Option<String>,
    /// For a new block: before the last line matching this regular expression, or `BOF`.
    pub insertbefore: Option<String>,
    /// Create the file when it does not exist (otherwise that is an error).
    #[serde(default)]
    pub create: Flag,
    /// Keep the old file as `PATH.TIMESTAMP~` when changing it.
    #[serde(default)]
    pub backup: Flag,
    /// A command that must accept the edited file before it replaces the old one; `%s` is
    /// its path.
    pub validate: Option<String>,
    /// Put a blank line before the block unless it is at the top or one is there.
    #[serde(default)]
    pub prepend_newline: Flag,
    /// Put a blank line after the block unless it is at the end or one is there.
    #[serde(default)]
    pub append_newline: Flag,
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

/// The `blockinfile` module.
pub struct Blockinfile;

impl TypedModule for Blockinfile {
    type Args = BlockinfileArgs;
    const NAME: &'static str = "blockinfile";
    const SUMMARY: &'static str = "Keep a block of lines between marker lines in a text file";
    const EXAMPLES: &'static str = "- blockinfile:\n    path: /etc/hosts\n    marker: \"# {mark} lab hosts\"\n    block: |\n      fd00::10 lab-router\n      fd00::11 lab-client\n\n- blockinfile:\n    path: /etc/network/interfaces\n    insertafter: '^iface eth0 inet6'\n    block: |\n      \\  accept_ra 2\n\n- blockinfile:\n    path: /etc/hosts\n    marker: \"# {mark} lab hosts\"\n    state: absent\n";
    const USES_FACTS: bool = false;

    fn reads(args: &BlockinfileArgs) -> Vec<Read> {
        vec![Read::StatAndRead(args.path.clone())]
    }

    fn check(args: &BlockinfileArgs) -> Result<(), ArgsError> {
        BlockEdit::compile(args).map(|_| ())
    }

    fn plan(args: BlockinfileArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let edit = BlockEdit::compile(&args)?;
        let spec = fsutil::TextEdit {
            module: Self::NAME,
            path: &args.path,
            create: args.create.0,
            removing: args.state == BlockState::Absent,
            mode: args.mode.as_ref(),
            owner: args.owner.as_ref(),
            group: args.group.as_ref(),
            validate: args.validate.clone(),
            backup: args.backup.0,
        };
        fsutil::plan_text_edit(host, spec, |text| edit.apply(text))
    }
}

/// The file's text after putting (or removing) the block `args` describe, with Ansible's
/// `blockinfile` rules and the file's own line endings.
pub fn edit_block(text: &str, args: &BlockinfileArgs) -> Result<String, ArgsError> {
    Ok(BlockEdit::compile(args)?.apply(text))
}

enum Position {
    Eof,
    Bof,
    After(PyRegex),
    Before(PyRegex),
}

struct BlockEdit {
    begin: String,
    end: String,
    block: Vec<String>,
    present: bool,
    position: Position,
    prepend_newline: bool,
    append_newline: bool,
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

impl BlockEdit {
    fn compile(args: &BlockinfileArgs) -> Result<BlockEdit, ArgsError> {
        if args.path.is_empty() {
            return Err(ArgsError::new(
                Some("path"),
                "`path` of module `blockinfile` is empty",
            ));
        }
        if args.insertafter.is_some() && args.insertbefore.is_some() {
            return Err(ArgsError::new(
                Some("insertbefore"),
                "`insertafter` and `insertbefore` are mutually exclusive in module `blockinfile`",
            ));
        }
        let begin = args.marker.replace("{mark}", &args.marker_begin);
        let end = args.marker.replace("{mark}", &args.marker_end);
        if begin == end {
            return Err(ArgsError::new(
                Some("marker"),
                format!("the begin and end markers are both `{begin}`"),
            )
            .with_hint(
                "put `{mark}` in `marker`, or make `marker_begin` and `marker_end` differ",
            ));
        }
        fsutil::check_attributes("blockinfile", args.attributes.as_ref())?;
        fsutil::check_validate("blockinfile", args.validate.as_ref())?;
        let position = match (args.insertafter.as_deref(), args.insertbefore.as_deref()) {
            (Some("EOF"), _) | (None, None) => Position::Eof,
            (_, Some("BOF")) => Position::Bof,
            (Some(pattern), _) => Position::After(compile("insertafter", pattern)?),
            (None, Some(pattern)) => Position::Before(compile("insertbefore", pattern)?),
        };
        let body = args
            .block
            .strip_suffix('\n')
            .map(|b| b.strip_suffix('\r').unwrap_or(b))
            .unwrap_or(&args.block);
        let block = if args.block.is_empty() {
            Vec::new()
        } else {
            body.split('\n')
                .map(|line| line.strip_suffix('\r').unwrap_or(line).to_string())
                .collect()
        };
        Ok(BlockEdit {
            begin,
            end,
            block,
            present: args.state == BlockState::Present,
            position,
            prepend_newline: args.prepend_newline.0,
            append_newline: args.append_newline.0,
        })
    }

    fn apply(&self, text: &str) -> String {
        let mut lines = Lines::parse(text);
        let mut new_lines: Vec<&str> = Vec::new();
        if self.present && !self.block.is_empty() {
            new_lines.push(&self.begin);
            new_lines.extend(self.block.iter().map(String::as_str));
            new_lines.push(&self.end);
        }
        let (mut first, mut last) = (None, None);
        for index in 0..lines.len() {
            if lines.text(index) == self.begin {
                first = Some(index);
            }
            if lines.text(index) == self.end {
                last = Some(index);
            }
        }
        let mut at = match (first, last) {
            (Some(begin), Some(end)) => {
                let (from, to) = (begin.min(end), begin.max(end));
                lines.remove(from..to + 1);
                from
            }
            _ => match &self.position {
                Position::Eof => lines.len(),
                Position::Bof => 0,
                Position::After(regex) | Position::Before(regex) => {
                    let hit = (0..lines.len())
                        .rev()
                        .find(|&i| matches!(regex.search(lines.text(i)), Ok(Some(_))));
                    match (hit, &self.position) {
                        (None, _) => lines.len(),
                        (Some(i), Position::After(_)) => i + 1,
                        (Some(i), _) => i,
                    }
                }
            },
        };
        if self.present && self.prepend_newline && at != 0 && !lines.text(at - 1).is_empty() {
            lines.insert(at, "");
            at += 1;
        }
        for (offset, line) in new_lines.iter().enumerate() {
            lines.insert(at + offset, line);
        }
        let after = at + new_lines.len();
        if self.present
            && self.append_newline
            && after < lines.len()
            && !lines.text(after).is_empty()
        {
            lines.insert(after, "");
        }
        lines.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(value: serde_json::Value) -> BlockinfileArgs {
        let mut full = serde_json::json!({"path": "/etc/x"});
        if let (Some(map), Some(extra)) = (full.as_object_mut(), value.as_object()) {
            map.extend(extra.clone());
        }
        serde_json::from_value(full).unwrap()
    }

    fn edit(text: &str, value: serde_json::Value) -> String {
        edit_block(text, &args(value)).unwrap()
    }

    const BEGIN: &str = "# BEGIN ANSIBLE MANAGED BLOCK";
    const END: &str = "# END ANSIBLE MANAGED BLOCK";

    #[test]
    fn appends_a_new_block_with_ansible_markers() {
        assert_eq!(
            edit("a\n", serde_json::json!({"block": "x\ny\n"})),
            format!("a\n{BEGIN}\nx\ny\n{END}\n")
        );
        assert_eq!(
            edit("", serde_json::json!({"block": "x"})),
            format!("{BEGIN}\nx\n{END}\n")
        );
    }

    #[test]
    fn replaces_an_existing_block_with_different_content_in_place() {
        let text = format!("a\n{BEGIN}\nold\nolder\n{END}\nb\n");
        assert_eq!(
            edit(
                &text,
                serde_json::json!({"block": "new\n", "insertbefore": "BOF"})
            ),
            format!("a\n{BEGIN}\nnew\n{END}\nb\n")
        );
    }

    #[test]
    fn same_block_is_no_change() {
        let text = format!("a\n{BEGIN}\nx\n{END}\nb");
        assert_eq!(edit(&text, serde_json::json!({"block": "x\n"})), text);
    }

    #[test]
    fn no_final_newline_and_crlf_are_kept() {
        assert_eq!(
            edit("a", serde_json::json!({"block": "x"})),
            format!("a\n{BEGIN}\nx\n{END}")
        );
        assert_eq!(
            edit("a\r\n", serde_json::json!({"block": "x\n"})),
            format!("a\r\n{BEGIN}\r\nx\r\n{END}\r\n")
        );
    }

    #[test]
    fn insert_positions_use_the_last_match() {
        let text = "[s]\n1\n[s]\n2\n";
        assert_eq!(
            edit(
                text,
                serde_json::json!({"block": "x", "insertafter": "^\\[s\\]"})
            ),
            format!("[s]\n1\n[s]\n{BEGIN}\nx\n{END}\n2\n")
        );
        assert_eq!(
            edit(
                text,
                serde_json::json!({"block": "x", "insertbefore": "^\\[s\\]"})
            ),
            format!("[s]\n1\n{BEGIN}\nx\n{END}\n[s]\n2\n")
        );
        assert_eq!(
            edit(
                text,
                serde_json::json!({"block": "x", "insertbefore": "BOF"})
            ),
            format!("{BEGIN}\nx\n{END}\n{text}")
        );
    }

    #[test]
    fn absent_or_empty_block_removes_markers_too() {
        let text = format!("a\n{BEGIN}\nx\n{END}\nb\n");
        assert_eq!(
            edit(&text, serde_json::json!({"state": "absent"})),
            "a\nb\n"
        );
        assert_eq!(edit(&text, serde_json::json!({"block": ""})), "a\nb\n");
        assert_eq!(
            edit("a\nb\n", serde_json::json!({"state": "absent"})),
            "a\nb\n"
        );
    }

    #[test]
    fn custom_markers_and_blank_lines_around() {
        let value = serde_json::json!({
            "block": "x", "marker": "## {mark} lab", "marker_begin": "start", "marker_end": "stop",
            "insertafter": "^a", "prepend_newline": true, "append_newline": true
        });
        let once = edit("a\nb\n", value.clone());
        assert_eq!(once, "a\n\n## start lab\nx\n## stop lab\n\nb\n");
        assert_eq!(edit(&once, value), once);
    }

    #[test]
    fn bad_arguments_are_reported() {
        let error = |value| edit_block("", &args(value)).unwrap_err().message;
        assert!(
            error(serde_json::json!({"insertafter": "("})).contains("`insertafter` is not a valid")
        );
        assert!(error(serde_json::json!({"marker": "# managed"})).contains("markers are both"));
    }
}
