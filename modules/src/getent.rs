//! `getent`: read a name service database into `ansible_facts.getent_DATABASE`.
//!
//! Reads only: runs `getent DATABASE [KEY] [-s SERVICE]` (one command, also in check mode)
//! and splits each output line on `split` (default `:` for passwd, shadow, group and gshadow,
//! whitespace otherwise). The first field is the key, the rest its value; a key seen on
//! several lines gets a list of values, as Ansible does. Never a change.
//!
//! Exit statuses are Ansible's messages: 1 "missing arguments, or database unknown", 2 "one or
//! more supplied key could not be found in the database" (with `fail_key: no` the key is set
//! to null instead), 3 "enumeration not supported on this database".
//!
//! The facts are in the task result under `ansible_facts`; the engine turns them into
//! variables (`getent_passwd`).
//!
//! ```yaml
//! - getent:
//!     database: passwd
//!     key: alice
//! - debug:
//!     msg: "home is {{ getent_passwd.alice[4] }}"
//! ```

use crate::accounts::NameArg;
use crate::args::Flag;
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::Plan;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

fn yes() -> Flag {
    Flag(true)
}

/// Arguments of `getent`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetentArgs {
    /// The database: `passwd`, `group`, `shadow`, `hosts`, `services`… (see `man getent`).
    pub database: String,
    /// One key to look up; without it the whole database is read.
    pub key: Option<NameArg>,
    /// The field separator (default `:` for passwd, shadow, group and gshadow, else
    /// whitespace).
    pub split: Option<String>,
    /// Fail when `key` is not found (otherwise the key is set to null).
    #[serde(default = "yes")]
    pub fail_key: Flag,
    /// The NSS service to ask (`getent -s`), e.g. `files`.
    pub service: Option<String>,
}

/// The `getent` module.
pub struct Getent;

impl TypedModule for Getent {
    type Args = GetentArgs;
    const NAME: &'static str = "getent";
    const SUMMARY: &'static str =
        "Read a name service database (getent) into `getent_DATABASE` facts";
    const EXAMPLES: &'static str = "- getent:\n    database: passwd\n    key: alice\n\n- getent:\n    database: group\n    split: ':'\n\n- getent:\n    database: hosts\n    key: example.org\n    fail_key: no\n";
    const USES_FACTS: bool = false;

    fn check(args: &GetentArgs) -> Result<(), ArgsError> {
        if args.split.as_deref() == Some("") {
            return Err(ArgsError::new(Some("split"), "`split` cannot be empty")
                .with_hint("leave `split` out to split on whitespace"));
        }
        Ok(())
    }

    fn plan(args: GetentArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let mut argv = vec!["getent".to_string(), args.database.clone()];
        if let Some(key) = &args.key {
            argv.push(key.0.clone());
        }
        if let Some(service) = &args.service {
            argv.extend(["-s".into(), service.clone()]);
        }
        let output = host.run_read(&Command::argv(argv))?;
        let tree = format!("getent_{}", args.database);
        let mut plan = Plan::unchanged();
        let facts = match output.status {
            0 => parse_getent(&output.stdout_text(), &args.database, args.split.as_deref()),
            2 if !args.fail_key.0 => {
                let mut entries = Map::new();
                if let Some(key) = &args.key {
                    entries.insert(key.0.clone(), Value::Null);
                }
                plan.result.insert(
                    "msg".into(),
                    json!("One or more supplied key could not be found in the database."),
                );
                entries
            }
            status => {
                let message = match status {
                    1 => "missing arguments, or database unknown".to_string(),
                    2 => "one or more supplied key could not be found in the database".into(),
                    3 => "enumeration not supported on this database".into(),
                    127 => "`getent` is not installed on the host".into(),
                    other => format!(
                        "`getent` exited with status {other}: {}",
                        output.stderr_text().trim()
                    ),
                };
                let hint = match status {
                    1 => Some(format!(
                        "`{}` is not a database getent knows",
                        args.database
                    )),
                    2 => Some("set `fail_key: no` to get null for a missing key".to_string()),
                    _ => None,
                };
                return Err(ModuleError::Failed { message, hint });
            }
        };
        let mut ansible_facts = Map::new();
        ansible_facts.insert(tree, Value::Object(facts));
        plan.result
            .insert("ansible_facts".into(), Value::Object(ansible_facts));
        Ok(plan)
    }
}

/// The databases whose fields `getent` separates with `:`.
const COLON_DATABASES: &[&str] = &["passwd", "shadow", "group", "gshadow"];

/// `getent`'s output as Ansible's facts: first field → the other fields; a key on several
/// lines → a list of those field lists.
pub fn parse_getent(text: &str, database: &str, split: Option<&str>) -> Map<String, Value> {
    let split = split.or(COLON_DATABASES.contains(&database).then_some(":"));
    let mut entries = Map::new();
    let mut seen: Map<String, Value> = Map::new();
    for line in text.lines() {
        let record: Vec<&str> = match split {
            Some(separator) => line.split(separator).collect(),
            None => line.split_whitespace().collect(),
        };
        let Some((key, rest)) = record.split_first() else {
            continue;
        };
        let rest = json!(rest);
        match seen.get(*key).and_then(Value::as_u64) {
            Some(count) => {
                let slot = entries.entry(key.to_string()).or_insert(Value::Null);
                if count == 1 {
                    *slot = Value::Array(vec![slot.take()]);
                }
                if let Value::Array(list) = slot {
                    list.push(rest);
                }
                seen.insert(key.to_string(), json!(count + 1));
            }
            None => {
                entries.insert(key.to_string(), rest);
                seen.insert(key.to_string(), json!(1));
            }
        }
    }
    entries
}
