//! `template`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `template` module (being built).
pub struct Template;

impl TypedModule for Template {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "template";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `template` is not built yet"))
    }
}
