//! `apt_repository`: one APT source line present in, or absent from, the host's
//! `sources.list` files.
//!
//! Converges the one-line-style sources: `/etc/apt/sources.list` and
//! `/etc/apt/sources.list.d/*.list` (deb822 `.sources` files are not read, as in Ansible).
//! Reads every such file, and where a file is a symbolic link its target, in one round trip.
//! Lines are compared as Ansible compares them ([`parse_line`]: white space collapsed, a
//! trailing `# comment` apart, a leading `#` meaning disabled). `present` enables every
//! disabled copy of the line, or, when there is none, appends it to the file Ansible would
//! name ([`suggest_filename`]: `deb http://dl.example.com/debian stable main` goes to
//! `/etc/apt/sources.list.d/dl_example_com_debian.list`, or `filename` + `.list`); `absent`
//! removes every enabled copy, and a file left with no line at all. With `update_cache`
//! (the default) a change is followed by `apt-get update` (retried with back-off as in
//! Ansible); when it keeps failing the files are put back as they were and the task fails.
//! Idempotence: the line is there and enabled, so planning again changes nothing.
//!
//! A `ppa:OWNER/NAME` repository is expanded to Launchpad's line for `codename` (default: the
//! host's release); removing it, and finding it already there, work offline. Adding one needs
//! Launchpad's signing key from the network, which converge does not fetch: that is refused
//! with the steps to do it by hand. Lines converge does not change are kept byte for byte
//! (Ansible rewrites every sources file in its own layout when it changes one).
//!
//! ```yaml
//! - ansible.builtin.apt_repository:
//!     repo: deb [signed-by=/etc/apt/keyrings/example.asc] https://dl.example.com/debian stable main
//!     state: present
//!     filename: example
//! ```

use crate::args::{Flag, Mode};
use crate::host::{Command, FileAttributes, Host, WriteOptions};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

/// The main sources file.
pub const SOURCES_LIST: &str = "/etc/apt/sources.list";
/// The directory of the other sources files.
pub const SOURCES_DIR: &str = "/etc/apt/sources.list.d";
const PPA_URI: &str = "https://ppa.launchpadcontent.net";

/// Whether the line should be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RepoState {
    /// Present and enabled.
    #[default]
    Present,
    /// Not there (enabled).
    Absent,
}

fn yes() -> Flag {
    Flag(true)
}

fn five() -> u32 {
    5
}

fn twelve() -> u32 {
    12
}

/// Arguments of `apt_repository`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AptRepositoryArgs {
    /// The source line (`deb [OPTIONS] URI SUITE [COMPONENT…]`, or `deb-src …`), or
    /// `ppa:OWNER/NAME`.
    pub repo: String,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: RepoState,
    /// The mode of a sources file the line is added to (default 0644 for a new file).
    pub mode: Option<Mode>,
    /// Run `apt-get update` after a change.
    #[serde(default = "yes", alias = "update-cache")]
    pub update_cache: Flag,
    /// How many times `apt-get update` is tried before the change is undone.
    #[serde(default = "five")]
    pub update_cache_retries: u32,
    /// The longest wait between tries, in seconds (the waits double from 1 s).
    #[serde(default = "twelve")]
    pub update_cache_retry_max_delay: u32,
    /// Taken for Ansible's sake: it only concerns Launchpad lookups, which converge does not do.
    #[serde(default = "yes")]
    pub validate_certs: Flag,
    /// The file's name in `/etc/apt/sources.list.d`, without `.list` (default: made from the
    /// line's URI).
    pub filename: Option<String>,
    /// The release a `ppa:` line names (default: the host's, e.g. `noble`).
    pub codename: Option<String>,
    /// Taken for Ansible's sake: converge does not need python3-apt.
    #[serde(default = "yes")]
    pub install_python_apt: Flag,
}

/// The `apt_repository` module.
pub struct AptRepository;

const FILE_MARK: &str = "--converge-apt_repository-file-- ";

impl TypedModule for AptRepository {
    type Args = AptRepositoryArgs;
    const NAME: &'static str = "apt_repository";
    const SUMMARY: &'static str = "Add or remove an APT source line in sources.list.d";
    const EXAMPLES: &'static str = "- ansible.builtin.apt_repository:\n    repo: deb [signed-by=/etc/apt/keyrings/example.asc] https://dl.example.com/debian stable main\n    filename: example\n\n- ansible.builtin.apt_repository:\n    repo: deb http://deb.debian.org/debian bookworm-backports main\n    state: present\n    update_cache: false\n\n- ansible.builtin.apt_repository:\n    repo: deb http://old.example.com/debian stable main\n    state: absent\n";

    fn check(args: &AptRepositoryArgs) -> Result<(), ArgsError> {
        if args.repo.trim().is_empty() {
            return Err(ArgsError::new(
                Some("repo"),
                "Please set argument 'repo' to a non-empty value",
            ));
        }
        if let Some(name) = &args.filename {
            if name.is_empty() || (name.contains('/') && !name.starts_with('/')) {
                return Err(ArgsError::new(
                    Some("filename"),
                    format!("`filename: {name}` is not a file name"),
                )
                .with_hint(
                    "give a bare name such as `example` (`.list` is added), or an absolute path",
                ));
            }
        }
        if !args.repo.starts_with("ppa:") {
            let parsed = parse_line(&args.repo);
            if !parsed.valid || !parsed.enabled {
                return Err(ArgsError::new(
                    Some("repo"),
                    format!("Invalid repository string: {}", invalid_text(&args.repo)),
                )
                .with_hint("a source line starts with `deb` or `deb-src`, e.g. `deb http://deb.debian.org/debian bookworm main`"));
            }
        }
        Ok(())
    }

    fn plan(
        args: AptRepositoryArgs,
        host: &mut dyn Host,
        context: &Context,
    ) -> Result<Plan, ModuleError> {
        require_apt(context)?;
        let mut files = read_sources(host)?;
        let mut plan = Plan::unchanged();
        plan.result
            .insert("repo".into(), Value::String(args.repo.clone()));
        plan.result.insert(
            "state".into(),
            Value::String(
                match args.state {
                    RepoState::Present => "present",
                    RepoState::Absent => "absent",
                }
                .into(),
            ),
        );
        let before: Vec<(String, Option<String>)> = files
            .iter()
            .map(|f| (f.path.clone(), f.original.clone()))
            .collect();

        let source = if let Some(ppa) = args.repo.strip_prefix("ppa:") {
            let codename = args
                .codename
                .clone()
                .unwrap_or_else(|| context.facts.distribution_release.clone());
            expand_ppa(ppa, &codename)
        } else {
            parse_line(&args.repo).source
        };
        let mut appended_to = None;
        match args.state {
            RepoState::Present => {
                let mut found = false;
                for file in &mut files {
                    for entry in &mut file.entries {
                        if entry.line.valid && entry.line.source == source {
                            found = true;
                            if !entry.line.enabled {
                                entry.line.enabled = true;
                                entry.raw = None;
                            }
                        }
                    }
                }
                if !found {
                    if args.repo.starts_with("ppa:") {
                        return Err(ModuleError::Failed {
                            message: format!(
                                "adding `{}` needs its signing key from Launchpad over the network, which converge does not fetch",
                                args.repo
                            ),
                            hint: Some(format!(
                                "download the key to /etc/apt/keyrings/ (e.g. with `get_url`), then add the line with `apt_repository: repo: \"deb [signed-by=/etc/apt/keyrings/KEY.asc] {}\"`",
                                source.trim_start_matches("deb ")
                            )),
                        });
                    }
                    let name =
                        suggest_filename(&source, args.filename.as_deref()).ok_or_else(|| {
                            ModuleError::failed(format!("Invalid repository string: {}", args.repo))
                        })?;
                    let path = expand_path(&name);
                    let index = match files.iter().position(|f| f.path == path) {
                        Some(index) => index,
                        None => {
                            files.push(SourcesFile {
                                path: path.clone(),
                                write_path: path.clone(),
                                original: None,
                                entries: Vec::new(),
                            });
                            files.len() - 1
                        }
                    };
                    files[index].entries.push(Entry {
                        raw: None,
                        line: SourceLine {
                            valid: true,
                            enabled: true,
                            source: source.clone(),
                            comment: String::new(),
                        },
                    });
                    appended_to = Some(index);
                }
            }
            RepoState::Absent => {
                for file in &mut files {
                    file.entries.retain(|entry| {
                        !(entry.line.valid && entry.line.enabled && entry.line.source == source)
                    });
                }
            }
        }

        let mut added = Vec::new();
        let mut removed = Vec::new();
        let mut diff = Vec::new();
        let mut revert = Vec::new();
        for (index, file) in files.iter().enumerate() {
            let after = (!file.entries.is_empty()).then(|| file.render());
            let old = before
                .iter()
                .find(|(path, _)| *path == file.path)
                .and_then(|(_, text)| text.clone());
            if after == old {
                continue;
            }
            match (&old, &after) {
                (None, Some(text)) => {
                    added.push(file.path.clone());
                    diff.push(json!({"before": "", "after": text, "before_header": "/dev/null", "after_header": file.path}));
                    let mode = match &args.mode {
                        Some(mode) => Some(mode_bits(mode)?),
                        None => Some(0o644),
                    };
                    plan.push(
                        Change::content(&file.path, None, Some(text.clone())),
                        [Step::WriteFile {
                            path: file.write_path.clone(),
                            content: text.clone().into_bytes(),
                            options: WriteOptions {
                                attributes: FileAttributes {
                                    mode,
                                    ..FileAttributes::default()
                                },
                                create_parents: true,
                                ..WriteOptions::default()
                            },
                        }],
                    );
                    revert.push(format!("rm -f -- {}", crate::quote(&file.write_path)));
                }
                (Some(text), None) => {
                    removed.push(file.path.clone());
                    diff.push(json!({"before": text, "after": "", "before_header": file.path, "after_header": "/dev/null"}));
                    plan.push(
                        Change::content(&file.path, Some(text.clone()), None),
                        [Step::Remove {
                            path: file.path.clone(),
                        }],
                    );
                    revert.push(restore(&file.write_path, text));
                }
                (Some(old_text), Some(text)) => {
                    let mode = match (&args.mode, appended_to == Some(index)) {
                        (Some(mode), true) => Some(mode_bits(mode)?),
                        _ => None,
                    };
                    plan.push(
                        Change::content(&file.path, Some(old_text.clone()), Some(text.clone())),
                        [Step::WriteFile {
                            path: file.write_path.clone(),
                            content: text.clone().into_bytes(),
                            options: WriteOptions {
                                attributes: FileAttributes {
                                    mode,
                                    ..FileAttributes::default()
                                },
                                ..WriteOptions::default()
                            },
                        }],
                    );
                    revert.push(restore(&file.write_path, old_text));
                }
                (None, None) => {}
            }
        }
        plan.result.insert("sources_added".into(), json!(added));
        plan.result.insert("sources_removed".into(), json!(removed));
        plan.result.insert("diff".into(), Value::Array(diff));
        if plan.is_change() && args.update_cache.0 {
            plan.push(
                Change::note("apt cache", "refresh the package lists (`apt-get update`)"),
                [Step::Run {
                    command: update_command(
                        args.update_cache_retries,
                        args.update_cache_retry_max_delay,
                        &revert,
                    ),
                    allow_failure: false,
                }],
            );
        }
        Ok(plan)
    }
}

fn mode_bits(mode: &Mode) -> Result<u32, ModuleError> {
    mode.bits().ok_or_else(|| ModuleError::Failed {
        message: format!("`mode: {mode}`: apt_repository takes an octal mode"),
        hint: Some("write it as `'0644'`".into()),
    })
}

/// The shell command that puts `text` back into `path` (keeping the file's mode and owner).
fn restore(path: &str, text: &str) -> String {
    format!(
        "printf '%s' {} > {}",
        crate::quote(text),
        crate::quote(path)
    )
}

/// `apt-get update` tried `retries` times with waits of 1, 2, 4… seconds (at most
/// `max_delay`); when every try fails, `revert` runs and the command fails.
pub fn update_command(retries: u32, max_delay: u32, revert: &[String]) -> Command {
    let retries = retries.max(1);
    let mut script = format!(
        "i=0\nwhile :; do\n  if apt-get update -q --error-on=any; then exit 0; fi\n  i=$((i + 1))\n  [ \"$i\" -ge {retries} ] && break\n  d=$((1 << (i - 1))); [ \"$d\" -gt {max_delay} ] && d={max_delay}\n  echo \"Failed to update cache after $i tries, retrying in $d seconds\" >&2\n  sleep \"$d\"\ndone\n"
    );
    for line in revert {
        script.push_str(line);
        script.push('\n');
    }
    script.push_str(&format!(
        "echo 'Failed to update apt cache after {retries} retries; the sources files were put back as they were' >&2\nexit 1\n"
    ));
    let mut command = Command::shell(script);
    command
        .env
        .push(("DEBIAN_FRONTEND".into(), "noninteractive".into()));
    command
}

fn require_apt(context: &Context) -> Result<(), ModuleError> {
    let facts = context.facts;
    if facts.pkg_mgr == "apt" || facts.os_family == "Debian" {
        return Ok(());
    }
    let found = if facts.os_family.is_empty() {
        "facts name no OS family".to_string()
    } else {
        format!("this host is {} ({})", facts.os_family, facts.distribution)
    };
    Err(ModuleError::Failed {
        message: format!(
            "Module apt_repository is not supported on target: APT sources are Debian's; {found}"
        ),
        hint: Some("run this task only where `ansible_os_family == 'Debian'`".into()),
    })
}

/// One line of a sources file, as Ansible's `SourcesList._parse` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// The line is a `deb`/`deb-src` source.
    pub valid: bool,
    /// Not commented out.
    pub enabled: bool,
    /// The source with white space collapsed (or the line's other text).
    pub source: String,
    /// What followed a `#` after the source.
    pub comment: String,
}

impl SourceLine {
    /// Ansible's layout of the line (with a newline).
    pub fn render(&self) -> String {
        let mut out = String::new();
        if !self.enabled {
            out.push_str("# ");
        }
        out.push_str(&self.source);
        if !self.comment.is_empty() {
            out.push_str(" # ");
            out.push_str(&self.comment);
        }
        out.push('\n');
        out
    }
}

/// Parse one line as Ansible does: a leading `#` disables it, a later `#` starts a comment,
/// and it is a source when its first word is `deb` or `deb-src`.
pub fn parse_line(line: &str) -> SourceLine {
    let mut line = line.trim();
    let mut enabled = true;
    if let Some(rest) = line.strip_prefix('#') {
        enabled = false;
        line = rest;
    }
    let mut comment = String::new();
    if let Some(at) = line.find('#').filter(|at| *at > 0) {
        comment = line[at + 1..].trim().to_string();
        line = &line[..at];
    }
    let mut source = line.trim().to_string();
    let mut valid = false;
    let chunks: Vec<&str> = source.split_whitespace().collect();
    if chunks
        .first()
        .is_some_and(|first| *first == "deb" || *first == "deb-src")
    {
        valid = true;
        source = chunks.join(" ");
    }
    SourceLine {
        valid,
        enabled,
        source,
        comment,
    }
}

/// What Ansible's "Invalid repository string" quotes: the line without a leading `#` or
/// comment.
fn invalid_text(line: &str) -> String {
    let line = line.trim();
    let line = line.strip_prefix('#').unwrap_or(line);
    match line.find('#').filter(|at| *at > 0) {
        Some(at) => line[..at].to_string(),
        None => line.to_string(),
    }
}

/// Launchpad's source line for `OWNER[/NAME]` and a release.
pub fn expand_ppa(ppa: &str, codename: &str) -> String {
    let (owner, name) = ppa.split_once('/').unwrap_or((ppa, "ppa"));
    let name = name.split('/').next().unwrap_or(name);
    format!("deb {PPA_URI}/{owner}/{name}/ubuntu {codename} main")
}

/// The file name Ansible gives a new source: `filename` + `.list`, or the URI's host and
/// path without scheme, options and credentials, every run of other characters an `_`.
/// `None` when the line names no URI.
pub fn suggest_filename(source: &str, filename: Option<&str>) -> Option<String> {
    if let Some(name) = filename {
        return Some(format!("{name}.list"));
    }
    let without_options = remove_options(source);
    let without_schemes = remove_schemes(&without_options);
    let first = without_schemes
        .split_whitespace()
        .find(|part| *part != "deb" && *part != "deb-src")?;
    let first = first.split_once('@').map_or(first, |(_, host)| host);
    let cleaned: Vec<&str> = first
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .collect();
    Some(format!("{}.list", cleaned.join("_")))
}

/// Python's `re.sub(r'\[[^\]]+\]', '', line)`.
fn remove_options(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if close > 0 => {
                out.push_str(&rest[..open]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Python's `re.sub(r'\w+://', '', line)`.
fn remove_schemes(line: &str) -> String {
    let mut out = line.to_string();
    while let Some(at) = out.find("://") {
        let start = out[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| c.is_alphanumeric() || *c == '_')
            .last()
            .map(|(i, _)| i);
        match start {
            Some(start) => out.replace_range(start..at + 3, ""),
            // `://` after no word characters is kept; look past it.
            None => {
                let (head, tail) = out.split_at(at + 3);
                return format!("{head}{}", remove_schemes(tail));
            }
        }
    }
    out
}

/// A bare file name lives in `/etc/apt/sources.list.d`.
pub fn expand_path(name: &str) -> String {
    if name.contains('/') {
        name.to_string()
    } else {
        format!("{SOURCES_DIR}/{name}")
    }
}

#[derive(Debug, Clone)]
struct Entry {
    /// The line as read (newline included); `None` once changed or for a new line.
    raw: Option<String>,
    line: SourceLine,
}

#[derive(Debug, Clone)]
struct SourcesFile {
    path: String,
    /// Where writes go: the target of a symbolic link, else `path`.
    write_path: String,
    /// The content as read (`None`: a new file).
    original: Option<String>,
    entries: Vec<Entry>,
}

impl SourcesFile {
    fn render(&self) -> String {
        let mut out = String::new();
        for entry in &self.entries {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            match &entry.raw {
                Some(raw) => out.push_str(raw),
                None => out.push_str(&entry.line.render()),
            }
        }
        out
    }
}

fn read_sources(host: &mut dyn Host) -> Result<Vec<SourcesFile>, ModuleError> {
    let script = format!(
        "for f in {SOURCES_LIST} {SOURCES_DIR}/*.list; do\n  [ -f \"$f\" ] || continue\n  printf '%s%s\\n' '{FILE_MARK}' \"$f\"\n  if [ -L \"$f\" ]; then readlink -f -- \"$f\"; else printf '%s\\n' \"$f\"; fi\n  cat -- \"$f\"; echo\ndone"
    );
    let output = host.run(&Command::shell(script))?;
    if !output.success() {
        return Err(ModuleError::failed(format!(
            "cannot read the APT sources files: {}",
            output.stderr_text().trim()
        )));
    }
    Ok(parse_listing(&output.stdout_text()))
}

/// The read script's output: per file a mark line with its path, its write path, its
/// content and one extra newline.
fn parse_listing(text: &str) -> Vec<SourcesFile> {
    let mut files = Vec::new();
    for chunk in text.split(FILE_MARK).skip(1) {
        let Some((path, rest)) = chunk.split_once('\n') else {
            continue;
        };
        let (write_path, content) = rest.split_once('\n').unwrap_or((rest, ""));
        let content = content.strip_suffix('\n').unwrap_or(content).to_string();
        let entries = content
            .split_inclusive('\n')
            .map(|raw| Entry {
                raw: Some(raw.to_string()),
                line: parse_line(raw),
            })
            .collect();
        files.push(SourcesFile {
            path: path.to_string(),
            write_path: write_path.to_string(),
            original: Some(content),
            entries,
        });
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_parse_as_ansible_reads_them() {
        assert_eq!(
            parse_line("  #deb   http://a/debian  stable main  # old mirror\n"),
            SourceLine {
                valid: true,
                enabled: false,
                source: "deb http://a/debian stable main".into(),
                comment: "old mirror".into()
            }
        );
        let comment = parse_line("# See sources.list(5)\n");
        assert!(!comment.valid);
        assert_eq!(comment.render(), "# See sources.list(5)\n");
        assert!(parse_line("deb-src [arch=amd64] http://a/ x main").valid);
    }

    #[test]
    fn file_names_as_ansible_suggests_them() {
        let cases = [
            ("deb http://archive.canonical.com/ubuntu hardy partner", "archive_canonical_com_ubuntu.list"),
            ("deb [signed-by=/etc/apt/keyrings/x.asc arch=amd64] https://dl.example.com/debian stable main", "dl_example_com_debian.list"),
            ("deb https://user:secret@repo.example.net:8443/apt/ ./", "repo_example_net_8443_apt.list"),
            ("deb [trusted=yes] file:///srv/repo ./", "srv_repo.list"),
            ("deb file:/srv/repo ./", "file_srv_repo.list"),
        ];
        for (line, name) in cases {
            assert_eq!(
                suggest_filename(line, None).as_deref(),
                Some(name),
                "{line}"
            );
        }
        assert_eq!(
            suggest_filename("deb http://x/ y", Some("mine")).as_deref(),
            Some("mine.list")
        );
        assert_eq!(
            expand_ppa("deadsnakes/ppa", "noble"),
            "deb https://ppa.launchpadcontent.net/deadsnakes/ppa/ubuntu noble main"
        );
        assert_eq!(
            expand_ppa("git-core", "jammy"),
            "deb https://ppa.launchpadcontent.net/git-core/ppa/ubuntu jammy main"
        );
    }
}
