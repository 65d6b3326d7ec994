//! What the user sees: task results with diffs, warnings, and the recap.
//!
//! Hosts run in parallel, so every event is formatted first and written with one call:
//! lines from two hosts never interleave. Human output goes to stderr; stdout is kept for
//! data (`--list-hosts`, `--list-tasks`).

pub mod diff;
pub mod json;
pub mod junit;

use converge_modules::Change;
use diff::Palette;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// How a task ended on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Nothing to change.
    Ok,
    /// Changed (or, in check mode, would change).
    Changed,
    /// Not run (`when` false, check mode cannot tell, `creates` exists…).
    Skipped,
    /// Failed.
    Failed,
    /// The host could not be reached.
    Unreachable,
}

/// One task's result on one host.
#[derive(Debug, Clone)]
pub struct TaskReport<'a> {
    /// Inventory name.
    pub host: &'a str,
    /// Task name (or module name when unnamed).
    pub task: &'a str,
    /// The loop item's label, when the task loops.
    pub item: Option<String>,
    /// How it ended.
    pub status: Status,
    /// What changed or would change; empty when hidden by `no_log`.
    pub changes: &'a [Change],
    /// A message (failure reason, `debug` output, skip reason).
    pub message: Option<String>,
    /// The failure was ignored (`ignore_errors`).
    pub ignored: bool,
    /// `no_log: true`: arguments, results and diffs are withheld.
    pub no_log: bool,
}

/// Per-host counts for the recap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Tasks that found nothing to change.
    pub ok: u32,
    /// Tasks that changed something.
    pub changed: u32,
    /// 1 when the host could not be reached.
    pub unreachable: u32,
    /// Tasks that failed (not ignored, not rescued).
    pub failed: u32,
    /// Tasks skipped.
    pub skipped: u32,
    /// Failures handled by a `rescue` section.
    pub rescued: u32,
    /// Failures ignored by `ignore_errors`.
    pub ignored: u32,
    /// SSH exec channels the host's connection opened (one long-lived shell each); 0 for a
    /// local connection.
    pub channels: u64,
    /// Requests sent over those shells (commands, reads, writes, the run lock).
    pub requests: u64,
    /// Reads a plan made that were answered by a request that made them ahead.
    pub answered_ahead: u64,
}

/// Where reports go. Implementations must be callable from many host threads at once.
pub trait Reporter: Send + Sync {
    /// A play starts on `hosts` hosts.
    fn play_start(&self, name: &str, hosts: usize, check: bool);
    /// A task finished on a host.
    fn task(&self, report: &TaskReport);
    /// A task starts on a host (drives the progress bar).
    fn task_start(&self, _host: &str, _task: &str) {}
    /// A host finished the play (drives the progress bar).
    fn host_done(&self, _host: &str) {}
    /// Something the user should know.
    fn warning(&self, message: &str);
    /// Something only a user who asked for detail (`-v`) wants to know.
    fn note(&self, _message: &str) {}
    /// Ctrl-C stopped the run. `busy`: the hosts that were in the middle of a task, with the
    /// task; `cleanup`: the hosts whose connection was cut, with how many unfinished writes'
    /// temp files were removed there (the run lock then free), or why that failed.
    fn interrupted(&self, busy: &[(String, String)], cleanup: &[(String, Result<usize, String>)]) {
        let _ = (busy, cleanup);
    }
    /// The round trips a host's connection made, with each request's command (`-vv`).
    fn round_trips(&self, _host: &str, _stats: &HostStats, _commands: &[String]) {}
    /// The end of the run.
    fn recap(&self, stats: &[(String, HostStats)]);
    /// How long the run took, and its slowest host (after the recap).
    fn timing(&self, _elapsed: std::time::Duration, _slowest: Option<(&str, std::time::Duration)>) {
    }
}

/// Human-readable output on stderr.
pub struct Console {
    show_diff: bool,
    verbosity: u8,
    colour: bool,
    /// A progress bar per play, only when stderr is a terminal.
    interactive: bool,
    progress: Mutex<Option<indicatif::ProgressBar>>,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Console {
    /// Output on stderr; colour only on a terminal and when `NO_COLOR` is unset.
    pub fn stderr(show_diff: bool, verbosity: u8) -> Self {
        let interactive = std::io::stderr().is_terminal();
        let colour = interactive && std::env::var_os("NO_COLOR").is_none();
        Console {
            show_diff,
            verbosity,
            colour,
            interactive,
            progress: Mutex::new(None),
            out: Mutex::new(Box::new(std::io::stderr())),
        }
    }

    fn palette(&self) -> Palette {
        if self.colour {
            Palette::COLOUR
        } else {
            Palette::PLAIN
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.colour {
            format!("{code}{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    fn write(&self, text: &str) {
        let emit = || {
            if let Ok(mut out) = self.out.lock() {
                // Output is best effort: a closed stderr must not fail the run.
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
        };
        match self.bar() {
            // Lines go above the bar, whole, never through it.
            Some(bar) => bar.suspend(emit),
            None => emit(),
        }
    }

    fn bar(&self) -> Option<indicatif::ProgressBar> {
        self.progress.lock().ok().and_then(|bar| bar.clone())
    }

    fn finish_progress(&self) {
        if let Ok(mut progress) = self.progress.lock() {
            if let Some(bar) = progress.take() {
                bar.finish_and_clear();
            }
        }
    }
}

/// The text `Console` prints for one task (exposed for tests).
pub fn format_task(
    report: &TaskReport,
    show_diff: bool,
    verbosity: u8,
    palette: Palette,
) -> String {
    let (label, colour) = match (report.status, report.ignored) {
        (Status::Ok, _) => ("ok", "\x1b[32m"),
        (Status::Changed, _) => ("changed", "\x1b[33m"),
        (Status::Skipped, _) => ("skipped", "\x1b[36m"),
        (Status::Failed, true) => ("failed (ignored)", "\x1b[35m"),
        (Status::Failed, false) => ("failed", "\x1b[31m"),
        (Status::Unreachable, _) => ("unreachable", "\x1b[31m"),
    };
    if report.status == Status::Skipped && verbosity < 2 {
        return String::new();
    }
    let painted = if palette.reset.is_empty() {
        label.to_string()
    } else {
        format!("{colour}{label}\x1b[0m")
    };
    let item = report
        .item
        .as_ref()
        .map(|item| format!(" (item={item})"))
        .unwrap_or_default();
    let mut out = format!("{painted}: [{}] {}{item}\n", report.host, report.task);
    if report.no_log {
        if report.status == Status::Failed {
            out.push_str("    the output has been hidden due to `no_log: true`\n");
        }
        return out;
    }
    if let Some(message) = &report.message {
        if report.status != Status::Ok || verbosity > 0 || !message.is_empty() {
            for line in message.lines() {
                out.push_str(&format!("    {line}\n"));
            }
        }
    }
    for change in report.changes {
        for line in diff::summary(change).lines() {
            out.push_str(&format!("    {line}\n"));
        }
        if show_diff {
            out.push_str(&diff::unified(change, palette));
        }
    }
    out
}

impl Reporter for Console {
    fn play_start(&self, name: &str, hosts: usize, check: bool) {
        let mode = if check {
            " (check mode: nothing will change)"
        } else {
            ""
        };
        let title = format!("PLAY [{name}] on {hosts} host(s){mode}");
        self.finish_progress();
        self.write(&format!("\n{}\n", self.paint("\x1b[1m", &title)));
        if self.interactive {
            let bar = indicatif::ProgressBar::new(hosts as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} hosts done  {wide_msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            if let Ok(mut progress) = self.progress.lock() {
                *progress = Some(bar);
            }
        }
    }

    fn task_start(&self, host: &str, task: &str) {
        if let Some(bar) = self.bar() {
            bar.set_message(format!("[{host}] {task}"));
        }
    }

    fn host_done(&self, _host: &str) {
        if let Some(bar) = self.bar() {
            bar.inc(1);
        }
    }

    fn task(&self, report: &TaskReport) {
        let text = format_task(report, self.show_diff, self.verbosity, self.palette());
        if !text.is_empty() {
            self.write(&text);
        }
    }

    fn warning(&self, message: &str) {
        let label = self.paint("\x1b[35m", "warning");
        self.write(&format!("{label}: {message}\n"));
    }

    fn timing(&self, elapsed: std::time::Duration, slowest: Option<(&str, std::time::Duration)>) {
        self.write(&timing_line(elapsed, slowest));
    }

    fn note(&self, message: &str) {
        if self.verbosity > 0 {
            self.write(&format!("note: {message}\n"));
        }
    }

    fn interrupted(&self, busy: &[(String, String)], cleanup: &[(String, Result<usize, String>)]) {
        self.finish_progress();
        let title = self.paint("\x1b[1;31m", "INTERRUPTED");
        self.write(&format!("\n{title}{}", interrupted_text(busy, cleanup)));
    }

    fn round_trips(&self, host: &str, stats: &HostStats, commands: &[String]) {
        if self.verbosity > 1 {
            let mut text = format!(
                "note: [{host}] {} channel{}, {} request{}, {} read{} answered ahead\n",
                stats.channels,
                if stats.channels == 1 { "" } else { "s" },
                stats.requests,
                if stats.requests == 1 { "" } else { "s" },
                stats.answered_ahead,
                if stats.answered_ahead == 1 { "" } else { "s" }
            );
            for command in commands {
                text.push_str(&format!("  {command}\n"));
            }
            self.write(&text);
        }
    }

    fn recap(&self, stats: &[(String, HostStats)]) {
        self.finish_progress();
        let width = stats.iter().map(|(name, _)| name.len()).max().unwrap_or(0);
        let mut out = format!("\n{}\n", self.paint("\x1b[1m", "RECAP"));
        for (host, s) in stats {
            out.push_str(&format!(
                "{host:<width$} : ok={} changed={} unreachable={} failed={} skipped={} rescued={} ignored={}\n",
                s.ok, s.changed, s.unreachable, s.failed, s.skipped, s.rescued, s.ignored
            ));
        }
        self.write(&out);
    }
}

/// What the console says when Ctrl-C stopped the run: which hosts were in the middle of
/// which task (after the `INTERRUPTED` title).
pub fn interrupted_text(
    busy: &[(String, String)],
    cleanup: &[(String, Result<usize, String>)],
) -> String {
    let mut out = " (Ctrl-C): the run stopped; no host started another task\n".to_string();
    if busy.is_empty() {
        out.push_str("  no host was in the middle of a task\n");
    }
    for (host, task) in busy {
        out.push_str(&format!("  {host}: in the middle of task `{task}`\n"));
    }
    for (host, result) in cleanup {
        let line = match result {
            Ok(0) => "connection cut; run lock released".to_string(),
            Ok(1) => "connection cut; the unfinished write's temp file removed, run lock released"
                .to_string(),
            Ok(n) => format!(
                "connection cut; {n} unfinished writes' temp files removed, run lock released"
            ),
            Err(reason) => format!("connection cut; could not clean up: {reason}"),
        };
        out.push_str(&format!("  {host}: {line}\n"));
    }
    out
}

/// `ran in 3.21 s; slowest host web1 (2.90 s)`, as the recap's last line.
pub fn timing_line(
    elapsed: std::time::Duration,
    slowest: Option<(&str, std::time::Duration)>,
) -> String {
    match slowest {
        Some((host, time)) => format!(
            "ran in {:.2} s; slowest host {host} ({:.2} s)\n",
            elapsed.as_secs_f64(),
            time.as_secs_f64()
        ),
        None => format!("ran in {:.2} s\n", elapsed.as_secs_f64()),
    }
}

/// Several reporters at once (console and JUnit, say).
pub struct Fanout(pub Vec<std::sync::Arc<dyn Reporter>>);

impl Reporter for Fanout {
    fn play_start(&self, name: &str, hosts: usize, check: bool) {
        self.0.iter().for_each(|r| r.play_start(name, hosts, check));
    }
    fn task_start(&self, host: &str, task: &str) {
        self.0.iter().for_each(|r| r.task_start(host, task));
    }
    fn host_done(&self, host: &str) {
        self.0.iter().for_each(|r| r.host_done(host));
    }
    fn task(&self, report: &TaskReport) {
        if !crate::vault::has_secrets() {
            self.0.iter().for_each(|r| r.task(report));
            return;
        }
        // Values from encrypted vars files never reach the output, diffs included.
        let changes: Vec<Change> = report.changes.iter().map(redact_change).collect();
        let redacted = TaskReport {
            changes: &changes,
            message: report.message.as_deref().map(crate::vault::redact),
            item: report.item.as_deref().map(crate::vault::redact),
            ..report.clone()
        };
        self.0.iter().for_each(|r| r.task(&redacted));
    }
    fn warning(&self, message: &str) {
        let message = crate::vault::redact(message);
        self.0.iter().for_each(|r| r.warning(&message));
    }
    fn note(&self, message: &str) {
        let message = crate::vault::redact(message);
        self.0.iter().for_each(|r| r.note(&message));
    }
    fn interrupted(&self, busy: &[(String, String)], cleanup: &[(String, Result<usize, String>)]) {
        self.0.iter().for_each(|r| r.interrupted(busy, cleanup));
    }

    fn round_trips(&self, host: &str, stats: &HostStats, commands: &[String]) {
        let commands: Vec<String> = commands.iter().map(|c| crate::vault::redact(c)).collect();
        self.0
            .iter()
            .for_each(|r| r.round_trips(host, stats, &commands));
    }
    fn recap(&self, stats: &[(String, HostStats)]) {
        self.0.iter().for_each(|r| r.recap(stats));
    }
    fn timing(&self, elapsed: std::time::Duration, slowest: Option<(&str, std::time::Duration)>) {
        self.0.iter().for_each(|r| r.timing(elapsed, slowest));
    }
}

fn redact_change(change: &Change) -> Change {
    use converge_modules::ChangeDetail;
    let text = |value: &Option<String>| value.as_deref().map(crate::vault::redact);
    Change {
        subject: crate::vault::redact(&change.subject),
        detail: match &change.detail {
            ChangeDetail::Content { before, after } => ChangeDetail::Content {
                before: text(before),
                after: text(after),
            },
            ChangeDetail::Value { before, after } => ChangeDetail::Value {
                before: text(before),
                after: text(after),
            },
            ChangeDetail::Note(note) => ChangeDetail::Note(crate::vault::redact(note)),
            ChangeDetail::Hidden(why) => ChangeDetail::Hidden(why.clone()),
        },
    }
}

#[cfg(test)]
mod timing_tests {
    use super::{interrupted_text, timing_line};
    use std::time::Duration;

    #[test]
    fn an_interrupted_run_names_each_busy_host_its_task_and_the_clean_up() {
        let busy = vec![
            ("web1".to_string(), "Install nginx".to_string()),
            ("web2".to_string(), "Restart".to_string()),
        ];
        let cleanup = vec![
            ("web1".to_string(), Ok(1)),
            ("web2".to_string(), Err("connection refused".to_string())),
            ("web3".to_string(), Ok(0)),
        ];
        assert_eq!(
            interrupted_text(&busy, &cleanup),
            " (Ctrl-C): the run stopped; no host started another task\n\
             \x20 web1: in the middle of task `Install nginx`\n\
             \x20 web2: in the middle of task `Restart`\n\
             \x20 web1: connection cut; the unfinished write's temp file removed, run lock released\n\
             \x20 web2: connection cut; could not clean up: connection refused\n\
             \x20 web3: connection cut; run lock released\n"
        );
        assert_eq!(
            interrupted_text(&[], &[]),
            " (Ctrl-C): the run stopped; no host started another task\n  no host was in the middle of a task\n"
        );
    }

    #[test]
    fn the_recap_ends_with_the_wall_time_and_the_slowest_host() {
        assert_eq!(
            timing_line(
                Duration::from_millis(3210),
                Some(("web1", Duration::from_millis(2904)))
            ),
            "ran in 3.21 s; slowest host web1 (2.90 s)\n"
        );
        assert_eq!(
            timing_line(Duration::from_millis(10), None),
            "ran in 0.01 s\n"
        );
    }
}
