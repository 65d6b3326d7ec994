//! `group`: a local group, as Ansible's `group` module manages it on Linux.
//!
//! Converges whether the group exists and its gid. Reads `/etc/group` (one file read) and
//! plans `groupadd` (with `-g`, `-o`, `-r`, `-K GID_MIN=`/`GID_MAX=`), `groupmod -g` when the
//! gid differs, or `groupdel` (`-f` with `force`), as argument vectors. `system` only matters
//! when the group is created, as in Ansible. Idempotence: once the group exists with the gid,
//! a second plan has no change.
//!
//! Not built: `local: yes` (the libuser tools), refused with an error.
//!
//! ```yaml
//! - group:
//!     name: deploy
//!     gid: 2001
//! ```

use crate::accounts::{Accounts, IntArg};
use crate::args::Flag;
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use crate::user::AccountState;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// Arguments of `group`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupArgs {
    /// The group's name.
    pub name: String,
    /// Whether the group should exist.
    #[serde(default)]
    pub state: AccountState,
    /// The group id.
    pub gid: Option<IntArg>,
    /// Create a system group (`groupadd -r`); only when creating.
    #[serde(default)]
    pub system: Flag,
    /// With `gid`: allow an id another group already has (`-o`).
    #[serde(default)]
    pub non_unique: Flag,
    /// With `state: absent`: remove the group even if it is a user's primary group
    /// (`groupdel -f`).
    #[serde(default)]
    pub force: Flag,
    /// Lowest gid `groupadd` may pick (`-K GID_MIN=`).
    pub gid_min: Option<IntArg>,
    /// Highest gid `groupadd` may pick (`-K GID_MAX=`).
    pub gid_max: Option<IntArg>,
    /// Use the libuser tools (`lgroupadd`). Not built: converge refuses `yes`.
    #[serde(default)]
    pub local: Flag,
}

/// The `group` module.
pub struct Group;

impl TypedModule for Group {
    type Args = GroupArgs;
    const NAME: &'static str = "group";
    const SUMMARY: &'static str = "Manage a local group (groupadd/groupmod/groupdel)";
    const EXAMPLES: &'static str = "- group:\n    name: deploy\n    gid: 2001\n\n- group:\n    name: backup\n    system: yes\n\n- group:\n    name: oldteam\n    state: absent\n";
    const USES_FACTS: bool = false;

    fn check(args: &GroupArgs) -> Result<(), ArgsError> {
        if args.local.0 {
            return Err(ArgsError::new(
                Some("local"),
                "`local: yes` (the libuser tools) is not built in converge's `group` module",
            )
            .with_hint("drop `local`: converge edits the local files with groupadd/groupmod"));
        }
        if args.name.is_empty() || args.name.contains([':', ',', '\n', '/']) {
            return Err(ArgsError::new(
                Some("name"),
                format!("`{}` is not a valid group name", args.name),
            ));
        }
        if args.non_unique.0 && args.gid.is_none() {
            return Err(ArgsError::new(
                Some("non_unique"),
                "`non_unique` needs `gid`",
            ));
        }
        Ok(())
    }

    fn plan(args: GroupArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let accounts = Accounts::read(host)?;
        let current = accounts.group_named(&args.name);
        let subject = format!("group {}", args.name);
        let mut plan = Plan::unchanged();
        let mut gid = current.map(|g| i64::from(g.gid));
        match (args.state, current) {
            (AccountState::Absent, None) => {}
            (AccountState::Absent, Some(_)) => {
                let mut argv = vec!["groupdel".to_string()];
                if args.force.0 {
                    argv.push("-f".into());
                }
                argv.push(args.name.clone());
                plan.push(
                    Change::value(subject, Some("present".into()), Some("absent".into())),
                    [run(argv)],
                );
                gid = None;
            }
            (AccountState::Present, None) => {
                let mut argv = vec!["groupadd".to_string()];
                let mut after = "present".to_string();
                if let Some(wanted) = args.gid {
                    argv.extend(["-g".into(), wanted.0.to_string()]);
                    if args.non_unique.0 {
                        argv.push("-o".into());
                    }
                    after = format!("present (gid {})", wanted.0);
                }
                if args.system.0 {
                    argv.push("-r".into());
                }
                if let Some(min) = args.gid_min {
                    argv.extend(["-K".into(), format!("GID_MIN={}", min.0)]);
                }
                if let Some(max) = args.gid_max {
                    argv.extend(["-K".into(), format!("GID_MAX={}", max.0)]);
                }
                argv.push(args.name.clone());
                plan.push(
                    Change::value(subject, Some("absent".into()), Some(after)),
                    [run(argv)],
                );
                // groupadd picks the gid itself when none is given.
                gid = args.gid.map(|g| g.0);
            }
            (AccountState::Present, Some(existing)) => {
                if let Some(wanted) = args.gid.filter(|g| g.0 != i64::from(existing.gid)) {
                    let mut argv = vec!["groupmod".to_string(), "-g".into(), wanted.0.to_string()];
                    if args.non_unique.0 {
                        argv.push("-o".into());
                    }
                    argv.push(args.name.clone());
                    plan.push(
                        Change::value(
                            format!("{subject}: gid"),
                            Some(existing.gid.to_string()),
                            Some(wanted.0.to_string()),
                        ),
                        [run(argv)],
                    );
                    gid = Some(wanted.0);
                }
            }
        }
        plan.result.insert("name".into(), json!(args.name));
        plan.result
            .insert("state".into(), json!(args.state.as_str()));
        if args.state == AccountState::Present {
            plan.result.insert("system".into(), json!(args.system.0));
            if let Some(gid) = gid {
                plan.result.insert("gid".into(), json!(gid));
            }
        }
        Ok(plan)
    }
}

fn run(argv: Vec<String>) -> Step {
    Step::Run {
        command: Command::argv(argv),
        allow_failure: false,
    }
}
