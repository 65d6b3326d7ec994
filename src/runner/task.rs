//! One task on one host: its loop items, each item's run (condition, arguments, dispatch),
//! `changed_when`/`failed_when`, `register`, `notify` and `ignore_errors`.

use super::host_run::HostRun;
use super::outcome::{located, Outcome};
use super::scope::Scope;
use super::{task_display_name, Flow};
use crate::playbook::{Loop, RoleInstance, Task};
use crate::report::Status;
use crate::template;
use serde_json::{json, Map, Value};

impl HostRun<'_, '_> {
    pub(super) fn loop_items(
        &self,
        spec: &Loop,
        scope: &Scope,
        role: Option<&RoleInstance>,
    ) -> Result<Vec<Value>, String> {
        let mut merged = self.variables(scope, role, Some(&spec.items))?;
        if let Value::String(source) = &spec.items {
            self.add_hostvars_if_used(&mut merged, source);
        }
        let rendered = self
            .runner
            .templates
            .render_value(&spec.items, &merged)
            .map_err(|e| e.to_string())?;
        if let Some(lookup) = &spec.lookup {
            // `with_<lookup>: terms` is `loop: "{{ query('<lookup>', terms) }}"`, searched
            // from the role's directory, then the playbook's.
            let context = template::LookupContext::from_vars(&merged);
            return template::lookup_items(lookup, &rendered, &context, spec.lookup_subdir)
                .map_err(|e| format!("`with_{lookup}`: {e}"));
        }
        let items = match rendered {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            other => {
                return Err(format!(
                    "`loop` needs a list, but it gave {}",
                    describe(&other)
                ))
            }
        };
        if spec.flatten {
            return Ok(items
                .into_iter()
                .flat_map(|item| match item {
                    Value::Array(inner) => inner,
                    other => vec![other],
                })
                .collect());
        }
        Ok(items)
    }

    /// What a task whose loop could not be computed gives. As in Ansible, a loop over an
    /// undefined value is not an error yet: the task's `when` is evaluated without an item
    /// first, and a false one skips the task (`loop: "{{ user.keys }}"` with
    /// `when: user.keys is defined`). Any other loop error fails the task.
    fn loop_error_outcome(
        &self,
        task: &Task,
        scope: &Scope,
        role: Option<&RoleInstance>,
        message: String,
    ) -> Outcome {
        if message.contains("undefined") {
            let conditions: Vec<_> = scope
                .when
                .iter()
                .chain(&task.common.when)
                .cloned()
                .collect();
            if let Ok(false) = self.conditions_hold(&conditions, scope, role) {
                return Outcome::skipped("conditional result was false");
            }
        }
        Outcome::failed(located(message, &task.common.location))
    }

    pub(super) fn run_task(&mut self, task: &Task, scope: &Scope) -> Flow {
        if !self.tags_selected(&task.common.tags) {
            return Flow::Continue;
        }
        let scope = self.inner_scope(scope, &task.common);
        if scope.run_once {
            return self.run_task_once_for_batch(task, &scope);
        }
        self.run_task_here(task, &scope)
    }

    /// `run_once`: the first host of the batch to reach the task runs it; the others wait
    /// for it and take its registered result, as Ansible gives every host of the batch the
    /// one run's result.
    fn run_task_once_for_batch(&mut self, task: &Task, scope: &Scope) -> Flow {
        let key = format!("{}@{}", self.play.location, task.common.location);
        let shared = self.runner.run_once_slot(key);
        let mut shared = super::lock(&shared);
        if let Some(earlier) = shared.as_ref() {
            if let Some(name) = &task.register {
                self.slot
                    .set_facts
                    .insert(name.clone(), Value::Object(earlier.result.clone()));
            }
            return match earlier.status {
                Status::Failed | Status::Unreachable
                    if !self.ignores_errors(task, scope, task.common.role.as_deref()) =>
                {
                    self.report_failure(
                        &task_display_name(task),
                        format!("failed on {} (run_once)", earlier.host),
                    );
                    Flow::Failed
                }
                Status::Changed => {
                    self.notify(task);
                    Flow::Continue
                }
                _ => Flow::Continue,
            };
        }
        self.last_result = None;
        let flow = self.run_task_here(task, scope);
        if let Some((status, result)) = self.last_result.take() {
            *shared = Some(super::SharedResult {
                host: self.host.name.clone(),
                status,
                result,
            });
        }
        flow
    }

    /// The task's name as the report shows it, its templates rendered with the host's
    /// variables as Ansible does (`Install {{ package }}`); the name as written when it
    /// cannot be rendered yet (a loop's `item`, a name registered later).
    fn rendered_name(&self, task: &Task, scope: &Scope, role: Option<&RoleInstance>) -> String {
        let name = task_display_name(task);
        if !name.contains("{{") {
            return name;
        }
        let source = Value::String(name.clone());
        let rendered = self.variables(scope, role, Some(&source)).and_then(|vars| {
            self.runner
                .templates
                .render_value(&source, &vars)
                .map_err(|error| error.to_string())
        });
        match rendered {
            Ok(Value::String(text)) => text,
            Ok(other) => other.to_string(),
            Err(_) => name,
        }
    }

    fn run_task_here(&mut self, task: &Task, scope: &Scope) -> Flow {
        let role = task.common.role.clone();
        let display_name = self.rendered_name(task, scope, role.as_deref());
        let ignore_errors = self.ignores_errors(task, scope, role.as_deref());
        self.runner
            .reporter
            .task_start(&self.host.name, &display_name);
        self.runner
            .interrupt
            .task_started(&self.host.name, &display_name);
        let Some(spec) = &task.loop_items else {
            let outcome = self.run_item(task, scope, role.as_deref());
            return self.finish(task, &display_name, None, outcome, ignore_errors);
        };
        let items = match self.loop_items(spec, scope, role.as_deref()) {
            Ok(items) => items,
            Err(message) => {
                let outcome = self.loop_error_outcome(task, scope, role.as_deref(), message);
                return self.finish(task, &display_name, None, outcome, ignore_errors);
            }
        };
        // A loop: one report per item, one registered result with `results`.
        let mut results = Vec::new();
        let mut any_changed = false;
        let mut any_failed = false;
        let mut all_skipped = true;
        let mut item_flow = Flow::Continue;
        let count = items.len();
        for (index, item) in items.iter().enumerate() {
            if index > 0 && spec.pause > 0.0 {
                std::thread::sleep(std::time::Duration::from_secs_f64(spec.pause));
            }
            let mut item_scope = scope.clone();
            item_scope.vars.insert(spec.loop_var.clone(), item.clone());
            if let Some(index_var) = &spec.index_var {
                item_scope.vars.insert(index_var.clone(), json!(index));
            }
            if spec.extended {
                item_scope
                    .vars
                    .insert("ansible_loop".into(), extended_loop(&items, index));
            }
            let label = self.item_label(spec, &item_scope, role.as_deref(), item);
            let outcome = self.run_item(task, &item_scope, role.as_deref());
            let mut result = outcome.result.clone();
            result.insert(spec.loop_var.clone(), item.clone());
            result.insert("ansible_loop_var".into(), json!(spec.loop_var));
            if let Some(index_var) = &spec.index_var {
                result.insert(index_var.clone(), json!(index));
                result.insert("ansible_index_var".into(), json!(index_var));
            }
            if spec.extended {
                result.insert("ansible_loop".into(), extended_loop(&items, index));
            }
            any_changed |= outcome.status == Status::Changed;
            any_failed |= outcome.status == Status::Failed || outcome.status == Status::Unreachable;
            all_skipped &= outcome.status == Status::Skipped;
            if self.interrupted_now(&outcome) {
                return Flow::EndHost;
            }
            results.push(Value::Object(result));
            self.report(task, &display_name, Some(label), &outcome, ignore_errors);
            if outcome.status == Status::Unreachable {
                item_flow = Flow::Unreachable;
                break;
            }
        }
        debug_assert!(results.len() <= count);
        let mut result = Map::new();
        result.insert("changed".into(), json!(any_changed));
        result.insert("failed".into(), json!(any_failed));
        result.insert("skipped".into(), json!(all_skipped && !results.is_empty()));
        result.insert("results".into(), Value::Array(results));
        result.insert("msg".into(), json!("All items completed"));
        if let Some(name) = &task.register {
            self.slot
                .set_facts
                .insert(name.clone(), Value::Object(result.clone()));
        }
        if item_flow == Flow::Unreachable {
            self.count(Status::Unreachable, false);
            self.last_result = Some((Status::Unreachable, result));
            return Flow::Unreachable;
        }
        let status = if any_failed {
            Status::Failed
        } else if any_changed {
            Status::Changed
        } else if all_skipped {
            Status::Skipped
        } else {
            Status::Ok
        };
        if status == Status::Failed && !(any_failed && ignore_errors) {
            self.last_failure = Some((failed_task(task, &display_name), result.clone()));
        }
        self.last_result = Some((status, result));
        self.count(status, any_failed && ignore_errors);
        if any_changed {
            self.notify(task);
        }
        if any_failed && !ignore_errors {
            self.fatal_failure |= scope.any_errors_fatal;
            return Flow::Failed;
        }
        Flow::Continue
    }

    /// `ignore_errors:`, deciding a templated one with the task's variables (a template
    /// that cannot be evaluated does not ignore anything).
    pub(super) fn ignores_errors(
        &self,
        task: &Task,
        scope: &Scope,
        role: Option<&RoleInstance>,
    ) -> bool {
        match &task.common.templated_flags.ignore_errors {
            Some(condition) => self
                .conditions_hold(std::slice::from_ref(condition), scope, role)
                .unwrap_or(false),
            None => task.common.ignore_errors,
        }
    }

    pub(super) fn item_label(
        &self,
        spec: &Loop,
        scope: &Scope,
        role: Option<&RoleInstance>,
        item: &Value,
    ) -> String {
        if let Some(label) = &spec.label {
            if let Ok(vars) = self.variables(scope, role, Some(&Value::String(label.clone()))) {
                if let Ok(text) = self.runner.templates.render_str(label, &vars) {
                    return text;
                }
            }
        }
        match item {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }

    pub(super) fn notify(&mut self, task: &Task) {
        for name in &task.notify {
            if !self.notified.contains(name) {
                self.notified.push(name.clone());
            }
        }
    }

    /// Report, count, register, notify, and say whether the host goes on.
    pub(super) fn finish(
        &mut self,
        task: &Task,
        display_name: &str,
        item: Option<String>,
        mut outcome: Outcome,
        ignore_errors: bool,
    ) -> Flow {
        if self.interrupted_now(&outcome) {
            return Flow::EndHost;
        }
        if outcome.message.is_none() && crate::adhoc::shows_result(task, &outcome.result) {
            outcome.message = Some(crate::adhoc::result_text(&task.module, &outcome.result));
        }
        self.report(task, display_name, item, &outcome, ignore_errors);
        let ignored = outcome.status == Status::Failed && ignore_errors;
        self.count(outcome.status, ignored);
        if let Some(name) = &task.register {
            self.slot
                .set_facts
                .insert(name.clone(), Value::Object(outcome.result.clone()));
        }
        self.last_result = Some((outcome.status, outcome.result.clone()));
        if outcome.status == Status::Failed && !ignored {
            self.last_failure = Some((failed_task(task, display_name), outcome.result.clone()));
        }
        match outcome.status {
            Status::Changed => {
                self.notify(task);
                Flow::Continue
            }
            Status::Failed if ignored => Flow::Continue,
            Status::Failed => {
                self.fatal_failure |= task.common.any_errors_fatal;
                Flow::Failed
            }
            Status::Unreachable => Flow::Unreachable,
            Status::Ok | Status::Skipped if outcome.end_host => Flow::EndHost,
            Status::Ok | Status::Skipped => Flow::Continue,
        }
    }

    /// A task that failed because Ctrl-C cut it short (its connection shut, its local
    /// command killed) is neither reported nor counted: the run says it was interrupted.
    fn interrupted_now(&self, outcome: &super::outcome::Outcome) -> bool {
        if !matches!(outcome.status, Status::Failed | Status::Unreachable) {
            return false;
        }
        // A local command gets the terminal's SIGINT together with converge and may die
        // (status 130) before converge's own handler has noted the signal: give it a moment.
        if outcome.result.get("rc").and_then(Value::as_i64) == Some(130) {
            for _ in 0..10 {
                if self.runner.interrupted() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        self.runner.interrupted()
    }

    /// `changed_when` / `failed_when`, evaluated with the task's own result registered.
    pub(super) fn apply_overrides(
        &self,
        task: &Task,
        outcome: &mut Outcome,
        merged: &mut Map<String, Value>,
    ) {
        if task.changed_when.is_none() && task.failed_when.is_none() {
            return;
        }
        if outcome.status == Status::Skipped {
            return;
        }
        if let Some(name) = &task.register {
            merged.insert(name.clone(), Value::Object(outcome.result.clone()));
        }
        if let Some(conditions) = &task.changed_when {
            match self.evaluate_all(conditions, merged) {
                Ok(changed) => {
                    if outcome.status != Status::Failed {
                        outcome.status = if changed { Status::Changed } else { Status::Ok };
                        if !changed {
                            outcome.changes.clear();
                        }
                    }
                    outcome.result.insert("changed".into(), json!(changed));
                }
                Err(message) => *outcome = Outcome::failed(message),
            }
        }
        if let Some(conditions) = &task.failed_when {
            match self.evaluate_all(conditions, merged) {
                Ok(failed) => {
                    outcome.result.insert("failed".into(), json!(failed));
                    if failed {
                        outcome.status = Status::Failed;
                        if outcome.message.is_none() {
                            outcome.message = Some("failed_when condition held".into());
                        }
                    } else if outcome.status == Status::Failed {
                        let changed = outcome.result.get("changed").and_then(Value::as_bool);
                        outcome.status = if changed == Some(true) {
                            Status::Changed
                        } else {
                            Status::Ok
                        };
                        outcome.message = None;
                    }
                }
                Err(message) => *outcome = Outcome::failed(message),
            }
        }
    }
}

pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string `{s}`"),
        Value::Object(_) => "a mapping".into(),
        other => format!("`{other}`"),
    }
}

/// `ansible_loop` for item `index` of `items` (`loop_control: {extended: true}`). As in
/// Ansible, the first item has no `previtem` and the last no `nextitem`.
fn extended_loop(items: &[Value], index: usize) -> Value {
    let length = items.len();
    let mut ansible_loop = json!({
        "allitems": items,
        "index": index + 1,
        "index0": index,
        "revindex": length - index,
        "revindex0": length - index - 1,
        "first": index == 0,
        "last": index + 1 == length,
        "length": length,
    });
    if let Value::Object(map) = &mut ansible_loop {
        if index > 0 {
            map.insert("previtem".into(), items[index - 1].clone());
        }
        if let Some(next) = items.get(index + 1) {
            map.insert("nextitem".into(), next.clone());
        }
    }
    ansible_loop
}

/// `ansible_failed_task` as a rescue sees it: the task's name and module.
fn failed_task(task: &Task, display_name: &str) -> Value {
    json!({
        "name": task.common.name.clone().unwrap_or_else(|| display_name.to_string()),
        "action": task.module,
    })
}
