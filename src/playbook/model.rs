//! What a loaded playbook is: plays, task trees, roles, handlers, each with its source location.
//!
//! The loader resolves everything static (roles and their dependencies, `import_*`,
//! `include_*` with a fixed file name, `vars_files`) so that the runner and the validator work
//! on one tree and never read playbook files while hosts are being changed.

use crate::diagnostic::Location;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// A playbook file: its plays in order.
#[derive(Debug, Clone)]
pub struct Playbook {
    /// The playbook file.
    pub path: PathBuf,
    /// The plays.
    pub plays: Vec<Play>,
    /// What was accepted but has no effect (SELinux arguments dropped), for `-v`.
    pub notes: Vec<crate::diagnostic::Diagnostic>,
}

/// `become` settings; `None` inherits from the enclosing level.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BecomeSettings {
    /// `become:`.
    pub enabled: Option<bool>,
    /// `become_user:` (default root).
    pub user: Option<String>,
    /// `become_method:` (`sudo` or `su`).
    pub method: Option<String>,
}

impl BecomeSettings {
    /// `self` with unset fields taken from `outer`.
    pub fn inherit(&self, outer: &BecomeSettings) -> BecomeSettings {
        BecomeSettings {
            enabled: self.enabled.or(outer.enabled),
            user: self.user.clone().or_else(|| outer.user.clone()),
            method: self.method.clone().or_else(|| outer.method.clone()),
        }
    }
}

/// `serial:` — hosts per batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerialStep {
    /// A number of hosts.
    Count(usize),
    /// A percentage of the play's hosts (at least one host).
    Percent(u32),
}

/// A variables file named in `vars_files`, already loaded.
#[derive(Debug, Clone)]
pub struct VarsFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its variables.
    pub vars: Map<String, Value>,
}

/// One play.
#[derive(Debug, Clone)]
pub struct Play {
    /// `name:` (defaults to the host pattern).
    pub name: String,
    /// `hosts:` pattern.
    pub hosts: String,
    /// Where the play starts.
    pub location: Location,
    /// `vars:`, untemplated.
    pub vars: Map<String, Value>,
    /// `vars_files:`, loaded, in order (later files win).
    pub vars_files: Vec<VarsFile>,
    /// Play-level become.
    pub become_settings: BecomeSettings,
    /// `serial:` batches; empty means all hosts at once. The last step repeats.
    pub serial: Vec<SerialStep>,
    /// `gather_facts:` (default true).
    pub gather_facts: bool,
    /// Every role the play uses (including dependencies and `include_role`), for precedence.
    pub roles: Vec<Arc<RoleInstance>>,
    /// pre_tasks, FlushHandlers, role tasks, tasks, FlushHandlers, post_tasks, FlushHandlers.
    pub tasks: Vec<TaskNode>,
    /// Play handlers followed by role handlers.
    pub handlers: Vec<Task>,
}

/// A role as loaded from disk.
#[derive(Debug, Clone)]
pub struct Role {
    /// The role's name (its directory name).
    pub name: String,
    /// Its directory.
    pub path: PathBuf,
    /// `defaults/main.yml` (lowest precedence).
    pub defaults: Map<String, Value>,
    /// `vars/main.yml` (high precedence).
    pub vars: Map<String, Value>,
}

/// A role applied with its parameters (`- role: x` with `vars:` or extra keys).
#[derive(Debug, Clone)]
pub struct RoleInstance {
    /// The role.
    pub role: Arc<Role>,
    /// Role parameters, untemplated.
    pub params: Map<String, Value>,
}

/// A `when:`/`changed_when:`/`failed_when:` expression (no `{{ }}` around it).
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The Jinja expression.
    pub expression: String,
    /// Where it was written.
    pub location: Location,
}

/// Keywords shared by tasks, blocks and includes, with inheritance already applied where
/// Ansible applies it statically (tags, import/role `when`).
#[derive(Debug, Clone, Default)]
pub struct Common {
    /// `name:`.
    pub name: Option<String>,
    /// Where the task/block starts.
    pub location: Location,
    /// Conditions, all of which must hold (inherited ones first).
    pub when: Vec<Condition>,
    /// Effective tags (own plus inherited).
    pub tags: Vec<String>,
    /// `become*` keywords at this level.
    pub become_settings: BecomeSettings,
    /// `vars:` at this level, untemplated.
    pub vars: Map<String, Value>,
    /// `ignore_errors:`.
    pub ignore_errors: bool,
    /// `check_mode:`: `Some(false)` runs for real even under `--check`; `Some(true)` always checks.
    pub check_mode: Option<bool>,
    /// `no_log:`: hide arguments, results and diffs.
    pub no_log: bool,
    /// The role this came from, for `files/`, `templates/` and role variables.
    pub role: Option<Arc<RoleInstance>>,
}

/// `loop:` / `with_items:`: a list, or a template that renders to one.
#[derive(Debug, Clone, PartialEq)]
pub struct Loop {
    /// The list or the template string, untemplated.
    pub items: Value,
    /// `loop_control.loop_var` (default `item`).
    pub loop_var: String,
    /// `loop_control.label`, a template shown instead of the item.
    pub label: Option<String>,
    /// True for `with_items:` (flattens one level, as Ansible does).
    pub flatten: bool,
}

/// One task (or handler).
#[derive(Debug, Clone)]
pub struct Task {
    /// Shared keywords.
    pub common: Common,
    /// Canonical module name (`copy`, never `ansible.builtin.copy`).
    pub module: String,
    /// Arguments, untemplated; free-form strings already split into named arguments.
    pub args: Value,
    /// Where each argument is written, for messages.
    pub argument_locations: BTreeMap<String, Location>,
    /// `loop:` / `with_items:`.
    pub loop_items: Option<Loop>,
    /// `register:`.
    pub register: Option<String>,
    /// `notify:`.
    pub notify: Vec<String>,
    /// `listen:` (handlers only).
    pub listen: Vec<String>,
    /// `changed_when:`.
    pub changed_when: Option<Vec<Condition>>,
    /// `failed_when:`.
    pub failed_when: Option<Vec<Condition>>,
    /// Set when Ansible has the module or an argument and converge does not: the task loads
    /// and checks, and fails with this reason on a host that reaches it (its `when` holds).
    pub not_implemented: Option<Box<NotImplemented>>,
}

impl Task {
    /// Why this task cannot run, if converge lacks its module or one of its arguments. The
    /// runner calls this once the task's `when` holds, before templating its arguments, and
    /// fails the task with `reason.to_string()` and `reason.hint()`.
    pub fn not_implemented(&self) -> Option<&NotImplemented> {
        self.not_implemented.as_deref()
    }
}

/// What converge lacks to run a task that Ansible would run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotImplemented {
    /// A module of Ansible's (ansible.builtin, ansible.posix, community.general) that converge
    /// does not have. [`Task::module`] is its name as written, without `ansible.builtin.`.
    #[error("module `{module}` exists in Ansible but is not implemented by converge")]
    Module {
        /// The name as written (`yum`, `community.general.ufw`).
        module: String,
        /// Its fully qualified name in Ansible.
        fqcn: String,
        /// A converge module that does the same job, if there is one.
        equivalent: Option<&'static str>,
    },
    /// An argument Ansible's module of this name takes and converge's does not. The argument
    /// stays in [`Task::args`], so a runner that ignored this would fail on it, not skip it.
    #[error("argument `{argument}` of `{module}` is not implemented by converge")]
    Argument {
        /// The module.
        module: String,
        /// The argument, as written.
        argument: String,
    },
}

impl NotImplemented {
    /// What the user can do about it.
    pub fn hint(&self) -> String {
        match self {
            NotImplemented::Module {
                equivalent: Some(equivalent),
                ..
            } => format!("converge's `{equivalent}` does this job; run `converge doc {equivalent}`"),
            NotImplemented::Module { .. } => {
                "guard the task with a `when:` that is false on the hosts converge manages, or use `command`".into()
            }
            NotImplemented::Argument { module, .. } => {
                format!("remove the argument, or run `converge doc {module}` for what converge takes")
            }
        }
    }
}

/// `block:` with `rescue:` and `always:`.
#[derive(Debug, Clone)]
pub struct Block {
    /// Shared keywords (its `when` is evaluated once, when the block is reached).
    pub common: Common,
    /// The tasks.
    pub block: Vec<TaskNode>,
    /// Run when a task in `block` fails; the failure is then rescued.
    pub rescue: Vec<TaskNode>,
    /// Always run after `block` (and `rescue`).
    pub always: Vec<TaskNode>,
}

/// Where the tasks of an `include_tasks`/`include_role` come from.
#[derive(Debug, Clone)]
pub enum IncludeSource {
    /// The file name was fixed: loaded with the playbook.
    Static(Vec<TaskNode>),
    /// The file name is a template, known only when the task runs on a host.
    Dynamic {
        /// The file name template.
        file: String,
        /// The directory a relative name is resolved against.
        base_dir: PathBuf,
    },
}

/// `include_tasks:` / `include_role:`: evaluated when reached, with its own `when` and `loop`.
#[derive(Debug, Clone)]
pub struct Include {
    /// Shared keywords.
    pub common: Common,
    /// The included tasks.
    pub source: IncludeSource,
    /// `loop:` over the whole include.
    pub loop_items: Option<Loop>,
}

/// A node of a play's task tree.
#[derive(Debug, Clone)]
pub enum TaskNode {
    /// A task.
    Task(Task),
    /// A block.
    Block(Block),
    /// A dynamic include.
    Include(Include),
    /// Run the notified handlers now (`meta: flush_handlers`, and between play sections).
    FlushHandlers,
}
