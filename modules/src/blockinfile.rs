//! `blockinfile`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `blockinfile` module (being built).
pub struct Blockinfile;

impl TypedModule for Blockinfile {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "blockinfile";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `blockinfile` is not built yet"))
    }
}
