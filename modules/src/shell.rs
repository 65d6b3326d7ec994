//! `shell`: run a script on the host through `/bin/sh -c` (or another `executable`).
//!
//! Like `command`, but pipes, redirections, variables and globs work, so values from
//! variables must be quoted in the script (`{{ path | quote }}`). Converges nothing by itself:
//! a script that runs counts as a change; `creates`/`removes` (plain paths, one stat each)
//! skip it, which is what makes it idempotent. Check mode cannot know the outcome, so the
//! plan is marked unknowable.
//!
//! ```yaml
//! - shell: ip6tables-save > /etc/iptables/rules.v6
//!   args:
//!     creates: /etc/iptables/rules.v6
//! ```

use crate::args::Flag;
use crate::command::{plan_run, yes, Guard};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::{Command, Host, Plan};
use schemars::JsonSchema;
use serde::Deserialize;

/// Arguments of `shell`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShellArgs {
    /// The script (the free-form text after `shell:`), run by `/bin/sh -c`.
    pub cmd: Option<String>,
    /// The shell that runs the script, as `EXECUTABLE -c SCRIPT` (e.g. `/bin/bash`).
    pub executable: Option<String>,
    /// Change into this directory before running.
    pub chdir: Option<String>,
    /// A path: when it exists, the script is not run.
    pub creates: Option<String>,
    /// A path: when it does not exist, the script is not run.
    pub removes: Option<String>,
    /// Text fed to the script's standard input.
    pub stdin: Option<String>,
    /// Add a newline after `stdin`.
    #[serde(default = "yes")]
    pub stdin_add_newline: Flag,
}

/// The `shell` module.
pub struct Shell;

impl TypedModule for Shell {
    type Args = ShellArgs;
    const NAME: &'static str = "shell";
    const SUMMARY: &'static str = "Run a shell script on the host";
    const EXAMPLES: &'static str = "- shell: ip6tables-save > /etc/iptables/rules.v6\n  args:\n    creates: /etc/iptables/rules.v6\n\n- shell: set -o pipefail; dmesg | grep -c ipv6\n  args:\n    executable: /bin/bash\n";
    const USES_FACTS: bool = false;

    fn check(args: &ShellArgs) -> Result<(), ArgsError> {
        match &args.cmd {
            Some(cmd) if !cmd.trim().is_empty() => Ok(()),
            _ => Err(ArgsError::new(None, "module `shell` needs a script to run")
                .with_hint("write it after `shell:`, or give `cmd`")),
        }
    }

    fn plan(args: ShellArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Self::check(&args)?;
        let script = args.cmd.clone().unwrap_or_default();
        let command = match &args.executable {
            Some(shell) => Command::argv([shell.clone(), "-c".into(), script]),
            None => Command::shell(script),
        };
        let guard = Guard {
            chdir: args.chdir.as_deref(),
            creates: args.creates.as_deref(),
            removes: args.removes.as_deref(),
            stdin: args.stdin.as_deref(),
            stdin_add_newline: args.stdin_add_newline.0,
        };
        plan_run(Self::NAME, command, &guard, host)
    }
}
