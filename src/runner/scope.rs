//! The variables a task sees, layered in Ansible's precedence, the conditions evaluated with
//! them (`when`, `changed_when`, `failed_when`, `assert`), and the user a task runs as.

use super::host_run::HostRun;
use crate::connection::{Become, BecomeMethod};
use crate::playbook::{BecomeSettings, Common, Condition, RoleInstance};
use crate::template;
use crate::vars;
use serde_json::{json, Map, Value};

/// What the enclosing blocks and includes impose on a task when it runs.
#[derive(Clone, Default)]
pub(super) struct Scope {
    pub(super) vars: Map<String, Value>,
    pub(super) become_settings: BecomeSettings,
    /// `environment:` of every enclosing level, outermost first (inner keys win).
    pub(super) environment: Vec<Value>,
    /// The innermost `delegate_to:`.
    pub(super) delegate_to: Option<String>,
    /// `run_once:` on an enclosing block.
    pub(super) run_once: bool,
    /// `any_errors_fatal:` on an enclosing block.
    pub(super) any_errors_fatal: bool,
    /// Conditions from an include's `apply:`, checked on every included task.
    pub(super) when: Vec<Condition>,
}

impl HostRun<'_, '_> {
    /// The scope inside a block, include or task: `scope` with `common`'s keywords added.
    pub(super) fn inner_scope(&self, scope: &Scope, common: &Common) -> Scope {
        let mut inner = scope.clone();
        for (key, value) in &common.vars {
            inner.vars.insert(key.clone(), value.clone());
        }
        inner.become_settings = common.become_settings.inherit(&scope.become_settings);
        if let Some(environment) = &common.environment {
            inner.environment.push(environment.clone());
        }
        if common.delegate_to.is_some() {
            inner.delegate_to.clone_from(&common.delegate_to);
        }
        inner.run_once |= common.run_once;
        inner.any_errors_fatal |= common.any_errors_fatal;
        inner
    }

    /// The scope an include's `apply:` gives its tasks.
    pub(super) fn applied_scope(&self, scope: &Scope, apply: &Common) -> Scope {
        let mut inner = self.inner_scope(scope, apply);
        inner.when.extend(apply.when.iter().cloned());
        inner
    }

    /// The environment variables a task's commands get: every level's `environment:`
    /// rendered and merged, inner levels winning.
    pub(super) fn environment(
        &self,
        scope: &Scope,
        role: Option<&RoleInstance>,
    ) -> Result<Vec<(String, String)>, String> {
        let mut levels: Vec<&Value> = Vec::new();
        if let Some(play) = &self.play.environment {
            levels.push(play);
        }
        levels.extend(scope.environment.iter());
        let mut merged: Map<String, Value> = Map::new();
        for level in levels {
            let vars = self.variables(scope, role, Some(level))?;
            let rendered = self
                .runner
                .templates
                .render_value(level, &vars)
                .map_err(|e| format!("environment: {e}"))?;
            let maps = match rendered {
                Value::Array(items) => items,
                other => vec![other],
            };
            for map in maps {
                match map {
                    Value::Object(map) => merged.extend(map),
                    Value::Null => {}
                    other => {
                        return Err(format!(
                            "`environment` must be a mapping of variables, but it gave `{other}`"
                        ))
                    }
                }
            }
        }
        Ok(merged
            .into_iter()
            .filter(|(_, value)| value.as_str() != Some(template::OMIT))
            .map(|(key, value)| {
                let text = match value {
                    Value::String(text) => text,
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                (key, text)
            })
            .collect())
    }

    /// The task's variables, with every variable `source` reads rendered.
    pub(super) fn variables(
        &self,
        scope: &Scope,
        role: Option<&RoleInstance>,
        source: Option<&Value>,
    ) -> Result<Map<String, Value>, String> {
        let mut merged = self.base_variables(scope, role);
        if let Some(source) = source {
            self.add_inventory_wide(&mut merged, |name| vars::mentions(source, name));
            vars::resolve_value(&self.runner.templates, &mut merged, source)
                .map_err(|e| e.to_string())?;
        }
        Ok(merged)
    }

    /// Add the variables that list every host (`groups`, `ansible_play_hosts`,
    /// `ansible_play_batch`) for which `mentioned` holds. Cloned into every task's
    /// variables they would cost each host time and memory in proportion to the inventory,
    /// so a run's cost would grow with the square of its hosts.
    pub(super) fn add_inventory_wide(
        &self,
        merged: &mut Map<String, Value>,
        mentioned: impl Fn(&str) -> bool,
    ) {
        for name in INVENTORY_WIDE {
            if merged.contains_key(name) || !mentioned(name) {
                continue;
            }
            let value = match name {
                "groups" => Value::Object(self.runner.inventory.groups_map()),
                _ => Value::Array(self.play_hosts.to_vec()),
            };
            merged.insert(name.into(), value);
        }
    }

    pub(super) fn base_variables(
        &self,
        scope: &Scope,
        role: Option<&RoleInstance>,
    ) -> Map<String, Value> {
        let inventory = self.runner.inventory;
        let host_vars = inventory.host_vars(&self.host.name);
        let mut layers: Vec<&Map<String, Value>> = Vec::new();
        for instance in &self.play.roles {
            layers.push(&instance.role.defaults);
        }
        if let Some(role) = role {
            layers.push(&role.role.defaults);
        }
        layers.push(&host_vars);
        layers.push(&self.slot.fact_vars);
        layers.push(&self.play.vars);
        let prompted: Map<String, Value> = self
            .play
            .vars_prompt
            .iter()
            .filter_map(|prompt| {
                let answer = self.options().prompted.get(&prompt.name)?;
                Some((prompt.name.clone(), answer.clone()))
            })
            .collect();
        layers.push(&prompted);
        for file in &self.play.vars_files {
            layers.push(&file.vars);
        }
        if let Some(role) = role {
            layers.push(&role.role.vars);
        }
        layers.push(&scope.vars);
        layers.push(&self.slot.include_vars);
        layers.push(&self.slot.set_facts);
        if let Some(role) = role {
            layers.push(&role.params);
        }
        layers.push(&self.options().extra_vars);
        let mut merged = vars::merge(layers);
        merged.insert("inventory_hostname".into(), json!(self.host.name));
        merged.insert(
            "inventory_hostname_short".into(),
            json!(self.host.name.split('.').next().unwrap_or(&self.host.name)),
        );
        merged.insert(
            "group_names".into(),
            Value::Array(
                self.host
                    .group_names()
                    .into_iter()
                    .map(Value::String)
                    .collect(),
            ),
        );
        merged.insert(
            "playbook_dir".into(),
            json!(self.playbook_dir.display().to_string()),
        );
        merged.insert("ansible_check_mode".into(), json!(self.options().check));
        merged.insert("omit".into(), json!(template::OMIT));
        if let Some(role) = role {
            merged.insert("role_name".into(), json!(role.role.name));
            merged.insert(
                "role_path".into(),
                json!(role.role.path.display().to_string()),
            );
        }
        // Read through another variable (`web: "{{ groups['web'] }}"`).
        let read: Vec<&str> = INVENTORY_WIDE
            .into_iter()
            .filter(|name| merged.values().any(|value| vars::mentions(value, name)))
            .collect();
        self.add_inventory_wide(&mut merged, |name| read.contains(&name));
        merged
    }

    /// `hostvars` is large; it is added only for the templates that use it.
    pub(super) fn add_hostvars_if_used(&self, vars: &mut Map<String, Value>, source: &str) {
        self.add_inventory_wide(vars, |name| source.contains(name));
        if source.contains("hostvars") {
            let inventory = self.runner.inventory;
            let hostvars: Map<String, Value> = inventory
                .hosts()
                .iter()
                .map(|h| (h.name.clone(), Value::Object(inventory.host_vars(&h.name))))
                .collect();
            vars.insert("hostvars".into(), Value::Object(hostvars));
        }
    }

    pub(super) fn conditions_hold(
        &self,
        conditions: &[Condition],
        scope: &Scope,
        role: Option<&RoleInstance>,
    ) -> Result<bool, String> {
        if conditions.is_empty() {
            return Ok(true);
        }
        let mut merged = self.base_variables(scope, role);
        self.evaluate_all(conditions, &mut merged)
    }

    pub(super) fn evaluate_all(
        &self,
        conditions: &[Condition],
        merged: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        let templates = &self.runner.templates;
        for condition in conditions {
            let located = |e: template::TemplateError| {
                format!(
                    "{} (in `{}` at {})",
                    e, condition.expression, condition.location
                )
            };
            vars::resolve_for(templates, merged, &condition.expression, true).map_err(located)?;
            self.add_hostvars_if_used(merged, &condition.expression);
            if !templates
                .eval_condition(&condition.expression, merged)
                .map_err(located)?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub(super) fn effective_become(&self, scope: &Scope) -> Option<Become> {
        let host_vars = self.connection_vars(&self.host.name);
        let from_inventory = BecomeSettings {
            enabled: host_vars.get("ansible_become").and_then(value_as_bool),
            user: host_vars
                .get("ansible_become_user")
                .and_then(Value::as_str)
                .map(str::to_string),
            method: host_vars
                .get("ansible_become_method")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        let settings = self
            .options()
            .become_settings
            .inherit(&scope.become_settings)
            .inherit(&from_inventory);
        let enabled =
            self.options().become_settings.enabled == Some(true) || settings.enabled == Some(true);
        if !enabled {
            return None;
        }
        Some(Become {
            user: settings.user.unwrap_or_else(|| "root".into()),
            method: match settings.method.as_deref() {
                Some("su") => BecomeMethod::Su,
                _ => BecomeMethod::Sudo,
            },
            password: self.options().become_password.clone(),
        })
    }
}

/// The variables that list every host: see [`HostRun::add_inventory_wide`].
const INVENTORY_WIDE: [&str; 3] = ["groups", "ansible_play_hosts", "ansible_play_batch"];

pub(super) fn args_text(args: &Value) -> Option<String> {
    let text = args.to_string();
    text.contains("hostvars").then_some(text)
}

pub(super) fn value_as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Some(true),
            "no" | "false" | "off" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}
