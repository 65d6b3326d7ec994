//! `dhcpd`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `dhcpd` module (being built).
pub struct Dhcpd;

impl TypedModule for Dhcpd {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "dhcpd";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `dhcpd` is not built yet"))
    }
}
