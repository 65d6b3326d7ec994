//! `systemd`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `systemd` module (being built).
pub struct Systemd;

impl TypedModule for Systemd {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "systemd";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `systemd` is not built yet"))
    }
}
