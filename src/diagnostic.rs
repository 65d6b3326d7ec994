//! Errors a person can act on: message, place in a file with the offending line, and a hint.
//!
//! Every loader (inventory, playbook, roles, templates, arguments) reports through
//! [`Diagnostic`], so that all of them print the same way:
//!
//! ```text
//! error: unknown argument `sysctl_fiel` for module `sysctl`
//!   --> site.yml:12:7
//!    |
//! 12 |       sysctl_fiel: /etc/sysctl.d/90-converge.conf
//!    |       ^
//!    = hint: did you mean `sysctl_file`?
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A place in a source file (1-based line and column; 0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    /// The file, as the user named it (relative paths stay relative).
    pub file: Arc<PathBuf>,
    /// Line, 1-based.
    pub line: usize,
    /// Column, 1-based, in characters.
    pub column: usize,
}

impl Location {
    /// A location in `file`.
    pub fn new(file: Arc<PathBuf>, line: usize, column: usize) -> Self {
        Location { file, line, column }
    }

    /// The whole file, no line known.
    pub fn file(file: impl Into<PathBuf>) -> Self {
        Location {
            file: Arc::new(file.into()),
            line: 0,
            column: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Stops the run before any host is touched.
    Error,
    /// Printed; the run goes on.
    Warning,
}

/// One problem found in the user's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Lowercase, no trailing period, names in backticks.
    pub message: String,
    /// Where, when known.
    pub location: Option<Location>,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error with no location yet.
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            location: None,
            hint: None,
        }
    }

    /// A warning with no location yet.
    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    /// Attach a location.
    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    /// Attach a location only if there is none yet.
    pub fn at_if_unset(mut self, location: &Location) -> Self {
        if self.location.is_none() {
            self.location = Some(location.clone());
        }
        self
    }

    /// Attach a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Attach a hint if there is one.
    pub fn with_optional_hint(mut self, hint: Option<String>) -> Self {
        if hint.is_some() {
            self.hint = hint;
        }
        self
    }

    /// The full text: message, location with the offending line and caret, hint.
    pub fn render(&self) -> String {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!("{label}: {}\n", self.message);
        if let Some(location) = &self.location {
            out.push_str(&format!("  --> {location}\n"));
            if let Some(line_text) = source_line(&location.file, location.line) {
                let number = location.line.to_string();
                let pad = " ".repeat(number.len());
                let caret_pad: String = line_text
                    .chars()
                    .take(location.column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                out.push_str(&format!(
                    "{pad} |\n{number} | {line_text}\n{pad} | {caret_pad}^\n"
                ));
            }
        }
        if let Some(hint) = &self.hint {
            out.push_str(&format!("  = hint: {hint}\n"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.render().trim_end())
    }
}

impl std::error::Error for Diagnostic {}

fn source_line(file: &Path, line: usize) -> Option<String> {
    if line == 0 {
        return None;
    }
    let text = std::fs::read(file).ok()?;
    let text = String::from_utf8_lossy(&text);
    text.lines()
        .nth(line - 1)
        .map(|l| l.chars().take(200).collect())
}

/// Several diagnostics collected before giving up, so the user sees every problem at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Record one.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    /// True when any is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| d.severity == Severity::Error)
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(diagnostic: Diagnostic) -> Self {
        Diagnostics(vec![diagnostic])
    }
}
