//! `package`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `package` module (being built).
pub struct Package;

impl TypedModule for Package {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "package";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `package` is not built yet"))
    }
}
