//! `debug`: print a message or a variable during a run. Runs on the controller; changes nothing.
//!
//! ```yaml
//! - debug:
//!     msg: "forwarding is {{ forwarding }}"
//! ```

use crate::module::{Context, ModuleError, Target, TypedModule};
use crate::{Host, Plan};
use schemars::JsonSchema;
use serde::Deserialize;

/// Arguments of `debug`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DebugArgs {
    /// The message to print (any value; templates are rendered first).
    pub msg: Option<serde_json::Value>,
    /// The name of a variable to print, instead of `msg`.
    pub var: Option<String>,
    /// Print only at this `-v` level or above.
    #[serde(default)]
    pub verbosity: u8,
}

/// The `debug` module.
pub struct Debug;

impl TypedModule for Debug {
    type Args = DebugArgs;
    const NAME: &'static str = "debug";
    const SUMMARY: &'static str = "Print a message or a variable's value";
    const EXAMPLES: &'static str = "- debug:\n    msg: \"hello {{ inventory_hostname }}\"\n- debug:\n    var: ansible_default_ipv6\n";
    const TARGET: Target = Target::Controller;

    fn check(args: &DebugArgs) -> Result<(), crate::ArgsError> {
        if args.msg.is_some() && args.var.is_some() {
            return Err(crate::ArgsError::new(
                Some("var"),
                "`msg` and `var` are mutually exclusive in module `debug`",
            ));
        }
        Ok(())
    }

    fn plan(_: DebugArgs, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::ControllerOnly(Self::NAME))
    }
}
