//! `shell`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `shell` module (being built).
pub struct Shell;

impl TypedModule for Shell {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "shell";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `shell` is not built yet"))
    }
}
