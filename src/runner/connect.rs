//! The host's connection, opened on first use and kept for the run (with the run lock), the
//! lock-out guard's fresh connection, and fact gathering.

use super::host_run::HostRun;
use super::outcome::is_unreachable;
use super::Flow;
use crate::connection::open::{self as open_connection, Endpoint};
use crate::connection::{Connection, RunLockError};
use crate::report::Status;
use converge_modules as modules;
use converge_modules::HostError;
use serde_json::{Map, Value};

impl HostRun<'_, '_> {
    pub(super) fn expose_facts(&mut self) {
        if let Some(facts) = &self.slot.facts {
            self.slot.fact_vars = modules::setup::to_ansible_vars(facts);
        }
    }

    /// Gather facts (one round trip). `expose` makes them variables (`gather_facts: true`).
    pub(super) fn gather_facts(&mut self, expose: bool) -> Result<(), Flow> {
        let result = match self.connection() {
            Ok(connection) => modules::setup::gather(connection.as_mut())
                .map_err(|error| (is_unreachable(&error), error.to_string())),
            Err((status, message)) => Err((status == Status::Unreachable, message)),
        };
        match result {
            Ok(facts) => {
                self.slot.facts = Some(facts);
                if expose {
                    self.expose_facts();
                    self.report_simple("Gathering Facts", Status::Ok, None);
                    self.count(Status::Ok, false);
                }
                Ok(())
            }
            // Cut short by Ctrl-C: the run says so, the host did not fail.
            Err(_) if self.runner.interrupted() => Err(Flow::EndHost),
            Err((unreachable, message)) => {
                let status = if unreachable {
                    Status::Unreachable
                } else {
                    Status::Failed
                };
                self.report_simple("Gathering Facts", status, Some(message));
                self.count(status, false);
                Err(if unreachable {
                    Flow::Unreachable
                } else {
                    Flow::Failed
                })
            }
        }
    }

    /// The host's connection, opened on first use and kept for the run. A real run (not
    /// `--check`) also takes the host's run lock; a lock held by another run fails the host
    /// (not unreachable: it answered).
    pub(super) fn connection(&mut self) -> Result<&mut Box<dyn Connection>, (Status, String)> {
        if let Some(failure) = self.slot.connect_failure.take() {
            return Err(failure);
        }
        if self.slot.connection.is_none() {
            let mut host_vars = self.connection_vars(&self.host.name);
            // The play's `remote_user` is the login user where the inventory names none, as
            // in Ansible, where `ansible_user` wins over the keyword.
            if let Some(user) = &self.play.remote_user {
                if !host_vars.contains_key("ansible_user")
                    && !host_vars.contains_key("ansible_ssh_user")
                {
                    host_vars.insert("ansible_user".into(), Value::String(user.clone()));
                }
            }
            // Likewise the play's `connection:` (`hosts: localhost` + `connection: local`).
            if let Some(kind) = &self.play.connection {
                host_vars
                    .entry("ansible_connection")
                    .or_insert_with(|| Value::String(kind.clone()));
            }
            let endpoint =
                open_connection::endpoint(&self.host.name, &host_vars, &self.options().connect)
                    .map_err(|message| (Status::Failed, message))?;
            let mut connection = endpoint
                .connect(&self.host.name)
                .map_err(|error| (Status::Unreachable, error.to_string()))?;
            self.report_connection_notes(&self.host.name, connection.as_ref());
            if !self.options().check {
                connection.hold_run_lock().map_err(|error| match error {
                    RunLockError::Host(HostError::Unreachable { reason }) => {
                        (Status::Unreachable, reason)
                    }
                    other => (Status::Failed, other.to_string()),
                })?;
            }
            self.runner
                .interrupt
                .connected(&self.host.name, connection.as_ref());
            self.slot.endpoint = Some(endpoint);
            self.slot.connection = Some(connection);
        }
        self.slot
            .connection
            .as_mut()
            .ok_or_else(|| (Status::Failed, "no connection".to_string()))
    }

    /// The connection, opened by reading ahead for the task about to run: a failure is kept
    /// for that task to report.
    pub(super) fn connection_for_read_ahead(&mut self) -> Result<&mut Box<dyn Connection>, ()> {
        if self.slot.connection.is_none() {
            if let Err(failure) = self.connection() {
                self.slot.connect_failure = Some(failure);
                return Err(());
            }
        }
        self.slot.connection.as_mut().ok_or(())
    }

    /// The connection to `delegate` for a task delegated there (`delegate_to`,
    /// `local_action`), opened on first use and kept for the run. `localhost` that the
    /// inventory does not name is this machine, as in Ansible.
    pub(super) fn delegate_connection(
        &mut self,
        delegate: &str,
    ) -> Result<&mut Box<dyn Connection>, (Status, String)> {
        if !self.slot.delegates.contains_key(delegate) {
            let inventory = self.runner.inventory;
            let endpoint = if inventory.host(delegate).is_some() {
                let host_vars = self.connection_vars(delegate);
                open_connection::endpoint(delegate, &host_vars, &self.options().connect)
                    .map_err(|message| (Status::Failed, message))?
            } else if matches!(delegate, "localhost" | "127.0.0.1" | "::1") {
                Endpoint::Local
            } else {
                return Err((
                    Status::Failed,
                    format!("`delegate_to: {delegate}` names a host that is not in the inventory"),
                ));
            };
            let connection = endpoint.connect(delegate).map_err(|error| {
                (
                    Status::Failed,
                    format!("cannot reach `{delegate}` (delegate_to): {error}"),
                )
            })?;
            self.report_connection_notes(delegate, connection.as_ref());
            self.runner.interrupt.connected(
                &format!("{} (delegate_to {delegate})", self.host.name),
                connection.as_ref(),
            );
            self.slot.delegates.insert(delegate.to_string(), connection);
        }
        self.slot
            .delegates
            .get_mut(delegate)
            .ok_or_else(|| (Status::Failed, "no connection".to_string()))
    }

    /// A host's connection variables: its inventory variables with `-e` winning, as in
    /// Ansible (`-e ansible_port=2222`).
    pub(super) fn connection_vars(&self, host: &str) -> Map<String, Value> {
        let host_vars = self.runner.inventory.host_vars(host);
        open_connection::connection_vars(&host_vars, &self.options().extra_vars)
    }

    /// What the transport says about the options it was given: warnings always, notes
    /// (options that mean nothing to converge) with `-v`.
    fn report_connection_notes(&self, host: &str, connection: &dyn Connection) {
        let reporter = self.runner.reporter;
        for warning in connection.warnings() {
            reporter.warning(&format!("[{host}] {warning}"));
        }
        for note in connection.notes() {
            reporter.note(&format!("[{host}] {note}"));
        }
    }

    /// The lock-out guard: prove the host still takes new connections after a risky change
    /// by running `confirmation` over a fresh one, within its deadline.
    pub(super) fn confirm_reachable(
        &mut self,
        confirmation: &modules::Confirmation,
    ) -> Result<(), String> {
        let deadline = std::time::Duration::from_secs(confirmation.within_seconds.max(1));
        let Some(endpoint) = self.slot.endpoint.clone() else {
            return Err("no endpoint to reconnect to".into());
        };
        let started = std::time::Instant::now();
        let mut last_error = String::new();
        while started.elapsed() < deadline {
            let remaining = deadline.saturating_sub(started.elapsed());
            match endpoint.with_timeout(remaining).connect(&self.host.name) {
                Ok(mut fresh) => {
                    let output = fresh
                        .run(&confirmation.command)
                        .map_err(|error| error.to_string())?;
                    if output.success() {
                        return Ok(());
                    }
                    return Err(format!(
                        "the confirmation command failed: {}",
                        output.stderr_text().trim()
                    ));
                }
                Err(error) => {
                    last_error = error.to_string();
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
            }
        }
        Err(format!(
            "could not open a new connection within {} s after the change ({last_error}); the host restores its previous state by itself",
            deadline.as_secs()
        ))
    }
}
