//! Every message the playbook loader can report, worded in one place.
//!
//! The loader builds a [`LoadError`] where it finds a problem and turns it into a
//! [`Diagnostic`] with the location of the offending node; the hint comes from the variant so
//! the same problem is always explained the same way.

use crate::diagnostic::{Diagnostic, Location};
use std::path::PathBuf;

/// A problem found while loading a playbook, a task file or a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoadError {
    /// A node that must be a list is something else.
    #[error("{what} must be a list, found {found}")]
    NotAList {
        /// What was expected to be a list ("a playbook", "`tasks`").
        what: String,
        /// What it is.
        found: &'static str,
    },
    /// A keyword's value has the wrong type.
    #[error("`{keyword}` must be {expected}, found {found}")]
    WrongType {
        /// The keyword.
        keyword: String,
        /// What it should be ("a string", "a list of strings").
        expected: &'static str,
        /// What it is, with the value when it is a scalar.
        found: String,
    },
    /// A boolean keyword holds something else.
    #[error("`{keyword}` must be a boolean (yes/no, true/false), found {found}")]
    NotABool {
        /// The keyword.
        keyword: String,
        /// What it holds.
        found: String,
    },
    /// A play item is neither a play nor an `import_playbook`.
    #[error("a play must be a mapping, found {found}")]
    PlayNotAMapping {
        /// What it is.
        found: &'static str,
    },
    /// A play without `hosts`.
    #[error("play has no `hosts`")]
    NoHosts,
    /// A play key converge does not know.
    #[error("unknown play keyword `{key}`")]
    UnknownPlayKey {
        /// The key.
        key: String,
        /// The closest known key.
        suggestion: Option<String>,
    },
    /// A key in a mapping with a fixed set of keys (`loop_control`, `include_role`...).
    #[error("unknown key `{key}` in `{within}`")]
    UnknownKey {
        /// The key.
        key: String,
        /// The enclosing keyword.
        within: String,
        /// Every key it takes.
        known: Vec<&'static str>,
    },
    /// A task item that is not a mapping.
    #[error("a task must be a mapping, found {found}")]
    TaskNotAMapping {
        /// What it is.
        found: &'static str,
    },
    /// A task with no module.
    #[error("task has no module")]
    NoModule {
        /// Every module name converge has.
        modules: Vec<&'static str>,
    },
    /// A task with two modules.
    #[error("task has two modules: `{first}` and `{second}`")]
    TwoModules {
        /// The first module key.
        first: String,
        /// The second module key.
        second: String,
    },
    /// A task with a module and a `block`/include/import, or two of those.
    #[error("task has both `{first}` and `{second}`")]
    TwoActions {
        /// The first action key.
        first: String,
        /// The second action key.
        second: String,
    },
    /// A task key that is neither a module nor a keyword, close to a keyword.
    #[error("unknown task keyword `{key}`")]
    UnknownKeyword {
        /// The key.
        key: String,
        /// The closest keyword.
        suggestion: String,
    },
    /// A task key that is neither a module nor a keyword.
    #[error("unknown module `{name}`")]
    UnknownModule {
        /// The key.
        name: String,
        /// The closest module name (or converge's equivalent of an Ansible module).
        suggestion: Option<String>,
        /// Every module name converge has.
        modules: Vec<&'static str>,
    },
    /// An Ansible keyword converge does not implement.
    #[error("`{keyword}` is not supported by converge yet")]
    Unsupported {
        /// The keyword.
        keyword: String,
        /// What to do instead, when there is something.
        instead: Option<&'static str>,
    },
    /// A keyword that does not apply to this kind of task.
    #[error("`{keyword}` cannot be used on {what}")]
    NotAllowed {
        /// The keyword.
        keyword: String,
        /// The kind of task ("a block", "`import_tasks`").
        what: String,
    },
    /// `rescue`/`always` without `block`.
    #[error("`{keyword}` needs a `block`")]
    NeedsBlock {
        /// `rescue` or `always`.
        keyword: String,
    },
    /// Two loop keywords on one task.
    #[error("task has both `{first}` and `{second}`")]
    TwoLoops {
        /// The first loop keyword.
        first: String,
        /// The second loop keyword.
        second: String,
    },
    /// A loop over something that is not a list.
    #[error("`{keyword}` must be a list or a template that renders to one, found {found}")]
    BadLoop {
        /// `loop`, `with_items` or `with_list`.
        keyword: String,
        /// What it holds.
        found: String,
    },
    /// A bad free-form argument string.
    #[error("{message}")]
    FreeForm {
        /// What is wrong.
        message: String,
        /// The module.
        module: String,
    },
    /// Module arguments of the wrong shape.
    #[error("arguments of `{module}` must be a mapping or a `key=value` string, found {found}")]
    ArgsShape {
        /// The module.
        module: String,
        /// What they are.
        found: &'static str,
    },
    /// The module rejected its arguments.
    #[error("{message}")]
    Args {
        /// The module's message.
        message: String,
        /// The module's hint.
        hint: Option<String>,
    },
    /// A static name (import, vars file, role) holds template syntax.
    #[error("`{keyword}` needs a fixed name, found the template `{name}`")]
    TemplatedName {
        /// The keyword.
        keyword: String,
        /// The name.
        name: String,
        /// What to do instead.
        instead: &'static str,
    },
    /// A role no search path has.
    #[error("role `{name}` not found")]
    RoleNotFound {
        /// The role name.
        name: String,
        /// Every directory tried, in order.
        searched: Vec<PathBuf>,
    },
    /// A role that depends on itself.
    #[error("role `{name}` depends on itself: {}", chain.join(" -> "))]
    RoleCycle {
        /// The role.
        name: String,
        /// The chain of roles, first and last being `name`.
        chain: Vec<String>,
    },
    /// A role reference without a name.
    #[error("role reference has no `role` or `name`")]
    RoleWithoutName,
    /// A task file that does not exist.
    #[error("task file `{name}` not found")]
    TaskFileNotFound {
        /// The name as written.
        name: String,
        /// Every path tried, in order.
        searched: Vec<PathBuf>,
    },
    /// A task file that imports itself.
    #[error("`{name}` imports itself: {}", chain.join(" -> "))]
    ImportCycle {
        /// The file as written.
        name: String,
        /// The chain of files.
        chain: Vec<String>,
    },
    /// A playbook that imports itself.
    #[error("playbook `{name}` imports itself: {}", chain.join(" -> "))]
    PlaybookCycle {
        /// The file as written.
        name: String,
        /// The chain of files.
        chain: Vec<String>,
    },
    /// A playbook file named by `import_playbook` that does not exist.
    #[error("playbook `{name}` not found")]
    PlaybookNotFound {
        /// The name as written.
        name: String,
        /// The path tried.
        searched: PathBuf,
    },
    /// A `vars_files` entry that does not exist.
    #[error("vars file `{name}` not found")]
    VarsFileNotFound {
        /// The name as written.
        name: String,
        /// The path tried.
        searched: PathBuf,
    },
    /// A `vars_files` entry that is a list of alternatives (Ansible's first-found form).
    #[error("a list of alternative `vars_files` is not supported by converge yet")]
    VarsFilesAlternatives,
    /// A vars file (or role defaults/vars) that is not a mapping.
    #[error("`{path}` must be a mapping of variables, found {found}")]
    VarsNotAMapping {
        /// The file.
        path: String,
        /// What it holds.
        found: &'static str,
    },
    /// A `template`/`copy` source that no search path has.
    #[error("{kind} `{name}` not found")]
    SourceNotFound {
        /// `template` or `file`.
        kind: &'static str,
        /// The name as written.
        name: String,
        /// Every path tried, in order.
        searched: Vec<PathBuf>,
    },
    /// `import_playbook` written among tasks.
    #[error("`import_playbook` only works between plays, not among tasks")]
    PlaybookImportInTasks,
    /// A task that cannot be a handler.
    #[error("a handler must be a task, not {what}")]
    BadHandler {
        /// What it is ("a `block`").
        what: &'static str,
    },
    /// `listen` on a task that is not a handler.
    #[error("`listen` only works on handlers")]
    ListenOutsideHandlers,
    /// `notify` names no handler of the play.
    #[error("no handler is named or listens to `{name}`")]
    UnknownHandler {
        /// The notified name.
        name: String,
        /// The closest handler name.
        suggestion: Option<String>,
    },
    /// A bad `serial` step.
    #[error("`serial` must be a positive number or a percentage like \"30%\", found {found}")]
    BadSerial {
        /// What it holds.
        found: String,
    },
    /// A variable name that cannot be one (`register`, `loop_var`).
    #[error("`{keyword}` must be a variable name, found `{name}`")]
    BadVariableName {
        /// The keyword.
        keyword: String,
        /// The value.
        name: String,
    },
    /// A `become_method` converge does not have.
    #[error("`become_method` must be `sudo` or `su`, found `{method}`")]
    BadBecomeMethod {
        /// The method.
        method: String,
    },
}

impl LoadError {
    /// How to fix it, when there is something to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            LoadError::NoHosts => Some("add `hosts: all` or a group of the inventory".into()),
            LoadError::UnknownPlayKey { suggestion, .. } => suggestion.as_ref().map(did_you_mean),
            LoadError::UnknownKey { key, known, .. } => Some(
                super::suggest::suggest(key, known)
                    .map(did_you_mean)
                    .unwrap_or_else(|| format!("expected one of {}", backticked(known))),
            ),
            LoadError::NoModule { modules } => Some(format!(
                "expected one of {}, or `block`, `include_tasks`, `import_tasks`, `include_role`, `import_role`",
                backticked(modules)
            )),
            LoadError::TwoModules { .. } | LoadError::TwoActions { .. } => {
                Some("a task runs one module; split it into two tasks".into())
            }
            LoadError::UnknownKeyword { suggestion, .. } => Some(did_you_mean(suggestion)),
            LoadError::UnknownModule { suggestion, modules, .. } => Some(
                suggestion
                    .as_ref()
                    .map(did_you_mean)
                    .unwrap_or_else(|| format!("converge has the modules {}", backticked(modules))),
            ),
            LoadError::Unsupported { instead, .. } => instead.map(str::to_string),
            LoadError::NeedsBlock { keyword } => {
                Some(format!("put the tasks `{keyword}` handles under `block:` in the same task"))
            }
            LoadError::TwoLoops { .. } => Some("use one `loop:`".into()),
            LoadError::BadLoop { .. } => Some("write a YAML list, or `\"{{ variable }}\"`".into()),
            LoadError::FreeForm { module, .. } => Some(format!(
                "write `{module}` arguments as a mapping, or as `key=value` words quoted like a shell"
            )),
            LoadError::ArgsShape { module, .. } => {
                Some(format!("run `converge doc {module}` for its arguments"))
            }
            LoadError::Args { hint, .. } => hint.clone(),
            LoadError::TemplatedName { instead, .. } => Some((*instead).to_string()),
            LoadError::RoleNotFound { searched, .. }
            | LoadError::TaskFileNotFound { searched, .. }
            | LoadError::SourceNotFound { searched, .. } => Some(looked_in(searched)),
            LoadError::RoleCycle { .. } => {
                Some("remove one of the dependencies in the roles' `meta/main.yml`".into())
            }
            LoadError::RoleWithoutName => Some("write `- role: NAME` or `- NAME`".into()),
            LoadError::ImportCycle { .. } => {
                Some("use `include_tasks` with a `when:` that ends the recursion".into())
            }
            LoadError::PlaybookNotFound { searched, .. } | LoadError::VarsFileNotFound { searched, .. } => {
                Some(looked_in(std::slice::from_ref(searched)))
            }
            LoadError::PlaybookImportInTasks => {
                Some("move it to the top level of the playbook, next to the plays".into())
            }
            LoadError::VarsFilesAlternatives => {
                Some("use `include_vars` with a `when:` in a task".into())
            }
            LoadError::BadHandler { .. } => {
                Some("handlers are single tasks; `import_tasks` of a file of tasks works".into())
            }
            LoadError::ListenOutsideHandlers => Some("move the task under `handlers:`".into()),
            LoadError::UnknownHandler { suggestion, .. } => Some(
                suggestion
                    .as_ref()
                    .map(did_you_mean)
                    .unwrap_or_else(|| "add a handler with this `name:` or `listen:`".into()),
            ),
            LoadError::BadVariableName { .. } => {
                Some("use letters, digits and `_`, not starting with a digit".into())
            }
            LoadError::BadBecomeMethod { .. } => Some("converge becomes with `sudo` or `su`".into()),
            LoadError::NotABool { .. }
            | LoadError::NotAList { .. }
            | LoadError::WrongType { .. }
            | LoadError::PlayNotAMapping { .. }
            | LoadError::TaskNotAMapping { .. }
            | LoadError::NotAllowed { .. }
            | LoadError::PlaybookCycle { .. }
            | LoadError::VarsNotAMapping { .. }
            | LoadError::BadSerial { .. } => None,
        }
    }

    /// The diagnostic for this problem at `location`.
    pub fn at(self, location: Location) -> Diagnostic {
        let hint = self.hint();
        Diagnostic::error(self.to_string())
            .at(location)
            .with_optional_hint(hint)
    }
}

fn did_you_mean(name: impl AsRef<str>) -> String {
    format!("did you mean `{}`?", name.as_ref())
}

fn backticked(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn looked_in(paths: &[PathBuf]) -> String {
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    format!("looked in {}", paths.join(", "))
}
