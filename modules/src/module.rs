//! The Module trait, its typed-arguments adapter, and the registry of every module.

use crate::facts::Facts;
use crate::host::{Host, HostError, Read};
use crate::plan::Plan;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// What a module may know about the run besides its arguments.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Facts about the host (OS family, service manager, package manager…).
    pub facts: &'a Facts,
}

/// Where a module runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Plans by reading the host, applies by changing it.
    Host,
    /// Acts on the run itself (variables, messages, control flow); the engine executes it,
    /// the module only defines and validates its arguments.
    Controller,
}

/// A module as the engine sees it: validated arguments in, plan out.
pub trait Module: Sync {
    /// The name used in YAML (`sysctl`, `copy`…).
    fn name(&self) -> &'static str;
    /// One line saying what state it converges.
    fn summary(&self) -> &'static str;
    /// Example tasks in YAML, shown by `converge doc`.
    fn examples(&self) -> &'static str;
    /// Host or controller.
    fn target(&self) -> Target;
    /// The JSON schema of the arguments, generated from the same struct that validates them.
    fn schema(&self) -> schemars::Schema;
    /// The names of every argument (including aliases), for suggestions.
    fn argument_names(&self) -> Vec<String>;
    /// Check arguments without touching any host.
    fn validate(&self, args: &Value) -> Result<(), ArgsError>;
    /// Whether planning with these arguments reads `context.facts`; the engine gathers facts
    /// (one round trip, some 50 processes on the host) before the first such task on a host,
    /// and not at all for the others.
    fn uses_facts(&self, args: &Value) -> bool;
    /// Whether check mode plans the module; when not, check mode skips its tasks.
    fn supports_check_mode(&self) -> bool;
    /// The reads `plan` will make with these arguments, as far as they are known before it
    /// runs (the first ones; later reads may depend on what these return). The engine makes
    /// the reads of several tasks in one round trip; a read named here that `plan` does not
    /// make costs only its share of that round trip, and one `plan` makes unnamed costs a
    /// round trip of its own, so a guess is never wrong, only slower.
    fn reads(&self, args: &Value) -> Vec<Read>;
    /// Read the host and compute the plan.
    fn plan(
        &self,
        args: &Value,
        host: &mut dyn Host,
        context: &Context,
    ) -> Result<Plan, ModuleError>;
    /// The registered result once the plan was applied, from what [`Plan::apply`] returned
    /// (the planned result plus the last command's `rc`/`stdout`…). An `Err` fails the task
    /// with that message and result.
    fn applied(&self, args: &Value, result: Map<String, Value>) -> AppliedResult;
}

/// What [`Module::applied`] gives: the result, or a failure message with the result.
pub type AppliedResult = Result<Map<String, Value>, (String, Map<String, Value>)>;

/// The typed side of a module: implement this, register `Typed::<YourModule>`.
pub trait TypedModule: Sync + 'static {
    /// Arguments: `Deserialize` with `deny_unknown_fields`, documented fields.
    type Args: DeserializeOwned + JsonSchema;
    /// YAML name.
    const NAME: &'static str;
    /// One-line summary.
    const SUMMARY: &'static str;
    /// Example tasks in YAML.
    const EXAMPLES: &'static str;
    /// Host or controller.
    const TARGET: Target = Target::Host;
    /// Whether `plan` reads `context.facts` (the safe default is yes).
    const USES_FACTS: bool = true;
    /// Whether the module can run in check mode. A module that only acts when applied (it
    /// waits, say) cannot: check mode skips its tasks, as Ansible does.
    const SUPPORTS_CHECK_MODE: bool = true;

    /// Whether `plan` reads `context.facts` with these arguments; [`Self::USES_FACTS`] unless
    /// only some forms of the module need facts (ip6tables' ruleset form, not its rule form).
    fn uses_facts_for(_args: &Self::Args) -> bool {
        Self::USES_FACTS
    }

    /// The first reads `plan` makes (see [`Module::reads`]); none by default.
    fn reads(_args: &Self::Args) -> Vec<Read> {
        Vec::new()
    }

    /// Checks that serde cannot express (mutually exclusive arguments and the like).
    fn check(_args: &Self::Args) -> Result<(), ArgsError> {
        Ok(())
    }

    /// Read the host and compute the plan.
    fn plan(args: Self::Args, host: &mut dyn Host, context: &Context) -> Result<Plan, ModuleError>;

    /// The registered result after applying, for modules whose result comes from what the
    /// applied command printed (a download's size, an HTTP response). The default keeps it.
    fn applied(_args: &Self::Args, result: Map<String, Value>) -> AppliedResult {
        Ok(result)
    }
}

/// Adapter from [`TypedModule`] to [`Module`].
pub struct Typed<M>(std::marker::PhantomData<M>);

impl<M> Typed<M> {
    /// The adapter value (zero-sized).
    pub const fn new() -> Self {
        Typed(std::marker::PhantomData)
    }
}

impl<M> Default for Typed<M> {
    fn default() -> Self {
        Self::new()
    }
}

/// Deserialize typed arguments, turning serde's message into an [`ArgsError`].
///
/// Values are first converted to the types the arguments declare, as Ansible's argument spec
/// converts them ([`crate::args::coerce_to_schema`]): `port: 22` where text is expected,
/// `enabled: "yes"` where a boolean is.
pub fn parse_args<M: TypedModule>(args: &Value) -> Result<M::Args, ArgsError> {
    let mut args = args.clone();
    let schema = schema_of::<M>();
    crate::args::coerce_to_schema(&mut args, &schema, &schema);
    let parsed: M::Args = serde_path_to_error::deserialize(args).map_err(|error| {
        let path = error.path().to_string();
        let mut found =
            ArgsError::from_serde(M::NAME, &error.inner().to_string(), &argument_names::<M>());
        // serde names the field for unknown and missing arguments but not for a wrong type;
        // the path does.
        if found.argument.is_none() && path != "." && !found.message.starts_with("module ") {
            let top = path.split(['.', '[']).next().unwrap_or(&path).to_string();
            found.message = format!(
                "argument `{path}` of module `{}`: {}",
                M::NAME,
                error.inner()
            );
            found.argument = Some(top);
        }
        found
    })?;
    M::check(&parsed)?;
    Ok(parsed)
}

/// The JSON schema of `M`'s arguments, generated once per module.
fn schema_of<M: TypedModule>() -> std::sync::Arc<Value> {
    use std::any::TypeId;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock};
    static SCHEMAS: OnceLock<Mutex<HashMap<TypeId, Arc<Value>>>> = OnceLock::new();
    let cache = SCHEMAS.get_or_init(Default::default);
    let mut schemas = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    schemas
        .entry(TypeId::of::<M>())
        .or_insert_with(|| Arc::new(schemars::schema_for!(M::Args).to_value()))
        .clone()
}

fn argument_names<M: TypedModule>() -> Vec<String> {
    let schema = schemars::schema_for!(M::Args);
    let mut names: Vec<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default();
    // Aliases are not in the schema; serde's own "expected one of" lists them.
    if let Err(error) = serde_json::from_value::<M::Args>(serde_json::json!({"\u{1}": 0})) {
        for name in expected_names(&error.to_string()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

fn expected_names(message: &str) -> Vec<String> {
    let Some(list) = message.split("expected one of ").nth(1) else {
        return message
            .split("expected `")
            .nth(1)
            .and_then(|rest| rest.split('`').next())
            .map(|name| vec![name.to_string()])
            .unwrap_or_default();
    };
    list.split(", ")
        .filter_map(|item| item.trim().strip_prefix('`')?.split('`').next())
        .map(str::to_string)
        .collect()
}

impl<M: TypedModule> Module for Typed<M> {
    fn name(&self) -> &'static str {
        M::NAME
    }
    fn summary(&self) -> &'static str {
        M::SUMMARY
    }
    fn examples(&self) -> &'static str {
        M::EXAMPLES
    }
    fn target(&self) -> Target {
        M::TARGET
    }
    fn schema(&self) -> schemars::Schema {
        schemars::schema_for!(M::Args)
    }
    fn argument_names(&self) -> Vec<String> {
        argument_names::<M>()
    }
    fn validate(&self, args: &Value) -> Result<(), ArgsError> {
        parse_args::<M>(args).map(|_| ())
    }
    fn uses_facts(&self, args: &Value) -> bool {
        // Arguments that do not parse fail in `plan`, with or without facts.
        parse_args::<M>(args).map_or(M::USES_FACTS, |parsed| M::uses_facts_for(&parsed))
    }
    fn supports_check_mode(&self) -> bool {
        M::SUPPORTS_CHECK_MODE
    }
    fn reads(&self, args: &Value) -> Vec<Read> {
        parse_args::<M>(args).map_or_else(|_| Vec::new(), |parsed| M::reads(&parsed))
    }
    fn plan(
        &self,
        args: &Value,
        host: &mut dyn Host,
        context: &Context,
    ) -> Result<Plan, ModuleError> {
        let parsed = parse_args::<M>(args)?;
        M::plan(parsed, host, context)
    }
    fn applied(&self, args: &Value, result: Map<String, Value>) -> AppliedResult {
        match parse_args::<M>(args) {
            Ok(parsed) => M::applied(&parsed, result),
            // Arguments were parsed once already to plan; this cannot fail in practice.
            Err(error) => Err((error.message, result)),
        }
    }
}

/// Arguments that do not fit a module's definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ArgsError {
    /// Lowercase, no trailing period, names in backticks.
    pub message: String,
    /// The argument at fault, when known (used to point at its line).
    pub argument: Option<String>,
    /// A fix, e.g. "did you mean `sysctl_file`?".
    pub hint: Option<String>,
}

impl ArgsError {
    /// An error about one argument.
    pub fn new(argument: Option<&str>, message: impl Into<String>) -> Self {
        ArgsError {
            message: message.into(),
            argument: argument.map(str::to_string),
            hint: None,
        }
    }

    /// Add a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Reword serde's message for a person, with a suggestion for misspelled names.
    pub fn from_serde(module: &str, message: &str, known: &[String]) -> Self {
        if let Some(rest) = message.strip_prefix("unknown field `") {
            let field = rest.split('`').next().unwrap_or(rest).to_string();
            let hint = closest(&field, known.iter().map(String::as_str))
                .map(|name| format!("did you mean `{name}`?"))
                .unwrap_or_else(|| format!("`{module}` takes: {}", known.join(", ")));
            return ArgsError {
                message: format!("unknown argument `{field}` for module `{module}`"),
                argument: Some(field),
                hint: Some(hint),
            };
        }
        if let Some(rest) = message.strip_prefix("missing field `") {
            let field = rest.split('`').next().unwrap_or(rest).to_string();
            return ArgsError {
                message: format!("module `{module}` needs the argument `{field}`"),
                argument: None,
                hint: Some(format!("run `converge doc {module}` for its arguments")),
            };
        }
        ArgsError {
            message: format!("bad arguments for module `{module}`: {message}"),
            argument: None,
            hint: Some(format!("run `converge doc {module}` for its arguments")),
        }
    }
}

/// The closest of `candidates` to `word`, if any is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (edit_distance(word, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len().max(word.len()) / 3).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

/// A module could not plan or apply.
#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    /// The arguments are wrong.
    #[error(transparent)]
    Args(#[from] ArgsError),
    /// The transport failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The module found a state it must not touch, or a command it ran failed.
    #[error("{message}")]
    Failed {
        /// What is wrong, lowercase.
        message: String,
        /// How to fix it.
        hint: Option<String>,
    },
    /// A controller module was asked to plan on a host (an engine bug if it happens).
    #[error("module `{0}` runs on the controller, not on a host")]
    ControllerOnly(&'static str),
}

impl ModuleError {
    /// A failure with a message.
    pub fn failed(message: impl Into<String>) -> Self {
        ModuleError::Failed {
            message: message.into(),
            hint: None,
        }
    }
}
