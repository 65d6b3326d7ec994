//! `fail`: stop the host with a message. Runs on the controller.
//!
//! ```yaml
//! - fail:
//!     msg: "wan_interface is not set"
//!   when: wan_interface is undefined
//! ```

use crate::module::{Context, ModuleError, Target, TypedModule};
use crate::{Host, Plan};
use schemars::JsonSchema;
use serde::Deserialize;

/// Arguments of `fail`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FailArgs {
    /// The message the host fails with.
    #[serde(default = "default_message")]
    pub msg: String,
}

fn default_message() -> String {
    "Failed as requested from task".into()
}

/// The `fail` module.
pub struct Fail;

impl TypedModule for Fail {
    type Args = FailArgs;
    const NAME: &'static str = "fail";
    const SUMMARY: &'static str = "Fail the host with a message";
    const EXAMPLES: &'static str =
        "- fail:\n    msg: \"wan_interface is not set\"\n  when: wan_interface is undefined\n";
    const TARGET: Target = Target::Controller;

    fn plan(_: FailArgs, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::ControllerOnly(Self::NAME))
    }
}
