//! `template`: render a Jinja template on the controller and put the result on the host.
//!
//! Converges the same state as `copy` (one file's content, mode and ownership). The module
//! runs on the controller: the engine reads `src` (resolved in the role's `templates/` and
//! the playbook directory), renders it with the host's variables honouring `trim_blocks` and
//! `lstrip_blocks`, turns the result into [`CopyArgs`] with [`copy_args`], and plans it with
//! [`crate::copy::plan_copy`]. Idempotence is copy's: same bytes and attributes, no change.
//!
//! ```yaml
//! - template:
//!     src: radvd.conf.j2
//!     dest: /etc/radvd.conf
//!     mode: "0644"
//!     validate: radvd -c -C %s
//! ```

use crate::args::{Flag, Mode};
use crate::command::yes;
use crate::copy::CopyArgs;
use crate::fsutil;
use crate::module::{ArgsError, Context, ModuleError, Target, TypedModule};
use crate::{Host, Plan, Read};
use schemars::JsonSchema;
use serde::Deserialize;

/// Arguments of `template`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateArgs {
    /// The template on the controller (looked up in the role's `templates/` and next to the
    /// playbook).
    pub src: String,
    /// Where to write the rendered file on the host; ending in `/` or an existing
    /// directory puts it inside under the template's name.
    pub dest: String,
    /// Permission bits, e.g. `"0644"` or symbolic `u=rw,g=r,o=r` (applied to the current bits).
    pub mode: Option<Mode>,
    /// Owner, by name or numeric id.
    pub owner: Option<String>,
    /// Group, by name or numeric id.
    pub group: Option<String>,
    /// Keep the old file as `DEST.TIMESTAMP~` when replacing it.
    #[serde(default)]
    pub backup: Flag,
    /// A command that must accept the rendered file before it replaces the old one; `%s`
    /// is its path.
    pub validate: Option<String>,
    /// Replace an existing file whose content differs; `no` only creates missing files.
    #[serde(default = "yes")]
    pub force: Flag,
    /// Remove the first newline after a block tag (`{% … %}`), as Ansible does by default.
    #[serde(default = "yes")]
    pub trim_blocks: Flag,
    /// Strip spaces and tabs before a block tag at the start of a line.
    #[serde(default)]
    pub lstrip_blocks: Flag,
    /// The line ending of the rendered file.
    #[serde(default)]
    pub newline_sequence: NewlineSequence,
    /// When `dest` is a symbolic link, write the file it points to (otherwise the link is
    /// replaced by a file).
    #[serde(default)]
    pub follow: Flag,
    /// SELinux user of the file's context. Accepted; converge sets no SELinux contexts
    /// (a host with SELinux enforcing keeps the context its policy gives the file).
    pub seuser: Option<String>,
    /// SELinux role of the file's context; accepted and not applied, as `seuser`.
    pub serole: Option<String>,
    /// SELinux type of the file's context; accepted and not applied, as `seuser`.
    pub setype: Option<String>,
    /// SELinux level of the file's context; accepted and not applied, as `seuser`.
    pub selevel: Option<String>,
    /// Accepted and ignored: converge always writes through a temp file and a rename.
    #[serde(default)]
    pub unsafe_writes: Flag,
    /// File attributes as `chattr` sets them (e.g. `+i`). Not implemented by converge: a
    /// non-empty value fails the task.
    #[serde(alias = "attr")]
    pub attributes: Option<String>,
}

/// Line endings `template` can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
pub enum NewlineSequence {
    /// Unix: `\n`.
    #[default]
    #[serde(rename = "\n", alias = "\\n")]
    Lf,
    /// Windows: `\r\n`.
    #[serde(rename = "\r\n", alias = "\\r\\n")]
    CrLf,
    /// Old Mac: `\r`.
    #[serde(rename = "\r", alias = "\\r")]
    Cr,
}

impl NewlineSequence {
    /// The ending itself.
    pub fn as_str(self) -> &'static str {
        match self {
            NewlineSequence::Lf => "\n",
            NewlineSequence::CrLf => "\r\n",
            NewlineSequence::Cr => "\r",
        }
    }
}

/// The `template` module.
pub struct Template;

impl TypedModule for Template {
    type Args = TemplateArgs;
    const NAME: &'static str = "template";
    const SUMMARY: &'static str = "Render a template on the controller and put it on the host";
    const EXAMPLES: &'static str = "- template:\n    src: radvd.conf.j2\n    dest: /etc/radvd.conf\n    mode: \"0644\"\n    validate: radvd -c -C %s\n";
    const USES_FACTS: bool = false;

    fn reads(args: &TemplateArgs) -> Vec<Read> {
        crate::copy::dest_reads(&args.dest, args.follow.0)
    }
    const TARGET: Target = Target::Controller;

    fn check(args: &TemplateArgs) -> Result<(), ArgsError> {
        fsutil::check_attributes(Self::NAME, args.attributes.as_ref())?;
        fsutil::check_validate(Self::NAME, args.validate.as_ref())
    }

    fn plan(_: TemplateArgs, _: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        Err(ModuleError::ControllerOnly(Self::NAME))
    }
}

/// The `copy` arguments that put `rendered` (the template's output) at the template's
/// `dest`, with line endings converted to `newline_sequence`.
pub fn copy_args(args: TemplateArgs, rendered: String) -> CopyArgs {
    let content = match args.newline_sequence {
        NewlineSequence::Lf => rendered,
        other => rendered.replace("\r\n", "\n").replace('\n', other.as_str()),
    };
    CopyArgs {
        source_name: fsutil::basename(&args.src),
        src: None,
        content: Some(content),
        dest: args.dest,
        mode: args.mode,
        directory_mode: None,
        owner: args.owner,
        group: args.group,
        backup: args.backup,
        validate: args.validate,
        force: args.force,
        remote_src: Flag(false),
        follow: args.follow,
        seuser: args.seuser,
        serole: args.serole,
        setype: args.setype,
        selevel: args.selevel,
        unsafe_writes: args.unsafe_writes,
        attributes: args.attributes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: serde_json::Value) -> TemplateArgs {
        let mut value = serde_json::json!({"src": "/pb/templates/radvd.conf.j2", "dest": "/etc/"});
        if let (Some(map), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            map.extend(extra.clone());
        }
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn copy_args_carry_attributes_and_template_name() {
        let copy = copy_args(
            args(serde_json::json!({"mode": "0600", "force": "no"})),
            "x\n".into(),
        );
        assert_eq!(copy.content.as_deref(), Some("x\n"));
        assert_eq!(copy.source_name.as_deref(), Some("radvd.conf.j2"));
        assert_eq!(copy.mode, Some(Mode::Bits(0o600)));
        assert!(!copy.force.0);
        assert!(copy.src.is_none());
    }

    #[test]
    fn newline_sequence_converts_line_endings() {
        let copy = copy_args(
            args(serde_json::json!({"newline_sequence": "\r\n"})),
            "a\nb\r\n".into(),
        );
        assert_eq!(copy.content.as_deref(), Some("a\r\nb\r\n"));
        let copy = copy_args(
            args(serde_json::json!({"newline_sequence": "\\r\\n"})),
            "a\n".into(),
        );
        assert_eq!(copy.content.as_deref(), Some("a\r\n"));
    }

    #[test]
    fn trim_blocks_defaults_like_ansible() {
        let parsed = args(serde_json::json!({}));
        assert!(parsed.trim_blocks.0);
        assert!(!parsed.lstrip_blocks.0);
    }
}
