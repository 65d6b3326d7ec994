//! `service_facts`: the host's services, as `ansible_facts.services`.
//!
//! Read-only; never changes the host. Reads everything in one round trip (one script), then
//! parses the listings with the pure function [`parse_services`]. The dictionary is keyed and
//! shaped as Ansible's:
//! - systemd, when it manages the host (`/run/systemd/system` exists and `systemctl` is
//!   there): `systemctl list-units --type service --all --plain`, then `list-unit-files` for
//!   the units not loaded (their state from `systemctl show UNIT --property=ActiveState`):
//!   `{name: ssh.service, state: running|stopped|…, status: enabled|disabled|failed|…,
//!   source: systemd}`;
//! - SysV init scripts, when `service` is there (Debian): `service --status-all`, `[ + ]` is
//!   running and `[ - ]` stopped: `{name: ssh, state, source: sysv}` (no `status`, as in
//!   Ansible). On a systemd host both lists are given, systemd's entries winning a shared key;
//! - Slackware's `/etc/rc.d/rc.NAME` scripts (converge's own; Ansible finds no services
//!   there): `{name: NAME, state: running|stopped, status: enabled|disabled, source:
//!   bsdinit}`, enabled exactly when the script is executable, running as the `service`
//!   module decides it (the script's `status` case when it has one, else `pgrep -x NAME`).
//!
//! Upstart, chkconfig and OpenRC are not read: on a host that has them a warning says so.
//! A host where nothing is found gets `skipped: true` and Ansible's message, and a warning.
//!
//! ```yaml
//! - service_facts:
//! - debug:
//!     msg: "ssh runs"
//!   when: ansible_facts.services['ssh.service'].state == 'running'
//! ```

use crate::host::{Command, Host};
use crate::module::{Context, ModuleError, TypedModule};
use crate::plan::Plan;
use crate::service::says_not_running;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// `service_facts` takes no arguments.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceFactsArgs {}

/// The `service_facts` module.
pub struct ServiceFacts;

/// Marks the start of a section in the read script's output.
const MARK: &str = "@@converge ";

/// The read script: one round trip for every source.
pub const READ_SCRIPT: &str = r#"PATH="$PATH:/sbin:/usr/sbin:/usr/local/sbin"
LC_ALL=C; LANG=C; export LC_ALL LANG
M='@@converge'
for t in chkconfig initctl rc-status; do
  command -v "$t" >/dev/null 2>&1 && echo "$M unsupported $t"
done
if command -v systemctl >/dev/null 2>&1 && { [ -e /run/systemd/system/ ] || [ -e /dev/.run/systemd/ ] || [ -e /dev/.systemd/ ]; }; then
  units=$(systemctl list-units --no-pager --type service --all --plain 2>&1)
  echo "$M units $?"; printf '%s\n' "$units"
  files=$(systemctl list-unit-files --no-pager --type service --all 2>&1)
  echo "$M unit-files $?"; printf '%s\n' "$files"
  loaded=$(printf '%s\n' "$units" | awk '/\.service/ {print $1}')
  echo "$M active 0"
  printf '%s\n' "$files" | awk '/\.service/ {print $1}' | while read -r u; do
    case "
$loaded
" in *"
$u
"*) continue ;; esac
    if s=$(systemctl show "$u" --property=ActiveState 2>/dev/null) && [ -n "$s" ]; then
      printf '%s %s\n' "$u" "$s"
    else
      printf '%s\n' "$u"
    fi
  done
fi
if command -v service >/dev/null 2>&1 && ! command -v chkconfig >/dev/null 2>&1 && ! command -v rc-status >/dev/null 2>&1; then
  e=$(mktemp 2>/dev/null || echo /dev/null)
  out=$(service --status-all 2>"$e"); rc=$?
  if [ "$rc" = 4 ] && [ ! -e /etc/init.d ]; then :; else
    echo "$M sysv $rc"; printf '%s\n' "$out"
    [ "$rc" = 0 ] || { echo "$M sysv-error 0"; cat "$e"; }
  fi
  [ "$e" = /dev/null ] || rm -f "$e"
fi
if [ -f /etc/rc.d/rc.M ]; then
  for s in /etc/rc.d/rc.*; do
    [ -f "$s" ] || continue
    n=${s#/etc/rc.d/rc.}
    case "$n" in
      0|4|6|K|M|S|local|local_shutdown|sysvinit|*.*|*~) continue ;;
    esac
    if [ -x "$s" ]; then echo "$M rcd $n enabled"; run="$s"; else echo "$M rcd $n disabled"; run="/bin/sh $s"; fi
    if grep -Eq "^[[:space:]]*['\"]?status['\"]?[[:space:]]*[|)]" "$s"; then
      out=$($run status </dev/null 2>&1); echo "$M status $?"; printf '%s\n' "$out"
    elif pgrep -x "$n" >/dev/null 2>&1; then echo "$M pgrep running"
    else echo "$M pgrep stopped"
    fi
  done
fi
"#;

/// What the listings say: the `services` dictionary and the warnings to give.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Services {
    /// Name → `{name, state, status, source}`, in Ansible's shape.
    pub services: Map<String, Value>,
    /// Things the user should know (a tool that failed, a source converge does not read).
    pub warnings: Vec<String>,
}

/// systemd's statuses that win over the unit file's.
const BAD_STATES: [&str; 3] = ["not-found", "masked", "failed"];

/// Parse the read script's output (see [`READ_SCRIPT`]) into Ansible's `services`.
pub fn parse_services(output: &str) -> Services {
    let mut sections: Vec<(String, String, Vec<&str>)> = Vec::new();
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix(MARK) {
            let mut words = rest.splitn(2, ' ');
            let kind = words.next().unwrap_or_default().to_string();
            let value = words.next().unwrap_or_default().to_string();
            sections.push((kind, value, Vec::new()));
        } else if let Some((_, _, lines)) = sections.last_mut() {
            lines.push(line);
        }
    }
    let mut found = Services::default();
    let mut sysv = Map::new();
    let mut systemd = Map::new();
    let mut rcd = Map::new();
    let mut sysv_rc = 0;
    for (index, (kind, value, lines)) in sections.iter().enumerate() {
        match kind.as_str() {
            "unsupported" => found.warnings.push(format!(
                "this host has `{value}`: converge's `service_facts` reads systemd, SysV `service` and Slackware rc.d only, not {}",
                match value.as_str() {
                    "chkconfig" => "chkconfig (Red Hat SysV)",
                    "initctl" => "upstart",
                    _ => "OpenRC",
                }
            )),
            "units" => {
                if value != "0" {
                    found.warnings.push(format!(
                        "Could not list units from systemd: {}",
                        lines.join("\n").trim()
                    ));
                    continue;
                }
                for line in lines.iter().filter(|line| line.contains(".service")) {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    if fields.len() < 4 {
                        continue;
                    }
                    let head = &fields[..fields.len() - 1];
                    let status = BAD_STATES
                        .iter()
                        .find(|bad| head.contains(bad))
                        .copied()
                        .unwrap_or(fields[2]);
                    let state = if fields[3] == "running" {
                        "running"
                    } else {
                        "stopped"
                    };
                    systemd.insert(
                        fields[0].to_string(),
                        json!({"name": fields[0], "state": state, "status": status, "source": "systemd"}),
                    );
                }
            }
            "unit-files" => {
                if value != "0" {
                    found.warnings.push(format!(
                        "Could not get unit files data from systemd: {}",
                        lines.join("\n").trim()
                    ));
                    continue;
                }
                // The states of the units systemd has not loaded, from the next section.
                let mut active: Map<String, Value> = Map::new();
                if let Some((kind, _, lines)) = sections.get(index + 1) {
                    if kind == "active" {
                        for line in lines {
                            let mut words = line.splitn(2, ' ');
                            let unit = words.next().unwrap_or_default();
                            let state = words
                                .next()
                                .map(|s| s.trim().trim_start_matches("ActiveState=").to_string())
                                .unwrap_or_else(|| "unknown".into());
                            active.insert(unit.to_string(), Value::String(state));
                        }
                    }
                }
                for line in lines.iter().filter(|line| line.contains(".service")) {
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let [name, status, ..] = fields[..] else {
                        continue;
                    };
                    match systemd.get_mut(name) {
                        None => {
                            let state = active.get(name).cloned().unwrap_or(json!("unknown"));
                            systemd.insert(
                                name.to_string(),
                                json!({"name": name, "state": state, "status": status, "source": "systemd"}),
                            );
                        }
                        Some(entry) => {
                            let current = entry["status"].as_str().unwrap_or_default();
                            if !BAD_STATES.contains(&current) {
                                entry["status"] = json!(status);
                            }
                        }
                    }
                }
            }
            "sysv" => {
                sysv_rc = value.parse().unwrap_or(1);
                for line in lines {
                    let Some((state, name)) = sysv_line(line) else {
                        continue;
                    };
                    sysv.insert(
                        name.to_string(),
                        json!({"name": name, "state": state, "source": "sysv"}),
                    );
                }
            }
            "sysv-error" => found.warnings.push(format!(
                "Unable to query 'service' tool ({sysv_rc}): {}",
                lines.join("\n").trim()
            )),
            "rcd" => {
                let mut words = value.splitn(2, ' ');
                let name = words.next().unwrap_or_default();
                let status = words.next().unwrap_or("disabled");
                let state = match sections.get(index + 1) {
                    Some((kind, rc, lines)) if kind == "status" => {
                        if rc == "0" && !says_not_running(&lines.join("\n")) {
                            "running"
                        } else {
                            "stopped"
                        }
                    }
                    Some((kind, seen, _)) if kind == "pgrep" => seen.as_str(),
                    _ => "unknown",
                };
                rcd.insert(
                    name.to_string(),
                    json!({"name": name, "state": state, "status": status, "source": "bsdinit"}),
                );
            }
            _ => {}
        }
    }
    // Ansible's order: the SysV scan first, then systemd's (which wins a shared name).
    found.services.extend(sysv);
    found.services.extend(systemd);
    found.services.extend(rcd);
    found
}

/// One line of `service --status-all`: ` [ + ]  ssh` is running, `[ - ]` stopped; `[ ? ]`
/// and anything else is left out (Ansible's regular expression).
fn sysv_line(line: &str) -> Option<(&'static str, &str)> {
    let rest = line.trim_start().strip_prefix("[ ")?;
    let (state, rest) = match rest.chars().next()? {
        '+' => ("running", &rest[1..]),
        '-' => ("stopped", &rest[1..]),
        _ => return None,
    };
    let name = rest.strip_prefix(" ]")?.trim_start();
    (!name.is_empty() && rest.len() > 2 && rest[2..].starts_with(char::is_whitespace))
        .then_some((state, name))
}

impl TypedModule for ServiceFacts {
    type Args = ServiceFactsArgs;
    const NAME: &'static str = "service_facts";
    const SUMMARY: &'static str =
        "List the host's services as `ansible_facts.services` (systemd, SysV, Slackware rc.d)";
    const EXAMPLES: &'static str = "- service_facts:\n\n- debug:\n    msg: \"ssh runs\"\n  when: ansible_facts.services['ssh.service'].state == 'running'\n";
    const USES_FACTS: bool = false;

    fn plan(_: ServiceFactsArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let output = host.run_read(&Command::shell(READ_SCRIPT))?;
        if !output.success() {
            return Err(ModuleError::failed(format!(
                "could not list the services: the read script exited with status {}: {}",
                output.status,
                output.stderr_text().trim()
            )));
        }
        let found = parse_services(&output.stdout_text());
        let mut plan = Plan::unchanged();
        plan.warnings = found.warnings;
        if found.services.is_empty() {
            let msg = "Failed to find any services. This can be due to privileges or some other configuration issue.";
            plan.warnings.push(msg.to_string());
            plan.result.insert("skipped".into(), json!(true));
            plan.result.insert("msg".into(), json!(msg));
        } else {
            plan.result.insert(
                "ansible_facts".into(),
                json!({ "services": Value::Object(found.services) }),
            );
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysv_lines_are_plus_and_minus_only() {
        assert_eq!(sysv_line(" [ + ]  ssh"), Some(("running", "ssh")));
        assert_eq!(sysv_line(" [ - ]  procps"), Some(("stopped", "procps")));
        assert_eq!(sysv_line(" [ ? ]  hwclock.sh"), None);
        assert_eq!(sysv_line("garbage"), None);
    }
}
