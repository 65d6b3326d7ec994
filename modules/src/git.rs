//! `git` (ansible.builtin.git): a checkout of a repository at a version (branch, tag or
//! commit), cloned when missing and updated from its remote, with Ansible's arguments.
//!
//! Planning reads, in one round trip (a fixed script, values as argv): `git --version`,
//! whether `dest` holds a repository (`.git/config`, or `dest/config` with `bare: yes`; a
//! `.git` file's `gitdir:` is followed) and if so its `HEAD` commit, `git status
//! --porcelain`, the remote's URL, the current branch, the local branches and `version`
//! resolved locally; and, unless there is nothing to update, `git ls-remote --symref REPO`:
//! every branch and tag of the wanted repository with the commit it points to. From those it
//! knows `before` and `after` (the commit `version` names on the remote: a branch's tip, a
//! tag's commit with annotated tags peeled, or the commit itself) before anything is
//! fetched, so check mode reports what a real run does.
//!
//! Idempotence, as Ansible's: a change when `before` differs from `after`, when the remote's
//! URL differs from `repo` (`remote_url_changed`), or when local modifications are reset
//! (`force: yes`; without it they fail the task). The steps are the git commands Ansible's
//! module runs (`git clone [--depth N --branch V] [--single-branch]`, `git remote set-url`,
//! `git fetch --tags`, `git checkout --force`, `git reset --hard REMOTE/BRANCH`, `git checkout
//! --track -b`), run in the checkout. Submodules are updated after a change (`git
//! submodule update --init --recursive`) but not planned on their own. Not built, refused
//! with an error: `archive`, `separate_git_dir`, `verify_commit`, `track_submodules`.
//!
//! ```yaml
//! - ansible.builtin.git:
//!     repo: https://github.com/ansible/ansible-examples.git
//!     dest: /srv/checkout
//!     version: release-0.22
//! ```

use crate::args::{Flag, StringList, Text};
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn head() -> Text {
    Text("HEAD".into())
}

fn origin() -> String {
    "origin".into()
}

fn yes() -> Flag {
    Flag(true)
}

/// Arguments of `git` (Ansible's names, aliases and defaults).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GitArgs {
    /// The repository: a URL (`https://`, `ssh://`, `git@host:path`, `file://`) or a path on
    /// the host (taken as `file://PATH`).
    #[serde(alias = "name")]
    pub repo: String,
    /// The directory of the checkout (needed unless `clone: no`).
    pub dest: Option<String>,
    /// What to check out: `HEAD` (the remote's default branch, or the current branch of an
    /// existing checkout), a branch, a tag, or a commit.
    #[serde(default = "head")]
    pub version: Text,
    /// The remote's name.
    #[serde(default = "origin")]
    pub remote: String,
    /// An extra refspec to fetch (e.g. `refs/pull/*`).
    pub refspec: Option<String>,
    /// A local repository to borrow objects from (`git clone --reference`).
    pub reference: Option<String>,
    /// Discard local modifications of tracked files (otherwise they fail the task).
    #[serde(default)]
    pub force: Flag,
    /// A shallow clone with this many commits.
    pub depth: Option<u32>,
    /// Clone when `dest` has no repository.
    #[serde(default = "yes")]
    pub clone: Flag,
    /// Fetch and check out `version` when `dest` has a repository.
    #[serde(default = "yes")]
    pub update: Flag,
    /// A bare repository (no working tree).
    #[serde(default)]
    pub bare: Flag,
    /// Accept an unknown SSH host key (`StrictHostKeyChecking=no`).
    #[serde(default)]
    pub accept_hostkey: Flag,
    /// Accept a new SSH host key, never a changed one (`StrictHostKeyChecking=accept-new`).
    #[serde(default)]
    pub accept_newhostkey: Flag,
    /// The SSH private key on the host.
    pub key_file: Option<String>,
    /// Extra options for `ssh` (e.g. `-o ProxyJump=bastion`).
    pub ssh_opts: Option<String>,
    /// The `git` program to run.
    pub executable: Option<String>,
    /// Clone only the history of `version`'s branch or tag.
    #[serde(default)]
    pub single_branch: Flag,
    /// Update submodules after a change.
    #[serde(default = "yes")]
    pub recursive: Flag,
    /// The umask for git's files, an octal string (e.g. `"0022"`).
    pub umask: Option<Text>,
    /// Not supported by converge: track submodules' branches.
    #[serde(default)]
    pub track_submodules: Flag,
    /// Not supported by converge: verify the GPG signature of `version`.
    #[serde(default)]
    pub verify_commit: Flag,
    /// GPG key fingerprints accepted with `verify_commit`.
    #[serde(default, alias = "gpg_whitelist")]
    pub gpg_allowlist: StringList,
    /// Not supported by converge: write an archive of the checkout.
    pub archive: Option<String>,
    /// Not supported by converge: the prefix of paths in the archive.
    pub archive_prefix: Option<String>,
    /// Not supported by converge: keep the repository outside `dest`.
    pub separate_git_dir: Option<String>,
}

/// The repository as git is given it: a path becomes `file://PATH`, as Ansible does.
pub fn normalise_repo(repo: &str) -> String {
    if repo.starts_with('/') {
        format!("file://{repo}")
    } else {
        repo.to_string()
    }
}

/// What `git ls-remote --symref` says about the wanted repository.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Remote {
    /// The branch the remote's HEAD names.
    pub head_branch: Option<String>,
    /// The commit of the remote's HEAD.
    pub head: Option<String>,
    /// `refs/heads/…` and `refs/tags/…` (and peeled `^{}`) to commits.
    pub refs: BTreeMap<String, String>,
}

/// Parse `git ls-remote --symref` output.
pub fn parse_ls_remote(text: &str) -> Remote {
    let mut remote = Remote::default();
    for line in text.lines() {
        let Some((left, name)) = line.split_once('\t') else {
            continue;
        };
        if let Some(target) = left.strip_prefix("ref: ") {
            if name == "HEAD" {
                remote.head_branch = target.strip_prefix("refs/heads/").map(str::to_string);
            }
        } else if name == "HEAD" {
            remote.head = Some(left.to_string());
        } else {
            remote.refs.insert(name.to_string(), left.to_string());
        }
    }
    remote
}

/// What kind of thing `version` names on the remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionKind {
    /// `HEAD`.
    Head,
    /// A branch.
    Branch,
    /// A tag.
    Tag,
    /// Anything else: taken as a commit.
    Commit,
}

impl Remote {
    /// How `version` reads on this remote (branches first, as Ansible checks).
    pub fn kind(&self, version: &str) -> VersionKind {
        if version == "HEAD" {
            VersionKind::Head
        } else if self.refs.contains_key(&format!("refs/heads/{version}")) {
            VersionKind::Branch
        } else if self.refs.contains_key(&format!("refs/tags/{version}")) {
            VersionKind::Tag
        } else {
            VersionKind::Commit
        }
    }

    /// The commit `version` names: a branch's tip, a tag's commit (peeled), the HEAD of
    /// `head_branch` (an existing checkout's branch) or the remote's HEAD; `None` for a
    /// commit, which ls-remote cannot name.
    pub fn resolve(&self, version: &str, head_branch: Option<&str>) -> Option<String> {
        match self.kind(version) {
            VersionKind::Head => match head_branch {
                Some(branch) => self.refs.get(&format!("refs/heads/{branch}")).cloned(),
                None => self.head.clone(),
            },
            VersionKind::Branch => self.refs.get(&format!("refs/heads/{version}")).cloned(),
            VersionKind::Tag => self
                .refs
                .get(&format!("refs/tags/{version}^{{}}"))
                .or_else(|| self.refs.get(&format!("refs/tags/{version}")))
                .cloned(),
            VersionKind::Commit => None,
        }
    }
}

/// What the probe read on the host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Probe {
    /// The git program exists.
    pub installed: bool,
    /// `dest` holds a repository.
    pub exists: bool,
    /// `dest` exists, is not a repository, and is not empty.
    pub occupied: bool,
    /// `git rev-parse HEAD`.
    pub head: String,
    /// `git status --porcelain` lines that are not untracked files.
    pub modified: Vec<String>,
    /// The remote's configured URL.
    pub url: Option<String>,
    /// `refs/heads/X` when a branch is checked out.
    pub symref: Option<String>,
    /// The first line of the repository's HEAD file.
    pub headfile: String,
    /// The first line of `refs/remotes/REMOTE/HEAD`.
    pub remote_headfile: String,
    /// Local branch names.
    pub branches: Vec<String>,
    /// `version` resolved to a commit in the local repository.
    pub resolved: Option<String>,
    /// `git ls-remote` output and status, when it ran.
    pub ls_remote: Option<(String, i32)>,
}

/// Name given to the probe script (`$0`).
pub const PROBE_NAME: &str = "converge-git-probe";

/// `$1` git, `$2` dest, `$3` bare (yes/no), `$4` remote, `$5` repo, `$6` version, `$7` update
/// (yes/no): the remote's refs are listed unless an existing checkout is not to be updated.
pub const PROBE_SCRIPT: &str = r#"git=$1 dest=$2 bare=$3 remote=$4 repo=$5 version=$6 update=$7 found=no
export LANG=C LC_ALL=C GIT_TERMINAL_PROMPT=0
command -v "$git" >/dev/null 2>&1 || { echo @@missing; exit 0; }
if [ -n "$dest" ]; then
  if [ "$bare" = yes ]; then gitdir=$dest; else gitdir=$dest/.git; fi
  if [ -f "$gitdir" ]; then
    d=$(sed -n 's/^gitdir: //p' "$gitdir")
    case $d in /*) gitdir=$d ;; *) gitdir=$dest/$d ;; esac
  fi
  if [ -f "$gitdir/config" ]; then
    echo @@exists; found=yes
    cd "$dest" || exit 1
    echo "@@head $("$git" rev-parse HEAD 2>/dev/null)"
    if [ "$bare" != yes ]; then echo @@status; "$git" status --porcelain 2>&1; fi
    url=$("$git" ls-remote --get-url "$remote" 2>/dev/null) && echo "@@url $url"
    echo "@@symref $("$git" symbolic-ref -q HEAD)"
    echo "@@headfile $(head -n1 "$gitdir/HEAD" 2>/dev/null)"
    echo "@@remotehead $(head -n1 "$gitdir/refs/remotes/$remote/HEAD" 2>/dev/null)"
    echo @@branches; "$git" for-each-ref --format='%(refname:short)' refs/heads
    echo "@@resolved $("$git" rev-parse --verify -q "$version^{commit}" 2>/dev/null)"
  elif [ -d "$dest" ] && [ -n "$(ls -A "$dest" 2>/dev/null)" ]; then
    echo @@occupied
  fi
fi
if [ "$found" = no ] || [ "$update" = yes ]; then
  echo @@ls_remote; "$git" ls-remote --symref "$repo" 2>&1; echo "@@ls_rc $?"
fi
"#;

/// Parse the probe's output.
pub fn parse_probe(text: &str) -> Probe {
    let mut probe = Probe {
        installed: true,
        ..Probe::default()
    };
    let mut section = String::new();
    let mut ls_text = None::<String>;
    for line in text.lines() {
        if let Some(marker) = line.strip_prefix("@@") {
            let (name, value) = marker.split_once(' ').unwrap_or((marker, ""));
            section = name.to_string();
            let value = value.trim().to_string();
            match name {
                "missing" => probe.installed = false,
                "exists" => probe.exists = true,
                "occupied" => probe.occupied = true,
                "head" => probe.head = value,
                "url" => probe.url = Some(value),
                "symref" => probe.symref = Some(value).filter(|v| !v.is_empty()),
                "headfile" => probe.headfile = value,
                "remotehead" => probe.remote_headfile = value,
                "resolved" => probe.resolved = Some(value).filter(|v| !v.is_empty()),
                "ls_remote" => ls_text = Some(String::new()),
                "ls_rc" => {
                    probe.ls_remote = Some((
                        ls_text.take().unwrap_or_default(),
                        value.parse().unwrap_or(1),
                    ))
                }
                _ => {}
            }
            continue;
        }
        match section.as_str() {
            "status" if !line.starts_with("??") && !line.trim().is_empty() => {
                probe.modified.push(line.to_string())
            }
            "branches" if !line.trim().is_empty() => probe.branches.push(line.to_string()),
            "ls_remote" => {
                if let Some(text) = ls_text.as_mut() {
                    text.push_str(line);
                    text.push('\n');
                }
            }
            _ => {}
        }
    }
    probe
}

/// The branch a HEAD file line names, as Ansible's `head_splitter` reads it
/// (`ref: refs/heads/main` → `main`, `ref: refs/remotes/origin/main` → `main`).
pub fn head_branch_of(line: &str, remote: &str) -> Option<String> {
    if line.is_empty() {
        return None;
    }
    let line = line.replacen(&format!("refs/remotes/{remote}"), "", 1);
    let last = line.split(' ').next_back()?;
    Some(last.splitn(3, '/').last()?.trim_end().to_string()).filter(|b| !b.is_empty())
}

/// Whether two remote URLs name the same repository (as Ansible's `unfrackgitpath`
/// compares: normalised paths).
pub fn same_url(a: &str, b: &str) -> bool {
    fn norm(url: &str) -> String {
        let mut out = String::new();
        for part in url.split('/') {
            if part == "." || (part.is_empty() && out.ends_with('/')) {
                continue;
            }
            out.push_str(part);
            out.push('/');
        }
        out.trim_end_matches('/').to_string()
    }
    a == b || norm(a) == norm(b)
}

/// The environment every git command runs with: `GIT_SSH_COMMAND` as Ansible builds it, a
/// C locale, no prompts.
pub fn git_env(args: &GitArgs) -> Vec<(String, String)> {
    let mut opts = args.ssh_opts.clone().unwrap_or_default();
    if args.accept_hostkey.0
        && !opts.contains("StrictHostKeyChecking=no")
        && !opts.contains("StrictHostKeyChecking=accept-new")
    {
        opts.push_str(" -o StrictHostKeyChecking=no");
    }
    if args.accept_newhostkey.0
        && !opts.contains("StrictHostKeyChecking=no")
        && !opts.contains("StrictHostKeyChecking=accept-new")
    {
        opts.push_str(" -o StrictHostKeyChecking=accept-new");
    }
    if !opts.contains("BatchMode=yes") {
        opts.push_str(" -o BatchMode=yes");
    }
    if let Some(key) = &args.key_file {
        let key_opt = format!("-i {key}");
        if !opts.contains(&key_opt) {
            opts.push_str(&format!("  {key_opt}"));
        }
        if !opts.contains("IdentitiesOnly=yes") {
            opts.push_str(" -o IdentitiesOnly=yes");
        }
    }
    vec![
        (
            "GIT_SSH_COMMAND".into(),
            format!("ssh {}", opts.trim_start()),
        ),
        ("LANG".into(), "C".into()),
        ("LC_ALL".into(), "C".into()),
        ("GIT_TERMINAL_PROMPT".into(), "0".into()),
    ]
}

/// How a plan's git commands are run.
struct Runner<'a> {
    git: String,
    env: Vec<(String, String)>,
    umask: Option<&'a str>,
}

impl Runner<'_> {
    fn command(&self, words: &[String], dir: &str) -> Command {
        let mut argv: Vec<String> = Vec::new();
        if let Some(umask) = self.umask {
            argv.extend([
                "sh".to_string(),
                "-c".into(),
                r#"umask "$1" && shift && exec "$@""#.into(),
                "sh".into(),
                umask.to_string(),
            ]);
        }
        argv.push(self.git.clone());
        argv.extend(words.iter().cloned());
        let mut command = Command::argv(argv).with_chdir(dir);
        command.env = self.env.clone();
        command
    }
}

fn words<const N: usize>(items: [&str; N]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The commands that check out `version` (Ansible's `switch_version`), given the local
/// branches at that point.
pub fn switch_commands(
    version: &str,
    kind: &VersionKind,
    remote: &str,
    head_branch: &str,
    local_branches: &[String],
    depth: Option<u32>,
) -> Vec<Vec<String>> {
    match kind {
        VersionKind::Head => vec![
            words(["checkout", "--force", head_branch]),
            vec![
                "reset".into(),
                "--hard".into(),
                format!("{remote}/{head_branch}"),
                "--".into(),
            ],
        ],
        VersionKind::Branch => {
            let mut commands = Vec::new();
            let mut local = local_branches.iter().any(|b| b == version);
            if let (Some(depth), false) = (depth, local) {
                commands.push(vec![
                    "fetch".into(),
                    format!("--depth={depth}"),
                    remote.into(),
                    format!("+refs/heads/{version}:refs/heads/{version}"),
                    format!("+refs/heads/{version}:refs/remotes/{remote}/{version}"),
                ]);
                local = true;
            }
            if local {
                commands.push(words(["checkout", "--force", version]));
                commands.push(vec![
                    "reset".into(),
                    "--hard".into(),
                    format!("{remote}/{version}"),
                ]);
            } else {
                commands.push(vec![
                    "checkout".into(),
                    "--track".into(),
                    "-b".into(),
                    version.into(),
                    format!("{remote}/{version}"),
                ]);
            }
            commands
        }
        VersionKind::Tag | VersionKind::Commit => vec![words(["checkout", "--force", version])],
    }
}

const SUBMODULES: &str = r#"[ ! -f .gitmodules ] || { "$0" submodule sync && "$0" submodule update --init --recursive "$@"; }"#;

/// The `git` module.
pub struct Git;

impl TypedModule for Git {
    type Args = GitArgs;
    const NAME: &'static str = "git";
    const SUMMARY: &'static str =
        "Check out a git repository at a branch, tag or commit, cloning or updating it";
    const EXAMPLES: &'static str = r#"- ansible.builtin.git:
    repo: https://github.com/ansible/ansible-examples.git
    dest: /srv/checkout
    version: release-0.22

- git:
    repo: git@github.com:example/app.git
    dest: /srv/app
    key_file: /home/deploy/.ssh/id_ed25519
    accept_newhostkey: yes
    depth: 1
    single_branch: yes
    version: main

- git:
    repo: /srv/git/site.git
    dest: /srv/site
  register: site

- debug:
    msg: "updated from {{ site.before }} to {{ site.after }}"
  when: site.changed

- git:
    repo: https://example.com/mirror.git
    dest: /srv/mirror.git
    bare: yes
"#;
    const USES_FACTS: bool = false;

    fn check(args: &GitArgs) -> Result<(), ArgsError> {
        let refuse = |name: &str, what: &str| {
            Err(ArgsError::new(
                Some(name),
                format!("`{name}` of module `git` is not supported by converge ({what})"),
            ))
        };
        if args.archive.is_some() || args.archive_prefix.is_some() {
            return refuse("archive", "run `git archive` with the `command` module");
        }
        if args.separate_git_dir.is_some() {
            return refuse("separate_git_dir", "clone into `dest` itself");
        }
        if args.verify_commit.0 {
            return refuse(
                "verify_commit",
                "run `git verify-commit` with the `command` module",
            );
        }
        if args.track_submodules.0 {
            return refuse("track_submodules", "pin submodules in the superproject");
        }
        if args.accept_hostkey.0 && args.accept_newhostkey.0 {
            return Err(ArgsError::new(
                Some("accept_newhostkey"),
                "`accept_hostkey` and `accept_newhostkey` of module `git` are mutually exclusive",
            ));
        }
        if args.dest.is_none() && args.clone.0 {
            return Err(ArgsError::new(
                Some("dest"),
                "the destination directory must be specified unless clone=no",
            )
            .with_hint("add `dest:` or `clone: no`"));
        }
        if let Some(Text(umask)) = &args.umask {
            if umask.is_empty() || !umask.chars().all(|c| ('0'..='7').contains(&c)) {
                return Err(ArgsError::new(
                    Some("umask"),
                    format!("umask must be an octal integer, not `{umask}`"),
                ));
            }
        }
        Ok(())
    }

    fn plan(args: GitArgs, host: &mut dyn Host, _context: &Context) -> Result<Plan, ModuleError> {
        let git = args.executable.clone().unwrap_or_else(|| "git".into());
        let repo = normalise_repo(&args.repo);
        let dest = args.dest.as_deref().map(absolute);
        let mut command = Command::argv([
            "sh".to_string(),
            "-c".into(),
            PROBE_SCRIPT.into(),
            PROBE_NAME.into(),
            git.clone(),
            dest.clone().unwrap_or_default(),
            yes_no(args.bare.0),
            args.remote.clone(),
            repo.clone(),
            args.version.0.clone(),
            yes_no(args.update.0),
        ]);
        command.env = git_env(&args);
        let output = host.run(&command)?;
        if !output.success() {
            return Err(ModuleError::failed(format!(
                "cannot inspect `{}`: {}",
                dest.as_deref().unwrap_or(&repo),
                output.stderr_text().trim()
            )));
        }
        let probe = parse_probe(&output.stdout_text());
        plan_from_probe(&args, &probe)
    }
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.into()
}

/// `dest` as an absolute path, `.` and `..` resolved textually (Ansible's `abspath`).
fn absolute(dest: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in dest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("/{}", parts.join("/"))
}

fn parent(path: &str) -> String {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/".into(),
        Some((parent, _)) => parent.into(),
    }
}

fn failed(message: impl Into<String>, hint: impl Into<String>) -> ModuleError {
    ModuleError::Failed {
        message: message.into(),
        hint: Some(hint.into()),
    }
}

/// The plan for `args` given what the probe read.
pub fn plan_from_probe(args: &GitArgs, probe: &Probe) -> Result<Plan, ModuleError> {
    let git = args.executable.clone().unwrap_or_else(|| "git".into());
    if !probe.installed {
        return Err(failed(
            format!("`{git}` is not installed on the host"),
            "install git first (e.g. `package: name=git`)",
        ));
    }
    let repo = normalise_repo(&args.repo);
    let version = args.version.0.as_str();
    let remote_name = args.remote.as_str();
    let dest = args.dest.as_deref().map(absolute);
    let mut plan = Plan::unchanged();

    if probe.exists && !args.update.0 {
        plan.result.insert("before".into(), json!(probe.head));
        plan.result.insert("after".into(), json!(probe.head));
        return Ok(plan);
    }

    let (listing, rc) = probe.ls_remote.clone().unwrap_or_default();
    if rc != 0 {
        return Err(failed(
            format!("cannot read the repository `{repo}`: {}", listing.trim()),
            "check `repo` and that the host can reach it (for SSH: `key_file`, `accept_newhostkey`)",
        ));
    }
    let remote = parse_ls_remote(&listing);
    let kind = remote.kind(version);
    let runner = Runner {
        git: git.clone(),
        env: git_env(args),
        umask: args.umask.as_ref().map(|Text(u)| u.as_str()),
    };

    // The branch HEAD stands for: the checkout's (or, detached, its remote's HEAD), or for a
    // clone the remote's default branch.
    let current_head_branch = if probe.exists {
        if probe.symref.is_some() {
            head_branch_of(&probe.headfile, remote_name)
        } else {
            head_branch_of(&probe.remote_headfile, remote_name)
        }
    } else {
        None
    };
    let after = match (&kind, probe.exists) {
        (VersionKind::Commit, true) => probe
            .resolved
            .clone()
            .unwrap_or_else(|| version.to_string()),
        (VersionKind::Commit, false) => version.to_string(),
        (_, exists) => remote
            .resolve(
                version,
                if exists {
                    current_head_branch.as_deref()
                } else {
                    None
                },
            )
            .ok_or_else(|| {
                failed(
                    format!("could not determine remote revision for {version}"),
                    "check that `version` names a branch or tag of the repository",
                )
            })?,
    };

    if !probe.exists {
        plan.result.insert("before".into(), Value::Null);
        plan.result.insert("after".into(), json!(after));
        let Some(dest) = dest else {
            // `clone: no` without a checkout: the remote's revision is the answer (Ansible
            // reports it as a change).
            plan.changes.push(Change::note(
                repo.clone(),
                format!("remote revision of {version}: {after} (nothing cloned)"),
            ));
            return Ok(plan);
        };
        if !args.clone.0 {
            plan.changes.push(Change::note(
                dest,
                format!(
                    "no repository here and `clone: no`: remote revision of {version} is {after}"
                ),
            ));
            return Ok(plan);
        }
        if probe.occupied {
            return Err(failed(
                format!("`{dest}` exists, is not empty and is not a git repository"),
                "remove it or choose another `dest`",
            ));
        }
        plan.changes.push(Change::value(
            dest.clone(),
            None,
            Some(format!("clone {repo} at {version} ({after})")),
        ));
        clone_steps(args, &repo, &dest, &kind, &remote, &runner, &mut plan);
        return Ok(plan);
    }

    let dest = dest.unwrap_or_default();
    let before = probe.head.clone();
    plan.result.insert("before".into(), json!(before));
    plan.result.insert("after".into(), json!(after));
    let local_mods = !args.bare.0 && !probe.modified.is_empty();
    if local_mods && !args.force.0 {
        return Err(failed(
            format!("Local modifications exist in the destination: {dest} (force=no)."),
            "commit or discard them, or set `force: yes` to discard them",
        ));
    }
    let remote_url_changed = probe
        .url
        .as_deref()
        .is_some_and(|url| !url.is_empty() && !same_url(url, &repo));
    plan.result
        .insert("remote_url_changed".into(), json!(remote_url_changed));

    let mut steps: Vec<Vec<String>> = Vec::new();
    if local_mods {
        plan.changes.push(Change::note(
            dest.clone(),
            format!(
                "discard local modifications: {}",
                probe
                    .modified
                    .iter()
                    .map(|l| l.trim())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
        plan.result.insert(
            "msg".into(),
            json!(format!(
                "Local modifications exist in the destination: {dest}"
            )),
        );
        steps.push(words(["reset", "--hard", "HEAD"]));
    }
    if remote_url_changed {
        plan.changes.push(Change::value(
            format!("{dest} remote {remote_name}"),
            probe.url.clone(),
            Some(repo.clone()),
        ));
        steps.push(words(["remote", "set-url", remote_name, &repo]));
    }
    if before != after {
        plan.changes.push(Change::value(
            dest.clone(),
            Some(before.clone()),
            Some(format!("{after} ({version})")),
        ));
    }
    let head_branch = current_head_branch.clone().unwrap_or_default();
    let mut local_branches = probe.branches.clone();
    let switching = !args.bare.0
        && kind == VersionKind::Branch
        && probe.symref.as_deref() != Some(&format!("refs/heads/{version}"));
    if plan.changes.is_empty() && !switching {
        return Ok(plan);
    }
    // Ansible's `fetch`.
    let mut fetch = words(["fetch"]);
    let mut refspecs: Vec<String> = Vec::new();
    if let Some(depth) = args.depth {
        if let Some(refspec) = &args.refspec {
            refspecs.push(refspec.clone());
        } else {
            match kind {
                VersionKind::Head => refspecs.push(head_branch.clone()),
                VersionKind::Branch => {
                    if head_branch != version {
                        refspecs.push(format!("+refs/heads/{version}:refs/heads/{version}"));
                        local_branches.push(version.to_string());
                    }
                    refspecs.push(format!(
                        "+refs/heads/{version}:refs/remotes/{remote_name}/{version}"
                    ));
                }
                VersionKind::Tag => {
                    refspecs.push(format!("+refs/tags/{version}:refs/tags/{version}"))
                }
                VersionKind::Commit => {}
            }
        }
        if !refspecs.is_empty() {
            fetch.extend(["--depth".to_string(), depth.to_string()]);
        }
    }
    if args.depth.is_none() || refspecs.is_empty() {
        if args.bare.0 {
            refspecs = words(["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"]);
        } else {
            fetch.push("--tags".into());
        }
        if let Some(refspec) = &args.refspec {
            refspecs.push(refspec.clone());
        }
    }
    if args.force.0 {
        fetch.push("--force".into());
    }
    fetch.push(remote_name.into());
    fetch.extend(refspecs);
    steps.push(fetch);
    if !args.bare.0 {
        steps.extend(switch_commands(
            version,
            &kind,
            remote_name,
            &head_branch,
            &local_branches,
            args.depth,
        ));
    }
    let mut commands: Vec<Step> = steps
        .iter()
        .map(|words| Step::Run {
            command: runner.command(words, &dest),
            allow_failure: false,
        })
        .collect();
    if args.recursive.0 && !args.bare.0 {
        commands.push(submodule_step(args, &runner, &dest));
    }
    if plan.changes.is_empty() {
        // Same commit, another branch: Ansible checks it out and reports no change.
        plan.always = commands;
    } else {
        plan.steps = commands;
    }
    Ok(plan)
}

fn submodule_step(args: &GitArgs, runner: &Runner, dest: &str) -> Step {
    let mut argv = vec![
        "sh".to_string(),
        "-c".into(),
        SUBMODULES.into(),
        runner.git.clone(),
    ];
    if args.force.0 {
        argv.push("--force".into());
    }
    let mut command = Command::argv(argv).with_chdir(dest);
    command.env = runner.env.clone();
    Step::Run {
        command,
        allow_failure: false,
    }
}

fn clone_steps(
    args: &GitArgs,
    repo: &str,
    dest: &str,
    kind: &VersionKind,
    remote: &Remote,
    runner: &Runner,
    plan: &mut Plan,
) {
    let version = args.version.0.as_str();
    let parent_dir = parent(dest);
    let mut clone = words(["clone"]);
    if args.bare.0 {
        clone.push("--bare".into());
    } else {
        clone.extend(["--origin".to_string(), args.remote.clone()]);
    }
    let branch_or_tag = matches!(kind, VersionKind::Branch | VersionKind::Tag);
    let mut branch_given = false;
    if let Some(depth) = args.depth {
        if version == "HEAD" || args.refspec.is_some() {
            clone.extend(["--depth".to_string(), depth.to_string()]);
        } else if branch_or_tag {
            clone.extend(["--depth".to_string(), depth.to_string()]);
            clone.extend(["--branch".to_string(), version.to_string()]);
            branch_given = true;
        } else {
            plan.warnings.push(
                "Ignoring depth argument. Shallow clones are only available for HEAD, branches, tags or in combination with refspec.".into(),
            );
        }
    }
    if let Some(reference) = &args.reference {
        clone.extend(["--reference".to_string(), reference.clone()]);
    }
    if args.single_branch.0 {
        clone.push("--single-branch".into());
        if branch_or_tag {
            clone.extend(["--branch".to_string(), version.to_string()]);
            branch_given = true;
        }
    }
    clone.extend([repo.to_string(), dest.to_string()]);

    plan.steps.push(Step::Run {
        command: Command::argv(["mkdir", "-p", &parent_dir]),
        allow_failure: false,
    });
    let mut steps: Vec<(Vec<String>, String)> = vec![(clone, parent_dir)];
    if args.bare.0 && args.remote != "origin" {
        steps.push((words(["remote", "add", &args.remote, repo]), dest.into()));
    }
    if let Some(refspec) = &args.refspec {
        let mut fetch = words(["fetch"]);
        if let Some(depth) = args.depth {
            fetch.extend(["--depth".to_string(), depth.to_string()]);
        }
        fetch.extend([args.remote.clone(), refspec.clone()]);
        steps.push((fetch, dest.into()));
    }
    if !args.bare.0 {
        let default_branch = remote.head_branch.clone().unwrap_or_default();
        let local = if branch_given && *kind == VersionKind::Branch {
            vec![version.to_string()]
        } else {
            vec![default_branch.clone()]
        };
        for words in switch_commands(
            version,
            kind,
            &args.remote,
            &default_branch,
            &local,
            args.depth,
        ) {
            steps.push((words, dest.into()));
        }
    }
    for (words, dir) in steps {
        plan.steps.push(Step::Run {
            command: runner.command(&words, &dir),
            allow_failure: false,
        });
    }
    if args.recursive.0 && !args.bare.0 {
        plan.steps.push(submodule_step(args, runner, dest));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LS: &str = "ref: refs/heads/main\tHEAD\nd0\tHEAD\nd1\trefs/heads/dev\nd0\trefs/heads/main\nd0\trefs/tags/v1\nc8\trefs/tags/v2\nd0\trefs/tags/v2^{}\n";

    fn args(value: Value) -> GitArgs {
        crate::module::parse_args::<Git>(&value).expect("valid arguments")
    }

    fn lines(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .map(|step| match step {
                Step::Run { command, .. } => {
                    let line = command.to_shell_line();
                    match line
                        .strip_prefix("cd ")
                        .and_then(|rest| rest.split_once(" && "))
                    {
                        Some((_, rest)) => rest.to_string(),
                        None => line,
                    }
                }
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn ls_remote_resolves_versions_like_ansible() {
        let remote = parse_ls_remote(LS);
        assert_eq!(remote.head_branch.as_deref(), Some("main"));
        assert_eq!(remote.resolve("HEAD", None).as_deref(), Some("d0"));
        assert_eq!(remote.resolve("HEAD", Some("dev")).as_deref(), Some("d1"));
        assert_eq!(remote.resolve("dev", None).as_deref(), Some("d1"));
        // An annotated tag is peeled to its commit.
        assert_eq!(remote.resolve("v2", None).as_deref(), Some("d0"));
        assert_eq!(remote.resolve("v1", None).as_deref(), Some("d0"));
        assert_eq!(remote.kind("abc123"), VersionKind::Commit);
    }

    #[test]
    fn head_files_name_branches() {
        assert_eq!(
            head_branch_of("ref: refs/heads/main", "origin").as_deref(),
            Some("main")
        );
        assert_eq!(
            head_branch_of("ref: refs/remotes/origin/trunk", "origin").as_deref(),
            Some("trunk")
        );
        assert_eq!(
            head_branch_of("ref: refs/heads/feature/x", "origin").as_deref(),
            Some("feature/x")
        );
        assert_eq!(head_branch_of("", "origin"), None);
    }

    #[test]
    fn a_missing_checkout_is_cloned_with_ansibles_commands() {
        let probe = Probe {
            installed: true,
            ls_remote: Some((LS.into(), 0)),
            ..Probe::default()
        };
        let a = args(json!({"repo": "/srv/git/site.git", "dest": "/srv/site", "version": "dev"}));
        let plan = plan_from_probe(&a, &probe).unwrap();
        assert_eq!(plan.result["before"], Value::Null);
        assert_eq!(plan.result["after"], json!("d1"));
        assert_eq!(
            lines(&plan),
            vec![
                "mkdir -p /srv",
                "git clone --origin origin file:///srv/git/site.git /srv/site",
                "git checkout --track -b dev origin/dev",
                "sh -c '[ ! -f .gitmodules ] || { \"$0\" submodule sync && \"$0\" submodule update --init --recursive \"$@\"; }' git",
            ]
        );
        let a = args(
            json!({"repo": "https://h/r.git", "dest": "/srv/r", "depth": 1,
            "single_branch": true, "recursive": false}),
        );
        let plan = plan_from_probe(&a, &probe).unwrap();
        assert_eq!(
            lines(&plan)[1..],
            [
                "git clone --origin origin --depth 1 --single-branch https://h/r.git /srv/r",
                "git checkout --force main",
                "git reset --hard origin/main --",
            ]
        );
    }

    fn existing() -> Probe {
        Probe {
            installed: true,
            exists: true,
            head: "d0".into(),
            url: Some("file:///srv/git/site.git".into()),
            symref: Some("refs/heads/main".into()),
            headfile: "ref: refs/heads/main".into(),
            branches: vec!["main".into()],
            ls_remote: Some((LS.into(), 0)),
            ..Probe::default()
        }
    }

    #[test]
    fn an_up_to_date_checkout_is_no_change() {
        let a = args(json!({"repo": "/srv/git/site.git", "dest": "/srv/site"}));
        let plan = plan_from_probe(&a, &existing()).unwrap();
        assert!(!plan.is_change());
        assert!(plan.always.is_empty());
        assert_eq!(plan.result["before"], json!("d0"));
        assert_eq!(plan.result["after"], json!("d0"));
        assert_eq!(plan.result["remote_url_changed"], json!(false));
        let a = args(json!({"repo": "/srv/git/site.git", "dest": "/srv/site", "version": "v2"}));
        assert!(!plan_from_probe(&a, &existing()).unwrap().is_change());
    }

    #[test]
    fn a_new_remote_commit_is_fetched_and_checked_out() {
        let a = args(json!({"repo": "/srv/git/site.git", "dest": "/srv/site", "version": "dev"}));
        let plan = plan_from_probe(&a, &existing()).unwrap();
        assert_eq!(plan.result["after"], json!("d1"));
        assert_eq!(
            lines(&plan)[..2],
            [
                "git fetch --tags origin",
                "git checkout --track -b dev origin/dev"
            ]
        );
    }

    #[test]
    fn a_changed_url_and_local_modifications() {
        let mut probe = existing();
        probe.url = Some("https://old/site.git".into());
        probe.modified = vec![" M index.html".into()];
        let a = args(json!({"repo": "/srv/git/site.git", "dest": "/srv/site"}));
        let error = plan_from_probe(&a, &probe).unwrap_err().to_string();
        assert!(error.contains("Local modifications exist"), "{error}");
        let a = args(json!({"repo": "/srv/git/site.git", "dest": "/srv/site", "force": true}));
        let plan = plan_from_probe(&a, &probe).unwrap();
        assert_eq!(plan.result["remote_url_changed"], json!(true));
        assert_eq!(
            lines(&plan)[..5],
            [
                "git reset --hard HEAD",
                "git remote set-url origin file:///srv/git/site.git",
                "git fetch --tags --force origin",
                "git checkout --force main",
                "git reset --hard origin/main --",
            ]
        );
    }

    #[test]
    fn same_commit_on_another_branch_switches_without_a_change() {
        let mut probe = existing();
        probe.head = "d1".into();
        let ls = LS.replace("d0\trefs/heads/main", "d1\trefs/heads/main");
        probe.ls_remote = Some((ls, 0));
        let a = args(json!({"repo": "/srv/git/site.git", "dest": "/srv/site", "version": "dev"}));
        let plan = plan_from_probe(&a, &probe).unwrap();
        assert!(!plan.is_change());
        assert!(!plan.always.is_empty());
    }

    #[test]
    fn update_no_reports_the_checkout_as_it_is() {
        let a = args(json!({"repo": "/x", "dest": "/srv/site", "update": false}));
        let mut probe = existing();
        probe.ls_remote = None;
        let plan = plan_from_probe(&a, &probe).unwrap();
        assert!(!plan.is_change());
        assert_eq!(plan.result["after"], json!("d0"));
    }

    #[test]
    fn probe_output_parses() {
        let text = "@@exists\n@@head d0\n@@status\n M a.txt\n?? new.txt\n@@url file:///srv/git/site.git\n@@symref refs/heads/main\n@@headfile ref: refs/heads/main\n@@remotehead \n@@branches\nmain\ndev\n@@resolved d0\n@@ls_remote\nd0\tHEAD\n@@ls_rc 0\n";
        let probe = parse_probe(text);
        assert!(probe.exists);
        assert_eq!(probe.modified, vec![" M a.txt"]);
        assert_eq!(probe.branches, vec!["main", "dev"]);
        assert_eq!(probe.resolved.as_deref(), Some("d0"));
        assert_eq!(probe.ls_remote, Some(("d0\tHEAD\n".into(), 0)));
        assert!(!parse_probe("@@missing\n").installed);
    }

    #[test]
    fn unsupported_arguments_are_refused() {
        let bad = |value: Value| {
            crate::module::parse_args::<Git>(&value)
                .unwrap_err()
                .message
        };
        assert!(
            bad(json!({"repo": "r", "dest": "d", "archive": "/a.zip"})).contains("not supported")
        );
        assert!(bad(json!({"repo": "r"})).contains("destination directory"));
        assert!(bad(json!({"repo": "r", "dest": "d", "umask": "abc"})).contains("octal"));
        assert!(bad(
            json!({"repo": "r", "dest": "d", "accept_hostkey": true, "accept_newhostkey": true})
        )
        .contains("exclusive"));
    }

    #[test]
    fn ssh_command_as_ansible_builds_it() {
        let a = args(json!({"repo": "r", "dest": "d", "accept_hostkey": true, "key_file": "/k"}));
        let env = git_env(&a);
        assert_eq!(
            env[0].1,
            "ssh -o StrictHostKeyChecking=no -o BatchMode=yes  -i /k -o IdentitiesOnly=yes"
        );
    }
}
