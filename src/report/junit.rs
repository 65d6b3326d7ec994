//! `--junit FILE`: a JUnit XML report, one test case per host and task, written at the end.
//!
//! CI systems show a failed task as a failed test named after the task, grouped by host;
//! changes pending in `--check` are listed in the test case's output.

use super::{diff, HostStats, Reporter, Status, TaskReport};
use std::path::PathBuf;
use std::sync::Mutex;

struct Case {
    host: String,
    name: String,
    status: Status,
    ignored: bool,
    message: Option<String>,
    output: String,
}

/// Collects task results and writes the XML file when the recap arrives.
pub struct Junit {
    path: PathBuf,
    cases: Mutex<Vec<Case>>,
    error: Mutex<Option<String>>,
}

impl Junit {
    /// A report that will be written to `path`.
    pub fn new(path: PathBuf) -> Self {
        Junit {
            path,
            cases: Mutex::new(Vec::new()),
            error: Mutex::new(None),
        }
    }

    /// Why the file could not be written, if it could not.
    pub fn write_error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|e| e.clone())
    }
}

/// Escape text for XML attributes and content.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

fn render(cases: &[Case]) -> String {
    let mut hosts: Vec<&str> = Vec::new();
    for case in cases {
        if !hosts.contains(&case.host.as_str()) {
            hosts.push(&case.host);
        }
    }
    let failures = cases
        .iter()
        .filter(|c| matches!(c.status, Status::Failed | Status::Unreachable) && !c.ignored)
        .count();
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"converge\" tests=\"{}\" failures=\"{failures}\">\n",
        cases.len()
    );
    for host in hosts {
        let mine: Vec<&Case> = cases.iter().filter(|c| c.host == host).collect();
        let failed = mine
            .iter()
            .filter(|c| matches!(c.status, Status::Failed | Status::Unreachable) && !c.ignored)
            .count();
        let skipped = mine.iter().filter(|c| c.status == Status::Skipped).count();
        xml.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" skipped=\"{skipped}\">\n",
            escape(host),
            mine.len()
        ));
        for case in mine {
            xml.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\">\n",
                escape(&case.host),
                escape(&case.name)
            ));
            let message = case.message.as_deref().unwrap_or("");
            match case.status {
                Status::Failed | Status::Unreachable if !case.ignored => {
                    let kind = if case.status == Status::Failed {
                        "failed"
                    } else {
                        "unreachable"
                    };
                    xml.push_str(&format!(
                        "      <failure type=\"{kind}\" message=\"{}\">{}</failure>\n",
                        escape(message.lines().next().unwrap_or(kind)),
                        escape(message)
                    ));
                }
                Status::Skipped => xml.push_str("      <skipped/>\n"),
                _ => {}
            }
            if !case.output.is_empty() {
                xml.push_str(&format!(
                    "      <system-out>{}</system-out>\n",
                    escape(&case.output)
                ));
            }
            xml.push_str("    </testcase>\n");
        }
        xml.push_str("  </testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    xml
}

impl Reporter for Junit {
    fn play_start(&self, _name: &str, _hosts: usize, _check: bool) {}

    fn task(&self, report: &TaskReport) {
        let name = match &report.item {
            Some(item) => format!("{} (item={item})", report.task),
            None => report.task.to_string(),
        };
        let output = if report.no_log {
            String::new()
        } else {
            report
                .changes
                .iter()
                .map(|c| format!("{}\n", diff::summary(c)))
                .collect()
        };
        if let Ok(mut cases) = self.cases.lock() {
            cases.push(Case {
                host: report.host.to_string(),
                name,
                status: report.status,
                ignored: report.ignored,
                message: if report.no_log {
                    None
                } else {
                    report.message.clone()
                },
                output,
            });
        }
    }

    fn warning(&self, _message: &str) {}

    fn recap(&self, _stats: &[(String, HostStats)]) {
        let xml = match self.cases.lock() {
            Ok(cases) => render(&cases),
            Err(_) => return,
        };
        if let Err(error) = std::fs::write(&self.path, xml) {
            if let Ok(mut slot) = self.error.lock() {
                *slot = Some(format!("cannot write `{}`: {error}", self.path.display()));
            }
        }
    }
}
