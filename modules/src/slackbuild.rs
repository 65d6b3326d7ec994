//! `slackbuild`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `slackbuild` module (being built).
pub struct Slackbuild;

impl TypedModule for Slackbuild {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "slackbuild";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `slackbuild` is not built yet"))
    }
}
