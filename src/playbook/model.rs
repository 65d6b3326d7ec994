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
    /// `remote_user:`: the login user where the inventory names none.
    pub remote_user: Option<String>,
    /// `connection:` (`local`, `ssh`): the connection type where the inventory names none.
    pub connection: Option<String>,
    /// `any_errors_fatal:`: one failed host ends the play (and the run) for every host.
    pub any_errors_fatal: bool,
    /// `max_fail_percentage:`: more failed hosts than this share of a batch ends the run.
    pub max_fail_percentage: Option<f64>,
    /// `vars_prompt:`: variables asked for before the play starts.
    pub vars_prompt: Vec<VarPrompt>,
    /// `environment:` for every task of the play, untemplated.
    pub environment: Option<Value>,
    /// Every role the play uses (including dependencies and `include_role`), for precedence.
    pub roles: Vec<Arc<RoleInstance>>,
    /// pre_tasks, FlushHandlers, role tasks, tasks, FlushHandlers, post_tasks, FlushHandlers.
    pub tasks: Vec<TaskNode>,
    /// Play handlers followed by role handlers.
    pub handlers: Vec<Task>,
}

/// One `vars_prompt:` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct VarPrompt {
    /// The variable it sets.
    pub name: String,
    /// The question (default: the name).
    pub prompt: String,
    /// The answer when the user just presses Enter.
    pub default: Option<String>,
    /// Do not echo the answer (default true, as in Ansible).
    pub private: bool,
    /// Ask twice and compare.
    pub confirm: bool,
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
    /// `ignore_errors:` or `check_mode:` written as a template (`"{{ ansible_check_mode }}"`),
    /// decided on the host; it overrides the fixed value above.
    pub templated_flags: TemplatedFlags,
    /// `environment:` at this level, untemplated (a mapping, or a template of one).
    pub environment: Option<Value>,
    /// `delegate_to:`, untemplated.
    pub delegate_to: Option<String>,
    /// `run_once:`.
    pub run_once: bool,
    /// `remote_user:` at this level.
    pub remote_user: Option<String>,
    /// `any_errors_fatal:`: this task failing on one host ends the play for every host.
    pub any_errors_fatal: bool,
    /// The role this came from, for `files/`, `templates/` and role variables.
    pub role: Option<Arc<RoleInstance>>,
}

/// Task keywords whose value is a template, evaluated when the task runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplatedFlags {
    /// `ignore_errors: "{{ ... }}"`.
    pub ignore_errors: Option<Condition>,
    /// `check_mode: "{{ ... }}"`.
    pub check_mode: Option<Condition>,
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
    /// `with_<lookup>:` other than items/list: the lookup that turns the rendered terms into
    /// items (`dict`, `subelements`, `first_found`, `fileglob`...).
    pub lookup: Option<String>,
    /// Where a relative name in `with_first_found` is looked for inside the role's and the
    /// playbook's directory, as Ansible chooses it from the task's action: `templates` for
    /// `template`, `vars` for `include_vars`, `files` for every other.
    pub lookup_subdir: &'static str,
    /// `loop_control.index_var`: a variable holding the item's index (from 0).
    pub index_var: Option<String>,
    /// `loop_control.extended`: `ansible_loop` with index, first, last, length...
    pub extended: bool,
    /// `loop_control.pause`: seconds to wait between items.
    pub pause: f64,
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
    /// `until:` with `retries:` and `delay:`: run again until the conditions hold.
    pub until: Option<Retry>,
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
    /// An argument ansible-core itself removed (`warn` of `command`, in 2.14): Ansible fails
    /// on it when the task runs, and so does converge.
    #[error("unsupported argument `{argument}` for module `{module}`: ansible-core {removed_in} removed it, and Ansible fails on it too")]
    Removed {
        /// The module.
        module: String,
        /// The argument, as written.
        argument: String,
        /// The ansible-core release that removed it.
        removed_in: String,
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
            NotImplemented::Removed { argument, .. } => format!("remove `{argument}`"),
        }
    }
}

/// `until:`/`retries:`/`delay:`.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    /// The conditions, evaluated with the task's result registered.
    pub until: Vec<Condition>,
    /// `retries:` (default 3): the task runs at most this many times more.
    pub retries: Value,
    /// `delay:` in seconds (default 5).
    pub delay: Value,
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
    /// `apply:` keywords given to every included task (become, vars, environment, when...).
    pub apply: Option<Common>,
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
