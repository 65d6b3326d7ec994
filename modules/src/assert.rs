//! `assert`: fail the host unless every expression holds. Runs on the controller.
//!
//! ```yaml
//! - assert:
//!     that:
//!       - wan_interface is defined
//!       - guests | length > 0
//!     fail_msg: "set wan_interface and guests in host_vars"
//! ```

use crate::args::{Flag, StringList};
use crate::module::{Context, ModuleError, Target, TypedModule};
use crate::{Host, Plan};
use schemars::JsonSchema;
use serde::Deserialize;

/// Arguments of `assert`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssertArgs {
    /// Expressions (without `{{ }}`) that must all be true.
    pub that: StringList,
    /// Message when an expression is false.
    #[serde(alias = "msg")]
    pub fail_msg: Option<String>,
    /// Message when all hold.
    pub success_msg: Option<String>,
    /// Print nothing on success.
    #[serde(default)]
    pub quiet: Flag,
}

/// The `assert` module.
pub struct Assert;

impl TypedModule for Assert {
    type Args = AssertArgs;
    const NAME: &'static str = "assert";
    const SUMMARY: &'static str = "Fail the host unless every expression holds";
    const EXAMPLES: &'static str = "- assert:\n    that:\n      - wan_interface is defined\n    fail_msg: \"set wan_interface in host_vars\"\n";
    const TARGET: Target = Target::Controller;

    fn plan(_: AssertArgs, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::ControllerOnly(Self::NAME))
    }
}
