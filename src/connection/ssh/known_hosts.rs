//! OpenSSH `known_hosts` files: which entries name a host (plain patterns and hashed
//! `|1|salt|hash` names), on which line, with which key.
//!
//! The transport checks host keys here rather than through libssh2's `check_port`, because
//! libssh2 also matches a plain `host` entry when connecting to another port (OpenSSH does not),
//! and because a refusal must name the file and line of the stale entry.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::config::host_matches;

/// One line of a known_hosts file that names the host being checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file it was read from (empty for text given directly).
    pub file: PathBuf,
    /// 1-based line number in the file.
    pub line: usize,
    /// Key type, as written (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`…).
    pub key_type: String,
    /// The key, base64 as written.
    pub key: String,
}

/// The result of comparing the server's key with the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// An entry holds exactly this key.
    Match,
    /// The host is listed with another key; `line` is the (first) stale entry.
    Mismatch {
        /// The file holding the stale entry.
        file: PathBuf,
        /// 1-based line number of the stale entry.
        line: usize,
    },
    /// The host is not in the file.
    NotFound,
}

/// The name under which OpenSSH records a host: `host` on port 22, else `[host]:port`.
pub fn host_key_name(host: &str, port: u16) -> String {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Every entry of `text` that names `name` (as made by [`host_key_name`]). `@revoked` and
/// `@cert-authority` lines are skipped.
pub fn entries_for(text: &str, name: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(hosts), Some(key_type), Some(key)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        let names_host = if let Some(hashed) = hosts.strip_prefix("|1|") {
            hashed_matches(hashed, name)
        } else {
            host_matches(&[hosts.to_string()], name)
        };
        if names_host {
            out.push(Entry {
                file: PathBuf::new(),
                line: index + 1,
                key_type: key_type.to_string(),
                key: key.to_string(),
            });
        }
    }
    out
}

/// The entries naming `name` in each of `files`, in order (user files first, then the global
/// ones, as OpenSSH reads them). Missing files hold nothing; unreadable ones are an error.
pub fn entries_in(files: &[PathBuf], name: &str) -> Result<Vec<Entry>, String> {
    let mut out = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
        };
        out.extend(entries_for(&text, name).into_iter().map(|mut e| {
            e.file = file.clone();
            e
        }));
    }
    Ok(out)
}

/// `salt|hash` (both base64) against HMAC-SHA1(salt, name).
fn hashed_matches(salt_and_hash: &str, name: &str) -> bool {
    let Some((salt, hash)) = salt_and_hash.split_once('|') else {
        return false;
    };
    let (Ok(salt), Ok(hash)) = (STANDARD.decode(salt), STANDARD.decode(hash)) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&salt) else {
        return false;
    };
    mac.update(name.as_bytes());
    mac.verify_slice(&hash).is_ok()
}

/// Compare the server's key (raw blob) with the entries for the host. A host known only by
/// keys of other types counts as a mismatch: the server no longer offers the key we know.
pub fn check(entries: &[Entry], key_blob: &[u8]) -> Verdict {
    let key = STANDARD.encode(key_blob);
    let key_type = key_type_of(key_blob).unwrap_or_default();
    if entries.iter().any(|e| e.key == key) {
        return Verdict::Match;
    }
    let stale = entries
        .iter()
        .find(|e| e.key_type == key_type)
        .or_else(|| entries.first());
    match stale {
        Some(e) => Verdict::Mismatch {
            file: e.file.clone(),
            line: e.line,
        },
        None => Verdict::NotFound,
    }
}

/// The key type named inside an SSH public key blob (a length-prefixed string first).
pub fn key_type_of(blob: &[u8]) -> Option<String> {
    let len_bytes: [u8; 4] = blob.get(..4)?.try_into().ok()?;
    let len = u32::from_be_bytes(len_bytes) as usize;
    let name = blob.get(4..4 + len)?;
    String::from_utf8(name.to_vec()).ok()
}

/// The key type of an OpenSSH-format private key (`-----BEGIN OPENSSH PRIVATE KEY-----`),
/// read from its public part, which is not encrypted even when the key is.
pub fn openssh_private_key_type(text: &str) -> Option<String> {
    let body: String = text
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "-----BEGIN OPENSSH PRIVATE KEY-----")
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    let bytes = STANDARD.decode(body).ok()?;
    let mut rest = bytes.strip_prefix(b"openssh-key-v1\0".as_slice())?;
    // cipher name, kdf name, kdf options, then the number of keys, then the first public key.
    for _ in 0..3 {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        rest = rest.get(4 + len..)?;
    }
    let rest = rest.get(4..)?;
    let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
    key_type_of(rest.get(4..4 + len)?)
}

/// libssh2 host key method names for the key types known for a host, in file order, so that
/// the server is asked for a key we can check.
pub fn host_key_methods(entries: &[Entry]) -> Option<String> {
    let mut methods: Vec<&str> = Vec::new();
    for e in entries {
        let names: &[&str] = match e.key_type.as_str() {
            "ssh-ed25519" => &["ssh-ed25519"],
            "ecdsa-sha2-nistp256" => &["ecdsa-sha2-nistp256"],
            "ecdsa-sha2-nistp384" => &["ecdsa-sha2-nistp384"],
            "ecdsa-sha2-nistp521" => &["ecdsa-sha2-nistp521"],
            "ssh-rsa" => &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
            "ssh-dss" => &["ssh-dss"],
            _ => &[],
        };
        for n in names {
            if !methods.contains(n) {
                methods.push(n);
            }
        }
    }
    (!methods.is_empty()).then(|| methods.join(","))
}

/// Append a plain entry for `name` (creating the file and a private parent directory).
pub fn append(path: &Path, name: &str, key_blob: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() && !dir.exists() {
            std::fs::create_dir_all(dir)?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    let needs_newline = match std::fs::read(path) {
        Ok(bytes) => !bytes.is_empty() && !bytes.ends_with(b"\n"),
        Err(_) => false,
    };
    let key_type = key_type_of(key_blob).unwrap_or_else(|| "ssh-unknown".into());
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let line = format!(
        "{}{} {} {}\n",
        if needs_newline { "\n" } else { "" },
        name,
        key_type,
        STANDARD.encode(key_blob)
    );
    file.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blob(kind: &str, body: &[u8]) -> Vec<u8> {
        let mut b = (kind.len() as u32).to_be_bytes().to_vec();
        b.extend_from_slice(kind.as_bytes());
        b.extend_from_slice(body);
        b
    }

    fn hashed_name(salt: &[u8], name: &str) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(salt).expect("any key length");
        mac.update(name.as_bytes());
        format!(
            "|1|{}|{}",
            STANDARD.encode(salt),
            STANDARD.encode(mac.finalize().into_bytes())
        )
    }

    #[test]
    fn plain_hashed_and_port_forms() {
        let k1 = STANDARD.encode(blob("ssh-ed25519", b"one"));
        let k2 = STANDARD.encode(blob("ssh-ed25519", b"two"));
        let text = format!(
            "# comment\nweb1,10.0.0.1 ssh-ed25519 {k1}\n[web1]:2222 ssh-ed25519 {k2}\n{} ssh-rsa {k2}\n@revoked web1 ssh-ed25519 {k2}\n*.lab ssh-ed25519 {k1}\n",
            hashed_name(b"saltsaltsaltsaltsalt", "[::1]:2200")
        );
        assert_eq!(entries_for(&text, "web1").len(), 1);
        assert_eq!(entries_for(&text, "10.0.0.1")[0].line, 2);
        assert_eq!(entries_for(&text, &host_key_name("web1", 2222))[0].line, 3);
        let hashed = entries_for(&text, &host_key_name("::1", 2200));
        assert_eq!(hashed.len(), 1);
        assert_eq!(hashed[0].line, 4);
        assert_eq!(entries_for(&text, "db.lab")[0].line, 6);
        assert!(entries_for(&text, "web2").is_empty());
        assert_eq!(host_key_name("[::1]", 2200), "[::1]:2200");
    }

    #[test]
    fn verdicts() {
        let good = blob("ssh-ed25519", b"good");
        let text = format!(
            "h ssh-rsa {}\nh ssh-ed25519 {}\n",
            STANDARD.encode(blob("ssh-rsa", b"r")),
            STANDARD.encode(blob("ssh-ed25519", b"old"))
        );
        let entries = entries_for(&text, "h");
        assert_eq!(
            check(&entries, &good),
            Verdict::Mismatch {
                file: PathBuf::new(),
                line: 2
            }
        );
        let text2 = format!("{text}h ssh-ed25519 {}\n", STANDARD.encode(&good));
        assert_eq!(check(&entries_for(&text2, "h"), &good), Verdict::Match);
        assert_eq!(check(&[], &good), Verdict::NotFound);
        assert_eq!(
            host_key_methods(&entries).as_deref(),
            Some("rsa-sha2-512,rsa-sha2-256,ssh-rsa,ssh-ed25519")
        );
    }

    #[test]
    fn user_then_global_files_and_the_stale_line_names_its_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let user = dir.path().join("known_hosts");
        let global = dir.path().join("ssh_known_hosts");
        let good = blob("ssh-ed25519", b"good");
        let old = blob("ssh-ed25519", b"old");
        std::fs::write(
            &global,
            format!("h ssh-ed25519 {}\n", STANDARD.encode(&good)),
        )
        .unwrap();
        let files = [user.clone(), global.clone()];
        // The user file is missing: the global file alone knows the host.
        assert_eq!(
            check(&entries_in(&files, "h").unwrap(), &good),
            Verdict::Match
        );
        std::fs::write(
            &user,
            format!("# c\nh ssh-ed25519 {}\n", STANDARD.encode(&old)),
        )
        .unwrap();
        // A match in either file is enough, as in OpenSSH.
        assert_eq!(
            check(&entries_in(&files, "h").unwrap(), &good),
            Verdict::Match
        );
        std::fs::write(&global, "").unwrap();
        assert_eq!(
            check(&entries_in(&files, "h").unwrap(), &good),
            Verdict::Mismatch {
                file: user,
                line: 2
            }
        );
    }

    #[test]
    fn key_type_of_an_openssh_private_key() {
        let dir = tempfile::tempdir().expect("temp dir");
        let key = dir.path().join("k");
        let status = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ecdsa", "-N", "secret", "-f"])
            .arg(&key)
            .status()
            .expect("ssh-keygen");
        assert!(status.success());
        let text = std::fs::read_to_string(&key).expect("key");
        assert_eq!(
            openssh_private_key_type(&text).as_deref(),
            Some("ecdsa-sha2-nistp256")
        );
        assert_eq!(
            openssh_private_key_type("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"),
            None
        );
    }

    #[test]
    fn append_creates_and_adds_a_line() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sub/known_hosts");
        let key = blob("ssh-ed25519", b"k");
        append(&path, "[127.0.0.1]:2222", &key).expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            check(&entries_for(&text, "[127.0.0.1]:2222"), &key),
            Verdict::Match
        );
    }
}
