//! `xprofile`: the input-method environment of a user's X session, kept in `~/.xprofile`.
//!
//! Converges one managed block of a user's `~/.xprofile` (or `path`), between the lines
//! `# BEGIN converge xprofile` and `# END converge xprofile`, holding POSIX `export NAME=VALUE`
//! lines (values quoted for `/bin/sh`), plus the file's ownership: the user and their primary
//! group (a new file gets mode 0644, or 0755 for a `profile.d/*.sh` script: Slackware's
//! profile sources only executable ones). Every line outside the block is the user's and is kept.
//! `im` picks a preset (see [`ImPreset::variables`]); `env` adds variables, overrides the
//! preset's, or drops one with `null`.
//!
//! Reads the user's home and primary group in one command (`getent passwd USER; id -gn USER`),
//! then stats and reads the file. The edit is the pure function [`edit_xprofile`]: an existing
//! block is replaced where it stands, a new one is appended at the end, `state: absent` removes
//! it. Idempotence: planning after applying finds the same block and owner and changes nothing.
//!
//! Display managers source `~/.xprofile` with `/bin/sh` at login (XDM, SDDM, LightDM, GDM);
//! `startx` does not (source it from `~/.xinitrc`). Changes take effect at the next login.
//!
//! ```yaml
//! - xprofile:
//!     user: alice
//!     im: fcitx
//! ```

use crate::fsutil;
use crate::host::{quote, Command, FileAttributes, FileKind, Host, WriteOptions};
use crate::lines::Lines;
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Plan, Step};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::fmt;

/// A `profile.d/NAME.sh` script (`/etc/profile.d`, `~/.profile.d`).
fn is_profile_d_script(path: &str) -> bool {
    path.ends_with(".sh")
        && std::path::Path::new(path)
            .parent()
            .and_then(|dir| dir.file_name())
            .is_some_and(|dir| dir == "profile.d" || dir == ".profile.d")
}

/// The mode of a new file: profile.d scripts are sourced only when executable (Slackware).
fn new_file_mode(path: &str) -> u32 {
    if is_profile_d_script(path) {
        0o755
    } else {
        0o644
    }
}

/// First line of the managed block.
pub const BEGIN_MARKER: &str = "# BEGIN converge xprofile";
/// Last line of the managed block.
pub const END_MARKER: &str = "# END converge xprofile";

/// Whether the managed block should be there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum XprofileState {
    /// The block is in the file with exactly these variables.
    #[default]
    Present,
    /// The block is not in the file (the user's own lines stay).
    Absent,
}

/// An input-method framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImPreset {
    /// fcitx 4 (e.g. fcitx-mozc from SlackBuilds.org).
    Fcitx,
    /// fcitx 5.
    Fcitx5,
    /// IBus.
    Ibus,
    /// SCIM.
    Scim,
    /// uim.
    Uim,
    /// Plain XIM; needs `env: {XMODIFIERS: "@im=SERVER"}` naming the XIM server.
    Xim,
}

impl ImPreset {
    /// The variables the preset exports, in order.
    ///
    /// fcitx and fcitx5: `GTK_IM_MODULE=fcitx`, `QT_IM_MODULE=fcitx`, `XMODIFIERS=@im=fcitx`;
    /// fcitx5 also `SDL_IM_MODULE=fcitx` (add `GLFW_IM_MODULE: ibus` with `env` for kitty).
    /// ibus and uim likewise with their name; scim: `XMODIFIERS=@im=SCIM` (upper case, as
    /// scim registers itself); xim: `GTK_IM_MODULE=xim`, `QT_IM_MODULE=xim` only.
    pub fn variables(self) -> Vec<(&'static str, &'static str)> {
        let triple = |module: &'static str, server: &'static str| {
            vec![
                ("GTK_IM_MODULE", module),
                ("QT_IM_MODULE", module),
                ("XMODIFIERS", server),
            ]
        };
        match self {
            ImPreset::Fcitx => triple("fcitx", "@im=fcitx"),
            ImPreset::Fcitx5 => {
                let mut vars = triple("fcitx", "@im=fcitx");
                vars.push(("SDL_IM_MODULE", "fcitx"));
                vars
            }
            ImPreset::Ibus => triple("ibus", "@im=ibus"),
            ImPreset::Scim => triple("scim", "@im=SCIM"),
            ImPreset::Uim => triple("uim", "@im=uim"),
            ImPreset::Xim => vec![("GTK_IM_MODULE", "xim"), ("QT_IM_MODULE", "xim")],
        }
    }
}

/// The `env` map in the order written; `None` drops a preset's variable.
#[derive(Debug, Clone, Default, PartialEq, Eq, JsonSchema)]
#[schemars(with = "std::collections::BTreeMap<String, Option<String>>")]
pub struct EnvMap(pub Vec<(String, Option<String>)>);

impl<'de> Deserialize<'de> for EnvMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = EnvMap;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of environment variable names to values")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<EnvMap, A::Error> {
                let mut items = Vec::new();
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    let value = match value {
                        Value::Null => None,
                        Value::String(text) => Some(text),
                        Value::Number(number) => Some(number.to_string()),
                        Value::Bool(flag) => Some(flag.to_string()),
                        _ => {
                            return Err(serde::de::Error::custom(format!(
                                "the value of `{name}` must be a string"
                            )))
                        }
                    };
                    items.push((name, value));
                }
                Ok(EnvMap(items))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// Arguments of `xprofile`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct XprofileArgs {
    /// The user whose X session this is; the file is kept owned by them.
    pub user: String,
    /// The file; default `~/.xprofile` of `user` (home from `getent passwd`). A path starting
    /// with `~/` is below the user's home.
    pub path: Option<String>,
    /// An input-method preset: `fcitx`, `fcitx5`, `ibus`, `scim`, `uim` or `xim`.
    pub im: Option<ImPreset>,
    /// Variables to export, added to the preset or overriding it; `null` drops a preset's
    /// variable (e.g. `GTK_IM_MODULE: null` for fcitx5 under Wayland).
    pub env: Option<EnvMap>,
    /// Whether the managed block should be there.
    #[serde(default)]
    pub state: XprofileState,
}

/// The variables the block exports: the preset, then `env` applied over it.
pub fn block_variables(args: &XprofileArgs) -> Result<Vec<(String, String)>, ArgsError> {
    let mut vars: Vec<(String, String)> = args
        .im
        .map(|im| {
            im.variables()
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    for (name, value) in args.env.iter().flat_map(|env| env.0.iter()) {
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(ArgsError::new(
                Some("env"),
                format!("`{name}` is not a shell variable name"),
            )
            .with_hint("names are letters, digits and `_`, not starting with a digit"));
        }
        if value
            .as_ref()
            .is_some_and(|v| v.contains(['\n', '\r', '\0']))
        {
            return Err(ArgsError::new(
                Some("env"),
                format!("the value of `{name}` spans several lines"),
            ));
        }
        let at = vars.iter().position(|(known, _)| known == name);
        match (at, value) {
            (Some(at), Some(value)) => vars[at].1 = value.clone(),
            (Some(at), None) => {
                vars.remove(at);
            }
            (None, Some(value)) => vars.push((name.clone(), value.clone())),
            (None, None) => {}
        }
    }
    Ok(vars)
}

/// The block's lines, markers included.
pub fn render_block(vars: &[(String, String)]) -> Vec<String> {
    let mut lines = vec![BEGIN_MARKER.to_string()];
    lines.extend(
        vars.iter()
            .map(|(name, value)| format!("export {name}={}", quote(value))),
    );
    lines.push(END_MARKER.to_string());
    lines
}

/// The file after the edit: the block (`Some`) replaces an existing one in place or is appended;
/// `None` removes it. Lines outside the block are kept byte for byte. Fails when a marker has
/// no partner, rather than guess where the block ends.
pub fn edit_xprofile(text: &str, block: Option<&[String]>) -> Result<String, String> {
    let mut lines = Lines::parse(text);
    let find = |lines: &Lines, marker: &str, from: usize| {
        (from..lines.len()).find(|&index| lines.text(index).trim_end() == marker)
    };
    let begin = find(&lines, BEGIN_MARKER, 0);
    let end = find(&lines, END_MARKER, begin.unwrap_or(0));
    match (begin, end) {
        (Some(begin), Some(end)) => {
            lines.remove(begin..end + 1);
            for (offset, line) in block.unwrap_or_default().iter().enumerate() {
                lines.insert(begin + offset, line);
            }
        }
        (Some(begin), None) => {
            return Err(format!(
                "line {} has `{BEGIN_MARKER}` but no `{END_MARKER}` follows",
                begin + 1
            ))
        }
        (None, Some(end)) => {
            return Err(format!(
                "line {} has `{END_MARKER}` without `{BEGIN_MARKER}` before it",
                end + 1
            ))
        }
        (None, None) => {
            for line in block.unwrap_or_default() {
                let at = lines.len();
                lines.insert(at, line);
            }
        }
    }
    Ok(lines.render())
}

/// Lines after the block (outside it) that set one of `names`: they win over the block.
fn overriding_lines(text: &str, names: &[&str]) -> Vec<(usize, String)> {
    let mut after_block = false;
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed == END_MARKER {
            after_block = true;
            continue;
        }
        if !after_block {
            continue;
        }
        let assignment = trimmed
            .strip_prefix("export ")
            .unwrap_or(trimmed)
            .trim_start();
        if let Some((name, _)) = assignment.split_once('=') {
            if names.contains(&name) {
                found.push((index + 1, name.to_string()));
            }
        }
    }
    found
}

/// Name given to the read command (`$0`), so that test hosts can recognise it.
pub const READ_SCRIPT_NAME: &str = "converge-xprofile-read";

/// Prints the user's passwd entry and primary group name; exits 2 for an unknown user.
pub const READ_SCRIPT: &str = "getent passwd \"$1\" || exit 2\nid -gn \"$1\"\n";

/// The `xprofile` module.
pub struct Xprofile;

impl TypedModule for Xprofile {
    type Args = XprofileArgs;
    const NAME: &'static str = "xprofile";
    const SUMMARY: &'static str =
        "Keep a user's input-method variables (fcitx, ibus…) in a managed block of ~/.xprofile";
    const EXAMPLES: &'static str = "- xprofile:\n    user: alice\n    im: fcitx\n\n- xprofile:\n    user: alice\n    im: fcitx5\n    env:\n      GLFW_IM_MODULE: ibus\n\n- xprofile:\n    user: bob\n    im: xim\n    env:\n      XMODIFIERS: \"@im=kinput2\"\n\n- xprofile:\n    user: alice\n    state: absent\n";
    const USES_FACTS: bool = false;

    fn check(args: &XprofileArgs) -> Result<(), ArgsError> {
        if args.user.trim().is_empty() || args.user.contains(['/', ':', '\n']) {
            return Err(ArgsError::new(
                Some("user"),
                format!("`{}` is not a user name", args.user),
            ));
        }
        let vars = block_variables(args)?;
        if args.state == XprofileState::Present {
            if args.im.is_none() && args.env.is_none() {
                return Err(ArgsError::new(
                    None,
                    "module `xprofile` needs `im` or `env` (or `state: absent`)",
                )
                .with_hint("e.g. `im: fcitx`"));
            }
            if args.im == Some(ImPreset::Xim) && !vars.iter().any(|(k, _)| k == "XMODIFIERS") {
                return Err(ArgsError::new(
                    Some("env"),
                    "the `xim` preset needs `XMODIFIERS` in `env`, naming the XIM server",
                )
                .with_hint("e.g. `env: {XMODIFIERS: \"@im=kinput2\"}`"));
            }
        }
        if let Some(path) = &args.path {
            if !path.starts_with('/') && !path.starts_with("~/") {
                return Err(ArgsError::new(
                    Some("path"),
                    format!("`path` must be absolute or start with `~/`, not `{path}`"),
                ));
            }
        }
        Ok(())
    }

    fn plan(args: XprofileArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let vars = block_variables(&args)?;
        let (home, group) = read_user(host, &args.user)?;
        let path = match args.path.as_deref() {
            None => format!("{}/.xprofile", home.trim_end_matches('/')),
            Some(tilde) if tilde.starts_with("~/") => {
                format!("{}/{}", home.trim_end_matches('/'), &tilde[2..])
            }
            Some(path) => path.to_string(),
        };
        let present = args.state == XprofileState::Present;

        let current = host.stat(&path)?;
        if matches!(current.as_ref().map(|s| &s.kind), Some(FileKind::Directory)) {
            return Err(ModuleError::failed(format!(
                "`{path}` is a directory, not a file"
            )));
        }
        let before = match &current {
            Some(_) => host.read_file(&path)?,
            None => None,
        };
        let mut plan = Plan::unchanged();
        plan.result
            .insert("path".into(), Value::String(path.clone()));
        let text = match &before {
            Some(bytes) => String::from_utf8(bytes.clone()).map_err(|_| {
                ModuleError::failed(format!("`{path}` is not UTF-8 text, refusing to edit it"))
            })?,
            None if !present => return Ok(plan),
            None => {
                let parent = fsutil::parent(&path);
                if host.stat(&parent)?.is_none() {
                    return Err(ModuleError::Failed {
                        message: format!("directory `{parent}` for `{path}` does not exist"),
                        hint: Some(format!(
                            "create the home of `{}` first (e.g. with the `file` module)",
                            args.user
                        )),
                    });
                }
                String::new()
            }
        };
        let block = present.then(|| render_block(&vars));
        let after = edit_xprofile(&text, block.as_deref()).map_err(|reason| ModuleError::Failed {
            message: format!("cannot find the managed block in `{path}`: {reason}"),
            hint: Some(format!(
                "fix or remove the marker line so that `{BEGIN_MARKER}` and `{END_MARKER}` enclose the block"
            )),
        })?;

        let names: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
        for (line, name) in overriding_lines(&after, &names) {
            plan.warnings.push(format!(
                "line {line} of `{path}` sets `{name}` again after converge's block, so it wins over the block"
            ));
        }

        if is_profile_d_script(&path) && current.as_ref().is_some_and(|stat| stat.mode & 0o111 == 0)
        {
            plan.warnings.push(format!(
                "`{path}` is not executable: Slackware's profile sources only executable profile.d scripts (chmod 755 it)"
            ));
        }
        let wanted = FileAttributes {
            mode: None,
            owner: Some(args.user.clone()),
            group: Some(group),
        };
        let changes = fsutil::attribute_changes(&path, current.as_ref(), &wanted);
        if after != text || current.is_none() {
            plan.changes.push(fsutil::content_change(
                &path,
                before.as_deref(),
                Some(after.as_bytes()),
            ));
            plan.changes.extend(changes);
            plan.steps.push(Step::WriteFile {
                path: path.clone(),
                content: after.into_bytes(),
                options: WriteOptions {
                    attributes: FileAttributes {
                        mode: current.is_none().then_some(new_file_mode(&path)),
                        ..wanted
                    },
                    ..WriteOptions::default()
                },
            });
        } else if present {
            let steps = fsutil::attribute_steps(&path, &wanted, &changes, fsutil::Reach::default());
            plan.changes.extend(changes);
            plan.steps.extend(steps);
        }
        Ok(plan)
    }
}

/// The user's home directory and primary group name, in one command.
fn read_user(host: &mut dyn Host, user: &str) -> Result<(String, String), ModuleError> {
    let command = Command::argv(["sh", "-c", READ_SCRIPT, READ_SCRIPT_NAME, user]);
    let output = host.run_read(&command)?;
    if output.status == 2 {
        return Err(ModuleError::Failed {
            message: format!("user `{user}` does not exist on this host"),
            hint: Some("create the user first (e.g. with the `user` module), or fix `user`".into()),
        });
    }
    let stdout = output.stdout_text();
    let mut lines = stdout.lines();
    let home = lines
        .next()
        .and_then(|entry| entry.split(':').nth(5))
        .filter(|home| home.starts_with('/'));
    let group = lines.next().map(str::trim).filter(|g| !g.is_empty());
    match (output.success(), home, group) {
        (true, Some(home), Some(group)) => Ok((home.to_string(), group.to_string())),
        _ => Err(ModuleError::failed(format!(
            "cannot read the home and group of user `{user}`: `getent passwd`/`id -gn` exited with status {}: {}",
            output.status,
            output.stderr_text().trim()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn block_replaces_in_place_and_keeps_user_lines() {
        let text = "xset b off\n# BEGIN converge xprofile\nexport A=old\n# END converge xprofile\nsetxkbmap jp\n";
        let block = render_block(&vars(&[("A", "new value")]));
        let out = edit_xprofile(text, Some(&block)).unwrap();
        assert_eq!(
            out,
            "xset b off\n# BEGIN converge xprofile\nexport A='new value'\n# END converge xprofile\nsetxkbmap jp\n"
        );
        assert_eq!(
            edit_xprofile(&out, None).unwrap(),
            "xset b off\nsetxkbmap jp\n"
        );
    }

    #[test]
    fn unpaired_marker_is_an_error() {
        let text = "# BEGIN converge xprofile\nexport A=1\n";
        assert!(edit_xprofile(text, None).unwrap_err().contains("line 1"));
    }

    #[test]
    fn env_overrides_and_drops_preset_variables() {
        let args: XprofileArgs = serde_json::from_value(serde_json::json!({
            "user": "alice", "im": "fcitx5",
            "env": {"GTK_IM_MODULE": null, "XMODIFIERS": "@im=fcitx5", "GLFW_IM_MODULE": "ibus"}
        }))
        .unwrap();
        assert_eq!(
            block_variables(&args).unwrap(),
            vars(&[
                ("QT_IM_MODULE", "fcitx"),
                ("XMODIFIERS", "@im=fcitx5"),
                ("SDL_IM_MODULE", "fcitx"),
                ("GLFW_IM_MODULE", "ibus"),
            ])
        );
    }

    #[test]
    fn lines_after_the_block_that_reassign_are_found() {
        let text = "export XMODIFIERS=@im=ibus\n# BEGIN converge xprofile\n# END converge xprofile\nexport XMODIFIERS=@im=uim\n";
        assert_eq!(
            overriding_lines(text, &["XMODIFIERS"]),
            vec![(4, "XMODIFIERS".to_string())]
        );
    }
}
