//! `--format json`: one JSON object per line on stdout, for CI systems and scripts.
//!
//! Events: `play_start`, `task_start`, `task_result` (with the changes and their unified
//! diffs), `warning`, `recap`. Each line is written whole, so parallel hosts never
//! interleave inside a line.

use super::diff::{self, Palette};
use super::{HostStats, Reporter, Status, TaskReport};
use converge_modules::ChangeDetail;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::sync::Mutex;

/// Writes events as JSON lines.
pub struct JsonLines {
    out: Mutex<Box<dyn Write + Send>>,
}

impl JsonLines {
    /// Events on stdout.
    pub fn stdout() -> Self {
        JsonLines {
            out: Mutex::new(Box::new(std::io::stdout())),
        }
    }

    /// Events into any writer (tests).
    pub fn to_writer(out: Box<dyn Write + Send>) -> Self {
        JsonLines {
            out: Mutex::new(out),
        }
    }

    fn emit(&self, event: Value) {
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{event}");
            let _ = out.flush();
        }
    }
}

/// The status as a word (`ok`, `changed`, `skipped`, `failed`, `unreachable`).
pub fn status_word(status: Status) -> &'static str {
    match status {
        Status::Ok => "ok",
        Status::Changed => "changed",
        Status::Skipped => "skipped",
        Status::Failed => "failed",
        Status::Unreachable => "unreachable",
    }
}

/// One task result as the JSON event.
pub fn task_event(report: &TaskReport) -> Value {
    let changes: Vec<Value> = if report.no_log {
        Vec::new()
    } else {
        report
            .changes
            .iter()
            .map(|change| {
                let mut entry = Map::new();
                entry.insert("subject".into(), json!(change.subject));
                entry.insert("summary".into(), json!(diff::summary(change)));
                match &change.detail {
                    ChangeDetail::Content { before, after } => {
                        entry.insert("kind".into(), json!("content"));
                        entry.insert("before".into(), json!(before));
                        entry.insert("after".into(), json!(after));
                        entry.insert("diff".into(), json!(diff::unified(change, Palette::PLAIN)));
                    }
                    ChangeDetail::Value { before, after } => {
                        entry.insert("kind".into(), json!("value"));
                        entry.insert("before".into(), json!(before));
                        entry.insert("after".into(), json!(after));
                    }
                    ChangeDetail::Note(note) => {
                        entry.insert("kind".into(), json!("note"));
                        entry.insert("note".into(), json!(note));
                    }
                    ChangeDetail::Hidden(why) => {
                        entry.insert("kind".into(), json!("hidden"));
                        entry.insert("note".into(), json!(why));
                    }
                }
                Value::Object(entry)
            })
            .collect()
    };
    json!({
        "event": "task_result",
        "host": report.host,
        "task": report.task,
        "item": report.item,
        "status": status_word(report.status),
        "changed": report.status == Status::Changed,
        "ignored": report.ignored,
        "message": if report.no_log { None } else { report.message.clone() },
        "changes": changes,
    })
}

impl Reporter for JsonLines {
    fn play_start(&self, name: &str, hosts: usize, check: bool) {
        self.emit(json!({"event": "play_start", "play": name, "hosts": hosts, "check": check}));
    }

    fn task_start(&self, host: &str, task: &str) {
        self.emit(json!({"event": "task_start", "host": host, "task": task}));
    }

    fn task(&self, report: &TaskReport) {
        self.emit(task_event(report));
    }

    fn warning(&self, message: &str) {
        self.emit(json!({"event": "warning", "message": message}));
    }

    fn interrupted(&self, busy: &[(String, String)], cleanup: &[(String, Result<usize, String>)]) {
        let hosts: Vec<Value> = busy
            .iter()
            .map(|(host, task)| json!({"host": host, "task": task}))
            .collect();
        let cleaned: Vec<Value> = cleanup
            .iter()
            .map(|(host, result)| match result {
                Ok(writes) => {
                    json!({"host": host, "cleaned": true, "temp_files_of_writes": writes})
                }
                Err(reason) => json!({"host": host, "cleaned": false, "error": reason}),
            })
            .collect();
        self.emit(json!({"event": "interrupted", "in_progress": hosts, "cleanup": cleaned}));
    }

    fn recap(&self, stats: &[(String, HostStats)]) {
        let hosts: Map<String, Value> = stats
            .iter()
            .map(|(host, s)| {
                (
                    host.clone(),
                    json!({
                        "ok": s.ok, "changed": s.changed, "unreachable": s.unreachable,
                        "failed": s.failed, "skipped": s.skipped, "rescued": s.rescued,
                        "ignored": s.ignored, "channels": s.channels, "requests": s.requests,
                        "answered_ahead": s.answered_ahead,
                    }),
                )
            })
            .collect();
        self.emit(json!({"event": "recap", "hosts": hosts}));
    }
}
