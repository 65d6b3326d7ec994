//! `copy`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `copy` module (being built).
pub struct Copy;

impl TypedModule for Copy {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "copy";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `copy` is not built yet"))
    }
}
