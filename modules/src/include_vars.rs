//! `include_vars`: load variables from a YAML file, or every file of a directory, on the
//! controller. Runs on the controller.
//!
//! ```yaml
//! - include_vars:
//!     file: "vars/{{ ansible_distribution }}.yml"
//! - include_vars:
//!     dir: vars/extra
//!     extensions: [yml]
//! ```

use crate::module::{ArgsError, Context, ModuleError, Target, TypedModule};
use crate::{Host, Plan};
use schemars::JsonSchema;
use serde::Deserialize;

/// Arguments of `include_vars`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IncludeVarsArgs {
    /// The YAML file, relative to the role's `vars/` or the playbook's directory.
    pub file: Option<String>,
    /// A directory whose files are all loaded, in alphabetical order (later files win).
    pub dir: Option<String>,
    /// With `dir`: the file name endings to load.
    #[serde(default = "default_extensions")]
    pub extensions: Vec<String>,
    /// With `dir`: how deep to descend (0: no limit).
    #[serde(default)]
    pub depth: u32,
    /// With `dir`: only files whose name matches this regular expression.
    pub files_matching: Option<String>,
    /// With `dir`: file names to leave out.
    #[serde(default)]
    pub ignore_files: Vec<String>,
    /// Put the variables under this one name instead of at the top level.
    pub name: Option<String>,
}

fn default_extensions() -> Vec<String> {
    ["yaml", "yml", "json"].map(String::from).to_vec()
}

/// The `include_vars` module.
pub struct IncludeVars;

impl TypedModule for IncludeVars {
    type Args = IncludeVarsArgs;
    const NAME: &'static str = "include_vars";
    const SUMMARY: &'static str = "Load variables from a YAML file on the controller";
    const EXAMPLES: &'static str = "- include_vars:\n    file: vars/slackware.yml\n";
    const TARGET: Target = Target::Controller;

    fn check(args: &IncludeVarsArgs) -> Result<(), ArgsError> {
        match (&args.file, &args.dir) {
            (Some(_), Some(_)) => Err(ArgsError::new(
                Some("dir"),
                "`file` and `dir` cannot be given together",
            )),
            (None, None) => Err(ArgsError::new(
                Some("file"),
                "module `include_vars` needs the argument `file` or `dir`",
            )),
            _ => Ok(()),
        }
    }

    fn plan(_: IncludeVarsArgs, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::ControllerOnly(Self::NAME))
    }
}
