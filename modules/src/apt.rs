//! `apt`: Debian packages present, absent, at the newest version, or from a `.deb` file,
//! with Ansible's arguments and result keys.
//!
//! Reads dpkg's state for every name in one `dpkg-query -W` call and, for packages that must
//! be installed or upgraded, `apt-cache policy` for the candidate versions, so check mode
//! says exactly which packages change (`vim: 2:9.0.1378-2 → 2:9.0.1378-2+deb12u1`).
//! Applies with `apt-get install|remove -y -q` under `DEBIAN_FRONTEND=noninteractive`.
//! `update_cache` runs `apt-get update` unless `cache_valid_time` (seconds) finds the cache
//! young enough (by the mtime of `/var/lib/apt/periodic/update-success-stamp`, else of
//! `/var/lib/apt/lists`, as Ansible reads it); with packages to manage a refresh is not
//! itself a change (Ansible's rule), alone it is. The plan is made from the cache as it is
//! before that refresh.
//!
//! Idempotence: only missing (or, for `latest`, outdated; for a `name=VERSION` pin, other
//! versions of) packages are installed, only installed ones removed.
//!
//! ```yaml
//! - apt:
//!     name: [radvd, isc-dhcp-server=4.4.3*]
//!     state: present
//!     update_cache: true
//!     cache_valid_time: 3600
//! ```

use crate::args::{Flag, StringList};
use crate::dpkg::{self, DpkgPackage};
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::package::{parse_apt_policy, parse_wanted, Wanted};
use crate::plan::{Change, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

/// What to make of the packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AptState {
    /// Installed, any version (or the pinned one).
    #[default]
    #[serde(alias = "installed")]
    Present,
    /// Not installed (with `purge`, not even configuration files).
    #[serde(alias = "removed")]
    Absent,
    /// Installed at the candidate version `apt-cache policy` shows.
    Latest,
    /// Like `present`, with `apt-get --fix-broken`.
    Fixed,
    /// Not built in converge: use `command: apt-get build-dep -y NAME`.
    #[serde(rename = "build-dep")]
    BuildDep,
}

fn default_dpkg_options() -> String {
    "force-confdef,force-confold".into()
}

/// Arguments of `apt`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AptArgs {
    /// Package names (a list, or one string with commas); `name=VERSION` pins a version
    /// (`*` globs allowed), `name:ARCH` picks an architecture.
    #[serde(default, alias = "pkg", alias = "package")]
    pub name: StringList,
    /// `present` (`installed`), `absent` (`removed`), `latest`, `fixed`; `build-dep` is not built.
    #[serde(default)]
    pub state: AptState,
    /// Run `apt-get update` first.
    #[serde(default, alias = "update-cache")]
    pub update_cache: Flag,
    /// Skip the update when the cache is younger than this many seconds; setting it implies
    /// `update_cache: true`.
    pub cache_valid_time: Option<u64>,
    /// Path of a `.deb` file on the host to install (when its version is not installed).
    pub deb: Option<String>,
    /// Also remove dependencies nothing needs any more (`--auto-remove`); alone, runs
    /// `apt-get autoremove`.
    #[serde(default)]
    pub autoremove: Flag,
    /// With `absent` (and `autoremove`): remove configuration files too (`--purge`).
    #[serde(default)]
    pub purge: Flag,
    /// `false` adds `--no-install-recommends`, `true` forces recommends; unset keeps apt's
    /// configuration.
    #[serde(default, alias = "install-recommends")]
    pub install_recommends: Option<Flag>,
    /// Allow unauthenticated, downgraded, essential and held packages (apt's old `--force-yes`).
    #[serde(default)]
    pub force: Flag,
    /// `--allow-unauthenticated`.
    #[serde(default, alias = "allow-unauthenticated")]
    pub allow_unauthenticated: Flag,
    /// `--allow-downgrades`, to install a pinned version older than the installed one.
    #[serde(
        default,
        alias = "allow-downgrade",
        alias = "allow_downgrades",
        alias = "allow-downgrades"
    )]
    pub allow_downgrade: Flag,
    /// dpkg options, comma separated, each passed as `-o Dpkg::Options::=--OPTION`.
    #[serde(default = "default_dpkg_options")]
    pub dpkg_options: String,
    /// `-t RELEASE`: the release to install from (e.g. `bookworm-backports`).
    #[serde(default, alias = "default-release")]
    pub default_release: Option<String>,
}

/// The `apt` module.
pub struct Apt;

/// Where Ansible reads the time of the last `apt-get update`: the stamp apt's periodic
/// update writes, else the lists directory.
const CACHE_TIME_SCRIPT: &str = "date +%s; stat -c %Y /var/lib/apt/periodic/update-success-stamp 2>/dev/null || stat -c %Y /var/lib/apt/lists 2>/dev/null || echo 0";

impl TypedModule for Apt {
    type Args = AptArgs;
    const NAME: &'static str = "apt";
    const SUMMARY: &'static str =
        "Manage Debian packages with apt (install, upgrade, remove, .deb files)";
    const EXAMPLES: &'static str = "- apt:\n    name: [radvd, isc-dhcp-server]\n    state: present\n    update_cache: true\n    cache_valid_time: 3600\n- apt:\n    name: vim\n    state: latest\n- apt:\n    name: nano\n    state: absent\n    purge: true\n- apt:\n    deb: /tmp/tool_1.0_amd64.deb\n";

    fn check(args: &AptArgs) -> Result<(), ArgsError> {
        if args.deb.is_some() && !args.name.0.is_empty() {
            return Err(ArgsError::new(
                Some("deb"),
                "module `apt` takes `name` or `deb`, not both",
            )
            .with_hint("use two tasks"));
        }
        crate::package::check_package_names(&args.name.0, "apt-get")?;
        for option in args.dpkg_options.split(',') {
            if option.trim().is_empty() || option.chars().any(char::is_whitespace) {
                return Err(ArgsError::new(
                    Some("dpkg_options"),
                    format!("`{}` is not a list of dpkg options", args.dpkg_options),
                )
                .with_hint(
                    "write them without dashes, comma separated: `force-confdef,force-confold`",
                ));
            }
        }
        if let Some(deb) = &args.deb {
            if deb.contains("://") {
                return Err(ArgsError::new(
                    Some("deb"),
                    format!("`deb: {deb}`: installing a .deb from a URL is not built in converge"),
                )
                .with_hint(
                    "download it first with `get_url` or `copy`, then give its path on the host",
                ));
            }
        }
        if args.state == AptState::BuildDep {
            return Err(ArgsError::new(
                Some("state"),
                "`state: build-dep` is not built in converge",
            )
            .with_hint("run `apt-get build-dep -y NAME` with the `command` module"));
        }
        if args.name.0.is_empty()
            && args.deb.is_none()
            && !args.update_cache.0
            && args.cache_valid_time.is_none()
            && !args.autoremove.0
        {
            return Err(ArgsError::new(
                Some("name"),
                "module `apt` needs `name`, `deb`, `update_cache` or `autoremove`",
            ));
        }
        Ok(())
    }

    fn plan(args: AptArgs, host: &mut dyn Host, context: &Context) -> Result<Plan, ModuleError> {
        require_apt(context)?;
        let mut plan = Plan::unchanged();
        let nothing_else = args.name.0.is_empty() && args.deb.is_none();

        // The cache: Ansible's cache_updated / cache_update_time.
        let mut cache_updated = false;
        let mut cache_update_time = 0;
        if args.update_cache.0 || args.cache_valid_time.is_some() {
            let (now, mtime) = cache_time(host)?;
            let valid = args.cache_valid_time.unwrap_or(0);
            if valid > 0 && mtime + valid >= now {
                cache_update_time = mtime;
            } else {
                cache_updated = true;
                cache_update_time = now;
                let update = step(apt_env(Command::argv(["apt-get", "update", "-q"])));
                if nothing_else && !args.autoremove.0 {
                    plan.push(
                        Change::note("apt cache", "refresh the package lists (`apt-get update`)"),
                        [update],
                    );
                } else {
                    // Ansible: with packages to manage, only the packages decide `changed`.
                    plan.always.push(update);
                }
            }
        }
        plan.result
            .insert("cache_updated".into(), json!(cache_updated));
        plan.result
            .insert("cache_update_time".into(), json!(cache_update_time));

        if let Some(deb) = &args.deb {
            plan_deb(&args, deb, host, &mut plan)?;
        } else if !args.name.0.is_empty() {
            plan_names(&args, host, &mut plan, cache_updated)?;
        } else if args.autoremove.0 {
            plan_autoremove(&args, host, &mut plan)?;
        }
        Ok(plan)
    }
}

fn require_apt(context: &Context) -> Result<(), ModuleError> {
    let facts = context.facts;
    if facts.pkg_mgr == "apt" {
        return Ok(());
    }
    if facts.os_family == "Slackware" || facts.pkg_mgr == "slackpkg" {
        return Err(ModuleError::Failed {
            message: "apt is Debian's; on Slackware use `slackbuild` or `package`".into(),
            hint: Some("`package` drives slackpkg and pkgtools on Slackware hosts".into()),
        });
    }
    let found = if facts.pkg_mgr.is_empty() {
        "facts say no package manager".to_string()
    } else {
        format!("this host's package manager is `{}`", facts.pkg_mgr)
    };
    Err(ModuleError::Failed {
        message: format!("apt is Debian's; {found}"),
        hint: Some("use the `package` module, which follows the host's package manager".into()),
    })
}

fn cache_time(host: &mut dyn Host) -> Result<(u64, u64), ModuleError> {
    let output = host.run(&Command::shell(CACHE_TIME_SCRIPT))?;
    let numbers: Vec<u64> = output
        .stdout_text()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect();
    match numbers.as_slice() {
        [now, mtime, ..] => Ok((*now, *mtime)),
        _ => Err(ModuleError::failed(format!(
            "cannot read the time of the apt cache: {}",
            output.stderr_text().trim()
        ))),
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

/// `-o Dpkg::Options::=--force-confdef -o …` for `dpkg_options`.
fn dpkg_option_args(options: &str) -> Vec<String> {
    options
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .flat_map(|o| ["-o".to_string(), format!("Dpkg::Options::=--{o}")])
        .collect()
}

/// `apt-get -y -q [dpkg options] [flags] install ITEMS…`, as Ansible builds it.
pub fn install_argv(args: &AptArgs, items: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = vec!["apt-get".into(), "-y".into(), "-q".into()];
    argv.extend(dpkg_option_args(&args.dpkg_options));
    if let Some(release) = &args.default_release {
        argv.extend(["-t".to_string(), release.clone()]);
    }
    if args.state == AptState::Fixed {
        argv.push("--fix-broken".into());
    }
    if args.force.0 {
        argv.extend(
            [
                "--allow-unauthenticated",
                "--allow-downgrades",
                "--allow-remove-essential",
                "--allow-change-held-packages",
            ]
            .map(String::from),
        );
    } else {
        if args.allow_unauthenticated.0 {
            argv.push("--allow-unauthenticated".into());
        }
        if args.allow_downgrade.0 {
            argv.push("--allow-downgrades".into());
        }
    }
    if args.autoremove.0 {
        argv.push("--auto-remove".into());
    }
    match args.install_recommends {
        Some(Flag(false)) => argv.push("--no-install-recommends".into()),
        Some(Flag(true)) => argv.extend(["-o".to_string(), "APT::Install-Recommends=yes".into()]),
        None => {}
    }
    argv.push("install".into());
    argv.extend(items.iter().cloned());
    argv
}

/// `apt-get -y -q [dpkg options] [--purge] [--auto-remove] remove NAMES…`.
pub fn remove_argv(args: &AptArgs, names: &[String]) -> Vec<String> {
    let mut argv: Vec<String> = vec!["apt-get".into(), "-y".into(), "-q".into()];
    argv.extend(dpkg_option_args(&args.dpkg_options));
    if args.purge.0 {
        argv.push("--purge".into());
    }
    if args.autoremove.0 {
        argv.push("--auto-remove".into());
    }
    if args.force.0 {
        argv.push("--allow-remove-essential".into());
    }
    argv.push("remove".into());
    argv.extend(names.iter().cloned());
    argv
}

fn query_dpkg(host: &mut dyn Host, names: &[String]) -> Result<Vec<DpkgPackage>, ModuleError> {
    let mut argv = vec![
        "dpkg-query".to_string(),
        "-W".into(),
        "-f".into(),
        dpkg::QUERY_FORMAT.into(),
    ];
    argv.extend(names.iter().cloned());
    let output = host.run(&apt_env(Command::argv(argv)))?;
    // dpkg-query exits 1 when some names are unknown to dpkg: that only means "not installed".
    if output.status > 1 {
        return Err(ModuleError::Failed {
            message: format!(
                "`dpkg-query` exited with {}: {}",
                output.status,
                output.stderr_text().trim()
            ),
            hint: Some("is dpkg working on this host? try `dpkg --audit`".into()),
        });
    }
    Ok(dpkg::parse_query(&output.stdout_text()))
}

fn plan_names(
    args: &AptArgs,
    host: &mut dyn Host,
    plan: &mut Plan,
    updating: bool,
) -> Result<(), ModuleError> {
    let wanted: Vec<Wanted> = args.name.0.iter().map(|spec| parse_wanted(spec)).collect();
    if args.state == AptState::Latest {
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
    let queries: Vec<String> = wanted.iter().map(|w| w.query.clone()).collect();
    let known = query_dpkg(host, &queries)?;
    let entry = |w: &Wanted| known.iter().find(|p| p.name == w.name);
    let installed_version = |w: &Wanted| {
        entry(w)
            .filter(|p| p.is_installed())
            .map(|p| p.version.clone())
    };
    let version_matches = |w: &Wanted, version: &str| {
        w.version
            .as_deref()
            .is_none_or(|pattern| crate::setup::glob_match(pattern, version))
    };

    if args.state == AptState::Absent {
        let mut remove = Vec::new();
        for w in &wanted {
            match entry(w) {
                Some(p) if p.is_installed() && version_matches(w, &p.version) => {
                    plan.changes
                        .push(Change::value(w.name.clone(), Some(p.version.clone()), None));
                    remove.push(w.query.clone());
                }
                Some(p) if args.purge.0 && p.has_config_files_only() => {
                    plan.changes.push(Change::value(
                        w.name.clone(),
                        Some(format!("{} (configuration files)", p.version)),
                        None,
                    ));
                    remove.push(w.query.clone());
                }
                _ => {}
            }
        }
        if !remove.is_empty() {
            plan.steps
                .push(step(apt_env(Command::argv(remove_argv(args, &remove)))));
        }
        return Ok(());
    }

    // Names to look up in the apt cache: missing or mis-versioned ones, all for `latest`.
    let candidates: Vec<&Wanted> = wanted
        .iter()
        .filter(|w| {
            args.state == AptState::Latest
                || installed_version(w).is_none_or(|v| !version_matches(w, &v))
        })
        .collect();
    if candidates.is_empty() {
        return Ok(());
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
        let after = match (&w.version, candidate) {
            (Some(pattern), _) => pattern.clone(),
            (None, Some(candidate)) => candidate,
            (None, None) if updating => {
                plan.warnings.push(format!(
                    "package `{}` is not in the apt cache yet; assuming `apt-get update` brings it",
                    w.name
                ));
                "present".into()
            }
            (None, None) => {
                return Err(ModuleError::Failed {
                    message: format!("no package matching `{}` is available", w.name),
                    hint: Some(
                        "check the name (`apt-cache search`), or add `update_cache: true`".into(),
                    ),
                })
            }
        };
        if before.as_deref() == Some(after.as_str()) {
            continue;
        }
        plan.changes
            .push(Change::value(w.name.clone(), before, Some(after)));
        install.push(w.spec.clone());
    }
    if !install.is_empty() {
        plan.steps
            .push(step(apt_env(Command::argv(install_argv(args, &install)))));
    }
    Ok(())
}

fn plan_deb(
    args: &AptArgs,
    deb: &str,
    host: &mut dyn Host,
    plan: &mut Plan,
) -> Result<(), ModuleError> {
    let output = host.run(&apt_env(Command::argv(["dpkg-deb", "-f", deb])))?;
    if !output.success() {
        return Err(ModuleError::Failed {
            message: format!(
                "cannot read the package `{deb}`: {}",
                output.stderr_text().trim()
            ),
            hint: Some("`deb` is a path on the host; copy the file there first".into()),
        });
    }
    let control = output.stdout_text();
    let (Some(name), Some(version)) = (
        dpkg::control_field(&control, "Package"),
        dpkg::control_field(&control, "Version"),
    ) else {
        return Err(ModuleError::failed(format!(
            "`{deb}` has no Package or Version field: is it a .deb file?"
        )));
    };
    let known = query_dpkg(host, &[name.to_string()])?;
    let before = known
        .iter()
        .find(|p| p.name == name && p.is_installed())
        .map(|p| p.version.clone());
    if before.as_deref() == Some(version) && !args.force.0 {
        return Ok(());
    }
    // apt-get takes a file only when the argument looks like a path.
    let path = if deb.contains('/') {
        deb.to_string()
    } else {
        format!("./{deb}")
    };
    plan.changes
        .push(Change::value(name, before, Some(version.to_string())));
    plan.steps
        .push(step(apt_env(Command::argv(install_argv(args, &[path])))));
    Ok(())
}

/// Package names and versions `apt-get -s` would remove (`Remv NAME [VERSION]` lines).
pub fn parse_simulated_removals(text: &str) -> Vec<(String, Option<String>)> {
    text.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("Remv ")?;
            let mut words = rest.split_whitespace();
            let name = words.next()?.to_string();
            let version = words
                .next()
                .and_then(|v| v.strip_prefix('['))
                .and_then(|v| v.strip_suffix(']'))
                .map(str::to_string);
            Some((name, version))
        })
        .collect()
}

fn plan_autoremove(
    args: &AptArgs,
    host: &mut dyn Host,
    plan: &mut Plan,
) -> Result<(), ModuleError> {
    let mut simulate = vec!["apt-get".to_string(), "-s".into(), "-q".into()];
    if args.purge.0 {
        simulate.push("--purge".into());
    }
    simulate.push("autoremove".into());
    let output = host.run(&apt_env(Command::argv(simulate)))?;
    if !output.success() {
        return Err(ModuleError::failed(format!(
            "`apt-get -s autoremove` failed: {}",
            output.stderr_text().trim()
        )));
    }
    let removals = parse_simulated_removals(&output.stdout_text());
    if removals.is_empty() {
        return Ok(());
    }
    for (name, version) in removals {
        plan.changes.push(Change::value(name, version, None));
    }
    let mut argv = vec!["apt-get".to_string(), "-y".into(), "-q".into()];
    argv.extend(dpkg_option_args(&args.dpkg_options));
    if args.purge.0 {
        argv.push("--purge".into());
    }
    argv.push("autoremove".into());
    plan.steps.push(step(apt_env(Command::argv(argv))));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulated_autoremove_lines() {
        let text =
            "Reading package lists...\nRemv libfoo1 [1.2-3]\nRemv bar [2:0.1] [oldlib ]\nConf x\n";
        assert_eq!(
            parse_simulated_removals(text),
            [
                ("libfoo1".to_string(), Some("1.2-3".to_string())),
                ("bar".to_string(), Some("2:0.1".to_string()))
            ]
        );
    }
}
