//! An in-memory [`Host`] for module tests: files live in a map, commands are answered by
//! rules the test sets, and everything run is recorded.

use crate::host::{
    Command, FileKind, FileStat, Host, HostError, Output, Program, WriteOptions, WriteOutcome,
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
type PseudoFiles = Box<dyn FnMut(&str) -> Option<Result<Option<Vec<u8>>, HostError>> + Send>;

/// A host that exists only in memory.
pub struct MemoryHost {
    /// Files by absolute path.
    pub files: BTreeMap<String, MemoryEntry>,
    /// Every command run, as its shell line, in order.
    pub commands_run: Vec<String>,
    responders: Vec<Responder>,
    pseudo_files: Vec<PseudoFiles>,
    /// Inode numbers of the paths that share one with another path (hard links); every
    /// other path has an inode of its own.
    inodes: BTreeMap<String, u64>,
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
            pseudo_files: Vec::new(),
            inodes: BTreeMap::new(),
        }
    }

    /// Make `path` a hard link to the existing entry `existing`: a copy of it that shares
    /// its inode (attribute changes reach both; content is not kept in step).
    pub fn with_hard_link(mut self, path: &str, existing: &str) -> Self {
        if let Some(entry) = self.files.get(existing).cloned() {
            self.add_parents(path);
            self.files.insert(path.to_string(), entry);
            let inode = self.inode(existing);
            self.inodes.insert(existing.to_string(), inode);
            self.inodes.insert(path.to_string(), inode);
        }
        self
    }

    /// The inode number of `path` (a stable number of its own unless it is a hard link).
    pub fn inode(&self, path: &str) -> u64 {
        self.inodes.get(path).copied().unwrap_or_else(|| {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            path.hash(&mut hasher);
            hasher.finish() >> 1
        })
    }

    /// How many paths name the inode of `path`.
    fn link_count(&self, path: &str) -> usize {
        match self.inodes.get(path) {
            Some(inode) => self.inodes.values().filter(|i| *i == inode).count(),
            None => 1,
        }
    }

    /// The other paths that share `path`'s inode.
    fn siblings(&self, path: &str) -> Vec<String> {
        match self.inodes.get(path) {
            Some(inode) => self
                .inodes
                .iter()
                .filter(|(other, i)| *i == inode && other.as_str() != path)
                .map(|(other, _)| other.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    /// A link target as seen from the link at `path`.
    fn resolve_link(path: &str, target: &str) -> String {
        if target.starts_with('/') {
            target.to_string()
        } else {
            let parent = std::path::Path::new(path)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{}/{target}", parent.trim_end_matches('/'))
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
    pub fn respond(
        mut self,
        responder: impl FnMut(&Command) -> Option<Output> + Send + 'static,
    ) -> Self {
        self.responders.push(Box::new(responder));
        self
    }

    /// Answer reads of files that are not in [`MemoryHost::files`], the way `/proc` answers:
    /// `reader` gets the path and returns the read's answer, or `None` to pass.
    pub fn pseudo_files(
        mut self,
        reader: impl FnMut(&str) -> Option<Result<Option<Vec<u8>>, HostError>> + Send + 'static,
    ) -> Self {
        self.pseudo_files.push(Box::new(reader));
        self
    }

    /// The content of a file as text, if it exists.
    pub fn text(&self, path: &str) -> Option<String> {
        self.files
            .get(path)
            .map(|entry| String::from_utf8_lossy(&entry.content).into_owned())
    }

    /// Add a symbolic link at `path` pointing to `target` (root:root, mode 0777).
    pub fn with_symlink(mut self, path: &str, target: &str) -> Self {
        self.add_parents(path);
        self.files.insert(
            path.to_string(),
            MemoryEntry {
                content: Vec::new(),
                kind: FileKind::Symlink {
                    target: target.to_string(),
                },
                mode: 0o777,
                owner: "root".into(),
                group: "root".into(),
            },
        );
        self
    }

    /// Give the existing entry at `path` this mode, owner and group (no-op when absent).
    pub fn with_attributes(mut self, path: &str, mode: u32, owner: &str, group: &str) -> Self {
        if let Some(entry) = self.files.get_mut(path) {
            entry.mode = mode;
            entry.owner = owner.to_string();
            entry.group = group.to_string();
        }
        self
    }

    /// The file commands that modules' steps emit, acted out on the map so that a plan can
    /// be applied and planned again: `mkdir -p`, `chmod [-R]`, `chown [-R] [-h]`,
    /// `ln -s[f][n]`, `ln [-f]` (hard links), `stat -c`, `touch`, and `find PATH -mindepth 1 ! -perm|-user|-group V -print -quit`.
    /// Runs after the test's responders, so a test can still make any of them fail.
    fn file_command(&mut self, command: &Command) -> Option<Output> {
        let Program::Argv(argv) = &command.program else {
            return None;
        };
        let (name, rest) = argv.split_first()?;
        let (flags, operands): (Vec<&String>, Vec<&String>) = rest
            .iter()
            .partition(|arg| arg.starts_with('-') && arg.len() > 1 && name != "find");
        let has = |flag: char| {
            flags
                .iter()
                .any(|f| !f.starts_with("--") && f.contains(flag))
        };
        let result = match (name.as_str(), operands.as_slice()) {
            ("mkdir", paths) if has('p') && !paths.is_empty() => {
                for path in paths {
                    if self
                        .files
                        .get(path.as_str())
                        .is_some_and(|e| e.kind != FileKind::Directory)
                    {
                        return Some(failure(format!(
                            "mkdir: cannot create directory '{path}': File exists"
                        )));
                    }
                    self.add_parents(&format!("{path}/x"));
                }
                Ok(())
            }
            ("chmod", [mode, paths @ ..]) if !paths.is_empty() => {
                match u32::from_str_radix(mode, 8) {
                    Ok(bits) => paths.iter().try_for_each(|path| {
                        self.each_entry(path, has('R'), false, |entry| entry.mode = bits)
                    }),
                    Err(_) => Err(format!("chmod: invalid mode: '{mode}'")),
                }
            }
            ("chown", [spec, paths @ ..]) if !paths.is_empty() => {
                let (owner, group) = match spec.split_once(':') {
                    Some((owner, group)) => (owner.to_string(), group.to_string()),
                    None => (spec.to_string(), String::new()),
                };
                paths.iter().try_for_each(|path| {
                    self.each_entry(path, has('R'), has('h'), |entry| {
                        if !owner.is_empty() {
                            entry.owner = principal_name(&owner);
                        }
                        if !group.is_empty() {
                            entry.group = principal_name(&group);
                        }
                    })
                })
            }
            ("ln", [source, path]) if !has('s') => return Some(self.hard_link(source, path, &has)),
            ("stat", [format, paths @ ..])
                if flags.iter().any(|f| f.as_str() == "-c") && !paths.is_empty() =>
            {
                return Some(self.stat_command(format, paths, has('L')));
            }
            ("ln", [target, path]) if has('s') => {
                let existing = self.files.get(path.as_str()).map(|e| e.kind.clone());
                let path = match existing {
                    Some(FileKind::Directory) => {
                        let name = target.rsplit('/').next().unwrap_or(target);
                        format!("{}/{name}", path.trim_end_matches('/'))
                    }
                    Some(_) if !has('f') => {
                        return Some(failure(format!(
                            "ln: failed to create symbolic link '{path}': File exists"
                        )))
                    }
                    _ => path.to_string(),
                };
                let this = std::mem::take(self);
                *self = this.with_symlink(&path, target);
                Ok(())
            }
            ("touch", [path]) => {
                if !self.files.contains_key(path.as_str()) {
                    let this = std::mem::take(self);
                    *self = this.with_file(path, Vec::new());
                }
                Ok(())
            }
            ("find", [path, mindepth, one, bang, test, value, print, quit])
                if mindepth.as_str() == "-mindepth"
                    && one.as_str() == "1"
                    && bang.as_str() == "!"
                    && print.as_str() == "-print"
                    && quit.as_str() == "-quit" =>
            {
                let prefix = format!("{}/", path.trim_end_matches('/'));
                let found = self.files.iter().find(|(key, entry)| {
                    key.starts_with(&prefix)
                        && match test.as_str() {
                            "-perm" => u32::from_str_radix(value, 8) != Ok(entry.mode),
                            "-user" => principal_name(value) != entry.owner,
                            "-group" => principal_name(value) != entry.group,
                            _ => false,
                        }
                });
                return Some(Output {
                    status: 0,
                    stdout: found
                        .map(|(key, _)| format!("{key}\n"))
                        .unwrap_or_default()
                        .into_bytes(),
                    stderr: Vec::new(),
                });
            }
            _ => return None,
        };
        Some(match result {
            Ok(()) => Output::default(),
            Err(message) => failure(message),
        })
    }

    /// Run `change` on `path` (following a final link unless `no_follow`), and on everything
    /// below it when `recurse`.
    fn each_entry(
        &mut self,
        path: &str,
        recurse: bool,
        no_follow: bool,
        mut change: impl FnMut(&mut MemoryEntry),
    ) -> Result<(), String> {
        let mut target = path.to_string();
        if let (false, Some(FileKind::Symlink { target: to })) =
            (no_follow, self.files.get(path).map(|e| e.kind.clone()))
        {
            target = if to.starts_with('/') {
                to
            } else {
                let parent = std::path::Path::new(path)
                    .parent()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("{parent}/{to}")
            };
        }
        let Some(entry) = self.files.get_mut(&target) else {
            return Err(format!("cannot access '{path}': No such file or directory"));
        };
        change(entry);
        for sibling in self.siblings(&target) {
            if let Some(entry) = self.files.get_mut(&sibling) {
                change(entry);
            }
        }
        if recurse {
            let prefix = format!("{}/", target.trim_end_matches('/'));
            for (key, entry) in self.files.iter_mut() {
                if key.starts_with(&prefix) {
                    change(entry);
                }
            }
        }
        Ok(())
    }

    /// `ln [-f] [-T] [-L|-P] SOURCE PATH`: a hard link. `-L` links what a symbolic link
    /// `SOURCE` points to; `-f` replaces an existing `PATH`.
    fn hard_link(&mut self, source: &str, path: &str, has: &dyn Fn(char) -> bool) -> Output {
        let mut source = source.to_string();
        if has('L') {
            if let Some(FileKind::Symlink { target }) =
                self.files.get(&source).map(|e| e.kind.clone())
            {
                source = Self::resolve_link(&source, &target);
            }
        }
        match self.files.get(&source).map(|e| e.kind.clone()) {
            None => {
                return failure(format!(
                    "ln: failed to access '{source}': No such file or directory"
                ))
            }
            Some(FileKind::Directory) => {
                return failure(format!("ln: {source}: hard link not allowed for directory"))
            }
            Some(_) => {}
        }
        let mut path = path.to_string();
        match self.files.get(&path).map(|e| e.kind.clone()) {
            Some(FileKind::Directory) if !has('T') => {
                let name = source.rsplit('/').next().unwrap_or(&source).to_string();
                path = format!("{}/{name}", path.trim_end_matches('/'));
            }
            Some(FileKind::Directory) => {
                return failure(format!("ln: '{path}': cannot overwrite directory"))
            }
            Some(_) if !has('f') => {
                return failure(format!(
                    "ln: failed to create hard link '{path}': File exists"
                ))
            }
            _ => {}
        }
        if !self.files.contains_key(&crate::fsutil::parent(&path)) {
            return failure(format!(
                "ln: failed to create hard link '{path}': No such file or directory"
            ));
        }
        self.inodes.remove(&path);
        let this = std::mem::take(self);
        *self = this.with_hard_link(&path, &source);
        Output::default()
    }

    /// `stat [-L] -c FORMAT PATH…` for the directives `%d %i %h %F` (device 1).
    fn stat_command(&self, format: &str, paths: &[&String], follow: bool) -> Output {
        let mut stdout = String::new();
        for path in paths {
            let mut path = path.to_string();
            if follow {
                if let Some(FileKind::Symlink { target }) =
                    self.files.get(&path).map(|e| e.kind.clone())
                {
                    path = Self::resolve_link(&path, &target);
                }
            }
            let Some(entry) = self.files.get(&path) else {
                return Output {
                    status: 1,
                    stdout: stdout.into_bytes(),
                    stderr: format!("stat: cannot statx '{path}': No such file or directory\n")
                        .into_bytes(),
                };
            };
            let kind = match entry.kind {
                FileKind::File => "regular file",
                FileKind::Directory => "directory",
                FileKind::Symlink { .. } => "symbolic link",
                FileKind::Other => "fifo",
            };
            let line = format
                .replace("%d", "1")
                .replace("%i", &self.inode(&path).to_string())
                .replace("%h", &self.link_count(&path).to_string())
                .replace("%F", kind);
            stdout.push_str(&line);
            stdout.push('\n');
        }
        Output {
            status: 0,
            stdout: stdout.into_bytes(),
            stderr: Vec::new(),
        }
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

fn failure(message: String) -> Output {
    Output {
        status: 1,
        stdout: Vec::new(),
        stderr: format!("{message}\n").into_bytes(),
    }
}

/// Users and groups the memory host knows by name and id; others have id 1000.
const PRINCIPALS: &[(&str, u32)] = &[
    ("root", 0),
    ("daemon", 1),
    ("bin", 2),
    ("adm", 4),
    ("www-data", 33),
    ("nogroup", 65534),
    ("nobody", 65534),
];

fn principal_id(name: &str) -> u32 {
    name.parse().unwrap_or_else(|_| {
        PRINCIPALS
            .iter()
            .find(|(known, _)| *known == name)
            .map_or(1000, |(_, id)| *id)
    })
}

/// The name stored for `spec` (a name, or an id that a known name has).
fn principal_name(spec: &str) -> String {
    match spec.parse::<u32>() {
        Ok(id) => PRINCIPALS
            .iter()
            .find(|(_, known)| *known == id)
            .map_or_else(|| spec.to_string(), |(name, _)| name.to_string()),
        Err(_) => spec.to_string(),
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
        if let Some(output) = self.file_command(command) {
            return Ok(output);
        }
        Ok(Output {
            status: 127,
            stdout: Vec::new(),
            stderr: format!("memory host: no responder for `{command}`\n").into_bytes(),
        })
    }

    fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        for reader in &mut self.pseudo_files {
            if let Some(answer) = reader(path) {
                return answer;
            }
        }
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
            uid: principal_id(&entry.owner),
            gid: principal_id(&entry.group),
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
        // An atomic write renames a new file over the old one: a new inode.
        self.inodes.remove(path);
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
        self.inodes
            .retain(|key, _| key != path && !key.starts_with(&prefix));
        Ok(())
    }
}
