//! `systemd` (also `systemd_service`): converge a systemd unit's state, enablement and mask.
//!
//! Reads `systemctl show NAME --property=Id,LoadState,ActiveState,SubState,UnitFileState` in
//! one call. Plans, in Ansible's order: `systemctl daemon-reload`, `mask`/`unmask`,
//! `enable`/`disable`, then `start`/`stop`/`restart`/`reload` — each a `systemctl` argv.
//! Idempotence: `started`/`stopped`/`enabled`/`masked` change only when the unit differs;
//! `restarted`, `reloaded` and `daemon_reload: yes` always run (as in Ansible). A unit that
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
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use crate::service::ServiceState;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

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

/// What to do with one systemd unit; shared by `systemd` and `service` on systemd hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitRequest {
    /// The unit name, as the user wrote it.
    pub name: Option<String>,
    /// The wanted run state.
    pub state: Option<ServiceState>,
    /// Enabled at boot.
    pub enabled: Option<bool>,
    /// Masked.
    pub masked: Option<bool>,
    /// `systemctl daemon-reload` first.
    pub daemon_reload: bool,
    /// `systemctl daemon-reexec` first.
    pub daemon_reexec: bool,
    /// Add `--no-block` to job commands.
    pub no_block: bool,
}

/// What `systemctl show` says about a unit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitStatus {
    /// `loaded`, `not-found`, `masked`, `bad-setting`…
    pub load_state: String,
    /// `active`, `inactive`, `failed`, `activating`…
    pub active_state: String,
    /// `running`, `dead`, `exited`…
    pub sub_state: String,
    /// `enabled`, `disabled`, `static`, `masked`… (empty for unknown units).
    pub unit_file_state: String,
}

impl UnitStatus {
    /// Parse `KEY=value` lines of `systemctl show`.
    pub fn parse(text: &str) -> Self {
        let mut status = UnitStatus::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().to_string();
            match key.trim() {
                "LoadState" => status.load_state = value,
                "ActiveState" => status.active_state = value,
                "SubState" => status.sub_state = value,
                "UnitFileState" => status.unit_file_state = value,
                _ => {}
            }
        }
        status
    }

    /// Running as Ansible counts it: active, reloading or activating.
    pub fn is_running(&self) -> bool {
        matches!(
            self.active_state.as_str(),
            "active" | "activating" | "reloading"
        )
    }

    /// Started at boot (or by another unit): what `systemctl is-enabled` reports with status 0.
    pub fn is_enabled(&self) -> bool {
        matches!(
            self.unit_file_state.as_str(),
            "enabled"
                | "enabled-runtime"
                | "static"
                | "indirect"
                | "generated"
                | "transient"
                | "alias"
        )
    }

    /// Masked, permanently or until reboot.
    pub fn is_masked(&self) -> bool {
        self.unit_file_state.starts_with("masked") || self.load_state == "masked"
    }

    /// systemd has never heard of the unit.
    pub fn is_not_found(&self) -> bool {
        self.load_state == "not-found"
    }
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}

fn systemctl(args: &[&str], name: Option<&str>, no_block: bool) -> Step {
    let mut argv = vec!["systemctl".to_string()];
    if no_block {
        argv.push("--no-block".into());
    }
    argv.extend(args.iter().map(|a| a.to_string()));
    if let Some(name) = name {
        argv.push(name.to_string());
    }
    Step::Run {
        command: Command::argv(argv),
        allow_failure: false,
    }
}

/// Reject names that a command would read as an option, or that are not unit names.
pub fn check_unit_name(name: &str) -> Result<(), ArgsError> {
    if name.is_empty()
        || name.starts_with('-')
        || name.contains(char::is_whitespace)
        || name.contains('/')
    {
        return Err(
            ArgsError::new(Some("name"), format!("`{name}` is not a unit name"))
                .with_hint("write the unit as systemctl lists it, e.g. `radvd` or `radvd.service`"),
        );
    }
    Ok(())
}

/// Read the unit and plan the changes `request` asks for.
pub fn plan_unit(host: &mut dyn Host, request: &UnitRequest) -> Result<Plan, ModuleError> {
    let mut plan = Plan::unchanged();
    if request.daemon_reload {
        plan.push(
            Change::note("systemd", "reload unit files (`systemctl daemon-reload`)"),
            [systemctl(&["daemon-reload"], None, false)],
        );
    }
    if request.daemon_reexec {
        plan.push(
            Change::note(
                "systemd",
                "re-execute the manager (`systemctl daemon-reexec`)",
            ),
            [systemctl(&["daemon-reexec"], None, false)],
        );
    }
    let Some(name) = request.name.as_deref() else {
        return Ok(plan);
    };
    check_unit_name(name)?;

    let show = Command::argv([
        "systemctl",
        "show",
        name,
        "--property=Id,LoadState,ActiveState,SubState,UnitFileState",
    ]);
    let output = host.run(&show)?;
    if !output.success() {
        return Err(ModuleError::Failed {
            message: format!(
                "`{}` exited with {}: {}",
                show.to_shell_line(),
                output.status,
                output.stderr_text().trim()
            ),
            hint: Some("is this a systemd host? set `use:` on `service`, or gather facts".into()),
        });
    }
    let status = UnitStatus::parse(&output.stdout_text());
    let not_found = status.is_not_found();
    let no_block = request.no_block;

    if not_found
        && (request.state.is_some_and(|s| s != ServiceState::Stopped)
            || request.enabled == Some(true))
    {
        if request.daemon_reload {
            // The unit file may appear with the reload; apply will tell.
            plan.warnings.push(format!(
                "unit `{name}` is not known to systemd yet; assuming the daemon-reload adds it"
            ));
        } else {
            return Err(ModuleError::Failed {
                message: format!("could not find the requested unit `{name}`"),
                hint: Some(
                    "install the package that ships it, or add `daemon_reload: true` after writing the unit file"
                        .into(),
                ),
            });
        }
    }

    let mut masked_now = status.is_masked();
    if let Some(masked) = request.masked {
        if masked != masked_now {
            let verb = if masked { "mask" } else { "unmask" };
            plan.push(
                Change::value(
                    format!("{name} masked"),
                    Some(yes_no(masked_now)),
                    Some(yes_no(masked)),
                ),
                [systemctl(&[verb], Some(name), false)],
            );
            masked_now = masked;
        }
    }
    if masked_now
        && (request.enabled == Some(true)
            || request.state.is_some_and(|s| s != ServiceState::Stopped))
    {
        return Err(ModuleError::Failed {
            message: format!("unit `{name}` is masked, so it cannot be started or enabled"),
            hint: Some("add `masked: false` to unmask it first".into()),
        });
    }

    let enabled_now = status.is_enabled();
    if let Some(enabled) = request.enabled {
        if enabled != enabled_now {
            plan.push(
                Change::value(
                    format!("{name} enabled"),
                    Some(yes_no(enabled_now)),
                    Some(yes_no(enabled)),
                ),
                [systemctl(
                    &[if enabled { "enable" } else { "disable" }],
                    Some(name),
                    false,
                )],
            );
        } else if !enabled
            && !not_found
            && matches!(
                status.unit_file_state.as_str(),
                "static" | "generated" | "transient" | "indirect"
            )
        {
            plan.warnings.push(format!(
                "unit `{name}` is {}: `systemctl disable` cannot stop it from being started",
                status.unit_file_state
            ));
        }
    }

    let running = status.is_running();
    let before = if running { "started" } else { "stopped" };
    let mut state_after = Some(before);
    match request.state {
        None => {}
        Some(ServiceState::Started) if !running => {
            plan.push(
                Change::value(
                    format!("{name} state"),
                    Some(before.into()),
                    Some("started".into()),
                ),
                [systemctl(&["start"], Some(name), no_block)],
            );
            state_after = Some("started");
        }
        Some(ServiceState::Stopped) if running => {
            plan.push(
                Change::value(
                    format!("{name} state"),
                    Some(before.into()),
                    Some("stopped".into()),
                ),
                [systemctl(&["stop"], Some(name), no_block)],
            );
            state_after = Some("stopped");
        }
        Some(ServiceState::Started) | Some(ServiceState::Stopped) => {}
        Some(ServiceState::Restarted) => {
            plan.push(
                Change::note(name, "restart (`systemctl restart`)"),
                [systemctl(&["restart"], Some(name), no_block)],
            );
            state_after = Some("started");
        }
        Some(ServiceState::Reloaded) => {
            // Ansible: a unit that is not running is started instead.
            let verb = if running { "reload" } else { "start" };
            plan.push(
                Change::note(name, format!("{verb} (`systemctl {verb}`)")),
                [systemctl(&[verb], Some(name), no_block)],
            );
            state_after = Some("started");
        }
    }

    plan.result.insert("name".into(), json!(name));
    if let Some(state) = state_after.filter(|_| request.state.is_some()) {
        plan.result.insert("state".into(), json!(state));
    }
    if let Some(enabled) = request.enabled {
        plan.result.insert("enabled".into(), json!(enabled));
    }
    let mut show_result = Map::new();
    show_result.insert("LoadState".into(), json!(status.load_state));
    show_result.insert("ActiveState".into(), json!(status.active_state));
    show_result.insert("SubState".into(), json!(status.sub_state));
    show_result.insert("UnitFileState".into(), json!(status.unit_file_state));
    plan.result
        .insert("status".into(), Value::Object(show_result));
    Ok(plan)
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
