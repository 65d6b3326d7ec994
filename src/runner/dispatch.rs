//! Host modules: controller-side paths and templates are resolved, the module plans against
//! the host (or check mode's simulated view of it), and the plan is applied and confirmed.

use super::host_run::HostRun;
use super::outcome::{is_unreachable, located, module_failure, Outcome};
use super::scope::value_as_bool;
use super::{task_display_name, Flow};
use crate::connection::environment::WithEnvironment;
use crate::connection::simulated::SimulatedHost;
use crate::connection::Become;
use crate::playbook::{self, RoleInstance, Task};
use crate::report::Status;
use crate::reviewed::{self, Decision, PlannedTask, Session, Verdict};
use crate::template;
use crate::vars;
use converge_modules::{self as modules, ApplyError, Context, ModuleError, Target};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// How one task runs, decided from its keywords before it is dispatched.
pub(super) struct Execution {
    /// Plan only.
    pub(super) check: bool,
    /// The user the task runs as.
    pub(super) become_as: Option<Become>,
    /// `environment:` for every command.
    pub(super) environment: Vec<(String, String)>,
    /// `delegate_to:`, rendered: the host that runs the task instead of this one.
    pub(super) delegate_to: Option<String>,
}

impl HostRun<'_, '_> {
    pub(super) fn dispatch(
        &mut self,
        task: &Task,
        args: Value,
        merged: &Map<String, Value>,
        role: Option<&RoleInstance>,
        execution: Execution,
    ) -> Outcome {
        let Execution {
            check,
            become_as,
            environment,
            delegate_to,
        } = execution;
        let Some(module) = modules::find(&task.module) else {
            return Outcome::failed(format!("unknown module `{}`", task.module));
        };
        // `template` renders and `fetch` writes on the controller, but both plan against
        // the host.
        if module.target() == Target::Controller
            && !matches!(task.module.as_str(), "template" | "fetch")
        {
            return self.controller_module(task, args, merged, role);
        }
        if check && !module.supports_check_mode() {
            // As Ansible: a module that only acts when run (`wait_for`) is skipped.
            return Outcome::skipped(&format!(
                "remote module ({}) does not support check mode",
                module.name()
            ));
        }
        let args = match self.prepare_host_args(task, args, merged, role) {
            Ok(args) => args,
            Err(message) => return Outcome::failed(located(message, &task.common.location)),
        };
        if task.module == "setup" {
            // An explicit `setup` task (re)gathers and exposes the facts.
            self.slot.facts = None;
        }
        if self.slot.facts.is_none() && module.uses_facts(&args) {
            if let Err(flow) = self.gather_facts(task.module == "setup") {
                return if flow == Flow::Unreachable {
                    Outcome {
                        status: Status::Unreachable,
                        ..Outcome::failed("host unreachable")
                    }
                } else {
                    Outcome::failed("could not gather facts")
                };
            }
        }
        let facts = self.slot.facts.clone().unwrap_or_default();
        let opened = match &delegate_to {
            Some(delegate) => self.delegate_connection(delegate).map(|_| ()),
            None => self.connection().map(|_| ()),
        };
        if let Err((status, message)) = opened {
            return Outcome {
                status,
                ..Outcome::failed(message)
            };
        }
        let slot = &mut *self.slot;
        // A delegated task plans against the delegate as it is: check mode's record of
        // earlier changes belongs to this host.
        let (connection, simulation) = match &delegate_to {
            Some(delegate) => (slot.delegates.get_mut(delegate), None),
            None => (slot.connection.as_mut(), Some(&mut slot.simulation)),
        };
        let Some(connection) = connection else {
            return Outcome::failed("no connection");
        };
        let write_become = become_as.clone();
        connection.set_become(become_as);
        let mut real = WithEnvironment {
            host: connection.as_mut(),
            environment: &environment,
        };
        let context = Context { facts: &facts };
        let planned = match (check, simulation) {
            (true, Some(simulation)) => {
                // Plan against the host as the earlier tasks' plans would have left it.
                let mut view = SimulatedHost {
                    real: &mut real,
                    simulation: &mut *simulation,
                };
                let planned = plan_task(task, &args, module, &mut view, &context);
                if let (Ok(plan), false) = (&planned, writes_on_controller(task)) {
                    simulation.absorb(plan, &mut real);
                }
                planned
            }
            _ => plan_task(task, &args, module, &mut real, &context),
        };
        let plan = match planned {
            Ok(plan) => plan,
            Err(error) => return module_failure(error),
        };
        let plan = match self.reviewed_plan(task, &args, plan, check) {
            Ok(plan) => plan,
            Err(outcome) => return *outcome,
        };
        let warnings = plan.warnings.clone();
        for warning in &warnings {
            self.runner.reporter.warning(&format!(
                "[{}] {}: {warning}",
                self.host.name,
                task_display_name(task)
            ));
        }
        let changed = plan.is_change();
        let mut result = plan.result.clone();
        if check {
            if plan.unknowable_in_check_mode && changed {
                let mut outcome = Outcome::skipped("check mode cannot tell what this would do");
                outcome.changes = plan.changes.clone();
                return outcome;
            }
            result.insert("changed".into(), json!(changed));
            return Outcome {
                status: if changed { Status::Changed } else { Status::Ok },
                changes: plan.changes,
                result,
                message: None,
                end_host: false,
            };
        }
        if !changed && !plan.always.is_empty() {
            // Steps that are no change (`daemon-reload`) still run on a real run.
            let applied = match &delegate_to {
                Some(delegate) => self.delegate_connection(delegate),
                None => self.connection(),
            }
            .map_err(|(_, message)| message)
            .and_then(|connection| {
                plan.apply(&mut WithEnvironment {
                    host: connection.as_mut(),
                    environment: &environment,
                })
                .map_err(|error| error.to_string())
            });
            if let Err(message) = applied {
                return Outcome::failed(message);
            }
        }
        if !changed {
            result.insert("changed".into(), json!(false));
            return Outcome {
                status: Status::Ok,
                changes: Vec::new(),
                result,
                message: None,
                end_host: false,
            };
        }
        // Ctrl-C: the files being written here, whose temp files the clean-up removes.
        let runner = self.runner;
        let host_name = self.host.name.clone();
        let on_controller = writes_on_controller(task);
        if delegate_to.is_none() && !on_controller {
            runner
                .interrupt
                .writing(&host_name, written_paths(&plan), write_become);
        }
        let applied = if on_controller {
            plan.apply(&mut modules::local::LocalConnection::new("localhost"))
        } else {
            let connection = match &delegate_to {
                Some(delegate) => self.delegate_connection(delegate),
                None => self.connection(),
            };
            let connection = match connection {
                Ok(connection) => connection,
                Err((_, message)) => return Outcome::failed(message),
            };
            plan.apply(&mut WithEnvironment {
                host: connection.as_mut(),
                environment: &environment,
            })
        };
        if !runner.interrupted() {
            runner.interrupt.written(&host_name);
        }
        let applied = match (applied, &plan.confirm) {
            (Ok(result), Some(confirmation)) => match self.confirm_reachable(confirmation) {
                Ok(()) => Ok(result),
                Err(message) => {
                    let mut outcome = Outcome::failed(message);
                    outcome.changes = plan.changes;
                    return outcome;
                }
            },
            (other, _) => other,
        };
        let applied = match applied.map(|result| applied_result(task, &args, module, result)) {
            Ok(Ok(result)) => Ok(result),
            Ok(Err((message, mut result))) => {
                result.insert("failed".into(), json!(true));
                result.insert("changed".into(), json!(true));
                result.insert("msg".into(), json!(message));
                return Outcome {
                    status: Status::Failed,
                    changes: plan.changes,
                    result,
                    message: Some(message),
                    end_host: false,
                };
            }
            Err(error) => Err(error),
        };
        match applied {
            Ok(mut result) => {
                // What the host said while applying (`@@converge-warning` lines).
                if let Some(Value::Array(said)) = result.get("warnings") {
                    for warning in said.iter().filter_map(Value::as_str) {
                        self.runner.reporter.warning(&format!(
                            "[{}] {}: {warning}",
                            self.host.name,
                            task_display_name(task)
                        ));
                    }
                }
                result.insert("changed".into(), json!(true));
                Outcome {
                    status: Status::Changed,
                    changes: plan.changes,
                    result,
                    message: None,
                    end_host: false,
                }
            }
            Err(ApplyError::CommandFailed {
                command: _,
                status,
                stderr,
                mut result,
            }) => {
                let message = format!(
                    "command exited with status {status}{}",
                    stderr_tail(&stderr)
                );
                result.insert("failed".into(), json!(true));
                result.insert("changed".into(), json!(true));
                result.insert("msg".into(), json!(message));
                Outcome {
                    status: Status::Failed,
                    changes: plan.changes,
                    result,
                    message: Some(message),
                    end_host: false,
                }
            }
            Err(ApplyError::Host(error)) => {
                let unreachable = is_unreachable(&error);
                let mut outcome = Outcome::failed(error.to_string());
                if unreachable {
                    outcome.status = Status::Unreachable;
                }
                outcome
            }
        }
    }

    /// Resolve controller-side paths (`copy: src=`, `template: src=`) and render templates.
    pub(super) fn prepare_host_args(
        &self,
        task: &Task,
        mut args: Value,
        merged: &Map<String, Value>,
        role: Option<&RoleInstance>,
    ) -> Result<Value, String> {
        if task.module == "fetch" {
            // What `fetch` needs to place the copy on the controller (see `fetch_plan`).
            if let Value::Object(map) = &mut args {
                map.insert(
                    "__inventory_hostname".into(),
                    Value::String(self.host.name.clone()),
                );
                map.insert(
                    "__playbook_dir".into(),
                    Value::String(self.playbook_dir.display().to_string()),
                );
            }
            return Ok(args);
        }
        if task.module == "slackbuild" {
            // Controller directories: relative to the role's files/ or the playbook.
            for key in ["repo_src", "sources"] {
                let Some(dir) = args.get(key).and_then(Value::as_str).map(str::to_string) else {
                    continue;
                };
                if Path::new(&dir).is_absolute() {
                    continue;
                }
                let candidates: Vec<PathBuf> = role
                    .map(|r| r.role.path.join("files").join(&dir))
                    .into_iter()
                    .chain([
                        self.playbook_dir.join("files").join(&dir),
                        self.playbook_dir.join(&dir),
                    ])
                    .collect();
                let found = candidates.iter().find(|p| p.is_dir()).ok_or_else(|| {
                    format!(
                        "`{key}` directory `{dir}` not found; searched {}",
                        candidates
                            .iter()
                            .map(|p| format!("`{}`", p.display()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
                if let Value::Object(map) = &mut args {
                    map.insert(key.into(), Value::String(found.display().to_string()));
                }
            }
            return Ok(args);
        }
        let kind = match task.module.as_str() {
            "copy" => playbook::SourceKind::File,
            "template" => playbook::SourceKind::Template,
            _ => return Ok(args),
        };
        let Some(src) = args.get("src").and_then(Value::as_str).map(str::to_string) else {
            return Ok(args);
        };
        let remote_src = args
            .get("remote_src")
            .is_some_and(|v| value_as_bool(v) == Some(true));
        if task.module == "copy" && remote_src {
            return Ok(args);
        }
        let path =
            playbook::resolve_source(kind, &src, role, self.playbook_dir).map_err(|searched| {
                format!(
                    "`{src}` not found; searched {}",
                    searched
                        .iter()
                        .map(|p| format!("`{}`", p.display()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        if task.module == "template" {
            let source = std::fs::read_to_string(&path)
                .map_err(|error| format!("cannot read template `{}`: {error}", path.display()))?;
            let mut vars = merged.clone();
            vars::resolve_for(&self.runner.templates, &mut vars, &source, false)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            self.add_hostvars_if_used(&mut vars, &source);
            let file_options = template::FileOptions {
                trim_blocks: args
                    .get("trim_blocks")
                    .and_then(value_as_bool)
                    .unwrap_or(true),
                lstrip_blocks: args
                    .get("lstrip_blocks")
                    .and_then(value_as_bool)
                    .unwrap_or(false),
            };
            let rendered = self
                .runner
                .templates
                .render_file_with(&path.display().to_string(), &source, &vars, file_options)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if let Value::Object(map) = &mut args {
                map.insert("__rendered".into(), Value::String(rendered));
            }
            return Ok(args);
        }
        if let Value::Object(map) = &mut args {
            map.insert("src".into(), Value::String(path.display().to_string()));
        }
        Ok(args)
    }
}

/// The files a plan writes (atomically, through temp files).
fn written_paths(plan: &converge_modules::Plan) -> Vec<String> {
    plan.always
        .iter()
        .chain(&plan.steps)
        .filter_map(|step| match step {
            converge_modules::Step::WriteFile { path, .. } => Some(path.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn plan_task(
    task: &Task,
    args: &Value,
    module: &dyn modules::Module,
    host: &mut dyn modules::Host,
    context: &Context,
) -> Result<converge_modules::Plan, ModuleError> {
    match task.module.as_str() {
        "template" => template_plan(args, host, context),
        "fetch" => fetch_plan(args, host),
        _ => module.plan(args, host, context),
    }
}

/// Whether the task's plan is applied on the controller rather than on the host.
fn writes_on_controller(task: &Task) -> bool {
    task.module == "fetch"
}

/// `fetch`: read the host's file, plan the controller's copy (placed by the inventory name
/// and playbook directory that `prepare_host_args` added).
pub(super) fn fetch_plan(
    args: &Value,
    host: &mut dyn modules::Host,
) -> Result<converge_modules::Plan, ModuleError> {
    let mut args = args.clone();
    let mut take = |key: &str| {
        args.as_object_mut()
            .and_then(|map| map.remove(key))
            .and_then(|v| v.as_str().map(str::to_string))
            .ok_or_else(|| ModuleError::failed(format!("fetch was not prepared (`{key}`)")))
    };
    let inventory_hostname = take("__inventory_hostname")?;
    let base_dir = take("__playbook_dir")?;
    let parsed = modules::module::parse_args::<modules::fetch::Fetch>(&args)?;
    let origin = modules::fetch::Origin {
        inventory_hostname: &inventory_hostname,
        base_dir: Path::new(&base_dir),
    };
    modules::fetch::plan_fetch(parsed, host, &origin)
}

impl HostRun<'_, '_> {
    /// Reviewed plans: in a `--plan-out` run, record the task's plan; in `converge apply`,
    /// swap the fresh plan for the reviewed one, or stop the host when it drifted.
    fn reviewed_plan(
        &mut self,
        task: &Task,
        args: &Value,
        plan: converge_modules::Plan,
        check: bool,
    ) -> Result<converge_modules::Plan, Box<Outcome>> {
        let Some(session) = self.options().reviewed.clone() else {
            return Ok(plan);
        };
        let location = task.common.location.to_string();
        let occurrence = self.slot.plan_keys.entry(location.clone()).or_default();
        let key = reviewed::task_key(&location, *occurrence);
        *occurrence += 1;
        let depends = self.reads_apply_time_result(task, args);
        match &*session {
            Session::Record(recorder) if check => {
                let content = reviewed::TaskContent::of(&plan);
                let reason = if plan.unknowable_in_check_mode && plan.is_change() {
                    Some("check mode cannot tell what it would do".to_string())
                } else {
                    depends.map(|name| format!("it reads `{name}`, which only a real run knows"))
                };
                let decision = match (&reason, plan.is_change()) {
                    (Some(_), _) => Decision::ApplyTime,
                    (None, true) => Decision::Changed,
                    (None, false) => Decision::Ok,
                };
                if decision == Decision::ApplyTime {
                    if let Some(name) = &task.register {
                        self.slot.apply_time_registers.insert(name.clone());
                    }
                }
                let reviewed = decision != Decision::ApplyTime;
                recorder.record(
                    &self.host.name,
                    PlannedTask {
                        key,
                        name: task_display_name(task),
                        module: task.module.clone(),
                        decision,
                        reason,
                        fingerprint: if reviewed {
                            content.fingerprint()
                        } else {
                            String::new()
                        },
                        secret: reviewed && reviewed::is_secret(&content, task.common.no_log),
                        content: reviewed.then_some(content),
                    },
                );
                Ok(plan)
            }
            Session::Apply(review) if !check => {
                match review.verdict(&self.host.name, &key, &plan) {
                    Verdict::Apply(saved) => Ok(*saved),
                    Verdict::NotReviewed(reason) => {
                        if review.reviewed_only {
                            return Err(Box::new(Outcome::failed(format!(
                                "not reviewed ({reason}); refused by --reviewed-only"
                            ))));
                        }
                        self.runner.reporter.warning(&format!(
                            "[{}] {}: not reviewed, planned now ({reason})",
                            self.host.name,
                            task_display_name(task)
                        ));
                        Ok(plan)
                    }
                    Verdict::Drifted { planned, now } => {
                        let outcome = Outcome::failed(format!(
                            "drifted: the host changed since the plan was made; it is not applied.\nplanned:\n{}\nnow:\n{}",
                            change_lines(&planned),
                            change_lines(&now)
                        ));
                        Err(Box::new(outcome))
                    }
                }
            }
            _ => Ok(plan),
        }
    }

    /// In a `--plan-out` run, a task that reads a result only a real run knows is not
    /// planned (its arguments or `when` would be guesses): it is recorded as decided at
    /// apply time, and what it registers or sets is unknown in turn.
    pub(super) fn defer_to_apply_time(&mut self, task: &Task) -> Option<Outcome> {
        let session = self.options().reviewed.clone()?;
        if !matches!(&*session, Session::Record(_)) || !self.options().check {
            return None;
        }
        let name = self.reads_apply_time_result(task, &Value::Null)?;
        let reason = format!("it reads `{name}`, which only a real run knows");
        let host_module = modules::find(&task.module)
            .is_some_and(|module| module.target() == Target::Host || task.module == "template");
        if let (Session::Record(recorder), true) = (&*session, host_module) {
            let location = task.common.location.to_string();
            let occurrence = self.slot.plan_keys.entry(location.clone()).or_default();
            let key = reviewed::task_key(&location, *occurrence);
            *occurrence += 1;
            recorder.record(
                &self.host.name,
                PlannedTask {
                    key,
                    name: task_display_name(task),
                    module: task.module.clone(),
                    decision: Decision::ApplyTime,
                    reason: Some(reason.clone()),
                    fingerprint: String::new(),
                    content: None,
                    secret: false,
                },
            );
        }
        if let Some(register) = &task.register {
            self.slot.apply_time_registers.insert(register.clone());
        }
        if task.module == "set_fact" {
            if let Some(keys) = task.args.as_object() {
                self.slot
                    .apply_time_registers
                    .extend(keys.keys().filter(|key| *key != "cacheable").cloned());
            }
        }
        Some(Outcome::skipped(&format!(
            "decided at apply time: {reason}"
        )))
    }

    /// The first registered name whose value only a real run knows that the task's
    /// arguments or conditions read.
    fn reads_apply_time_result(&self, task: &Task, args: &Value) -> Option<String> {
        if self.slot.apply_time_registers.is_empty() {
            return None;
        }
        let mut text = task.args.to_string();
        text.push_str(&args.to_string());
        for condition in &task.common.when {
            text.push('\n');
            text.push_str(&condition.expression);
        }
        self.slot
            .apply_time_registers
            .iter()
            .find(|name| mentions(&text, name))
            .cloned()
    }
}

/// True when `name` appears in `text` as a whole identifier.
fn mentions(text: &str, name: &str) -> bool {
    let identifier = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + name.len()..].chars().next();
        !before.is_some_and(identifier) && !after.is_some_and(identifier)
    })
}

/// One line per change, indented, for a drift report.
fn change_lines(changes: &[converge_modules::Change]) -> String {
    if changes.is_empty() {
        return "    (no change)".into();
    }
    changes
        .iter()
        .flat_map(|change| {
            crate::report::diff::summary(change)
                .lines()
                .map(|line| format!("    {line}"))
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The registered result of an applied plan (see [`modules::Module::applied`]); `template`'s
/// arguments carry its rendered text, which its plan consumed, and `fetch`'s its placement
/// (see `fetch_plan`).
fn applied_result(
    task: &Task,
    args: &Value,
    module: &dyn modules::Module,
    result: Map<String, Value>,
) -> modules::AppliedResult {
    if matches!(task.module.as_str(), "template" | "fetch") {
        Ok(result)
    } else {
        module.applied(args, result)
    }
}

pub(super) fn template_plan(
    args: &Value,
    host: &mut dyn modules::Host,
    context: &Context,
) -> Result<converge_modules::Plan, ModuleError> {
    let mut args = args.clone();
    let rendered = args
        .as_object_mut()
        .and_then(|map| map.remove("__rendered"))
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or_else(|| ModuleError::failed("template was not rendered"))?;
    let parsed = modules::module::parse_args::<modules::template::Template>(&args)?;
    let copy = modules::template::copy_args(parsed, rendered);
    modules::copy::plan_copy(copy, host, context)
}

pub(super) fn stderr_tail(stderr: &str) -> String {
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        let tail: Vec<&str> = trimmed.lines().rev().take(10).collect();
        format!(
            ": {}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }
}
