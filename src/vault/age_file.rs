//! converge's own vault format: an ASCII-armored age file encrypted to a passphrase (scrypt,
//! ChaCha20-Poly1305). Stronger against password guessing than ansible-vault's 10,000 PBKDF2
//! rounds, so `converge vault encrypt` writes it unless asked for `--ansible`.

use age::secrecy::SecretString;
use std::io::{Read, Write};

/// The first line of an armored age file.
pub const ARMOR_HEADER: &str = "-----BEGIN AGE ENCRYPTED FILE-----";

/// True when `text` is an armored age file.
pub fn is_age(text: &str) -> bool {
    text.trim_start().starts_with(ARMOR_HEADER)
}

/// Encrypt `plaintext` with `password` into an armored age file.
pub fn encrypt(plaintext: &str, password: &str) -> Result<String, String> {
    let encryptor = age::Encryptor::with_user_passphrase(SecretString::from(password.to_string()));
    let mut armored = Vec::new();
    let armor =
        age::armor::ArmoredWriter::wrap_output(&mut armored, age::armor::Format::AsciiArmor)
            .map_err(|e| e.to_string())?;
    let mut writer = encryptor.wrap_output(armor).map_err(|e| e.to_string())?;
    writer
        .write_all(plaintext.as_bytes())
        .map_err(|e| e.to_string())?;
    writer
        .finish()
        .and_then(|armor| armor.finish())
        .map_err(|e| e.to_string())?;
    String::from_utf8(armored).map_err(|e| e.to_string())
}

/// Decrypt an armored age file with `password`; `None` when it does not open (wrong password
/// or damaged: age does not say which) or is not text.
pub fn decrypt(text: &str, password: &SecretString) -> Option<String> {
    let reader = age::armor::ArmoredReader::new(text.as_bytes());
    let decryptor = age::Decryptor::new(reader).ok()?;
    let identity = age::scrypt::Identity::new(password.clone());
    let mut plain = Vec::new();
    decryptor
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .ok()?
        .read_to_end(&mut plain)
        .ok()?;
    String::from_utf8(plain).ok()
}
