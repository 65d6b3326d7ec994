//! Running plays: hosts in parallel on `--forks` workers, tasks in order on each host.
//!
//! Each host is served by one worker at a time and keeps one connection for the whole run.
//! A task plans first (the module reads the host and returns changes and steps); in check
//! mode that is all, otherwise the same plan is applied. A failing host stops only itself.
//!
//! This file owns the [`Runner`] (plays in order, hosts on `--forks` workers in `serial`
//! batches, the per-host state kept between plays, the recap totals). A host's way through
//! a play is split by the steps a task takes:
//! - `host_run.rs`: the state of one host's pass through a play;
//! - `play.rs`: the walk through a play (blocks, rescue/always, includes, handlers, tags);
//! - `task.rs`: one task (loops, register, `changed_when`/`failed_when`/`ignore_errors`);
//! - `attempt.rs`: one execution of a task (conditions, `until`, render, how and where);
//! - `scope.rs`: the variables and conditions a task sees, and who it runs as;
//! - `dispatch.rs`: host modules (render, plan, diff, apply, the lock-out confirmation);
//! - `controller.rs`: the modules that act on the run itself (set_fact, debug, assert…);
//! - `connect.rs`: the host's connection and its facts;
//! - `outcome.rs`: what a task produced, how it is reported and counted;
//! - `interrupt.rs`: Ctrl-C (what each host was doing, cutting connections, the clean-up);
//! - `hosts.rs`: which hosts a play selects (`--limit`, `--shard`, `serial`).

use crate::connection::open::{ConnectOptions, Endpoint};
use crate::connection::simulated::Simulation;
use crate::connection::{Connection, Secret};
use crate::inventory::{Inventory, InventoryHost};
use crate::playbook::{self, BecomeSettings, IncludeSource, LoadOptions, Play, Task, TaskNode};
use crate::report::Status;
use crate::report::{HostStats, Reporter};
use crate::template::Templates;
use converge_modules::Facts;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

mod attempt;
mod connect;
mod controller;
mod dispatch;
mod host_run;
mod hosts;
mod interrupt;
mod outcome;
mod play;
mod read_ahead;
mod scope;
mod task;

use host_run::HostRun;
use hosts::batches;
pub use hosts::{select_hosts, Shard};
pub use interrupt::Interrupt;

/// What the command line asked for.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Plan only.
    pub check: bool,
    /// Run only tasks with these tags.
    pub tags: Vec<String>,
    /// Skip tasks with these tags.
    pub skip_tags: Vec<String>,
    /// `--limit`.
    pub limit: Option<String>,
    /// `--connection`, `--user`, `--private-key`, host key checking, timeouts, passwords.
    pub connect: ConnectOptions,
    /// `--ask-become-pass` / `--become-password-file`.
    pub become_password: Option<Secret>,
    /// `-e`.
    pub extra_vars: Map<String, Value>,
    /// `-b` / `--become-user`.
    pub become_settings: BecomeSettings,
    /// Parallel hosts.
    pub forks: usize,
    /// Where roles are searched.
    pub load_options: LoadOptions,
    /// `--shard K/N`: only hosts in part K of N.
    pub shard: Option<Shard>,
    /// Answers to the plays' `vars_prompt:` (see [`prompt_vars`]).
    pub prompted: Map<String, Value>,
    /// Recording a plan (`--plan-out`) or applying a reviewed one (`converge apply`).
    pub reviewed: Option<Arc<crate::reviewed::Session>>,
}

/// Totals for the exit code.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Per-host counts, in inventory order.
    pub stats: Vec<(String, HostStats)>,
    /// Wall time of the whole run.
    pub elapsed: std::time::Duration,
    /// The host that took longest, and how long its plays took.
    pub slowest: Option<(String, std::time::Duration)>,
}

impl RunSummary {
    /// True when any host failed.
    pub fn any_failed(&self) -> bool {
        self.stats.iter().any(|(_, s)| s.failed > 0)
    }
    /// True when any host was unreachable.
    pub fn any_unreachable(&self) -> bool {
        self.stats.iter().any(|(_, s)| s.unreachable > 0)
    }
    /// True when anything changed (or would change, in check mode).
    pub fn any_changed(&self) -> bool {
        self.stats.iter().any(|(_, s)| s.changed > 0)
    }
}

/// Why a host stopped taking part in the run.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Down {
    Failed,
    Unreachable,
}

/// Everything converge keeps about a host between tasks and plays.
#[derive(Default)]
struct HostSlot {
    connection: Option<Box<dyn Connection>>,
    /// How the connection was made, to make a fresh one (firewall lock-out guard).
    endpoint: Option<Endpoint>,
    /// Check mode's record of what earlier tasks would have changed.
    simulation: Simulation,
    facts: Option<Facts>,
    fact_vars: Map<String, Value>,
    set_facts: Map<String, Value>,
    include_vars: Map<String, Value>,
    stats: HostStats,
    down: Option<Down>,
    /// Connections to the hosts this host's tasks were delegated to, kept for the run.
    delegates: BTreeMap<String, Box<dyn Connection>>,
    /// How many times each task (by location) reached a host module here: the key of its
    /// entry in a reviewed plan.
    plan_keys: HashMap<String, usize>,
    /// Registered names whose value only a real run knows (reviewed plans).
    apply_time_registers: std::collections::HashSet<String>,
    /// Why reading ahead could not open the connection: the task that opens it next
    /// reports this instead of trying again (an unreachable host costs one timeout).
    connect_failure: Option<(Status, String)>,
}

/// Runs playbooks against an inventory.
pub struct Runner<'a> {
    inventory: &'a Inventory,
    options: &'a RunOptions,
    reporter: &'a dyn Reporter,
    templates: Templates,
    slots: BTreeMap<String, Mutex<HostSlot>>,
    pool: rayon::ThreadPool,
    /// Set by `any_errors_fatal` or `max_fail_percentage`: no host starts another task.
    aborted: AtomicBool,
    /// Hosts that failed in the current batch, for `max_fail_percentage`.
    batch_failures: AtomicUsize,
    /// The result of each `run_once` task, shared by the hosts of the batch.
    run_once: Mutex<HashMap<String, Arc<Mutex<Option<SharedResult>>>>>,
    /// How long each host's plays took, for the recap.
    host_time: Mutex<HashMap<String, std::time::Duration>>,
    /// Ctrl-C: whether the run was interrupted, and what it was doing.
    interrupt: Arc<Interrupt>,
}

/// What a `run_once` task left, for the hosts that did not run it.
#[derive(Clone)]
struct SharedResult {
    /// The host that ran it.
    host: String,
    status: Status,
    result: Map<String, Value>,
}

/// How a sequence of tasks ended on a host.
#[derive(Debug, Clone, PartialEq)]
enum Flow {
    Continue,
    Failed,
    Unreachable,
    EndHost,
}

impl<'a> Runner<'a> {
    /// A runner with `options.forks` worker threads.
    pub fn new(
        inventory: &'a Inventory,
        options: &'a RunOptions,
        reporter: &'a dyn Reporter,
    ) -> Result<Self, String> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(options.forks.max(1))
            .thread_name(|i| format!("converge-host-{i}"))
            .build()
            .map_err(|error| format!("cannot start worker threads: {error}"))?;
        Ok(Runner {
            inventory,
            options,
            reporter,
            templates: Templates::new(),
            slots: BTreeMap::new(),
            pool,
            aborted: AtomicBool::new(false),
            batch_failures: AtomicUsize::new(0),
            run_once: Mutex::new(HashMap::new()),
            host_time: Mutex::new(HashMap::new()),
            interrupt: Arc::new(Interrupt::new()),
        })
    }

    /// What a Ctrl-C handler tells this run (see [`Interrupt::request`]).
    pub fn interrupt(&self) -> Arc<Interrupt> {
        Arc::clone(&self.interrupt)
    }

    /// After an interrupted run: on each host whose connection was cut, over a fresh
    /// connection, remove the temp files of the writes cut short and wait for the host to
    /// release the run lock; then close every connection (which releases the other hosts'
    /// locks). Returns, for each cut host in name order, how many unfinished writes' temp
    /// files were removed, or why the clean-up failed.
    pub fn clean_up_after_interrupt(&mut self) -> Vec<(String, Result<usize, String>)> {
        const WAIT_SECONDS: u32 = 5;
        let mut done = Vec::new();
        for (host, (paths, become_as)) in self.interrupt.cut_hosts() {
            let Some(slot) = self.slots.get(&host) else {
                continue;
            };
            let endpoint = lock(slot).endpoint.clone();
            let Some(endpoint) = endpoint else {
                continue;
            };
            let outcome = endpoint
                .with_timeout(std::time::Duration::from_secs(10))
                .connect(&host)
                .map_err(|error| error.to_string())
                .and_then(|mut fresh| {
                    let remove = crate::connection::temp_files_cleanup_script(&paths);
                    let wait = crate::connection::run_lock_release_script(WAIT_SECONDS);
                    if !remove.is_empty() {
                        fresh.set_become(become_as);
                        let output = fresh
                            .run(&converge_modules::Command::shell(remove))
                            .map_err(|error| error.to_string())?;
                        if !output.success() {
                            return Err(format!(
                                "removing temp files failed: {}",
                                output.stderr_text().trim()
                            ));
                        }
                        fresh.set_become(None);
                    }
                    let output = fresh
                        .run(&converge_modules::Command::shell(wait))
                        .map_err(|error| error.to_string())?;
                    let text = output.stdout_text();
                    match text.lines().find(|line| line.starts_with("lock held")) {
                        Some(line) => Err(format!(
                            "the run lock in {} is still held after {WAIT_SECONDS} s",
                            line.trim_start_matches("lock held ")
                        )),
                        None => Ok(paths.len()),
                    }
                });
            done.push((host, outcome));
        }
        self.close_connections();
        done
    }

    /// Close every host's connection: each releases its host's run lock.
    fn close_connections(&mut self) {
        self.interrupt.forget_connections();
        for slot in self.slots.values() {
            let mut slot = lock(slot);
            slot.connection = None;
            slot.delegates.clear();
        }
    }

    /// The hosts a play runs on, after `--limit`.
    pub fn play_hosts(&self, play: &Play) -> Vec<&'a InventoryHost> {
        select_hosts(
            self.inventory,
            &play.hosts,
            self.options.limit.as_deref(),
            self.options.shard,
        )
    }

    /// Run every play of every playbook; returns the per-host totals.
    pub fn run(&mut self, playbooks: &[playbook::Playbook]) -> RunSummary {
        let started = std::time::Instant::now();
        let mut order: Vec<String> = Vec::new();
        for book in playbooks {
            for play in &book.plays {
                if self.aborted() {
                    break;
                }
                // Absolute, as Ansible's `playbook_dir` is: globs and lookups build paths on it.
                let playbook_dir = book
                    .path
                    .parent()
                    .filter(|parent| !parent.as_os_str().is_empty())
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."));
                let playbook_dir = std::path::absolute(&playbook_dir).unwrap_or(playbook_dir);
                let hosts = self.play_hosts(play);
                for host in &hosts {
                    if !order.contains(&host.name) {
                        order.push(host.name.clone());
                    }
                    self.slots
                        .entry(host.name.clone())
                        .or_insert_with(|| Mutex::new(HostSlot::default()));
                }
                let live: Vec<&InventoryHost> = hosts
                    .into_iter()
                    .filter(|host| {
                        self.slots
                            .get(&host.name)
                            .and_then(|slot| slot.lock().ok().map(|s| s.down.is_none()))
                            .unwrap_or(false)
                    })
                    .collect();
                if live.is_empty() {
                    self.reporter.warning(&format!(
                        "play `{}`: no hosts matched `{}`{}",
                        play.name,
                        play.hosts,
                        self.options
                            .limit
                            .as_ref()
                            .map(|l| format!(" with --limit `{l}`"))
                            .unwrap_or_default()
                    ));
                    continue;
                }
                self.reporter
                    .play_start(&play.name, live.len(), self.options.check);
                let play_hosts: Vec<Value> =
                    live.iter().map(|h| Value::String(h.name.clone())).collect();
                for batch in batches(&live, &play.serial) {
                    if self.aborted() {
                        break;
                    }
                    self.batch_failures.store(0, Ordering::SeqCst);
                    lock(&self.run_once).clear();
                    let batch_size = batch.len();
                    let runner = &*self;
                    let play_hosts = &play_hosts;
                    let playbook_dir = &playbook_dir;
                    self.pool.scope(|scope| {
                        for host in batch {
                            scope.spawn(move |_| {
                                runner.run_play_on_host(
                                    play,
                                    host,
                                    playbook_dir,
                                    play_hosts,
                                    batch_size,
                                )
                            });
                        }
                    });
                }
            }
        }
        let mut summary = RunSummary {
            elapsed: started.elapsed(),
            slowest: lock(&self.host_time)
                .iter()
                .max_by_key(|(_, time)| **time)
                .map(|(host, time)| (host.clone(), *time)),
            ..RunSummary::default()
        };
        for name in order {
            if let Some(slot) = self.slots.get(&name) {
                if let Ok(slot) = slot.lock() {
                    let mut stats = slot.stats;
                    if let Some(trips) = slot.connection.as_ref().and_then(|c| c.round_trips()) {
                        stats.channels = trips.channels;
                        stats.requests = trips.requests;
                        stats.answered_ahead = trips.answered_ahead;
                        self.reporter.round_trips(&name, &stats, &trips.commands);
                    }
                    summary.stats.push((name.clone(), stats));
                }
            }
        }
        summary
    }

    fn run_play_on_host(
        &self,
        play: &Play,
        host: &InventoryHost,
        playbook_dir: &Path,
        play_hosts: &[Value],
        batch_size: usize,
    ) {
        let Some(slot) = self.slots.get(&host.name) else {
            return;
        };
        let Ok(mut slot) = slot.lock() else {
            return;
        };
        let started = std::time::Instant::now();
        let mut run = HostRun {
            runner: self,
            play,
            host,
            playbook_dir,
            play_hosts,
            slot: &mut slot,
            notified: Vec::new(),
            batch_size,
            fatal_failure: false,
            last_result: None,
            last_failure: None,
            read_ahead: Default::default(),
        };
        run.run_play();
        self.interrupt.host_idle(&host.name);
        *lock(&self.host_time).entry(host.name.clone()).or_default() += started.elapsed();
        self.reporter.host_done(&host.name);
    }

    /// Whether `any_errors_fatal`, `max_fail_percentage` or Ctrl-C ended the run.
    fn aborted(&self) -> bool {
        self.aborted.load(Ordering::SeqCst) || self.interrupt.requested()
    }

    /// Whether Ctrl-C ended the run.
    fn interrupted(&self) -> bool {
        self.interrupt.requested()
    }

    /// A host of a batch of `batch_size` failed: end the run for everyone when the play says
    /// one failure is fatal, or when failures pass `max_fail_percentage`.
    fn host_failed(&self, play: &Play, fatal: bool, batch_size: usize) {
        let failed = self.batch_failures.fetch_add(1, Ordering::SeqCst) + 1;
        let over_limit = play
            .max_fail_percentage
            .is_some_and(|limit| failed as f64 * 100.0 / batch_size.max(1) as f64 > limit);
        if fatal || play.any_errors_fatal || over_limit {
            self.aborted.store(true, Ordering::SeqCst);
        }
    }

    /// The slot where the hosts of a batch share the result of the `run_once` task `key`.
    fn run_once_slot(&self, key: String) -> Arc<Mutex<Option<SharedResult>>> {
        Arc::clone(lock(&self.run_once).entry(key).or_default())
    }
}

impl Drop for Runner<'_> {
    fn drop(&mut self) {
        // The connections close with the slots: a late Ctrl-C must not reach their sockets.
        self.interrupt.forget_connections();
    }
}

/// A mutex's value even when a panicking worker poisoned it: what it guards stays usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Ask for every `vars_prompt:` variable that `-e` does not already give, before any host is
/// touched: on a terminal, or refused with a clear message when there is none.
pub fn prompt_vars(
    playbooks: &[playbook::Playbook],
    extra_vars: &Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    use std::io::IsTerminal;
    let mut answers = Map::new();
    for play in playbooks.iter().flat_map(|book| &book.plays) {
        for prompt in &play.vars_prompt {
            if extra_vars.contains_key(&prompt.name) || answers.contains_key(&prompt.name) {
                continue;
            }
            if !std::io::stdin().is_terminal() {
                return Err(format!(
                    "play `{}` asks for `{}` (vars_prompt) but there is no terminal to ask on; give it with `-e {}=...`",
                    play.name, prompt.name, prompt.name
                ));
            }
            let question = match &prompt.default {
                Some(default) => format!("{} [{default}]: ", prompt.prompt),
                None => format!("{}: ", prompt.prompt),
            };
            let ask = |question: &str| -> Result<String, String> {
                if prompt.private {
                    rpassword::prompt_password(question).map_err(|e| e.to_string())
                } else {
                    eprint!("{question}");
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| e.to_string())?;
                    Ok(line.trim_end_matches(['\r', '\n']).to_string())
                }
            };
            let mut answer = ask(&question)?;
            if prompt.confirm && ask(&format!("confirm {question}"))? != answer {
                return Err(format!("the answers for `{}` do not match", prompt.name));
            }
            if answer.is_empty() {
                answer = prompt.default.clone().unwrap_or_default();
            }
            answers.insert(prompt.name.clone(), Value::String(answer));
        }
    }
    Ok(answers)
}

/// A task's name for reports: its `name`, else the module name.
pub fn task_display_name(task: &Task) -> String {
    let base = task
        .common
        .name
        .clone()
        .unwrap_or_else(|| task.module.clone());
    match &task.common.role {
        Some(role) => format!("{} : {base}", role.role.name),
        None => base,
    }
}

/// Every task a play would run, for `--list-tasks` (names with tags).
pub fn list_tasks(nodes: &[TaskNode], out: &mut Vec<String>) {
    for node in nodes {
        match node {
            TaskNode::Task(task) => {
                let tags = if task.common.tags.is_empty() {
                    String::new()
                } else {
                    format!("\tTAGS: [{}]", task.common.tags.join(", "))
                };
                out.push(format!("{}{tags}", task_display_name(task)));
            }
            TaskNode::Block(block) => {
                list_tasks(&block.block, out);
                list_tasks(&block.rescue, out);
                list_tasks(&block.always, out);
            }
            TaskNode::Include(include) => match &include.source {
                IncludeSource::Static(nodes) => list_tasks(nodes, out),
                IncludeSource::Dynamic { file, .. } => out.push(format!("include_tasks: {file}")),
            },
            TaskNode::FlushHandlers => {}
        }
    }
}
