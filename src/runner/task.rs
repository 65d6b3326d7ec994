//! One task on one host: its loop items, each item's run (condition, arguments, dispatch),
//! `changed_when`/`failed_when`, `register`, `notify` and `ignore_errors`.

use super::outcome::{located, Outcome};
use super::play::HostRun;
use super::scope::{args_text, Scope};
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
        let merged = self.variables(scope, role, Some(&spec.items))?;
        let mut merged = merged;
        if let Value::String(source) = &spec.items {
            self.add_hostvars_if_used(&mut merged, source);
        }
        let rendered = self
            .runner
            .templates
            .render_value(&spec.items, &merged)
            .map_err(|e| e.to_string())?;
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

    pub(super) fn run_task(&mut self, task: &Task, scope: &Scope) -> Flow {
        if !self.tags_selected(&task.common.tags) {
            return Flow::Continue;
        }
        let scope = self.inner_scope(scope, &task.common);
        let role = task.common.role.clone();
        let display_name = task_display_name(task);
        self.runner
            .reporter
            .task_start(&self.host.name, &display_name);
        let items: Vec<Option<Value>> = match &task.loop_items {
            Some(spec) => match self.loop_items(spec, &scope, role.as_deref()) {
                Ok(items) => items.into_iter().map(Some).collect(),
                Err(message) => {
                    return self.finish(task, &display_name, None, Outcome::failed(message))
                }
            },
            None => vec![None],
        };
        let Some(spec) = &task.loop_items else {
            let outcome = self.run_once(task, &scope, role.as_deref());
            return self.finish(task, &display_name, None, outcome);
        };
        // A loop: one report per item, one registered result with `results`.
        let mut results = Vec::new();
        let mut any_changed = false;
        let mut any_failed = false;
        let mut all_skipped = true;
        let mut item_flow = Flow::Continue;
        for item in items.into_iter().flatten() {
            let mut item_scope = scope.clone();
            item_scope.vars.insert(spec.loop_var.clone(), item.clone());
            let label = self.item_label(spec, &item_scope, role.as_deref(), &item);
            let outcome = self.run_once(task, &item_scope, role.as_deref());
            let mut result = outcome.result.clone();
            result.insert(spec.loop_var.clone(), item.clone());
            result.insert("ansible_loop_var".into(), json!(spec.loop_var));
            any_changed |= outcome.status == Status::Changed;
            any_failed |= outcome.status == Status::Failed || outcome.status == Status::Unreachable;
            all_skipped &= outcome.status == Status::Skipped;
            results.push(Value::Object(result));
            self.report(task, &display_name, Some(label), &outcome);
            if outcome.status == Status::Unreachable {
                item_flow = Flow::Unreachable;
                break;
            }
        }
        let mut result = Map::new();
        result.insert("changed".into(), json!(any_changed));
        result.insert("failed".into(), json!(any_failed));
        result.insert("skipped".into(), json!(all_skipped && !results.is_empty()));
        result.insert("results".into(), Value::Array(results));
        if let Some(name) = &task.register {
            self.slot
                .set_facts
                .insert(name.clone(), Value::Object(result));
        }
        if item_flow == Flow::Unreachable {
            self.count(Status::Unreachable, false);
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
        self.count(status, any_failed && task.common.ignore_errors);
        if any_changed {
            self.notify(task);
        }
        if any_failed && !task.common.ignore_errors {
            return Flow::Failed;
        }
        Flow::Continue
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
        outcome: Outcome,
    ) -> Flow {
        self.report(task, display_name, item, &outcome);
        let ignored = outcome.status == Status::Failed && task.common.ignore_errors;
        self.count(outcome.status, ignored);
        if let Some(name) = &task.register {
            self.slot
                .set_facts
                .insert(name.clone(), Value::Object(outcome.result.clone()));
        }
        match outcome.status {
            Status::Changed => {
                self.notify(task);
                Flow::Continue
            }
            Status::Failed if ignored => Flow::Continue,
            Status::Failed => Flow::Failed,
            Status::Unreachable => Flow::Unreachable,
            Status::Ok | Status::Skipped if outcome.end_host => Flow::EndHost,
            Status::Ok | Status::Skipped => Flow::Continue,
        }
    }

    /// One execution of a task (one loop item): when, render, plan, apply, changed_when.
    pub(super) fn run_once(
        &mut self,
        task: &Task,
        scope: &Scope,
        role: Option<&RoleInstance>,
    ) -> Outcome {
        match self.conditions_hold(&task.common.when, scope, role) {
            Ok(true) => {}
            Ok(false) => return Outcome::skipped("conditional result was false"),
            Err(message) => return Outcome::failed(message),
        }
        let mut merged = match self.variables(scope, role, Some(&task.args)) {
            Ok(merged) => merged,
            Err(message) => return Outcome::failed(located(message, &task.common.location)),
        };
        if let Some(text) = args_text(&task.args) {
            self.add_hostvars_if_used(&mut merged, &text);
        }
        let args = match self.runner.templates.render_value(&task.args, &merged) {
            Ok(args) => template::strip_omitted(args),
            Err(error) => {
                return Outcome::failed(located(error.to_string(), &task.common.location))
            }
        };
        let check = match task.common.check_mode {
            Some(forced) => forced,
            None => self.options().check,
        };
        let become_as = self.effective_become(scope);
        let mut outcome = self.dispatch(task, args, &merged, check, role, become_as);
        if outcome.status == Status::Unreachable {
            return outcome;
        }
        self.apply_overrides(task, &mut outcome, &mut merged);
        outcome
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
