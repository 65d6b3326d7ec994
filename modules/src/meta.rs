//! `meta`: control the run itself. Runs on the controller.
//!
//! ```yaml
//! - meta: flush_handlers
//! ```

use crate::module::{Context, ModuleError, Target, TypedModule};
use crate::{Host, Plan};
use schemars::JsonSchema;
use serde::Deserialize;

/// What `meta` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetaAction {
    /// Run the handlers notified so far, now.
    FlushHandlers,
    /// Do nothing.
    Noop,
    /// Stop the play for this host, successfully.
    EndHost,
    /// Stop the play for every host.
    EndPlay,
}

/// Arguments of `meta`: the action, written as the task's value (`meta: flush_handlers`)
/// or as `free_form:`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MetaArgs {
    /// The action.
    pub free_form: MetaAction,
}

/// The `meta` module.
pub struct Meta;

impl TypedModule for Meta {
    type Args = MetaArgs;
    const NAME: &'static str = "meta";
    const SUMMARY: &'static str = "Control the run: flush handlers, end the host or the play";
    const EXAMPLES: &'static str = "- meta: flush_handlers\n";
    const TARGET: Target = Target::Controller;

    fn plan(_: MetaArgs, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::ControllerOnly(Self::NAME))
    }
}
