//! `sysctl`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `sysctl` module (being built).
pub struct Sysctl;

impl TypedModule for Sysctl {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "sysctl";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `sysctl` is not built yet"))
    }
}
