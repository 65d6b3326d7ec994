//! Where vault passwords come from, in the order Ansible builds its list of them:
//! `ANSIBLE_VAULT_IDENTITY_LIST`, then each `--vault-id [LABEL@]SOURCE`, then each
//! `--vault-password-file FILE` and `ANSIBLE_VAULT_PASSWORD_FILE` (labelled `default`), then
//! `--ask-vault-pass`. A SOURCE is `prompt` (ask on the terminal) or a file: its whole content
//! with surrounding whitespace removed, or, when the file is executable, what it prints on
//! stdout (a script named `…-client` is also given `--vault-id LABEL`, as in Ansible).
//!
//! A password file that cannot be read is a warning while another password was found, and an
//! error when it leaves none, which is what Ansible does.

use super::ansible::DEFAULT_VAULT_ID;
use super::VaultSecret;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One entry of the list: a label (none means `default`) and where the password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultId {
    /// The label before `@`.
    pub label: Option<String>,
    /// Where the password comes from.
    pub source: Source,
}

/// Where one password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `--vault-id LABEL@prompt`: ask, naming the label.
    Prompt,
    /// `--ask-vault-pass`: ask with Ansible's plain `Vault password: ` prompt.
    AskVaultPass,
    /// A password file or script.
    File(PathBuf),
}

impl VaultId {
    /// Parse `[LABEL@]SOURCE` as Ansible does: split at the first `@`.
    pub fn parse(slug: &str) -> VaultId {
        let (label, source) = match slug.split_once('@') {
            Some((label, source)) => (Some(label.to_string()), source),
            None => (None, slug),
        };
        let source = match source {
            "prompt" => Source::Prompt,
            "prompt_ask_vault_pass" => Source::AskVaultPass,
            file => Source::File(PathBuf::from(file)),
        };
        VaultId { label, source }
    }

    /// The label, or `default`.
    pub fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(DEFAULT_VAULT_ID)
    }
}

/// What the command line and environment say about vault passwords.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `--vault-id` values, in order.
    pub vault_ids: Vec<String>,
    /// `--vault-password-file` values, in order.
    pub password_files: Vec<PathBuf>,
    /// `--ask-vault-pass`.
    pub ask: bool,
    /// `ANSIBLE_VAULT_IDENTITY_LIST` (comma-separated `--vault-id` values).
    pub env_identity_list: Option<String>,
    /// `ANSIBLE_VAULT_PASSWORD_FILE`.
    pub env_password_file: Option<PathBuf>,
}

impl Request {
    /// The request with the environment variables read.
    pub fn with_env(mut self) -> Request {
        self.env_identity_list = std::env::var("ANSIBLE_VAULT_IDENTITY_LIST")
            .ok()
            .filter(|v| !v.trim().is_empty());
        self.env_password_file = std::env::var_os("ANSIBLE_VAULT_PASSWORD_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        self
    }

    /// The ordered list of password sources. With `auto_prompt` (the `vault` subcommand), no
    /// source at all means asking once, as ansible-vault does; a run asks only when told to.
    pub fn vault_ids(&self, auto_prompt: bool) -> Vec<VaultId> {
        let mut ids: Vec<VaultId> = self
            .env_identity_list
            .iter()
            .flat_map(|list| list.split(','))
            .map(str::trim)
            .filter(|slug| !slug.is_empty())
            .chain(self.vault_ids.iter().map(String::as_str))
            .map(VaultId::parse)
            .collect();
        for file in self.password_files.iter().chain(&self.env_password_file) {
            ids.push(VaultId {
                label: Some(DEFAULT_VAULT_ID.to_string()),
                source: Source::File(file.clone()),
            });
        }
        if self.ask || (ids.is_empty() && auto_prompt) {
            ids.push(VaultId {
                label: Some(DEFAULT_VAULT_ID.to_string()),
                source: Source::AskVaultPass,
            });
        }
        ids
    }
}

/// Why prompts ask: to open existing data, or for a new password (asked twice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Decrypting.
    Open,
    /// Encrypting with a password the user chooses now.
    New,
}

/// The passwords found, and warnings about sources that failed while others worked.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The passwords, in the order to try them.
    pub secrets: Vec<VaultSecret>,
    /// One line per source that could not be used.
    pub warnings: Vec<String>,
}

/// Read every password of `ids`. A prompt that fails is an error at once; a file that fails
/// is a warning, or the error when no password was found at all.
pub fn load(ids: &[VaultId], purpose: Purpose) -> Result<Loaded, String> {
    let mut loaded = Loaded::default();
    let mut last_error = None;
    for id in ids {
        let label = id.label();
        let password = match &id.source {
            Source::Prompt | Source::AskVaultPass => prompt(id, purpose)?,
            Source::File(path) => match read_password_file(path, label) {
                Ok(password) => password,
                Err(error) => {
                    loaded
                        .warnings
                        .push(format!("vault id `{label}` is not usable: {error}"));
                    last_error = Some(error);
                    continue;
                }
            },
        };
        loaded.secrets.push(VaultSecret::new(label, &password));
    }
    match last_error {
        Some(error) if loaded.secrets.is_empty() => Err(error),
        _ => Ok(loaded),
    }
}

fn prompt(id: &VaultId, purpose: Purpose) -> Result<String, String> {
    let label = id.label();
    let prompts: Vec<String> = match (purpose, &id.source) {
        (Purpose::Open, Source::AskVaultPass) => vec!["Vault password: ".into()],
        (Purpose::Open, _) => vec![format!("Vault password ({label}): ")],
        (Purpose::New, Source::AskVaultPass) => vec![
            "New Vault password: ".into(),
            "Confirm New Vault password: ".into(),
        ],
        (Purpose::New, _) => vec![
            format!("New vault password ({label}): "),
            format!("Confirm new vault password ({label}): "),
        ],
    };
    let mut answers = Vec::new();
    for text in prompts {
        let answer = rpassword::prompt_password(text)
            .map_err(|error| format!("cannot read a vault password from the terminal: {error}"))?;
        let answer = answer.trim().to_string();
        if answer.is_empty() {
            return Err(format!("the vault password for `{label}` is empty"));
        }
        answers.push(answer);
    }
    if answers.windows(2).any(|pair| pair[0] != pair[1]) {
        return Err("the vault passwords do not match".into());
    }
    Ok(answers.swap_remove(0))
}

/// A password from a file, or from the output of the file when it is executable.
pub fn read_password_file(path: &Path, label: &str) -> Result<String, String> {
    let shown = path.display();
    let metadata = std::fs::metadata(path).map_err(|error| match error.kind() {
        std::io::ErrorKind::NotFound => format!("the vault password file `{shown}` was not found"),
        _ => format!(
            "cannot read the vault password file `{shown}`: {}",
            crate::yaml::io_reason(&error)
        ),
    })?;
    if metadata.is_dir() {
        return Err(format!("the vault password file `{shown}` is a directory"));
    }
    let password = if metadata.permissions().mode() & 0o111 != 0 {
        run_password_script(path, label)?
    } else {
        let bytes = std::fs::read(path).map_err(|error| {
            format!(
                "cannot read the vault password file `{shown}`: {}",
                crate::yaml::io_reason(&error)
            )
        })?;
        let text = String::from_utf8(bytes)
            .map_err(|_| format!("the vault password file `{shown}` is not UTF-8 text"))?;
        text.trim().to_string()
    };
    if password.is_empty() {
        return Err(format!(
            "the vault password file `{shown}` gives an empty password"
        ));
    }
    Ok(password)
}

/// Ansible's password scripts: run with no arguments, or `--vault-id LABEL` for a script
/// named `…-client`; stdout minus line endings is the password; stderr stays the user's.
fn run_password_script(path: &Path, label: &str) -> Result<String, String> {
    let shown = path.display();
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let client = stem.ends_with("-client");
    // A bare name would be looked up in PATH; the file meant is the one given.
    let program = if path.is_relative() {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    };
    let mut command = Command::new(program);
    if client {
        command.arg("--vault-id").arg(label);
    }
    let output = command
        .stdin(Stdio::inherit())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| {
            format!(
                "the vault password script `{shown}` cannot be run ({error}); if it is not a script, remove its executable bit"
            )
        })?;
    match output.status.code() {
        Some(0) => {}
        Some(2) if client => {
            return Err(format!(
                "the vault password client script `{shown}` has no password for vault id `{label}`"
            ))
        }
        _ => {
            return Err(format!(
                "the vault password script `{shown}` failed ({})",
                output.status
            ))
        }
    }
    let text = String::from_utf8(output.stdout).map_err(|_| {
        format!("the vault password script `{shown}` printed something that is not UTF-8 text")
    })?;
    Ok(text.trim_matches(['\r', '\n']).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_id_slugs_split_at_the_first_at_sign() {
        assert_eq!(
            VaultId::parse("prod@prompt"),
            VaultId {
                label: Some("prod".into()),
                source: Source::Prompt
            }
        );
        assert_eq!(
            VaultId::parse("secrets/pw"),
            VaultId {
                label: None,
                source: Source::File("secrets/pw".into())
            }
        );
        assert_eq!(VaultId::parse("a@b@c").source, Source::File("b@c".into()));
        assert_eq!(VaultId::parse("pw").label(), "default");
    }

    #[test]
    fn the_list_is_built_in_ansibles_order() {
        let request = Request {
            vault_ids: vec!["dev@dev-pw".into()],
            password_files: vec!["pw".into()],
            ask: true,
            env_identity_list: Some("ops@prompt, ".into()),
            env_password_file: Some("env-pw".into()),
        };
        let labels: Vec<(String, Source)> = request
            .vault_ids(false)
            .into_iter()
            .map(|id| (id.label().to_string(), id.source))
            .collect();
        assert_eq!(
            labels,
            vec![
                ("ops".into(), Source::Prompt),
                ("dev".into(), Source::File("dev-pw".into())),
                ("default".into(), Source::File("pw".into())),
                ("default".into(), Source::File("env-pw".into())),
                ("default".into(), Source::AskVaultPass),
            ]
        );
        assert!(Request::default().vault_ids(false).is_empty());
        assert_eq!(
            Request::default().vault_ids(true)[0].source,
            Source::AskVaultPass
        );
    }

    #[test]
    fn files_are_trimmed_and_scripts_are_run() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "  two words \n\n").unwrap();
        assert_eq!(read_password_file(&file, "default").unwrap(), "two words");
        let script = dir.path().join("pass.sh");
        std::fs::write(&script, "#!/bin/sh\nprintf 'from-script\\r\\n'\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            read_password_file(&script, "default").unwrap(),
            "from-script"
        );
        let client = dir.path().join("vault-client.sh");
        std::fs::write(
            &client,
            "#!/bin/sh\n[ \"$2\" = prod ] || exit 2\necho \"pw-for-$2\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(read_password_file(&client, "prod").unwrap(), "pw-for-prod");
        assert!(read_password_file(&client, "dev")
            .unwrap_err()
            .contains("no password for vault id `dev`"));
        let failing = dir.path().join("fail.sh");
        std::fs::write(&failing, "#!/bin/sh\nexit 3\n").unwrap();
        std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(read_password_file(&failing, "default")
            .unwrap_err()
            .contains("failed"));
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        assert!(read_password_file(&empty, "default")
            .unwrap_err()
            .contains("empty password"));
    }

    #[test]
    fn a_missing_file_warns_while_another_password_works() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("pw");
        std::fs::write(&good, "pw\n").unwrap();
        let ids = [
            VaultId::parse(&format!("dev@{}", dir.path().join("missing").display())),
            VaultId::parse(&format!("prod@{}", good.display())),
        ];
        let loaded = load(&ids, Purpose::Open).unwrap();
        assert_eq!(loaded.secrets.len(), 1);
        assert_eq!(loaded.secrets[0].label, "prod");
        assert_eq!(loaded.warnings.len(), 1);
        assert!(
            loaded.warnings[0].contains("was not found"),
            "{:?}",
            loaded.warnings
        );
        let error = load(&ids[..1], Purpose::Open).unwrap_err();
        assert!(error.contains("was not found"), "{error}");
    }
}
