//! `systemd` (also `systemd_service`): converge a systemd unit's state, enablement and mask.
//!
//! Reads `systemctl show NAME --property=Id,LoadState,ActiveState,SubState,UnitFileState` in
//! one call. Plans, in Ansible's order: `systemctl daemon-reload`, `mask`/`unmask`,
//! `enable`/`disable`, then `start`/`stop`/`restart`/`reload` — each a `systemctl` argv.
//! Idempotence: `started`/`stopped`/`enabled`/`masked` change only when the unit differs;
//! `restarted` and `reloaded` always run (as in Ansible); `daemon_reload: yes` always runs but,
//! as in Ansible, is no change by itself. A unit that
//! is not running counts as stopped; `reloaded` on a stopped unit starts it.
//!
//! ```yaml
//! - systemd:
//!     name: radvd
//!     state: started
//!     enabled: true
//!     daemon_reload: true
//! ```

use crate::args::Flag;
use crate::host::Host;
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::Plan;
use crate::unit::{check_unit_name, plan_unit, ServiceState, UnitRequest};
use schemars::JsonSchema;
use serde::Deserialize;

/// Which systemd instance to talk to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The system manager (`systemctl`).
    #[default]
    System,
    /// A user's manager (`systemctl --user`); not supported yet.
    User,
    /// All users' managers (`systemctl --global`); not supported yet.
    Global,
}

/// Arguments of `systemd`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SystemdArgs {
    /// The unit (`radvd`, `radvd.service`, `getty@tty1.service`); `.service` is assumed.
    #[serde(alias = "service", alias = "unit")]
    pub name: Option<String>,
    /// `started`, `stopped`, `restarted` or `reloaded`.
    pub state: Option<ServiceState>,
    /// Start the unit at boot (`systemctl enable`) or not.
    pub enabled: Option<Flag>,
    /// Mask the unit (it cannot be started at all) or unmask it.
    pub masked: Option<Flag>,
    /// Run `systemctl daemon-reload` first, so that changed unit files are read.
    #[serde(default, alias = "daemon-reload")]
    pub daemon_reload: Flag,
    /// Run `systemctl daemon-reexec` first.
    #[serde(default, alias = "daemon-reexec")]
    pub daemon_reexec: Flag,
    /// Only `system` is supported.
    #[serde(default)]
    pub scope: Scope,
    /// Do not wait for start/stop jobs to finish (`--no-block`).
    #[serde(default)]
    pub no_block: Flag,
}

/// The `systemd` module.
pub struct Systemd;

impl TypedModule for Systemd {
    type Args = SystemdArgs;
    const NAME: &'static str = "systemd";
    const SUMMARY: &'static str = "Start, stop, restart, enable or mask a systemd unit";
    const EXAMPLES: &'static str = "- systemd:\n    name: radvd\n    state: started\n    enabled: true\n- systemd:\n    daemon_reload: true\n";

    fn check(args: &SystemdArgs) -> Result<(), ArgsError> {
        if args.scope != Scope::System {
            return Err(ArgsError::new(
                Some("scope"),
                format!(
                    "`scope: {}` is not supported yet by module `systemd`",
                    if args.scope == Scope::User {
                        "user"
                    } else {
                        "global"
                    }
                ),
            )
            .with_hint("only `scope: system` (the default) is supported"));
        }
        match &args.name {
            Some(name) => check_unit_name(name),
            None if args.state.is_some() || args.enabled.is_some() || args.masked.is_some() => Err(
                ArgsError::new(Some("name"), "module `systemd` needs `name` with `state`, `enabled` or `masked`"),
            ),
            None if !args.daemon_reload.0 && !args.daemon_reexec.0 => Err(ArgsError::new(
                None,
                "module `systemd` needs `name` (with `state`, `enabled` or `masked`) or `daemon_reload`",
            )),
            None => Ok(()),
        }
    }

    fn plan(args: SystemdArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let request = UnitRequest {
            name: args.name,
            state: args.state,
            enabled: args.enabled.map(|f| f.0),
            masked: args.masked.map(|f| f.0),
            daemon_reload: args.daemon_reload.0,
            daemon_reexec: args.daemon_reexec.0,
            no_block: args.no_block.0,
        };
        plan_unit(host, &request)
    }
}

/// `systemd_service`: Ansible's newer name for the same module.
pub struct SystemdService;

impl TypedModule for SystemdService {
    type Args = SystemdArgs;
    const NAME: &'static str = "systemd_service";
    const SUMMARY: &'static str =
        "Start, stop, restart, enable or mask a systemd unit (same as `systemd`)";
    const EXAMPLES: &'static str = Systemd::EXAMPLES;

    fn check(args: &SystemdArgs) -> Result<(), ArgsError> {
        Systemd::check(args)
    }

    fn plan(
        args: SystemdArgs,
        host: &mut dyn Host,
        context: &Context,
    ) -> Result<Plan, ModuleError> {
        Systemd::plan(args, host, context)
    }
}
