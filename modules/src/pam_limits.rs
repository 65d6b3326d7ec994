//! `pam_limits` (community.general): one limit in `/etc/security/limits.conf` (or `dest`).
//!
//! Converges one line `DOMAIN TYPE ITEM VALUE`, by the pure function [`edit_limits`], which
//! follows Ansible's rules: every line with the same domain, type and item takes the new
//! value (with `use_max`/`use_min` the larger/smaller of the two, `unlimited`, `infinity` and
//! `-1` counting as no limit); other lines are kept byte for byte; without a match the line
//! is appended, tab-separated. Reads the file once; writes it atomically. Idempotence: the
//! value is there, so planning again changes nothing.
//!
//! Difference from Ansible: a rewritten line keeps its own `# comment` (or takes `comment`);
//! Ansible carries the first comment it saw in the file over to the line it writes and
//! doubles its newline.
//!
//! ```yaml
//! - community.general.pam_limits:
//!     domain: www-data
//!     limit_type: soft
//!     limit_item: nofile
//!     value: 65536
//! ```

use crate::args::{Flag, Text};
use crate::host::{FileKind, Host, WriteOptions};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

/// Soft, hard, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
pub enum LimitType {
    /// The soft limit.
    #[serde(rename = "soft")]
    Soft,
    /// The hard limit.
    #[serde(rename = "hard")]
    Hard,
    /// Both.
    #[serde(rename = "-")]
    Both,
}

impl LimitType {
    fn as_str(self) -> &'static str {
        match self {
            LimitType::Soft => "soft",
            LimitType::Hard => "hard",
            LimitType::Both => "-",
        }
    }
}

/// The items limits.conf(5) knows.
pub const ITEMS: &[&str] = &[
    "core",
    "data",
    "fsize",
    "memlock",
    "nofile",
    "rss",
    "stack",
    "cpu",
    "nproc",
    "as",
    "maxlogins",
    "maxsyslogins",
    "priority",
    "locks",
    "sigpending",
    "msgqueue",
    "nice",
    "rtprio",
    "chroot",
];

/// Arguments of `pam_limits`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PamLimitsArgs {
    /// A user name, `@group`, `*`, a uid range…
    pub domain: String,
    /// `soft`, `hard` or `-` (both).
    pub limit_type: LimitType,
    /// The resource: `nofile`, `nproc`, `core`, `memlock`…
    pub limit_item: String,
    /// The limit: a number, or `unlimited`/`infinity`/`-1` (for `nice` and `priority`, -20..19).
    pub value: Text,
    /// Keep the existing value when it is larger.
    #[serde(default)]
    pub use_max: Flag,
    /// Keep the existing value when it is smaller.
    #[serde(default)]
    pub use_min: Flag,
    /// Keep the old file as `DEST.TIMESTAMP~` when changing it.
    #[serde(default)]
    pub backup: Flag,
    /// The limits file; default `/etc/security/limits.conf`.
    #[serde(default = "default_dest")]
    pub dest: String,
    /// A comment written after the limit.
    #[serde(default)]
    pub comment: String,
}

fn default_dest() -> String {
    "/etc/security/limits.conf".into()
}

/// The `pam_limits` module.
pub struct PamLimits;

fn valid_value(item: &str, value: &str) -> bool {
    if item == "nice" || item == "priority" {
        return value.parse::<i64>().is_ok_and(|n| (-20..=19).contains(&n));
    }
    ["unlimited", "infinity", "-1"].contains(&value)
        || (!value.is_empty() && value.chars().all(|c| c.is_ascii_digit()))
}

fn invalid_value(prefix: &str, item: &str, value: &str) -> String {
    if item == "nice" || item == "priority" {
        format!("{prefix}value of '{value}' for item '{item}' is invalid. Value must be a number in the range -20 to 19 inclusive")
    } else {
        format!("{prefix}value of '{value}' for item '{item}' is invalid. Value must either be 'unlimited', 'infinity' or -1, all of which indicate no limit, or a limit of 0 or larger")
    }
}

impl TypedModule for PamLimits {
    type Args = PamLimitsArgs;
    const NAME: &'static str = "pam_limits";
    const SUMMARY: &'static str = "Set one limit in /etc/security/limits.conf";
    const EXAMPLES: &'static str = "- community.general.pam_limits:\n    domain: www-data\n    limit_type: soft\n    limit_item: nofile\n    value: 65536\n\n- community.general.pam_limits:\n    domain: '@build'\n    limit_type: '-'\n    limit_item: nproc\n    value: 4096\n    use_max: yes\n    comment: builds fork a lot\n";
    const USES_FACTS: bool = false;

    fn check(args: &PamLimitsArgs) -> Result<(), ArgsError> {
        if !ITEMS.contains(&args.limit_item.as_str()) {
            return Err(ArgsError::new(
                Some("limit_item"),
                format!(
                    "value of limit_item must be one of: {}, got: {}",
                    ITEMS.join(", "),
                    args.limit_item
                ),
            ));
        }
        if args.use_max.0 && args.use_min.0 {
            return Err(ArgsError::new(
                Some("use_min"),
                "cannot use use_min and use_max at the same time",
            ));
        }
        if !valid_value(&args.limit_item, &args.value.0) {
            return Err(ArgsError::new(
                Some("value"),
                invalid_value("", &args.limit_item, &args.value.0),
            ));
        }
        Ok(())
    }

    fn plan(args: PamLimitsArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let dest = args.dest.clone();
        let (stat, content) = host.stat_and_read(&dest)?;
        if matches!(stat.as_ref().map(|s| &s.kind), Some(FileKind::Directory)) {
            return Err(ModuleError::failed(format!("`{dest}` is a directory")));
        }
        let before = match content {
            Some(bytes) => Some(
                String::from_utf8(bytes)
                    .map_err(|_| ModuleError::failed(format!("`{dest}` is not UTF-8 text")))?,
            ),
            None => {
                let dir = crate::fsutil::parent(&dest);
                if !matches!(host.stat(&dir)?.map(|s| s.kind), Some(FileKind::Directory)) {
                    return Err(ModuleError::failed(format!(
                        "directory {dir} is not writable (check presence, access rights, use sudo)"
                    )));
                }
                None
            }
        };
        let text = before.clone().unwrap_or_default();
        let edit = edit_limits(&text, &args).map_err(ModuleError::failed)?;
        let mut plan = Plan::unchanged();
        plan.result
            .insert("msg".into(), Value::String(edit.message));
        plan.result
            .insert("diff".into(), json!({"before": text, "after": edit.text}));
        if edit.text != text || before.is_none() {
            plan.push(
                Change::content(&dest, before, Some(edit.text.clone())),
                [Step::WriteFile {
                    path: dest.clone(),
                    content: edit.text.into_bytes(),
                    options: WriteOptions {
                        backup: args.backup.0,
                        ..WriteOptions::default()
                    },
                }],
            );
        }
        Ok(plan)
    }
}

/// The result of [`edit_limits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitsEdit {
    /// The file after the edit.
    pub text: String,
    /// The limit line as it now is (Ansible's `msg`).
    pub message: String,
}

fn unlimited(value: &str) -> bool {
    ["unlimited", "infinity", "-1"].contains(&value)
}

/// Apply `args` to the limits file `text`. Fails on a line whose value limits.conf(5) does
/// not allow (as Ansible does).
pub fn edit_limits(text: &str, args: &PamLimitsArgs) -> Result<LimitsEdit, String> {
    let value = args.value.0.as_str();
    let kind = args.limit_type.as_str();
    let mut out = String::new();
    let mut message = String::new();
    let mut found = false;
    let render = |value: &str, comment: &str| {
        let comment = if comment.is_empty() {
            String::new()
        } else {
            format!("\t#{comment}")
        };
        format!(
            "{}\t{kind}\t{}\t{value}{comment}\n",
            args.domain, args.limit_item
        )
    };
    for line in text.split_inclusive('\n') {
        if line.starts_with('#') {
            out.push_str(line);
            continue;
        }
        let squeezed = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if squeezed.is_empty() {
            out.push_str(line);
            continue;
        }
        let (fields_text, old_comment) = match line.split_once('#') {
            Some((_, comment)) => (
                squeezed
                    .split('#')
                    .next()
                    .unwrap_or_default()
                    .trim_end()
                    .to_string(),
                comment.trim_end_matches(['\r', '\n']).to_string(),
            ),
            None => (squeezed.clone(), String::new()),
        };
        let fields: Vec<&str> = fields_text.split(' ').collect();
        if fields.len() != 4 {
            out.push_str(line);
            continue;
        }
        let (domain, line_type, item, actual) = (fields[0], fields[1], fields[2], fields[3]);
        if !valid_value(item, actual) {
            return Err(invalid_value(
                &format!("invalid configuration found in '{}': ", args.dest),
                item,
                actual,
            ));
        }
        if domain != args.domain || line_type != kind || item != args.limit_item {
            out.push_str(line);
            continue;
        }
        found = true;
        if value == actual {
            message = line.to_string();
            out.push_str(line);
            continue;
        }
        let new_value = if args.use_max.0 {
            if unlimited(actual) {
                actual.to_string()
            } else if unlimited(value) {
                value.to_string()
            } else {
                max_min(value, actual, true)?
            }
        } else if args.use_min.0 {
            if unlimited(actual) && unlimited(value) {
                actual.to_string()
            } else if unlimited(actual) {
                value.to_string()
            } else if unlimited(value) {
                actual.to_string()
            } else {
                max_min(value, actual, false)?
            }
        } else {
            value.to_string()
        };
        if new_value != actual {
            let comment = if args.comment.is_empty() {
                old_comment.as_str()
            } else {
                args.comment.as_str()
            };
            message = render(&new_value, comment);
            out.push_str(&message);
        } else {
            message = line.to_string();
            out.push_str(line);
        }
    }
    if !found {
        if !out.is_empty() && !out.ends_with('\n') {
            // Ansible would glue the new line to the last one; keep them apart.
            out.push('\n');
        }
        message = render(value, &args.comment);
        out.push_str(&message);
    }
    Ok(LimitsEdit { text: out, message })
}

fn max_min(value: &str, actual: &str, max: bool) -> Result<String, String> {
    let parse = |v: &str| {
        v.parse::<i64>()
            .map_err(|_| format!("`{v}` is not a number to compare"))
    };
    let (a, b) = (parse(value)?, parse(actual)?);
    Ok(if max { a.max(b) } else { a.min(b) }.to_string())
}
