//! [`HostRun`]: one host's pass through one play, the state every step of a task reads and
//! writes (the runner, the play, the host's slot, handlers notified so far, the last result).

use super::{HostSlot, RunOptions, Runner};
use crate::inventory::InventoryHost;
use crate::playbook::Play;
use crate::report::Status;
use serde_json::{Map, Value};
use std::path::Path;

/// One host's pass through one play.
pub(super) struct HostRun<'r, 's> {
    pub(super) runner: &'r Runner<'r>,
    pub(super) play: &'r Play,
    pub(super) host: &'r InventoryHost,
    pub(super) playbook_dir: &'r Path,
    pub(super) play_hosts: &'r [Value],
    pub(super) slot: &'s mut HostSlot,
    pub(super) notified: Vec<String>,
    /// How many hosts run this batch, for `max_fail_percentage`.
    pub(super) batch_size: usize,
    /// A task with `any_errors_fatal` failed here.
    pub(super) fatal_failure: bool,
    /// The status and registered result of the last task, for `run_once`.
    pub(super) last_result: Option<(Status, Map<String, Value>)>,
    /// The last task that failed here, for a `rescue:` (`ansible_failed_task`,
    /// `ansible_failed_result`).
    pub(super) last_failure: Option<(Value, Map<String, Value>)>,
    /// The tasks whose reads were made ahead (`read_ahead.rs`).
    pub(super) read_ahead: super::read_ahead::Window,
}

impl HostRun<'_, '_> {
    pub(super) fn options(&self) -> &RunOptions {
        self.runner.options
    }
}
