//! `hostname`: set the host's name, both the one it has now and the one it boots with.
//!
//! Converges two values: the live (kernel) name and the permanent name. Where systemd is the
//! service manager (or `use: systemd`/`debian` on such a host) both are read and set with
//! `hostnamectl`, as Ansible does. Elsewhere the permanent name is the file `/etc/hostname`
//! (Slackware: `/etc/HOSTNAME`), written atomically as `NAME\n`, and the live name is read
//! from `/proc/sys/kernel/hostname` and set with `hostname NAME`. Planning reads only;
//! idempotence: both names equal `name`, so planning after applying changes nothing.
//!
//! Differences from Ansible 2.19: Ansible's Debian strategy without systemd writes only
//! `/etc/hostname` and leaves the running name until the next boot, and `use: generic` fails;
//! converge sets the live name too in both cases. Ansible has no Slackware strategy; converge
//! writes `/etc/HOSTNAME` and sets the live name to its first label, which is what Slackware's
//! `rc.M` does at boot. The returned facts are `ansible_hostname` and `ansible_nodename`
//! (not `ansible_fqdn`/`ansible_domain`, which need a resolver lookup on the host).
//!
//! ```yaml
//! - hostname:
//!     name: gw
//! ```

use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{write_step, Change, Plan, Step};
use crate::FileAttributes;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

/// Which way to set the name (Ansible's `use`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HostnameStrategy {
    /// `hostnamectl` (needs systemd running); without systemd, as `generic`.
    Systemd,
    /// Ansible maps this to `systemd`; converge does the same.
    Debian,
    /// `/etc/hostname` and `hostname NAME`.
    Generic,
    /// `/etc/HOSTNAME` and `hostname` with the first label (converge's addition).
    Slackware,
    /// Not built in converge.
    Alpine,
    /// Not built in converge.
    Freebsd,
    /// Not built in converge.
    Macos,
    /// Not built in converge.
    Macosx,
    /// Not built in converge.
    Darwin,
    /// Not built in converge.
    Openbsd,
    /// Not built in converge.
    Openrc,
    /// Not built in converge.
    Redhat,
    /// Not built in converge.
    Sles,
    /// Not built in converge.
    Solaris,
}

/// Arguments of `hostname`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostnameArgs {
    /// The host's name.
    pub name: String,
    /// How to set it; by default from the facts: Slackware, systemd, else `/etc/hostname`.
    #[serde(rename = "use")]
    pub strategy: Option<HostnameStrategy>,
}

/// The `hostname` module.
pub struct Hostname;

/// How the names are read and written on this host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Hostnamectl,
    File {
        path: &'static str,
        live_first_label: bool,
    },
}

impl TypedModule for Hostname {
    type Args = HostnameArgs;
    const NAME: &'static str = "hostname";
    const SUMMARY: &'static str = "Set the host's name, now and at boot";
    const EXAMPLES: &'static str =
        "- hostname:\n    name: gw\n\n- hostname:\n    name: gw.example.net\n    use: slackware\n";

    fn check(args: &HostnameArgs) -> Result<(), ArgsError> {
        if args.name.trim().is_empty() || args.name.contains(char::is_whitespace) {
            return Err(ArgsError::new(
                Some("name"),
                format!("`{}` is not a host name", args.name),
            ));
        }
        if let Some(strategy) = args.strategy {
            if way(Some(strategy), "", "").is_none() {
                return Err(ArgsError::new(
                    Some("use"),
                    format!(
                        "`use: {}` is not built in converge",
                        strategy_name(strategy)
                    ),
                )
                .with_hint("converge has `systemd`, `debian`, `generic` and `slackware`"));
            }
        }
        Ok(())
    }

    fn plan(
        args: HostnameArgs,
        host: &mut dyn Host,
        context: &Context,
    ) -> Result<Plan, ModuleError> {
        let facts = context.facts;
        let way = way(args.strategy, &facts.os_family, &facts.service_mgr)
            .ok_or_else(|| ModuleError::failed("this `use` is not built in converge"))?;
        let name = args.name.as_str();
        let mut plan = Plan::unchanged();
        let (current, permanent) = match way {
            Way::Hostnamectl => {
                if name.len() > 64 {
                    return Err(ModuleError::failed(
                        "name cannot be longer than 64 characters on systemd servers, try a shorter name",
                    ));
                }
                let permanent = hostnamectl(host, "--static")?;
                let current = hostnamectl(host, "--transient")?;
                if permanent != name {
                    plan.push(
                        Change::value(
                            "hostname (permanent)",
                            Some(permanent.clone()),
                            Some(name.into()),
                        ),
                        [run([
                            "hostnamectl",
                            "--pretty",
                            "--static",
                            "set-hostname",
                            name,
                        ])],
                    );
                }
                if current != name {
                    plan.push(
                        Change::value("hostname (live)", Some(current.clone()), Some(name.into())),
                        [run(["hostnamectl", "--transient", "set-hostname", name])],
                    );
                }
                (current, permanent)
            }
            Way::File {
                path,
                live_first_label,
            } => {
                let file = host.read_file(path)?;
                let permanent = file
                    .as_deref()
                    .map(|bytes| String::from_utf8_lossy(bytes).trim().to_string())
                    .unwrap_or_default();
                let current = host
                    .read_file("/proc/sys/kernel/hostname")?
                    .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_string())
                    .unwrap_or_default();
                if permanent != name {
                    let content = format!("{name}\n");
                    plan.push(
                        Change::content(
                            path,
                            file.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
                            Some(content.clone()),
                        ),
                        [write_step(
                            path,
                            content.into_bytes(),
                            FileAttributes::default(),
                        )],
                    );
                }
                let live = if live_first_label {
                    name.split('.').next().unwrap_or(name)
                } else {
                    name
                };
                if current != live {
                    plan.push(
                        Change::value("hostname (live)", Some(current.clone()), Some(live.into())),
                        [run(["hostname", live])],
                    );
                }
                (current, permanent)
            }
        };
        // Ansible's diff: the running name if it differs, else the permanent one.
        let before = if current != name { current } else { permanent };
        plan.result
            .insert("name".into(), Value::String(name.into()));
        plan.result.insert(
            "ansible_facts".into(),
            json!({
                "ansible_hostname": name.split('.').next().unwrap_or(name),
                "ansible_nodename": name,
            }),
        );
        if plan.is_change() {
            plan.result.insert(
                "diff".into(),
                json!({"before": format!("hostname = {before}\n"), "after": format!("hostname = {name}\n")}),
            );
        }
        Ok(plan)
    }
}

fn strategy_name(strategy: HostnameStrategy) -> String {
    format!("{strategy:?}").to_lowercase()
}

fn way(strategy: Option<HostnameStrategy>, os_family: &str, service_mgr: &str) -> Option<Way> {
    let file = Way::File {
        path: "/etc/hostname",
        live_first_label: false,
    };
    let slackware = Way::File {
        path: "/etc/HOSTNAME",
        live_first_label: true,
    };
    let systemd = service_mgr == "systemd";
    match strategy {
        None if os_family == "Slackware" => Some(slackware),
        None | Some(HostnameStrategy::Systemd) | Some(HostnameStrategy::Debian) if systemd => {
            Some(Way::Hostnamectl)
        }
        None
        | Some(HostnameStrategy::Systemd)
        | Some(HostnameStrategy::Debian)
        | Some(HostnameStrategy::Generic) => Some(file),
        Some(HostnameStrategy::Slackware) => Some(slackware),
        Some(_) => None,
    }
}

fn run<const N: usize>(argv: [&str; N]) -> Step {
    Step::Run {
        command: Command::argv(argv),
        allow_failure: false,
    }
}

fn hostnamectl(host: &mut dyn Host, which: &str) -> Result<String, ModuleError> {
    let command = Command::argv(["hostnamectl", which, "status"]);
    let output = host.run_read(&command)?;
    if !output.success() {
        return Err(ModuleError::failed(format!(
            "`{command}` exited with status {}: {}",
            output.status,
            output.stderr_text().trim()
        )));
    }
    Ok(output.stdout_text().trim().to_string())
}
