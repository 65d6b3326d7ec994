//! Text as lines that remember their endings, for `lineinfile` and `blockinfile`.
//!
//! Edits keep the file's conventions: a line that is kept keeps its own ending (CRLF stays
//! CRLF), new lines take the ending of the file's first line, and a file that did not end
//! with a newline still does not after lines are added or removed at its end.

/// One line: its text without the ending, and the ending it had (`""` for a last line
/// without newline, or a line this module added).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub text: String,
    end: &'static str,
}

/// A whole file as lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lines {
    pub items: Vec<Line>,
    eol: &'static str,
    trailing: bool,
}

impl Lines {
    /// Split `text` into lines, each remembering `\n`, `\r\n` or no ending.
    pub fn parse(text: &str) -> Self {
        let mut items = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            match rest.find('\n') {
                Some(at) => {
                    let (body, end) = match rest[..at].strip_suffix('\r') {
                        Some(body) => (body, "\r\n"),
                        None => (&rest[..at], "\n"),
                    };
                    items.push(Line {
                        text: body.to_string(),
                        end,
                    });
                    rest = &rest[at + 1..];
                }
                None => {
                    items.push(Line {
                        text: rest.to_string(),
                        end: "",
                    });
                    rest = "";
                }
            }
        }
        let eol = items
            .first()
            .map(|line| line.end)
            .filter(|end| !end.is_empty())
            .unwrap_or("\n");
        Lines {
            items,
            eol,
            trailing: text.is_empty() || text.ends_with('\n'),
        }
    }

    /// Number of lines.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The text of line `index` (without its ending).
    pub fn text(&self, index: usize) -> &str {
        &self.items[index].text
    }

    /// Insert a new line before `index` (`index == len()` appends).
    pub fn insert(&mut self, index: usize, text: &str) {
        self.items.insert(
            index,
            Line {
                text: text.to_string(),
                end: "",
            },
        );
    }

    /// Replace the text of line `index`, keeping its ending.
    pub fn replace(&mut self, index: usize, text: &str) {
        self.items[index].text = text.to_string();
    }

    /// Remove the lines in `range`.
    pub fn remove(&mut self, range: std::ops::Range<usize>) {
        self.items.drain(range);
    }

    /// The file again: kept lines with their endings, new ones with the file's.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let last = self.items.len().saturating_sub(1);
        for (index, line) in self.items.iter().enumerate() {
            out.push_str(&line.text);
            let end = if index < last || self.trailing {
                if line.end.is_empty() {
                    self.eol
                } else {
                    line.end
                }
            } else {
                ""
            };
            out.push_str(end);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Lines;

    #[test]
    fn round_trips_every_ending_convention() {
        for text in ["", "\n", "a", "a\n", "a\r\nb\r\n", "a\nb", "a\r\nb\n\nc"] {
            assert_eq!(Lines::parse(text).render(), text, "{text:?}");
        }
    }

    #[test]
    fn appended_line_keeps_missing_final_newline() {
        let mut lines = Lines::parse("a\nb");
        lines.insert(2, "c");
        assert_eq!(lines.render(), "a\nb\nc");
    }

    #[test]
    fn new_lines_take_crlf_from_the_file() {
        let mut lines = Lines::parse("a\r\nb\r\n");
        lines.insert(1, "x");
        lines.insert(3, "y");
        assert_eq!(lines.render(), "a\r\nx\r\nb\r\ny\r\n");
    }

    #[test]
    fn removing_the_last_line_keeps_missing_final_newline() {
        let mut lines = Lines::parse("a\nb");
        lines.remove(1..2);
        assert_eq!(lines.render(), "a");
    }
}
