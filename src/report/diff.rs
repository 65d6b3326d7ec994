//! Unified diffs for changes, the way `git diff` shows them.

use converge_modules::{Change, ChangeDetail};
use similar::TextDiff;

/// Colours for diff lines; empty strings when colour is off.
#[derive(Debug, Clone, Copy)]
pub struct Palette {
    /// Added lines.
    pub added: &'static str,
    /// Removed lines.
    pub removed: &'static str,
    /// Hunk headers.
    pub hunk: &'static str,
    /// Back to normal.
    pub reset: &'static str,
}

impl Palette {
    /// ANSI colours.
    pub const COLOUR: Palette = Palette {
        added: "\x1b[32m",
        removed: "\x1b[31m",
        hunk: "\x1b[36m",
        reset: "\x1b[0m",
    };
    /// No colour.
    pub const PLAIN: Palette = Palette {
        added: "",
        removed: "",
        hunk: "",
        reset: "",
    };
}

/// The one-line summary of a change: `/etc/motd: content`, `net.ipv6…: 1 → 2`.
pub fn summary(change: &Change) -> String {
    match &change.detail {
        ChangeDetail::Content { before: None, .. } => format!("{}: created", change.subject),
        ChangeDetail::Content { after: None, .. } => format!("{}: removed", change.subject),
        ChangeDetail::Content { .. } => format!("{}: content changed", change.subject),
        ChangeDetail::Value { before, after }
            if before.as_deref().is_some_and(|b| b.contains('\n'))
                || after.as_deref().is_some_and(|a| a.contains('\n')) =>
        {
            // Several lines: before and after as an indented block, one line each.
            let mut text = format!("{}:", change.subject);
            for (sign, value) in [("-", before), ("+", after)] {
                match value {
                    Some(value) => {
                        for line in value.lines() {
                            text.push_str(&format!("\n  {sign} {line}"));
                        }
                    }
                    None => text.push_str(&format!("\n  {sign} (absent)")),
                }
            }
            text
        }
        ChangeDetail::Value { before, after } => format!(
            "{}: {} → {}",
            change.subject,
            before.as_deref().unwrap_or("absent"),
            after.as_deref().unwrap_or("absent")
        ),
        ChangeDetail::Note(note) => format!("{}: {}", change.subject, note),
        ChangeDetail::Hidden(why) => format!("{}: changed ({why})", change.subject),
    }
}

/// A unified diff of a content change (empty for other kinds of change).
pub fn unified(change: &Change, palette: Palette) -> String {
    let ChangeDetail::Content { before, after } = &change.detail else {
        return String::new();
    };
    let old = before.as_deref().unwrap_or("");
    let new = after.as_deref().unwrap_or("");
    let old_name = if before.is_some() {
        format!("a{}", change.subject)
    } else {
        "/dev/null".to_string()
    };
    let new_name = if after.is_some() {
        format!("b{}", change.subject)
    } else {
        "/dev/null".to_string()
    };
    let diff = TextDiff::from_lines(old, new);
    let mut out = format!("--- {old_name}\n+++ {new_name}\n");
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        out.push_str(&format!(
            "{}{}{}\n",
            palette.hunk,
            hunk.header(),
            palette.reset
        ));
        for line in hunk.iter_changes() {
            let (sign, colour) = match line.tag() {
                similar::ChangeTag::Delete => ('-', palette.removed),
                similar::ChangeTag::Insert => ('+', palette.added),
                similar::ChangeTag::Equal => (' ', ""),
            };
            let text = line.value();
            let reset = if colour.is_empty() { "" } else { palette.reset };
            out.push_str(&format!(
                "{colour}{sign}{}{reset}\n",
                text.trim_end_matches('\n')
            ));
            if line.missing_newline() {
                out.push_str("\\ No newline at end of file\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_value_of_several_lines_is_an_indented_block() {
        let change = Change::value(
            "/etc/mail/sendmail.cf DaemonPortOptions",
            Some("O DaemonPortOptions=Name=MTA".into()),
            Some("O DaemonPortOptions=Port=smtp, Name=MTA\nO DaemonPortOptions=Port=submission, Name=MSA6, Family=inet6, M=Ea".into()),
        );
        assert_eq!(
            summary(&change),
            "/etc/mail/sendmail.cf DaemonPortOptions:\n  - O DaemonPortOptions=Name=MTA\n  + O DaemonPortOptions=Port=smtp, Name=MTA\n  + O DaemonPortOptions=Port=submission, Name=MSA6, Family=inet6, M=Ea"
        );
        let one_line = Change::value("k", Some("1".into()), Some("2".into()));
        assert_eq!(summary(&one_line), "k: 1 → 2");
    }

    use super::*;

    #[test]
    fn diff_of_changed_file_looks_like_git() {
        let change = Change::content(
            "/etc/motd",
            Some("hello\nold\n".into()),
            Some("hello\nnew\n".into()),
        );
        assert_eq!(
            unified(&change, Palette::PLAIN),
            "--- a/etc/motd\n+++ b/etc/motd\n@@ -1,2 +1,2 @@\n hello\n-old\n+new\n"
        );
    }

    #[test]
    fn diff_of_new_file_is_against_dev_null() {
        let change = Change::content("/etc/x", None, Some("a".into()));
        assert_eq!(
            unified(&change, Palette::PLAIN),
            "--- /dev/null\n+++ b/etc/x\n@@ -0,0 +1 @@\n+a\n\\ No newline at end of file\n"
        );
    }

    #[test]
    fn value_summary_shows_arrow() {
        let change = Change::value("mode", Some("0644".into()), Some("0600".into()));
        assert_eq!(summary(&change), "mode: 0644 → 0600");
    }
}
