//! Every way an inventory can be wrong, worded in one place.
//!
//! Parsers build an [`InventoryError`] and attach the place with [`InventoryError::at`], which
//! turns it into the [`Diagnostic`] every loader reports through.

use crate::diagnostic::{Diagnostic, Location};

/// A problem in an inventory source, a `group_vars/` or `host_vars/` file, or a host pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InventoryError {
    /// `-i` names nothing on disk and is not a host list.
    #[error("inventory source `{path}` does not exist")]
    SourceNotFound {
        /// The path as given.
        path: String,
    },
    /// A file or directory could not be read.
    #[error("cannot read `{path}`: {reason}")]
    Unreadable {
        /// The path.
        path: String,
        /// Lowercase I/O reason.
        reason: String,
    },
    /// A dynamic inventory script (`#!` first line).
    #[error("`{path}` is an executable inventory script, which converge does not run")]
    Script {
        /// The path.
        path: String,
    },
    /// Something that must be a mapping is not.
    #[error("{what} must be a mapping, not {found}")]
    NotAMapping {
        /// What it is ("`hosts` of group `web`").
        what: String,
        /// What was found ("a list").
        found: &'static str,
        /// How to fix it, when the usual mistake is known.
        hint: Option<&'static str>,
    },
    /// A key under a group other than `hosts`, `vars`, `children`.
    #[error("unknown key `{key}` in group `{group}`")]
    UnknownGroupKey {
        /// The key as written.
        key: String,
        /// The group it is under.
        group: String,
        /// A likely intended key.
        suggestion: Option<&'static str>,
    },
    /// A mapping key that is not text (a list or a mapping used as a name).
    #[error("{what} must be a name, not {found}")]
    BadName {
        /// What the key names ("a group", "a host").
        what: &'static str,
        /// What was found.
        found: &'static str,
    },
    /// A group reaches itself through `children`.
    #[error("group `{group}` is its own child: {chain}")]
    GroupCycle {
        /// The group.
        group: String,
        /// `a -> b -> a`.
        chain: String,
    },
    /// A `[host]range[x:y]` that cannot be expanded.
    #[error("bad host range in `{pattern}`: {reason}")]
    BadRange {
        /// The host pattern.
        pattern: String,
        /// What is wrong.
        reason: String,
    },
    /// An INI line converge cannot read.
    #[error("cannot parse inventory line: {reason}")]
    IniSyntax {
        /// What is wrong.
        reason: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// `[name:kind]` with a kind other than `vars` or `children`.
    #[error("unknown section type `{kind}` in `[{group}:{kind}]`")]
    IniSectionKind {
        /// The group.
        group: String,
        /// The kind as written.
        kind: String,
        /// `vars` or `children` when the kind looks like a typo of one.
        suggestion: Option<&'static str>,
    },
    /// `[parent:children]` names a group that no section defines.
    #[error("group `{child}` in `[{parent}:children]` is not defined")]
    IniUndefinedChild {
        /// The child named.
        child: String,
        /// The parent section.
        parent: String,
        /// A defined group with a close name.
        suggestion: Option<String>,
    },
    /// `[group:vars]` for a group that no section defines.
    #[error("`[{group}:vars]` is for a group that is not defined")]
    IniVarsForUndefinedGroup {
        /// The group.
        group: String,
        /// A defined group with a close name.
        suggestion: Option<String>,
    },
    /// A connection variable with a value of the wrong kind.
    #[error("`{name}` must be {expected}, not {found}")]
    BadVariable {
        /// The variable.
        name: String,
        /// What it must be.
        expected: &'static str,
        /// What it is (the value, or its kind).
        found: String,
    },
    /// A `~regex` host pattern that does not compile.
    #[error("invalid regular expression in host pattern `{pattern}`: {reason}")]
    BadPattern {
        /// The pattern.
        pattern: String,
        /// The regex engine's reason.
        reason: String,
    },
}

impl InventoryError {
    /// How to fix it, when there is something useful to say.
    pub fn hint(&self) -> Option<String> {
        match self {
            InventoryError::SourceNotFound { .. } => Some(
                "pass an inventory file or directory with `-i`, or a host list ending in a comma \
                 (`-i web1,web2,`)"
                    .into(),
            ),
            InventoryError::Script { .. } => Some(
                "run the script yourself and save its output as a YAML inventory, e.g. \
                 `./inventory.py --list > inventory.json`"
                    .into(),
            ),
            InventoryError::UnknownGroupKey { suggestion, .. } => Some(match suggestion {
                Some(name) => format!("did you mean `{name}`?"),
                None => {
                    "a group takes `hosts`, `vars` and `children`; put a host under `hosts:`".into()
                }
            }),
            InventoryError::GroupCycle { .. } => {
                Some("remove one of the `children` entries in the loop".into())
            }
            InventoryError::BadRange { .. } => Some(
                "ranges look like `web[01:10].example.org`, `db-[a:f]` or `node[0:20:2]`".into(),
            ),
            InventoryError::IniSyntax { hint, .. } => hint.clone(),
            InventoryError::NotAMapping { hint, .. } => hint.map(str::to_string),
            InventoryError::IniSectionKind { suggestion, .. } => Some(match suggestion {
                Some(kind) => format!("did you mean `{kind}`?"),
                None => "sections are `[group]`, `[group:vars]` and `[group:children]`".into(),
            }),
            InventoryError::IniUndefinedChild {
                child, suggestion, ..
            } => Some(match suggestion {
                Some(name) => format!("did you mean `{name}`?"),
                None => format!("add a `[{child}]` section listing its hosts (it may be empty)"),
            }),
            InventoryError::IniVarsForUndefinedGroup { group, suggestion } => {
                Some(match suggestion {
                    Some(name) => format!("did you mean `{name}`?"),
                    None => format!("add a `[{group}]` section listing its hosts"),
                })
            }
            InventoryError::BadVariable { name, .. } if name == "ansible_port" => {
                Some("write the SSH port as a number, e.g. `ansible_port: 2222`".into())
            }
            InventoryError::BadVariable { name, .. } if name == "ansible_become" => {
                Some("write `true` or `false`".into())
            }
            InventoryError::BadPattern { .. } => {
                Some("`~` starts a regular expression; drop it for a glob like `web*`".into())
            }
            _ => None,
        }
    }

    /// The diagnostic for this error at `location`.
    pub fn at(self, location: Location) -> Diagnostic {
        let hint = self.hint();
        Diagnostic::error(self.to_string())
            .at(location)
            .with_optional_hint(hint)
    }

    /// The diagnostic for this error with no place in a file.
    pub fn nowhere(self) -> Diagnostic {
        let hint = self.hint();
        Diagnostic::error(self.to_string()).with_optional_hint(hint)
    }
}
