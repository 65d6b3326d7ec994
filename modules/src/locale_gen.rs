//! `locale_gen` (community.general): locales generated (or not) on Debian and Ubuntu.
//!
//! Converges `/etc/locale.gen` and the compiled locales: a wanted locale gets its line
//! uncommented (`de_CH.UTF-8 UTF-8`), an unwanted one commented out (`# de_CH.UTF-8 UTF-8`),
//! then `locale-gen` rebuilds `/usr/lib/locale/locale-archive`. Reads in one round trip which
//! mechanism the host has, `/etc/locale.gen`, `/usr/share/i18n/SUPPORTED` (a locale must be
//! listed there, or already compiled) and `locale -a`. The edit is the pure function
//! [`edit_locale_gen`], Ansible's substitution line for line. Idempotence: a locale counts as
//! present when `locale -a` lists it (codesets compared as glibc normalises them: `UTF-8` is
//! `utf8`), so planning after `locale-gen` finds nothing to do.
//!
//! Differences from Ansible: check mode reports the change (Ansible's reports none); a
//! wanted locale missing from `/etc/locale.gen` is appended with its charset from
//! `SUPPORTED` (Ansible edits nothing and reports no change, leaving it ungenerated); and
//! `state: absent` removes the listed locales that are present even when others in the list
//! are not (Ansible acts only when all are present). Ubuntu's deprecated `ubuntu_legacy`
//! mechanism (no `/etc/locale.gen`) is refused.
//!
//! ```yaml
//! - community.general.locale_gen:
//!     name: [en_GB.UTF-8, de_CH.UTF-8]
//!     state: present
//! ```

use crate::args::StringList;
use crate::host::{Command, Host, WriteOptions};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

/// The file glibc's `locale-gen` reads.
pub const LOCALE_GEN: &str = "/etc/locale.gen";
/// Every locale glibc can build, with its charset.
pub const SUPPORTED: &str = "/usr/share/i18n/SUPPORTED";

/// Whether the locales should be generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LocaleState {
    /// Generated.
    #[default]
    Present,
    /// Not generated.
    Absent,
}

/// Arguments of `locale_gen`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocaleGenArgs {
    /// Locales with their encoding, as `/usr/share/i18n/SUPPORTED` names them
    /// (`en_GB.UTF-8`, `de_DE@euro`); a list, or one string (commas separate several).
    pub name: StringList,
    /// `present` or `absent`.
    #[serde(default)]
    pub state: LocaleState,
}

/// The `locale_gen` module.
pub struct LocaleGen;

const SECTION: &str = "--converge-locale_gen-section--";

impl TypedModule for LocaleGen {
    type Args = LocaleGenArgs;
    const NAME: &'static str = "locale_gen";
    const SUMMARY: &'static str = "Generate or remove locales on Debian and Ubuntu (locale-gen)";
    const EXAMPLES: &'static str = "- community.general.locale_gen:\n    name: de_CH.UTF-8\n    state: present\n\n- community.general.locale_gen:\n    name:\n      - en_GB.UTF-8\n      - nl_NL.UTF-8\n\n- community.general.locale_gen:\n    name: fr_FR.UTF-8\n    state: absent\n";
    const USES_FACTS: bool = false;

    fn check(args: &LocaleGenArgs) -> Result<(), ArgsError> {
        if args.name.0.is_empty() {
            return Err(ArgsError::new(
                Some("name"),
                "module `locale_gen` needs at least one locale in `name`",
            ));
        }
        if let Some(bad) = args.name.0.iter().find(|n| n.contains(char::is_whitespace)) {
            return Err(
                ArgsError::new(Some("name"), format!("`{bad}` is not a locale name"))
                    .with_hint("give the name only, e.g. `de_CH.UTF-8`, not the charset after it"),
            );
        }
        Ok(())
    }

    fn plan(args: LocaleGenArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let read = read_state(host)?;
        let names = &args.name.0;
        let mut plan = Plan::unchanged();
        plan.result.insert("name".into(), json!(names));
        match read.mechanism.as_str() {
            "glibc" => {}
            "ubuntu_legacy" => {
                return Err(ModuleError::Failed {
                    message: "this host has no /etc/locale.gen but /var/lib/locales/supported.d: Ubuntu's deprecated `ubuntu_legacy` locale mechanism is not built in converge".into(),
                    hint: Some("install the `locales` package's /etc/locale.gen (current Ubuntu and Debian have it)".into()),
                })
            }
            _ => {
                return Err(ModuleError::Failed {
                    message: "/var/lib/locales/supported.d and /etc/locale.gen are missing. Is the package \"locales\" installed?".into(),
                    hint: Some("locale_gen works on Debian and Ubuntu (package `locales`); other systems (Slackware) ship their locales compiled".into()),
                })
            }
        }
        plan.result
            .insert("mechanism".into(), Value::String("glibc".into()));
        plan.result.insert("ubuntu_mode".into(), Value::Bool(false));

        let supported = supported_locales(&read.supported);
        let compiled: Vec<&str> = read.compiled.lines().map(str::trim).collect();
        let is_compiled = |name: &str| compiled.iter().any(|c| same_locale(c, name));
        let missing: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|name| !supported.iter().any(|(l, _)| l == name) && !is_compiled(name))
            .collect();
        if !missing.is_empty() {
            return Err(ModuleError::Failed {
                message: format!(
                    "The following locales you have entered are not available on your system: {}",
                    missing.join(", ")
                ),
                hint: Some(format!("{SUPPORTED} lists the locales glibc can build")),
            });
        }
        let present: Vec<&String> = names.iter().filter(|n| is_compiled(n)).collect();
        let act = match args.state {
            LocaleState::Present => present.len() < names.len(),
            LocaleState::Absent => !present.is_empty(),
        };
        if !act {
            return Ok(plan);
        }
        let enable = args.state == LocaleState::Present;
        let mut after = edit_locale_gen(&read.locale_gen, names, enable);
        if enable {
            for name in names {
                if !has_line(&after, name) {
                    if let Some((_, charset)) = supported.iter().find(|(l, _)| l == name) {
                        if !after.is_empty() && !after.ends_with('\n') {
                            after.push('\n');
                        }
                        after.push_str(&format!("{name} {charset}\n"));
                    }
                }
            }
        }
        if after != read.locale_gen {
            plan.push(
                Change::content(
                    LOCALE_GEN,
                    Some(read.locale_gen.clone()),
                    Some(after.clone()),
                ),
                [Step::WriteFile {
                    path: LOCALE_GEN.into(),
                    content: after.into_bytes(),
                    options: WriteOptions::default(),
                }],
            );
        }
        let which: Vec<&str> = if enable {
            names
                .iter()
                .filter(|n| !is_compiled(n))
                .map(String::as_str)
                .collect()
        } else {
            present.iter().map(|n| n.as_str()).collect()
        };
        plan.push(
            Change::note(
                "locales",
                format!(
                    "{} {} (`locale-gen`)",
                    if enable { "generate" } else { "remove" },
                    which.join(", ")
                ),
            ),
            [Step::Run {
                command: Command::argv(["locale-gen"]),
                allow_failure: false,
            }],
        );
        Ok(plan)
    }
}

struct LocaleRead {
    mechanism: String,
    locale_gen: String,
    supported: String,
    compiled: String,
}

fn read_state(host: &mut dyn Host) -> Result<LocaleRead, ModuleError> {
    let script = format!(
        "if [ -f {LOCALE_GEN} ]; then echo glibc; elif [ -d /var/lib/locales/supported.d ]; then echo ubuntu_legacy; else echo none; fi
echo {SECTION}; cat {LOCALE_GEN} 2>/dev/null
echo; echo {SECTION}; cat {SUPPORTED} 2>/dev/null
echo; echo {SECTION}; locale -a 2>/dev/null; true"
    );
    let output = host.run(&Command::shell(script))?;
    let text = output.stdout_text();
    let sections: Vec<&str> = text.split(&format!("{SECTION}\n")).collect();
    let [mechanism, locale_gen, supported, compiled] = sections.as_slice() else {
        return Err(ModuleError::failed(format!(
            "cannot read the locale state of the host: {}",
            output.stderr_text().trim()
        )));
    };
    Ok(LocaleRead {
        mechanism: mechanism.trim().to_string(),
        // `echo` added one newline after the file so the marker starts a line.
        locale_gen: locale_gen
            .strip_suffix('\n')
            .unwrap_or(locale_gen)
            .to_string(),
        supported: supported.to_string(),
        compiled: compiled.to_string(),
    })
}

/// `(locale, charset)` of every line of `SUPPORTED` (or `locale.gen`), commented or not, as
/// Ansible's pattern `^\s*#?\s*(\S+[._\S]+) (\S+)\s*$` reads them.
pub fn supported_locales(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let rest = line.trim_start();
            let rest = rest.strip_prefix('#').unwrap_or(rest).trim_start();
            let (locale, charset) = rest.split_once(' ')?;
            let charset = charset.trim_end();
            let good = locale.chars().count() >= 2
                && !locale.contains(char::is_whitespace)
                && !charset.is_empty()
                && !charset.contains(char::is_whitespace);
            good.then(|| (locale.to_string(), charset.to_string()))
        })
        .collect()
}

/// Whether `locale -a`'s `listed` is the locale `name`: the codeset compared as glibc
/// normalises it (letters lowercased, punctuation dropped: `UTF-8` = `utf8`).
pub fn same_locale(listed: &str, name: &str) -> bool {
    normalize(listed) == normalize(name)
}

fn normalize(name: &str) -> String {
    let (base, modifier) = match name.split_once('@') {
        Some((base, modifier)) => (base, Some(modifier)),
        None => (name, None),
    };
    let mut out = match base.split_once('.') {
        Some((lang, codeset)) => {
            let codeset: String = codeset
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .map(|c| c.to_ascii_lowercase())
                .collect();
            format!("{lang}.{codeset}")
        }
        None => base.to_string(),
    };
    if let Some(modifier) = modifier {
        out.push('@');
        out.push_str(modifier);
    }
    out
}

/// Whether `locale.gen` has a line for `name`, commented or not (Ansible's `^#?\s*NAME `).
fn has_line(text: &str, name: &str) -> bool {
    text.lines().any(|line| line_charset(line, name).is_some())
}

/// The charset after `name` when `line` is `#?\s*NAME CHARSET…`.
fn line_charset<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix('#').unwrap_or(line).trim_start();
    let charset = rest.strip_prefix(name)?.strip_prefix(' ')?;
    let charset = charset.trim_end_matches(['\n', '\r']);
    (!charset.is_empty()).then_some(charset)
}

/// Ansible's edit of `/etc/locale.gen`: every line `#?\s*NAME CHARSET` becomes
/// `NAME CHARSET` (enable) or `# NAME CHARSET` (disable); other lines are kept.
pub fn edit_locale_gen(text: &str, names: &[String], enable: bool) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for line in text.split_inclusive('\n') {
        let mut line = line.to_string();
        for name in names {
            if let Some(charset) = line_charset(&line, name) {
                let ending = &line[line.trim_end_matches(['\n', '\r']).len()..];
                line = if enable {
                    format!("{name} {charset}{ending}")
                } else {
                    format!("# {name} {charset}{ending}")
                };
            }
        }
        out.push_str(&line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codesets_compare_as_glibc_normalises_them() {
        assert!(same_locale("de_CH.utf8", "de_CH.UTF-8"));
        assert!(same_locale("en_US.iso885915", "en_US.ISO-8859-15"));
        assert!(same_locale("sr_RS.utf8@latin", "sr_RS.UTF-8@latin"));
        assert!(same_locale("en_US", "en_US"));
        assert!(!same_locale("en_US", "en_US.UTF-8"));
        assert!(!same_locale("de_DE.utf8", "de_CH.UTF-8"));
    }

    #[test]
    fn enabling_and_disabling_lines() {
        let text =
            "# de_CH ISO-8859-1\n# de_CH.UTF-8 UTF-8\n#de_DE.UTF-8 UTF-8\nen_US.UTF-8 UTF-8\n";
        let names = vec!["de_CH.UTF-8".to_string(), "de_DE.UTF-8".to_string()];
        assert_eq!(
            edit_locale_gen(text, &names, true),
            "# de_CH ISO-8859-1\nde_CH.UTF-8 UTF-8\nde_DE.UTF-8 UTF-8\nen_US.UTF-8 UTF-8\n"
        );
        assert_eq!(
            edit_locale_gen(text, &["en_US.UTF-8".to_string()], false),
            "# de_CH ISO-8859-1\n# de_CH.UTF-8 UTF-8\n#de_DE.UTF-8 UTF-8\n# en_US.UTF-8 UTF-8\n"
        );
    }
}
