//! The plan file: JSON, `{"plan": {...}, "integrity": {...}}`.
//!
//! Integrity: with a plan key (`--plan-key FILE`), an HMAC-SHA256 of the plan under a key
//! derived from the file's content; without one, a SHA-256 of the plan that `--plan-out`
//! prints and `apply --digest` checks. Either way a plan edited by hand is refused: the MAC
//! cannot be recomputed without the key, and the printed digest is not in the file.
//!
//! Secrets: the content of tasks that hold one (see [`super::is_secret`]) never appears in
//! clear. With a plan key it is sealed into one age file (scrypt, ChaCha20-Poly1305) inside
//! the plan; without one the plan is not written, and the error names the tasks.

use super::{PlannedTask, TaskContent};
use crate::vault::age_file;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The version of the format this converge writes and reads.
pub const FORMAT: u32 = 1;

/// Everything a plan says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanFile {
    /// [`FORMAT`].
    pub format: u32,
    /// The converge that made it.
    pub converge_version: String,
    /// When it was made (seconds since the epoch).
    pub created_unix: u64,
    /// The directory the run started in (the arguments' relative paths start there).
    pub workdir: PathBuf,
    /// The run's arguments (`RunArgs`), without the plan flags: `apply` runs them again.
    pub run: serde_json::Value,
    /// SHA-256 of every input file (inventory, playbooks, roles, variables, templates).
    pub inputs: BTreeMap<String, String>,
    /// Every host's tasks in the order they ran.
    pub hosts: BTreeMap<String, Vec<PlannedTask>>,
    /// The content of the secret tasks, `host → key → content`, as an armored age file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed: Option<String>,
}

/// How the plan is protected against edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Integrity {
    /// HMAC-SHA256 with the plan key.
    HmacSha256 {
        /// Hex.
        value: String,
    },
    /// SHA-256; the same value was printed when the plan was made.
    Sha256 {
        /// Hex.
        value: String,
    },
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    plan: PlanFile,
    integrity: Integrity,
}

/// Why a plan cannot be written or used.
#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    /// The file cannot be read or written.
    #[error("{path}: {message}")]
    Io {
        /// The plan file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Not a plan, or a newer format.
    #[error("{path} is not a converge plan: {message}")]
    Format {
        /// The plan file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The integrity check failed.
    #[error("{path} was changed after it was made ({message}); refusing to apply it")]
    Tampered {
        /// The plan file.
        path: String,
        /// Which check failed.
        message: String,
    },
    /// Secrets and no key.
    #[error("the plan holds secrets and is not written: {tasks}\n  = hint: give --plan-key FILE (a passphrase file) to seal them into the plan")]
    SecretsWithoutKey {
        /// The tasks, `host: name`.
        tasks: String,
    },
    /// Sealing or unsealing failed.
    #[error("{0}")]
    Seal(String),
}

/// A plan key: the passphrase file's content, without surrounding whitespace.
#[derive(Clone)]
pub struct PlanKey(String);

impl PlanKey {
    /// Read the key file.
    pub fn read(path: &Path) -> Result<PlanKey, PlanFileError> {
        let text = std::fs::read_to_string(path).map_err(|error| PlanFileError::Io {
            path: path.display().to_string(),
            message: format!("cannot read the plan key: {error}"),
        })?;
        let key = text.trim();
        if key.is_empty() {
            return Err(PlanFileError::Io {
                path: path.display().to_string(),
                message: "the plan key file is empty".into(),
            });
        }
        Ok(PlanKey(key.to_string()))
    }

    fn mac(&self) -> Hmac<Sha256> {
        // A key separate from the sealing passphrase's own use (age derives its key with
        // scrypt from the same passphrase).
        let derived = Sha256::digest(format!("converge plan mac\0{}", self.0).as_bytes());
        <Hmac<Sha256> as Mac>::new_from_slice(&derived).expect("HMAC accepts any key length")
    }
}

impl PlanFile {
    /// Seal the content of secret tasks (with `key`), or refuse when there is no key.
    pub fn seal_secrets(&mut self, key: Option<&PlanKey>) -> Result<(), PlanFileError> {
        let mut secret: BTreeMap<String, BTreeMap<String, TaskContent>> = BTreeMap::new();
        for (host, tasks) in &mut self.hosts {
            for task in tasks.iter_mut().filter(|task| task.secret) {
                if let Some(content) = task.content.take() {
                    secret
                        .entry(host.clone())
                        .or_default()
                        .insert(task.key.clone(), content);
                }
            }
        }
        if secret.is_empty() {
            return Ok(());
        }
        let Some(key) = key else {
            let tasks: Vec<String> = self
                .hosts
                .iter()
                .flat_map(|(host, tasks)| {
                    tasks
                        .iter()
                        .filter(|task| task.secret)
                        .map(move |task| format!("{host}: {}", task.name))
                })
                .collect();
            return Err(PlanFileError::SecretsWithoutKey {
                tasks: tasks.join(", "),
            });
        };
        let json = serde_json::to_string(&secret).expect("content serializes");
        self.sealed = Some(age_file::encrypt(&json, &key.0).map_err(PlanFileError::Seal)?);
        Ok(())
    }

    /// Put the sealed content back into its tasks.
    pub fn unseal(&mut self, key: &PlanKey) -> Result<(), PlanFileError> {
        let Some(sealed) = self.sealed.take() else {
            return Ok(());
        };
        let password = age::secrecy::SecretString::from(key.0.clone());
        let json = age_file::decrypt(&sealed, &password).ok_or_else(|| {
            PlanFileError::Seal("the plan key does not open the plan's sealed secrets".into())
        })?;
        let mut secret: BTreeMap<String, BTreeMap<String, TaskContent>> =
            serde_json::from_str(&json).map_err(|error| PlanFileError::Seal(error.to_string()))?;
        for (host, tasks) in &mut self.hosts {
            let Some(contents) = secret.get_mut(host) else {
                continue;
            };
            for task in tasks.iter_mut() {
                if let Some(content) = contents.remove(&task.key) {
                    task.content = Some(content);
                }
            }
        }
        Ok(())
    }

    fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plan serializes")
    }

    /// SHA-256 (hex) of the plan: what `--plan-out` prints and `apply --digest` checks.
    pub fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.canonical()))
    }

    /// Write the plan to `path` (atomically), protected by `key`'s MAC or by its digest.
    /// Returns the digest.
    pub fn write(&self, path: &Path, key: Option<&PlanKey>) -> Result<String, PlanFileError> {
        let digest = self.digest();
        let integrity = match key {
            Some(key) => {
                let mut mac = key.mac();
                mac.update(&self.canonical());
                Integrity::HmacSha256 {
                    value: hex::encode(mac.finalize().into_bytes()),
                }
            }
            None => Integrity::Sha256 {
                value: digest.clone(),
            },
        };
        let envelope = Envelope {
            plan: self.clone(),
            integrity,
        };
        let mut text = serde_json::to_string_pretty(&envelope).expect("plan serializes");
        text.push('\n');
        let io = |error: std::io::Error| PlanFileError::Io {
            path: path.display().to_string(),
            message: error.to_string(),
        };
        let dir = path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        std::io::Write::write_all(&mut temp, text.as_bytes()).map_err(io)?;
        temp.persist(path).map_err(|error| io(error.error))?;
        Ok(digest)
    }

    /// Read and verify a plan. A MAC needs `key`; a digest is compared with `expected` when
    /// given (the value `--plan-out` printed).
    pub fn read(
        path: &Path,
        key: Option<&PlanKey>,
        expected: Option<&str>,
    ) -> Result<PlanFile, PlanFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| PlanFileError::Io {
            path: shown.clone(),
            message: error.to_string(),
        })?;
        let envelope: Envelope =
            serde_json::from_str(&text).map_err(|error| PlanFileError::Format {
                path: shown.clone(),
                message: error.to_string(),
            })?;
        let plan = envelope.plan;
        if plan.format != FORMAT {
            return Err(PlanFileError::Format {
                path: shown,
                message: format!("format {} (this converge reads {FORMAT})", plan.format),
            });
        }
        let tampered = |message: &str| PlanFileError::Tampered {
            path: shown.clone(),
            message: message.to_string(),
        };
        let digest = plan.digest();
        match (&envelope.integrity, key) {
            (Integrity::HmacSha256 { value }, Some(key)) => {
                let mut mac = key.mac();
                mac.update(&plan.canonical());
                let given = hex::decode(value).map_err(|_| tampered("its MAC is not hex"))?;
                mac.verify_slice(&given)
                    .map_err(|_| tampered("its MAC does not match the plan key"))?;
            }
            (Integrity::HmacSha256 { .. }, None) => {
                return Err(PlanFileError::Seal(format!(
                    "{shown} is protected by a plan key: give --plan-key FILE"
                )))
            }
            (Integrity::Sha256 { value }, _) => {
                if *value != digest {
                    return Err(tampered("its content does not match its digest"));
                }
            }
        }
        if let Some(expected) = expected {
            if !expected.eq_ignore_ascii_case(&digest) {
                return Err(tampered(&format!(
                    "its digest is {digest}, not the {expected} given with --digest"
                )));
            }
        }
        Ok(plan)
    }
}
