//! A task's `environment:`: every command the task runs on the host gets these variables.
//!
//! The variables reach the command through the transport's own environment handling (the
//! same path as a module's `LC_ALL=C`), so they are quoted like every other argument and a
//! module's own setting of the same variable wins.

use converge_modules::{Command, FileStat, Host, HostError, Output, WriteOptions, WriteOutcome};

/// `host` with `environment` added to every command.
pub struct WithEnvironment<'a> {
    /// The host the commands run on.
    pub host: &'a mut dyn Host,
    /// The task's variables, merged from every level.
    pub environment: &'a [(String, String)],
}

impl WithEnvironment<'_> {
    /// `command` with the task's variables; `None` when there are none.
    fn with_environment(&self, command: &Command) -> Option<Command> {
        if self.environment.is_empty() {
            return None;
        }
        let mut with_environment = command.clone();
        let own: Vec<(String, String)> = std::mem::take(&mut with_environment.env);
        let mut env: Vec<(String, String)> = self
            .environment
            .iter()
            .filter(|(key, _)| !own.iter().any(|(own_key, _)| own_key == key))
            .cloned()
            .collect();
        env.extend(own);
        with_environment.env = env;
        Some(with_environment)
    }
}

impl Host for WithEnvironment<'_> {
    fn name(&self) -> &str {
        self.host.name()
    }

    fn run(&mut self, command: &Command) -> Result<Output, HostError> {
        match self.with_environment(command) {
            Some(command) => self.host.run(&command),
            None => self.host.run(command),
        }
    }

    fn run_read(&mut self, command: &Command) -> Result<Output, HostError> {
        match self.with_environment(command) {
            Some(command) => self.host.run_read(&command),
            None => self.host.run_read(command),
        }
    }

    fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        self.host.read_file(path)
    }

    fn stat(&mut self, path: &str) -> Result<Option<FileStat>, HostError> {
        self.host.stat(path)
    }

    fn stat_and_read(
        &mut self,
        path: &str,
    ) -> Result<(Option<FileStat>, Option<Vec<u8>>), HostError> {
        self.host.stat_and_read(path)
    }

    fn write_file(
        &mut self,
        path: &str,
        content: &[u8],
        options: &WriteOptions,
    ) -> Result<WriteOutcome, HostError> {
        self.host.write_file(path, content, options)
    }

    fn remove(&mut self, path: &str) -> Result<(), HostError> {
        self.host.remove(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use converge_modules::memory_host::MemoryHost;
    use std::sync::{Arc, Mutex};

    #[test]
    fn commands_get_the_environment_and_their_own_variables_win() {
        type Seen = Arc<Mutex<Vec<Vec<(String, String)>>>>;
        let seen: Seen = Arc::default();
        let record = Arc::clone(&seen);
        let mut memory = MemoryHost::new().respond(move |command| {
            record.lock().unwrap().push(command.env.clone());
            Some(Output::default())
        });
        let environment = vec![
            ("HTTP_PROXY".to_string(), "http://proxy:3128".to_string()),
            ("LC_ALL".to_string(), "de_DE.UTF-8".to_string()),
        ];
        let mut host = WithEnvironment {
            host: &mut memory,
            environment: &environment,
        };
        let mut command = Command::argv(["true"]);
        command.env.push(("LC_ALL".into(), "C".into()));
        host.run(&command).unwrap();
        let pair = |k: &str, v: &str| (k.to_string(), v.to_string());
        assert_eq!(
            seen.lock().unwrap().as_slice(),
            [vec![
                pair("HTTP_PROXY", "http://proxy:3128"),
                pair("LC_ALL", "C")
            ]]
        );
    }
}
