//! `debconf`: preseed one answer in Debian's configuration database, or read a package's.
//!
//! Converges one debconf question of a package (`locales/default_environment_locale`) to a
//! value. Reads the package's answers with `debconf-show PACKAGE` in one round trip (for a
//! `password`, whose value `debconf-show` hides, the same round trip reads it from
//! `debconf-get-selections`, of the `debconf-utils` package); sets it with
//! `debconf-set-selections` (`-u` with `unseen`), the value on standard input, never on a
//! command line. Comparison as Ansible's: booleans in lowercase, a `multiselect` list in any
//! order. Idempotence: the answer debconf shows equals the value, so planning again changes
//! nothing. Without `question` it only reads: `current` holds every answer of the package.
//!
//! Differences from Ansible: a YAML boolean or number in `value` is written as text
//! (`true`, `5`), where Ansible compares the raw value with debconf's text (always a change)
//! or fails to write it; a list `value` is refused unless `vtype` is `multiselect`.
//!
//! ```yaml
//! - ansible.builtin.debconf:
//!     name: locales
//!     question: locales/default_environment_locale
//!     value: fr_FR.UTF-8
//!     vtype: select
//! ```

use crate::args::Flag;
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, ChangeDetail, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The type of a debconf answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Vtype {
    /// `true` or `false`.
    Boolean,
    /// An error message template.
    Error,
    /// Several of the offered choices, comma separated (or a YAML list).
    Multiselect,
    /// A note.
    Note,
    /// A password (shown nowhere; give the task `no_log: true`).
    Password,
    /// Whether the question was asked.
    Seen,
    /// One of the offered choices.
    Select,
    /// A line of text.
    String,
    /// Free text.
    Text,
    /// A title.
    Title,
}

impl Vtype {
    fn as_str(self) -> &'static str {
        match self {
            Vtype::Boolean => "boolean",
            Vtype::Error => "error",
            Vtype::Multiselect => "multiselect",
            Vtype::Note => "note",
            Vtype::Password => "password",
            Vtype::Seen => "seen",
            Vtype::Select => "select",
            Vtype::String => "string",
            Vtype::Text => "text",
            Vtype::Title => "title",
        }
    }
}

/// Arguments of `debconf`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DebconfArgs {
    /// The package the question belongs to.
    #[serde(alias = "pkg")]
    pub name: String,
    /// The question (`tzdata/Areas`); with `vtype` and `value`.
    #[serde(alias = "selection", alias = "setting")]
    pub question: Option<String>,
    /// The answer's type: `boolean`, `error`, `multiselect`, `note`, `password`, `seen`,
    /// `select`, `string`, `text`, `title`.
    pub vtype: Option<Vtype>,
    /// The answer: text, a boolean, a number, or for `multiselect` a list.
    #[serde(alias = "answer")]
    pub value: Option<Value>,
    /// Do not mark the question as seen (`debconf-set-selections -u`).
    #[serde(default)]
    pub unseen: Flag,
}

/// The `debconf` module.
pub struct Debconf;

const SECTION: &str = "--converge-debconf-section--";

impl TypedModule for Debconf {
    type Args = DebconfArgs;
    const NAME: &'static str = "debconf";
    const SUMMARY: &'static str = "Preseed or read answers in Debian's debconf database";
    const EXAMPLES: &'static str = "- ansible.builtin.debconf:\n    name: locales\n    question: locales/default_environment_locale\n    value: fr_FR.UTF-8\n    vtype: select\n\n- ansible.builtin.debconf:\n    name: locales\n    question: locales/locales_to_be_generated\n    value: [en_US.UTF-8 UTF-8, fr_FR.UTF-8 UTF-8]\n    vtype: multiselect\n\n- ansible.builtin.debconf:\n    name: tzdata\n  register: tzdata_answers\n\n- ansible.builtin.debconf:\n    name: tripwire\n    question: tripwire/site-passphrase\n    value: \"{{ site_passphrase }}\"\n    vtype: password\n  no_log: true\n";
    const USES_FACTS: bool = false;

    fn check(args: &DebconfArgs) -> Result<(), ArgsError> {
        let given = [
            args.question.is_some(),
            args.vtype.is_some(),
            args.value.is_some(),
        ];
        if given.iter().any(|g| *g) && !given.iter().all(|g| *g) {
            return Err(ArgsError::new(
                Some(if args.question.is_none() {
                    "question"
                } else if args.vtype.is_none() {
                    "vtype"
                } else {
                    "value"
                }),
                "parameters are required together: question, vtype, value",
            ));
        }
        match &args.value {
            Some(Value::Array(_)) if args.vtype != Some(Vtype::Multiselect) => {
                return Err(ArgsError::new(
                    Some("value"),
                    "`value` is a list, which only `vtype: multiselect` takes",
                )
                .with_hint("write one text value, or use `vtype: multiselect`"));
            }
            Some(Value::Object(_)) => {
                return Err(ArgsError::new(
                    Some("value"),
                    "`value` is a mapping; debconf answers are text",
                ))
            }
            Some(Value::Array(items)) if items.iter().any(|i| i.is_array() || i.is_object()) => {
                return Err(ArgsError::new(
                    Some("value"),
                    "Invalid value provided for 'multiselect': items must be text",
                ))
            }
            _ => {}
        }
        if args.name.is_empty() || args.name.contains(char::is_whitespace) {
            return Err(ArgsError::new(
                Some("name"),
                format!("`{}` is not a package name", args.name),
            ));
        }
        Ok(())
    }

    fn plan(args: DebconfArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let password = args.vtype == Some(Vtype::Password);
        let read = read_answers(host, &args.name, args.question.as_deref(), password)?;
        let prev = parse_show(&read.show);
        let mut plan = Plan::unchanged();
        plan.result
            .insert("msg".into(), Value::String(String::new()));
        let (Some(question), Some(vtype), Some(value)) = (&args.question, args.vtype, &args.value)
        else {
            plan.result.insert("current".into(), Value::Object(prev));
            return Ok(plan);
        };
        let wanted = Wanted::from(value, vtype);
        let existing = match prev.get(question).and_then(Value::as_str) {
            None => None,
            Some(shown) => Some(match vtype {
                Vtype::Boolean => shown.to_lowercase(),
                Vtype::Password => password_value(&read.selections, &args.name, question),
                _ => shown.to_string(),
            }),
        };
        let changed = match (&existing, &wanted) {
            (None, _) => true,
            (Some(existing), Wanted::List(items)) => {
                let mut have: Vec<String> =
                    existing.split(',').map(|i| i.trim().to_string()).collect();
                have.sort();
                *items != have
            }
            (Some(existing), Wanted::Text(text)) => existing != text,
        };
        if !changed {
            plan.result.insert("current".into(), Value::Object(prev));
            return Ok(plan);
        }
        let text = wanted.text();
        let mut previous = Map::new();
        match prev.get(question) {
            Some(old) => {
                previous.insert(question.clone(), old.clone());
            }
            None => {
                // Ansible returns every answer it read, plus the question with ''.
                previous = prev.clone();
                previous.insert(question.clone(), Value::String(String::new()));
            }
        }
        let current = json!({ question.clone(): text.clone() });
        let mut after = previous.clone();
        after.insert(question.clone(), Value::String(text.clone()));
        plan.result.insert("current".into(), current);
        plan.result
            .insert("previous".into(), Value::Object(previous));
        plan.result.insert(
            "diff".into(),
            json!({"before": plan.result["previous"].clone(), "after": after}),
        );
        let subject = format!("{} {question}", args.name);
        let change = if password {
            Change {
                subject,
                detail: ChangeDetail::Hidden("password".into()),
            }
        } else {
            Change::value(subject, existing, Some(text.clone()))
        };
        let mut argv = vec!["debconf-set-selections".to_string()];
        if args.unseen.0 {
            argv.push("-u".into());
        }
        let line = format!("{} {question} {} {text}\n", args.name, vtype.as_str());
        plan.push(
            change,
            [Step::Run {
                command: Command::argv(argv).with_stdin(line.into_bytes()),
                allow_failure: false,
            }],
        );
        Ok(plan)
    }
}

enum Wanted {
    Text(String),
    /// A multiselect list, sorted.
    List(Vec<String>),
}

impl Wanted {
    fn from(value: &Value, vtype: Vtype) -> Wanted {
        let text = |value: &Value| match value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        match value {
            Value::Array(items) => {
                let mut items: Vec<String> = items.iter().map(text).collect();
                items.sort();
                Wanted::List(items)
            }
            other if vtype == Vtype::Boolean => Wanted::Text(text(other).to_lowercase()),
            other => Wanted::Text(text(other)),
        }
    }

    fn text(&self) -> String {
        match self {
            Wanted::Text(text) => text.clone(),
            Wanted::List(items) => items.join(", "),
        }
    }
}

struct Answers {
    show: String,
    /// `debconf-get-selections` lines of the question (passwords only).
    selections: String,
}

fn read_answers(
    host: &mut dyn Host,
    package: &str,
    question: Option<&str>,
    password: bool,
) -> Result<Answers, ModuleError> {
    let mut script = format!(
        "command -v debconf-show >/dev/null 2>&1 || exit 127; debconf-show {} || exit 1",
        crate::quote(package)
    );
    if password {
        script.push_str(&format!(
            "; echo {SECTION}; command -v debconf-get-selections >/dev/null 2>&1 || exit 126; debconf-get-selections | awk -F '\\t' -v p={} -v q={} '$1 == p && $2 == q'",
            crate::quote(package),
            crate::quote(question.unwrap_or_default())
        ));
    }
    let output = host.run(&Command::shell(script))?;
    match output.status {
        0 => {}
        127 => {
            return Err(ModuleError::Failed {
                message: "debconf is not installed on this host (`debconf-show` not found): the debconf module works on Debian and its derivatives".into(),
                hint: Some("run this task only where `ansible_os_family == 'Debian'`".into()),
            })
        }
        126 => {
            return Err(ModuleError::Failed {
                message: "Failed to find required executable \"debconf-get-selections\": a `password` answer is read with it".into(),
                hint: Some("install the package `debconf-utils` first".into()),
            })
        }
        _ => {
            return Err(ModuleError::failed(
                output.stderr_text().trim().to_string(),
            ))
        }
    }
    let text = output.stdout_text();
    let (show, selections) = match text.split_once(&format!("{SECTION}\n")) {
        Some((show, selections)) => (show.to_string(), selections.to_string()),
        None => (text, String::new()),
    };
    Ok(Answers { show, selections })
}

/// `debconf-show` output as a map of question to answer: `* question: answer` (the `*` marks
/// a question that was asked).
pub fn parse_show(text: &str) -> Map<String, Value> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once(':')?;
            let key = key.trim().trim_start_matches('*').trim();
            (!key.is_empty()).then(|| (key.to_string(), Value::String(value.trim().to_string())))
        })
        .collect()
}

/// The value of `question` in `debconf-get-selections` lines (`package<TAB>question<TAB>
/// type<TAB>value`), or empty.
pub fn password_value(selections: &str, package: &str, question: &str) -> String {
    selections
        .lines()
        .find_map(|line| {
            let mut fields = line.splitn(4, '\t');
            let (p, q, _, value) = (
                fields.next()?,
                fields.next()?,
                fields.next()?,
                fields.next(),
            );
            (p == package && q == question).then(|| value.unwrap_or_default().to_string())
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_lines_with_and_without_the_seen_star() {
        let shown = parse_show("* locales/default_environment_locale: en_US.UTF-8\n  locales/locales_to_be_generated: en_US.UTF-8 UTF-8, fr_FR.UTF-8 UTF-8\n  tzdata/Zones/Etc:\n");
        assert_eq!(
            shown["locales/default_environment_locale"],
            json!("en_US.UTF-8")
        );
        assert_eq!(
            shown["locales/locales_to_be_generated"],
            json!("en_US.UTF-8 UTF-8, fr_FR.UTF-8 UTF-8")
        );
        assert_eq!(shown["tzdata/Zones/Etc"], json!(""));
    }

    #[test]
    fn passwords_come_from_the_selections_line_of_the_question() {
        let lines = "tripwire\ttripwire/local-passphrase\tpassword\tother\ntripwire\ttripwire/site-passphrase\tpassword\ts3cret\n";
        assert_eq!(
            password_value(lines, "tripwire", "tripwire/site-passphrase"),
            "s3cret"
        );
        assert_eq!(password_value(lines, "tripwire", "tripwire/none"), "");
    }
}
