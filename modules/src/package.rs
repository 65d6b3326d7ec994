//! `package`: make packages present, absent or the newest available, with the host's manager.
//!
//! The manager comes from the `pkg_mgr` fact unless `use` names one:
//! - `apt`: reads `dpkg-query -W` for every name in one call (and `apt-cache policy` for names
//!   that must be installed or upgraded, to know the candidate version). Installs and
//!   upgrades with one `apt-get install -y -q`, removes with `apt-get remove -y -q`, with
//!   `DEBIAN_FRONTEND=noninteractive` and dpkg's `--force-confdef --force-confold`.
//!   `name=VERSION` (with `*` globs) pins a version. `update_cache: true` runs `apt-get update`
//!   first and reports it as a change, unless `cache_valid_time` (seconds) says the cache is
//!   fresh enough — use it to keep a task idempotent.
//! - `slackpkg` (Slackware): a package is installed when `/var/log/packages` has an entry
//!   whose name, after dropping the last three `-` fields (version, arch, build), is exactly
//!   the wanted name. Installs with `slackpkg -batch=on -default_answer=y install NAME…`
//!   (official packages only; SlackBuilds are the `slackbuild` module's job). Removes with
//!   `removepkg NAME…`, which matches names exactly, where `slackpkg remove` treats its
//!   argument as a pattern (and series name) and could remove more than asked.
//!   `state: latest` is not supported: slackpkg cannot tell one package's upgrade without
//!   refreshing and scanning every mirror list; use `present` and `slackpkg upgrade-all`.
//!   On a host with pkgtools but no slackpkg (the `pkg_mgr` fact is `pkgtools`), packages
//!   already installed are `present`, `absent` still removes with `removepkg`, and installing
//!   a missing one is refused before anything runs, naming the `slackbuild` module.
//!
//! Package names reach commands as separate arguments, never through a shell, and a name
//! starting with `-` is rejected. Idempotence: only missing (or outdated, for `latest`)
//! packages are installed, only installed ones removed.
//!
//! ```yaml
//! - package:
//!     name: [radvd, isc-dhcp-server]
//!     state: present
//! ```

use crate::args::{Flag, StringList};
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// What to make of the packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PackageState {
    /// Installed, any version.
    #[default]
    #[serde(alias = "installed")]
    Present,
    /// Not installed.
    #[serde(alias = "removed")]
    Absent,
    /// Installed at the newest version the manager knows.
    Latest,
}

/// Which package manager to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PackageManager {
    /// From the `pkg_mgr` fact.
    #[default]
    Auto,
    /// Debian's apt and dpkg.
    Apt,
    /// Slackware's slackpkg and pkgtools.
    Slackpkg,
}

/// Arguments of `package`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageArgs {
    /// Package names (a list, or one string with commas); apt accepts `name=VERSION`.
    #[serde(default, alias = "pkg")]
    pub name: StringList,
    /// `present` (`installed`), `absent` (`removed`) or `latest`.
    #[serde(default)]
    pub state: PackageState,
    /// Refresh the package lists first (`apt-get update`, `slackpkg update`).
    #[serde(default, alias = "update-cache")]
    pub update_cache: Flag,
    /// With apt: skip the refresh when the lists are younger than this many seconds.
    pub cache_valid_time: Option<u64>,
    /// The package manager (`auto` reads the `pkg_mgr` fact).
    #[serde(default, rename = "use")]
    pub use_manager: PackageManager,
}

/// One requested package: its name and, for apt, a version pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Wanted {
    /// As written (`vim`, `vim=2:9.0*`, `libc6:i386`).
    pub(crate) spec: String,
    /// Name without version or architecture, as dpkg-query prints it.
    pub(crate) name: String,
    /// Name with architecture, without version: what dpkg-query and apt-cache are asked.
    pub(crate) query: String,
    pub(crate) version: Option<String>,
}

/// `name`, `name=VERSION` or `name:ARCH` as apt and dpkg take it apart (the `apt` module too).
pub(crate) fn parse_wanted(spec: &str) -> Wanted {
    let (query, version) = match spec.split_once('=') {
        Some((name, version)) => (name.to_string(), Some(version.to_string())),
        None => (spec.to_string(), None),
    };
    let name = query.split(':').next().unwrap_or(&query).to_string();
    Wanted {
        spec: spec.to_string(),
        name,
        query,
        version,
    }
}

/// The `package` module.
pub struct Package;

impl TypedModule for Package {
    type Args = PackageArgs;
    const NAME: &'static str = "package";
    const SUMMARY: &'static str = "Install, remove or upgrade packages (apt, slackpkg)";
    const EXAMPLES: &'static str = "- package:\n    name: [radvd, isc-dhcp-server]\n    state: present\n- package:\n    name: vim\n    state: latest\n    update_cache: true\n    cache_valid_time: 3600\n";

    fn check(args: &PackageArgs) -> Result<(), ArgsError> {
        if args.name.0.is_empty() && !args.update_cache.0 {
            return Err(ArgsError::new(
                Some("name"),
                "module `package` needs `name` (or `update_cache: true`)",
            ));
        }
        check_package_names(&args.name.0, "a package manager")
    }

    fn plan(
        args: PackageArgs,
        host: &mut dyn Host,
        context: &Context,
    ) -> Result<Plan, ModuleError> {
        let manager = match args.use_manager {
            PackageManager::Auto => {
                match context.facts.pkg_mgr.as_str() {
                    "apt" => PackageManager::Apt,
                    "slackpkg" | "pkgtools" => PackageManager::Slackpkg,
                    other => {
                        let found = if other.is_empty() {
                            "facts were not gathered".to_string()
                        } else {
                            format!("the fact `pkg_mgr` is `{other}`")
                        };
                        return Err(ModuleError::Failed {
                        message: format!("module `package` does not know how to install packages here: {found}"),
                        hint: Some("gather facts, or set `use: apt` or `use: slackpkg`".into()),
                    });
                    }
                }
            }
            chosen => chosen,
        };
        let mut plan = match manager {
            PackageManager::Slackpkg => {
                plan_slackpkg(&args, host, context.facts.pkg_mgr != "pkgtools")?
            }
            _ => plan_apt(&args, host)?,
        };
        plan.result.insert("packages".into(), json!(args.name.0));
        Ok(plan)
    }
}

fn apt_env(mut command: Command) -> Command {
    command
        .env
        .push(("DEBIAN_FRONTEND".into(), "noninteractive".into()));
    command.env.push(("LC_ALL".into(), "C".into()));
    command
}

fn step(command: Command) -> Step {
    Step::Run {
        command,
        allow_failure: false,
    }
}

/// Installed packages by name, from `dpkg-query -W` lines `NAME\tSTATUS\tVERSION`.
pub fn parse_dpkg_query(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next()?.trim();
            let status = fields.next()?;
            let version = fields.next().unwrap_or("").trim();
            // `install ok installed`, `hold ok installed`; not `deinstall ok config-files`.
            (status.split_whitespace().nth(2) == Some("installed"))
                .then(|| (name.to_string(), version.to_string()))
        })
        .collect()
}

/// `apt-cache policy` blocks: package name → (installed version, candidate version).
pub fn parse_apt_policy(text: &str) -> Vec<(String, Option<String>, Option<String>)> {
    let mut result: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for line in text.lines() {
        if !line.starts_with(' ') && line.ends_with(':') {
            let name = line.trim_end_matches(':');
            let name = name.split(':').next().unwrap_or(name);
            result.push((name.to_string(), None, None));
            continue;
        }
        let Some(current) = result.last_mut() else {
            continue;
        };
        let version = |value: &str| {
            let value = value.trim();
            (value != "(none)" && !value.is_empty()).then(|| value.to_string())
        };
        if let Some(value) = line.trim().strip_prefix("Installed:") {
            current.1 = version(value);
        } else if let Some(value) = line.trim().strip_prefix("Candidate:") {
            current.2 = version(value);
        }
    }
    result
}

fn now_and_cache_age(host: &mut dyn Host) -> Result<Option<u64>, ModuleError> {
    let output = host.run(&Command::shell(
        "date +%s; stat -c %Y /var/lib/apt/periodic/update-success-stamp 2>/dev/null || stat -c %Y /var/lib/apt/lists 2>/dev/null",
    ))?;
    let numbers: Vec<u64> = output
        .stdout_text()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect();
    Ok(match numbers.as_slice() {
        [now, mtime, ..] => Some(now.saturating_sub(*mtime)),
        _ => None,
    })
}

fn plan_apt(args: &PackageArgs, host: &mut dyn Host) -> Result<Plan, ModuleError> {
    let mut plan = Plan::unchanged();
    let wanted: Vec<Wanted> = args.name.0.iter().map(|spec| parse_wanted(spec)).collect();
    if args.state == PackageState::Latest {
        if let Some(pinned) = wanted.iter().find(|w| w.version.is_some()) {
            return Err(ModuleError::Failed {
                message: format!(
                    "`{}` pins a version, which `state: latest` cannot honour",
                    pinned.spec
                ),
                hint: Some("use `state: present` with a version, or drop the `=VERSION`".into()),
            });
        }
    }

    let mut updating = false;
    if args.update_cache.0 {
        let fresh = match args.cache_valid_time {
            Some(valid) => now_and_cache_age(host)?.is_some_and(|age| age < valid),
            None => false,
        };
        if !fresh {
            updating = true;
            plan.push(
                Change::note("apt cache", "refresh the package lists (`apt-get update`)"),
                [step(apt_env(Command::argv(["apt-get", "update", "-q"])))],
            );
        }
    }
    if wanted.is_empty() {
        return Ok(plan);
    }

    let mut query = vec![
        "dpkg-query".to_string(),
        "-W".to_string(),
        "-f".to_string(),
        "${Package}\\t${Status}\\t${Version}\\n".to_string(),
    ];
    query.extend(wanted.iter().map(|w| w.query.clone()));
    let output = host.run(&apt_env(Command::argv(query)))?;
    // dpkg-query exits 1 when some names are unknown to dpkg: that only means "not installed".
    if output.status > 1 {
        return Err(ModuleError::Failed {
            message: format!(
                "`dpkg-query` exited with {}: {}",
                output.status,
                output.stderr_text().trim()
            ),
            hint: Some("is this a Debian host? the fact `pkg_mgr` or `use:` chose apt".into()),
        });
    }
    let installed = parse_dpkg_query(&output.stdout_text());
    let installed_version = |w: &Wanted| {
        installed
            .iter()
            .find(|(name, _)| *name == w.name)
            .map(|(_, version)| version.clone())
    };
    let matches = |w: &Wanted, version: &str| {
        w.version
            .as_deref()
            .is_none_or(|pattern| crate::setup::glob_match(pattern, version))
    };

    if args.state == PackageState::Absent {
        let mut remove = Vec::new();
        for w in &wanted {
            if let Some(version) = installed_version(w).filter(|v| matches(w, v)) {
                plan.changes
                    .push(Change::value(w.name.clone(), Some(version), None));
                remove.push(w.query.clone());
            }
        }
        if !remove.is_empty() {
            let mut argv = vec![
                "apt-get".to_string(),
                "remove".into(),
                "-y".into(),
                "-q".into(),
            ];
            argv.extend(remove);
            plan.steps.push(step(apt_env(Command::argv(argv))));
        }
        return Ok(plan);
    }

    // Names to look up in the apt cache: missing ones, or all of them for `latest`.
    let candidates: Vec<&Wanted> = wanted
        .iter()
        .filter(|w| {
            args.state == PackageState::Latest
                || installed_version(w).is_none_or(|v| !matches(w, &v))
        })
        .collect();
    if candidates.is_empty() {
        return Ok(plan);
    }
    let mut policy_argv = vec!["apt-cache".to_string(), "policy".to_string()];
    policy_argv.extend(candidates.iter().map(|w| w.query.clone()));
    let policy_output = host.run(&apt_env(Command::argv(policy_argv)))?;
    let policy = parse_apt_policy(&policy_output.stdout_text());

    let mut install = Vec::new();
    for w in candidates {
        let before = installed_version(w);
        let candidate = policy
            .iter()
            .find(|(name, _, _)| *name == w.name)
            .and_then(|(_, _, candidate)| candidate.clone());
        let Some(candidate) = candidate else {
            if updating {
                plan.warnings.push(format!(
                    "package `{}` is not in the apt cache yet; assuming the cache refresh brings it",
                    w.name
                ));
            } else {
                return Err(ModuleError::Failed {
                    message: format!("no package matching `{}` is available", w.name),
                    hint: Some(
                        "check the name (`apt-cache search`), or add `update_cache: true`".into(),
                    ),
                });
            }
            plan.changes.push(Change::value(
                w.name.clone(),
                before,
                Some("present".into()),
            ));
            install.push(w.spec.clone());
            continue;
        };
        let after = match &w.version {
            Some(pattern) => pattern.clone(),
            None => candidate.clone(),
        };
        if args.state == PackageState::Latest && before.as_deref() == Some(candidate.as_str()) {
            continue;
        }
        plan.changes
            .push(Change::value(w.name.clone(), before, Some(after)));
        install.push(w.spec.clone());
    }
    if !install.is_empty() {
        let mut argv: Vec<String> = [
            "apt-get",
            "install",
            "-y",
            "-q",
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.extend(install);
        plan.steps.push(step(apt_env(Command::argv(argv))));
    }
    Ok(plan)
}

/// The package name of a `/var/log/packages` entry (`openssh-9.3p2-x86_64-1_slack15.0` →
/// `openssh`): everything before the last three `-` fields.
pub fn slackware_package_name(entry: &str) -> Option<(&str, &str)> {
    let mut parts = entry.rsplitn(4, '-');
    let build = parts.next()?;
    let arch = parts.next()?;
    let version = parts.next()?;
    let name = parts.next()?;
    if name.is_empty() || build.is_empty() || arch.is_empty() || version.is_empty() {
        return None;
    }
    // The version-arch-build tail, as one string.
    let tail = &entry[name.len() + 1..];
    Some((name, tail))
}

/// `has_slackpkg` is false where the `pkg_mgr` fact says only pkgtools exist.
fn plan_slackpkg(
    args: &PackageArgs,
    host: &mut dyn Host,
    has_slackpkg: bool,
) -> Result<Plan, ModuleError> {
    if !has_slackpkg && args.update_cache.0 {
        return Err(no_slackpkg("refresh the package lists"));
    }
    if args.state == PackageState::Latest {
        return Err(ModuleError::Failed {
            message: "`state: latest` is not supported with slackpkg".into(),
            hint: Some("use `state: present`, and upgrade with `slackpkg upgrade-all` (or the `command` module)".into()),
        });
    }
    if let Some(pinned) = args.name.0.iter().find(|n| n.contains('=')) {
        return Err(ModuleError::Failed {
            message: format!("`{pinned}`: version pins are not supported with slackpkg"),
            hint: Some("give the bare package name".into()),
        });
    }
    let mut plan = Plan::unchanged();
    if args.update_cache.0 {
        plan.push(
            Change::note("slackpkg", "refresh the package lists (`slackpkg update`)"),
            [step(Command::argv([
                "slackpkg",
                "-batch=on",
                "-default_answer=y",
                "update",
            ]))],
        );
    }
    if args.name.0.is_empty() {
        return Ok(plan);
    }
    let output = host.run_read(&Command::argv(["ls", "-1", "/var/log/packages"]))?;
    if !output.success() {
        return Err(ModuleError::Failed {
            message: format!(
                "cannot list /var/log/packages: {}",
                output.stderr_text().trim()
            ),
            hint: Some(
                "is this a Slackware host? the fact `pkg_mgr` or `use:` chose slackpkg".into(),
            ),
        });
    }
    let listing = output.stdout_text();
    let installed: Vec<(&str, &str)> = listing
        .lines()
        .filter_map(|l| slackware_package_name(l.trim()))
        .collect();
    let version_of = |name: &str| {
        installed
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, tail)| tail.to_string())
    };
    let mut names = Vec::new();
    for name in &args.name.0 {
        let before = version_of(name);
        match (args.state, before) {
            (PackageState::Absent, Some(version)) => {
                plan.changes
                    .push(Change::value(name.clone(), Some(version), None));
                names.push(name.clone());
            }
            (PackageState::Present, None) => {
                plan.changes
                    .push(Change::value(name.clone(), None, Some("present".into())));
                names.push(name.clone());
            }
            _ => {}
        }
    }
    if !names.is_empty() && args.state != PackageState::Absent && !has_slackpkg {
        return Err(no_slackpkg(&format!("install {}", names.join(", "))));
    }
    if !names.is_empty() {
        let mut argv: Vec<String> = if args.state == PackageState::Absent {
            vec!["removepkg".into()]
        } else {
            ["slackpkg", "-batch=on", "-default_answer=y", "install"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        argv.extend(names);
        plan.steps.push(step(Command::argv(argv)));
    }
    Ok(plan)
}

/// The refusal on a Slackware host without slackpkg (`pkg_mgr` is `pkgtools`).
fn no_slackpkg(what: &str) -> ModuleError {
    ModuleError::Failed {
        message: format!(
            "module `package` cannot {what}: this host has Slackware's pkgtools but no slackpkg"
        ),
        hint: Some(
            "build it from SlackBuilds.org with the `slackbuild` module, install a package file with `installpkg` (the `command` module), or install slackpkg (Slackware's ap/ series)".into(),
        ),
    }
}

/// Package names as `package` and `apt` accept them: no leading `-` (`tool` would read it as
/// an option), no whitespace or control characters.
pub(crate) fn check_package_names(names: &[String], tool: &str) -> Result<(), ArgsError> {
    for name in names {
        if name.starts_with('-') {
            return Err(ArgsError::new(
                Some("name"),
                format!(
                    "package name `{name}` starts with `-`, which {tool} would read as an option"
                ),
            ));
        }
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(
                ArgsError::new(Some("name"), format!("`{name}` is not a package name"))
                    .with_hint("give one package per list item"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slackware_names_drop_version_arch_build() {
        assert_eq!(
            slackware_package_name("openssh-9.3p2-x86_64-1_slack15.0"),
            Some(("openssh", "9.3p2-x86_64-1_slack15.0"))
        );
        assert_eq!(
            slackware_package_name("gcc-g++-11.2.0-x86_64-2"),
            Some(("gcc-g++", "11.2.0-x86_64-2"))
        );
        assert_eq!(slackware_package_name("broken-1"), None);
    }

    #[test]
    fn dpkg_query_counts_only_installed() {
        let text = "vim\tinstall ok installed\t2:9.0.1378-2\nnano\tdeinstall ok config-files\t7.2-1\nradvd\thold ok installed\t1:2.19-1\n";
        assert_eq!(
            parse_dpkg_query(text),
            [
                ("vim".to_string(), "2:9.0.1378-2".to_string()),
                ("radvd".to_string(), "1:2.19-1".to_string())
            ]
        );
    }

    #[test]
    fn apt_policy_blocks() {
        let text = "vim:\n  Installed: (none)\n  Candidate: 2:9.0.1378-2\n  Version table:\n     2:9.0.1378-2 500\n        500 http://deb.debian.org/debian bookworm/main amd64 Packages\nlibc6:i386:\n  Installed: 2.36-9\n  Candidate: 2.36-9+deb12u4\n";
        assert_eq!(
            parse_apt_policy(text),
            [
                ("vim".to_string(), None, Some("2:9.0.1378-2".to_string())),
                (
                    "libc6".to_string(),
                    Some("2.36-9".to_string()),
                    Some("2.36-9+deb12u4".to_string())
                ),
            ]
        );
    }
}
