//! `slurp`: read a file from the host into a variable, base64-encoded, as Ansible's `slurp`.
//!
//! Changes nothing: the plan is "no change" and its result holds `content` (the file's bytes
//! in base64), `encoding: base64` and `source`, so `register: f` then
//! `{{ f.content | b64decode }}` works as in Ansible. Reads with one stat-and-read round trip
//! through the transport (symbolic links are followed, as `open` does).
//!
//! ```yaml
//! - slurp:
//!     src: /etc/machine-id
//!   register: machine_id
//! - debug:
//!     msg: "{{ machine_id.content | b64decode | trim }}"
//! ```

use crate::host::{FileKind, Host, HostError};
use crate::module::{Context, ModuleError, TypedModule};
use crate::plan::Plan;
use base64::Engine;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// Arguments of `slurp`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlurpArgs {
    /// The file to read.
    #[serde(alias = "path")]
    pub src: String,
}

/// The `slurp` module.
pub struct Slurp;

impl TypedModule for Slurp {
    type Args = SlurpArgs;
    const NAME: &'static str = "slurp";
    const SUMMARY: &'static str = "Read a file from the host into a variable (base64)";
    const EXAMPLES: &'static str = "- slurp:\n    src: /etc/machine-id\n  register: machine_id\n\n- debug:\n    msg: \"{{ machine_id.content | b64decode | trim }}\"\n";
    const USES_FACTS: bool = false;

    fn plan(args: SlurpArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let src = args.src;
        let read = host.stat_and_read(&src);
        let content = match read {
            Ok((None, _)) => return Err(ModuleError::failed(format!("File not found: {src}"))),
            Ok((Some(stat), _)) if stat.kind == FileKind::Directory => {
                return Err(ModuleError::failed(format!(
                    "Source is a directory and must be a file: {src}"
                )))
            }
            Ok((Some(_), Some(content))) => content,
            // A link to a directory, a dangling link, a device: read it as `open` would.
            Ok((Some(_), None)) => match host.read_file(&src) {
                Ok(Some(content)) => content,
                Ok(None) => return Err(ModuleError::failed(format!("File not found: {src}"))),
                Err(error) => return Err(read_failure(&src, error)),
            },
            Err(error) => return Err(read_failure(&src, error)),
        };
        let mut plan = Plan::unchanged();
        plan.result.insert(
            "content".into(),
            Value::String(base64::engine::general_purpose::STANDARD.encode(content)),
        );
        plan.result.insert("source".into(), Value::String(src));
        plan.result
            .insert("encoding".into(), Value::String("base64".into()));
        Ok(plan)
    }
}

/// Ansible's wording for the usual read failures; other transport errors pass through.
fn read_failure(src: &str, error: HostError) -> ModuleError {
    let reason = error.to_string();
    if reason.contains("Permission denied") || reason.contains("permission denied") {
        ModuleError::failed(format!("File is not readable: {src}"))
    } else if reason.contains("Is a directory") || reason.contains("not a regular file") {
        ModuleError::failed(format!("Source is a directory and must be a file: {src}"))
    } else {
        ModuleError::Host(error)
    }
}
