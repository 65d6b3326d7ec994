//! The modules that act on the run itself rather than on the host: debug, fail, assert,
//! set_fact, include_vars and meta. Each is one function here; the module crate only defines
//! and validates their arguments.

use super::outcome::Outcome;
use super::play::HostRun;
use crate::playbook::{Condition, RoleInstance, Task};
use crate::report::Status;
use crate::vars;
use converge_modules as modules;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

impl HostRun<'_, '_> {
    pub(super) fn controller_module(
        &mut self,
        task: &Task,
        args: Value,
        merged: &Map<String, Value>,
        role: Option<&RoleInstance>,
    ) -> Outcome {
        let result = match task.module.as_str() {
            "debug" => parse(args).map(|parsed| self.debug(parsed, merged)),
            "fail" => {
                parse(args).map(|parsed: modules::fail::FailArgs| Outcome::failed(parsed.msg))
            }
            "assert" => parse(args).map(|parsed| self.assert(parsed, task, merged)),
            "set_fact" => Ok(self.set_fact(args)),
            "include_vars" => parse(args).map(|parsed| self.include_vars(parsed, role)),
            "meta" => parse(args).map(meta),
            other => Err(format!(
                "module `{other}` runs on the controller but converge does not run it yet"
            )),
        };
        result.unwrap_or_else(Outcome::failed)
    }

    fn debug(&self, parsed: modules::debug::DebugArgs, merged: &Map<String, Value>) -> Outcome {
        let mut result = Map::new();
        let text = if let Some(var) = &parsed.var {
            let mut vars = merged.clone();
            let templates = &self.runner.templates;
            let value = vars::resolve_for(templates, &mut vars, var, true)
                .map_err(|e| e.to_string())
                .and_then(|()| templates.eval(var, &vars).map_err(|e| e.to_string()));
            match value {
                Ok(value) => {
                    result.insert(var.clone(), value.clone());
                    format!("{var} = {}", pretty(&value))
                }
                Err(message) => format!("{var} = <{message}>"),
            }
        } else {
            let msg = parsed.msg.unwrap_or_else(|| json!("Hello world!"));
            result.insert("msg".into(), msg.clone());
            match msg {
                Value::String(text) => text,
                other => pretty(&other),
            }
        };
        ok(Some(text), result)
    }

    fn assert(
        &self,
        parsed: modules::assert::AssertArgs,
        task: &Task,
        merged: &Map<String, Value>,
    ) -> Outcome {
        let mut vars = merged.clone();
        for expression in &parsed.that.0 {
            let condition = Condition {
                expression: expression.clone(),
                location: task.common.location.clone(),
            };
            match self.evaluate_all(std::slice::from_ref(&condition), &mut vars) {
                Ok(true) => {}
                Ok(false) => {
                    let message = parsed
                        .fail_msg
                        .clone()
                        .unwrap_or_else(|| format!("assertion failed: `{expression}`"));
                    let mut outcome = Outcome::failed(message);
                    outcome.result.insert("assertion".into(), json!(expression));
                    return outcome;
                }
                Err(message) => return Outcome::failed(message),
            }
        }
        let message = (!parsed.quiet.0).then(|| {
            parsed
                .success_msg
                .unwrap_or_else(|| "All assertions passed".into())
        });
        ok(message, Map::new())
    }

    fn set_fact(&mut self, args: Value) -> Outcome {
        let Value::Object(facts) = args else {
            return Outcome::failed("`set_fact` needs a mapping of variables");
        };
        for (key, value) in &facts {
            self.slot.set_facts.insert(key.clone(), value.clone());
        }
        let mut result = Map::new();
        result.insert("ansible_facts".into(), Value::Object(facts));
        ok(None, result)
    }

    fn include_vars(
        &mut self,
        parsed: modules::include_vars::IncludeVarsArgs,
        role: Option<&RoleInstance>,
    ) -> Outcome {
        let mut candidates = Vec::new();
        if let Some(role) = role {
            candidates.push(role.role.path.join("vars").join(&parsed.file));
        }
        candidates.push(self.playbook_dir.join("vars").join(&parsed.file));
        candidates.push(self.playbook_dir.join(&parsed.file));
        let Some(path) = candidates.iter().find(|p| p.is_file()) else {
            return Outcome::failed(format!(
                "vars file `{}` not found; searched {}",
                parsed.file,
                candidates
                    .iter()
                    .map(|p| format!("`{}`", p.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        let loaded = match crate::yaml::load_file(path) {
            Ok(file) => file.root.to_value(),
            Err(diagnostic) => return Outcome::failed(diagnostic.to_string()),
        };
        let Value::Object(loaded) = loaded else {
            return Outcome::failed(format!(
                "vars file `{}` must hold a mapping",
                path.display()
            ));
        };
        match parsed.name {
            Some(name) => {
                self.slot
                    .include_vars
                    .insert(name, Value::Object(loaded.clone()));
            }
            None => {
                for (key, value) in &loaded {
                    self.slot.include_vars.insert(key.clone(), value.clone());
                }
            }
        }
        let mut result = Map::new();
        result.insert("ansible_facts".into(), Value::Object(loaded));
        ok(None, result)
    }
}

fn meta(parsed: modules::meta::MetaArgs) -> Outcome {
    use modules::meta::MetaAction;
    match parsed.free_form {
        MetaAction::Noop | MetaAction::FlushHandlers => ok(None, Map::new()),
        MetaAction::EndHost | MetaAction::EndPlay => Outcome {
            end_host: true,
            ..ok(Some("ending the play for this host".into()), Map::new())
        },
    }
}

/// The arguments, already checked at load time, as the module's typed struct.
fn parse<T: DeserializeOwned>(args: Value) -> Result<T, String> {
    serde_json::from_value(args).map_err(|error| error.to_string())
}

fn ok(message: Option<String>, result: Map<String, Value>) -> Outcome {
    Outcome {
        status: Status::Ok,
        changes: Vec::new(),
        result,
        message,
        end_host: false,
    }
}

pub(super) fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}
