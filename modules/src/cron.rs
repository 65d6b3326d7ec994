//! `cron`: manage one job or one environment variable in a user's crontab or in a file
//! under `/etc/cron.d`.
//!
//! Converges a crontab's text. Reads it in one round trip: `crontab -l` (with `-u USER` when
//! `user` is not the connecting user) or the `cron_file`. The edit is the pure function
//! [`edit_crontab`], a line-for-line port of Ansible's: a job is the line after its
//! `#Ansible: NAME` marker (so crontabs written by Ansible are managed as they are, and the
//! other way round); a job line that already exists without a marker is adopted by inserting
//! the marker above it; a variable (`env: yes`) is the line `NAME="job"`, added at the top
//! unless `insertafter`/`insertbefore` name another variable. A user crontab is installed with
//! `crontab [-u USER] -` from standard input; a `cron_file` is written atomically (the user
//! column is part of each job) and removed when its last job goes. Idempotence: planning after
//! applying finds the same lines and changes nothing.
//!
//! ```yaml
//! - cron:
//!     name: nightly backup
//!     minute: "0"
//!     hour: "3"
//!     job: /usr/local/bin/backup >/dev/null 2>&1
//! ```

use crate::args::{Flag, Text};
use crate::host::{Command, FileAttributes, Host, WriteOptions};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// The marker line Ansible writes above each job it manages.
pub const MARKER: &str = "#Ansible: ";

/// Whether the job (or variable) should be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CronState {
    /// The job or variable is in the crontab.
    #[default]
    Present,
    /// It is not.
    Absent,
}

/// cron's `@` schedules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SpecialTime {
    /// `@reboot`: once at startup.
    Reboot,
    /// `@yearly`.
    Yearly,
    /// `@annually` (the same as yearly).
    Annually,
    /// `@monthly`.
    Monthly,
    /// `@weekly`.
    Weekly,
    /// `@daily`.
    Daily,
    /// `@hourly`.
    Hourly,
}

impl SpecialTime {
    fn as_str(self) -> &'static str {
        match self {
            SpecialTime::Reboot => "reboot",
            SpecialTime::Yearly => "yearly",
            SpecialTime::Annually => "annually",
            SpecialTime::Monthly => "monthly",
            SpecialTime::Weekly => "weekly",
            SpecialTime::Daily => "daily",
            SpecialTime::Hourly => "hourly",
        }
    }
}

/// Arguments of `cron`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CronArgs {
    /// The job's name, written in the `#Ansible: NAME` marker line above it; with
    /// `env: yes`, the variable's name.
    pub name: String,
    /// Whose crontab (default: the connecting user's); with `cron_file`, the user the job
    /// runs as.
    pub user: Option<String>,
    /// The command to run; with `env: yes`, the variable's value.
    #[serde(alias = "value")]
    pub job: Option<String>,
    /// A file under `/etc/cron.d` (a bare name) or an absolute path, instead of a user's
    /// crontab. Needs `user`.
    pub cron_file: Option<String>,
    /// Whether the job or variable should be there.
    #[serde(default)]
    pub state: CronState,
    /// Keep a copy of the crontab before changing it (`backup_file` in the result).
    #[serde(default)]
    pub backup: Flag,
    /// Minute field (`0-59`, `*`, `*/5`…); default `*`.
    pub minute: Option<Text>,
    /// Hour field; default `*`.
    pub hour: Option<Text>,
    /// Day-of-month field; default `*`.
    #[serde(alias = "dom")]
    pub day: Option<Text>,
    /// Month field; default `*`.
    pub month: Option<Text>,
    /// Day-of-week field; default `*`.
    #[serde(alias = "dow")]
    pub weekday: Option<Text>,
    /// An `@` schedule instead of the five fields.
    pub special_time: Option<SpecialTime>,
    /// Keep the job but comment it out.
    #[serde(default)]
    pub disabled: Flag,
    /// Manage a variable (`NAME="job"`) instead of a job.
    #[serde(default)]
    pub env: Flag,
    /// With `env: yes`: put a new variable after the variable with this name.
    pub insertafter: Option<String>,
    /// With `env: yes`: put a new variable before the variable with this name.
    pub insertbefore: Option<String>,
}

/// The `cron` module.
pub struct Cron;

impl TypedModule for Cron {
    type Args = CronArgs;
    const NAME: &'static str = "cron";
    const SUMMARY: &'static str =
        "Manage a job or variable in a user's crontab or in a file under /etc/cron.d";
    const EXAMPLES: &'static str = "- cron:\n    name: nightly backup\n    minute: \"0\"\n    hour: \"3\"\n    job: /usr/local/bin/backup >/dev/null 2>&1\n\n- cron:\n    name: PATH\n    env: yes\n    job: /usr/local/bin:/usr/bin:/bin\n    user: backup\n\n- cron:\n    name: clean tmp\n    special_time: daily\n    user: root\n    cron_file: clean-tmp\n    job: find /tmp -mtime +7 -delete\n\n- cron:\n    name: nightly backup\n    state: absent\n";
    const USES_FACTS: bool = false;

    fn check(args: &CronArgs) -> Result<(), ArgsError> {
        if args.insertafter.is_some() && args.insertbefore.is_some() {
            return Err(ArgsError::new(
                Some("insertbefore"),
                "parameters are mutually exclusive: insertafter|insertbefore",
            ));
        }
        if let Some(file) = &args.cron_file {
            if file == "/etc/crontab" {
                return Err(ArgsError::new(
                    Some("cron_file"),
                    "will not manage /etc/crontab via cron_file",
                )
                .with_hint("put the job in a file under /etc/cron.d, e.g. `cron_file: myjob`"));
            }
        }
        let fields = [
            &args.minute,
            &args.hour,
            &args.day,
            &args.month,
            &args.weekday,
        ];
        if args.special_time.is_some()
            && fields
                .iter()
                .any(|field| field.as_ref().is_some_and(|f| f.0 != "*"))
        {
            return Err(ArgsError::new(
                Some("special_time"),
                "you cannot combine special_time with any of the time or day/date parameters",
            ));
        }
        if args.state == CronState::Present {
            if args.cron_file.is_some() && args.user.is_none() {
                return Err(ArgsError::new(
                    Some("cron_file"),
                    "to use cron_file=... parameter you must specify user=... as well",
                ));
            }
            if args.job.is_none() {
                return Err(ArgsError::new(
                    Some("job"),
                    "you must specify `job` to install a new cron job or variable",
                ));
            }
            if (args.insertafter.is_some() || args.insertbefore.is_some()) && !args.env.0 {
                return Err(ArgsError::new(
                    Some("insertafter"),
                    "insertafter and insertbefore parameters are valid only with env=yes",
                ));
            }
        }
        if args.env.0 && args.name.contains(' ') {
            return Err(ArgsError::new(
                Some("name"),
                "invalid name for environment variable",
            ));
        }
        Ok(())
    }

    fn plan(args: CronArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let mut plan = Plan::unchanged();
        let cron_file = args.cron_file.as_deref().map(cron_file_path);
        if let Some(file) = &args.cron_file {
            let base = file.rsplit('/').next().unwrap_or(file);
            let good = !base.is_empty()
                && base
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !good {
                plan.warnings.push(format!(
                    "Filename portion of cron_file (\"{base}\") should consist solely of upper- and lower-case letters, digits, underscores, and hyphens"
                ));
            }
        }
        let existing = match &cron_file {
            Some(path) => match host.read_file(path)? {
                Some(bytes) => String::from_utf8(bytes)
                    .map_err(|_| ModuleError::failed(format!("`{path}` is not UTF-8 text")))?,
                None => String::new(),
            },
            None => read_user_crontab(host, args.user.as_deref())?,
        };
        if let Some(job) = &args.job {
            if job.trim_matches(['\r', '\n']).contains(['\r', '\n']) && !args.env.0 {
                plan.warnings
                    .push("Job should not contain line breaks".to_string());
            }
        }
        let edit = edit_crontab(&existing, &args, cron_file.is_some()).map_err(|message| {
            ModuleError::Failed {
                message,
                hint: None,
            }
        })?;
        let subject = match (&cron_file, &args.user) {
            (Some(path), _) => path.clone(),
            (None, Some(user)) => format!("crontab for user \"{user}\""),
            (None, None) => "crontab".to_string(),
        };
        plan.result
            .insert("jobs".into(), Value::from(edit.jobs.clone()));
        plan.result
            .insert("envs".into(), Value::from(edit.envs.clone()));
        if let Some(file) = &args.cron_file {
            plan.result
                .insert("cron_file".into(), Value::String(file.clone()));
        }
        if !edit.changed {
            return Ok(plan);
        }
        let backup = args.backup.0;
        match (&cron_file, edit.remove_file) {
            (Some(path), true) => {
                plan.result.remove("jobs");
                plan.result.remove("envs");
                plan.result
                    .insert("state".into(), Value::String("absent".into()));
                plan.push(
                    Change::content(path.clone(), Some(existing), None),
                    [Step::Remove { path: path.clone() }],
                );
            }
            (Some(path), false) => {
                plan.push(
                    Change::content(
                        path.clone(),
                        (!existing.is_empty()).then(|| existing.clone()),
                        Some(edit.text.clone()),
                    ),
                    [Step::WriteFile {
                        path: path.clone(),
                        content: edit.text.clone().into_bytes(),
                        options: WriteOptions {
                            backup,
                            ..WriteOptions::default()
                        },
                    }],
                );
            }
            (None, _) => {
                let mut steps = Vec::new();
                if backup {
                    let path = backup_path(args.user.as_deref());
                    plan.result
                        .insert("backup_file".into(), Value::String(path.clone()));
                    steps.push(Step::WriteFile {
                        path,
                        content: existing.clone().into_bytes(),
                        options: WriteOptions {
                            attributes: FileAttributes {
                                mode: Some(0o600),
                                ..FileAttributes::default()
                            },
                            ..WriteOptions::default()
                        },
                    });
                }
                steps.push(Step::Run {
                    command: install_command(args.user.as_deref())
                        .with_stdin(edit.text.clone().into_bytes()),
                    allow_failure: false,
                });
                plan.push(
                    Change::content(subject, Some(existing), Some(edit.text.clone())),
                    steps,
                );
            }
        }
        Ok(plan)
    }
}

/// `cron_file` as a path: bare names live in `/etc/cron.d`.
pub fn cron_file_path(file: &str) -> String {
    if file.starts_with('/') {
        file.to_string()
    } else {
        format!("/etc/cron.d/{file}")
    }
}

fn backup_path(user: Option<&str>) -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    format!("/tmp/crontab.{}.{seconds}~", user.unwrap_or("self"))
}

/// A shell fragment choosing `crontab` or `crontab -u USER` (only when USER is not the
/// connecting user: non-root users may not use `-u` on every cron).
fn crontab_invocation(user: Option<&str>, operand: &str) -> String {
    match user {
        None => format!("crontab {operand}"),
        Some(user) => {
            let user = crate::quote(user);
            format!(
                "if [ \"$(id -un)\" = {user} ]; then crontab {operand}; else crontab -u {user} {operand}; fi"
            )
        }
    }
}

/// The command that reads a user's crontab.
pub fn read_command(user: Option<&str>) -> Command {
    Command::shell(format!(
        "command -v crontab >/dev/null 2>&1 || {{ echo 'crontab: command not found' >&2; exit 127; }}; {}",
        crontab_invocation(user, "-l")
    ))
}

/// The command that installs a user's crontab from standard input.
pub fn install_command(user: Option<&str>) -> Command {
    Command::shell(crontab_invocation(user, "-"))
}

fn read_user_crontab(host: &mut dyn Host, user: Option<&str>) -> Result<String, ModuleError> {
    let command = read_command(user);
    let output = host.run(&command)?;
    match output.status {
        // 1 is "no crontab for USER".
        0 | 1 => Ok(strip_header(&output.stdout_text())),
        127 => Err(ModuleError::Failed {
            message: "`crontab` is not installed on the host".into(),
            hint: Some("install cron (Debian: `cron`, Slackware: `dcron`) first".into()),
        }),
        status => Err(ModuleError::failed(format!(
            "unable to read crontab: `crontab -l` exited with status {status}: {}",
            output.stderr_text().trim()
        ))),
    }
}

/// `crontab -l` output without the three header lines some crons print (as Ansible drops
/// them: only among the first three lines).
pub fn strip_header(text: &str) -> String {
    let mut out = text.to_string();
    for line in text.lines().take(3) {
        let header = line.starts_with("# DO NOT EDIT THIS FILE - edit the master and reinstall.")
            || (line.starts_with("# (/tmp/") && line.contains("installed on"))
            || (line.starts_with("# (") && line.contains("version"));
        if header {
            if let Some(at) = out.find(line) {
                let mut end = at + line.len();
                if out[end..].starts_with(['\r', '\n']) {
                    end += 1;
                }
                out.replace_range(at..end, "");
            }
        }
    }
    out
}

/// The result of [`edit_crontab`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrontabEdit {
    /// The crontab after the edit.
    pub text: String,
    /// Whether it must be written (a missing final newline also counts, as in Ansible).
    pub changed: bool,
    /// For a `cron_file`: the last job went, so the file is removed.
    pub remove_file: bool,
    /// The names of the managed jobs after the edit.
    pub jobs: Vec<String>,
    /// The names of the variables after the edit.
    pub envs: Vec<String>,
}

/// Apply `args` to the crontab `existing` (header already stripped). `in_file` says the
/// crontab is a `cron_file`, whose job lines carry the user column. Errors are Ansible's
/// messages (an `insertafter` variable that is not there).
pub fn edit_crontab(existing: &str, args: &CronArgs, in_file: bool) -> Result<CrontabEdit, String> {
    let mut tab = Tab {
        lines: existing.lines().map(str::to_string).collect(),
    };
    let name = args.name.as_str();
    let install = args.state == CronState::Present;
    let mut changed = false;
    let mut remove_file = false;
    if args.env.0 {
        let decl = format!("{name}=\"{}\"", args.job.as_deref().unwrap_or_default());
        let old = tab.find_env(name);
        if install {
            match old {
                None => {
                    tab.add_env(
                        decl,
                        args.insertafter.as_deref(),
                        args.insertbefore.as_deref(),
                    )?;
                    changed = true;
                }
                Some((_, line)) if line != decl => {
                    tab.update_env(name, Some(&decl));
                    changed = true;
                }
                Some(_) => {}
            }
        } else if old.is_some() {
            tab.update_env(name, None);
            changed = true;
        }
    } else if install {
        let job = job_line(args, in_file);
        match tab.find_job(name, Some(&job)) {
            Found::None => {
                tab.lines.push(format!("{MARKER}{name}"));
                tab.lines.push(job);
                changed = true;
            }
            Found::Job(line) => {
                if line != job {
                    tab.update_job(name, Some(&job));
                    changed = true;
                }
            }
            Found::Adopted => {
                tab.update_job(name, Some(&job));
                changed = true;
            }
        }
    } else if !matches!(tab.find_job(name, None), Found::None) {
        tab.update_job(name, None);
        changed = true;
        if in_file && tab.lines.iter().all(|line| line.trim().is_empty()) {
            remove_file = true;
        }
    }
    if !changed && !existing.is_empty() && !existing.ends_with(['\r', '\n']) {
        changed = true;
    }
    Ok(CrontabEdit {
        text: tab.render(),
        changed,
        remove_file,
        jobs: tab.job_names(),
        envs: tab.env_names(),
    })
}

/// The job line Ansible writes: five fields (or `@special`), the user column in a
/// `cron_file`, the command; `#` in front when disabled.
pub fn job_line(args: &CronArgs, in_file: bool) -> String {
    let job = args
        .job
        .as_deref()
        .unwrap_or_default()
        .trim_matches(['\r', '\n']);
    let disabled = if args.disabled.0 { "#" } else { "" };
    let user = match (in_file, &args.user) {
        (true, Some(user)) => format!("{user} "),
        _ => String::new(),
    };
    if let Some(special) = args.special_time {
        return format!("{disabled}@{} {user}{job}", special.as_str());
    }
    let field = |value: &Option<Text>| value.as_ref().map_or("*", |t| t.0.as_str()).to_string();
    format!(
        "{disabled}{} {} {} {} {} {user}{job}",
        field(&args.minute),
        field(&args.hour),
        field(&args.day),
        field(&args.month),
        field(&args.weekday)
    )
}

enum Found {
    None,
    /// The line after the job's marker.
    Job(String),
    /// An unmarked line equal to the job got its marker.
    Adopted,
}

struct Tab {
    lines: Vec<String>,
}

impl Tab {
    fn find_job(&mut self, name: &str, job: Option<&str>) -> Found {
        let mut comment: Option<String> = None;
        for line in &self.lines {
            if let Some(found) = comment.take() {
                if found == name {
                    return Found::Job(line.clone());
                }
            } else if let Some(rest) = line.strip_prefix(MARKER) {
                comment = Some(rest.to_string());
            }
        }
        let Some(job) = job else { return Found::None };
        for index in 0..self.lines.len() {
            if self.lines[index] != job {
                continue;
            }
            // Python's lines[i - 1] at i == 0 is the last line.
            let previous = if index == 0 {
                self.lines.len() - 1
            } else {
                index - 1
            };
            if !self.lines[previous].starts_with(MARKER) {
                self.lines.insert(index, format!("{MARKER}{name}"));
                return Found::Adopted;
            } else if !name.is_empty() && self.lines[previous] == format!("{MARKER}None") {
                self.lines[previous] = format!("{MARKER}{name}");
                return Found::Adopted;
            }
        }
        Found::None
    }

    /// Replace (or with `None` remove) the line after the job's marker, and the marker
    /// with it when removing.
    fn update_job(&mut self, name: &str, job: Option<&str>) {
        let marker = format!("{MARKER}{name}");
        let mut out = Vec::with_capacity(self.lines.len() + 1);
        let mut pending = false;
        for line in self.lines.drain(..) {
            if pending {
                if let Some(job) = job {
                    out.push(marker.clone());
                    out.push(job.to_string());
                }
                pending = false;
            } else if line == marker {
                pending = true;
            } else {
                out.push(line);
            }
        }
        self.lines = out;
    }

    fn find_env(&self, name: &str) -> Option<(usize, String)> {
        let prefix = format!("{name}=");
        self.lines
            .iter()
            .enumerate()
            .find(|(_, line)| line.starts_with(&prefix))
            .map(|(index, line)| (index, line.clone()))
    }

    fn add_env(
        &mut self,
        decl: String,
        after: Option<&str>,
        before: Option<&str>,
    ) -> Result<(), String> {
        let Some(other) = after.or(before) else {
            self.lines.insert(0, decl);
            return Ok(());
        };
        match self.find_env(other) {
            Some((index, _)) => {
                let at = if after.is_some() { index + 1 } else { index };
                self.lines.insert(at, decl);
                Ok(())
            }
            None => Err(format!("Variable named '{other}' not found.")),
        }
    }

    fn update_env(&mut self, name: &str, decl: Option<&str>) {
        let prefix = format!("{name}=");
        let mut out = Vec::with_capacity(self.lines.len());
        for line in self.lines.drain(..) {
            if line.starts_with(&prefix) {
                if let Some(decl) = decl {
                    out.push(decl.to_string());
                }
            } else {
                out.push(line);
            }
        }
        self.lines = out;
    }

    fn job_names(&self) -> Vec<String> {
        self.lines
            .iter()
            .filter_map(|line| line.strip_prefix(MARKER).map(str::to_string))
            .collect()
    }

    fn env_names(&self) -> Vec<String> {
        self.lines
            .iter()
            // Python's `^\S+=`: a `=` after the first character of the first word.
            .filter(|line| {
                line.split(char::is_whitespace)
                    .next()
                    .is_some_and(|word| word.chars().skip(1).any(|c| c == '='))
            })
            .map(|line| line.split('=').next().unwrap_or_default().to_string())
            .collect()
    }

    fn render(&self) -> String {
        let text = self.lines.join("\n");
        if text.is_empty() {
            text
        } else {
            format!("{}\n", text.trim_end_matches(['\r', '\n']))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(value: serde_json::Value) -> CronArgs {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn header_lines_are_dropped_only_at_the_top() {
        let listed = "# DO NOT EDIT THIS FILE - edit the master and reinstall.\n# (/tmp/crontab.x installed on Mon Dec  7 01:00:00 2026)\n# (Cron version -- $Id: crontab.c,v 2.13 1994/01/17 03:20:37 vixie Exp $)\n#Ansible: a\n* * * * * true\n";
        assert_eq!(strip_header(listed), "#Ansible: a\n* * * * * true\n");
    }

    #[test]
    fn env_names_are_names_before_an_equals_sign_without_spaces() {
        let tab = Tab {
            lines: vec![
                "PATH=\"/bin\"".into(),
                "* * * * * a=b".into(),
                "MAILTO=root".into(),
            ],
        };
        assert_eq!(tab.env_names(), vec!["PATH", "MAILTO"]);
    }

    #[test]
    fn job_lines_carry_the_user_only_in_a_cron_file() {
        let a = args(serde_json::json!({"name": "x", "job": "true", "minute": 5, "user": "bob"}));
        assert_eq!(job_line(&a, false), "5 * * * * true");
        assert_eq!(job_line(&a, true), "5 * * * * bob true");
        let b = args(
            serde_json::json!({"name": "x", "job": "true\n", "special_time": "reboot", "disabled": true}),
        );
        assert_eq!(job_line(&b, false), "#@reboot true");
    }
}
