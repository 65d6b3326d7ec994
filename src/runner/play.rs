//! One host's walk through a play: blocks with rescue/always, static and dynamic includes,
//! handlers and their flush, and tag selection. Each task is handed to `task.rs`.

use super::host_run::HostRun;
use super::scope::Scope;
use super::{Down, Flow};
use crate::playbook::{self, Block, Include, IncludeSource, TaskNode};
use crate::report::Status;
use serde_json::{Map, Value};

impl HostRun<'_, '_> {
    pub(super) fn run_play(&mut self) {
        let scope = Scope {
            vars: Map::new(),
            become_settings: self.play.become_settings.clone(),
            ..Scope::default()
        };
        if self.play.gather_facts && self.slot.facts.is_none() {
            self.runner
                .interrupt
                .task_started(&self.host.name, "Gathering Facts");
            self.read_ahead_with_facts(&self.play.tasks, &scope);
            // The play's facts are gathered as the login user, whoever the tasks become.
            if let Some(connection) = self.slot.connection.as_mut() {
                connection.set_become(None);
            }
            if let Err(flow) = self.gather_facts(true) {
                self.mark(flow);
                return;
            }
        } else if self.play.gather_facts {
            self.expose_facts();
        }
        let flow = self.run_nodes(&self.play.tasks, &scope);
        match flow {
            Flow::Continue | Flow::EndHost => {}
            other => self.mark(other),
        }
    }

    pub(super) fn mark(&mut self, flow: Flow) {
        match flow {
            Flow::Failed => self.slot.down = Some(Down::Failed),
            Flow::Unreachable => self.slot.down = Some(Down::Unreachable),
            _ => return,
        }
        self.runner
            .host_failed(self.play, self.fatal_failure, self.batch_size);
    }

    pub(super) fn run_nodes(&mut self, nodes: &[TaskNode], scope: &Scope) -> Flow {
        let flow = self.walk_nodes(nodes, scope);
        self.leave(nodes);
        flow
    }

    fn walk_nodes(&mut self, nodes: &[TaskNode], scope: &Scope) -> Flow {
        for (index, node) in nodes.iter().enumerate() {
            // `any_errors_fatal` or `max_fail_percentage` ended the play for every host.
            if self.runner.aborted() {
                return Flow::EndHost;
            }
            let flow = match node {
                TaskNode::Task(task) => {
                    self.read_ahead(nodes, index, scope);
                    self.run_task(task, scope)
                }
                TaskNode::Block(block) => self.run_block(block, scope),
                TaskNode::Include(include) => self.run_include(include, scope),
                TaskNode::FlushHandlers => self.flush_handlers(scope),
            };
            if flow != Flow::Continue {
                return flow;
            }
        }
        Flow::Continue
    }

    pub(super) fn run_block(&mut self, block: &Block, scope: &Scope) -> Flow {
        if !self.selected_by_tags_any(&block.block)
            && !self.selected_by_tags_any(&block.rescue)
            && !self.selected_by_tags_any(&block.always)
        {
            return Flow::Continue;
        }
        let scope = self.inner_scope(scope, &block.common);
        match self.conditions_hold(&block.common.when, &scope, block.common.role.as_deref()) {
            Ok(true) => {}
            Ok(false) => return Flow::Continue,
            Err(message) => {
                self.report_failure(block.common.name.as_deref().unwrap_or("block"), message);
                return if block.common.ignore_errors {
                    Flow::Continue
                } else {
                    Flow::Failed
                };
            }
        }
        let mut flow = self.run_nodes(&block.block, &scope);
        if flow == Flow::Failed && !block.rescue.is_empty() {
            // The failure is handled: Ansible counts it as rescued instead of failed.
            self.slot.stats.failed = self.slot.stats.failed.saturating_sub(1);
            self.slot.stats.rescued += 1;
            let mut rescue_scope = scope.clone();
            if let Some((task, result)) = self.last_failure.take() {
                rescue_scope.vars.insert("ansible_failed_task".into(), task);
                rescue_scope
                    .vars
                    .insert("ansible_failed_result".into(), Value::Object(result));
            }
            flow = self.run_nodes(&block.rescue, &rescue_scope);
        }
        if flow != Flow::Unreachable {
            let always = self.run_nodes(&block.always, &scope);
            if flow == Flow::Continue {
                flow = always;
            }
        }
        if flow == Flow::Failed && block.common.ignore_errors {
            return Flow::Continue;
        }
        flow
    }

    pub(super) fn run_include(&mut self, include: &Include, scope: &Scope) -> Flow {
        // As in Ansible, an include's own keywords gate the include; only its `vars` and
        // what `apply:` names reach the included tasks.
        let mut scope = Scope {
            environment: scope.environment.clone(),
            delegate_to: scope.delegate_to.clone(),
            run_once: scope.run_once,
            any_errors_fatal: scope.any_errors_fatal,
            ..self.inner_scope(scope, &include.common)
        };
        if let Some(apply) = &include.apply {
            scope = self.applied_scope(&scope, apply);
        }
        let role = include.common.role.clone();
        let name = include
            .common
            .name
            .clone()
            .unwrap_or_else(|| "include_tasks".to_string());
        match self.conditions_hold(&include.common.when, &scope, role.as_deref()) {
            Ok(true) => {}
            Ok(false) => {
                self.count(Status::Skipped, false);
                return Flow::Continue;
            }
            Err(message) => {
                self.report_failure(&name, message);
                return Flow::Failed;
            }
        }
        let items = match &include.loop_items {
            Some(spec) => match self.loop_items(spec, &scope, role.as_deref()) {
                Ok(items) => items
                    .into_iter()
                    .map(|i| Some((spec.loop_var.clone(), i)))
                    .collect(),
                Err(message) => {
                    self.report_failure(&name, message);
                    return Flow::Failed;
                }
            },
            None => vec![None],
        };
        // Ansible counts a loop over no items as a skipped task, and each file (or role) an
        // include brings in, once per item, as ok in the recap.
        if items.is_empty() {
            self.count(Status::Skipped, false);
        }
        for item in items {
            let mut item_scope = scope.clone();
            if let Some((var, value)) = item {
                item_scope.vars.insert(var, value);
            }
            let nodes = match &include.source {
                IncludeSource::Static(nodes) => nodes.clone(),
                IncludeSource::Dynamic { file, base_dir } => {
                    let rendered = self
                        .variables(
                            &item_scope,
                            role.as_deref(),
                            Some(&Value::String(file.clone())),
                        )
                        .and_then(|vars| {
                            self.runner
                                .templates
                                .render_str(file, &vars)
                                .map_err(|e| e.to_string())
                        });
                    let path = match rendered {
                        Ok(path) => base_dir.join(path),
                        Err(message) => {
                            self.report_failure(&name, message);
                            return Flow::Failed;
                        }
                    };
                    match playbook::load_task_file(
                        &path,
                        role.clone(),
                        &self.options().load_options,
                    ) {
                        Ok(nodes) => nodes,
                        Err(diagnostics) => {
                            let message = diagnostics
                                .0
                                .iter()
                                .map(|d| d.to_string())
                                .collect::<Vec<_>>()
                                .join("\n");
                            self.report_failure(&name, message);
                            return Flow::Failed;
                        }
                    }
                }
            };
            self.count(Status::Ok, false);
            let flow = self.run_nodes(&nodes, &item_scope);
            if flow != Flow::Continue {
                return flow;
            }
        }
        Flow::Continue
    }

    pub(super) fn flush_handlers(&mut self, scope: &Scope) -> Flow {
        if self.notified.is_empty() {
            return Flow::Continue;
        }
        let notified = std::mem::take(&mut self.notified);
        for handler in &self.play.handlers {
            let name = handler.common.name.clone().unwrap_or_default();
            let wanted = notified
                .iter()
                .any(|n| *n == name || handler.listen.contains(n));
            if !wanted {
                continue;
            }
            let flow = self.run_task(handler, scope);
            if flow != Flow::Continue {
                return flow;
            }
        }
        Flow::Continue
    }

    pub(super) fn tags_selected(&self, tags: &[String]) -> bool {
        let options = self.options();
        let has = |t: &str| tags.iter().any(|tag| tag == t);
        if options.skip_tags.iter().any(|s| has(s) || s == "all") {
            return false;
        }
        if options.tags.is_empty() || options.tags.iter().any(|t| t == "all") {
            return !has("never") || options.tags.iter().any(|t| has(t));
        }
        has("always")
            || options.tags.iter().any(|t| has(t))
            || (options.tags.iter().any(|t| t == "tagged") && !tags.is_empty())
            || (options.tags.iter().any(|t| t == "untagged") && tags.is_empty())
    }

    pub(super) fn selected_by_tags_any(&self, nodes: &[TaskNode]) -> bool {
        nodes.iter().any(|node| match node {
            TaskNode::Task(task) => self.tags_selected(&task.common.tags),
            TaskNode::Block(block) => {
                self.selected_by_tags_any(&block.block)
                    || self.selected_by_tags_any(&block.rescue)
                    || self.selected_by_tags_any(&block.always)
            }
            TaskNode::Include(include) => self.tags_selected(&include.common.tags),
            TaskNode::FlushHandlers => true,
        })
    }
}
