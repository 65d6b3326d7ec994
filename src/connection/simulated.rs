//! Check mode's view of a host: the real host as later tasks would find it after the
//! earlier tasks' plans were applied.
//!
//! Without this, `--check` would plan every task against the untouched host: a `copy` into a
//! directory that an earlier `file` task creates would fail, and two `lineinfile` tasks on
//! one file would each show a diff against the old file. Instead, each plan made in check
//! mode is absorbed into an in-memory overlay (file writes, removals, and the file commands
//! modules emit: mkdir, chmod, chown, ln, touch) and later reads see the overlay first.
//! Nothing is ever written to the host; commands a module runs while planning are reads
//! and go to the real host.

use converge_modules::memory_host::{MemoryEntry, MemoryHost};
use converge_modules::{
    Command, FileKind, FileStat, Host, HostError, Output, Plan, Program, Step, WriteOptions,
    WriteOutcome,
};
use std::collections::BTreeSet;

/// What check mode has "applied" to one host so far.
#[derive(Default)]
pub struct Simulation {
    overlay: MemoryHost,
    removed: BTreeSet<String>,
}

impl Simulation {
    /// Record a plan as if it had been applied. Commands other than file commands (e.g.
    /// `command: make install`) have effects converge cannot predict and are left out.
    pub fn absorb(&mut self, plan: &Plan, real: &mut dyn Host) {
        for step in &plan.steps {
            match step {
                Step::WriteFile {
                    path,
                    content,
                    options,
                } => {
                    self.copy_up(path, real);
                    self.unremove(path);
                    let options = WriteOptions {
                        create_parents: true,
                        validate: None,
                        backup: false,
                        ..options.clone()
                    };
                    // The overlay is memory: a write cannot fail for lack of space or rights.
                    let _ = self.overlay.write_file(path, content, &options);
                }
                Step::Remove { path } => {
                    let _ = self.overlay.remove(path);
                    self.removed.insert(path.clone());
                }
                Step::Run { command, .. } => self.absorb_command(command, real),
            }
        }
    }

    fn absorb_command(&mut self, command: &Command, real: &mut dyn Host) {
        let Program::Argv(argv) = &command.program else {
            return;
        };
        let Some(program) = argv.first() else {
            return;
        };
        let name = program.rsplit('/').next().unwrap_or(program);
        if !matches!(name, "mkdir" | "chmod" | "chown" | "ln" | "touch") {
            return;
        }
        let paths: Vec<&String> = argv[1..].iter().filter(|a| a.starts_with('/')).collect();
        for path in &paths {
            if matches!(name, "chmod" | "chown" | "touch") {
                self.copy_up(path, real);
            }
            self.unremove(path);
        }
        let simple = Command {
            program: Program::Argv(
                std::iter::once(name.to_string())
                    .chain(argv[1..].iter().cloned())
                    .collect(),
            ),
            ..command.clone()
        };
        let _ = self.overlay.run(&simple);
    }

    fn unremove(&mut self, path: &str) {
        self.removed.retain(|removed| removed != path);
    }

    fn is_removed(&self, path: &str) -> bool {
        self.removed
            .iter()
            .any(|removed| path == removed || path.starts_with(&format!("{removed}/")))
    }

    /// Bring a real file's content and attributes into the overlay before changing it there.
    fn copy_up(&mut self, path: &str, real: &mut dyn Host) {
        if self.overlay.files.contains_key(path) || self.is_removed(path) {
            return;
        }
        let Ok(Some(stat)) = real.stat(path) else {
            return;
        };
        let content = if stat.kind == FileKind::File {
            real.read_file(path).ok().flatten().unwrap_or_default()
        } else {
            Vec::new()
        };
        let mut parent = std::path::Path::new(path).parent();
        while let Some(dir) = parent {
            let key = dir.to_string_lossy().into_owned();
            if key.is_empty() || self.overlay.files.contains_key(&key) {
                break;
            }
            if let Ok(Some(dir_stat)) = real.stat(&key) {
                self.overlay
                    .files
                    .insert(key.clone(), entry(&dir_stat, Vec::new()));
            }
            parent = dir.parent();
        }
        self.overlay
            .files
            .insert(path.to_string(), entry(&stat, content));
    }
}

fn entry(stat: &FileStat, content: Vec<u8>) -> MemoryEntry {
    MemoryEntry {
        content,
        kind: stat.kind.clone(),
        mode: stat.mode,
        owner: stat.owner.clone(),
        group: stat.group.clone(),
    }
}

/// A host seen through a [`Simulation`]: reads hit the overlay first; writes are refused
/// (planning never writes).
pub struct SimulatedHost<'a> {
    /// The real host, for everything the overlay does not know.
    pub real: &'a mut dyn Host,
    /// The overlay.
    pub simulation: &'a mut Simulation,
}

impl Host for SimulatedHost<'_> {
    fn name(&self) -> &str {
        self.real.name()
    }

    fn run(&mut self, command: &Command) -> Result<Output, HostError> {
        self.real.run(command)
    }

    fn run_read(&mut self, command: &Command) -> Result<Output, HostError> {
        self.real.run_read(command)
    }

    fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        if self.simulation.is_removed(path) {
            return Ok(None);
        }
        if self.simulation.overlay.files.contains_key(path) {
            return self.simulation.overlay.read_file(path);
        }
        self.real.read_file(path)
    }

    fn stat(&mut self, path: &str) -> Result<Option<FileStat>, HostError> {
        if self.simulation.is_removed(path) {
            return Ok(None);
        }
        if self.simulation.overlay.files.contains_key(path) {
            return self.simulation.overlay.stat(path);
        }
        self.real.stat(path)
    }

    fn write_file(
        &mut self,
        path: &str,
        _content: &[u8],
        _options: &WriteOptions,
    ) -> Result<WriteOutcome, HostError> {
        Err(HostError::Unsupported(format!(
            "check mode never writes (`{path}`)"
        )))
    }

    fn remove(&mut self, path: &str) -> Result<(), HostError> {
        Err(HostError::Unsupported(format!(
            "check mode never removes (`{path}`)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use converge_modules::{plan::write_step, Change, FileAttributes};

    #[test]
    fn later_reads_see_earlier_planned_writes_and_directories() {
        let mut real = MemoryHost::new().with_file("/etc/hosts", "old\n");
        let mut simulation = Simulation::default();
        let mut plan = Plan::default();
        plan.push(
            Change::note("/etc/app", "create"),
            [Step::Run {
                command: Command::argv(["mkdir", "-p", "/etc/app"]),
                allow_failure: false,
            }],
        );
        plan.push(
            Change::note("/etc/hosts", "edit"),
            [write_step(
                "/etc/hosts",
                b"new\n".to_vec(),
                FileAttributes::default(),
            )],
        );
        simulation.absorb(&plan, &mut real);
        let mut view = SimulatedHost {
            real: &mut real,
            simulation: &mut simulation,
        };
        assert_eq!(
            view.stat("/etc/app").unwrap().map(|s| s.kind),
            Some(FileKind::Directory)
        );
        assert_eq!(
            view.read_file("/etc/hosts").unwrap(),
            Some(b"new\n".to_vec())
        );
        assert_eq!(
            real.text("/etc/hosts").as_deref(),
            Some("old\n"),
            "the real host is untouched"
        );
        assert!(real.commands_run.is_empty(), "nothing ran on the real host");
    }

    #[test]
    fn a_planned_removal_hides_the_real_file() {
        let mut real = MemoryHost::new().with_file("/etc/x/y", "data");
        let mut simulation = Simulation::default();
        let mut plan = Plan::default();
        plan.push(
            Change::note("/etc/x", "remove"),
            [Step::Remove {
                path: "/etc/x".into(),
            }],
        );
        simulation.absorb(&plan, &mut real);
        let mut view = SimulatedHost {
            real: &mut real,
            simulation: &mut simulation,
        };
        assert_eq!(view.read_file("/etc/x/y").unwrap(), None);
    }
}
