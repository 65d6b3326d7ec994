//! `lineinfile`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `lineinfile` module (being built).
pub struct Lineinfile;

impl TypedModule for Lineinfile {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "lineinfile";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `lineinfile` is not built yet"))
    }
}
