//! `set_fact`: set host variables for the rest of the run. Runs on the controller.
//!
//! ```yaml
//! - set_fact:
//!     guest_prefix: "{{ ansible_default_ipv6.address | regex_replace('::.*', '::') }}"
//! ```

use crate::module::{Context, ModuleError, Target, TypedModule};
use crate::{Host, Plan};
use serde_json::{Map, Value};

/// The `set_fact` module: its arguments are the variables to set (any names).
pub struct SetFact;

impl TypedModule for SetFact {
    type Args = Map<String, Value>;
    const NAME: &'static str = "set_fact";
    const SUMMARY: &'static str = "Set host variables for the rest of the run";
    const EXAMPLES: &'static str =
        "- set_fact:\n    upstream: eth0\n    guests_count: \"{{ guests | length }}\"\n";
    const TARGET: Target = Target::Controller;

    fn check(args: &Map<String, Value>) -> Result<(), crate::ArgsError> {
        if args.is_empty() {
            return Err(crate::ArgsError::new(
                None,
                "`set_fact` needs at least one variable",
            ));
        }
        for name in args.keys() {
            let valid = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(crate::ArgsError::new(
                    Some(name),
                    format!("`{name}` is not a valid variable name"),
                )
                .with_hint("use letters, digits and `_`, not starting with a digit"));
            }
        }
        Ok(())
    }

    fn plan(_: Map<String, Value>, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::ControllerOnly(Self::NAME))
    }
}
