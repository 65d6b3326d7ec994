//! Encrypted variables: whole files and inline `!vault |` values, in converge's own age format
//! or in ansible-vault's (`$ANSIBLE_VAULT;1.1;AES256`, `…;1.2;AES256;<vault-id>`).
//!
//! A vars file (group_vars, host_vars, vars_files, role vars, `-e @file`, an inventory file)
//! that is encrypted is decrypted in memory when it is loaded, and so is every `!vault`-tagged
//! value in any YAML converge reads; nothing decrypted is written anywhere. Every value that
//! came out of an encrypted file or value is remembered as a secret, and the reporters replace
//! it with `********` wherever it would be printed, diffs included.
//!
//! The passwords of a run are a list of labelled secrets, built from `--vault-id`,
//! `--vault-password-file` and `--ask-vault-pass` the way Ansible builds it ([`password`]).
//! An ansible-vault 1.2 text names its vault id: the password with that label is tried first,
//! then all the others; a 1.1 text is tried with the `default` label first.
//!
//! Neither format's cryptography is converge's own: age is a well-reviewed format and crate,
//! and the ansible-vault format is assembled from RustCrypto primitives ([`ansible`]).

pub mod age_file;
pub mod ansible;
pub mod command;
pub mod password;

use age::secrecy::{ExposeSecret, SecretString};
use std::sync::{Mutex, OnceLock};

/// What replaces a secret in output.
pub const MASK: &str = "********";

/// Values shorter than this are not masked: they would hide unrelated text everywhere.
const MIN_MASKED_CHARS: usize = 4;

/// One vault password and its label (`--vault-id LABEL@SOURCE`; `default` without a label).
#[derive(Clone)]
pub struct VaultSecret {
    /// The vault id.
    pub label: String,
    /// The password.
    pub password: SecretString,
}

impl VaultSecret {
    /// A labelled password.
    pub fn new(label: &str, password: &str) -> VaultSecret {
        VaultSecret {
            label: label.to_string(),
            password: SecretString::from(password.to_string()),
        }
    }
}

impl std::fmt::Debug for VaultSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VaultSecret({})", self.label)
    }
}

static RUN_SECRETS: OnceLock<Vec<VaultSecret>> = OnceLock::new();
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Set the vault passwords of this run (once).
pub fn set_secrets(secrets: Vec<VaultSecret>) {
    let _ = RUN_SECRETS.set(secrets);
}

fn run_secrets() -> &'static [VaultSecret] {
    RUN_SECRETS.get().map(Vec::as_slice).unwrap_or_default()
}

/// The two encrypted formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// converge's own: an ASCII-armored age file with a passphrase (scrypt).
    Age,
    /// ansible-vault's `$ANSIBLE_VAULT;1.x;AES256`.
    Ansible,
}

/// The format `text` is encrypted in, if it is.
pub fn format_of(text: &str) -> Option<Format> {
    if ansible::is_vault(text) {
        Some(Format::Ansible)
    } else if age_file::is_age(text) {
        Some(Format::Age)
    } else {
        None
    }
}

/// True when `text` is an encrypted file in either format.
pub fn is_encrypted(text: &str) -> bool {
    format_of(text).is_some()
}

/// Why a vault operation failed. The messages follow the file's path: "`vars.yml` {message}".
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No password was given for encrypted data.
    #[error("is encrypted, and no vault password was given")]
    NoPassword,
    /// None of the passwords opens it.
    #[error("cannot be decrypted: wrong vault password{}", tried_ids(.tried))]
    WrongPassword {
        /// The labels of the passwords tried, in order.
        tried: Vec<String>,
    },
    /// The age file is damaged, or the password is wrong (age cannot tell them apart).
    #[error("cannot be decrypted: wrong vault password, or the file is damaged")]
    AgeFailed,
    /// The ansible-vault data is malformed.
    #[error(transparent)]
    Format(#[from] ansible::FormatError),
    /// A `!vault` value that is not ansible-vault data.
    #[error("is tagged `!vault` but does not start with `$ANSIBLE_VAULT`")]
    NotVaultData,
    /// Not valid text after decryption.
    #[error("decrypts to something that is not UTF-8 text")]
    NotText,
    /// Encryption failed.
    #[error("cannot be encrypted: {0}")]
    Encrypt(String),
}

fn tried_ids(tried: &[String]) -> String {
    match tried {
        [] => String::new(),
        [one] => format!(" (tried vault id `{one}`)"),
        many => format!(
            " (tried vault ids {})",
            many.iter()
                .map(|id| format!("`{id}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What decryption found.
#[derive(Debug)]
pub struct Opened {
    /// The plaintext.
    pub plain: String,
    /// The format it was in.
    pub format: Format,
    /// The label of the password that opened it.
    pub label: String,
    /// The vault id of an ansible-vault 1.2 header.
    pub vault_id: Option<String>,
}

/// Decrypt `text` (either format) with the first of `secrets` that opens it.
pub fn open(text: &str, secrets: &[VaultSecret]) -> Result<Opened, VaultError> {
    let format = format_of(text).ok_or(VaultError::NotVaultData)?;
    if secrets.is_empty() {
        return Err(VaultError::NoPassword);
    }
    match format {
        Format::Age => {
            for secret in secrets {
                if let Some(plain) = age_file::decrypt(text, &secret.password) {
                    return Ok(Opened {
                        plain,
                        format,
                        label: secret.label.clone(),
                        vault_id: None,
                    });
                }
            }
            Err(VaultError::AgeFailed)
        }
        Format::Ansible => {
            let envelope = ansible::Envelope::parse(text)?;
            let wanted = envelope.vault_id_or_default();
            // The password labelled as the header says first, then every other one.
            let ordered = secrets
                .iter()
                .filter(|s| s.label == wanted)
                .chain(secrets.iter().filter(|s| s.label != wanted));
            let mut tried = Vec::new();
            for secret in ordered {
                let password = secret.password.expose_secret().as_bytes();
                if let Some(plain) = envelope.decrypt(password)? {
                    return Ok(Opened {
                        plain: String::from_utf8(plain).map_err(|_| VaultError::NotText)?,
                        format,
                        label: secret.label.clone(),
                        vault_id: envelope.vault_id.clone(),
                    });
                }
                if !tried.contains(&secret.label) {
                    tried.push(secret.label.clone());
                }
            }
            Err(VaultError::WrongPassword { tried })
        }
    }
}

/// Decrypt an encrypted file's text with the run's passwords. The caller remembers the values
/// it finds in the plaintext (see [`remember`]), since only it parses them.
pub fn decrypt(text: &str) -> Result<String, VaultError> {
    open(text, run_secrets()).map(|opened| opened.plain)
}

/// Decrypt one `!vault` value with the run's passwords, and remember it as a secret.
pub fn decrypt_value(ciphertext: &str) -> Result<String, VaultError> {
    if !ansible::is_vault(ciphertext) {
        return Err(VaultError::NotVaultData);
    }
    let plain = open(ciphertext, run_secrets())?.plain;
    remember(&plain);
    Ok(plain)
}

/// Remember a secret value: the whole of it, and each line of a multi-line value, so that
/// output showing it whole or a line of it is masked.
pub fn remember(value: &str) {
    let Ok(mut secrets) = SECRETS.lock() else {
        return;
    };
    let mut add = |candidate: &str| {
        if candidate.chars().count() >= MIN_MASKED_CHARS
            && !secrets.iter().any(|known| known == candidate)
        {
            secrets.push(candidate.to_string());
        }
    };
    add(value);
    if value.trim_end().contains('\n') {
        value.lines().map(str::trim).for_each(add);
    }
    // Longest first, so a secret containing another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
}

/// Remember the scalar values of decrypted YAML read line by line (`key: value` lines and list
/// items): the fallback when the plaintext does not parse as YAML.
pub fn remember_lines(plain: &str) {
    for line in plain.lines() {
        let line = line.trim();
        let value = match line.split_once(": ") {
            Some((_, value)) => value,
            None => line.strip_prefix("- ").unwrap_or(""),
        };
        remember(value.trim().trim_matches(|c| c == '"' || c == '\''));
    }
}

/// `text` with every known secret replaced by [`MASK`].
pub fn redact(text: &str) -> String {
    let Ok(secrets) = SECRETS.lock() else {
        return text.to_string();
    };
    let mut out = text.to_string();
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

/// True when any secret is known (so reporters can skip work otherwise).
pub fn has_secrets() -> bool {
    SECRETS.lock().map(|s| !s.is_empty()).unwrap_or(false)
}

/// For tests: the run's passwords are those of the fixtures made by ansible-vault
/// (tests/fixtures/vault/password and prod-password).
#[cfg(test)]
pub fn set_fixture_secrets() {
    set_secrets(vec![
        VaultSecret::new("default", "converge-test-password"),
        VaultSecret::new("prod", "prod-vault-password"),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn fixture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/vault")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    #[test]
    fn age_round_trip_and_wrong_password() {
        let armored = age_file::encrypt("db_password: hunter22\n", "correct horse").unwrap();
        assert_eq!(format_of(&armored), Some(Format::Age));
        assert!(!armored.contains("hunter22"));
        let opened = open(
            &armored,
            &[
                VaultSecret::new("default", "nope"),
                VaultSecret::new("ops", "correct horse"),
            ],
        )
        .unwrap();
        assert_eq!(
            (opened.plain.as_str(), opened.label.as_str()),
            ("db_password: hunter22\n", "ops")
        );
        let wrong = open(&armored, &[VaultSecret::new("default", "nope")]);
        assert!(matches!(wrong, Err(VaultError::AgeFailed)));
    }

    #[test]
    fn the_header_vault_id_is_tried_first_then_all() {
        let text = fixture("vars_1_2_prod.yml");
        let secrets = [
            VaultSecret::new("default", "converge-test-password"),
            VaultSecret::new("prod", "prod-vault-password"),
        ];
        let opened = open(&text, &secrets).unwrap();
        assert_eq!(opened.label, "prod");
        assert_eq!(opened.vault_id.as_deref(), Some("prod"));
        // A label that matches nothing still gets tried.
        let opened = open(&text, &[VaultSecret::new("other", "prod-vault-password")]).unwrap();
        assert_eq!(opened.plain, fixture("plain_vars.yml"));
        let error = open(
            &text,
            &[
                VaultSecret::new("default", "a"),
                VaultSecret::new("dev", "b"),
            ],
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "cannot be decrypted: wrong vault password (tried vault ids `default`, `dev`)"
        );
        assert!(matches!(open(&text, &[]), Err(VaultError::NoPassword)));
    }

    #[test]
    fn remembered_values_are_masked() {
        remember_lines("api_token: s3cr3t-token-value\nlist:\n  - another-secret\n");
        remember("first-line-secret\nsecond-line-secret\n");
        assert_eq!(
            redact("using s3cr3t-token-value and another-secret here"),
            "using ******** and ******** here"
        );
        assert_eq!(redact("got second-line-secret"), "got ********");
        remember("abc");
        assert_eq!(redact("abc"), "abc");
    }
}
