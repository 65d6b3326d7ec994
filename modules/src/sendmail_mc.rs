//! `sendmail_mc`: not built yet.

use crate::module::{Context, ModuleError, TypedModule};
use crate::{Host, Plan};

/// The `sendmail_mc` module (being built).
pub struct SendmailMc;

impl TypedModule for SendmailMc {
    type Args = serde_json::Map<String, serde_json::Value>;
    const NAME: &'static str = "sendmail_mc";
    const SUMMARY: &'static str = "not built yet";
    const EXAMPLES: &'static str = "";

    fn plan(_: Self::Args, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::failed("module `sendmail_mc` is not built yet"))
    }
}
