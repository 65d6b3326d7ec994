//! `timezone` (community.general): set the host's time zone.
//!
//! Converges `/etc/localtime` (and, on Debian, `/etc/timezone`). Reads: the zone file
//! `/usr/share/zoneinfo/NAME` (it must exist), `/etc/localtime` (a link's target, or a
//! regular file's bytes), `/etc/timezone`, and Slackware's `/etc/localtime-copied-from`.
//! Where systemd is the service manager the change is `timedatectl set-timezone NAME`, as in
//! Ansible. Elsewhere a linked `/etc/localtime` is relinked (`ln -sf`), a copied one is
//! replaced with a copy of the zone file (`cp --remove-destination`, and Slackware's
//! `localtime-copied-from` link follows), and Debian's `/etc/timezone` is written `NAME\n`.
//! Idempotence: the link points at (or the copy equals) the zone file and `/etc/timezone`
//! names it, so planning again changes nothing.
//!
//! Not built: `hwclock` (writing the hardware clock); Ansible's Debian path also runs
//! `dpkg-reconfigure tzdata`, which only rewrites the two files converge already writes.
//!
//! ```yaml
//! - community.general.timezone:
//!     name: Europe/Paris
//! ```

use crate::host::{Command, FileKind, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{write_step, Change, Plan, Step};
use crate::FileAttributes;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// Where the zone files are.
pub const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The hardware clock's time scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum Hwclock {
    /// Local time.
    #[serde(rename = "local")]
    Local,
    /// UTC.
    #[serde(rename = "UTC")]
    Utc,
}

/// Arguments of `timezone`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimezoneArgs {
    /// The zone, as a path below `/usr/share/zoneinfo` (`Europe/Paris`, `Etc/UTC`).
    pub name: Option<String>,
    /// The hardware clock's scale (not built in converge).
    #[serde(alias = "rtc")]
    pub hwclock: Option<Hwclock>,
}

/// The `timezone` module.
pub struct Timezone;

impl TypedModule for Timezone {
    type Args = TimezoneArgs;
    const NAME: &'static str = "timezone";
    const SUMMARY: &'static str = "Set the host's time zone";
    const EXAMPLES: &'static str = "- community.general.timezone:\n    name: Europe/Paris\n";

    fn check(args: &TimezoneArgs) -> Result<(), ArgsError> {
        if args.hwclock.is_some() {
            return Err(ArgsError::new(
                Some("hwclock"),
                "`hwclock` of module `timezone` is not built in converge",
            )
            .with_hint("set only `name`; the hardware clock is left as it is"));
        }
        let Some(name) = &args.name else {
            return Err(ArgsError::new(
                None,
                "one of the following is required: hwclock, name",
            ));
        };
        if name.is_empty() || name.starts_with('/') || name.split('/').any(|part| part == "..") {
            return Err(ArgsError::new(
                Some("name"),
                format!("`{name}` is not a time zone name like `Europe/Paris`"),
            ));
        }
        Ok(())
    }

    fn plan(
        args: TimezoneArgs,
        host: &mut dyn Host,
        context: &Context,
    ) -> Result<Plan, ModuleError> {
        let name = args.name.unwrap_or_default();
        let zone_file = format!("{ZONEINFO}/{name}");
        match host.stat(&zone_file)?.map(|s| s.kind) {
            Some(FileKind::File) | Some(FileKind::Symlink { .. }) => {}
            _ => {
                return Err(ModuleError::Failed {
                    message: format!("given timezone \"{name}\" is not available"),
                    hint: Some(format!(
                        "`{zone_file}` does not exist; is tzdata installed?"
                    )),
                })
            }
        }
        let mut plan = Plan::unchanged();
        let localtime = host.stat("/etc/localtime")?;
        let linked = match localtime.as_ref().map(|s| &s.kind) {
            Some(FileKind::Symlink { target }) => Some(zone_of(target)),
            _ => None,
        };
        let copied_equal = match localtime.as_ref().map(|s| &s.kind) {
            Some(FileKind::File) => {
                let current = host.read_file("/etc/localtime")?;
                let wanted = host.read_file(&zone_file)?;
                Some(current.is_some() && current == wanted)
            }
            _ => None,
        };
        let debian = context.facts.os_family == "Debian";
        let timezone_file = host
            .read_file("/etc/timezone")?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());
        let named = timezone_file
            .as_deref()
            .and_then(|text| text.split_whitespace().next())
            .map(str::to_string);
        let before = named.clone().or(linked.clone()).unwrap_or_else(|| {
            if copied_equal == Some(true) {
                name.clone()
            } else {
                "unknown".into()
            }
        });
        let systemd = context.facts.service_mgr == "systemd";
        let localtime_ok = linked.as_deref() == Some(name.as_str()) || copied_equal == Some(true);
        if !localtime_ok {
            let shown = linked
                .clone()
                .or(copied_equal.map(|_| "a copy of another zone".to_string()));
            let step = if systemd {
                run(&["timedatectl", "set-timezone", &name])
            } else if copied_equal.is_some() {
                run(&["cp", "--remove-destination", &zone_file, "/etc/localtime"])
            } else {
                run(&["ln", "-sf", &zone_file, "/etc/localtime"])
            };
            plan.push(
                Change::value("/etc/localtime", shown, Some(name.clone())),
                [step],
            );
        }
        if copied_equal.is_some() && !systemd {
            if let Some(FileKind::Symlink { target }) =
                host.stat("/etc/localtime-copied-from")?.map(|s| s.kind)
            {
                if zone_of(&target) != name {
                    plan.push(
                        Change::value(
                            "/etc/localtime-copied-from",
                            Some(zone_of(&target)),
                            Some(name.clone()),
                        ),
                        [run(&[
                            "ln",
                            "-sf",
                            &zone_file,
                            "/etc/localtime-copied-from",
                        ])],
                    );
                }
            }
        }
        if (debian || timezone_file.is_some()) && named.as_deref() != Some(name.as_str()) {
            let content = match &timezone_file {
                Some(text) => replace_first_word(text, &name),
                None => format!("{name}\n"),
            };
            plan.push(
                Change::content(
                    "/etc/timezone",
                    timezone_file.clone(),
                    Some(content.clone()),
                ),
                [write_step(
                    "/etc/timezone",
                    content.into_bytes(),
                    FileAttributes::default(),
                )],
            );
        }
        let after = if plan.is_change() {
            name.clone()
        } else {
            before.clone()
        };
        plan.result.insert(
            "diff".into(),
            json!({"before": {"name": before}, "after": {"name": after}}),
        );
        Ok(plan)
    }
}

/// The zone a link target names: the part after `zoneinfo/` (`../usr/share/zoneinfo/Etc/UTC`
/// is `Etc/UTC`), or the target itself.
pub fn zone_of(target: &str) -> String {
    match target.rfind("zoneinfo/") {
        Some(at) => target[at + "zoneinfo/".len()..].to_string(),
        None => target.to_string(),
    }
}

/// `/etc/timezone` with its first zone name replaced by `name` (Ansible edits the first line
/// matching `^([^\s]+)` and drops later matching lines).
pub fn replace_first_word(text: &str, name: &str) -> String {
    let mut out = Vec::new();
    let mut done = false;
    for line in text.lines() {
        if line.starts_with(|c: char| !c.is_whitespace()) {
            if !done {
                out.push(name.to_string());
                done = true;
            }
        } else {
            out.push(line.to_string());
        }
    }
    if !done {
        out.push(name.to_string());
    }
    format!("{}\n", out.join("\n"))
}

fn run(argv: &[&str]) -> Step {
    Step::Run {
        command: Command::argv(argv.iter().copied()),
        allow_failure: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_come_from_relative_and_absolute_links() {
        assert_eq!(zone_of("/usr/share/zoneinfo/Etc/UTC"), "Etc/UTC");
        assert_eq!(
            zone_of("../usr/share/zoneinfo/Europe/Paris"),
            "Europe/Paris"
        );
    }

    #[test]
    fn the_first_zone_line_is_replaced_and_later_ones_dropped() {
        assert_eq!(
            replace_first_word("Etc/UTC\n", "Europe/Paris"),
            "Europe/Paris\n"
        );
        assert_eq!(replace_first_word("A\nB\n", "C"), "C\n");
        assert_eq!(replace_first_word("", "C"), "C\n");
    }
}
