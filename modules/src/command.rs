//! `command`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `command` module (being built).
pub struct CommandModule;

impl TypedModule for CommandModule {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "command";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `command` is not built yet"))
    }
}
