//! `ip6tables`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `ip6tables` module (being built).
pub struct Ip6tables;

impl TypedModule for Ip6tables {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "ip6tables";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `ip6tables` is not built yet"))
    }
}
