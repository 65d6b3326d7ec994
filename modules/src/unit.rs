//! One systemd unit: reading its status with `systemctl show` and planning the `systemctl`
//! steps that bring it to the wanted state. Shared by the `systemd` module and by `service`
//! on systemd hosts, so that both plan a unit the same way.

use crate::host::{Command, Host};
use crate::module::{ArgsError, ModuleError};
use crate::plan::{Change, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The run state a service should be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    /// Running; started if it is not.
    Started,
    /// Not running; stopped if it is.
    Stopped,
    /// Restarted, always (a change every run).
    Restarted,
    /// Reloaded, always; started when it is not running.
    Reloaded,
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
    // Ansible runs these but does not count them as a change; neither does converge.
    if request.daemon_reload {
        plan.always.push(systemctl(&["daemon-reload"], None, false));
    }
    if request.daemon_reexec {
        plan.always.push(systemctl(&["daemon-reexec"], None, false));
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
    let output = host.run_read(&show)?;
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
