//! Templates and expressions: Jinja2 as Ansible runs it, on minijinja.
//!
//! One [`Templates`] value holds the environment: strict undefined (a typo in a variable name
//! is an error, not an empty string), Ansible's filters and tests (template/filters.rs), `lookup`,
//! `omit`, and Python string methods (`'abc'.startswith('a')`). Variables arrive as one merged
//! JSON map per host; precedence is the runner's business.
//!
//! ```text
//! render_str("{{ wan_interface }}.100")           -> "eth0.100"
//! render_value("{{ ports }}")                      -> [80, 443]        (native, like Ansible)
//! eval_condition("ansible_os_family == 'Slackware' and x is defined") -> true
//! ```
//!
//! Errors name what is missing: `undefined variable `wan_interfce`` with the hint
//! "did you mean `wan_interface`?", or "`ansible_facts.nosuch` is undefined: `ansible_facts`
//! has no key `nosuch`".

mod filters;
mod ipaddr;
mod lookups;
mod source;

pub use lookups::LookupContext;

use std::cell::OnceCell;
use std::collections::BTreeSet;

use minijinja::value::{merge_maps, Serde};
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior, Value as Jinja};
use serde_json::{Map, Value};

/// The value `{{ omit }}` renders to. The runner removes every task argument (and list item)
/// whose value is exactly this string, as Ansible does; [`strip_omitted`] does that.
pub const OMIT: &str = "__omit_place_holder__converge__";

/// What `{{ ansible_managed }}` gives in a template file when the variables do not set it
/// (Ansible's `DEFAULT_MANAGED_STR`).
pub const ANSIBLE_MANAGED: &str = "Ansible managed";

/// Why a template could not be rendered or an expression evaluated.
///
/// `line` fields are 1-based within the template text (0 when minijinja did not say), so the
/// caller can add the line where the text starts in its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// A top-level variable the template reads is not defined for this host.
    #[error("undefined variable `{name}`")]
    Undefined {
        /// The variable's name.
        name: String,
        /// Line within the template.
        line: usize,
        /// The closest defined variable name, when one is close.
        suggestion: Option<String>,
    },
    /// A defined value lacks the attribute, key or index the template asks for.
    #[error("`{expression}` is undefined: {reason}")]
    MissingKey {
        /// The whole lookup, e.g. `ansible_facts.nosuch`.
        expression: String,
        /// Why, e.g. "`ansible_facts` has no key `nosuch`".
        reason: String,
        /// Line within the template.
        line: usize,
        /// The fix: the closest existing key, or the keys there are.
        hint: Option<String>,
    },
    /// The template text is not valid Jinja2.
    #[error("template syntax error: {message}")]
    Syntax {
        /// What the parser found.
        message: String,
        /// Line within the template.
        line: usize,
    },
    /// A filter name that neither minijinja nor converge knows.
    #[error("unknown filter `{name}`")]
    UnknownFilter {
        /// The filter as written.
        name: String,
        /// Line within the template.
        line: usize,
        /// The closest known filter.
        suggestion: Option<String>,
    },
    /// A test name (`x is NAME`) that neither minijinja nor converge knows.
    #[error("unknown test `{name}`")]
    UnknownTest {
        /// The test as written.
        name: String,
        /// Line within the template.
        line: usize,
        /// The closest known test.
        suggestion: Option<String>,
    },
    /// Rendering failed for another reason (a filter's error, a bad operation).
    #[error("{message}")]
    Render {
        /// What went wrong, lowercase.
        message: String,
        /// Line within the template.
        line: usize,
    },
    /// A condition gave a value that is neither a boolean nor clearly true or false.
    #[error("condition `{expression}` gave {found}, not a boolean")]
    NotBoolean {
        /// The condition as written.
        expression: String,
        /// What it gave, e.g. "the string `maybe`".
        found: String,
    },
}

impl TemplateError {
    /// How to fix it, e.g. "did you mean `wan_interface`?".
    pub fn hint(&self) -> Option<String> {
        match self {
            TemplateError::Undefined { name, suggestion, .. } => Some(match suggestion {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!(
                    "define `{name}` (vars, group_vars, host_vars, set_fact or register), or give a fallback with `{name} | default(...)`"
                ),
            }),
            TemplateError::MissingKey { hint, .. } => hint.clone(),
            TemplateError::UnknownFilter { suggestion, .. }
            | TemplateError::UnknownTest { suggestion, .. } => {
                suggestion.as_ref().map(|close| format!("did you mean `{close}`?"))
            }
            TemplateError::NotBoolean { expression, .. } => Some(format!(
                "compare explicitly (`{expression} == \"value\"`, `{expression} | length > 0`) or convert with `{expression} | bool`"
            )),
            TemplateError::Syntax { .. } | TemplateError::Render { .. } => None,
        }
    }

    /// The line within the template text (1-based), when known.
    pub fn line(&self) -> Option<usize> {
        let line = match self {
            TemplateError::Undefined { line, .. }
            | TemplateError::MissingKey { line, .. }
            | TemplateError::Syntax { line, .. }
            | TemplateError::UnknownFilter { line, .. }
            | TemplateError::UnknownTest { line, .. }
            | TemplateError::Render { line, .. } => *line,
            TemplateError::NotBoolean { .. } => 0,
        };
        (line > 0).then_some(line)
    }

    fn shift_lines(mut self, by: usize) -> Self {
        match &mut self {
            TemplateError::Undefined { line, .. }
            | TemplateError::MissingKey { line, .. }
            | TemplateError::Syntax { line, .. }
            | TemplateError::UnknownFilter { line, .. }
            | TemplateError::UnknownTest { line, .. }
            | TemplateError::Render { line, .. } => {
                if *line > 0 {
                    *line += by;
                }
            }
            TemplateError::NotBoolean { .. } => {}
        }
        self
    }
}

/// Whitespace options of the `template` module (Ansible's `trim_blocks` and `lstrip_blocks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileOptions {
    /// Remove the first newline after a block tag (Ansible's default: true).
    pub trim_blocks: bool,
    /// Strip spaces and tabs before a block tag on its line (Ansible's default: false).
    pub lstrip_blocks: bool,
}

impl Default for FileOptions {
    fn default() -> Self {
        FileOptions {
            trim_blocks: true,
            lstrip_blocks: false,
        }
    }
}

/// The Jinja2 environment converge renders with, configured as Ansible's.
pub struct Templates {
    env: Environment<'static>,
    /// Names the environment defines itself (`range`, `lookup`, `omit`, ...): never "undefined".
    globals: BTreeSet<String>,
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates").finish_non_exhaustive()
    }
}

impl Templates {
    /// An environment with strict undefined and Ansible's filters, tests and lookups.
    pub fn new() -> Templates {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Debug mode makes minijinja record which expression produced an undefined value, so
        // errors can name `wan_interfce` instead of saying "undefined value".
        env.set_debug(true);
        // Ansible never HTML-escapes, whatever the template's file name.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        // Ansible's finalize prints None as an empty string.
        env.set_formatter(|out, state, value| {
            if value.is_none() {
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
        env.set_syntax(syntax(&source::Overrides::default()));
        filters::register(&mut env);
        env.add_global("omit", OMIT);
        let globals = env.globals().map(|(name, _)| name.to_string()).collect();
        Templates { env, globals }
    }

    /// True if the string contains template syntax (`{{`, `{%` or `{#`).
    pub fn is_template(text: &str) -> bool {
        text.contains("{{") || text.contains("{%") || text.contains("{#")
    }

    /// Render a string that may contain `{{ }}`/`{% %}`; a string without them is returned
    /// unchanged. Lookups search the `role_path` and `playbook_dir` variables' directories.
    pub fn render_str(
        &self,
        source: &str,
        vars: &Map<String, Value>,
    ) -> Result<String, TemplateError> {
        self.render_str_with_lookups(source, &LookupContext::from_vars(vars))
    }

    /// [`render_str`](Self::render_str) with lookups searching `lookups.search_paths` and
    /// variables `lookups.vars`.
    pub fn render_str_with_lookups(
        &self,
        source: &str,
        lookups: &LookupContext<'_>,
    ) -> Result<String, TemplateError> {
        if !Templates::is_template(source) {
            return Ok(source.to_string());
        }
        let ctx = context(lookups, false);
        self.render_text(source, &ctx, lookups.vars)
    }

    /// Render every string inside a value recursively (task arguments). A string that is
    /// exactly one `{{ expr }}` (surrounding whitespace allowed) yields the expression's native
    /// value (list, dict, number, bool) like Ansible; other strings render to strings. Map keys
    /// are rendered too.
    pub fn render_value(
        &self,
        value: &Value,
        vars: &Map<String, Value>,
    ) -> Result<Value, TemplateError> {
        self.render_value_with_lookups(value, &LookupContext::from_vars(vars))
    }

    /// [`render_value`](Self::render_value) with an explicit [`LookupContext`].
    pub fn render_value_with_lookups(
        &self,
        value: &Value,
        lookups: &LookupContext<'_>,
    ) -> Result<Value, TemplateError> {
        // Converting the variables is the expensive part; only do it if a template is found.
        let ctx = OnceCell::new();
        self.render_value_in(value, &ctx, lookups)
    }

    fn render_value_in(
        &self,
        value: &Value,
        ctx: &OnceCell<Jinja>,
        lookups: &LookupContext<'_>,
    ) -> Result<Value, TemplateError> {
        let vars = lookups.vars;
        match value {
            Value::String(text) if Templates::is_template(text) => {
                let ctx = ctx.get_or_init(|| context(lookups, false));
                // Only a string that is exactly one expression keeps its native type. Jinja
                // drops one final newline of the source before Ansible looks, so
                // "{{ count }}\n" is the number itself, while "{{ name }}\n" stays text and
                // gets its newline back (Ansible re-adds it to string results only).
                let body = text.strip_suffix('\n').unwrap_or(text);
                let exact = body.trim() == body;
                if let Some((inner, offset)) = single_expression(body).filter(|_| exact) {
                    let prepared = source::prepare_expression(inner, true);
                    if self.env.compile_expression(&prepared).is_ok() {
                        let result = self
                            .eval_in(inner, ctx, vars, true)
                            .map_err(|err| err.shift_lines(offset))?;
                        return match to_json(&result, inner)? {
                            Value::String(rendered) if body.len() < text.len() => {
                                Ok(Value::String(rendered + "\n"))
                            }
                            native => Ok(native),
                        };
                    }
                }
                Ok(Value::String(self.render_text(text, ctx, vars)?))
            }
            Value::Array(items) => items
                .iter()
                .map(|item| self.render_value_in(item, ctx, lookups))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            Value::Object(map) => {
                let mut out = Map::with_capacity(map.len());
                for (key, item) in map {
                    let key = if Templates::is_template(key) {
                        let ctx = ctx.get_or_init(|| context(lookups, false));
                        self.render_text(key, ctx, vars)?
                    } else {
                        key.clone()
                    };
                    out.insert(key, self.render_value_in(item, ctx, lookups)?);
                }
                Ok(Value::Object(out))
            }
            other => Ok(other.clone()),
        }
    }

    /// Evaluate a bare expression (`when:`, `changed_when:`, `that:`), e.g.
    /// `ansible_os_family == "Slackware" and x is defined`. A value wrapped in `{{ }}` is
    /// accepted too (Ansible warns but allows it).
    pub fn eval(
        &self,
        expression: &str,
        vars: &Map<String, Value>,
    ) -> Result<Value, TemplateError> {
        self.eval_with_lookups(expression, &LookupContext::from_vars(vars))
    }

    /// [`eval`](Self::eval) with an explicit [`LookupContext`].
    pub fn eval_with_lookups(
        &self,
        expression: &str,
        lookups: &LookupContext<'_>,
    ) -> Result<Value, TemplateError> {
        let (expression, offset) = unwrap_expression(expression);
        let result = self
            .eval_in(expression, &context(lookups, false), lookups.vars, false)
            .map_err(|err| err.shift_lines(offset))?;
        to_json(&result, expression)
    }

    /// Evaluate a condition to a bool with Ansible's truthiness: booleans, numbers (non-zero),
    /// collections (non-empty), none (false), and strings only when they spell a boolean
    /// (`yes`/`no`/`true`/`false`/`on`/`off`/`1`/`0`, any case, or empty); any other string is
    /// [`TemplateError::NotBoolean`], since `when: "{{ x }}"` with `x = "no"` must not be true.
    pub fn eval_condition(
        &self,
        expression: &str,
        vars: &Map<String, Value>,
    ) -> Result<bool, TemplateError> {
        self.eval_condition_with_lookups(expression, &LookupContext::from_vars(vars))
    }

    /// [`eval_condition`](Self::eval_condition) with an explicit [`LookupContext`].
    pub fn eval_condition_with_lookups(
        &self,
        expression: &str,
        lookups: &LookupContext<'_>,
    ) -> Result<bool, TemplateError> {
        let (inner, offset) = unwrap_expression(expression);
        // Ansible evaluates conditionals without escaping backslashes (they used to be `{% %}`).
        let result = self
            .eval_in(inner, &context(lookups, false), lookups.vars, false)
            .map_err(|err| err.shift_lines(offset))?;
        match result.kind() {
            minijinja::value::ValueKind::String => {
                filters::ansible_bool(&result).ok_or_else(|| TemplateError::NotBoolean {
                    expression: inner.trim().to_string(),
                    found: format!("the string `{}`", result.as_str().unwrap_or_default()),
                })
            }
            _ => Ok(result.is_true()),
        }
    }

    /// Render a template file's text for the `template` module as Ansible does: trim_blocks
    /// on, lstrip_blocks off, a `#jinja2:` first line applied, trailing newlines of the source
    /// kept, and `ansible_managed` defined unless the variables set it. `name` is the
    /// template's file name, used in messages.
    pub fn render_file(
        &self,
        name: &str,
        source: &str,
        vars: &Map<String, Value>,
    ) -> Result<String, TemplateError> {
        self.render_file_with_lookups(
            name,
            source,
            &LookupContext::from_vars(vars),
            FileOptions::default(),
        )
    }

    /// [`render_file`](Self::render_file) with the `template` module's `trim_blocks` and
    /// `lstrip_blocks` arguments.
    pub fn render_file_with(
        &self,
        name: &str,
        source: &str,
        vars: &Map<String, Value>,
        options: FileOptions,
    ) -> Result<String, TemplateError> {
        self.render_file_with_lookups(name, source, &LookupContext::from_vars(vars), options)
    }

    /// [`render_file_with`](Self::render_file_with) with an explicit [`LookupContext`] (the
    /// role's and playbook's directories, for `lookup('file', ...)` and friends).
    pub fn render_file_with_lookups(
        &self,
        name: &str,
        source: &str,
        lookups: &LookupContext<'_>,
        options: FileOptions,
    ) -> Result<String, TemplateError> {
        let ctx = context(lookups, true);
        let header = source.starts_with(source::HEADER);
        render_file_text(&self.env, name, source, &ctx, options).map_err(|err| {
            let err = self.convert(err, source, false, lookups.vars);
            if header {
                err.shift_lines(1)
            } else {
                err
            }
        })
    }

    /// Top-level variable names a template (or, with `expression = true`, a bare expression)
    /// reads without defining them itself: loop variables and `{% set %}` names are not
    /// reported, filter and test arguments are, converge's own globals (`omit`, `lookup`,
    /// `range`, ...) are not. Syntax errors are returned as errors.
    pub fn referenced_variables(
        &self,
        source: &str,
        expression: bool,
    ) -> Result<BTreeSet<String>, TemplateError> {
        self.undeclared(source, expression, false)
    }

    /// Like [`referenced_variables`](Self::referenced_variables) but with the attribute paths
    /// read (`ansible_facts.os_family`), for checks deeper than the top-level name.
    pub fn referenced_paths(
        &self,
        source: &str,
        expression: bool,
    ) -> Result<BTreeSet<String>, TemplateError> {
        self.undeclared(source, expression, true)
    }

    fn undeclared(
        &self,
        source: &str,
        expression: bool,
        nested: bool,
    ) -> Result<BTreeSet<String>, TemplateError> {
        let names = if expression {
            let (inner, offset) = unwrap_expression(source);
            let inner = &*source::prepare_expression(inner, false);
            let compiled = self.env.compile_expression(inner).map_err(|err| {
                self.convert(err, inner, true, &Map::new())
                    .shift_lines(offset)
            })?;
            compiled.undeclared_variables(nested)
        } else {
            let prepared = source::prepare(source, &source::Delimiters::default(), false);
            let template = self
                .env
                .template_from_named_str("<string>", &prepared)
                .map_err(|err| self.convert(err, source, false, &Map::new()))?;
            template.undeclared_variables(nested)
        };
        Ok(names
            .into_iter()
            .filter(|name| {
                let top = name.split('.').next().unwrap_or(name);
                !self.globals.contains(top)
            })
            .collect())
    }

    /// Render a template string from YAML (task arguments, `debug: msg`): backslashes in
    /// `{{ }}` string literals stay literal, trailing newlines are kept as Ansible keeps them.
    fn render_text(
        &self,
        source: &str,
        ctx: &Jinja,
        vars: &Map<String, Value>,
    ) -> Result<String, TemplateError> {
        let prepared = source::prepare(source, &source::Delimiters::default(), true);
        self.env
            .template_from_named_str("<string>", &prepared)
            .and_then(|template| template.render(ctx))
            .map(|out| preserve_trailing_newlines(source, out, "\n"))
            .map_err(|err| self.convert(err, source, false, vars))
    }

    /// Evaluate an expression; an undefined result is an error naming what is missing.
    /// `escape_backslashes` is Ansible's handling of expressions inside `{{ }}` from YAML.
    fn eval_in(
        &self,
        expression: &str,
        ctx: &Jinja,
        vars: &Map<String, Value>,
        escape_backslashes: bool,
    ) -> Result<Jinja, TemplateError> {
        let prepared = source::prepare_expression(expression, escape_backslashes);
        let compiled = self
            .env
            .compile_expression(&prepared)
            .map_err(|err| self.convert(err, expression, true, vars))?;
        let result = compiled
            .eval(ctx)
            .map_err(|err| self.convert(err, expression, true, vars))?;
        if result.is_undefined() {
            // Strict mode lets a bare undefined value through an expression; find its name.
            return Err(self.undefined_from_references(expression, true, vars, 1));
        }
        Ok(result)
    }

    /// Turn minijinja's error into one that names the variable, filter or test involved.
    fn convert(
        &self,
        err: minijinja::Error,
        source: &str,
        expression: bool,
        vars: &Map<String, Value>,
    ) -> TemplateError {
        let line = err.line().unwrap_or(0);
        let detail = err.detail().unwrap_or_default().to_string();
        match err.kind() {
            ErrorKind::SyntaxError => TemplateError::Syntax {
                message: detail,
                line,
            },
            ErrorKind::UndefinedError => match undefined_expression(&detail) {
                Some(expr) => self.undefined_for(expr, vars, line),
                None => self.undefined_from_references(source, expression, vars, line),
            },
            ErrorKind::UnknownFilter => {
                let name = unknown_name(&detail, "filter ");
                let known = filters::FILTERS
                    .iter()
                    .chain(filters::BUILTIN_FILTERS)
                    .copied();
                TemplateError::UnknownFilter {
                    suggestion: converge_modules::closest(&name, known).map(str::to_string),
                    name,
                    line,
                }
            }
            ErrorKind::UnknownTest => {
                let name = unknown_name(&detail, "test ");
                let known = filters::TESTS.iter().chain(filters::BUILTIN_TESTS).copied();
                TemplateError::UnknownTest {
                    suggestion: converge_modules::closest(&name, known).map(str::to_string),
                    name,
                    line,
                }
            }
            ErrorKind::UnknownFunction => TemplateError::Render {
                message: format!("unknown function `{}`", unknown_name(&detail, "")),
                line,
            },
            ErrorKind::InvalidOperation if !detail.is_empty() => TemplateError::Render {
                message: detail,
                line,
            },
            kind => TemplateError::Render {
                message: if detail.is_empty() {
                    kind.to_string()
                } else {
                    format!("{kind}: {detail}")
                },
                line,
            },
        }
    }

    /// The error for an undefined lookup such as `name`, `a.b.c` or `a['b']`.
    fn undefined_for(
        &self,
        expression: &str,
        vars: &Map<String, Value>,
        line: usize,
    ) -> TemplateError {
        let Some(path) = parse_path(expression) else {
            return TemplateError::Render {
                message: format!("`{expression}` is undefined"),
                line,
            };
        };
        let (base, keys) = match path.split_first() {
            Some((base, keys)) => (base, keys),
            None => {
                return TemplateError::Render {
                    message: format!("`{expression}` is undefined"),
                    line,
                }
            }
        };
        let Some((last, parents)) = keys.split_last() else {
            let known = vars
                .keys()
                .map(String::as_str)
                .chain(self.globals.iter().map(String::as_str));
            return TemplateError::Undefined {
                name: base.clone(),
                line,
                suggestion: converge_modules::closest(base, known).map(str::to_string),
            };
        };
        let parent_text = path_text(base, parents);
        let parent_value = vars.get(base).and_then(|value| {
            parents.iter().try_fold(value, |value, key| match value {
                Value::Object(map) => map.get(key),
                Value::Array(items) => key.parse::<usize>().ok().and_then(|i| items.get(i)),
                _ => None,
            })
        });
        let not_found = || {
            format!("test it first with `{expression} is defined`, or use `{expression} | default(...)`")
        };
        let (reason, hint) = match parent_value {
            Some(Value::Object(map)) => {
                let hint = match converge_modules::closest(last, map.keys().map(String::as_str)) {
                    Some(close) => format!("did you mean `{parent_text}.{close}`?"),
                    None if !map.is_empty() && map.len() <= 12 => {
                        let keys: Vec<String> = map.keys().map(|k| format!("`{k}`")).collect();
                        format!("`{parent_text}` has {}", keys.join(", "))
                    }
                    None => not_found(),
                };
                (format!("`{parent_text}` has no key `{last}`"), hint)
            }
            Some(Value::Array(items)) => (
                format!(
                    "`{parent_text}` has {} items, no item `{last}`",
                    items.len()
                ),
                not_found(),
            ),
            Some(other) => (
                format!("`{parent_text}` is {}, not a dictionary", describe(other)),
                not_found(),
            ),
            None => (format!("`{parent_text}` has no key `{last}`"), not_found()),
        };
        TemplateError::MissingKey {
            expression: expression.to_string(),
            reason,
            line,
            hint: Some(hint),
        }
    }

    /// When minijinja did not say which value was undefined: the first variable path the
    /// source reads that does not resolve in `vars`.
    fn undefined_from_references(
        &self,
        source: &str,
        expression: bool,
        vars: &Map<String, Value>,
        line: usize,
    ) -> TemplateError {
        let paths = self
            .undeclared(source, expression, true)
            .unwrap_or_default();
        for path in &paths {
            let mut parts = path.split('.');
            let Some(base) = parts.next() else { continue };
            let Some(mut value) = vars.get(base) else {
                return self.undefined_for(base, vars, line);
            };
            let mut resolved = base.to_string();
            for part in parts {
                resolved.push('.');
                resolved.push_str(part);
                let next = match value {
                    Value::Object(map) => map.get(part),
                    Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
                    _ => None,
                };
                match next {
                    Some(next) => value = next,
                    None => return self.undefined_for(&resolved, vars, line),
                }
            }
        }
        TemplateError::Render {
            message: "undefined value".to_string(),
            line,
        }
    }
}

/// The items of a `with_<name>: args` loop (`with_items`, `with_fileglob`, `with_sequence`,
/// `with_first_found`, ...): `args` is the loop's value after templating; a list is the
/// lookup's terms, anything else one term. `subdir` is where `with_first_found` looks inside
/// each search path ([`Loop::lookup_subdir`](crate::playbook::Loop::lookup_subdir)).
pub fn lookup_items(
    name: &str,
    args: &Value,
    ctx: &LookupContext<'_>,
    subdir: &str,
) -> Result<Vec<Value>, TemplateError> {
    let terms = match args {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    lookups::run_in(
        name,
        &terms,
        &Map::new(),
        &ctx.search_paths,
        ctx.vars,
        subdir,
    )
    .map_err(|message| TemplateError::Render {
        message: format!("with_{name}: {message}"),
        line: 0,
    })
}

/// Remove every map entry and list item whose value is exactly [`OMIT`], at any depth, as
/// Ansible does with `{{ omit }}` in task arguments.
pub fn strip_omitted(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, item)| item.as_str() != Some(OMIT))
                .map(|(key, item)| (key, strip_omitted(item)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .filter(|item| item.as_str() != Some(OMIT))
                .map(strip_omitted)
                .collect(),
        ),
        other => other,
    }
}

fn syntax(overrides: &source::Overrides) -> minijinja::syntax::SyntaxConfig {
    let d = &overrides.delimiters;
    let mut builder = minijinja::syntax::SyntaxConfig::builder();
    builder
        .block_delimiters(d.block_start.clone(), d.block_end.clone())
        .variable_delimiters(d.variable_start.clone(), d.variable_end.clone())
        .comment_delimiters(d.comment_start.clone(), d.comment_end.clone())
        .trim_blocks(overrides.trim_blocks)
        .lstrip_blocks(overrides.lstrip_blocks)
        .keep_trailing_newline(overrides.keep_trailing_newline);
    builder.build().unwrap_or_default()
}

/// Render a template file's text on `env` (the template module and the `template` lookup):
/// the `#jinja2:` header over `options`, newlines normalised, no backslash escaping, trailing
/// newlines preserved.
pub(super) fn render_file_text(
    env: &Environment<'_>,
    name: &str,
    source: &str,
    ctx: &Jinja,
    options: FileOptions,
) -> Result<String, minijinja::Error> {
    let mut overrides = source::Overrides {
        trim_blocks: options.trim_blocks,
        lstrip_blocks: options.lstrip_blocks,
        ..source::Overrides::default()
    };
    let body = source::split_header(source, &mut overrides)
        .map_err(|message| minijinja::Error::new(ErrorKind::SyntaxError, message))?;
    // Jinja reads "\r\n" and "\r" as newlines and writes newline_sequence.
    let body = if body.contains('\r') {
        std::borrow::Cow::Owned(body.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        std::borrow::Cow::Borrowed(body)
    };
    let prepared = source::prepare(&body, &overrides.delimiters, false);
    let rendered = if overrides == source::Overrides::default() {
        env.template_from_named_str(name, &prepared)?.render(ctx)?
    } else {
        let mut env = env.clone();
        env.set_syntax(syntax(&overrides));
        env.template_from_named_str(name, &prepared)?.render(ctx)?
    };
    let rendered = if overrides.newline_sequence == "\n" {
        rendered
    } else {
        rendered.replace('\n', &overrides.newline_sequence)
    };
    Ok(preserve_trailing_newlines(
        source,
        rendered,
        &overrides.newline_sequence,
    ))
}

/// Ansible's `preserve_trailing_newlines`: Jinja drops the template's last newline; add back
/// as many newlines as the source ends with beyond what the result ends with.
fn preserve_trailing_newlines(source: &str, mut result: String, newline: &str) -> String {
    let count = |text: &str| text.len() - text.trim_end_matches('\n').len();
    let wanted = count(source);
    let have = count(&result);
    if wanted > have {
        result.push_str(&newline.repeat(wanted - have));
    }
    result
}

/// The render context: the host's variables, the lookup state, and in template files
/// `ansible_managed` unless the variables set it.
fn context(lookups: &LookupContext<'_>, file: bool) -> Jinja {
    let vars = Jinja::from(Serde(lookups.vars));
    let mut extra = std::collections::BTreeMap::new();
    extra.insert(
        lookups::STATE_KEY,
        Jinja::from_object(lookups::LookupState {
            search_paths: lookups.search_paths.clone(),
            vars: vars.clone(),
        }),
    );
    if file && !lookups.vars.contains_key("ansible_managed") {
        extra.insert("ansible_managed", Jinja::from(ANSIBLE_MANAGED));
    }
    merge_maps([vars, Jinja::from(extra)])
}

fn to_json(value: &Jinja, expression: &str) -> Result<Value, TemplateError> {
    serde_json::to_value(value).map_err(|err| TemplateError::Render {
        message: format!(
            "`{}` gave {}, which is not data: {err}",
            expression.trim(),
            value.kind()
        ),
        line: 0,
    })
}

/// The inner expression of a string that is exactly one `{{ ... }}`, and the number of lines
/// before it.
fn single_expression(text: &str) -> Option<(&str, usize)> {
    let trimmed = text.trim();
    let inner = trimmed.strip_prefix("{{")?.strip_suffix("}}")?;
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    let inner = inner.strip_suffix(['-', '+']).unwrap_or(inner);
    if inner.contains("{{") || inner.contains("{%") || inner.contains("{#") {
        return None;
    }
    let start = text.len() - text.trim_start().len();
    Some((inner, text[..start].matches('\n').count()))
}

/// An expression as given to `when:`, without `{{ }}` if it was wrapped in them.
fn unwrap_expression(expression: &str) -> (&str, usize) {
    single_expression(expression).unwrap_or((expression, 0))
}

/// The expression minijinja says is undefined, from "`x.y` is undefined" in its detail.
fn undefined_expression(detail: &str) -> Option<&str> {
    let end = detail.find("` is undefined")?;
    let start = detail[..end].rfind('`')? + 1;
    Some(&detail[start..end])
}

/// The name from "filter NAME is unknown" / "NAME is unknown".
fn unknown_name(detail: &str, prefix: &str) -> String {
    let rest = detail.strip_prefix(prefix).unwrap_or(detail);
    rest.strip_suffix(" is unknown").unwrap_or(rest).to_string()
}

/// Split `a.b['c'][0]` into `["a", "b", "c", "0"]`; `None` for anything more complex.
fn parse_path(expression: &str) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    let mut rest = expression.trim();
    let ident_len = |s: &str| {
        s.find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    let len = ident_len(rest);
    if len == 0 {
        return None;
    }
    parts.push(rest[..len].to_string());
    rest = &rest[len..];
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let len = ident_len(after);
            if len == 0 {
                return None;
            }
            parts.push(after[..len].to_string());
            rest = &after[len..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let key = after[..end].trim();
            let key = key
                .strip_prefix('\'')
                .and_then(|k| k.strip_suffix('\''))
                .or_else(|| key.strip_prefix('"').and_then(|k| k.strip_suffix('"')))
                .unwrap_or(key);
            parts.push(key.to_string());
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(parts)
}

fn path_text(base: &str, keys: &[String]) -> String {
    let mut text = base.to_string();
    for key in keys {
        if key.chars().all(|c| c.is_ascii_digit()) {
            text.push_str(&format!("[{key}]"));
        } else {
            text.push('.');
            text.push_str(key);
        }
    }
    text
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "none",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a dictionary",
    }
}

#[cfg(test)]
mod tests;
