//! `xprofile`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `xprofile` module (being built).
pub struct Xprofile;

impl TypedModule for Xprofile {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "xprofile";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `xprofile` is not built yet"))
    }
}
