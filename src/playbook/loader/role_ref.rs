//! A reference to a role, as written where a role is applied.

use crate::diagnostic::Location;
use crate::playbook::model::{BecomeSettings, Condition};
use serde_json::{Map, Value};

/// A role named in a play's `roles:`, a `meta/main.yml` dependency, or an
/// `include_role`/`import_role`, with the keywords written there.
#[derive(Debug, Clone)]
pub(super) struct RoleRef {
    /// The name (or a path) as written.
    pub name: String,
    /// Where it is written.
    pub location: Location,
    /// Role parameters: `vars:` and any key that is not a keyword.
    pub params: Map<String, Value>,
    /// `when:`, applied to each task of the role.
    pub when: Vec<Condition>,
    /// `tags:`, added to each task of the role.
    pub tags: Vec<String>,
    /// `become*`, defaults for each task of the role.
    pub become_settings: BecomeSettings,
}

impl RoleRef {
    /// A reference by name only.
    pub fn named(name: String, location: Location) -> Self {
        RoleRef {
            name,
            location,
            params: Map::new(),
            when: Vec::new(),
            tags: Vec::new(),
            become_settings: BecomeSettings::default(),
        }
    }
}
