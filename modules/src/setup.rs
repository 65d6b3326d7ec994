//! `setup`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `setup` module (being built).
pub struct Setup;

impl TypedModule for Setup {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "setup";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `setup` is not built yet"))
    }
}
