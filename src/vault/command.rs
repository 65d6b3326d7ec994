//! `converge vault encrypt|decrypt|view|edit FILE…` and `converge vault encrypt_string`.
//!
//! `encrypt` writes converge's age format unless `--ansible` asks for ansible-vault's (1.1, or
//! 1.2 when the password has a vault id other than `default`), so that a team can share the
//! file with Ansible users. `decrypt`, `view` and `edit` read both formats; `edit` writes the
//! file back in the format, vault id and password it was opened with. `encrypt_string` prints
//! `!vault |` blocks exactly as `ansible-vault encrypt_string` does.

use super::password::{self, Purpose, Request};
use super::{age_file, ansible, open, Format, VaultSecret};
use crate::error::Exit;
use age::secrecy::ExposeSecret;
use std::io::{IsTerminal, Read, Write};
use std::path::Path;

/// What `converge vault` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Encrypt files in place.
    Encrypt,
    /// Decrypt files in place.
    Decrypt,
    /// Print decrypted files.
    View,
    /// Decrypt into a private temp file, run $EDITOR, encrypt back.
    Edit,
    /// Print `!vault |` blocks for strings.
    EncryptString,
}

/// Everything `converge vault` was given.
#[derive(Debug, Clone)]
pub struct Options {
    /// The action.
    pub action: Action,
    /// Files, or for `encrypt_string` the strings (`-` or none: stdin).
    pub targets: Vec<String>,
    /// Where the passwords come from.
    pub request: Request,
    /// Write ansible-vault's format when encrypting a file.
    pub ansible: bool,
    /// The vault id to encrypt with when several passwords are given.
    pub encrypt_vault_id: Option<String>,
    /// `encrypt_string`: names for the strings, in order.
    pub names: Vec<String>,
    /// `encrypt_string`: the name of the string read from stdin.
    pub stdin_name: Option<String>,
}

/// Run `converge vault`; errors are printed on stderr, one per file that failed.
pub fn run(options: &Options) -> Exit {
    let errors = match run_inner(options) {
        Ok(errors) => errors,
        Err(message) => vec![message],
    };
    for message in &errors {
        eprintln!("error: {message}");
    }
    if errors.len() > 1 && options.targets.len() > 1 {
        eprintln!(
            "error: {} of {} files failed",
            errors.len(),
            options.targets.len()
        );
    }
    if errors.is_empty() {
        Exit::Success
    } else {
        Exit::Invalid
    }
}

/// The errors of the files that failed, or the error that stopped everything.
fn run_inner(options: &Options) -> Result<Vec<String>, String> {
    let strings = options.action == Action::EncryptString;
    if !strings && options.targets.is_empty() {
        return Err(format!(
            "`converge vault {}` needs at least one FILE",
            action_name(options.action)
        ));
    }
    let purpose = match options.action {
        Action::Encrypt | Action::EncryptString => Purpose::New,
        Action::Decrypt | Action::View | Action::Edit => Purpose::Open,
    };
    let loaded = password::load(&options.request.vault_ids(true), purpose)?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let secrets = loaded.secrets;
    if strings {
        let secret = encrypt_secret(&secrets, options.encrypt_vault_id.as_deref())?;
        return encrypt_strings(options, secret).map(|()| Vec::new());
    }
    let mut errors = Vec::new();
    for target in &options.targets {
        let file = Path::new(target);
        let result = match options.action {
            Action::Encrypt => encrypt_secret(&secrets, options.encrypt_vault_id.as_deref())
                .and_then(|secret| encrypt_file(file, secret, options.ansible)),
            Action::Decrypt => opened(file, &secrets).and_then(|opened| write(file, &opened.plain)),
            Action::View => opened(file, &secrets).map(|opened| print!("{}", opened.plain)),
            Action::Edit => edit(file, &secrets),
            Action::EncryptString => Ok(()),
        };
        if let Err(message) = result {
            errors.push(message);
        }
    }
    Ok(errors)
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Encrypt => "encrypt",
        Action::Decrypt => "decrypt",
        Action::View => "view",
        Action::Edit => "edit",
        Action::EncryptString => "encrypt_string",
    }
}

/// The password to encrypt with: the one named by `--encrypt-vault-id`, or the only one.
fn encrypt_secret<'a>(
    secrets: &'a [VaultSecret],
    wanted: Option<&str>,
) -> Result<&'a VaultSecret, String> {
    let labels = || {
        secrets
            .iter()
            .map(|s| format!("`{}`", s.label))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (wanted, secrets) {
        (Some(wanted), _) => secrets.iter().find(|s| s.label == wanted).ok_or_else(|| {
            format!("no vault password has the vault id `{wanted}` (given: {})", labels())
        }),
        (None, [only]) => Ok(only),
        (None, []) => Err("no vault password was given".into()),
        (None, _) => Err(format!(
            "several vault passwords are given ({}); choose the one to encrypt with using `--encrypt-vault-id LABEL`",
            labels()
        )),
    }
}

/// The file as it is on disk (not through `yaml::read_text`, which would decrypt it).
fn read(file: &Path) -> Result<String, String> {
    std::fs::read_to_string(file).map_err(|error| {
        format!(
            "cannot read `{}`: {}",
            file.display(),
            crate::yaml::io_reason(&error)
        )
    })
}

fn opened(file: &Path, secrets: &[VaultSecret]) -> Result<super::Opened, String> {
    let text = read(file)?;
    if !super::is_encrypted(&text) {
        return Err(format!("`{}` is not encrypted", file.display()));
    }
    open(&text, secrets).map_err(|e| format!("`{}` {e}", file.display()))
}

fn encrypt_file(file: &Path, secret: &VaultSecret, ansible: bool) -> Result<(), String> {
    let text = read(file)?;
    if super::is_encrypted(&text) {
        return Err(format!("`{}` is already encrypted", file.display()));
    }
    let format = if ansible {
        Format::Ansible
    } else {
        Format::Age
    };
    let encrypted = encrypt(&text, secret, format, Some(&secret.label))
        .map_err(|e| format!("`{}` cannot be encrypted: {e}", file.display()))?;
    write(file, &encrypted)
}

fn encrypt(
    plain: &str,
    secret: &VaultSecret,
    format: Format,
    vault_id: Option<&str>,
) -> Result<String, String> {
    let password = secret.password.expose_secret();
    match format {
        Format::Age => age_file::encrypt(plain, password),
        Format::Ansible => ansible::encrypt(plain.as_bytes(), password.as_bytes(), vault_id),
    }
}

/// Replace `file` atomically (a temp file in the same directory, then rename), keeping its
/// permissions: the file is the old or the new one, never half.
fn write(file: &Path, content: &str) -> Result<(), String> {
    let dir = file
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let failed = |e: &dyn std::fmt::Display| format!("cannot write `{}`: {e}", file.display());
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| failed(&e))?;
    temp.write_all(content.as_bytes()).map_err(|e| failed(&e))?;
    if let Ok(metadata) = std::fs::metadata(file) {
        let _ = std::fs::set_permissions(temp.path(), metadata.permissions());
    }
    temp.persist(file).map_err(|e| failed(&e))?;
    Ok(())
}

fn edit(file: &Path, secrets: &[VaultSecret]) -> Result<(), String> {
    let opened = opened(file, secrets)?;
    let secret = secrets
        .iter()
        .find(|s| s.label == opened.label)
        .ok_or_else(|| "the password that opened the file is gone".to_string())?;
    // A private directory (0700) for the plaintext, removed on every path.
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let path = dir.path().join("vars.yml");
    std::fs::write(&path, &opened.plain).map_err(|e| e.to_string())?;
    let editor = std::env::var("EDITOR").unwrap_or_else(|_| "vi".into());
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("editor")
        .arg(&path)
        .status()
        .map_err(|e| format!("cannot run the editor `{editor}`: {e}"))?;
    if !status.success() {
        return Err(format!(
            "the editor exited with {status}; `{}` unchanged",
            file.display()
        ));
    }
    let edited = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    if edited == opened.plain {
        return Ok(());
    }
    // Same format, same vault id in the header, same password.
    let encrypted = encrypt(&edited, secret, opened.format, opened.vault_id.as_deref())
        .map_err(|e| format!("`{}` cannot be encrypted: {e}", file.display()))?;
    write(file, &encrypted)
}

/// `encrypt_string`: strings from the arguments (named by `--name` in order) and from stdin
/// (`-` or no string), printed as `!vault |` blocks.
fn encrypt_strings(options: &Options, secret: &VaultSecret) -> Result<(), String> {
    let mut plain: Vec<(Option<String>, String, String)> = Vec::new();
    let args: Vec<&String> = options.targets.iter().filter(|t| *t != "-").collect();
    if args.len() < options.targets.len() || options.targets.is_empty() {
        if std::io::stdout().is_terminal() {
            eprintln!("Reading plaintext input from stdin. (ctrl-d to end input, twice if your content does not already have a newline)");
        }
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| format!("cannot read stdin: {e}"))?;
        if text.is_empty() {
            return Err("stdin was empty, not encrypting".into());
        }
        plain.push((options.stdin_name.clone(), text, "stdin".into()));
    }
    if args.len() > options.names.len() && !options.names.is_empty() {
        eprintln!(
            "warning: {} strings but {} `--name`; the strings after `{}` have no name",
            args.len(),
            options.names.len(),
            options.names[options.names.len() - 1]
        );
    }
    for (index, text) in args.iter().enumerate() {
        if text.is_empty() {
            return Err("a string to encrypt is empty, not encrypting".into());
        }
        plain.push((
            options.names.get(index).cloned(),
            text.to_string(),
            "the command line args".into(),
        ));
    }
    let mut out = std::io::stdout().lock();
    let several = plain.len() > 1;
    for (index, (name, text, source)) in plain.iter().enumerate() {
        let vaulttext = ansible::encrypt(
            text.as_bytes(),
            secret.password.expose_secret().as_bytes(),
            Some(&secret.label),
        )?;
        if several {
            // Like ansible-vault: which block is which goes to stderr, never the plaintext.
            let number = index + 1;
            match name {
                Some(name) => eprintln!(
                    "# The encrypted version of variable (\"{name}\", the string #{number} from {source})."
                ),
                None => eprintln!("# The encrypted version of the string #{number} from {source}."),
            }
        }
        writeln!(out, "{}", ansible::yaml_block(&vaulttext, name.as_deref()))
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
    }
    Ok(())
}
