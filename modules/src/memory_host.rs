//! An in-memory [`Host`] for module tests: files live in a map, commands are answered by
//! rules the test sets, and everything run is recorded.

use crate::host::{
    Command, FileKind, FileStat, Host, HostError, Output, WriteOptions, WriteOutcome,
};
use std::collections::BTreeMap;

/// A file or directory on the memory host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryEntry {
    /// Content (empty for directories and links).
    pub content: Vec<u8>,
    /// Kind.
    pub kind: FileKind,
    /// Permission bits.
    pub mode: u32,
    /// Owner name.
    pub owner: String,
    /// Group name.
    pub group: String,
}

type Responder = Box<dyn FnMut(&Command) -> Option<Output> + Send>;

/// A host that exists only in memory.
pub struct MemoryHost {
    /// Files by absolute path.
    pub files: BTreeMap<String, MemoryEntry>,
    /// Every command run, as its shell line, in order.
    pub commands_run: Vec<String>,
    responders: Vec<Responder>,
}

impl Default for MemoryHost {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryHost {
    /// An empty host with `/` as the only directory.
    pub fn new() -> Self {
        let mut files = BTreeMap::new();
        files.insert("/".to_string(), directory_entry(0o755));
        MemoryHost {
            files,
            commands_run: Vec::new(),
            responders: Vec::new(),
        }
    }

    /// Add a regular file (mode 0644, root:root), creating its parent directories.
    pub fn with_file(mut self, path: &str, content: impl Into<Vec<u8>>) -> Self {
        self.add_parents(path);
        self.files.insert(
            path.to_string(),
            MemoryEntry {
                content: content.into(),
                kind: FileKind::File,
                mode: 0o644,
                owner: "root".into(),
                group: "root".into(),
            },
        );
        self
    }

    /// Add a directory (mode 0755).
    pub fn with_directory(mut self, path: &str) -> Self {
        self.add_parents(path);
        self.files.insert(path.to_string(), directory_entry(0o755));
        self
    }

    /// Answer commands: the first responder that returns `Some` wins. Commands nobody
    /// answers fail with status 127 ("command not found").
    pub fn respond(mut self, responder: impl FnMut(&Command) -> Option<Output> + Send + 'static) -> Self {
        self.responders.push(Box::new(responder));
        self
    }

    /// The content of a file as text, if it exists.
    pub fn text(&self, path: &str) -> Option<String> {
        self.files
            .get(path)
            .map(|entry| String::from_utf8_lossy(&entry.content).into_owned())
    }

    fn add_parents(&mut self, path: &str) {
        let mut parent = std::path::Path::new(path).parent();
        while let Some(dir) = parent {
            let key = dir.to_string_lossy().into_owned();
            if key.is_empty() {
                break;
            }
            self.files
                .entry(key)
                .or_insert_with(|| directory_entry(0o755));
            parent = dir.parent();
        }
    }
}

fn directory_entry(mode: u32) -> MemoryEntry {
    MemoryEntry {
        content: Vec::new(),
        kind: FileKind::Directory,
        mode,
        owner: "root".into(),
        group: "root".into(),
    }
}

impl Host for MemoryHost {
    fn name(&self) -> &str {
        "memory"
    }

    fn run(&mut self, command: &Command) -> Result<Output, HostError> {
        self.commands_run.push(command.to_shell_line());
        for responder in &mut self.responders {
            if let Some(output) = responder(command) {
                return Ok(output);
            }
        }
        Ok(Output {
            status: 127,
            stdout: Vec::new(),
            stderr: format!("memory host: no responder for `{command}`\n").into_bytes(),
        })
    }

    fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        match self.files.get(path) {
            None => Ok(None),
            Some(entry) if entry.kind == FileKind::File => Ok(Some(entry.content.clone())),
            Some(_) => Err(HostError::File {
                operation: "read",
                path: path.into(),
                reason: "not a regular file".into(),
            }),
        }
    }

    fn stat(&mut self, path: &str) -> Result<Option<FileStat>, HostError> {
        Ok(self.files.get(path).map(|entry| FileStat {
            kind: entry.kind.clone(),
            mode: entry.mode,
            uid: 0,
            gid: 0,
            owner: entry.owner.clone(),
            group: entry.group.clone(),
            size: entry.content.len() as u64,
        }))
    }

    fn write_file(
        &mut self,
        path: &str,
        content: &[u8],
        options: &WriteOptions,
    ) -> Result<WriteOutcome, HostError> {
        let parent = std::path::Path::new(path)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|| "/".into());
        if !self.files.contains_key(&parent) {
            if options.create_parents {
                self.add_parents(path);
            } else {
                return Err(HostError::File {
                    operation: "write",
                    path: path.into(),
                    reason: format!("directory `{parent}` does not exist"),
                });
            }
        }
        let old = self.files.get(path).cloned();
        let mut outcome = WriteOutcome::default();
        if let (true, Some(old)) = (options.backup, &old) {
            let backup = format!("{path}.backup~");
            self.files.insert(backup.clone(), old.clone());
            outcome.backup_file = Some(backup);
        }
        let attributes = &options.attributes;
        self.files.insert(
            path.to_string(),
            MemoryEntry {
                content: content.to_vec(),
                kind: FileKind::File,
                mode: attributes
                    .mode
                    .or(old.as_ref().map(|o| o.mode))
                    .unwrap_or(0o644),
                owner: attributes
                    .owner
                    .clone()
                    .or(old.as_ref().map(|o| o.owner.clone()))
                    .unwrap_or_else(|| "root".into()),
                group: attributes
                    .group
                    .clone()
                    .or(old.as_ref().map(|o| o.group.clone()))
                    .unwrap_or_else(|| "root".into()),
            },
        );
        Ok(outcome)
    }

    fn remove(&mut self, path: &str) -> Result<(), HostError> {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        self.files
            .retain(|key, _| key != path && !key.starts_with(&prefix));
        Ok(())
    }
}
