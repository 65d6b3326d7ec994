//! Slackware: how the persisted rulesets are loaded at boot, without touching what the admin
//! wrote.
//!
//! The `iptables -restore` lines live in a script converge owns,
//! [`SCRIPT`] (`/etc/rc.d/rc.converge-firewall`), one marked block per family. Boot reaches it
//! from one of two places, both guarded by `[ -x SCRIPT ]`:
//! - the `start)` branch of `/etc/rc.d/rc.firewall` (which rc.inet2 runs first, before any
//!   network service, as `rc.firewall start`), when that script is executable and has a
//!   `start)` case label on a line of its own; a missing rc.firewall is created with just
//!   that branch (mode 0755);
//! - otherwise `/etc/rc.d/rc.local` (sourced at the end of rc.M): an admin's rc.firewall
//!   without a case statement runs on `stop` too and often ends in `exit 0`, so nothing is
//!   added to it, and a disabled one (not executable) stays disabled.
//!
//! No mode of an existing file is ever changed: a script the admin disabled stays disabled
//! (a warning says when that leaves the firewall unloaded at boot). Blocks an older converge
//! appended to rc.firewall (`# BEGIN converge ip6tables` … `# END converge ip6tables`) are
//! taken out, since they ran after an `exit` or on `stop`.

use super::Family;

/// converge's own boot script: one `-restore` block per family.
pub const SCRIPT: &str = "/etc/rc.d/rc.converge-firewall";
/// The admin's firewall script; rc.inet2 runs `rc.firewall start` when it is executable.
pub const RC_FIREWALL: &str = "/etc/rc.d/rc.firewall";
/// Sourced by rc.M at the end of the boot when executable.
pub const RC_LOCAL: &str = "/etc/rc.d/rc.local";

const HOOK_BEGIN: &str = "# BEGIN converge firewall";
const HOOK_END: &str = "# END converge firewall";

/// A file as the read script saw it: executable, content.
pub type Seen<'a> = Option<(bool, &'a str)>;

/// Where boot calls [`SCRIPT`] from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    /// The `start)` branch of rc.firewall.
    RcFirewall,
    /// rc.local.
    RcLocal,
}

impl Hook {
    /// How the plan's result names it.
    pub fn describe(self) -> &'static str {
        match self {
            Hook::RcFirewall => "/etc/rc.d/rc.firewall (start)",
            Hook::RcLocal => "/etc/rc.d/rc.local",
        }
    }
}

/// A file to write: path, new content, mode for a file that does not exist yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub path: &'static str,
    pub before: Option<String>,
    pub after: String,
    /// `Some(0o755)` only when the file is created; an existing file keeps its mode.
    pub create_mode: Option<u32>,
}

/// What boot needs changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootPlan {
    pub hook: Hook,
    pub writes: Vec<Write>,
    pub warnings: Vec<String>,
}

/// The block [`SCRIPT`] holds for `family`.
pub fn family_block(family: Family, persist_file: &str) -> String {
    let command = family.command();
    format!(
        "# BEGIN converge {command}\nif [ -r {file} ]; then\n  /usr/sbin/{command}-restore < {file}\nfi\n# END converge {command}\n",
        file = crate::quote(persist_file)
    )
}

/// The hook block, every line indented by `indent`.
fn hook_block(indent: &str) -> String {
    [
        HOOK_BEGIN.to_string(),
        format!("if [ -x {SCRIPT} ]; then"),
        format!("  {SCRIPT}"),
        "fi".to_string(),
        HOOK_END.to_string(),
    ]
    .iter()
    .map(|line| format!("{indent}{line}\n"))
    .collect()
}

/// `text` without the lines from a line whose trim is `begin` to the one whose trim is `end`.
fn remove_block(text: &str, begin: &str, end: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if !inside && trimmed == begin {
            inside = true;
        } else if inside {
            inside = trimmed != end;
        } else {
            out.push_str(line);
        }
    }
    out
}

/// `text` with `block` in place of its `# BEGIN converge COMMAND` block, or appended.
fn put_family_block(text: &str, family: Family, block: &str) -> String {
    let command = family.command();
    let begin = format!("# BEGIN converge {command}");
    let end = format!("# END converge {command}");
    let mut out = String::new();
    let mut inside = false;
    let mut placed = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if !inside && trimmed == begin {
            inside = true;
            if !placed {
                out.push_str(block);
                placed = true;
            }
        } else if inside {
            inside = trimmed != end;
        } else {
            out.push_str(line);
        }
    }
    if !placed {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(block);
    }
    out
}

/// The line index after which the `start)` branch begins: a case label, on a line of its
/// own, one of whose alternatives is `start` (`start)`, `'start')`, `start|restart)`).
pub fn start_label(text: &str) -> Option<(usize, String)> {
    text.lines().enumerate().find_map(|(index, line)| {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let (pattern, rest) = trimmed.split_once(')')?;
        let rest = rest.trim();
        if !(rest.is_empty() || rest.starts_with('#')) {
            return None;
        }
        let pattern = pattern.trim_start_matches('(');
        let is_start = pattern
            .split('|')
            .map(|word| word.trim().trim_matches(|c| c == '"' || c == '\''))
            .any(|word| word == "start");
        is_start.then(|| (index, format!("{indent}  ")))
    })
}

/// `text` with the hook inserted as the first lines of its `start)` branch.
fn hook_into_start(text: &str) -> Option<String> {
    let (index, indent) = start_label(text)?;
    let mut out = String::new();
    for (number, line) in text.split_inclusive('\n').enumerate() {
        out.push_str(line);
        if number == index {
            if !line.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&hook_block(&indent));
        }
    }
    Some(out)
}

/// `text` with the hook appended, before a final top-level `exit` if there is one.
fn hook_into_rc_local(text: &str) -> String {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let last_code = lines
        .iter()
        .rposition(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'));
    let before_exit = last_code.filter(|&index| {
        let line = lines[index];
        (line.starts_with("exit") && line[4..].trim().chars().all(|c| c.is_ascii_digit()))
            || line.trim() == "return"
    });
    let block = hook_block("");
    match before_exit {
        Some(index) => {
            let mut out: String = lines[..index].concat();
            out.push_str(&block);
            out.push_str(&lines[index..].concat());
            out
        }
        None => {
            let mut out = text.to_string();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&block);
            out
        }
    }
}

const NEW_RC_FIREWALL: &str = "#!/bin/sh\n# /etc/rc.d/rc.firewall: run by rc.inet2 at boot (\"rc.firewall start\") when executable.\n\ncase \"$1\" in\n  start)\n    ;;\nesac\n";
const NEW_RC_LOCAL: &str =
    "#!/bin/sh\n#\n# /etc/rc.d/rc.local:  Local system initialization script.\n\n";
const NEW_SCRIPT: &str = "#!/bin/sh\n# /etc/rc.d/rc.converge-firewall: written by converge (ip6tables, iptables modules):\n# loads the persisted rulesets. Called at boot from the start) branch of rc.firewall or\n# from rc.local; chmod 644 to keep it from running.\n";

/// What boot needs so that `family`'s `persist_file` is loaded, given the current script,
/// rc.firewall and rc.local.
pub fn plan(
    family: Family,
    persist_file: &str,
    script: Seen,
    rc_firewall: Seen,
    rc_local: Seen,
) -> BootPlan {
    let mut writes = Vec::new();
    let mut warnings = Vec::new();
    let block = family_block(family, persist_file);
    let current_script = script.map(|(_, text)| text);
    let new_script = put_family_block(current_script.unwrap_or(NEW_SCRIPT), family, &block);
    if current_script != Some(new_script.as_str()) {
        writes.push(Write {
            path: SCRIPT,
            before: current_script.map(String::from),
            after: new_script,
            create_mode: script.is_none().then_some(0o755),
        });
    }
    if let Some((false, _)) = script {
        warnings.push(format!(
            "{SCRIPT} is not executable (disabled): the {} rules are not loaded at boot; chmod 755 it to load them",
            family.command()
        ));
    }

    // rc.firewall without the blocks older versions appended after its end.
    let command = family.command();
    let firewall_text = rc_firewall.map(|(_, text)| {
        remove_block(
            text,
            &format!("# BEGIN converge {command}"),
            &format!("# END converge {command}"),
        )
    });
    let local_hooked = rc_local.is_some_and(|(_, text)| text.contains(HOOK_BEGIN));
    let (hook, new_firewall) = match (rc_firewall, &firewall_text) {
        (Some((true, _)), Some(text)) if text.contains(HOOK_BEGIN) => {
            (Hook::RcFirewall, text.clone())
        }
        (Some((true, _)), Some(text)) if !local_hooked => match hook_into_start(text) {
            Some(hooked) => (Hook::RcFirewall, hooked),
            None => (Hook::RcLocal, text.clone()),
        },
        (Some(_), Some(text)) => (Hook::RcLocal, text.clone()),
        _ if local_hooked => (Hook::RcLocal, String::new()),
        _ => (
            Hook::RcFirewall,
            hook_into_start(NEW_RC_FIREWALL).unwrap_or_default(),
        ),
    };
    match rc_firewall {
        Some((_, text)) if text != new_firewall => writes.push(Write {
            path: RC_FIREWALL,
            before: Some(text.to_string()),
            after: new_firewall,
            create_mode: None,
        }),
        None if hook == Hook::RcFirewall => writes.push(Write {
            path: RC_FIREWALL,
            before: None,
            after: new_firewall,
            create_mode: Some(0o755),
        }),
        _ => {}
    }
    if hook == Hook::RcLocal {
        match rc_local {
            Some((_, text)) if text.contains(HOOK_BEGIN) => {}
            Some((_, text)) => writes.push(Write {
                path: RC_LOCAL,
                before: Some(text.to_string()),
                after: hook_into_rc_local(text),
                create_mode: None,
            }),
            None => writes.push(Write {
                path: RC_LOCAL,
                before: None,
                after: hook_into_rc_local(NEW_RC_LOCAL),
                create_mode: Some(0o755),
            }),
        }
        if let Some((false, _)) = rc_local {
            warnings.push(format!(
                "{RC_LOCAL} is not executable (disabled): {SCRIPT} is not run at boot; chmod 755 {RC_LOCAL} or make {RC_FIREWALL} executable with a start) branch"
            ));
        }
    }
    BootPlan {
        hook,
        writes,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN_EXIT: &str = "#!/bin/sh\n# my firewall\niptables -P INPUT DROP\niptables -A INPUT -i lo -j ACCEPT\nexit 0\n";
    const ADMIN_CASE: &str = "#!/bin/sh\nfw_start() {\n  iptables -P INPUT DROP\n}\ncase \"$1\" in\n'start')\n  fw_start\n  ;;\n'stop')\n  iptables -F\n  ;;\n*)\n  echo \"usage $0 start|stop\"\nesac\nexit 0\n";

    fn text_of<'a>(plan: &'a BootPlan, path: &str) -> Option<&'a str> {
        plan.writes
            .iter()
            .find(|w| w.path == path)
            .map(|w| w.after.as_str())
    }

    #[test]
    fn no_rc_firewall_gets_one_with_only_a_start_branch() {
        let plan = plan(Family::V6, "/etc/ip6tables.rules", None, None, None);
        assert_eq!(plan.hook, Hook::RcFirewall);
        assert_eq!(
            text_of(&plan, RC_FIREWALL),
            Some("#!/bin/sh\n# /etc/rc.d/rc.firewall: run by rc.inet2 at boot (\"rc.firewall start\") when executable.\n\ncase \"$1\" in\n  start)\n    # BEGIN converge firewall\n    if [ -x /etc/rc.d/rc.converge-firewall ]; then\n      /etc/rc.d/rc.converge-firewall\n    fi\n    # END converge firewall\n    ;;\nesac\n")
        );
        assert!(text_of(&plan, SCRIPT)
            .is_some_and(|t| t.ends_with("# BEGIN converge ip6tables\nif [ -r /etc/ip6tables.rules ]; then\n  /usr/sbin/ip6tables-restore < /etc/ip6tables.rules\nfi\n# END converge ip6tables\n")));
        assert!(plan.writes.iter().all(|w| w.create_mode == Some(0o755)));
        assert!(text_of(&plan, RC_LOCAL).is_none());
    }

    #[test]
    fn an_admin_rc_firewall_ending_in_exit_is_left_alone_and_rc_local_calls_the_script() {
        let plan = plan(
            Family::V6,
            "/etc/ip6tables.rules",
            None,
            Some((true, ADMIN_EXIT)),
            Some((true, "#!/bin/sh\n# local\n/usr/sbin/libvirtd -d\n")),
        );
        assert_eq!(plan.hook, Hook::RcLocal);
        assert!(text_of(&plan, RC_FIREWALL).is_none(), "{plan:?}");
        assert_eq!(
            text_of(&plan, RC_LOCAL),
            Some("#!/bin/sh\n# local\n/usr/sbin/libvirtd -d\n# BEGIN converge firewall\nif [ -x /etc/rc.d/rc.converge-firewall ]; then\n  /etc/rc.d/rc.converge-firewall\nfi\n# END converge firewall\n")
        );
        assert_eq!(
            plan.writes
                .iter()
                .find(|w| w.path == RC_LOCAL)
                .and_then(|w| w.create_mode),
            None,
            "an existing rc.local keeps its mode"
        );
    }

    #[test]
    fn the_old_appended_block_is_taken_out_of_rc_firewall() {
        let old = format!(
            "{ADMIN_EXIT}# BEGIN converge ip6tables\nif [ -r /etc/ip6tables.rules ]; then\n  /usr/sbin/ip6tables-restore < /etc/ip6tables.rules\nfi\n# END converge ip6tables\n"
        );
        let plan = plan(
            Family::V6,
            "/etc/ip6tables.rules",
            None,
            Some((true, &old)),
            Some((true, "#!/bin/sh\nexit 0\n")),
        );
        assert_eq!(text_of(&plan, RC_FIREWALL), Some(ADMIN_EXIT));
        assert_eq!(
            text_of(&plan, RC_LOCAL),
            Some("#!/bin/sh\n# BEGIN converge firewall\nif [ -x /etc/rc.d/rc.converge-firewall ]; then\n  /etc/rc.d/rc.converge-firewall\nfi\n# END converge firewall\nexit 0\n"),
            "before rc.local's final exit"
        );
    }

    #[test]
    fn a_case_statement_gets_the_call_in_its_start_branch_only() {
        let plan = plan(
            Family::V4,
            "/etc/iptables.rules",
            None,
            Some((true, ADMIN_CASE)),
            None,
        );
        assert_eq!(plan.hook, Hook::RcFirewall);
        let text = text_of(&plan, RC_FIREWALL).expect("rc.firewall");
        assert!(
            text.contains("'start')\n  # BEGIN converge firewall\n  if [ -x /etc/rc.d/rc.converge-firewall ]; then\n    /etc/rc.d/rc.converge-firewall\n  fi\n  # END converge firewall\n  fw_start\n"),
            "{text}"
        );
        // Run for real: `start` loads, `stop` does not.
        let dir = tempfile::tempdir().expect("tmp");
        let marker = dir.path().join("loaded");
        let fake = text
            .replace(
                "/etc/rc.d/rc.converge-firewall",
                &dir.path().join("script").display().to_string(),
            )
            .replace("iptables", ": iptables");
        std::fs::write(
            dir.path().join("script"),
            format!("#!/bin/sh\ntouch {}\n", marker.display()),
        )
        .expect("write");
        std::process::Command::new("chmod")
            .arg("755")
            .arg(dir.path().join("script"))
            .status()
            .expect("chmod");
        for (verb, loaded) in [("stop", false), ("start", true)] {
            let status = std::process::Command::new("/bin/sh")
                .args(["-c", &fake, "rc.firewall", verb])
                .status()
                .expect("sh");
            assert!(status.success());
            assert_eq!(marker.exists(), loaded, "{verb}");
        }
        // The same again: nothing to do.
        let again = super::plan(
            Family::V4,
            "/etc/iptables.rules",
            text_of(&plan, SCRIPT).map(|t| (true, t)),
            Some((true, text)),
            None,
        );
        assert!(again.writes.is_empty(), "{again:?}");
    }

    #[test]
    fn a_disabled_rc_firewall_stays_disabled_and_untouched() {
        let plan = plan(
            Family::V6,
            "/etc/ip6tables.rules",
            None,
            Some((false, ADMIN_CASE)),
            Some((true, "#!/bin/sh\n")),
        );
        assert_eq!(plan.hook, Hook::RcLocal);
        assert!(plan.writes.iter().all(|w| w.path != RC_FIREWALL));
        assert!(plan.warnings.is_empty());
        let plan = super::plan(
            Family::V6,
            "/etc/ip6tables.rules",
            None,
            Some((false, ADMIN_CASE)),
            Some((false, "#!/bin/sh\n")),
        );
        assert_eq!(plan.warnings.len(), 1, "{plan:?}");
        assert!(plan
            .writes
            .iter()
            .all(|w| w.create_mode.is_none() || w.path == SCRIPT));
    }

    #[test]
    fn both_families_share_the_script() {
        let v6 = plan(Family::V6, "/etc/ip6tables.rules", None, None, None);
        let script = text_of(&v6, SCRIPT).expect("script").to_string();
        let firewall = text_of(&v6, RC_FIREWALL).expect("rc.firewall").to_string();
        let v4 = plan(
            Family::V4,
            "/etc/iptables.rules",
            Some((true, &script)),
            Some((true, &firewall)),
            None,
        );
        assert_eq!(v4.writes.len(), 1, "{v4:?}");
        let both = text_of(&v4, SCRIPT).expect("script");
        assert!(
            both.contains("# BEGIN converge ip6tables\n")
                && both.contains("# BEGIN converge iptables\n")
        );
    }

    #[test]
    fn start_labels() {
        assert!(start_label("case $1 in\n  start)\n").is_some());
        assert!(start_label("case $1 in\n  \"start\"|restart) # go\n").is_some());
        assert!(start_label("  restart)\n").is_none());
        assert!(start_label("  start) fw_start ;;\n").is_none());
    }
}
