//! Reviewed plans: `--check --plan-out plan.json` saves every host's plan, `converge show`
//! prints it, and `converge apply plan.json` applies exactly what was reviewed.
//!
//! A plan file holds, per host, the tasks in the order they ran, each with its steps (the
//! content to write, the commands to run), its changes (the diff a reviewer saw) and a
//! fingerprint: a SHA-256 of those steps and changes. A module's plan is a function of the
//! host state it read, so the fingerprint changes exactly when the state the task depends
//! on moved (a file edited, a package upgraded, a sysctl changed) — and not when a host only
//! differs in what the task does not look at.
//!
//! Applying runs the same playbooks again (their inputs must be unchanged, checked by hash).
//! Each task plans afresh against the host as the earlier tasks left it; a task whose fresh
//! fingerprint equals the saved one applies the saved steps, and one whose fingerprint
//! differs stops its host as drifted, with both diffs shown. Tasks the plan could not know
//! (a command check mode cannot run, and tasks whose arguments or `when` read its registered
//! result) are "decided at apply time": planned live and reported as not reviewed, or
//! refused with `--reviewed-only`.
//!
//! The files: `file.rs` (the format, its integrity and sealed secrets), `inputs.rs` (input
//! hashes), `show.rs` (printing a plan).

pub mod command;
pub mod file;
pub mod inputs;
pub mod show;

use converge_modules::{Change, Plan, Step};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

/// What a task's entry in a plan says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Decision {
    /// Reviewed, and changes the host.
    Changed,
    /// Reviewed, and changes nothing.
    Ok,
    /// Check mode could not know; planned live by `apply`.
    ApplyTime,
}

/// The steps and diff of one task.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct TaskContent {
    /// What a reviewer saw.
    pub changes: Vec<Change>,
    /// What apply does.
    pub steps: Vec<Step>,
    /// Steps that are no change but run anyway (`daemon-reload`).
    pub always: Vec<Step>,
}

impl TaskContent {
    /// The content of a plan.
    pub fn of(plan: &Plan) -> TaskContent {
        TaskContent {
            changes: plan.changes.clone(),
            steps: plan.steps.clone(),
            always: plan.always.clone(),
        }
    }

    /// SHA-256 (hex) of the canonical JSON of the content.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).expect("plan content serializes");
        hex::encode(Sha256::digest(&json))
    }
}

/// One task of one host in a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedTask {
    /// Where the task is and how many times it ran before on this host (`site.yml:12:7#0`):
    /// how `apply` finds it again.
    pub key: String,
    /// The task's name as the report shows it.
    pub name: String,
    /// The module.
    pub module: String,
    /// Reviewed (and whether it changes anything), or decided at apply time.
    pub decision: Decision,
    /// Why it is decided at apply time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// [`TaskContent::fingerprint`] of the reviewed content.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub fingerprint: String,
    /// The content, or `None` when it is sealed (it holds secrets; see the `file` module).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<TaskContent>,
    /// True when the content holds secrets (no_log, a private file, a vault value).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
}

/// Collects the plans of a `--check --plan-out` run, host by host.
#[derive(Debug, Default)]
pub struct Recorder {
    hosts: Mutex<BTreeMap<String, Vec<PlannedTask>>>,
}

impl Recorder {
    /// Add a task's entry for `host`.
    pub fn record(&self, host: &str, task: PlannedTask) {
        if let Ok(mut hosts) = self.hosts.lock() {
            hosts.entry(host.to_string()).or_default().push(task);
        }
    }

    /// Every host's tasks, in the order they ran.
    pub fn hosts(&self) -> BTreeMap<String, Vec<PlannedTask>> {
        self.hosts
            .lock()
            .map(|hosts| hosts.clone())
            .unwrap_or_default()
    }
}

/// A loaded plan being applied: the saved tasks by host and key.
#[derive(Debug, Default)]
pub struct Review {
    tasks: HashMap<(String, String), PlannedTask>,
    /// Refuse tasks decided at apply time.
    pub reviewed_only: bool,
}

/// What `apply` does with a task.
#[derive(Debug)]
pub enum Verdict {
    /// Apply these saved steps: the fresh plan is the reviewed one.
    Apply(Box<Plan>),
    /// The host moved since the plan: the saved and the fresh changes.
    Drifted {
        /// What the reviewer saw.
        planned: Vec<Change>,
        /// What the task would do now.
        now: Vec<Change>,
    },
    /// Not in the plan, or decided at apply time there: plan it live.
    NotReviewed(String),
}

impl Review {
    /// A review of `hosts` (every task's content unsealed).
    pub fn new(hosts: BTreeMap<String, Vec<PlannedTask>>, reviewed_only: bool) -> Review {
        let tasks = hosts
            .into_iter()
            .flat_map(|(host, tasks)| {
                tasks
                    .into_iter()
                    .map(move |task| ((host.clone(), task.key.clone()), task))
            })
            .collect();
        Review {
            tasks,
            reviewed_only,
        }
    }

    /// Compare the task's fresh plan with the saved one.
    pub fn verdict(&self, host: &str, key: &str, fresh: &Plan) -> Verdict {
        let Some(saved) = self.tasks.get(&(host.to_string(), key.to_string())) else {
            return Verdict::NotReviewed("the plan does not have this task".into());
        };
        if saved.decision == Decision::ApplyTime {
            return Verdict::NotReviewed(
                saved
                    .reason
                    .clone()
                    .unwrap_or_else(|| "decided at apply time".into()),
            );
        }
        let Some(content) = &saved.content else {
            return Verdict::NotReviewed(
                "its content is sealed and no --plan-key was given".into(),
            );
        };
        let now = TaskContent::of(fresh);
        if now.fingerprint() != saved.fingerprint || content.fingerprint() != saved.fingerprint {
            return Verdict::Drifted {
                planned: content.changes.clone(),
                now: now.changes,
            };
        }
        let mut plan = fresh.clone();
        plan.changes = content.changes.clone();
        plan.steps = content.steps.clone();
        plan.always = content.always.clone();
        Verdict::Apply(Box::new(plan))
    }
}

/// How a run takes part in reviewed plans.
#[derive(Debug)]
pub enum Session {
    /// `--check --plan-out`: record every host's plan.
    Record(Recorder),
    /// `converge apply plan.json`: apply what was reviewed.
    Apply(Review),
}

/// The key of a task: its location and how many times it ran before on the host.
pub fn task_key(location: &str, occurrence: usize) -> String {
    format!("{location}#{occurrence}")
}

/// Whether a task's content holds something that must not be written in clear: the task is
/// `no_log`, it writes a private file (no group or other bits), its diff was withheld, or it
/// carries a value decrypted from a vault.
pub fn is_secret(content: &TaskContent, no_log: bool) -> bool {
    if no_log {
        return true;
    }
    let private_write = content.steps.iter().any(|step| {
        matches!(step, Step::WriteFile { options, .. }
            if options.attributes.mode.is_some_and(|mode| mode & 0o077 == 0))
    });
    let withheld = content
        .changes
        .iter()
        .any(|change| matches!(change.detail, converge_modules::ChangeDetail::Hidden(_)));
    if private_write || withheld {
        return true;
    }
    if crate::vault::has_secrets() {
        let text = serde_json::to_string(content).unwrap_or_default();
        let bytes_text = content
            .steps
            .iter()
            .filter_map(|step| match step {
                Step::WriteFile { content, .. } => Some(String::from_utf8_lossy(content)),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n");
        return crate::vault::redact(&text) != text
            || crate::vault::redact(&bytes_text) != bytes_text;
    }
    false
}

#[cfg(test)]
mod tests;
