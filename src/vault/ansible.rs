//! The ansible-vault format, `$ANSIBLE_VAULT;1.1;AES256` and `$ANSIBLE_VAULT;1.2;AES256;<vault-id>`,
//! read and written exactly as ansible-core's `VaultAES256` does, so files and `!vault |`
//! values travel both ways between converge and Ansible.
//!
//! The envelope is a header line, then hex text cut into 80-column lines. Un-hexed, that text
//! is three lines: hex(salt), hex(HMAC-SHA256 of the ciphertext), hex(ciphertext).
//! PBKDF2-HMAC-SHA256 (10,000 iterations) turns the password and the 32-byte salt into 80
//! bytes: the AES-256 key, the HMAC key and the initial CTR counter block, in that order. The
//! plaintext is PKCS7-padded to the AES block size before AES-256-CTR (CTR needs no padding,
//! but Ansible pads and its readers expect it). The MAC is checked, in constant time, before
//! anything is decrypted. The vault id in a 1.2 header is not authenticated: it only chooses
//! which password to try first.
//!
//! Every primitive comes from the RustCrypto crates; this file only arranges the bytes.

use aes::cipher::{KeyIvInit, StreamCipher};
use block_padding::{Pkcs7, RawPadding};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How every ansible-vault text starts.
pub const HEADER: &str = "$ANSIBLE_VAULT";

/// The vault id Ansible gives a password that has no label, and assumes for a 1.1 header.
pub const DEFAULT_VAULT_ID: &str = "default";

const ITERATIONS: u32 = 10_000;
const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
const SALT_LEN: usize = 32;
const BLOCK: usize = 16;
const LINE_WIDTH: usize = 80;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;
type HmacSha256 = Hmac<Sha256>;

/// True when `text` is ansible-vault data (Ansible checks the very first bytes, no whitespace).
pub fn is_vault(text: &str) -> bool {
    text.starts_with(HEADER)
}

/// Why ansible-vault data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The header line is not `$ANSIBLE_VAULT;VERSION;CIPHER[;VAULT_ID]`.
    #[error("has a malformed ansible-vault header `{0}`")]
    Header(String),
    /// A cipher other than AES256 (ansible-core reads no other).
    #[error("uses the cipher `{0}`, and only `AES256` exists in ansible-vault")]
    Cipher(String),
    /// The body is not the hex layers Ansible writes.
    #[error("is not valid ansible-vault data ({0})")]
    Body(&'static str),
}

/// A parsed envelope: the header's fields and the hex body with line breaks removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `1.1` or `1.2`.
    pub version: String,
    /// The vault id of a 1.2 header.
    pub vault_id: Option<String>,
    body: String,
}

impl Envelope {
    /// Parse the header and body of ansible-vault text.
    pub fn parse(text: &str) -> Result<Envelope, FormatError> {
        let mut lines = text.lines();
        let header = lines.next().unwrap_or_default().trim();
        let fields: Vec<&str> = header.split(';').map(str::trim).collect();
        if fields.len() < 3 || fields[0] != HEADER || fields[1].is_empty() {
            return Err(FormatError::Header(header.to_string()));
        }
        if fields[2] != "AES256" {
            return Err(FormatError::Cipher(fields[2].to_string()));
        }
        let vault_id = fields
            .get(3)
            .filter(|id| !id.is_empty())
            .map(|id| id.to_string());
        // Ansible joins the remaining lines as they are; surrounding whitespace is tolerated
        // here so that a value pasted with trailing spaces still reads.
        let body: String = lines.map(str::trim).collect();
        Ok(Envelope {
            version: fields[1].to_string(),
            vault_id,
            body,
        })
    }

    /// The vault id the header names: its own for 1.2, Ansible's `default` otherwise.
    pub fn vault_id_or_default(&self) -> &str {
        self.vault_id.as_deref().unwrap_or(DEFAULT_VAULT_ID)
    }

    /// Decrypt with `password`: `Ok(None)` when the password is not the one (the MAC differs).
    pub fn decrypt(&self, password: &[u8]) -> Result<Option<Vec<u8>>, FormatError> {
        let inner = hex::decode(&self.body).map_err(|_| FormatError::Body("outer hex"))?;
        let inner = std::str::from_utf8(&inner).map_err(|_| FormatError::Body("inner text"))?;
        let mut parts = inner.splitn(3, '\n');
        let (Some(salt), Some(mac), Some(ciphertext)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(FormatError::Body("expected salt, MAC and ciphertext"));
        };
        let salt = hex::decode(salt).map_err(|_| FormatError::Body("salt hex"))?;
        let mac = hex::decode(mac).map_err(|_| FormatError::Body("MAC hex"))?;
        let mut data = hex::decode(ciphertext).map_err(|_| FormatError::Body("ciphertext hex"))?;
        let keys = Keys::derive(password, &salt);
        let mut check = keys.mac();
        check.update(&data);
        // `verify_slice` compares in constant time.
        if check.verify_slice(&mac).is_err() {
            return Ok(None);
        }
        keys.cipher().apply_keystream(&mut data);
        if data.is_empty() || data.len() % BLOCK != 0 {
            return Err(FormatError::Body("ciphertext is not whole AES blocks"));
        }
        let last = data.len() - BLOCK;
        let kept = Pkcs7::raw_unpad(&data[last..])
            .map_err(|_| FormatError::Body("bad padding"))?
            .len();
        data.truncate(last + kept);
        Ok(Some(data))
    }
}

/// The three values PBKDF2 derives from a password and a salt.
struct Keys {
    cipher_key: [u8; KEY_LEN],
    mac_key: [u8; KEY_LEN],
    iv: [u8; IV_LEN],
}

impl Keys {
    fn derive(password: &[u8], salt: &[u8]) -> Keys {
        let mut derived = [0u8; 2 * KEY_LEN + IV_LEN];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ITERATIONS, &mut derived);
        let mut keys = Keys {
            cipher_key: [0; KEY_LEN],
            mac_key: [0; KEY_LEN],
            iv: [0; IV_LEN],
        };
        keys.cipher_key.copy_from_slice(&derived[..KEY_LEN]);
        keys.mac_key.copy_from_slice(&derived[KEY_LEN..2 * KEY_LEN]);
        keys.iv.copy_from_slice(&derived[2 * KEY_LEN..]);
        keys
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes a key of any length; 32 bytes cannot fail.
        <HmacSha256 as Mac>::new_from_slice(&self.mac_key).expect("HMAC accepts any key length")
    }

    fn cipher(&self) -> Aes256Ctr {
        Aes256Ctr::new(&self.cipher_key.into(), &self.iv.into())
    }
}

/// Encrypt `plaintext` into ansible-vault text with a fresh random salt: a 1.1 header, or 1.2
/// with `vault_id` when one other than `default` is given (as ansible-vault decides).
pub fn encrypt(
    plaintext: &[u8],
    password: &[u8],
    vault_id: Option<&str>,
) -> Result<String, String> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|error| format!("no random salt: {error}"))?;
    Ok(encrypt_with_salt(plaintext, password, vault_id, &salt))
}

/// [`encrypt`] with a given salt (for known-answer tests against ansible-core's own output).
pub fn encrypt_with_salt(
    plaintext: &[u8],
    password: &[u8],
    vault_id: Option<&str>,
    salt: &[u8],
) -> String {
    let keys = Keys::derive(password, salt);
    let mut data = plaintext.to_vec();
    let whole = data.len() - data.len() % BLOCK;
    let mut last = [0u8; BLOCK];
    last[..data.len() - whole].copy_from_slice(&data[whole..]);
    Pkcs7::raw_pad(&mut last, data.len() - whole);
    data.truncate(whole);
    data.extend_from_slice(&last);
    keys.cipher().apply_keystream(&mut data);
    let mut mac = keys.mac();
    mac.update(&data);
    let mac = mac.finalize().into_bytes();
    let inner = format!(
        "{}\n{}\n{}",
        hex::encode(salt),
        hex::encode(mac),
        hex::encode(&data)
    );
    let body = hex::encode(inner.as_bytes());
    let header = match vault_id.filter(|id| !id.is_empty() && *id != DEFAULT_VAULT_ID) {
        Some(id) => format!("{HEADER};1.2;AES256;{id}"),
        None => format!("{HEADER};1.1;AES256"),
    };
    let mut out = header;
    out.push('\n');
    for chunk in body.as_bytes().chunks(LINE_WIDTH) {
        // Hex digits are ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// A `!vault |` YAML block for ansible-vault text, as `ansible-vault encrypt_string` prints
/// it: `name: !vault |` (or a bare `!vault |`), each line indented by ten spaces.
pub fn yaml_block(vaulttext: &str, name: Option<&str>) -> String {
    let mut out = match name {
        Some(name) => format!("{name}: !vault |"),
        None => "!vault |".to_string(),
    };
    for line in vaulttext.lines() {
        out.push('\n');
        out.push_str("          ");
        out.push_str(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn fixture(name: &str) -> String {
        let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/vault")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn open(text: &str, password: &str) -> Option<String> {
        let envelope = Envelope::parse(text).expect("envelope");
        envelope
            .decrypt(password.as_bytes())
            .expect("well-formed")
            .map(|plain| String::from_utf8(plain).expect("utf-8"))
    }

    /// Known answers made by ansible-core 2.19's own `VaultLib.encrypt` with a fixed salt:
    /// converge must produce the very same bytes, and read them back.
    #[test]
    fn known_answers_from_ansible_core() {
        let salt_1 = b"0123456789abcdef0123456789abcdef";
        let written =
            encrypt_with_salt(b"known answer: plaintext\n", b"kat-password", None, salt_1);
        assert_eq!(written, fixture("kat_1_1.txt"));
        let salt_2 = b"fedcba9876543210fedcba9876543210";
        // A 16-byte plaintext gets a whole block of padding.
        let written = encrypt_with_salt(b"exactly sixteen!", b"kat-password", Some("team"), salt_2);
        assert_eq!(written, fixture("kat_1_2_team.txt"));
        assert_eq!(
            open(&fixture("kat_1_1.txt"), "kat-password").as_deref(),
            Some("known answer: plaintext\n")
        );
        assert_eq!(
            open(&fixture("kat_1_2_team.txt"), "kat-password").as_deref(),
            Some("exactly sixteen!")
        );
    }

    #[test]
    fn files_written_by_ansible_vault() {
        let plain = fixture("plain_vars.yml");
        let v11 = fixture("vars_1_1.yml");
        let envelope = Envelope::parse(&v11).unwrap();
        assert_eq!(
            (envelope.version.as_str(), envelope.vault_id_or_default()),
            ("1.1", "default")
        );
        assert_eq!(open(&v11, "converge-test-password"), Some(plain.clone()));
        let v12 = fixture("vars_1_2_prod.yml");
        let envelope = Envelope::parse(&v12).unwrap();
        assert_eq!(
            (envelope.version.as_str(), envelope.vault_id.as_deref()),
            ("1.2", Some("prod"))
        );
        assert_eq!(open(&v12, "prod-vault-password"), Some(plain));
    }

    #[test]
    fn wrong_password_is_none_not_an_error() {
        assert_eq!(open(&fixture("vars_1_1.yml"), "not the password"), None);
        assert_eq!(
            open(&fixture("vars_1_2_prod.yml"), "converge-test-password"),
            None
        );
    }

    #[test]
    fn round_trip_every_length_around_a_block() {
        for len in 0..=33 {
            let plain: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            let text = encrypt(&plain, b"pw", Some("ops")).unwrap();
            assert!(
                text.starts_with("$ANSIBLE_VAULT;1.2;AES256;ops\n"),
                "{text}"
            );
            assert!(text.lines().skip(1).all(|l| l.len() <= 80));
            let envelope = Envelope::parse(&text).unwrap();
            assert_eq!(envelope.decrypt(b"pw").unwrap(), Some(plain));
        }
        let text = encrypt(b"x", b"pw", Some("default")).unwrap();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"), "{text}");
    }

    #[test]
    fn damaged_data_is_an_error_never_a_panic() {
        let good = fixture("kat_1_1.txt");
        assert!(matches!(
            Envelope::parse("$ANSIBLE_VAULT;1.1"),
            Err(FormatError::Header(_))
        ));
        assert_eq!(
            Envelope::parse("$ANSIBLE_VAULT;1.1;AES\n00"),
            Err(FormatError::Cipher("AES".into()))
        );
        let not_hex = good.replace('3', "z");
        assert!(Envelope::parse(&not_hex)
            .unwrap()
            .decrypt(b"kat-password")
            .is_err());
        let cut: String = good.lines().take(2).collect::<Vec<_>>().join("\n");
        assert!(Envelope::parse(&cut)
            .unwrap()
            .decrypt(b"kat-password")
            .is_err());
        // A flipped ciphertext digit fails the MAC: reported as "not this password".
        let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
        let last = lines.len() - 1;
        let flipped = if lines[last].ends_with('2') { "3" } else { "2" };
        let len = lines[last].len();
        lines[last].replace_range(len - 1.., flipped);
        let tampered = lines.join("\n");
        assert_eq!(
            Envelope::parse(&tampered).unwrap().decrypt(b"kat-password"),
            Ok(None)
        );
    }

    #[test]
    fn yaml_block_matches_encrypt_string() {
        let text = "$ANSIBLE_VAULT;1.1;AES256\n3031\n3233\n";
        assert_eq!(
            yaml_block(text, Some("token")),
            "token: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          3031\n          3233"
        );
        assert!(yaml_block(text, None).starts_with("!vault |\n          $ANSIBLE"));
    }
}
