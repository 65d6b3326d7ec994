//! Plans: what a module found, what it will change, and the steps that change it.
//!
//! A module's `plan` only reads. It returns the human-facing [`Change`]s and the [`Step`]s
//! that make them; [`Plan::apply`] executes exactly those steps, the same for every module.
//! Check mode stops after planning, so it cannot disagree with a real run.

use crate::host::{Command, FileAttributes, Host, HostError, WriteOptions};
use serde_json::{Map, Value};

/// One thing a person reviews before it happens.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    /// What changes: a path, a sysctl key, a rule chain, a package name.
    pub subject: String,
    /// How it changes.
    pub detail: ChangeDetail,
}

/// The shape of a change, as the report shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ChangeDetail {
    /// A text file's content: shown as a unified diff. `None` is an absent file.
    Content {
        /// Old content.
        before: Option<String>,
        /// New content.
        after: Option<String>,
    },
    /// A single value: shown as `before → after`. `None` means absent.
    Value {
        /// Old value.
        before: Option<String>,
        /// New value.
        after: Option<String>,
    },
    /// Something that is not a value, e.g. "will run `make install`".
    Note(String),
    /// Content withheld from the report (secrets, binary data): only the fact of a change.
    Hidden(String),
}

impl Change {
    /// A file content change.
    pub fn content(
        subject: impl Into<String>,
        before: Option<String>,
        after: Option<String>,
    ) -> Self {
        Change {
            subject: subject.into(),
            detail: ChangeDetail::Content { before, after },
        }
    }

    /// A value change.
    pub fn value(
        subject: impl Into<String>,
        before: Option<String>,
        after: Option<String>,
    ) -> Self {
        Change {
            subject: subject.into(),
            detail: ChangeDetail::Value { before, after },
        }
    }

    /// A free-form note.
    pub fn note(subject: impl Into<String>, note: impl Into<String>) -> Self {
        Change {
            subject: subject.into(),
            detail: ChangeDetail::Note(note.into()),
        }
    }
}

/// One action [`Plan::apply`] performs on the host.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Step {
    /// Replace a file atomically (see [`Host::write_file`]).
    WriteFile {
        /// Path on the host.
        path: String,
        /// New content.
        #[serde(with = "base64_bytes")]
        content: Vec<u8>,
        /// Attributes, validator, backup.
        options: WriteOptions,
    },
    /// Run a command; a non-zero exit fails the task unless `allow_failure`.
    Run {
        /// The command.
        command: Command,
        /// Record the exit status instead of failing (e.g. `command` with `failed_when`).
        allow_failure: bool,
    },
    /// Remove a path (recursively).
    Remove {
        /// Path on the host.
        path: String,
    },
}

/// Bytes as base64 text in saved plans (readable, and a quarter of a JSON number array).
pub mod base64_bytes {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialize as base64.
    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// Deserialize from base64.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }

    /// The same for `Option<Vec<u8>>`.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        /// Serialize as base64, or null.
        pub fn serialize<S: Serializer>(
            bytes: &Option<Vec<u8>>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match bytes {
                Some(bytes) => super::serialize(bytes, serializer),
                None => serializer.serialize_none(),
            }
        }

        /// Deserialize from base64 or null.
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Vec<u8>>, D::Error> {
            let text: Option<String> = Option::deserialize(deserializer)?;
            text.map(|text| {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
        }
    }
}

/// The keys [`Plan::apply`] adds for the last command that ran.
pub const COMMAND_RESULT_KEYS: &[&str] = &[
    "rc",
    "cmd",
    "stdout",
    "stderr",
    "stdout_lines",
    "stderr_lines",
];

/// The result of planning a task.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// What will change, for the report. Empty together with `steps` means "ok, no change".
    pub changes: Vec<Change>,
    /// What apply does, in order.
    pub steps: Vec<Step>,
    /// Steps a real run always performs first that are no change to report, as Ansible
    /// counts them (`systemctl daemon-reload`). They run even when nothing else changes.
    pub always: Vec<Step>,
    /// Values for `register` beyond `changed`/`failed` (e.g. `stat`, `msg`).
    pub result: Map<String, Value>,
    /// Things the user should know even when nothing fails (shown as warnings).
    pub warnings: Vec<String>,
    /// True when the task cannot say in check mode what would happen (e.g. a command
    /// without `creates`): check mode reports it skipped rather than guessing.
    pub unknowable_in_check_mode: bool,
    /// Lock-out guard: after the steps ran, the runner opens a *fresh* connection to the host
    /// and runs this command there (e.g. to disarm a rollback the steps armed). If no new
    /// connection can be made and the command run within `within_seconds`, the task fails
    /// and whatever the steps armed on the host undoes the change by itself.
    pub confirm: Option<Confirmation>,
}

/// A command that proves the host is still reachable after a risky change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// Run over a new connection once the steps are applied.
    pub command: Command,
    /// How long the runner may take to connect and run it.
    pub within_seconds: u64,
}

impl Plan {
    /// A plan that changes nothing.
    pub fn unchanged() -> Self {
        Plan::default()
    }

    /// True when applying would change the host.
    pub fn is_change(&self) -> bool {
        !self.steps.is_empty() || !self.changes.is_empty()
    }

    /// Add a change and the steps that make it.
    pub fn push(&mut self, change: Change, steps: impl IntoIterator<Item = Step>) {
        self.changes.push(change);
        self.steps.extend(steps);
    }

    /// Execute the steps in order, stopping at the first failure. Returns the planned
    /// `result` plus, when commands ran, `rc`, `stdout`, `stderr`, `stdout_lines` and
    /// `stderr_lines` of the last command (what Ansible users `register`). Lines a step's
    /// command prints as `@@converge-warning TEXT` are collected, from every step, into
    /// `warnings` (Ansible's key for them), which the runner shows.
    pub fn apply(&self, host: &mut dyn Host) -> Result<Map<String, Value>, ApplyError> {
        let mut result = self.result.clone();
        let mut warnings: Vec<Value> = Vec::new();
        for step in self.always.iter().chain(&self.steps) {
            match step {
                Step::WriteFile {
                    path,
                    content,
                    options,
                } => {
                    let outcome = host.write_file(path, content, options)?;
                    if let Some(backup) = outcome.backup_file {
                        result.insert("backup_file".into(), Value::String(backup));
                    }
                }
                Step::Remove { path } => host.remove(path)?,
                Step::Run {
                    command,
                    allow_failure,
                } => {
                    let output = host.run(command)?;
                    let stdout = output.stdout_text();
                    let stderr = output.stderr_text();
                    warnings.extend(
                        stdout
                            .lines()
                            .filter_map(|line| line.strip_prefix("@@converge-warning "))
                            .map(|text| Value::String(text.to_string())),
                    );
                    result.insert("rc".into(), Value::from(output.status));
                    result.insert("cmd".into(), Value::String(command.to_shell_line()));
                    result.insert(
                        "stdout_lines".into(),
                        Value::from(stdout.lines().collect::<Vec<_>>()),
                    );
                    result.insert(
                        "stderr_lines".into(),
                        Value::from(stderr.lines().collect::<Vec<_>>()),
                    );
                    result.insert("stdout".into(), Value::String(trim_newline(stdout)));
                    result.insert("stderr".into(), Value::String(trim_newline(stderr)));
                    if !output.success() && !allow_failure {
                        return Err(ApplyError::CommandFailed {
                            command: command.to_shell_line(),
                            status: output.status,
                            stderr: output.stderr_text(),
                            result,
                        });
                    }
                }
            }
        }
        if !warnings.is_empty() {
            result.insert("warnings".into(), Value::Array(warnings));
        }
        Ok(result)
    }
}

fn trim_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
    }
    text
}

/// A step failed while applying.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The transport failed (unreachable host, file error, validator refusal).
    #[error(transparent)]
    Host(#[from] HostError),
    /// A command exited non-zero.
    #[error("`{command}` exited with status {status}{}", stderr_suffix(stderr))]
    CommandFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: i32,
        /// What it printed on stderr.
        stderr: String,
        /// The task result so far (with rc/stdout/stderr), for `register` and `ignore_errors`.
        result: Map<String, Value>,
    },
}

fn stderr_suffix(stderr: &str) -> String {
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        format!(": {trimmed}")
    }
}

/// Shorthand: the step that writes `content` to `path` with `attributes`.
pub fn write_step(path: &str, content: Vec<u8>, attributes: FileAttributes) -> Step {
    Step::WriteFile {
        path: path.to_string(),
        content,
        options: WriteOptions {
            attributes,
            ..WriteOptions::default()
        },
    }
}
