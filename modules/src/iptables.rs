//! `iptables`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `iptables` module (being built).
pub struct Iptables;

impl TypedModule for Iptables {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "iptables";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `iptables` is not built yet"))
    }
}
