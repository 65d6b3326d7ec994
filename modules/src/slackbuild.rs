//! `slackbuild`: build and install SlackBuilds.org packages, dependencies first.
//!
//! State converged: each package in `name` is installed (`present`: any version, or the pinned
//! `version`; `latest`: the version its `.info` file names) or not installed (`absent`). With
//! `resolve_deps` (the default) every package its `REQUIRES` names, recursively, is built
//! first when it is not installed; each package once, dependencies before dependents in
//! `REQUIRES` order; a dependency cycle is an error that names it; `%README%` in `REQUIRES`
//! becomes a warning to read that README.
//!
//! Reads, in one round trip: the `.info` files of the whole dependency closure (a shell loop
//! on the host walks `REQUIRES` in the tree `repo`, `category/NAME/NAME.info`) and the package
//! database `/var/log/packages` (entries `NAME-VERSION-ARCH-BUILD`; on 15.0 a symlink to
//! `/var/lib/pkgtools/packages`). With `repo_src` the tree is read on the controller instead
//! and the directories to build are uploaded into `repo` (one file write each, the
//! `.SlackBuild` with mode 0755). Sources come from the `.info` URLs (`DOWNLOAD_x86_64` on
//! x86_64 when set; wget, else curl, on the host) or, with `sources`, from a controller
//! directory (`sources/NAME/FILE` or `sources/FILE`) for hosts without internet.
//!
//! Planning also checks every source of the queue before anything is built, in check mode
//! too: a file in `sources` (controller) is checked against `MD5SUM`; on the host, one more
//! round trip sums the copies already next to the SlackBuild and asks each URL still to be
//! downloaded whether it answers (`wget --spider`, else `curl -I`), so a dead URL or a wrong
//! MD5 is reported before the first build starts.
//!
//! Apply: first the sources of every queued package are fetched and checked against
//! `MD5SUM` (a mismatch stops the run before anything is built), then each SlackBuild runs from
//! its own directory with the `env` variables, `OUTPUT` and `TMP` in a private `mktemp -d`
//! directory that is removed afterwards; its package is moved into `package_dir` (kept: the
//! package database's `PACKAGE LOCATION` names it, and it can be reinstalled) and installed
//! from there with `upgradepkg --install-new`. Config files the package left as `FILE.new`
//! beside a changed `FILE` (its `doinst.sh` does that) are reported as warnings, to merge by
//! hand. `absent` runs `removepkg`. Check mode shows the build queue, one note per package in
//! build order (where its sources come from: the controller, a checked copy on the host, or a
//! download), and downloads nothing.
//!
//! Idempotence: a package installed at the wanted version is left alone, so after a run the
//! next plan has no change.
//!
//! ```yaml
//! - slackbuild:
//!     name: fcitx-mozc
//!     repo: /usr/sbo/repo
//!     env:
//!       MAKEFLAGS: -j4
//! ```

mod deps;
mod info;
mod pkgdb;

pub use deps::{build_order, BuildOrder, DependencyCycle, MissingDependency};
pub use info::{parse_info, source_file_name, Info, InfoError, Source, Sources, INFO_KEYS};
pub use pkgdb::{parse_package_entry, parse_package_list, InstalledPackage};

use crate::args::{Flag, StringList};
use crate::host::{quote, Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use crate::{FileAttributes, WriteOptions};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The installed-package database every pkgtools version can be read through.
pub const PACKAGE_DB: &str = "/var/log/packages";

/// `present` (default): installed, any version or the pinned `version`; `latest`: installed at
/// the version of the `.info` file; `absent`: removed with `removepkg`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SlackbuildState {
    /// Installed: any version, or `version` when given. Missing dependencies are built too.
    #[default]
    #[serde(alias = "installed")]
    Present,
    /// Installed at the version the `.info` file names: a different installed version is
    /// rebuilt (dependencies only need to be installed).
    Latest,
    /// Not installed (`removepkg`); dependencies are left alone.
    #[serde(alias = "removed")]
    Absent,
}

/// Environment of every build, e.g. `BUILD`, `TAG`, `JOBS`, `MAKEFLAGS` and script options
/// (values: strings, numbers or booleans). `OUTPUT` and `TMP` are the module's.
#[derive(Debug, Clone, Default, PartialEq, Eq, JsonSchema)]
#[schemars(with = "BTreeMap<String, String>")]
pub struct BuildEnv(pub BTreeMap<String, String>);

impl<'de> Deserialize<'de> for BuildEnv {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, Value>::deserialize(deserializer)?;
        let mut env = BTreeMap::new();
        for (key, value) in raw {
            let text = match value {
                Value::String(text) => text,
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                _ => {
                    return Err(serde::de::Error::custom(format!(
                        "the value of `{key}` must be a string or a number"
                    )))
                }
            };
            env.insert(key, text);
        }
        Ok(BuildEnv(env))
    }
}

/// Arguments of `slackbuild`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlackbuildArgs {
    /// SlackBuild names (`PRGNAM`, e.g. `fcitx-mozc`): one, a list, or one string with commas.
    #[serde(alias = "pkg")]
    pub name: StringList,
    /// The SlackBuilds tree on the host (`category/NAME/` directories, as in a SlackBuilds.org
    /// checkout). With `repo_src`, the directories to build are uploaded here.
    #[serde(default = "default_repo")]
    pub repo: String,
    /// A SlackBuilds tree on the controller (absolute path): read there, and the directories
    /// of the packages to build are uploaded into `repo` on the host.
    pub repo_src: Option<String>,
    /// A directory on the controller (absolute path) holding the source files, as
    /// `sources/NAME/FILE` or `sources/FILE`; they are uploaded next to the SlackBuild instead
    /// of downloaded (for hosts without internet).
    pub sources: Option<String>,
    /// Pin the version of the package in `name` (one name only): installed at another version
    /// means rebuild, and the tree's `.info` must have this version.
    pub version: Option<String>,
    /// `present` (`installed`), `latest` or `absent` (`removed`).
    #[serde(default)]
    pub state: SlackbuildState,
    /// Environment of every build: `BUILD`, `TAG`, `JOBS`, `MAKEFLAGS`, script options.
    /// `OUTPUT` and `TMP` are set by the module.
    #[serde(default)]
    pub env: BuildEnv,
    /// Build the packages `REQUIRES` names (recursively) that are not installed, first.
    #[serde(default = "yes")]
    pub resolve_deps: Flag,
    /// The host's architecture for choosing `DOWNLOAD_x86_64`; default the `architecture`
    /// fact (`uname -m`).
    pub arch: Option<String>,
    /// Where the built packages are kept on the host (created when missing).
    #[serde(default = "default_package_dir")]
    pub package_dir: String,
}

fn default_repo() -> String {
    "/usr/sbo/repo".into()
}

/// The default of `package_dir`.
pub const DEFAULT_PACKAGE_DIR: &str = "/var/cache/converge/slackbuild";

fn default_package_dir() -> String {
    DEFAULT_PACKAGE_DIR.into()
}

fn yes() -> Flag {
    Flag(true)
}

/// The `slackbuild` module.
pub struct Slackbuild;

impl TypedModule for Slackbuild {
    type Args = SlackbuildArgs;
    const NAME: &'static str = "slackbuild";
    const SUMMARY: &'static str = "Build and install SlackBuilds.org packages, dependencies first";
    const EXAMPLES: &'static str = "- slackbuild:\n    name: fcitx-mozc\n    repo: /usr/sbo/repo\n    env:\n      MAKEFLAGS: -j4\n\n- slackbuild:\n    name: hello-converge\n    repo: /var/lib/converge/slackbuilds\n    repo_src: /srv/playbooks/slackbuilds\n    sources: /srv/playbooks/sources\n    state: latest\n\n- slackbuild:\n    name: fcitx-mozc\n    state: absent\n";

    fn check(args: &SlackbuildArgs) -> Result<(), ArgsError> {
        if args.name.0.is_empty() {
            return Err(ArgsError::new(
                Some("name"),
                "module `slackbuild` needs `name`",
            ));
        }
        for name in &args.name.0 {
            if !valid_name(name) {
                return Err(ArgsError::new(
                    Some("name"),
                    format!("`{name}` is not a SlackBuild name"),
                )
                .with_hint(
                    "use the PRGNAM of the .info file: letters, digits, `.`, `_`, `+`, `-`",
                ));
            }
        }
        if args.version.is_some() && args.state == SlackbuildState::Latest {
            return Err(ArgsError::new(
                Some("version"),
                "`version` pins a version, which `state: latest` cannot honour",
            )
            .with_hint("use `state: present` with `version`, or drop `version`"));
        }
        if args.version.is_some() && args.name.0.len() > 1 {
            return Err(ArgsError::new(
                Some("version"),
                "`version` pins one package, but `name` lists several",
            )
            .with_hint("use one task per pinned package"));
        }
        if let Some(version) = &args.version {
            if version.is_empty()
                || version.contains(['-', '/'])
                || version.contains(char::is_whitespace)
            {
                return Err(ArgsError::new(
                    Some("version"),
                    format!("`{version}` is not a package version (no dashes or spaces)"),
                ));
            }
        }
        for key in args.env.0.keys() {
            let identifier = key
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !identifier {
                return Err(ArgsError::new(
                    Some("env"),
                    format!("`{key}` in `env` is not an environment variable name"),
                ));
            }
            if key == "OUTPUT" || key == "TMP" {
                return Err(ArgsError::new(
                    Some("env"),
                    format!(
                        "`{key}` is set by module `slackbuild` to a private temporary directory"
                    ),
                )
                .with_hint(format!("remove `{key}` from `env`")));
            }
        }
        for (argument, path) in [("repo_src", &args.repo_src), ("sources", &args.sources)] {
            if path.as_ref().is_some_and(|p| !p.starts_with('/')) {
                return Err(ArgsError::new(
                    Some(argument),
                    format!("`{argument}` must be an absolute path on the controller"),
                )
                .with_hint("e.g. `{{ playbook_dir }}/slackbuilds`"));
            }
        }
        for (argument, path) in [("repo", &args.repo), ("package_dir", &args.package_dir)] {
            if !path.starts_with('/') {
                return Err(ArgsError::new(
                    Some(argument),
                    format!("`{argument}` must be an absolute path on the host"),
                ));
            }
        }
        Ok(())
    }

    fn plan(
        args: SlackbuildArgs,
        host: &mut dyn Host,
        context: &Context,
    ) -> Result<Plan, ModuleError> {
        let arch = args
            .arch
            .clone()
            .or_else(|| Some(context.facts.architecture.clone()).filter(|a| !a.is_empty()));
        let mut plan = match args.state {
            SlackbuildState::Absent => plan_absent(&args, host)?,
            _ => plan_build(&args, host, arch.as_deref())?,
        };
        plan.result.insert("packages".into(), json!(args.name.0));
        Ok(plan)
    }
}

/// A PRGNAM as SlackBuilds.org spells them; also what is safe in a shell word and a path.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['-', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
}

fn failed(message: impl Into<String>, hint: impl Into<String>) -> ModuleError {
    ModuleError::Failed {
        message: message.into(),
        hint: Some(hint.into()),
    }
}

fn run_step(script: String) -> Step {
    Step::Run {
        command: Command::shell(script),
        allow_failure: false,
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the host

/// What the read script found.
#[derive(Debug, Default)]
struct HostRead {
    repo_found: bool,
    /// (NAME, `category/NAME`, text of NAME.info)
    infos: Vec<(String, String, String)>,
    installed: Vec<InstalledPackage>,
    has_upgradepkg: bool,
}

/// One script: walk `REQUIRES` from `names` in the host's tree (when `repo` is given), print
/// each `.info` found, then list the package database.
fn read_script(repo: Option<&str>, names: &[String], resolve_deps: bool) -> String {
    let mut script = String::from("set -f\n");
    if let Some(repo) = repo {
        let queue: Vec<&str> = names.iter().map(String::as_str).collect();
        let follow = if resolve_deps {
            "    queue=\"$queue $(sed -n 's/^REQUIRES=\"\\([^\"]*\\)\".*/\\1/p' \"$found\")\"\n"
        } else {
            ""
        };
        script.push_str(&format!(
            "repo={repo}\n\
             if [ -d \"$repo\" ]; then echo '@@converge-repo yes'; else echo '@@converge-repo no'; fi\n\
             seen=' '\n\
             queue={queue}\n\
             while [ -d \"$repo\" ]; do\n\
             \x20 set -- $queue\n\
             \x20 [ $# -gt 0 ] || break\n\
             \x20 n=$1; shift; queue=\"$*\"\n\
             \x20 case $n in ''|-*|.*|*[!A-Za-z0-9._+-]*) continue;; esac\n\
             \x20 case $seen in *\" $n \"*) continue;; esac\n\
             \x20 seen=\"$seen$n \"\n\
             \x20 found=\n\
             \x20 set +f\n\
             \x20 for f in \"$repo\"/*/\"$n\"/\"$n\".info; do [ -f \"$f\" ] && {{ found=$f; break; }}; done\n\
             \x20 set -f\n\
             \x20 if [ -n \"$found\" ]; then\n\
             \x20   d=${{found%/*}}; c=${{d%/*}}\n\
             \x20   echo \"@@converge-info $n ${{c##*/}}/$n\"\n\
             \x20   cat \"$found\"; echo\n\
             {follow}\
             \x20 fi\n\
             done\n",
            repo = quote(repo),
            queue = quote(&queue.join(" ")),
        ));
    }
    script.push_str(&format!(
        "echo \"@@converge-upgradepkg $(command -v upgradepkg || true)\"\n\
         echo '@@converge-packages'\n\
         ls -1 {PACKAGE_DB}/ 2>/dev/null || true\n"
    ));
    script
}

fn parse_read(text: &str) -> HostRead {
    let mut read = HostRead::default();
    let mut section: Option<usize> = None;
    let mut in_packages = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        if let Some(marker) = bare.strip_prefix("@@converge-") {
            section = None;
            in_packages = false;
            let (key, rest) = marker.split_once(' ').unwrap_or((marker, ""));
            match key {
                "repo" => read.repo_found = rest == "yes",
                "info" => {
                    if let Some((name, dir)) = rest.split_once(' ') {
                        read.infos
                            .push((name.to_string(), dir.to_string(), String::new()));
                        section = Some(read.infos.len() - 1);
                    }
                }
                "upgradepkg" => read.has_upgradepkg = !rest.trim().is_empty(),
                "packages" => in_packages = true,
                _ => {}
            }
            continue;
        }
        if let Some(index) = section {
            read.infos[index].2.push_str(line);
        } else if in_packages {
            if let Some(package) = parse_package_entry(bare) {
                read.installed.push(package);
            }
        }
    }
    read
}

/// A SlackBuilds tree on the controller.
struct ControllerTree {
    root: PathBuf,
    /// NAME → `category/NAME`
    index: BTreeMap<String, String>,
}

impl ControllerTree {
    fn open(root: &str) -> Result<ControllerTree, ModuleError> {
        let root = PathBuf::from(root);
        let categories = std::fs::read_dir(&root).map_err(|error| {
            failed(
                format!(
                    "cannot read `repo_src` `{}` on the controller: {error}",
                    root.display()
                ),
                "give the directory that holds the category directories (`misc/`, `network/`…)",
            )
        })?;
        let mut index = BTreeMap::new();
        let mut category_names: Vec<String> = categories
            .filter_map(Result::ok)
            .filter(|entry| entry.path().is_dir())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| !name.starts_with('.'))
            .collect();
        category_names.sort();
        for category in category_names {
            let Ok(entries) = std::fs::read_dir(root.join(&category)) else {
                continue;
            };
            for entry in entries.filter_map(Result::ok) {
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().join(format!("{name}.info")).is_file() {
                    index
                        .entry(name.clone())
                        .or_insert_with(|| format!("{category}/{name}"));
                }
            }
        }
        Ok(ControllerTree { root, index })
    }

    /// The `.info` texts of `names` and, with `follow`, of everything they require.
    fn closure(
        &self,
        names: &[String],
        follow: bool,
    ) -> Result<Vec<(String, String, String)>, ModuleError> {
        let mut queue: Vec<String> = names.to_vec();
        queue.reverse();
        let mut found = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        while let Some(name) = queue.pop() {
            if seen.contains(&name) || !valid_name(&name) {
                continue;
            }
            seen.push(name.clone());
            let Some(dir) = self.index.get(&name) else {
                continue;
            };
            let path = self.root.join(dir).join(format!("{name}.info"));
            let bytes = std::fs::read(&path).map_err(|error| {
                ModuleError::failed(format!("cannot read `{}`: {error}", path.display()))
            })?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if follow {
                if let Ok(info) = parse_info(&text) {
                    for dependency in info.requires.iter().rev() {
                        queue.push(dependency.clone());
                    }
                }
            }
            found.push((name, dir.clone(), text));
        }
        Ok(found)
    }

    /// Every regular file below `category/NAME`, relative to it, with its mode.
    fn package_files(&self, dir: &str) -> Result<Vec<(String, Vec<u8>, u32)>, ModuleError> {
        let mut files = Vec::new();
        collect_files(&self.root.join(dir), "", &mut files)?;
        files.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(files)
    }
}

fn collect_files(
    dir: &Path,
    prefix: &str,
    files: &mut Vec<(String, Vec<u8>, u32)>,
) -> Result<(), ModuleError> {
    use std::os::unix::fs::PermissionsExt;
    let entries = std::fs::read_dir(dir).map_err(|error| {
        ModuleError::failed(format!(
            "cannot read `{}` on the controller: {error}",
            dir.display()
        ))
    })?;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let relative = format!("{prefix}{name}");
        if path.is_dir() {
            collect_files(&path, &format!("{relative}/"), files)?;
        } else if path.is_file() {
            let bytes = std::fs::read(&path).map_err(|error| {
                ModuleError::failed(format!("cannot read `{}`: {error}", path.display()))
            })?;
            let mode = entry
                .metadata()
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0o644);
            files.push((relative, bytes, mode));
        }
    }
    Ok(())
}

fn read_host(
    host: &mut dyn Host,
    repo: Option<&str>,
    names: &[String],
    resolve_deps: bool,
) -> Result<HostRead, ModuleError> {
    let output = host.run_read(&Command::shell(read_script(repo, names, resolve_deps)))?;
    if !output.success() {
        return Err(ModuleError::failed(format!(
            "reading the SlackBuilds tree and `{PACKAGE_DB}` failed with status {}: {}",
            output.status,
            output.stderr_text().trim()
        )));
    }
    Ok(parse_read(&output.stdout_text()))
}

// ---------------------------------------------------------------------------------------------
// Planning

fn plan_absent(args: &SlackbuildArgs, host: &mut dyn Host) -> Result<Plan, ModuleError> {
    let read = read_host(host, None, &[], false)?;
    let mut plan = Plan::unchanged();
    for name in &args.name.0 {
        for package in read.installed.iter().filter(|p| &p.name == name) {
            if args.version.as_ref().is_some_and(|v| *v != package.version) {
                continue;
            }
            plan.push(
                Change::value(name.clone(), Some(package.version.clone()), None),
                [Step::Run {
                    command: Command::argv(["removepkg", package.entry.as_str()]),
                    allow_failure: false,
                }],
            );
        }
    }
    Ok(plan)
}

/// One package that will be built.
struct Queued {
    name: String,
    dir: String,
    version: String,
    sources: Vec<Source>,
}

fn plan_build(
    args: &SlackbuildArgs,
    host: &mut dyn Host,
    arch: Option<&str>,
) -> Result<Plan, ModuleError> {
    let names = &args.name.0;
    let resolve_deps = args.resolve_deps.0;
    let tree = args
        .repo_src
        .as_deref()
        .map(ControllerTree::open)
        .transpose()?;
    let host_repo = if tree.is_some() {
        None
    } else {
        Some(args.repo.as_str())
    };
    let mut read = read_host(host, host_repo, names, resolve_deps)?;
    let tree_name = match &args.repo_src {
        Some(src) => format!("`{src}` (`repo_src`, on the controller)"),
        None => format!("`{}`", args.repo),
    };
    if let Some(tree) = &tree {
        read.infos = tree.closure(names, resolve_deps)?;
    } else if !read.repo_found {
        return Err(failed(
            format!("the SlackBuilds tree `{}` does not exist on the host", args.repo),
            "set `repo` to the tree's path (its `category/NAME/` directories), or give `repo_src` to upload one from the controller",
        ));
    }

    let mut infos: BTreeMap<String, Info> = BTreeMap::new();
    let mut dirs: BTreeMap<String, String> = BTreeMap::new();
    let mut plan = Plan::unchanged();
    for (name, dir, text) in &read.infos {
        let info = parse_info(text).map_err(|error| {
            failed(
                format!("cannot read `{dir}/{name}.info`: {error}"),
                "fix the file: every line is KEY=\"value\"",
            )
        })?;
        if info.prgnam != *name {
            plan.warnings.push(format!(
                "`{dir}/{name}.info` says PRGNAM=\"{}\"; using the directory name `{name}`",
                info.prgnam
            ));
        }
        infos.insert(name.clone(), info);
        dirs.insert(name.clone(), dir.clone());
    }

    let installed = |name: &str| read.installed.iter().find(|p| p.name == name);
    let order = if resolve_deps {
        build_order(names, &infos).map_err(|cycle| {
            failed(
                format!("{cycle} in the `REQUIRES` of the SlackBuilds tree {tree_name}"),
                "break the cycle: build one of them by hand first, or fix the REQUIRES line",
            )
        })?
    } else {
        let mut order = BuildOrder::default();
        for name in names {
            match infos.get(name) {
                Some(info) => {
                    if !order.order.contains(name) {
                        order.order.push(name.clone());
                    }
                    if info.readme {
                        order.readme.push(name.clone());
                    }
                }
                None => order.missing.push(MissingDependency {
                    name: name.clone(),
                    required_by: None,
                }),
            }
        }
        order
    };
    for missing in &order.missing {
        // A requested package that is installed needs no SlackBuild, unless it may be rebuilt.
        let settled = installed(&missing.name).is_some_and(|package| {
            args.state == SlackbuildState::Present
                && args.version.as_ref().is_none_or(|v| *v == package.version)
        });
        if missing.required_by.is_none() && !settled {
            return Err(failed(
                format!("no SlackBuild `{}` in the tree {tree_name}", missing.name),
                format!(
                    "check the name (the PRGNAM, found as `CATEGORY/{0}/{0}.info`) and `repo`",
                    missing.name
                ),
            ));
        }
    }

    let mut queue: Vec<Queued> = Vec::new();
    let mut notes: Vec<(String, String)> = Vec::new();
    for name in &order.order {
        let Some(info) = infos.get(name) else {
            continue;
        };
        let requested = names.contains(name);
        let current = installed(name);
        let pinned = if requested {
            args.version.as_deref()
        } else {
            None
        };
        let wanted = pinned.unwrap_or(&info.version);
        let reason = match (current, requested, args.state) {
            (None, _, _) => "not installed".to_string(),
            (Some(package), true, SlackbuildState::Latest) if package.version != info.version => {
                format!("installed {}", package.version)
            }
            (Some(package), true, _) if pinned.is_some_and(|v| v != package.version) => {
                format!("installed {}", package.version)
            }
            _ => continue,
        };
        if info.version != wanted {
            return Err(failed(
                format!(
                    "`version` pins `{name}` {wanted}, but the tree {tree_name} has {}",
                    info.version
                ),
                "use the SlackBuilds branch that has this version, or drop `version`",
            ));
        }
        let sources = info.sources(arch).map_err(|message| {
            failed(
                format!("cannot build `{name}`: {message}"),
                format!(
                    "fix `{}/{name}.info` in the tree, or build `{name}` by hand",
                    dirs[name]
                ),
            )
        })?;
        plan.warnings.extend(sources.warnings.clone());
        for defect in &info.defects {
            plan.warnings
                .push(format!("`{}/{name}.info`: {defect}", dirs[name]));
        }
        notes.push((name.clone(), reason));
        queue.push(Queued {
            name: name.clone(),
            dir: dirs[name].clone(),
            version: info.version.clone(),
            sources: sources.files,
        });
    }
    // A dependency missing from the tree matters only when something that needs it is built.
    for missing in &order.missing {
        let Some(parent) = &missing.required_by else {
            continue;
        };
        if installed(&missing.name).is_none() && queue.iter().any(|q| &q.name == parent) {
            return Err(failed(
                format!(
                    "`{}`, required by `{parent}`, is neither in the SlackBuilds tree {tree_name} nor installed",
                    missing.name
                ),
                format!(
                    "add `{}` to the tree or install it first, or fix the REQUIRES of `{parent}`",
                    missing.name
                ),
            ));
        }
    }
    if !resolve_deps {
        for queued in &queue {
            for dependency in &infos[&queued.name].requires {
                if installed(dependency).is_none() && !queue.iter().any(|q| &q.name == dependency) {
                    plan.warnings.push(format!(
                        "`{}` requires `{dependency}`, which is not installed (`resolve_deps` is off)",
                        queued.name
                    ));
                }
            }
        }
    }
    for name in &order.readme {
        if queue.iter().any(|q| &q.name == name) {
            plan.warnings.push(format!(
                "`{name}` lists %README% in REQUIRES: read `{}/{}/README` for optional or extra dependencies",
                args.repo.trim_end_matches('/'),
                dirs[name]
            ));
        }
    }
    if queue.is_empty() {
        return Ok(plan);
    }
    if !read.has_upgradepkg {
        return Err(failed(
            "`upgradepkg` is not on the host's PATH, so no package can be installed",
            "the slackbuild module needs Slackware's pkgtools (installpkg, upgradepkg, removepkg, makepkg)",
        ));
    }

    let repo = args.repo.trim_end_matches('/');
    // Every source, checked before anything is built (check mode included).
    let mut controller_sources: BTreeMap<(String, String), Vec<u8>> = BTreeMap::new();
    let mut origins: Vec<String> = Vec::new();
    match &args.sources {
        Some(sources_dir) => {
            for queued in &queue {
                for source in &queued.sources {
                    let bytes = controller_source(sources_dir, &queued.name, &source.file)?;
                    let found = md5_hex(&bytes);
                    if !found.eq_ignore_ascii_case(&source.md5) {
                        return Err(failed(
                            format!(
                                "{}: MD5 mismatch for {}: expected {}, found {found} (in `sources` on the controller); not building",
                                queued.name, source.file, source.md5
                            ),
                            format!(
                                "download `{}` again from {} into `{sources_dir}`",
                                source.file, source.url
                            ),
                        ));
                    }
                    controller_sources.insert((queued.name.clone(), source.file.clone()), bytes);
                }
                origins.push("sources from the controller".into());
            }
        }
        None => {
            let probe = host.run(&Command::shell(source_probe_script(repo, &queue)))?;
            let seen = parse_source_probe(&probe.stdout_text());
            for queued in &queue {
                let (mut cached, mut fetch) = (0, 0);
                for source in &queued.sources {
                    let dir = format!("{repo}/{}", queued.dir);
                    let state = seen.get(&(dir, source.file.clone()));
                    match state {
                        Some(ProbedSource::Cached(md5)) if md5.eq_ignore_ascii_case(&source.md5) => {
                            cached += 1;
                            continue;
                        }
                        Some(ProbedSource::Cached(md5)) => plan.warnings.push(format!(
                            "{}: the copy of {} on the host has MD5 {md5}, not {}: it is downloaded again",
                            queued.name, source.file, source.md5
                        )),
                        _ => {}
                    }
                    if let Some(ProbedSource::Dead(message)) =
                        seen.get(&(format!("url {}", queued.name), source.url.clone()))
                    {
                        return Err(failed(
                            format!(
                                "{}: source URL {} does not answer ({message}); not building",
                                queued.name, source.url
                            ),
                            format!(
                                "find the file elsewhere and give it with `sources` (as `NAME/{}` on the controller), or update the SlackBuild",
                                source.file
                            ),
                        ));
                    }
                    fetch += 1;
                }
                let sources = |n: usize| {
                    if n == 1 {
                        "1 source".to_string()
                    } else {
                        format!("{n} sources")
                    }
                };
                origins.push(match (cached, fetch) {
                    (0, 0) => "no sources".to_string(),
                    (c, 0) => format!("{} already on the host (MD5 checked)", sources(c)),
                    (0, n) => format!("{} to download", sources(n)),
                    (c, n) => format!("{} on the host, {n} to download", sources(c)),
                });
            }
        }
    }

    let total = queue.len();
    for (position, ((queued, (_, reason)), from)) in
        queue.iter().zip(&notes).zip(&origins).enumerate()
    {
        plan.changes.push(Change::note(
            queued.name.clone(),
            format!(
                "build {} {} ({} of {total}; {reason}; {from})",
                queued.name,
                queued.version,
                position + 1
            ),
        ));
    }
    plan.result.insert(
        "queue".into(),
        json!(queue
            .iter()
            .map(|q| format!("{}-{}", q.name, q.version))
            .collect::<Vec<_>>()),
    );
    plan.result.insert(
        "msg".into(),
        json!(format!(
            "build {}",
            queue
                .iter()
                .map(|q| format!("{} {}", q.name, q.version))
                .collect::<Vec<_>>()
                .join(" then ")
        )),
    );

    plan.result
        .insert("package_dir".into(), json!(args.package_dir));
    // Uploads first: SlackBuild directories, then source files next to them.
    for queued in &queue {
        let host_dir = format!("{repo}/{}", queued.dir);
        if let Some(tree) = &tree {
            for (relative, bytes, mode) in tree.package_files(&queued.dir)? {
                let mode = if relative == format!("{}.SlackBuild", queued.name) {
                    0o755
                } else {
                    mode
                };
                plan.steps
                    .push(upload(format!("{host_dir}/{relative}"), bytes, mode));
            }
        }
        for source in &queued.sources {
            if let Some(bytes) =
                controller_sources.remove(&(queued.name.clone(), source.file.clone()))
            {
                plan.steps
                    .push(upload(format!("{host_dir}/{}", source.file), bytes, 0o644));
            }
        }
    }
    // Then every source is fetched (unless uploaded) and checked, before anything is built.
    for queued in &queue {
        plan.steps.push(run_step(fetch_script(
            &format!("{repo}/{}", queued.dir),
            queued,
            args.sources.is_none(),
        )));
    }
    for queued in &queue {
        plan.steps.push(run_step(build_script(
            &format!("{repo}/{}", queued.dir),
            queued,
            &args.env.0,
            args.package_dir.trim_end_matches('/'),
        )));
    }
    Ok(plan)
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A source as the probe found it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ProbedSource {
    /// A copy next to the SlackBuild, with this MD5.
    Cached(String),
    /// (URL) answered.
    Alive,
    /// (URL) did not answer: the tool's message.
    Dead(String),
}

/// One round trip: the MD5 of each source already next to its SlackBuild, and for every other
/// source (or one whose copy has the wrong MD5) whether its URL answers.
fn source_probe_script(repo: &str, queue: &[Queued]) -> String {
    let mut script = String::from(
        "probe() {\n\
         \x20 if command -v wget >/dev/null 2>&1; then out=$(wget -q --spider --tries=1 --timeout=15 \"$1\" 2>&1) && return 0\n\
         \x20 elif command -v curl >/dev/null 2>&1; then out=$(curl -fsSIL --max-time 20 -o /dev/null \"$1\" 2>&1) && return 0\n\
         \x20 else out='neither wget nor curl is installed'; fi\n\
         \x20 [ -n \"$out\" ] || out='no answer'\n\
         \x20 return 1\n\
         }\n\
         src() {\n\
         \x20 if [ -f \"$1/$2\" ]; then\n\
         \x20   sum=$(md5sum < \"$1/$2\" | cut -d' ' -f1)\n\
         \x20   printf '@@cached %s %s %s\\n' \"$sum\" \"$2\" \"$1\"\n\
         \x20   [ \"$sum\" = \"$3\" ] && return 0\n\
         \x20 fi\n\
         \x20 if probe \"$5\"; then printf '@@alive %s %s\\n' \"$4\" \"$5\"\n\
         \x20 else printf '@@dead %s %s %s\\n' \"$4\" \"$5\" \"$(printf '%s' \"$out\" | tr '\\n' ' ' | cut -c1-200)\"; fi\n\
         }\n",
    );
    for queued in queue {
        let dir = format!("{repo}/{}", queued.dir);
        for source in &queued.sources {
            script.push_str(&format!(
                "src {} {} {} {} {}\n",
                quote(&dir),
                quote(&source.file),
                quote(&source.md5),
                quote(&queued.name),
                quote(&source.url)
            ));
        }
    }
    script
}

/// `(dir, file)` → cached copy, and `("url NAME", URL)` → alive or dead.
fn parse_source_probe(text: &str) -> BTreeMap<(String, String), ProbedSource> {
    let mut seen = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("@@cached ") {
            let mut fields = rest.splitn(3, ' ');
            if let (Some(md5), Some(file), Some(dir)) =
                (fields.next(), fields.next(), fields.next())
            {
                seen.insert(
                    (dir.to_string(), file.to_string()),
                    ProbedSource::Cached(md5.into()),
                );
            }
        } else if let Some(rest) = line.strip_prefix("@@alive ") {
            if let Some((name, url)) = rest.split_once(' ') {
                seen.insert(
                    (format!("url {name}"), url.to_string()),
                    ProbedSource::Alive,
                );
            }
        } else if let Some(rest) = line.strip_prefix("@@dead ") {
            let mut fields = rest.splitn(3, ' ');
            if let (Some(name), Some(url)) = (fields.next(), fields.next()) {
                let message = fields.next().unwrap_or("").trim().to_string();
                seen.insert(
                    (format!("url {name}"), url.to_string()),
                    ProbedSource::Dead(message),
                );
            }
        }
    }
    seen
}

fn upload(path: String, content: Vec<u8>, mode: u32) -> Step {
    Step::WriteFile {
        path,
        content,
        options: WriteOptions {
            attributes: FileAttributes {
                mode: Some(mode),
                ..FileAttributes::default()
            },
            create_parents: true,
            ..WriteOptions::default()
        },
    }
}

fn controller_source(dir: &str, name: &str, file: &str) -> Result<Vec<u8>, ModuleError> {
    let candidates = [
        Path::new(dir).join(name).join(file),
        Path::new(dir).join(file),
    ];
    for candidate in &candidates {
        if candidate.is_file() {
            return std::fs::read(candidate).map_err(|error| {
                ModuleError::failed(format!("cannot read `{}`: {error}", candidate.display()))
            });
        }
    }
    Err(failed(
        format!(
            "source `{file}` of `{name}` is not in `sources` (looked for `{}` and `{}`)",
            candidates[0].display(),
            candidates[1].display()
        ),
        format!("download it from the URL in `{name}.info` into `{dir}/{name}/`"),
    ))
}

/// Fetch (when `download`) and check every source of one package, in its directory.
fn fetch_script(dir: &str, queued: &Queued, download: bool) -> String {
    let name = &queued.name;
    let mut script = format!(
        "# sources of {name} {version}: {what}\n\
         set -e\n\
         cd {dir}\n\
         fail() {{ printf '%s\\n' \"$*\" >&2; exit 1; }}\n\
         sum() {{ md5sum < \"$1\" | cut -d' ' -f1; }}\n",
        version = queued.version,
        what = if download {
            "download and check MD5"
        } else {
            "check MD5"
        },
        dir = quote(dir),
    );
    if download {
        script.push_str(
            "get() {\n\
             \x20 if [ -f \"$1\" ] && [ \"$(sum \"$1\")\" = \"$2\" ]; then return 0; fi\n\
             \x20 rm -f \"$1.part\"\n\
             \x20 if command -v wget >/dev/null 2>&1; then wget -q -O \"$1.part\" \"$3\" || fail \"download of $3 failed\"\n\
             \x20 else curl -fsSL -o \"$1.part\" \"$3\" || fail \"download of $3 failed\"; fi\n\
             \x20 mv \"$1.part\" \"$1\"\n\
             }\n",
        );
        for source in &queued.sources {
            script.push_str(&format!(
                "get {} {} {}\n",
                quote(&source.file),
                quote(&source.md5),
                quote(&source.url)
            ));
        }
    }
    script.push_str(&format!(
        "check() {{\n\
         \x20 [ -f \"$1\" ] || fail \"{name}: source $1 is missing\"\n\
         \x20 found=$(sum \"$1\")\n\
         \x20 [ \"$found\" = \"$2\" ] || fail \"{name}: MD5 mismatch for $1: expected $2, found $found; not building\"\n\
         }}\n"
    ));
    for source in &queued.sources {
        script.push_str(&format!(
            "check {} {}\n",
            quote(&source.file),
            quote(&source.md5)
        ));
    }
    script
}

/// Run one SlackBuild from its directory with a private OUTPUT/TMP and install its package.
fn build_script(
    dir: &str,
    queued: &Queued,
    env: &BTreeMap<String, String>,
    package_dir: &str,
) -> String {
    let name = &queued.name;
    let mut exports = String::new();
    for (key, value) in env {
        exports.push_str(&format!("export {key}={}\n", quote(value)));
    }
    format!(
        "# build {name} {version}\n\
         set -e\n\
         cd {dir}\n\
         [ -f {name}.SlackBuild ] || {{ echo \"no {name}.SlackBuild in {dir}\" >&2; exit 1; }}\n\
         work=$(mktemp -d \"${{TMPDIR:-/tmp}}/converge-slackbuild.XXXXXX\")\n\
         trap 'rm -rf \"$work\"' EXIT\n\
         mkdir \"$work/output\" \"$work/tmp\"\n\
         {exports}\
         export OUTPUT=\"$work/output\" TMP=\"$work/tmp\"\n\
         if [ -x ./{name}.SlackBuild ]; then set -- ./{name}.SlackBuild; else set -- sh ./{name}.SlackBuild; fi\n\
         if ! \"$@\" > \"$work/build.log\" 2>&1; then\n\
         \x20 tail -n 40 \"$work/build.log\" >&2\n\
         \x20 echo \"{name}.SlackBuild failed (last lines above)\" >&2\n\
         \x20 exit 1\n\
         fi\n\
         set +f\n\
         set -- \"$work\"/output/*.t?z\n\
         [ -f \"$1\" ] || {{ tail -n 20 \"$work/build.log\" >&2; echo \"{name}.SlackBuild made no package in \\$OUTPUT\" >&2; exit 1; }}\n\
         mkdir -p {package_dir}\n\
         mv -f \"$1\" {package_dir}/\n\
         package={package_dir}/\"${{1##*/}}\"\n\
         upgradepkg --install-new \"$package\"\n\
         tar tf \"$package\" 2>/dev/null | sed -n 's|^\\./||; s|\\.new$||p' | while IFS= read -r f; do\n\
         \x20 if [ -e \"/$f.new\" ] && [ -e \"/$f\" ]; then\n\
         \x20   echo \"@@converge-warning {name}: /$f.new was installed beside your changed /$f: compare them and merge by hand\"\n\
         \x20 fi\n\
         done\n\
         echo \"@@converge-built $package\"\n",
        version = queued.version,
        dir = quote(dir),
        package_dir = quote(package_dir),
    )
}
