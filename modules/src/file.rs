//! `file`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `file` module (being built).
pub struct File;

impl TypedModule for File {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "file";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `file` is not built yet"))
    }
}
