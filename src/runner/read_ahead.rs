//! Reading ahead: before a task runs, the reads its plan will make and those of the tasks
//! after it in the same list go to the host in one request (`Module::reads` names them), and
//! the transport answers the plans from what came back. A no-change run of ten file, sysctl
//! and firewall tasks then costs the host one request for all their plans instead of one or
//! two per task.
//!
//! What keeps this exact: an answer is the output of the very line the plan would send, as
//! the same user, and the transport drops every answer as soon as anything else runs on the
//! host (a change, a command task, a write). So a plan sees the host as a read made at that
//! moment would, unless something outside converge changed it in between; to keep that gap
//! as short as a task, a window of tasks ends at anything that could take time without
//! touching the host (a loop, `until`, `pause`, a delegated task), and the answers are
//! dropped when a task outside the window starts. A guess that turns out wrong (the
//! arguments of a later task depend on a result registered in between) only costs a read.
//!
//! Facts that a task of the window needs and that were not gathered yet, and those a play
//! gathers at its start, go in the same request: `setup::gather` then finds them answered.
//!
//! After a task changed something, the next window covers only the task at hand (its own
//! reads still go in one request): on a first run, where most tasks change something,
//! reading further ahead would be wasted. A window cut short by a command that changed
//! nothing (`changed_when: false`) is followed by a full one.

use super::host_run::HostRun;
use super::scope::Scope;
use crate::connection::Become;
use crate::playbook::{Task, TaskNode};
use crate::template;
use converge_modules::{self as modules, Read, Target};

/// At most this many tasks are read for at once.
const WINDOW: usize = 16;

/// Controller modules that take no time and leave the host alone: a window goes past them.
const QUICK_CONTROLLER_MODULES: [&str; 3] = ["debug", "set_fact", "assert"];

/// The tasks whose reads were made ahead: `list[start..end]` of one node list.
#[derive(Debug, Default)]
pub(super) struct Window {
    /// The address of the node list (a list lives as long as its walk; see `leave`).
    list: usize,
    start: usize,
    end: usize,
    /// The host's count of changed tasks when the window's reads were made.
    changed: u32,
}

/// What reading ahead knows of one task before it runs.
enum Ahead {
    /// It will not touch the host (skipped by `when` or tags, or a quick controller task).
    Nothing,
    /// It plans against the host as this user, with these first reads, and with facts or
    /// not.
    Reads(Option<Become>, Vec<Read>, bool),
    /// Unknown, or it may take time: the window ends before it.
    Stop,
}

impl HostRun<'_, '_> {
    /// Before `nodes[index]` (a task) runs: make the reads of a new window if that task is
    /// outside the current one, or if a change inside it dropped what was read.
    pub(super) fn read_ahead(&mut self, nodes: &[TaskNode], index: usize, scope: &Scope) {
        self.read_ahead_with(nodes, index, scope, false);
    }

    /// At the start of a play that gathers facts: the facts and the first tasks' reads in
    /// one request.
    pub(super) fn read_ahead_with_facts(&mut self, nodes: &[TaskNode], scope: &Scope) {
        // A play's list opens with the flush after `pre_tasks`, which has nothing to run yet.
        let first = nodes
            .iter()
            .position(|node| !matches!(node, TaskNode::FlushHandlers))
            .unwrap_or(0);
        self.read_ahead_with(nodes, first, scope, true);
    }

    fn read_ahead_with(
        &mut self,
        nodes: &[TaskNode],
        index: usize,
        scope: &Scope,
        with_facts: bool,
    ) {
        let list = nodes.as_ptr() as usize;
        let window = &self.read_ahead;
        let in_window = window.list == list && (window.start..window.end).contains(&index);
        let kept = match self.slot.connection.as_ref() {
            // A transport that keeps nothing (local): no task's arguments rendered twice.
            Some(connection) if !connection.can_read_ahead() => return,
            Some(connection) => connection.has_reads_ahead(),
            None => false,
        };
        if in_window && kept {
            return;
        }
        if let Some(connection) = self.slot.connection.as_mut() {
            connection.forget_reads();
        }
        let changed = self.slot.stats.changed;
        // Something changed since the last window: more changes are likely (a first run).
        let limit = if changed > window.changed { 1 } else { WINDOW };
        let mut become_as = None;
        let mut reads = Vec::new();
        // The facts a task's plan needs first go in the same request, as `gather` runs them.
        let mut facts_wanted = with_facts;
        let mut end = index;
        for node in nodes.iter().skip(index).take(limit) {
            let TaskNode::Task(task) = node else {
                break;
            };
            match self.ahead(task, scope) {
                Ahead::Nothing => {}
                Ahead::Reads(user, task_reads, uses_facts) => {
                    if end > index && user != become_as {
                        break;
                    }
                    become_as = user;
                    facts_wanted |= uses_facts;
                    reads.extend(task_reads);
                }
                Ahead::Stop => break,
            }
            end += 1;
        }
        self.read_ahead = Window {
            list,
            start: index,
            end,
            changed,
        };
        // A play gathers its facts as the login user (see `run_play`).
        if facts_wanted && self.slot.facts.is_none() && (!with_facts || become_as.is_none()) {
            reads.insert(0, Read::Run(modules::setup::gather_command()));
        }
        if reads.len() < 2 {
            return;
        }
        // The window's first task is about to open the connection anyway.
        let Ok(connection) = self.connection_for_read_ahead() else {
            return;
        };
        connection.set_become(become_as);
        // A failure here is the connection's: the task's own reads report it.
        let _ = connection.read_ahead(&reads);
    }

    /// A walk through `nodes` ended: its window, if any, with it (the list may be freed,
    /// and another allocated at its address).
    pub(super) fn leave(&mut self, nodes: &[TaskNode]) {
        if self.read_ahead.list == nodes.as_ptr() as usize {
            self.read_ahead = Window::default();
            if let Some(connection) = self.slot.connection.as_mut() {
                connection.forget_reads();
            }
        }
    }

    /// The reads of `task`, as `run_task` and `attempt` would render and run it now.
    fn ahead(&self, task: &Task, scope: &Scope) -> Ahead {
        if !self.tags_selected(&task.common.tags) {
            return Ahead::Nothing;
        }
        let Some(module) = modules::find(&task.module) else {
            return Ahead::Stop;
        };
        let controller = module.target() == Target::Controller && task.module != "template";
        if controller && QUICK_CONTROLLER_MODULES.contains(&task.module.as_str()) {
            return Ahead::Nothing;
        }
        let scope = self.inner_scope(scope, &task.common);
        if controller
            || scope.run_once
            || scope.delegate_to.is_some()
            || task.loop_items.is_some()
            || task.until.is_some()
            || task.not_implemented().is_some()
        {
            return Ahead::Stop;
        }
        let role = task.common.role.as_deref();
        let conditions: Vec<_> = scope
            .when
            .iter()
            .chain(&task.common.when)
            .cloned()
            .collect();
        match self.conditions_hold(&conditions, &scope, role) {
            Ok(true) => {}
            Ok(false) => return Ahead::Nothing,
            Err(_) => return Ahead::Stop,
        }
        let Ok(execution) = self.execution(task, &scope, role) else {
            return Ahead::Stop;
        };
        if execution.check && !module.supports_check_mode() {
            return Ahead::Nothing;
        }
        if !execution.environment.is_empty() || execution.delegate_to.is_some() {
            return Ahead::Stop;
        }
        // A lookup may run a command or write a file on the controller: rendered once only.
        let text = task.args.to_string();
        if ["lookup(", "query(", "q("]
            .iter()
            .any(|call| text.contains(call))
        {
            return Ahead::Stop;
        }
        let Ok(mut merged) = self.variables(&scope, role, Some(&task.args)) else {
            return Ahead::Stop;
        };
        self.add_hostvars_if_used(&mut merged, &text);
        match self.runner.templates.render_value(&task.args, &merged) {
            Ok(args) => {
                let args = template::strip_omitted(args);
                Ahead::Reads(
                    execution.become_as,
                    module.reads(&args),
                    module.uses_facts(&args),
                )
            }
            Err(_) => Ahead::Stop,
        }
    }
}
