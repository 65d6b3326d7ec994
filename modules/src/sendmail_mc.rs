//! `sendmail_mc`: m4 directives in `sendmail.mc`, and the `sendmail.cf` built from it.
//!
//! Converges statements of the mc file — `FEATURE`s, `define`s, `DAEMON_OPTIONS` and raw
//! lines — present or absent, each placed where sendmail's cf/README requires (FEATUREs and
//! defines before the MAILER lines, new FEATUREs after the last FEATURE, new defines after the
//! last define, new DAEMON_OPTIONS after the last one), written with m4's quotes
//! (`` `value' ``), and then the `sendmail.cf` built from that mc. A statement is identified by
//! its FEATURE name, its define name, or its DAEMON_OPTIONS `Name=`; one that already says the
//! same is left exactly as written (a define split over lines stays split).
//!
//! Reads the mc, runs m4 on the NEW mc on the host during planning (the mc goes to m4 on
//! standard input, the cf comes back on standard output: nothing is written), and reads the
//! current cf. m4 runs where the mc's `include` of cf.m4 works: in `CF_DIR/cf` for Slackware's
//! relative `include(`../m4/cf.m4')`, in the mc's directory for Debian's absolute include, and
//! with `-D_CF_DIR_=CF_DIR/ CF_DIR/m4/cf.m4` for an mc without the include. m4 exits 0 even
//! when cf.m4 reports `*** ERROR` (a FEATURE after MAILER): that is a failure here. The plan
//! shows the mc diff and the change in the cf's `O DaemonPortOptions` lines, as m4 computed
//! them. Apply writes the mc, then the cf (old one kept as `sendmail.cf.TIMESTAMP~`) once
//! `sendmail -C NEW.cf -bt` accepted it. Restarting sendmail is a handler's job.
//!
//! Refused: `DAEMON_OPTIONS` on the submission port (or named `MSA`) while sendmail's default
//! MSA is still on — sendmail would die with "opendaemonsocket: daemon MSA: cannot listen:
//! Address already in use"; the fix is `FEATURE(`no_default_msa')`. Warned: DAEMON_OPTIONS of
//! which none listens on port 25 (the first DAEMON_OPTIONS replaces the default MTA).
//!
//! Idempotence: no mc edit needed and the cf equal to m4's output (ignoring its `##### built
//! by USER@HOST on DATE` line) → no change. A cf that is stale against its mc is rebuilt.
//! Paths: `/etc/mail/sendmail.mc` and `/etc/mail/sendmail.cf` on Debian and Slackware (on
//! Slackware copy the stock `/usr/share/sendmail/cf/cf/sendmail-slackware.mc` there first).
//!
//! ```yaml
//! - sendmail_mc:
//!     features: [no_default_msa]
//!     daemon_options:
//!       - {Port: smtp, Name: MTA}
//!       - {Port: submission, Name: MSA6, Family: inet6, M: Ea}
//!   notify: restart sendmail
//! ```

use crate::args::Flag;
use crate::fsutil;
use crate::lines::Lines;
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Step};
use crate::{Command, Host, Plan, WriteOptions};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// Whether the statements should be in the mc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum McState {
    /// Every statement is there, with the given arguments.
    #[default]
    Present,
    /// No statement of that FEATURE name, define name, daemon `Name=` or line is active.
    Absent,
}

/// A FEATURE: its name alone, or its name and arguments.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Feature {
    /// `no_default_msa` → FEATURE(`no_default_msa')dnl.
    Name(String),
    /// `{name: access_db, args: ["hash -T<TMPF> /etc/mail/access"]}`.
    Full {
        /// The FEATURE's name.
        name: String,
        /// Its arguments after the name, each written in m4 quotes.
        #[serde(default)]
        args: Vec<String>,
    },
}

/// One daemon's options: `Port=submission, Name=MSA6` or a map of the same.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(with = "Value")]
pub struct DaemonOptions(pub Vec<(String, String)>);

impl<'de> Deserialize<'de> for DaemonOptions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => parse_daemon_options(&text)
                .map(DaemonOptions)
                .map_err(serde::de::Error::custom),
            Value::Object(map) => {
                let mut pairs = Vec::new();
                for (key, value) in map {
                    let value = scalar(&value).ok_or_else(|| {
                        serde::de::Error::custom(format!(
                            "daemon option `{key}` needs a plain value"
                        ))
                    })?;
                    pairs.push((key, value));
                }
                Ok(DaemonOptions(pairs))
            }
            _ => Err(serde::de::Error::custom(
                "expected `Port=submission, Name=MSA` or a map like {Port: submission, Name: MSA}",
            )),
        }
    }
}

/// Arguments of `sendmail_mc`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SendmailMcArgs {
    /// FEATUREs: a name (`no_default_msa`) or `{name: NAME, args: [..]}`.
    #[serde(default)]
    pub features: Vec<Feature>,
    /// DAEMON_OPTIONS, each a string (`Port=submission, Name=MSA6, Family=inet6, M=Ea`) or a
    /// map (`{Port: submission, Name: MSA6, Family: inet6, M: Ea}`); identified by `Name`.
    #[serde(default)]
    pub daemon_options: Vec<DaemonOptions>,
    /// defines: `{confPRIVACY_FLAGS: "authwarnings,novrfy", SMART_HOST: relay.example.net}`
    /// → define(`NAME', `VALUE')dnl. With `state: absent` the values are ignored.
    #[serde(default)]
    pub defines: Map<String, Value>,
    /// Raw lines, matched exactly; new ones go before the MAILER lines (MAILER lines after them).
    #[serde(default)]
    pub lines: Vec<String>,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: McState,
    /// The mc file. Default `/etc/mail/sendmail.mc`.
    pub mc_path: Option<String>,
    /// The cf file built from it. Default `/etc/mail/sendmail.cf`.
    pub cf_path: Option<String>,
    /// sendmail's cf tree (with `m4/cf.m4`). Default `/usr/share/sendmail/cf`.
    pub cf_dir: Option<String>,
    /// Keep the old mc as `MC.TIMESTAMP~` when changing it (the old cf is always kept).
    #[serde(default)]
    pub backup: Flag,
}

/// The `sendmail_mc` module.
pub struct SendmailMc;

impl TypedModule for SendmailMc {
    type Args = SendmailMcArgs;
    const NAME: &'static str = "sendmail_mc";
    const SUMMARY: &'static str =
        "Edit sendmail.mc (FEATURE, define, DAEMON_OPTIONS) and rebuild sendmail.cf with m4";
    const EXAMPLES: &'static str = "- sendmail_mc:\n    features: [no_default_msa]\n    daemon_options:\n      - {Port: smtp, Name: MTA}\n      - {Port: submission, Name: MSA6, Family: inet6, M: Ea}\n  notify: restart sendmail\n\n- sendmail_mc:\n    defines:\n      SMART_HOST: \"[relay.example.net]\"\n      confPRIVACY_FLAGS: authwarnings,novrfy,noexpn,restrictqrun\n\n- sendmail_mc:\n    features: [{name: smrsh, args: [/usr/sbin/smrsh]}]\n    state: absent\n\n# Slackware keeps the stock mc in the cf tree: copy it to /etc/mail once.\n- copy:\n    src: /usr/share/sendmail/cf/cf/sendmail-slackware.mc\n    dest: /etc/mail/sendmail.mc\n    remote_src: yes\n    force: no\n";

    fn check(args: &SendmailMcArgs) -> Result<(), ArgsError> {
        items(args).map(|_| ())
    }

    fn plan(
        args: SendmailMcArgs,
        host: &mut dyn Host,
        context: &Context,
    ) -> Result<Plan, ModuleError> {
        plan_sendmail_mc(&args, host, context)
    }
}

/// One statement the task is about, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// FEATURE(`name', args…).
    Feature {
        /// The FEATURE's name.
        name: String,
        /// Its arguments.
        args: Vec<String>,
    },
    /// define(`name', `value').
    Define {
        /// The macro's name.
        name: String,
        /// Its value (empty for `state: absent`).
        value: String,
    },
    /// DAEMON_OPTIONS(`K=V, …').
    Daemon(Vec<(String, String)>),
    /// A raw line.
    Line(String),
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null => Some(String::new()),
        _ => None,
    }
}

/// The task's statements, checked for what m4 cannot take.
pub fn items(args: &SendmailMcArgs) -> Result<Vec<Item>, ArgsError> {
    let mut found = Vec::new();
    for (name, value) in &args.defines {
        macro_name("defines", name)?;
        let value = scalar(value).ok_or_else(|| {
            ArgsError::new(
                Some("defines"),
                format!("define `{name}` needs a plain value, not a list or map"),
            )
        })?;
        quotable("defines", &value)?;
        found.push(Item::Define {
            name: name.clone(),
            value,
        });
    }
    for feature in &args.features {
        let (name, feature_args) = match feature {
            Feature::Name(name) => (name.clone(), Vec::new()),
            Feature::Full { name, args } => (name.clone(), args.clone()),
        };
        macro_name("features", &name)?;
        for arg in &feature_args {
            quotable("features", arg)?;
        }
        found.push(Item::Feature {
            name,
            args: feature_args,
        });
    }
    for daemon in &args.daemon_options {
        if daemon.0.is_empty() {
            return Err(ArgsError::new(
                Some("daemon_options"),
                "empty `daemon_options` entry",
            ));
        }
        for (key, value) in &daemon.0 {
            if key.is_empty()
                || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || value.contains([',', '\n'])
            {
                return Err(ArgsError::new(
                    Some("daemon_options"),
                    format!("daemon option `{key}={value}` is not `Key=value`"),
                )
                .with_hint("e.g. {Port: submission, Name: MSA6, Family: inet6, M: Ea}"));
            }
            quotable("daemon_options", value)?;
        }
        found.push(Item::Daemon(daemon.0.clone()));
    }
    for line in &args.lines {
        if line.contains('\n') || line.trim().is_empty() {
            return Err(ArgsError::new(
                Some("lines"),
                format!("`lines` entry {line:?} must be one non-empty line"),
            ));
        }
        if parse(line).is_err() {
            return Err(ArgsError::new(
                Some("lines"),
                format!("`lines` entry `{line}` has unbalanced m4 quotes or parentheses"),
            )
            .with_hint("m4 strings open with ` and close with '"));
        }
        found.push(Item::Line(line.clone()));
    }
    if found.is_empty() {
        return Err(ArgsError::new(
            None,
            "module `sendmail_mc` needs `features`, `daemon_options`, `defines` or `lines`",
        ));
    }
    Ok(found)
}

fn macro_name(argument: &str, name: &str) -> Result<(), ArgsError> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(
            ArgsError::new(Some(argument), format!("`{name}` is not an m4 name"))
                .with_hint("names are letters, digits and `_`, e.g. `confPRIVACY_FLAGS`"),
        );
    }
    Ok(())
}

/// A value can sit inside `…' only when its own quotes are balanced pairs (``8:12'').
fn quotable(argument: &str, value: &str) -> Result<(), ArgsError> {
    let mut depth = 0i32;
    for c in value.chars() {
        match c {
            '`' => depth += 1,
            '\'' => depth -= 1,
            '\n' => depth = -1,
            _ => {}
        }
        if depth < 0 {
            break;
        }
    }
    if depth != 0 {
        return Err(ArgsError::new(
            Some(argument),
            format!("`{argument}` value {value:?} has unbalanced m4 quotes or a newline"),
        )
        .with_hint("inside an m4 string every ` needs a matching ' (write ``8:12'' for a quoted 8:12); a lone ' ends the string"));
    }
    Ok(())
}

/// Parse `Port=submission, Name=MSA6` into pairs.
fn parse_daemon_options(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for part in text.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (key, value) = part
            .split_once('=')
            .ok_or_else(|| format!("daemon option `{part}` is not `Key=value`"))?;
        pairs.push((key.trim().to_string(), value.trim().to_string()));
    }
    Ok(pairs)
}

fn daemon_text(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn daemon_value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

fn same_daemon(a: &[(String, String)], b: &[(String, String)]) -> bool {
    let normal = |pairs: &[(String, String)]| {
        let mut list: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        list.sort();
        list
    };
    normal(a) == normal(b)
}

/// The statement an item is written as.
pub fn render_item(item: &Item) -> String {
    match item {
        Item::Feature { name, args } => {
            let mut text = format!("FEATURE(`{name}'");
            for arg in args {
                text.push_str(&format!(", `{arg}'"));
            }
            text.push_str(")dnl");
            text
        }
        Item::Define { name, value } => format!("define(`{name}', `{value}')dnl"),
        Item::Daemon(pairs) => format!("DAEMON_OPTIONS(`{}')dnl", daemon_text(pairs)),
        Item::Line(line) => line.clone(),
    }
}

/// One statement of an mc file: the lines it spans and, when it calls a macro, the macro's
/// name and its arguments with one level of m4 quotes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// First line (0-based).
    pub start: usize,
    /// One past the last line.
    pub end: usize,
    /// The macro called (`FEATURE`, `define`…); `None` for comments, `dnl` lines and text.
    pub name: Option<String>,
    /// The macro's arguments.
    pub args: Vec<String>,
}

/// After these, the mc holds raw sendmail.cf text: no statements to find or edit there.
const RAW_SECTIONS: &[&str] = &[
    "LOCAL_CONFIG",
    "LOCAL_RULESETS",
    "LOCAL_NET_CONFIG",
    "LOCAL_RULE_0",
    "LOCAL_RULE_1",
    "LOCAL_RULE_2",
    "LOCAL_RULE_3",
    "LOCAL_SRV_FEATURES",
    "LOCAL_TRY_TLS",
];

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Split an mc file into statements, following m4's quotes, parentheses, `dnl` and `#`.
/// An error names the line where an unbalanced quote or parenthesis starts.
pub fn parse(text: &str) -> Result<Vec<Statement>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let mut statements = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let start = index;
        let line = lines[index].trim_start();
        let name: String = line.chars().take_while(|c| is_word_char(*c)).collect();
        let rest = &line[name.len()..];
        let starts_macro =
            !name.is_empty() && name != "dnl" && !name.starts_with(|c: char| c.is_ascii_digit());
        if !starts_macro {
            statements.push(Statement {
                start,
                end: index + 1,
                name: None,
                args: Vec::new(),
            });
            index += 1;
            continue;
        }
        if RAW_SECTIONS.contains(&name.as_str()) {
            statements.push(Statement {
                start,
                end: lines.len(),
                name: Some(name),
                args: Vec::new(),
            });
            break;
        }
        let mut args = Vec::new();
        if let Some(after) = rest.strip_prefix('(') {
            // Walk the arguments, possibly over several lines.
            let mut current = String::new();
            let mut quotes = 0usize;
            let mut parens = 1usize;
            let mut chars: Vec<char> = after.chars().collect();
            let mut at = 0;
            loop {
                if at >= chars.len() {
                    index += 1;
                    if index >= lines.len() {
                        return Err(format!(
                            "line {}: unbalanced m4 quotes or parentheses in `{name}(…)`",
                            start + 1
                        ));
                    }
                    current.push('\n');
                    chars = lines[index].chars().collect();
                    at = 0;
                    continue;
                }
                let c = chars[at];
                at += 1;
                if quotes > 0 {
                    match c {
                        '`' => quotes += 1,
                        '\'' => quotes -= 1,
                        _ => {}
                    }
                    if quotes > 0 {
                        current.push(c);
                    }
                    continue;
                }
                match c {
                    '`' => quotes = 1,
                    '(' => {
                        parens += 1;
                        current.push(c);
                    }
                    ')' => {
                        parens -= 1;
                        if parens == 0 {
                            args.push(current.trim().to_string());
                            break;
                        }
                        current.push(c);
                    }
                    ',' if parens == 1 => {
                        args.push(std::mem::take(&mut current).trim().to_string())
                    }
                    '#' => at = chars.len(),
                    'd' if chars[at..].starts_with(&['n', 'l'])
                        && (at < 2 || !is_word_char(chars[at - 2]))
                        && chars.get(at + 2).is_none_or(|n| !is_word_char(*n)) =>
                    {
                        // `dnl` deletes the rest of the line, newline included.
                        at = chars.len();
                        current.push(' ');
                    }
                    _ => current.push(c),
                }
            }
        }
        statements.push(Statement {
            start,
            end: index + 1,
            name: Some(name),
            args,
        });
        index += 1;
    }
    Ok(statements)
}

/// Where new statements go.
struct Anchors {
    /// After the last active FEATURE before the MAILERs.
    feature: usize,
    define: usize,
    daemon: usize,
    /// The first MAILER / MAILER_DEFINITIONS line (end of file without one).
    mailer: usize,
    /// After the last MAILER line.
    after_mailer: usize,
}

fn anchors(statements: &[Statement], line_count: usize) -> Anchors {
    let named =
        |s: &Statement, names: &[&str]| s.name.as_deref().is_some_and(|n| names.contains(&n));
    let mailer_start = statements
        .iter()
        .find(|s| named(s, &["MAILER", "MAILER_DEFINITIONS"]))
        .map(|s| s.start);
    let mailer = mailer_start.unwrap_or(line_count);
    let before: Vec<&Statement> = statements.iter().filter(|s| s.end <= mailer).collect();
    let body = before
        .iter()
        .filter(|s| {
            named(s, &["VERSIONID", "OSTYPE", "DOMAIN"])
                || (named(s, &["include"]) && s.args.first().is_some_and(|a| a.ends_with("cf.m4")))
        })
        .map(|s| s.end)
        .max()
        .unwrap_or(0);
    let last = |names: &[&str]| {
        before
            .iter()
            .filter(|s| s.start >= body && named(s, names))
            .map(|s| s.end)
            .max()
    };
    let first_feature = before
        .iter()
        .find(|s| s.start >= body && named(s, &["FEATURE"]))
        .map(|s| s.start);
    let feature = last(&["FEATURE"]).unwrap_or(mailer);
    let define = last(&["define"]).or(first_feature).unwrap_or(mailer);
    let daemon = last(&["DAEMON_OPTIONS"])
        .or(last(&["FEATURE"]))
        .unwrap_or(mailer);
    let after_mailer = statements
        .iter()
        .filter(|s| named(s, &["MAILER"]))
        .map(|s| s.end)
        .max()
        .unwrap_or(line_count);
    Anchors {
        feature,
        define,
        daemon,
        mailer,
        after_mailer,
    }
}

/// The statements that `item` is about, and whether each already says what `item` says.
fn matches(item: &Item, statement: &Statement, lines: &Lines) -> Option<bool> {
    let name = statement.name.as_deref()?;
    let first = statement.args.first().map(String::as_str);
    match item {
        Item::Feature { name: want, args } if name == "FEATURE" && first == Some(want) => {
            let mut have: Vec<&str> = statement.args[1..].iter().map(String::as_str).collect();
            while have.last() == Some(&"") {
                have.pop();
            }
            let mut wanted: Vec<&str> = args.iter().map(|a| a.trim()).collect();
            while wanted.last() == Some(&"") {
                wanted.pop();
            }
            Some(have == wanted)
        }
        Item::Define { name: want, value } if name == "define" && first == Some(want) => {
            Some(statement.args.get(1).map(String::as_str).unwrap_or("") == value.trim())
        }
        Item::Daemon(pairs) if name == "DAEMON_OPTIONS" => {
            let have = parse_daemon_options(first.unwrap_or("")).ok()?;
            match daemon_value(pairs, "Name") {
                Some(want) if daemon_value(&have, "Name") == Some(want) => {
                    Some(same_daemon(&have, pairs))
                }
                Some(_) => None,
                None => same_daemon(&have, pairs).then_some(true),
            }
        }
        Item::Line(line) => {
            let text: Vec<&str> = (statement.start..statement.end)
                .map(|i| lines.text(i).trim_end())
                .collect();
            (text.len() == 1 && text[0] == line.trim_end()).then_some(true)
        }
        _ => None,
    }
}

/// Apply the items to an mc text: the pure edit behind the module.
pub fn edit_mc(text: &str, items: &[Item], state: McState) -> Result<String, String> {
    let mut lines = Lines::parse(text);
    for item in items {
        let current = lines.render();
        let statements = parse(&current)?;
        let found: Vec<(&Statement, bool)> = statements
            .iter()
            .filter_map(|s| matches(item, s, &lines).map(|same| (s, same)))
            .collect();
        match state {
            McState::Absent => {
                for (statement, _) in found.iter().rev() {
                    lines.remove(statement.start..statement.end);
                }
            }
            McState::Present => match found.last() {
                Some((_, true)) => {}
                Some((statement, false)) => {
                    let (start, end) = (statement.start, statement.end);
                    lines.remove(start..end);
                    lines.insert(start, &render_item(item));
                }
                None => {
                    let at = anchors(&statements, lines.len());
                    let index = match item {
                        Item::Feature { .. } => at.feature,
                        Item::Define { .. } => at.define,
                        Item::Daemon(_) => at.daemon,
                        Item::Line(line) if line.trim_start().starts_with("MAILER(") => {
                            at.after_mailer
                        }
                        Item::Line(_) => at.mailer,
                    };
                    lines.insert(index, &render_item(item));
                }
            },
        }
    }
    Ok(lines.render())
}

/// What the daemons of an mc will be, as far as the start-up traps go.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DaemonCheck {
    /// Warnings to show.
    pub warnings: Vec<String>,
}

fn is_port(value: Option<&str>, names: &[&str]) -> bool {
    value.is_some_and(|v| names.iter().any(|n| v.eq_ignore_ascii_case(n)))
}

/// Refuse daemons that cannot start; warn about a lost port-25 MTA.
pub fn check_daemons(text: &str) -> Result<DaemonCheck, ModuleError> {
    let statements = parse(text).map_err(ModuleError::failed)?;
    let no_default_msa = statements.iter().any(|s| {
        s.name.as_deref() == Some("FEATURE")
            && s.args.first().map(String::as_str) == Some("no_default_msa")
    });
    let daemons: Vec<(Vec<(String, String)>, String)> = statements
        .iter()
        .filter(|s| s.name.as_deref() == Some("DAEMON_OPTIONS"))
        .filter_map(|s| {
            let text = s.args.first()?.clone();
            Some((parse_daemon_options(&text).ok()?, text))
        })
        .collect();
    let mut check = DaemonCheck::default();
    if !no_default_msa {
        if let Some((_, text)) = daemons.iter().find(|(pairs, _)| {
            is_port(daemon_value(pairs, "Port"), &["submission", "587"])
                || daemon_value(pairs, "Name") == Some("MSA")
        }) {
            return Err(ModuleError::Failed {
                message: format!(
                    "DAEMON_OPTIONS(`{text}') listens on the submission port while sendmail's default MSA (Port=587, Name=MSA) is still on: sendmail would fail with \"opendaemonsocket: daemon MSA: cannot listen: Address already in use\""
                ),
                hint: Some(
                    "add FEATURE(`no_default_msa') before the MAILER lines (`features: [no_default_msa]`), and declare every daemon you want with DAEMON_OPTIONS".into(),
                ),
            });
        }
    }
    if !daemons.is_empty()
        && !daemons.iter().any(|(pairs, _)| {
            let port = daemon_value(pairs, "Port");
            port.is_none() || is_port(port, &["smtp", "25"])
        })
    {
        check.warnings.push(
            "the first DAEMON_OPTIONS replaces sendmail's default MTA and none listens on port 25: this host will not accept mail on port 25 (add DAEMON_OPTIONS(`Port=smtp, Name=MTA') if it should)".into(),
        );
    }
    Ok(check)
}

/// The `O DaemonPortOptions=` lines of a cf.
pub fn daemon_port_options(cf: &str) -> Vec<String> {
    cf.lines()
        .filter(|line| line.starts_with("O DaemonPortOptions="))
        .map(str::to_string)
        .collect()
}

/// A cf without the line that changes at every build.
fn without_build_stamp(cf: &str) -> String {
    cf.lines()
        .filter(|line| !line.starts_with("##### built by "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How m4 must be run on this mc so that its include of cf.m4 resolves.
pub fn m4_command(mc_text: &str, mc_path: &str, cf_dir: &str) -> Command {
    let cf_dir = cf_dir.trim_end_matches('/');
    let include = parse(mc_text).ok().and_then(|statements| {
        statements.into_iter().find_map(|s| {
            let arg = s.args.first()?;
            (s.name.as_deref() == Some("include") && arg.ends_with("cf.m4")).then(|| arg.clone())
        })
    });
    let command = match &include {
        // Slackware: include(`../m4/cf.m4') is relative to m4's working directory.
        Some(path) if !path.starts_with('/') => {
            return Command::argv(["m4"]).with_chdir(format!("{cf_dir}/cf"))
        }
        Some(_) => Command::argv(["m4"]),
        None => Command::argv([
            "m4".to_string(),
            format!("-D_CF_DIR_={cf_dir}/"),
            format!("{cf_dir}/m4/cf.m4"),
            "-".to_string(),
        ]),
    };
    command.with_chdir(fsutil::parent(mc_path))
}

/// The validator of a new cf: sendmail must read it in address test mode.
pub const CF_VALIDATE: &str = "sendmail -C %s -bt < /dev/null";

fn plan_sendmail_mc(
    args: &SendmailMcArgs,
    host: &mut dyn Host,
    context: &Context,
) -> Result<Plan, ModuleError> {
    let items = items(args)?;
    let mc_path = args.mc_path.as_deref().unwrap_or("/etc/mail/sendmail.mc");
    let cf_path = args.cf_path.as_deref().unwrap_or("/etc/mail/sendmail.cf");
    let cf_dir = args.cf_dir.as_deref().unwrap_or("/usr/share/sendmail/cf");

    let Some(old_mc) = host.read_file(mc_path)? else {
        let hint = if context.facts.os_family == "Slackware" {
            format!("copy Slackware's stock mc first: `copy: src=/usr/share/sendmail/cf/cf/sendmail-slackware.mc dest={mc_path} remote_src=yes force=no`")
        } else {
            "install sendmail (Debian: sendmail-bin, sendmail-cf), or set `mc_path`".into()
        };
        return Err(ModuleError::Failed {
            message: format!("`{mc_path}` does not exist"),
            hint: Some(hint),
        });
    };
    let old_mc = String::from_utf8(old_mc)
        .map_err(|_| ModuleError::failed(format!("`{mc_path}` is not UTF-8 text")))?;
    let new_mc = edit_mc(&old_mc, &items, args.state).map_err(|error| ModuleError::Failed {
        message: format!("cannot edit `{mc_path}`: {error}"),
        hint: Some("fix the quoting of that statement by hand (m4 strings are `…')".into()),
    })?;
    let daemons = check_daemons(&new_mc)?;

    let command = m4_command(&new_mc, mc_path, cf_dir).with_stdin(new_mc.clone());
    let built = host.run(&command)?;
    let stderr = built.stderr_text();
    if !built.success() || stderr.contains("*** ERROR") {
        let hint = if stderr.contains("cannot open") {
            "an included file is missing: create it (Debian's sendmailconfig makes /etc/mail/m4/dialup.m4 and provider.m4, empty is fine), or check `cf_dir`"
        } else {
            "FEATUREs and defines go before the MAILER lines; see cf/README in the cf tree"
        };
        return Err(ModuleError::Failed {
            message: format!(
                "m4 cannot build `{cf_path}` from the edited `{mc_path}` (`{}`): {}",
                command.to_shell_line(),
                stderr.trim()
            ),
            hint: Some(hint.into()),
        });
    }
    let new_cf = built.stdout_text();
    let old_cf = host
        .read_file(cf_path)?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned());

    let mut plan = Plan::unchanged();
    plan.result
        .insert("mc_path".into(), Value::String(mc_path.into()));
    plan.result
        .insert("cf_path".into(), Value::String(cf_path.into()));
    plan.result.insert(
        "daemon_port_options".into(),
        Value::from(daemon_port_options(&new_cf)),
    );
    plan.warnings.extend(daemons.warnings);
    plan.warnings.extend(
        stderr
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| format!("m4: {}", line.trim())),
    );

    if new_mc != old_mc {
        plan.push(
            Change::content(mc_path, Some(old_mc.clone()), Some(new_mc.clone())),
            [Step::WriteFile {
                path: mc_path.into(),
                content: new_mc.into_bytes(),
                options: WriteOptions {
                    backup: args.backup.0,
                    ..WriteOptions::default()
                },
            }],
        );
    }
    let cf_changed =
        old_cf.as_deref().map(without_build_stamp) != Some(without_build_stamp(&new_cf));
    if cf_changed {
        let before = old_cf
            .as_deref()
            .map(daemon_port_options)
            .unwrap_or_default();
        let after = daemon_port_options(&new_cf);
        let change = if before != after {
            Change::value(
                format!("{cf_path} DaemonPortOptions"),
                old_cf.as_ref().map(|_| before.join("\n")),
                Some(after.join("\n")),
            )
        } else {
            Change::note(cf_path, format!("rebuilt with m4 from `{mc_path}`"))
        };
        if !context.facts.fqdn.is_empty() && !context.facts.fqdn.contains('.') {
            plan.warnings.push(format!(
                "host name `{}` is not fully qualified: sendmail (and the `sendmail -bt` check of the new cf) waits 60 s for it; give the host an FQDN in /etc/hosts",
                context.facts.fqdn
            ));
        }
        plan.push(
            change,
            [Step::WriteFile {
                path: cf_path.into(),
                content: new_cf.into_bytes(),
                options: WriteOptions {
                    validate: Some(CF_VALIDATE.into()),
                    backup: true,
                    ..WriteOptions::default()
                },
            }],
        );
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_follows_a_define_continued_with_dnl() {
        let text = "define(`confPRIVACY_FLAGS',dnl\n`needmailhelo,authwarnings')dnl\nFEATURE(`access_db', , `skip')dnl\n";
        let statements = parse(text).unwrap();
        assert_eq!(statements.len(), 2);
        assert_eq!((statements[0].start, statements[0].end), (0, 2));
        assert_eq!(
            statements[0].args,
            ["confPRIVACY_FLAGS", "needmailhelo,authwarnings"]
        );
        assert_eq!(statements[1].args, ["access_db", "", "skip"]);
    }

    #[test]
    fn nested_quotes_lose_one_level() {
        let statements = parse("define(`confTO_QUEUEWARN', ``8:12'')dnl\n").unwrap();
        assert_eq!(statements[0].args[1], "`8:12'");
    }

    #[test]
    fn unbalanced_quote_is_an_error_with_the_line() {
        let error = parse("OSTYPE(`linux')dnl\ndefine(`x', `oops)dnl\n").unwrap_err();
        assert!(error.starts_with("line 2:"), "{error}");
    }

    #[test]
    fn a_lone_apostrophe_in_a_value_is_refused() {
        assert!(quotable("defines", "don't").is_err());
        assert!(quotable("defines", "``8:12''").is_ok());
    }
}
