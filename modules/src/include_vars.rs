//! `include_vars`: load variables from a YAML file on the controller. Runs on the controller.
//!
//! ```yaml
//! - include_vars:
//!     file: "vars/{{ ansible_distribution }}.yml"
//! ```

use crate::module::{Context, ModuleError, Target, TypedModule};
use crate::{Host, Plan};
use schemars::JsonSchema;
use serde::Deserialize;

/// Arguments of `include_vars`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncludeVarsArgs {
    /// The YAML file, relative to the role's `vars/` or the playbook's directory.
    pub file: String,
    /// Put the variables under this one name instead of at the top level.
    pub name: Option<String>,
}

/// The `include_vars` module.
pub struct IncludeVars;

impl TypedModule for IncludeVars {
    type Args = IncludeVarsArgs;
    const NAME: &'static str = "include_vars";
    const SUMMARY: &'static str = "Load variables from a YAML file on the controller";
    const EXAMPLES: &'static str = "- include_vars:\n    file: vars/slackware.yml\n";
    const TARGET: Target = Target::Controller;

    fn plan(_: IncludeVarsArgs, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::ControllerOnly(Self::NAME))
    }
}
