//! `service`: converge a service's run state and whether it starts at boot, on any init.
//!
//! The init system comes from the `service_mgr` fact unless `use` names one:
//! - `systemd`: the same planning as the `systemd` module (`systemctl show`, then
//!   `systemctl start|stop|restart|reload|enable|disable NAME`). A unit systemd generated from
//!   `/etc/init.d/NAME` stays active after its daemons die (`RemainAfterExit=yes`): with
//!   `state: started` the init script's status and pid files decide, as for sysvinit, and a
//!   unit whose daemons are gone is restarted.
//! - `bsdinit` (Slackware): the service is `/etc/rc.d/rc.NAME`, enabled exactly when it is
//!   executable (enable = `chmod 755`, disable = `chmod 644`; rc.M and rc.inet2 test `-x`).
//!   Running is decided by `pgrep -f PATTERN` when `pattern` is given, else by
//!   `rc.NAME status` when the script has a `status)` case (status 0 and no "not running" /
//!   "stopped" in its output), else by `pgrep -x NAME` — give `pattern` when the process is
//!   not called like the script (rc.bind runs `named`, rc.cups runs `cupsd`).
//!   Actions run `/etc/rc.d/rc.NAME start|stop|restart|reload [arguments]`. A script that
//!   is not executable was disabled by the admin: `started`, `restarted` and `reloaded` (a
//!   handler's restart included) warn and leave a stopped service stopped, unless the task
//!   also asks for `enabled: true`; a running one is still restarted or reloaded.
//! - `sysvinit` (Debian without systemd): `/etc/init.d/NAME`, enabled when an
//!   `/etc/rcN.d/S??NAME` link exists; actions via `service NAME ACTION`, enablement via
//!   `update-rc.d NAME defaults` + `enable`/`disable`. Running is decided by `pgrep -f
//!   PATTERN` when `pattern` is given; else the exit status of `service NAME status` is not
//!   trusted alone, because some scripts exit 0 for a stopped daemon (Debian's sendmail prints
//!   "MTA: is not running" and exits 0). The service runs when all of these hold: the status
//!   exits 0; its output says nothing like "not running", "is stopped", "is dead" or "not
//!   started"; and every pid file the script names literally (a path through a `run/`
//!   directory ending in `.pid`, e.g. `/var/run/dhcpd6.pid`) that exists holds the pid of a live process (a daemon killed with
//!   `kill -9` leaves its pid file behind). Missing pid files are not counted: the script may
//!   not start that daemon (isc-dhcp-server's `dhcpd6.pid` without `INTERFACESv6`).
//!   `started` removes such stale pid files before `start`: Debian's isc-dhcp-server
//!   refuses to start dhcpd -6 over a stale `dhcpd6.pid` while dhcpd runs.
//!
//! Everything is read in one command during planning; changes are steps. Idempotence:
//! `started`/`stopped`/`enabled` change only when the service differs; `restarted` and
//! `reloaded` always run (Ansible semantics), and `reloaded` starts a stopped service.
//!
//! ```yaml
//! - service:
//!     name: sshd
//!     state: started
//!     enabled: true
//! ```

use crate::args::Flag;
use crate::host::{quote, Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use crate::unit::{check_unit_name, plan_unit, ServiceState, UnitRequest};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// Which init system to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ServiceManager {
    /// From the `service_mgr` fact.
    #[default]
    Auto,
    /// systemd units.
    Systemd,
    /// Slackware's `/etc/rc.d/rc.NAME` scripts.
    Bsdinit,
    /// `/etc/init.d/NAME` scripts with `service` and `update-rc.d`.
    Sysvinit,
}

/// Arguments of `service`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceArgs {
    /// The service: `sshd` means `/etc/rc.d/rc.sshd`, `/etc/init.d/sshd` or `sshd.service`.
    pub name: String,
    /// `started`, `stopped`, `restarted` or `reloaded`.
    pub state: Option<ServiceState>,
    /// Start at boot or not.
    pub enabled: Option<Flag>,
    /// The init system (`auto` reads the `service_mgr` fact).
    #[serde(default, rename = "use")]
    pub use_manager: ServiceManager,
    /// A process command line to look for (`pgrep -f`) instead of asking the script.
    /// Without it, "running" means: systemd, `ActiveState=active`; Slackware, `rc.NAME
    /// status` exits 0 and prints no "not running"/"stopped" (or `pgrep -x NAME` when the
    /// script has no status); sysvinit, `service NAME status` exits 0, prints no "not
    /// running"/"is stopped"/"is dead", and every pid file the init script names that
    /// exists holds a live process (Debian's sendmail status exits 0 when stopped); the same
    /// for a systemd unit generated from an init script (it stays active after its daemons
    /// die). `started` removes stale pid files before starting (or restarting such a unit).
    pub pattern: Option<String>,
    /// Extra words passed to the script after the action (not used with systemd).
    #[serde(alias = "args")]
    pub arguments: Option<String>,
}

/// The `service` module.
pub struct Service;

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_string()
}

/// Reject names that are not a single plain word.
fn check_name(name: &str) -> Result<(), ArgsError> {
    if name.is_empty()
        || name.starts_with('-')
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "@._+:-".contains(c))
    {
        return Err(
            ArgsError::new(Some("name"), format!("`{name}` is not a service name"))
                .with_hint("give the bare name: `sshd` for /etc/rc.d/rc.sshd or sshd.service"),
        );
    }
    Ok(())
}

/// What the read command found.
#[derive(Debug, Default, PartialEq, Eq)]
struct Observed {
    present: bool,
    enabled: bool,
    running: Option<bool>,
    /// Pid files the script names that hold no live process (left by a daemon that died).
    stale_pid_files: Vec<String>,
    how: String,
}

/// Words a status command prints when the service is not running, though it exited 0.
pub(crate) fn says_not_running(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    [
        "not running",
        "is stopped",
        "stopped.",
        "is dead",
        "not started",
    ]
    .iter()
    .any(|phrase| lower.contains(phrase))
}

/// Parse the `key=value` lines of the read script.
fn parse_observed(text: &str) -> Observed {
    let mut observed = Observed::default();
    let mut status_rc: Option<i32> = None;
    let mut status_out = String::new();

    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "script" => observed.present = value == "present",
            "enabled" => observed.enabled = value == "yes",
            "running" => observed.running = Some(value == "yes"),
            "how" => observed.how = value.to_string(),
            "status_rc" => status_rc = value.trim().parse().ok(),
            "status_out" => {
                status_out.push_str(value);
                status_out.push('\n');
            }
            "pidfile_dead" => observed.stale_pid_files.push(value.to_string()),
            _ => {}
        }
    }
    if let Some(rc) = status_rc {
        // Init scripts of both kinds may exit 0 whatever they print (Debian's sendmail,
        // many of Slackware's); a pid file of a dead process says the daemon is gone.
        observed.running =
            Some(rc == 0 && !says_not_running(&status_out) && observed.stale_pid_files.is_empty());
    }
    observed
}

/// The read script: whether the service exists, is enabled and (if `check_running`) runs.
fn read_script(
    manager: ServiceManager,
    name: &str,
    pattern: Option<&str>,
    check_running: bool,
) -> String {
    let q = quote(name);
    let mut script = String::from("PATH=\"$PATH:/sbin:/usr/sbin\"\n");
    match manager {
        ServiceManager::Sysvinit => {
            script.push_str(&format!(
                "s=/etc/init.d/{q}\n\
                 [ -f \"$s\" ] || {{ echo script=missing; exit 0; }}\n\
                 echo script=present\n\
                 set -- /etc/rc[2345].d/S??{q}\n\
                 if [ -e \"$1\" ]; then echo enabled=yes; else echo enabled=no; fi\n"
            ));
        }
        _ => {
            script.push_str(&format!(
                "s=/etc/rc.d/rc.{q}\n\
                 [ -f \"$s\" ] || {{ echo script=missing; exit 0; }}\n\
                 echo script=present\n\
                 if [ -x \"$s\" ]; then echo enabled=yes; run=\"$s\"; else echo enabled=no; run=\"/bin/sh $s\"; fi\n"
            ));
        }
    }
    if !check_running {
        return script;
    }
    if pattern.is_some() {
        // The pattern comes in through the environment: were it in this script's own
        // command line, `pgrep -f` would find the shell running the script.
        script.push_str(
            "if pgrep -f -- \"$CONVERGE_PATTERN\" >/dev/null 2>&1; then echo running=yes; else echo running=no; fi\necho how=pattern\n",
        );
        return script;
    }
    match manager {
        ServiceManager::Sysvinit => {
            script.push_str(&format!(
                "out=$(service {q} status 2>&1); echo \"status_rc=$?\"\n\
                 printf '%s\\n' \"$out\" | sed 's/^/status_out=/'\necho how=status+pidfiles\n"
            ));
            script.push_str(PID_FILES);
        }
        _ => script.push_str(&format!(
            "if grep -Eq \"^[[:space:]]*['\\\"]?status['\\\"]?[[:space:]]*[|)]\" \"$s\"; then\n\
             out=$($run status 2>&1); echo \"status_rc=$?\"\n\
             printf '%s\\n' \"$out\" | sed 's/^/status_out=/'\necho how=status\n\
             else\n\
             if pgrep -x {q} >/dev/null 2>&1; then echo running=yes; else echo running=no; fi\necho how=pgrep\n\
             fi\n"
        )),
    }
    script
}

/// Every pid file named literally in the init script `$s` that exists must hold a live pid;
/// one that does not prints `pidfile_dead=PATH`.
const PID_FILES: &str = r#"for f in $(grep -oE '/([A-Za-z0-9_.-]+/)*run/[A-Za-z0-9_./-]+\.pid' "$s" | sort -u); do
  [ -s "$f" ] || continue
  pid=$(head -n 1 "$f" | tr -cd '0-9')
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "pidfile_alive=$f"; else echo "pidfile_dead=$f"; fi
done
"#;

fn run_step(argv: Vec<String>) -> Step {
    Step::Run {
        command: Command::argv(argv),
        allow_failure: false,
    }
}

/// Resolve `use` and the `service_mgr` fact to an init system.
fn resolve_manager(
    choice: ServiceManager,
    service_mgr: &str,
) -> Result<ServiceManager, ModuleError> {
    if choice != ServiceManager::Auto {
        return Ok(choice);
    }
    match service_mgr {
        "systemd" => Ok(ServiceManager::Systemd),
        "bsdinit" => Ok(ServiceManager::Bsdinit),
        "sysvinit" | "service" => Ok(ServiceManager::Sysvinit),
        "" => Err(ModuleError::Failed {
            message: "module `service` does not know this host's init system: facts were not gathered".into(),
            hint: Some("enable `gather_facts`, or set `use: systemd`, `use: bsdinit` or `use: sysvinit`".into()),
        }),
        other => Err(ModuleError::Failed {
            message: format!("module `service` does not support the service manager `{other}` (fact `service_mgr`)"),
            hint: Some("set `use: systemd`, `use: bsdinit` or `use: sysvinit` if one of them applies".into()),
        }),
    }
}

impl TypedModule for Service {
    type Args = ServiceArgs;
    const NAME: &'static str = "service";
    const SUMMARY: &'static str =
        "Start, stop, restart or enable a service (systemd, Slackware rc.d, sysvinit)";
    const EXAMPLES: &'static str = "- service:\n    name: sshd\n    state: started\n    enabled: true\n- service:\n    name: bind\n    state: restarted\n    pattern: named\n";

    fn check(args: &ServiceArgs) -> Result<(), ArgsError> {
        check_name(&args.name)?;
        if args.state.is_none() && args.enabled.is_none() {
            return Err(ArgsError::new(
                None,
                "module `service` needs `state` or `enabled` (or both)",
            ));
        }
        if args.pattern.as_deref().is_some_and(str::is_empty) {
            return Err(ArgsError::new(
                Some("pattern"),
                "`pattern` must not be empty",
            ));
        }
        Ok(())
    }

    fn plan(
        args: ServiceArgs,
        host: &mut dyn Host,
        context: &Context,
    ) -> Result<Plan, ModuleError> {
        let manager = resolve_manager(args.use_manager, &context.facts.service_mgr)?;
        if manager == ServiceManager::Systemd {
            check_unit_name(&args.name)?;
            let mut plan = plan_unit(
                host,
                &UnitRequest {
                    name: Some(args.name.clone()),
                    state: args.state,
                    enabled: args.enabled.map(|f| f.0),
                    ..UnitRequest::default()
                },
            )?;
            if args.pattern.is_some() || args.arguments.is_some() {
                plan.warnings
                    .push("`pattern` and `arguments` are ignored for systemd units".into());
            }
            if args.state == Some(ServiceState::Started) {
                check_generated_unit(&mut plan, &args.name, host)?;
            }
            return Ok(plan);
        }
        plan_script(&args, manager, host)
    }
}

/// A unit systemd generated from `/etc/init.d/NAME` (isc-dhcp-server and sendmail on Debian
/// have no unit of their own) has `RemainAfterExit=yes`: it stays `active` after its daemons
/// die. For such a unit that counts as running, the init script's status and pid files decide
/// (as for sysvinit); when they say the daemons are gone, the unit is restarted (`start` of
/// an active unit does nothing), after the stale pid files are removed. The script's status
/// runs with `SYSTEMCTL_SKIP_REDIRECT=1`, or Debian's init functions would ask systemctl.
fn check_generated_unit(
    plan: &mut Plan,
    name: &str,
    host: &mut dyn Host,
) -> Result<(), ModuleError> {
    let active = plan
        .result
        .get("status")
        .and_then(|status| status.get("ActiveState"))
        .and_then(|state| state.as_str())
        .is_some_and(|state| state == "active");
    if !active {
        return Ok(());
    }
    let q = quote(name);
    let mut script = format!(
        "s=/etc/init.d/{q}\n\
         [ -f \"$s\" ] || exit 0\n\
         src=$(systemctl show --property=SourcePath --value {q} 2>/dev/null)\n\
         [ \"$src\" = \"$s\" ] || exit 0\n\
         echo script=present\n\
         out=$(SYSTEMCTL_SKIP_REDIRECT=1 \"$s\" status 2>&1); echo \"status_rc=$?\"\n\
         printf '%s\\n' \"$out\" | sed 's/^/status_out=/'\n"
    );
    script.push_str(PID_FILES);
    let output = host.run(&Command::shell(script))?;
    let observed = parse_observed(&output.stdout_text());
    if !observed.present || observed.running != Some(false) {
        return Ok(());
    }
    let mut steps = Vec::new();
    if !observed.stale_pid_files.is_empty() {
        let mut rm = vec!["rm".to_string(), "-f".into(), "--".into()];
        rm.extend(observed.stale_pid_files.iter().cloned());
        steps.push(run_step(rm));
    }
    steps.push(run_step(vec![
        "systemctl".into(),
        "restart".into(),
        name.into(),
    ]));
    plan.push(
        Change::value(
            format!("{name} state"),
            Some("active, but its daemons are not running".into()),
            Some("started".into()),
        ),
        steps,
    );
    plan.result.insert("state".into(), json!("started"));
    plan.result.insert(
        "running_detected_by".into(),
        json!("init script status+pidfiles"),
    );
    Ok(())
}

/// Plan for rc.d (bsdinit) and init.d (sysvinit) scripts.
fn plan_script(
    args: &ServiceArgs,
    manager: ServiceManager,
    host: &mut dyn Host,
) -> Result<Plan, ModuleError> {
    let name = args.name.as_str();
    let script_path = match manager {
        ServiceManager::Sysvinit => format!("/etc/init.d/{name}"),
        _ => format!("/etc/rc.d/rc.{name}"),
    };
    let mut read = Command::shell(read_script(
        manager,
        name,
        args.pattern.as_deref(),
        args.state.is_some(),
    ));
    if let Some(pattern) = &args.pattern {
        read.env.push(("CONVERGE_PATTERN".into(), pattern.clone()));
    }
    let output = host.run(&read)?;
    let mut observed = parse_observed(&output.stdout_text());
    if !observed.present && manager == ServiceManager::Bsdinit {
        // Check mode: an earlier task of this run may have planned the script (rc.d scripts a
        // role writes); the host's file view knows it, the read command cannot. It is new,
        // so nothing runs it yet.
        if let Some(stat) = host.stat(&script_path)? {
            observed = Observed {
                present: true,
                enabled: stat.mode & 0o111 != 0,
                running: Some(false),
                how: "planned by an earlier task".into(),
                ..Observed::default()
            };
        }
    }
    if !observed.present {
        return Err(ModuleError::Failed {
            message: format!("no {script_path} on this host; is the package installed?"),
            hint: match manager {
                ServiceManager::Bsdinit => Some(
                    "Slackware services are /etc/rc.d/rc.NAME scripts; services without one are started from rc.local".into(),
                ),
                _ => None,
            },
        });
    }

    let mut plan = Plan::unchanged();
    let extra: Vec<String> = args
        .arguments
        .as_deref()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let enabling = args.enabled.is_some_and(|f| f.0) && !observed.enabled;
    let disabling = args.enabled.is_some_and(|f| !f.0) && observed.enabled;
    // A script without its executable bit is run by the shell.
    let executable_during_action = observed.enabled || enabling;
    let action = |verb: &str| -> Vec<String> {
        let mut argv = match manager {
            ServiceManager::Sysvinit => vec!["service".to_string(), name.to_string()],
            _ if executable_during_action => vec![script_path.clone()],
            _ => vec!["/bin/sh".to_string(), script_path.clone()],
        };
        argv.push(verb.to_string());
        argv.extend(extra.iter().cloned());
        argv
    };
    let enable_steps = |enable: bool| -> Vec<Step> {
        match manager {
            ServiceManager::Sysvinit if enable => vec![
                run_step(vec!["update-rc.d".into(), name.into(), "defaults".into()]),
                run_step(vec!["update-rc.d".into(), name.into(), "enable".into()]),
            ],
            ServiceManager::Sysvinit => vec![run_step(vec![
                "update-rc.d".into(),
                name.into(),
                "disable".into(),
            ])],
            _ => vec![run_step(vec![
                "chmod".into(),
                if enable { "755" } else { "644" }.into(),
                script_path.clone(),
            ])],
        }
    };
    let enabled_change = || {
        Change::value(
            format!("{name} enabled"),
            Some(yes_no(observed.enabled)),
            Some(yes_no(!observed.enabled)),
        )
    };

    // Enable before acting, disable after, so the script is executable while it runs.
    if enabling {
        plan.push(enabled_change(), enable_steps(true));
    }
    let running = observed.running.unwrap_or(false);
    let before = if running { "started" } else { "stopped" };
    let mut state_after = before;
    // Slackware: a non-executable rc script is the admin's "do not run this" (rc.M and
    // rc.inet2 skip it at boot); converge does not start it behind their back.
    let admin_disabled = manager == ServiceManager::Bsdinit
        && !observed.enabled
        && !enabling
        && !running
        && matches!(
            args.state,
            Some(ServiceState::Started | ServiceState::Restarted | ServiceState::Reloaded)
        );
    if admin_disabled {
        plan.warnings.push(format!(
            "{script_path} is not executable (disabled): {name} is not started; set `enabled: true` to enable and start it"
        ));
    }
    match args.state {
        None => {}
        _ if admin_disabled => {}
        Some(ServiceState::Started) if !running => {
            // Stale pid files go first: Debian's isc-dhcp-server refuses to start dhcpd -6
            // over a stale dhcpd6.pid while dhcpd runs ("already running", exit 1).
            let mut steps = Vec::new();
            if !observed.stale_pid_files.is_empty() {
                let mut rm = vec!["rm".to_string(), "-f".into(), "--".into()];
                rm.extend(observed.stale_pid_files.iter().cloned());
                steps.push(run_step(rm));
            }
            steps.push(run_step(action("start")));
            plan.push(
                Change::value(
                    format!("{name} state"),
                    Some(before.into()),
                    Some("started".into()),
                ),
                steps,
            );
            state_after = "started";
        }
        Some(ServiceState::Stopped) if running => {
            plan.push(
                Change::value(
                    format!("{name} state"),
                    Some(before.into()),
                    Some("stopped".into()),
                ),
                [run_step(action("stop"))],
            );
            state_after = "stopped";
        }
        Some(ServiceState::Started) | Some(ServiceState::Stopped) => {}
        Some(ServiceState::Restarted) => {
            let argv = action("restart");
            plan.push(
                Change::note(name, format!("restart (`{}`)", Command::argv(argv.clone()))),
                [run_step(argv)],
            );
            state_after = "started";
        }
        Some(ServiceState::Reloaded) => {
            let argv = action(if running { "reload" } else { "start" });
            plan.push(
                Change::note(
                    name,
                    format!(
                        "{} (`{}`)",
                        if running { "reload" } else { "start" },
                        Command::argv(argv.clone())
                    ),
                ),
                [run_step(argv)],
            );
            state_after = "started";
        }
    }
    if disabling {
        plan.push(enabled_change(), enable_steps(false));
    }

    plan.result.insert("name".into(), json!(name));
    if args.state.is_some() {
        plan.result.insert("state".into(), json!(state_after));
    }
    plan.result.insert(
        "enabled".into(),
        json!(args.enabled.map(|f| f.0).unwrap_or(observed.enabled)),
    );
    if !observed.how.is_empty() {
        plan.result
            .insert("running_detected_by".into(), json!(observed.how));
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slackware_status_that_exits_zero_but_says_stopped_is_not_running() {
        let text =
            "script=present\nenabled=yes\nstatus_rc=0\nstatus_out=ntpd is stopped.\nhow=status\n";
        let observed = parse_observed(text);
        assert_eq!(observed.running, Some(false));
        let text =
            "script=present\nenabled=no\nstatus_rc=0\nstatus_out=sshd is running.\nhow=status\n";
        let observed = parse_observed(text);
        assert_eq!(observed.running, Some(true));
        assert!(!observed.enabled);
    }

    #[test]
    fn lsb_status_code_decides_on_sysvinit() {
        let text = "script=present\nenabled=yes\nstatus_rc=3\nstatus_out=[FAIL] radvd is not running ... failed!\n";
        assert_eq!(parse_observed(text).running, Some(false));
    }

    #[test]
    fn debian_sendmail_status_that_exits_zero_but_says_not_running_is_not_running() {
        // /etc/init.d/sendmail status on Debian 12 with sendmail stopped: exit 0.
        let text = "script=present\nenabled=yes\nstatus_rc=0\nstatus_out=MSP: is run via cron (20m)\nstatus_out=MTA: is not running\nstatus_out=QUE: Same as MTA\nhow=status+pidfiles\n";
        let observed = parse_observed(text);
        assert_eq!(observed.running, Some(false));
        let text = "script=present\nenabled=yes\nstatus_rc=0\nstatus_out=MSP: is run via cron (20m)\nstatus_out=MTA: is running\nhow=status+pidfiles\n";
        assert_eq!(parse_observed(text).running, Some(true));
    }

    #[test]
    fn a_pid_file_of_a_dead_process_means_not_running_even_when_status_says_running() {
        let text = "script=present\nenabled=yes\nstatus_rc=0\nstatus_out=Status of ISC DHCPv4 server: dhcpd is running.\npidfile_alive=/var/run/dhcpd.pid\npidfile_dead=/var/run/dhcpd6.pid\nhow=status+pidfiles\n";
        let observed = parse_observed(text);
        assert_eq!(observed.running, Some(false));
        assert_eq!(observed.stale_pid_files, ["/var/run/dhcpd6.pid"]);
    }

    #[test]
    fn pid_files_named_in_an_init_script_are_checked_for_a_live_process() {
        let dir = tempfile::tempdir().expect("temp dir");
        let alive = dir.path().join("run/alive.pid");
        let dead = dir.path().join("run/dead.pid");
        std::fs::create_dir_all(alive.parent().unwrap()).unwrap();
        std::fs::write(&alive, format!("{}\n", std::process::id())).unwrap();
        // pid_max is at most 4194304: this pid cannot exist.
        std::fs::write(&dead, "4999999\n").unwrap();
        let init = dir.path().join("init");
        // Pid files live in a `run/` directory (/run, /var/run); the test's in TEMP/run/.
        std::fs::write(
            &init,
            format!(
                "PIDFILE={}\nOTHER=\"{}\"\nMISSING=/var/run/converge-test-none.pid\n",
                alive.display(),
                dead.display()
            ),
        )
        .unwrap();
        let output = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("s={}\n{PID_FILES}", init.display()))
            .output()
            .expect("sh runs");
        let text = String::from_utf8_lossy(&output.stdout);
        assert!(
            text.contains(&format!("pidfile_alive={}", alive.display())),
            "{text}"
        );
        assert!(
            text.contains(&format!("pidfile_dead={}", dead.display())),
            "{text}"
        );
        assert!(!text.contains("converge-test-none"), "{text}");
    }

    #[test]
    fn the_read_script_is_valid_shell() {
        for manager in [ServiceManager::Bsdinit, ServiceManager::Sysvinit] {
            for pattern in [None, Some("named -u")] {
                let script = read_script(manager, "it's", pattern, true);
                let status = std::process::Command::new("/bin/sh")
                    .arg("-n")
                    .arg("-c")
                    .arg(&script)
                    .status()
                    .expect("sh runs");
                assert!(status.success(), "{script}");
            }
        }
    }
}
