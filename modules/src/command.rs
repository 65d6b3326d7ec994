//! `command`: run a program on the host, without a shell.
//!
//! Converges nothing by itself: a command that runs counts as a change (use `creates` or
//! `removes` to make it idempotent; `changed_when` is the engine's business). Reads only the
//! paths named by `creates`/`removes` (one stat each). The free-form line is split into an
//! argument vector with POSIX shell word rules, so quotes group words but `|`, `>`, `$HOME`
//! and globs reach the program literally; use `shell` for those. Check mode cannot know what
//! a command would do, so its plan is marked unknowable. Unlike Ansible, `creates` and
//! `removes` are plain paths, not glob patterns.
//!
//! ```yaml
//! - command: make install
//!   args:
//!     chdir: /usr/src/app
//!     creates: /usr/local/bin/app
//! ```

use crate::args::Flag;
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Step};
use crate::{Command, Host, Plan};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// Arguments of `command`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandArgs {
    /// The command line (the free-form text after `command:`), split into words like a
    /// shell would, but never run by one.
    pub cmd: Option<String>,
    /// The program and its arguments as a list, instead of `cmd`; no splitting at all.
    pub argv: Option<Vec<String>>,
    /// Change into this directory before running.
    pub chdir: Option<String>,
    /// A path: when it exists, the command is not run.
    pub creates: Option<String>,
    /// A path: when it does not exist, the command is not run.
    pub removes: Option<String>,
    /// Text fed to the command's standard input.
    pub stdin: Option<String>,
    /// Add a newline after `stdin`.
    #[serde(default = "yes")]
    pub stdin_add_newline: Flag,
}

pub(crate) fn yes() -> Flag {
    Flag(true)
}

/// The `command` module.
pub struct CommandModule;

impl TypedModule for CommandModule {
    type Args = CommandArgs;
    const NAME: &'static str = "command";
    const SUMMARY: &'static str = "Run a program on the host without a shell";
    const EXAMPLES: &'static str = "- command: /usr/sbin/update-ca-certificates\n\n- command: make install\n  args:\n    chdir: /usr/src/app\n    creates: /usr/local/bin/app\n\n- command:\n    argv: [useradd, --system, --shell, /usr/sbin/nologin, backup]\n";
    const USES_FACTS: bool = false;

    fn check(args: &CommandArgs) -> Result<(), ArgsError> {
        match (&args.cmd, &args.argv) {
            (Some(_), Some(_)) => Err(ArgsError::new(
                Some("argv"),
                "`cmd` and `argv` are mutually exclusive in module `command`",
            )),
            (None, None) => Err(
                ArgsError::new(None, "module `command` needs a command to run")
                    .with_hint("write it after `command:`, or give `cmd` or `argv`"),
            ),
            (Some(cmd), None) => match split_words(cmd)?.is_empty() {
                true => Err(
                    ArgsError::new(Some("cmd"), "module `command` needs a command to run")
                        .with_hint("write it after `command:`, or give `cmd` or `argv`"),
                ),
                false => Ok(()),
            },
            (None, Some(argv)) if argv.is_empty() => Err(ArgsError::new(
                Some("argv"),
                "`argv` of module `command` is empty",
            )),
            (None, Some(_)) => Ok(()),
        }
    }

    fn plan(args: CommandArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Self::check(&args)?;
        let argv = match (&args.argv, &args.cmd) {
            (Some(argv), _) => argv.clone(),
            (None, Some(cmd)) => split_words(cmd)?,
            (None, None) => Vec::new(),
        };
        if argv.is_empty() {
            return Err(ArgsError::new(None, "module `command` needs a command to run").into());
        }
        let command = Command::argv(argv);
        let guard = Guard {
            chdir: args.chdir.as_deref(),
            creates: args.creates.as_deref(),
            removes: args.removes.as_deref(),
            stdin: args.stdin.as_deref(),
            stdin_add_newline: args.stdin_add_newline.0,
        };
        plan_run(Self::NAME, command, &guard, host)
    }
}

/// What `command` and `shell` share beside the program itself.
pub(crate) struct Guard<'a> {
    pub chdir: Option<&'a str>,
    pub creates: Option<&'a str>,
    pub removes: Option<&'a str>,
    pub stdin: Option<&'a str>,
    pub stdin_add_newline: bool,
}

/// The plan of `command` and `shell`: skip when `creates`/`removes` say so, else one run.
pub(crate) fn plan_run(
    module: &str,
    mut command: Command,
    guard: &Guard,
    host: &mut dyn Host,
) -> Result<Plan, ModuleError> {
    if let Some(dir) = guard.chdir {
        command = command.with_chdir(dir);
    }
    if let Some(input) = guard.stdin {
        let mut bytes = input.as_bytes().to_vec();
        if guard.stdin_add_newline {
            bytes.push(b'\n');
        }
        command = command.with_stdin(bytes);
    }
    let line = command.to_shell_line();
    // Ansible resolves relative `creates`/`removes` after changing into `chdir`.
    let resolve = |path: &str| match guard.chdir {
        Some(dir) if !path.starts_with('/') => crate::fsutil::join(dir, path),
        _ => path.to_string(),
    };
    if let Some(path) = guard.creates.map(resolve) {
        if host.stat(&path)?.is_some() {
            return Ok(skipped(&line, format!("skipped, since {path} exists")));
        }
    }
    if let Some(path) = guard.removes.map(resolve) {
        if host.stat(&path)?.is_none() {
            return Ok(skipped(
                &line,
                format!("skipped, since {path} does not exist"),
            ));
        }
    }
    let mut plan = Plan::unchanged();
    plan.push(
        Change::note(module, format!("will run `{line}`")),
        [Step::Run {
            command,
            allow_failure: false,
        }],
    );
    plan.unknowable_in_check_mode = true;
    Ok(plan)
}

fn skipped(line: &str, msg: String) -> Plan {
    let mut plan = Plan::unchanged();
    plan.result
        .insert("cmd".into(), Value::String(line.to_string()));
    plan.result.insert("rc".into(), Value::from(0));
    plan.result
        .insert("stdout".into(), Value::String(msg.clone()));
    plan.result
        .insert("stdout_lines".into(), Value::from(vec![msg.clone()]));
    plan.result
        .insert("stderr".into(), Value::String(String::new()));
    plan.result.insert("msg".into(), Value::String(msg));
    plan
}

/// Split a command line into words as a POSIX shell would (quotes and backslashes), without
/// expanding anything. Unbalanced quotes are an error.
pub fn split_words(line: &str) -> Result<Vec<String>, ArgsError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    let unterminated = |what: &str| {
        ArgsError::new(
            Some("cmd"),
            format!("the command line has an unterminated {what}"),
        )
        .with_hint(format!(
            "close it, or use `argv` to pass arguments without quoting: {line}"
        ))
    };
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(unterminated("single quote")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(unterminated("double quote")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(unterminated("double quote")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push(c),
                    None => return Err(unterminated("backslash at the end")),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::split_words;

    #[test]
    fn splits_like_a_shell_without_expanding() {
        let words = |line: &str| split_words(line).unwrap();
        assert_eq!(words("ls -l /tmp"), ["ls", "-l", "/tmp"]);
        assert_eq!(words("  echo  'a b'  \"c d\" "), ["echo", "a b", "c d"]);
        assert_eq!(
            words(r#"echo "say \"hi\"" it\'s"#),
            ["echo", "say \"hi\"", "it's"]
        );
        assert_eq!(words("echo $HOME | wc"), ["echo", "$HOME", "|", "wc"]);
        assert_eq!(words(r#"printf "a\nb" ''"#), ["printf", r"a\nb", ""]);
        assert_eq!(words("a'b'\"c\"d"), ["abcd"]);
        assert!(words("").is_empty());
    }

    #[test]
    fn unbalanced_quotes_are_errors() {
        assert!(split_words("echo 'oops").is_err());
        assert!(split_words("echo \"oops").is_err());
        assert!(split_words("echo oops\\").is_err());
    }
}
