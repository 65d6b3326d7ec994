//! `pamd` (community.general): edit one rule of a PAM service file under `/etc/pam.d`.
//!
//! Converges the rules of one service file: a rule is found by its type, control and module
//! path (all three must match, as in Ansible) and then updated, removed, given or stripped of
//! module arguments, or a new rule is inserted before or after it. Reads the file, its real
//! path (Ansible writes through a symbolic link) and the host's clock in one round trip. The
//! file is parsed by the pure function [`parse_service`] the way Linux-PAM reads it:
//! `#` starts a comment anywhere, a trailing `\` continues a rule on the next line, `@include`
//! lines, `-type` rules and `[value=action …]` controls. The edits are Ansible's
//! ([`edit_service`]); every rule is then checked with Ansible's rules (known types, controls
//! and control actions) before anything is written. Idempotence: the rule is found as wanted,
//! so planning again changes nothing.
//!
//! Differences from Ansible, which re-renders the whole file: lines converge does not change
//! are kept byte for byte (changed and inserted rules are written in Ansible's layout,
//! `type` padded to 11 columns), and comments or blank lines next to an inserted rule stay
//! where they are (Ansible drops those between the anchor rule and its neighbour). As in
//! Ansible, a changed file gets `# Updated by Ansible - TIME` as its second line.
//!
//! ```yaml
//! - community.general.pamd:
//!     name: su
//!     type: auth
//!     control: sufficient
//!     module_path: pam_rootok.so
//!     new_type: auth
//!     new_control: required
//!     new_module_path: pam_wheel.so
//!     module_arguments: use_uid
//!     state: after
//! ```

use crate::args::{Flag, StringList};
use crate::host::{Command, Host, WriteOptions};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// A PAM rule type; a leading `-` tells PAM to skip a missing module silently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum PamType {
    /// `account`.
    #[serde(rename = "account")]
    Account,
    /// `-account`.
    #[serde(rename = "-account")]
    OptionalAccount,
    /// `auth`.
    #[serde(rename = "auth")]
    Auth,
    /// `-auth`.
    #[serde(rename = "-auth")]
    OptionalAuth,
    /// `password`.
    #[serde(rename = "password")]
    Password,
    /// `-password`.
    #[serde(rename = "-password")]
    OptionalPassword,
    /// `session`.
    #[serde(rename = "session")]
    Session,
    /// `-session`.
    #[serde(rename = "-session")]
    OptionalSession,
}

impl PamType {
    /// The type as written in a service file.
    pub fn as_str(self) -> &'static str {
        match self {
            PamType::Account => "account",
            PamType::OptionalAccount => "-account",
            PamType::Auth => "auth",
            PamType::OptionalAuth => "-auth",
            PamType::Password => "password",
            PamType::OptionalPassword => "-password",
            PamType::Session => "session",
            PamType::OptionalSession => "-session",
        }
    }
}

/// The types Ansible accepts.
pub const VALID_TYPES: &[&str] = &[
    "account",
    "-account",
    "auth",
    "-auth",
    "password",
    "-password",
    "session",
    "-session",
];

const SIMPLE_CONTROLS: &[&str] = &[
    "required",
    "requisite",
    "sufficient",
    "optional",
    "include",
    "substack",
    "definitive",
];

const CONTROL_VALUES: &[&str] = &[
    "success",
    "open_err",
    "symbol_err",
    "service_err",
    "system_err",
    "buf_err",
    "perm_denied",
    "auth_err",
    "cred_insufficient",
    "authinfo_unavail",
    "user_unknown",
    "maxtries",
    "new_authtok_reqd",
    "acct_expired",
    "session_err",
    "cred_unavail",
    "cred_expired",
    "cred_err",
    "no_module_data",
    "conv_err",
    "authtok_err",
    "authtok_recover_err",
    "authtok_lock_busy",
    "authtok_disable_aging",
    "try_again",
    "ignore",
    "abort",
    "authtok_expired",
    "module_unknown",
    "bad_item",
    "conv_again",
    "incomplete",
    "default",
];

const CONTROL_ACTIONS: &[&str] = &["ignore", "bad", "die", "ok", "done", "reset"];

/// What to do with the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PamdState {
    /// Change the matching rules' type, control, module path or arguments to the `new_*`
    /// values and `module_arguments`.
    #[default]
    Updated,
    /// Insert the new rule before each matching rule (unless the rule before already is it).
    Before,
    /// Insert the new rule after each matching rule (unless the rule after already is it).
    After,
    /// Add the `module_arguments` missing from the matching rules; `key=value` arguments take
    /// the given value.
    ArgsPresent,
    /// Remove the `module_arguments` (exactly as written) from the matching rules.
    ArgsAbsent,
    /// Remove the matching rules.
    Absent,
}

/// Arguments of `pamd`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PamdArgs {
    /// The service file to edit, below `path` (`system-auth`, `common-auth`, `sshd`).
    pub name: String,
    /// The type of the rule to find.
    #[serde(rename = "type")]
    pub rule_type: PamType,
    /// The control of the rule to find: `required`, `sufficient`… or a bracketed one such as
    /// `'[success=1 default=ignore]'` (quote it in YAML).
    pub control: String,
    /// The module path of the rule to find (`pam_unix.so`, `/lib/security/pam_duo.so`).
    pub module_path: String,
    /// The new rule's type (`updated`, `before`, `after`).
    pub new_type: Option<PamType>,
    /// The new rule's control.
    pub new_control: Option<String>,
    /// The new rule's module path.
    pub new_module_path: Option<String>,
    /// Module arguments: with `updated` they replace the rule's (an empty string removes them
    /// all); with `args_present` they are added (a `key=value` one takes the new value); with
    /// `args_absent` they are removed; with `before`/`after` they are the new rule's. A string
    /// is split at commas, so give arguments that contain a comma as a YAML list.
    pub module_arguments: Option<StringList>,
    /// `updated`, `before`, `after`, `args_present`, `args_absent` or `absent`.
    #[serde(default)]
    pub state: PamdState,
    /// The directory of the service files.
    #[serde(default = "default_path")]
    pub path: String,
    /// Keep a copy of the file as `FILE.YYYY-MM-DD@HH:MM:SS~` before changing it (its path
    /// is `backupdest` in the result).
    #[serde(default)]
    pub backup: Flag,
}

fn default_path() -> String {
    "/etc/pam.d".into()
}

/// The `pamd` module.
pub struct Pamd;

impl TypedModule for Pamd {
    type Args = PamdArgs;
    const NAME: &'static str = "pamd";
    const SUMMARY: &'static str = "Edit a rule of a PAM service file in /etc/pam.d";
    const EXAMPLES: &'static str = "- community.general.pamd:\n    name: system-auth\n    type: auth\n    control: required\n    module_path: pam_faillock.so\n    new_control: sufficient\n\n- community.general.pamd:\n    name: su\n    type: auth\n    control: sufficient\n    module_path: pam_rootok.so\n    new_type: auth\n    new_control: required\n    new_module_path: pam_wheel.so\n    module_arguments: use_uid\n    state: after\n\n- community.general.pamd:\n    name: common-auth\n    type: auth\n    control: '[success=1 default=ignore]'\n    module_path: pam_unix.so\n    module_arguments: [nullok, try_first_pass]\n    state: args_present\n\n- community.general.pamd:\n    name: login\n    type: session\n    control: optional\n    module_path: pam_motd.so\n    state: absent\n";
    const USES_FACTS: bool = false;

    fn check(args: &PamdArgs) -> Result<(), ArgsError> {
        fn missing(names: &[(&'static str, bool)]) -> Vec<&'static str> {
            names
                .iter()
                .filter(|(_, given)| !given)
                .map(|(name, _)| *name)
                .collect()
        }
        let (state, needed) = match args.state {
            PamdState::ArgsPresent => (
                "args_present",
                missing(&[("module_arguments", args.module_arguments.is_some())]),
            ),
            PamdState::ArgsAbsent => (
                "args_absent",
                missing(&[("module_arguments", args.module_arguments.is_some())]),
            ),
            PamdState::Before | PamdState::After => (
                if args.state == PamdState::Before {
                    "before"
                } else {
                    "after"
                },
                missing(&[
                    ("new_control", args.new_control.is_some()),
                    ("new_type", args.new_type.is_some()),
                    ("new_module_path", args.new_module_path.is_some()),
                ]),
            ),
            _ => ("", Vec::new()),
        };
        if let Some(first) = needed.first() {
            return Err(ArgsError::new(
                Some(first),
                format!(
                    "state is {state} but all of the following are missing: {}",
                    needed.join(", ")
                ),
            ));
        }
        if args.state == PamdState::ArgsPresent {
            let arguments = parse_arguments(args.module_arguments.as_ref());
            if arguments.iter().any(|a| a.starts_with('[')) {
                return Err(ArgsError::new(
                    Some("module_arguments"),
                    "Unable to process bracketed '[' complex arguments with 'args_present'. Please use 'updated'.",
                ));
            }
        }
        Ok(())
    }

    fn plan(args: PamdArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let file = service_path(&args.path, &args.name);
        let read = read_service(host, &file)?;
        let mut service = parse_service(&read.content).map_err(|error| ModuleError::Failed {
            message: format!("{file}:{}: {}", error.line, error.message),
            hint: Some("fix the line by hand; converge edits only files it can read".into()),
        })?;
        let changes = edit_service(&mut service, &args);
        if let Err(message) = service.validate() {
            return Err(ModuleError::failed(message));
        }
        let mut plan = Plan::unchanged();
        plan.result
            .insert("change_count".into(), Value::from(changes));
        plan.result
            .insert("backupdest".into(), Value::String(String::new()));
        if changes == 0 {
            return Ok(plan);
        }
        let after = service.render(&read.now);
        let mut steps = Vec::new();
        if args.backup.0 {
            let backup = format!("{file}.{}~", read.backup_stamp);
            steps.push(Step::Run {
                command: Command::argv(["cp", "-p", "--", &read.real_path, &backup]),
                allow_failure: false,
            });
            plan.result
                .insert("backupdest".into(), Value::String(backup));
        }
        steps.push(Step::WriteFile {
            path: read.real_path.clone(),
            content: after.clone().into_bytes(),
            options: WriteOptions::default(),
        });
        plan.push(
            Change::content(file, Some(read.content), Some(after)),
            steps,
        );
        Ok(plan)
    }
}

/// `path/name`, or `name` when it is absolute (Python's `os.path.join`).
pub fn service_path(dir: &str, name: &str) -> String {
    if name.starts_with('/') {
        name.to_string()
    } else {
        crate::fsutil::join(dir, name)
    }
}

struct ServiceRead {
    content: String,
    real_path: String,
    /// The host's clock as Python's `datetime.now().isoformat()` prints it.
    now: String,
    /// The host's clock as Ansible names backups (`YYYY-MM-DD@HH:MM:SS`).
    backup_stamp: String,
}

/// One round trip: the clock (twice formatted), the real path, then the file.
fn read_service(host: &mut dyn Host, file: &str) -> Result<ServiceRead, ModuleError> {
    let quoted = crate::quote(file);
    let script = format!(
        "date '+%Y-%m-%dT%H:%M:%S.%6N'; date '+%Y-%m-%d@%H:%M:%S'; \
         if [ ! -f {quoted} ]; then echo \"No such file: {file}\" >&2; exit 3; fi; \
         readlink -f -- {quoted} && cat -- {quoted}"
    );
    let output = host.run(&Command::shell(script))?;
    if !output.success() {
        return Err(ModuleError::Failed {
            message: format!(
                "Unable to open/read PAM module file {file} with error {}",
                output.stderr_text().trim()
            ),
            hint: Some("`name` is a file below `path` (default /etc/pam.d)".into()),
        });
    }
    let stdout = String::from_utf8(output.stdout)
        .map_err(|_| ModuleError::failed(format!("`{file}` is not UTF-8 text")))?;
    let mut parts = stdout.splitn(4, '\n');
    let now = parts.next().unwrap_or_default().to_string();
    let backup_stamp = parts.next().unwrap_or_default().to_string();
    let real_path = parts.next().unwrap_or_default().to_string();
    let content = parts.next().unwrap_or_default().to_string();
    Ok(ServiceRead {
        content,
        real_path: if real_path.is_empty() {
            file.to_string()
        } else {
            real_path
        },
        now,
        backup_stamp,
    })
}

/// A line of a PAM service file that cannot be read as a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// One rule: `type control module-path arguments…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// `auth`, `-session`…
    pub rule_type: String,
    /// A simple control (`required`) or a bracketed one, normalised to
    /// `[value=action value=action]` (one space between pairs, no spaces around `=`).
    pub control: String,
    /// The module path.
    pub module_path: String,
    /// The module arguments; a `[…]` argument (which may hold spaces) is one item.
    pub args: Vec<String>,
    /// The rule's text as read (all its physical lines, continuation lines and a trailing
    /// comment included); `None` once changed, or for a new rule: rendered in Ansible's layout.
    pub raw: Option<String>,
}

impl Rule {
    /// A new rule from its parts (the control is normalised).
    pub fn new(rule_type: &str, control: &str, module_path: &str, args: Vec<String>) -> Rule {
        Rule {
            rule_type: rule_type.to_string(),
            control: normalize_control(control),
            module_path: module_path.to_string(),
            args,
            raw: None,
        }
    }

    /// True when type, control and path are these (Ansible's match: arguments do not count).
    pub fn matches(&self, rule_type: &str, control: &str, module_path: &str) -> bool {
        self.rule_type == rule_type && self.control == control && self.module_path == module_path
    }

    /// The rule in Ansible's layout, without a newline.
    pub fn render(&self) -> String {
        let head = format!(
            "{:<11}{} {}",
            self.rule_type, self.control, self.module_path
        );
        if self.args.is_empty() {
            head
        } else {
            format!("{head} {}", self.args.join(" "))
        }
    }

    /// Ansible's check of a rule: a known type, a known simple control, or bracketed
    /// `value=action` pairs with known values and actions (or a jump count).
    pub fn validate(&self) -> Result<(), String> {
        let line = self.render();
        if !VALID_TYPES.contains(&self.rule_type.as_str()) {
            return Err(format!(
                "Rule type, {}, is not valid in rule {line}",
                self.rule_type
            ));
        }
        let Some(inner) = self
            .control
            .strip_prefix('[')
            .and_then(|c| c.strip_suffix(']'))
        else {
            if !SIMPLE_CONTROLS.contains(&self.control.as_str()) {
                return Err(format!(
                    "Rule control, {}, is not valid in rule {line}",
                    self.control
                ));
            }
            return Ok(());
        };
        for pair in inner.split_whitespace() {
            let Some((value, action)) = pair.split_once('=') else {
                return Err(format!(
                    "Rule control value, {pair}, is not valid in rule {line}"
                ));
            };
            if !CONTROL_VALUES.contains(&value) {
                return Err(format!(
                    "Rule control value, {value}, is not valid in rule {line}"
                ));
            }
            if !CONTROL_ACTIONS.contains(&action) && action.parse::<u64>().is_err() {
                return Err(format!(
                    "Rule control action, {action}, is not valid in rule {line}"
                ));
            }
        }
        Ok(())
    }

    fn text(&self) -> String {
        match &self.raw {
            Some(raw) => raw.clone(),
            None => format!("{}\n", self.render()),
        }
    }
}

/// One line (or, for a continued rule, several lines) of a service file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PamLine {
    /// Empty or only white space (text kept, newline included).
    Blank(String),
    /// A `#` comment.
    Comment(String),
    /// `@include FILE` (Debian).
    Include(String),
    /// A rule.
    Rule(Rule),
}

impl PamLine {
    fn text(&self) -> String {
        match self {
            PamLine::Blank(text) | PamLine::Comment(text) | PamLine::Include(text) => text.clone(),
            PamLine::Rule(rule) => rule.text(),
        }
    }

    fn is_filler(&self) -> bool {
        matches!(self, PamLine::Blank(_) | PamLine::Comment(_))
    }

    fn rule(&self) -> Option<&Rule> {
        match self {
            PamLine::Rule(rule) => Some(rule),
            _ => None,
        }
    }
}

/// A parsed service file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PamService {
    /// The lines in file order.
    pub lines: Vec<PamLine>,
}

/// `[success = 1  default=ignore]` → `[success=1 default=ignore]`; simple controls unchanged.
pub fn normalize_control(control: &str) -> String {
    let control = control.trim();
    if !control.starts_with('[') {
        return control.to_string();
    }
    let inner = control.replace(['[', ']'], "");
    let mut pairs = Vec::new();
    let mut words = inner.split_whitespace().peekable();
    while let Some(word) = words.next() {
        let mut pair = word.to_string();
        // `value = action` and `value= action` are one pair.
        while pair.ends_with('=') || words.peek().is_some_and(|next| next.starts_with('=')) {
            match words.next() {
                Some(next) => pair.push_str(next),
                None => break,
            }
        }
        pairs.push(pair);
    }
    format!("[{}]", pairs.join(" "))
}

/// Split module arguments at white space, keeping a `[…]` part (which may hold spaces, and
/// `\]` for a literal bracket) inside its argument, as Linux-PAM reads them.
pub fn split_arguments(text: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '[' {
            current.push(c);
            while let Some(inner) = chars.next() {
                current.push(inner);
                if inner == '\\' && chars.peek() == Some(&']') {
                    current.push(chars.next().unwrap_or(']'));
                    continue;
                }
                if inner == ']' {
                    break;
                }
            }
        } else if c.is_whitespace() {
            if !current.is_empty() {
                args.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        args.push(current);
    }
    args
}

/// `module_arguments` as a list of single arguments (each item split as PAM splits them).
pub fn parse_arguments(list: Option<&StringList>) -> Vec<String> {
    list.map(|list| {
        list.0
            .iter()
            .flat_map(|item| split_arguments(item))
            .collect()
    })
    .unwrap_or_default()
}

/// Parse a service file. Comments (`#` anywhere), blank lines, `@include` lines and rules
/// are told apart; a rule ending in `\` continues on the next line (comment and blank lines
/// in between are skipped, as Linux-PAM does). A line that is none of these is an error.
pub fn parse_service(text: &str) -> Result<PamService, ParseError> {
    let mut lines = Vec::new();
    let mut physical = text.split_inclusive('\n').enumerate().peekable();
    while let Some((index, line)) = physical.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            lines.push(PamLine::Blank(line.to_string()));
            continue;
        }
        if trimmed.starts_with('#') {
            lines.push(PamLine::Comment(line.to_string()));
            continue;
        }
        if trimmed.starts_with("@include") {
            lines.push(PamLine::Include(line.to_string()));
            continue;
        }
        let mut raw = line.to_string();
        let mut logical = String::new();
        let mut current = line;
        let mut continuing = false;
        loop {
            let before_comment = current.split('#').next().unwrap_or_default();
            let content = before_comment.trim();
            let had_comment = before_comment.len() != current.len();
            if continuing && content.is_empty() {
                // Linux-PAM skips comment and blank lines inside a continued rule.
                match physical.next() {
                    Some((_, next)) => {
                        raw.push_str(next);
                        current = next;
                        continue;
                    }
                    None => break,
                }
            }
            match content.strip_suffix('\\') {
                Some(continued) if !had_comment => {
                    logical.push_str(continued);
                    logical.push(' ');
                    continuing = true;
                    match physical.next() {
                        Some((_, next)) => {
                            raw.push_str(next);
                            current = next;
                        }
                        None => break,
                    }
                }
                _ => {
                    logical.push_str(content);
                    break;
                }
            }
        }
        let rule = parse_rule(&logical).map_err(|message| ParseError {
            line: index + 1,
            message,
        })?;
        lines.push(PamLine::Rule(Rule {
            raw: Some(raw),
            ..rule
        }));
    }
    Ok(PamService { lines })
}

fn parse_rule(text: &str) -> Result<Rule, String> {
    let text = text.trim_start();
    let (rule_type, rest) = text
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("`{}` is not a rule: no control", text.trim()))?;
    let rest = rest.trim_start();
    let (control, rest) = if rest.starts_with('[') {
        let end = rest
            .find(']')
            .ok_or_else(|| format!("`{}`: the control's `[` has no `]`", text.trim()))?;
        (&rest[..=end], &rest[end + 1..])
    } else {
        rest.split_once(char::is_whitespace).unwrap_or((rest, ""))
    };
    let mut after = split_arguments(rest).into_iter();
    let module_path = after
        .next()
        .ok_or_else(|| format!("`{}` is not a rule: no module path", text.trim()))?;
    Ok(Rule {
        rule_type: rule_type.to_string(),
        control: normalize_control(control),
        module_path,
        args: after.collect(),
        raw: None,
    })
}

impl PamService {
    /// The file's text: lines as read, changed and new rules in Ansible's layout.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for line in &self.lines {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&line.text());
        }
        out
    }

    /// [`PamService::text`] with Ansible's mark `# Updated by Ansible - NOW` as the second
    /// line (replacing an older mark there; a file of one line gets an empty line first).
    pub fn render(&self, now: &str) -> String {
        let text = self.text();
        let mark = format!("# Updated by Ansible - {now}");
        let mut lines: Vec<&str> = text.lines().collect();
        if lines.len() <= 1 {
            lines.insert(0, "");
            lines.insert(1, &mark);
        } else if lines[1].starts_with("# Updated by Ansible") {
            lines[1] = &mark;
        } else {
            lines.insert(1, &mark);
        }
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }

    /// Check every rule as Ansible does; the first bad one is the error.
    pub fn validate(&self) -> Result<(), String> {
        self.lines
            .iter()
            .filter_map(PamLine::rule)
            .try_for_each(Rule::validate)
    }

    fn matching(&self, rule_type: &str, control: &str, path: &str) -> Vec<usize> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, line)| {
                line.rule()
                    .is_some_and(|rule| rule.matches(rule_type, control, path))
            })
            .map(|(index, _)| index)
            .collect()
    }
}

/// Apply `args` to `service`; returns how many rules changed (Ansible's `change_count`).
pub fn edit_service(service: &mut PamService, args: &PamdArgs) -> usize {
    let rule_type = args.rule_type.as_str();
    let control = normalize_control(&args.control);
    let path = args.module_path.as_str();
    let new_type = args.new_type.map(PamType::as_str);
    let new_control = args.new_control.as_deref().map(normalize_control);
    let new_path = args.new_module_path.as_deref();
    let arguments = args
        .module_arguments
        .as_ref()
        .map(|list| parse_arguments(Some(list)));
    let found = service.matching(rule_type, &control, path);
    let mut changes = 0;
    match args.state {
        PamdState::Updated => {
            for index in found {
                let PamLine::Rule(rule) = &mut service.lines[index] else {
                    continue;
                };
                let mut changed = false;
                if let Some(t) = new_type.filter(|t| *t != rule.rule_type) {
                    rule.rule_type = t.to_string();
                    changed = true;
                }
                if let Some(c) = new_control.as_ref().filter(|c| **c != rule.control) {
                    rule.control = c.clone();
                    changed = true;
                }
                if let Some(p) = new_path.filter(|p| *p != rule.module_path) {
                    rule.module_path = p.to_string();
                    changed = true;
                }
                if let Some(a) = arguments.as_ref().filter(|a| **a != rule.args) {
                    rule.args = a.clone();
                    changed = true;
                }
                if changed {
                    rule.raw = None;
                    changes += 1;
                }
            }
        }
        PamdState::Before | PamdState::After => {
            let (Some(t), Some(c), Some(p)) = (new_type, new_control.as_ref(), new_path) else {
                return 0;
            };
            let before = args.state == PamdState::Before;
            // Indices shift as rules go in: track the anchors by their order among rules.
            let mut anchors: Vec<usize> = found;
            while let Some(anchor) = anchors.first().copied() {
                anchors.remove(0);
                let neighbour = if before {
                    service.lines[..anchor]
                        .iter()
                        .rev()
                        .find(|line| !line.is_filler())
                } else {
                    service.lines[anchor + 1..]
                        .iter()
                        .find(|line| !line.is_filler())
                };
                let present = neighbour
                    .and_then(PamLine::rule)
                    .is_some_and(|rule| rule.matches(t, c, p));
                if present {
                    continue;
                }
                let rule = Rule::new(t, c, p, arguments.clone().unwrap_or_default());
                let at = if before { anchor } else { anchor + 1 };
                service.lines.insert(at, PamLine::Rule(rule));
                for later in &mut anchors {
                    if *later >= at {
                        *later += 1;
                    }
                }
                changes += 1;
            }
        }
        PamdState::ArgsPresent => {
            let wanted = arguments.unwrap_or_default();
            for index in found {
                let PamLine::Rule(rule) = &mut service.lines[index] else {
                    continue;
                };
                if add_arguments(rule, &wanted) {
                    rule.raw = None;
                    changes += 1;
                }
            }
        }
        PamdState::ArgsAbsent => {
            let unwanted = arguments.unwrap_or_default();
            for index in found {
                let PamLine::Rule(rule) = &mut service.lines[index] else {
                    continue;
                };
                if rule.args.iter().any(|a| unwanted.contains(a)) {
                    rule.args.retain(|a| !unwanted.contains(a));
                    rule.raw = None;
                    changes += 1;
                }
            }
        }
        PamdState::Absent => {
            changes = found.len();
            for index in found.into_iter().rev() {
                service.lines.remove(index);
            }
        }
    }
    changes
}

/// Ansible's `args_present` on one rule: missing plain arguments are appended, then missing
/// `key=value` ones; a `key=value` whose value differs takes the new value in place.
fn add_arguments(rule: &mut Rule, wanted: &[String]) -> bool {
    let key_of = |arg: &str| {
        arg.split_once('=')
            .map(|(k, v)| (k.to_string(), v.to_string()))
    };
    let current_simple: Vec<String> = rule
        .args
        .iter()
        .filter(|a| !a.starts_with('[') && !a.contains('='))
        .cloned()
        .collect();
    let current_keys: Vec<(String, String)> = rule
        .args
        .iter()
        .filter(|a| !a.starts_with('['))
        .filter_map(|a| key_of(a))
        .collect();
    let mut changed = false;
    let mut added = Vec::new();
    for arg in wanted.iter().filter(|a| !a.contains('=')) {
        if !current_simple.contains(arg) && !added.contains(arg) {
            added.push(arg.clone());
        }
    }
    for arg in wanted.iter().filter(|a| a.contains('=')) {
        let Some((key, value)) = key_of(arg) else {
            continue;
        };
        match current_keys.iter().find(|(k, _)| *k == key) {
            None => {
                if !added
                    .iter()
                    .any(|a| key_of(a).is_some_and(|(k, _)| k == key))
                {
                    added.push(arg.clone());
                }
            }
            Some((_, old)) if *old != value => {
                if let Some(slot) = rule.args.iter_mut().find(|a| **a == format!("{key}={old}")) {
                    *slot = format!("{key}={value}");
                    changed = true;
                }
            }
            Some(_) => {}
        }
    }
    if !added.is_empty() {
        rule.args.extend(added);
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_are_normalised_like_ansible_reads_them() {
        assert_eq!(
            normalize_control("[success = 1  default=ignore]"),
            "[success=1 default=ignore]"
        );
        assert_eq!(normalize_control("required"), "required");
    }

    #[test]
    fn arguments_keep_brackets_with_spaces_together() {
        assert_eq!(
            split_arguments("use_first_pass  query=[select a from b where c = d] x"),
            ["use_first_pass", "query=[select a from b where c = d]", "x"]
        );
        assert_eq!(split_arguments(r"[a \] b] c"), [r"[a \] b]", "c"]);
    }
}
