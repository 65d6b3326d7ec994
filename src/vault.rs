//! Encrypted variable files (`converge vault`), with the `age` format and a passphrase.
//!
//! A vars file (group_vars, host_vars, vars_files, role vars, `-e @file`) that is an ASCII-
//! armored age file is decrypted in memory when it is loaded; nothing decrypted is written
//! anywhere. Every string value that came out of such a file is remembered as a secret, and
//! the reporters replace it with `********` wherever it would be printed, diffs included.
//! age (scrypt for passphrases, ChaCha20-Poly1305) is a well-reviewed format and crate;
//! converge does no cryptography of its own.

use age::secrecy::SecretString;
use std::io::{Read, Write};
use std::sync::{Mutex, OnceLock};

/// The first line of an armored age file.
pub const ARMOR_HEADER: &str = "-----BEGIN AGE ENCRYPTED FILE-----";

/// What replaces a secret in output.
pub const MASK: &str = "********";

static PASSWORD: OnceLock<SecretString> = OnceLock::new();
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Set the vault password for this run (once).
pub fn set_password(password: &str) {
    let _ = PASSWORD.set(SecretString::from(password.to_string()));
}

/// True when `text` is an armored age file.
pub fn is_encrypted(text: &str) -> bool {
    text.trim_start().starts_with(ARMOR_HEADER)
}

/// Why a vault operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No password was given for an encrypted file.
    #[error("is encrypted, and no vault password was given")]
    NoPassword,
    /// The password does not open the file (or the file is damaged).
    #[error("cannot be decrypted: wrong vault password, or the file is damaged")]
    WrongPassword,
    /// Not valid text after decryption.
    #[error("decrypts to something that is not UTF-8 text")]
    NotText,
    /// Encryption failed.
    #[error("cannot be encrypted: {0}")]
    Encrypt(String),
}

/// Encrypt `plaintext` with `password` into an armored age file.
pub fn encrypt(plaintext: &str, password: &str) -> Result<String, VaultError> {
    let encryptor = age::Encryptor::with_user_passphrase(SecretString::from(password.to_string()));
    let mut armored = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
            .map_err(|e| VaultError::Encrypt(e.to_string()))?;
    let mut writer = encryptor
        .wrap_output(armor)
        .map_err(|e| VaultError::Encrypt(e.to_string()))?;
    writer
        .write_all(plaintext.as_bytes())
        .map_err(|e| VaultError::Encrypt(e.to_string()))?;
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .map_err(|e| VaultError::Encrypt(e.to_string()))?;
    String::from_utf8(armored).map_err(|_| VaultError::NotText)
}

/// Decrypt an armored age file with `password`.
pub fn decrypt_with(text: &str, password: &SecretString) -> Result<String, VaultError> {
    let reader = age::armor::ArmoredReader::new(text.as_bytes());
    let decryptor = age::Decryptor::new(reader).map_err(|_| VaultError::WrongPassword)?;
    let identity = age::scrypt::Identity::new(password.clone());
    let mut plain = Vec::new();
    decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|_| VaultError::WrongPassword)?
        .read_to_end(&mut plain)
        .map_err(|_| VaultError::WrongPassword)?;
    String::from_utf8(plain).map_err(|_| VaultError::NotText)
}

/// Decrypt with the run's password, remembering every scalar value in it as a secret.
pub fn decrypt(text: &str) -> Result<String, VaultError> {
    let password = PASSWORD.get().ok_or(VaultError::NoPassword)?;
    let plain = decrypt_with(text, password)?;
    remember_values(&plain);
    Ok(plain)
}

/// Remember the scalar values of a decrypted YAML mapping (`key: value` lines and list
/// items) so that output can mask them.
fn remember_values(plain: &str) {
    let Ok(mut secrets) = SECRETS.lock() else {
        return;
    };
    for line in plain.lines() {
        let line = line.trim();
        let value = match line.split_once(": ") {
            Some((_, value)) => value,
            None => line.strip_prefix("- ").unwrap_or(""),
        };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        // Very short values would mask unrelated text everywhere.
        if value.chars().count() >= 4 && !secrets.iter().any(|s| s == value) {
            secrets.push(value.to_string());
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_password() {
        let armored = encrypt("db_password: hunter22\n", "correct horse").unwrap();
        assert!(is_encrypted(&armored));
        assert!(!armored.contains("hunter22"));
        let plain =
            decrypt_with(&armored, &SecretString::from("correct horse".to_string())).unwrap();
        assert_eq!(plain, "db_password: hunter22\n");
        let wrong = decrypt_with(&armored, &SecretString::from("nope".to_string()));
        assert!(matches!(wrong, Err(VaultError::WrongPassword)));
    }

    #[test]
    fn remembered_values_are_masked() {
        remember_values("api_token: s3cr3t-token-value\nlist:\n  - another-secret\n");
        assert_eq!(
            redact("using s3cr3t-token-value and another-secret here"),
            "using ******** and ******** here"
        );
    }
}
