//! `package_facts`: the installed packages, as `ansible_facts.packages`.
//!
//! Read-only; never changes the host. `ansible_facts.packages` maps each package name to a
//! list of installed instances (several for multi-arch), in Ansible's shape:
//! - `apt` (Debian, from `/var/lib/dpkg/status`): `{name, version, arch, category, source: apt}`
//!   (`category` is dpkg's `Section`; Ansible's `origin`, which needs python-apt's cache, is
//!   not given);
//! - `pkgtools` (Slackware, from the entry names in `/var/lib/pkgtools/packages`, else
//!   `/var/log/packages`, `NAME-VERSION-ARCH-BUILD`): `{name, version, arch, release: BUILD,
//!   source: pkgtools}`.
//!
//! `rpm` and the other managers are not built.
//!
//! ```yaml
//! - package_facts:
//! - debug:
//!     msg: "vim {{ ansible_facts.packages['vim'][0].version }}"
//!   when: "'vim' in ansible_facts.packages"
//! ```

use crate::args::StringList;
use crate::dpkg;
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::package::slackware_package_name;
use crate::plan::Plan;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// Whether to stop at the first manager that works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// The first manager in `manager` that this host has.
    #[default]
    First,
    /// Every manager in `manager` that this host has.
    All,
}

fn default_manager() -> StringList {
    StringList(vec!["auto".into()])
}

/// Arguments of `package_facts`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageFactsArgs {
    /// `auto` (from the `pkg_mgr` fact), `apt` (or `dpkg`), `pkgtools`; `rpm` is not built.
    #[serde(default = "default_manager")]
    pub manager: StringList,
    /// `first` or `all` of the managers listed.
    #[serde(default)]
    pub strategy: Strategy,
}

/// The managers converge can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Manager {
    Apt,
    Pkgtools,
}

/// The `package_facts` module.
pub struct PackageFacts;

impl TypedModule for PackageFacts {
    type Args = PackageFactsArgs;
    const NAME: &'static str = "package_facts";
    const SUMMARY: &'static str =
        "List installed packages as `ansible_facts.packages` (dpkg, Slackware pkgtools)";
    const EXAMPLES: &'static str = "- package_facts:\n- package_facts:\n    manager: apt\n";

    fn check(args: &PackageFactsArgs) -> Result<(), ArgsError> {
        for manager in &args.manager.0 {
            match manager.as_str() {
                "auto" | "apt" | "dpkg" | "pkgtools" => {}
                "rpm" | "yum" | "dnf" | "portage" | "pkg" | "pacman" | "apk" | "pkg5" | "pkgng"
                | "zypper" => {
                    return Err(ArgsError::new(
                        Some("manager"),
                        format!("`manager: {manager}` is not built in converge"),
                    )
                    .with_hint("converge reads `apt` (dpkg) and `pkgtools` (Slackware)"))
                }
                other => {
                    return Err(ArgsError::new(
                        Some("manager"),
                        format!("`{other}` is not a package manager `package_facts` knows"),
                    )
                    .with_hint("use `auto`, `apt` or `pkgtools`"))
                }
            }
        }
        Ok(())
    }

    fn plan(
        args: PackageFactsArgs,
        host: &mut dyn Host,
        context: &Context,
    ) -> Result<Plan, ModuleError> {
        let mut managers = Vec::new();
        for name in &args.manager.0 {
            let manager = match name.as_str() {
                "apt" | "dpkg" => Manager::Apt,
                "pkgtools" => Manager::Pkgtools,
                _ => match (
                    context.facts.pkg_mgr.as_str(),
                    context.facts.os_family.as_str(),
                ) {
                    ("apt", _) | (_, "Debian") => Manager::Apt,
                    ("slackpkg" | "pkgtools", _) | (_, "Slackware") => Manager::Pkgtools,
                    (pkg_mgr, family) => {
                        return Err(ModuleError::Failed {
                            message: format!(
                                "`package_facts` cannot read this host's packages (pkg_mgr `{pkg_mgr}`, os_family `{family}`)"
                            ),
                            hint: Some(
                                "converge reads `apt` (dpkg) and `pkgtools` (Slackware); rpm is not built"
                                    .into(),
                            ),
                        })
                    }
                },
            };
            if !managers.contains(&manager) {
                managers.push(manager);
            }
        }
        let mut packages = Map::new();
        let mut found_any = false;
        let mut errors = Vec::new();
        for manager in managers {
            let read = match manager {
                Manager::Apt => read_dpkg(host),
                Manager::Pkgtools => read_pkgtools(host),
            };
            match read {
                Ok(found) => {
                    found_any = true;
                    for (name, entry) in found {
                        packages
                            .entry(name)
                            .or_insert_with(|| Value::Array(Vec::new()))
                            .as_array_mut()
                            .expect("an array")
                            .push(entry);
                    }
                    if args.strategy == Strategy::First {
                        break;
                    }
                }
                Err(message) => errors.push(message),
            }
        }
        if !found_any {
            return Err(ModuleError::Failed {
                message: format!(
                    "could not read the installed packages: {}",
                    errors.join("; ")
                ),
                hint: Some("choose the host's manager with `manager:`".into()),
            });
        }
        let mut plan = Plan::unchanged();
        plan.result.insert(
            "ansible_facts".into(),
            json!({ "packages": Value::Object(packages) }),
        );
        Ok(plan)
    }
}

fn read_dpkg(host: &mut dyn Host) -> Result<Vec<(String, Value)>, String> {
    let output = host
        .run(&Command::argv(["cat", "/var/lib/dpkg/status"]))
        .map_err(|e| e.to_string())?;
    if !output.success() {
        return Err(format!(
            "cannot read /var/lib/dpkg/status: {}",
            output.stderr_text().trim()
        ));
    }
    Ok(dpkg_packages(&output.stdout_text()))
}

/// Installed packages of a dpkg status file, as Ansible's `apt` manager lists them.
pub fn dpkg_packages(status: &str) -> Vec<(String, Value)> {
    dpkg::parse_status(status)
        .into_iter()
        .filter(|p| p.is_installed())
        .map(|p| {
            (
                p.name.clone(),
                json!({
                    "name": p.name,
                    "version": p.version,
                    "arch": p.arch,
                    "category": p.section,
                    "source": "apt",
                }),
            )
        })
        .collect()
}

fn read_pkgtools(host: &mut dyn Host) -> Result<Vec<(String, Value)>, String> {
    let output = host
        .run(&Command::shell(
            "ls -1 /var/lib/pkgtools/packages 2>/dev/null || ls -1 /var/log/packages",
        ))
        .map_err(|e| e.to_string())?;
    if !output.success() {
        return Err(format!(
            "cannot list /var/lib/pkgtools/packages or /var/log/packages: {}",
            output.stderr_text().trim()
        ));
    }
    Ok(pkgtools_packages(&output.stdout_text()))
}

/// Packages from Slackware's package database entry names (`openssh-9.3p2-x86_64-1_slack15.0`).
pub fn pkgtools_packages(listing: &str) -> Vec<(String, Value)> {
    listing
        .lines()
        .filter_map(|line| {
            let entry = line.trim();
            let (name, tail) = slackware_package_name(entry)?;
            let mut fields = tail.splitn(3, '-');
            let version = fields.next()?;
            let arch = fields.next()?;
            let build = fields.next()?;
            Some((
                name.to_string(),
                json!({
                    "name": name,
                    "version": version,
                    "arch": arch,
                    "release": build,
                    "source": "pkgtools",
                }),
            ))
        })
        .collect()
}
