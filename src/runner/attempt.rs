//! One execution of a task (a loop item, or the task without a loop): its conditions, the
//! attempts `until:` asks for, the arguments rendered, how and where it runs (check mode,
//! become, `environment`, `delegate_to`), and the facts a host module returns.

use super::dispatch::Execution;
use super::host_run::HostRun;
use super::outcome::{located, Outcome};
use super::scope::{args_text, Scope};
use super::task::describe;
use super::task_display_name;
use crate::playbook::{Condition, RoleInstance, Task};
use crate::report::Status;
use crate::template;
use serde_json::{json, Map, Value};

impl HostRun<'_, '_> {
    /// One execution of a task (one loop item): its conditions, then attempts until its
    /// `until:` holds.
    pub(super) fn run_item(
        &mut self,
        task: &Task,
        scope: &Scope,
        role: Option<&RoleInstance>,
    ) -> Outcome {
        if let Some(deferred) = self.defer_to_apply_time(task) {
            return deferred;
        }
        let conditions: Vec<Condition> = scope
            .when
            .iter()
            .chain(&task.common.when)
            .cloned()
            .collect();
        match self.conditions_hold(&conditions, scope, role) {
            Ok(true) => {}
            Ok(false) => return Outcome::skipped("conditional result was false"),
            Err(message) => return Outcome::failed(message),
        }
        // A module or argument Ansible has and converge lacks fails only where it is reached.
        if let Some(reason) = task.not_implemented() {
            return Outcome::failed(format!("{reason}\nhint: {}", reason.hint()));
        }
        let Some(retry) = &task.until else {
            return self.attempt(task, scope, role).0;
        };
        let (retries, delay) = match (
            self.number(&retry.retries, scope, role),
            self.number(&retry.delay, scope, role),
        ) {
            (Ok(retries), Ok(delay)) => (retries, delay),
            (Err(message), _) | (_, Err(message)) => {
                return Outcome::failed(located(message, &task.common.location))
            }
        };
        // As Ansible: `retries: 3` means up to four attempts, and never fewer than one.
        let attempts = if retries <= 0.0 {
            1
        } else {
            retries as u64 + 1
        };
        let mut attempt = 1;
        loop {
            let (mut outcome, mut merged) = self.attempt(task, scope, role);
            if matches!(outcome.status, Status::Unreachable | Status::Skipped) {
                return outcome;
            }
            outcome.result.insert("attempts".into(), json!(attempt));
            let register = task.register.clone().unwrap_or_else(|| "result".into());
            merged.insert(register, Value::Object(outcome.result.clone()));
            let done = match self.evaluate_all(&retry.until, &mut merged) {
                Ok(done) => done,
                Err(message) => return Outcome::failed(message),
            };
            if done {
                return outcome;
            }
            if attempt >= attempts {
                outcome.status = Status::Failed;
                outcome.result.insert("failed".into(), json!(true));
                if outcome.message.is_none() {
                    let message = format!("`until` did not hold after {attempt} attempts");
                    outcome.result.insert("msg".into(), json!(message));
                    outcome.message = Some(message);
                }
                return outcome;
            }
            self.runner.reporter.warning(&format!(
                "[{}] {}: retrying ({} attempts left)",
                self.host.name,
                task_display_name(task),
                attempts - attempt
            ));
            std::thread::sleep(std::time::Duration::from_secs_f64(delay.max(0.0)));
            attempt += 1;
        }
    }

    /// A number keyword (`retries`, `delay`), written as a number or a template of one.
    fn number(
        &self,
        value: &Value,
        scope: &Scope,
        role: Option<&RoleInstance>,
    ) -> Result<f64, String> {
        let vars = self.variables(scope, role, Some(value))?;
        let rendered = self
            .runner
            .templates
            .render_value(value, &vars)
            .map_err(|e| e.to_string())?;
        match &rendered {
            Value::Number(n) => n.as_f64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        }
        .ok_or_else(|| format!("expected a number, found {}", describe(&rendered)))
    }

    /// One attempt: render the arguments, dispatch, then `changed_when`/`failed_when`. The
    /// variables are returned for `until`.
    fn attempt(
        &mut self,
        task: &Task,
        scope: &Scope,
        role: Option<&RoleInstance>,
    ) -> (Outcome, Map<String, Value>) {
        let mut merged = match self.variables(scope, role, Some(&task.args)) {
            Ok(merged) => merged,
            Err(message) => {
                return (
                    Outcome::failed(located(message, &task.common.location)),
                    Map::new(),
                )
            }
        };
        if let Some(text) = args_text(&task.args) {
            self.add_hostvars_if_used(&mut merged, &text);
        }
        let args = match self.runner.templates.render_value(&task.args, &merged) {
            Ok(args) => template::strip_omitted(args),
            Err(error) => {
                let message = located(error.to_string(), &task.common.location);
                return (Outcome::failed(message), merged);
            }
        };
        let execution = match self.execution(task, scope, role) {
            Ok(execution) => execution,
            Err(message) => {
                return (
                    Outcome::failed(located(message, &task.common.location)),
                    merged,
                )
            }
        };
        let mut outcome = self.dispatch(task, args, &merged, role, execution);
        if outcome.status == Status::Unreachable {
            return (outcome, merged);
        }
        self.keep_module_facts(task, &outcome);
        self.apply_overrides(task, &mut outcome, &mut merged);
        (outcome, merged)
    }

    /// Facts a host module returns (`getent`, `service_facts`, `package_facts`…) become the
    /// host's facts, as in Ansible: under `ansible_facts` and as variables of their own name.
    fn keep_module_facts(&mut self, task: &Task, outcome: &Outcome) {
        if matches!(outcome.status, Status::Failed | Status::Skipped) {
            return;
        }
        let is_host_module = converge_modules::find(&task.module)
            .is_some_and(|module| module.target() == converge_modules::Target::Host);
        let Some(Value::Object(facts)) = outcome.result.get("ansible_facts") else {
            return;
        };
        if !is_host_module || task.module == "setup" {
            return;
        }
        let fact_vars = &mut self.slot.fact_vars;
        let mut namespaced = match fact_vars.remove("ansible_facts") {
            Some(Value::Object(map)) => map,
            _ => Map::new(),
        };
        for (key, value) in facts {
            // `ansible_hostname` is `ansible_facts.hostname`, as gathered facts are.
            let short = key.strip_prefix("ansible_").unwrap_or(key);
            namespaced.insert(short.to_string(), value.clone());
            fact_vars.insert(key.clone(), value.clone());
        }
        fact_vars.insert("ansible_facts".into(), Value::Object(namespaced));
    }

    /// How the task runs: check mode (fixed, templated or the run's), who it runs as, its
    /// environment, and where (`delegate_to`).
    pub(super) fn execution(
        &self,
        task: &Task,
        scope: &Scope,
        role: Option<&RoleInstance>,
    ) -> Result<Execution, String> {
        let check = match (
            &task.common.templated_flags.check_mode,
            task.common.check_mode,
        ) {
            (Some(condition), _) => {
                self.conditions_hold(std::slice::from_ref(condition), scope, role)?
            }
            (None, Some(forced)) => forced,
            (None, None) => self.options().check,
        };
        let delegate_to = match &scope.delegate_to {
            Some(target) => {
                let vars = self.variables(scope, role, Some(&Value::String(target.clone())))?;
                let rendered = self
                    .runner
                    .templates
                    .render_str(target, &vars)
                    .map_err(|e| format!("delegate_to: {e}"))?;
                // Delegating to the host itself is no delegation.
                (rendered != self.host.name).then_some(rendered)
            }
            None => None,
        };
        // `become_user: "{{ user.name }}"` is a template, rendered for this item as Ansible does.
        let become_as = match self.effective_become(scope) {
            Some(mut become_as)
                if become_as.user.contains("{{") || become_as.user.contains("{%") =>
            {
                let user = Value::String(become_as.user.clone());
                let vars = self.variables(scope, role, Some(&user))?;
                become_as.user = self
                    .runner
                    .templates
                    .render_str(&become_as.user, &vars)
                    .map_err(|e| format!("become_user: {e}"))?;
                Some(become_as)
            }
            other => other,
        };
        Ok(Execution {
            check,
            become_as,
            environment: self.environment(scope, role)?,
            delegate_to,
        })
    }
}
