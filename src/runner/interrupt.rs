//! Ctrl-C: what a run was doing when it was interrupted, and how it stops.
//!
//! The first SIGINT asks the run to stop: no host starts another task, and every host
//! connection is cut (its socket shut down) so that a command blocked on a host (`sleep 30`)
//! returns at once; the task in flight is neither counted nor reported as failed. The run
//! then says which hosts were in the middle of which task, prints the recap so far, removes
//! the temp files of writes that were cut short on the hosts it can still reach, and makes
//! sure their run locks are released. A second SIGINT ends the process at once.

use crate::connection::Interrupter;
use crate::connection::{Become, Connection};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Files a host is writing, and the user that writes them.
type Writes = (Vec<String>, Option<Become>);

/// The state a signal handler and the host workers share.
#[derive(Default)]
pub struct Interrupt {
    requested: AtomicBool,
    /// The task each host is in the middle of.
    busy: Mutex<BTreeMap<String, String>>,
    /// What was in progress when the signal came, in host order.
    at_signal: Mutex<Vec<(String, String)>>,
    /// The files each host is writing right now (a plan being applied), and as whom.
    writing: Mutex<BTreeMap<String, Writes>>,
    /// How to cut each host's connection.
    interrupters: Mutex<BTreeMap<String, Interrupter>>,
    /// Hosts whose connection was cut: they get a fresh one for the clean-up.
    cut: Mutex<Vec<String>>,
}

impl Interrupt {
    /// A new, not interrupted state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The signal came. Returns false when it had come before (the caller then ends the
    /// process). The first time, takes note of what is in progress and cuts every host
    /// connection.
    pub fn request(&self) -> bool {
        if self.requested.swap(true, Ordering::SeqCst) {
            return false;
        }
        let busy: Vec<(String, String)> = lock(&self.busy)
            .iter()
            .map(|(host, task)| (host.clone(), task.clone()))
            .collect();
        *lock(&self.at_signal) = busy;
        let interrupters = std::mem::take(&mut *lock(&self.interrupters));
        let mut cut = lock(&self.cut);
        for (host, interrupter) in interrupters {
            interrupter.interrupt();
            cut.push(host);
        }
        true
    }

    /// Whether the run was interrupted.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// The hosts that were in the middle of a task when the signal came, with the task.
    pub fn in_progress(&self) -> Vec<(String, String)> {
        lock(&self.at_signal).clone()
    }

    pub(super) fn task_started(&self, host: &str, task: &str) {
        lock(&self.busy).insert(host.to_string(), task.to_string());
    }

    pub(super) fn host_idle(&self, host: &str) {
        lock(&self.busy).remove(host);
    }

    pub(super) fn writing(&self, host: &str, paths: Vec<String>, become_as: Option<Become>) {
        if !paths.is_empty() {
            lock(&self.writing).insert(host.to_string(), (paths, become_as));
        }
    }

    pub(super) fn written(&self, host: &str) {
        lock(&self.writing).remove(host);
    }

    /// Register the connection of `host` so that a Ctrl-C can cut it (a connection opened
    /// after the signal is cut at once).
    pub(super) fn connected(&self, host: &str, connection: &dyn Connection) {
        let Some(interrupter) = connection.interrupter() else {
            return;
        };
        if self.requested() {
            interrupter.interrupt();
            lock(&self.cut).push(host.to_string());
            return;
        }
        lock(&self.interrupters).insert(host.to_string(), interrupter);
    }

    /// Forget every connection (they are about to be closed): the signal must not reach a
    /// descriptor that has been reused.
    pub(super) fn forget_connections(&self) {
        lock(&self.interrupters).clear();
    }

    /// The hosts whose connection was cut, and the files each was writing.
    pub(super) fn cut_hosts(&self) -> Vec<(String, Writes)> {
        let writing = lock(&self.writing);
        let mut hosts = lock(&self.cut).clone();
        hosts.sort();
        hosts.dedup();
        hosts
            .into_iter()
            .map(|host| {
                let writes = writing.get(&host).cloned().unwrap_or_default();
                (host, writes)
            })
            .collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_notes_the_busy_hosts_and_the_second_is_refused() {
        let interrupt = Interrupt::new();
        interrupt.task_started("web2", "Restart");
        interrupt.task_started("web1", "Install nginx");
        interrupt.task_started("db1", "Dump");
        interrupt.host_idle("db1");
        assert!(!interrupt.requested());
        assert!(interrupt.request());
        assert!(interrupt.requested());
        // Later tasks do not change what was in progress at the signal.
        interrupt.task_started("web1", "Later");
        assert_eq!(
            interrupt.in_progress(),
            vec![
                ("web1".to_string(), "Install nginx".to_string()),
                ("web2".to_string(), "Restart".to_string()),
            ]
        );
        assert!(!interrupt.request());
    }

    #[test]
    fn writes_are_remembered_until_done() {
        let interrupt = Interrupt::new();
        interrupt.writing("web1", vec!["/etc/motd".into()], None);
        interrupt.written("web1");
        interrupt.writing("web2", vec!["/etc/hosts".into()], None);
        lock(&interrupt.cut).extend(["web2".to_string(), "web1".to_string()]);
        assert_eq!(
            interrupt.cut_hosts(),
            vec![
                ("web1".to_string(), (Vec::new(), None)),
                ("web2".to_string(), (vec!["/etc/hosts".to_string()], None)),
            ]
        );
    }
}
