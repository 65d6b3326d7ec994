//! The modules that act on the run itself rather than on the host: debug, fail, assert,
//! set_fact, include_vars and meta. Each is one function here; the module crate only defines
//! and validates their arguments.

use super::host_run::HostRun;
use super::outcome::Outcome;
use crate::playbook::{Condition, RoleInstance, Task};
use crate::report::Status;
use crate::vars;
use converge_modules as modules;
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

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
        let wanted = parsed
            .file
            .as_deref()
            .or(parsed.dir.as_deref())
            .unwrap_or_default();
        // Ansible's search: the role's vars/, then the playbook's vars/ and directory.
        let mut candidates = Vec::new();
        if let Some(role) = role {
            candidates.push(role.role.path.join("vars").join(wanted));
        }
        candidates.push(self.playbook_dir.join("vars").join(wanted));
        candidates.push(self.playbook_dir.join(wanted));
        let found = candidates.iter().find(|p| match parsed.dir {
            Some(_) => p.is_dir(),
            None => p.is_file(),
        });
        let Some(found) = found else {
            return Outcome::failed(format!(
                "vars {} `{wanted}` not found; searched {}",
                if parsed.dir.is_some() {
                    "directory"
                } else {
                    "file"
                },
                candidates
                    .iter()
                    .map(|p| format!("`{}`", p.display()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        };
        let files = match parsed.dir {
            Some(_) => match vars_dir_files(found, &parsed) {
                Ok(files) => files,
                Err(message) => return Outcome::failed(message),
            },
            None => vec![found.clone()],
        };
        let mut loaded = Map::new();
        for path in &files {
            let value = match crate::yaml::load_file(path) {
                Ok(file) => file.root.to_value(),
                Err(diagnostic) => return Outcome::failed(diagnostic.to_string()),
            };
            match value {
                Value::Object(map) => loaded.extend(map),
                Value::Null => {}
                _ => {
                    return Outcome::failed(format!(
                        "vars file `{}` must hold a mapping",
                        path.display()
                    ))
                }
            }
        }
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
        result.insert(
            "ansible_included_var_files".into(),
            json!(files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()),
        );
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

/// The files `include_vars: {dir: ...}` loads: every file below `dir` (to `depth`, 0 for no
/// limit) with one of the `extensions`, matching `files_matching` and not in `ignore_files`,
/// in alphabetical order of their paths, as Ansible sorts them.
fn vars_dir_files(
    dir: &Path,
    parsed: &modules::include_vars::IncludeVarsArgs,
) -> Result<Vec<PathBuf>, String> {
    let matching =
        match &parsed.files_matching {
            Some(pattern) => Some(regex::Regex::new(pattern).map_err(|error| {
                format!("`files_matching` is not a regular expression: {error}")
            })?),
            None => None,
        };
    let mut files = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), 1u32)];
    while let Some((current, depth)) = pending.pop() {
        let entries = std::fs::read_dir(&current)
            .map_err(|error| format!("cannot read `{}`: {error}", current.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if parsed.depth == 0 || depth < parsed.depth {
                    pending.push((path, depth + 1));
                }
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
            if !parsed.extensions.iter().any(|wanted| wanted == extension)
                || parsed.ignore_files.contains(&name)
                || matching.as_ref().is_some_and(|re| !re.is_match(&name))
            {
                continue;
            }
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
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
