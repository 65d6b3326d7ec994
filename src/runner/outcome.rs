//! What a task produced ([`Outcome`]), and how it is reported to the user and counted in
//! the recap.

use super::host_run::HostRun;
use crate::diagnostic::Location;
use crate::playbook::Task;
use crate::report::{Status, TaskReport};
use converge_modules::{self as modules, Change, ModuleError};
use serde_json::{Map, Value};

/// The outcome of one task (one loop item, or the whole task without a loop).
pub(super) struct Outcome {
    pub(super) status: Status,
    pub(super) changes: Vec<Change>,
    pub(super) result: Map<String, Value>,
    pub(super) message: Option<String>,
    /// `meta: end_host` / `end_play`: stop this host's play here.
    pub(super) end_host: bool,
}

impl Outcome {
    pub(super) fn failed(message: impl Into<String>) -> Self {
        let message = message.into();
        let mut result = Map::new();
        result.insert("failed".into(), Value::Bool(true));
        result.insert("msg".into(), Value::String(message.clone()));
        Outcome {
            status: Status::Failed,
            changes: Vec::new(),
            result,
            message: Some(message),
            end_host: false,
        }
    }

    pub(super) fn skipped(reason: &str) -> Self {
        let mut result = Map::new();
        result.insert("skipped".into(), Value::Bool(true));
        result.insert("changed".into(), Value::Bool(false));
        result.insert("skip_reason".into(), Value::String(reason.into()));
        Outcome {
            status: Status::Skipped,
            changes: Vec::new(),
            result,
            message: None,
            end_host: false,
        }
    }
}

impl HostRun<'_, '_> {
    pub(super) fn report_simple(&self, task: &str, status: Status, message: Option<String>) {
        self.runner.reporter.task(&TaskReport {
            host: &self.host.name,
            task,
            item: None,
            status,
            changes: &[],
            message,
            ignored: false,
            no_log: false,
        });
    }

    /// Count a task in the recap as Ansible does: `ok` holds every task that succeeded,
    /// changed ones included, and a failure that `ignore_errors` let pass is `ok` and `ignored`.
    pub(super) fn count(&mut self, status: Status, ignored: bool) {
        let stats = &mut self.slot.stats;
        match status {
            Status::Ok => stats.ok += 1,
            Status::Changed => {
                stats.ok += 1;
                stats.changed += 1;
            }
            Status::Skipped => stats.skipped += 1,
            Status::Failed if ignored => {
                stats.ok += 1;
                stats.ignored += 1;
            }
            Status::Failed => stats.failed += 1,
            Status::Unreachable => stats.unreachable = 1,
        }
    }

    pub(super) fn report_failure(&mut self, task: &str, message: String) {
        self.report_simple(task, Status::Failed, Some(message));
        self.count(Status::Failed, false);
    }

    pub(super) fn report(
        &self,
        task: &Task,
        display_name: &str,
        item: Option<String>,
        outcome: &Outcome,
        ignore_errors: bool,
    ) {
        let no_log = task.common.no_log;
        self.runner.reporter.task(&TaskReport {
            host: &self.host.name,
            task: display_name,
            item: if no_log { None } else { item },
            status: outcome.status,
            changes: if no_log { &[] } else { &outcome.changes },
            message: outcome.message.clone(),
            ignored: outcome.status == Status::Failed && ignore_errors,
            no_log,
        });
    }
}

pub(super) fn module_failure(error: ModuleError) -> Outcome {
    let unreachable = matches!(&error, ModuleError::Host(host) if is_unreachable(host));
    let message = match &error {
        ModuleError::Failed {
            message,
            hint: Some(hint),
        } => format!("{message}\nhint: {hint}"),
        ModuleError::Args(args) => match &args.hint {
            Some(hint) => format!("{}\nhint: {hint}", args.message),
            None => args.message.clone(),
        },
        other => other.to_string(),
    };
    let mut outcome = Outcome::failed(message);
    if unreachable {
        outcome.status = Status::Unreachable;
    }
    outcome
}

pub(super) fn is_unreachable(error: &modules::HostError) -> bool {
    matches!(error, modules::HostError::Unreachable { .. })
}

pub(super) fn located(message: String, location: &Location) -> String {
    format!("{message} (task at {location})")
}
