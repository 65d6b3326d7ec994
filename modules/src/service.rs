//! `service`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `service` module (being built).
pub struct Service;

impl TypedModule for Service {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "service";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `service` is not built yet"))
    }
}
