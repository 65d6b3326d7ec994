//! Running plays: hosts in parallel on `--forks` workers, tasks in order on each host.
//!
//! Each host is served by one worker at a time and keeps one connection for the whole run.
//! A task plans first (the module reads the host and returns changes and steps); in check
//! mode that is all, otherwise the same plan is applied. A failing host stops only itself.

use crate::connection::open::{self as open_connection, ConnectOptions, Endpoint};
use crate::connection::simulated::{SimulatedHost, Simulation};
use crate::connection::{Become, BecomeMethod, Connection, RunLockError, Secret};
use crate::diagnostic::Location;
use crate::inventory::{Inventory, InventoryHost};
use crate::playbook::{
    self, BecomeSettings, Block, Condition, Include, IncludeSource, LoadOptions, Loop, Play,
    RoleInstance, SerialStep, Task, TaskNode,
};
use crate::report::{HostStats, Reporter, Status, TaskReport};
use crate::template::{self, Templates};
use crate::vars;
use converge_modules::HostError;
use converge_modules::{self as modules, ApplyError, Change, Context, Facts, ModuleError, Target};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
}

/// Part `index` (1-based) of `count` parts of the hosts (`--shard K/N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, from 1.
    pub index: u32,
    /// N.
    pub count: u32,
}

impl Shard {
    /// Parse `K/N` with 1 <= K <= N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("`--shard {text}` is not K/N, e.g. 2/5"))?;
        let index: u32 = k
            .trim()
            .parse()
            .map_err(|_| format!("`{k}` in `--shard {text}` is not a number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{n}` in `--shard {text}` is not a number"))?;
        if count == 0 || index == 0 || index > count {
            return Err(format!("`--shard {text}`: K must be between 1 and N"));
        }
        Ok(Shard { index, count })
    }

    /// Whether `host` belongs to this part. The part depends on the host's name only (FNV-1a
    /// hash), so every job computes the same partition, and adding a host never moves others.
    pub fn contains(&self, host: &str) -> bool {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in host.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash % u64::from(self.count) == u64::from(self.index - 1)
    }
}

/// The hosts a play's pattern selects, after `--limit` and `--shard`, in inventory order.
pub fn select_hosts<'i>(
    inventory: &'i Inventory,
    pattern: &str,
    limit: Option<&str>,
    shard: Option<Shard>,
) -> Vec<&'i InventoryHost> {
    let selected = inventory.select(pattern);
    let limited = match limit {
        Some(limit) => inventory.limit(selected, limit),
        None => selected,
    };
    match shard {
        Some(shard) => limited
            .into_iter()
            .filter(|h| shard.contains(&h.name))
            .collect(),
        None => limited,
    }
}

/// Totals for the exit code.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    /// Per-host counts, in inventory order.
    pub stats: Vec<(String, HostStats)>,
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
}

/// Runs playbooks against an inventory.
pub struct Runner<'a> {
    inventory: &'a Inventory,
    options: &'a RunOptions,
    reporter: &'a dyn Reporter,
    templates: Templates,
    slots: BTreeMap<String, Mutex<HostSlot>>,
    pool: rayon::ThreadPool,
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
        })
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
        let mut order: Vec<String> = Vec::new();
        for book in playbooks {
            for play in &book.plays {
                let playbook_dir = book
                    .path
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| PathBuf::from("."));
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
                    let runner = &*self;
                    let play_hosts = &play_hosts;
                    let playbook_dir = &playbook_dir;
                    self.pool.scope(|scope| {
                        for host in batch {
                            scope.spawn(move |_| {
                                runner.run_play_on_host(play, host, playbook_dir, play_hosts)
                            });
                        }
                    });
                }
            }
        }
        let mut summary = RunSummary::default();
        for name in order {
            if let Some(slot) = self.slots.get(&name) {
                if let Ok(slot) = slot.lock() {
                    summary.stats.push((name.clone(), slot.stats));
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
    ) {
        let Some(slot) = self.slots.get(&host.name) else {
            return;
        };
        let Ok(mut slot) = slot.lock() else {
            return;
        };
        let mut run = HostRun {
            runner: self,
            play,
            host,
            playbook_dir,
            play_hosts,
            slot: &mut slot,
            notified: Vec::new(),
        };
        run.run_play();
        self.reporter.host_done(&host.name);
    }
}

/// Split hosts into `serial` batches (all at once when `serial` is empty).
fn batches<'h>(hosts: &[&'h InventoryHost], serial: &[SerialStep]) -> Vec<Vec<&'h InventoryHost>> {
    if serial.is_empty() {
        return vec![hosts.to_vec()];
    }
    let mut out = Vec::new();
    let mut rest = hosts;
    let mut index = 0;
    while !rest.is_empty() {
        let step = &serial[index.min(serial.len() - 1)];
        let size = match step {
            SerialStep::Count(n) => (*n).max(1),
            SerialStep::Percent(p) => ((hosts.len() * *p as usize) / 100).max(1),
        }
        .min(rest.len());
        out.push(rest[..size].to_vec());
        rest = &rest[size..];
        index += 1;
    }
    out
}

/// One host's pass through one play.
struct HostRun<'r, 's> {
    runner: &'r Runner<'r>,
    play: &'r Play,
    host: &'r InventoryHost,
    playbook_dir: &'r Path,
    play_hosts: &'r [Value],
    slot: &'s mut HostSlot,
    notified: Vec<String>,
}

/// What a task needs from its surroundings: scope variables and the role it came from.
#[derive(Clone, Default)]
struct Scope {
    vars: Map<String, Value>,
    become_settings: BecomeSettings,
}

/// The outcome of one task (one loop item, or the whole task without a loop).
struct Outcome {
    status: Status,
    changes: Vec<Change>,
    result: Map<String, Value>,
    message: Option<String>,
    /// `meta: end_host` / `end_play`: stop this host's play here.
    end_host: bool,
}

impl Outcome {
    fn failed(message: impl Into<String>) -> Self {
        let message = message.into();
        let mut result = Map::new();
        result.insert("failed".into(), Value::Bool(true));
        result.insert("msg".into(), Value::String(message.clone()));
        Outcome {
            status: Status::Failed,
            changes: Vec::new(),
            result,
            message: Some(message),
            end_host: false,
        }
    }

    fn skipped(reason: &str) -> Self {
        let mut result = Map::new();
        result.insert("skipped".into(), Value::Bool(true));
        result.insert("changed".into(), Value::Bool(false));
        result.insert("skip_reason".into(), Value::String(reason.into()));
        Outcome {
            status: Status::Skipped,
            changes: Vec::new(),
            result,
            message: None,
            end_host: false,
        }
    }
}

impl HostRun<'_, '_> {
    fn options(&self) -> &RunOptions {
        self.runner.options
    }

    fn run_play(&mut self) {
        if self.play.gather_facts && self.slot.facts.is_none() {
            if let Err(flow) = self.gather_facts(true) {
                self.mark(flow);
                return;
            }
        } else if self.play.gather_facts {
            self.expose_facts();
        }
        let scope = Scope {
            vars: Map::new(),
            become_settings: self.play.become_settings.clone(),
        };
        let flow = self.run_nodes(&self.play.tasks, &scope);
        match flow {
            Flow::Continue | Flow::EndHost => {}
            other => self.mark(other),
        }
    }

    fn mark(&mut self, flow: Flow) {
        match flow {
            Flow::Failed => self.slot.down = Some(Down::Failed),
            Flow::Unreachable => self.slot.down = Some(Down::Unreachable),
            _ => {}
        }
    }

    fn expose_facts(&mut self) {
        if let Some(facts) = &self.slot.facts {
            self.slot.fact_vars = modules::setup::to_ansible_vars(facts);
        }
    }

    /// Gather facts (one round trip). `expose` makes them variables (`gather_facts: true`).
    fn gather_facts(&mut self, expose: bool) -> Result<(), Flow> {
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
                }
                Ok(())
            }
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

    fn report_simple(&self, task: &str, status: Status, message: Option<String>) {
        self.runner.reporter.task(&TaskReport {
            host: &self.host.name,
            task,
            item: None,
            status,
            changes: &[],
            message,
            ignored: false,
            no_log: false,
        });
    }

    fn count(&mut self, status: Status, ignored: bool) {
        let stats = &mut self.slot.stats;
        match status {
            Status::Ok => stats.ok += 1,
            Status::Changed => stats.changed += 1,
            Status::Skipped => stats.skipped += 1,
            Status::Failed if ignored => stats.ignored += 1,
            Status::Failed => stats.failed += 1,
            Status::Unreachable => stats.unreachable = 1,
        }
    }

    /// The host's connection, opened on first use and kept for the run. A real run (not
    /// `--check`) also takes the host's run lock; a lock held by another run fails the host
    /// (not unreachable: it answered).
    fn connection(&mut self) -> Result<&mut Box<dyn Connection>, (Status, String)> {
        if self.slot.connection.is_none() {
            let host_vars = self.runner.inventory.host_vars(&self.host.name);
            let endpoint =
                open_connection::endpoint(&self.host.name, &host_vars, &self.options().connect)
                    .map_err(|message| (Status::Failed, message))?;
            let mut connection = endpoint
                .connect(&self.host.name)
                .map_err(|error| (Status::Unreachable, error.to_string()))?;
            if !self.options().check {
                connection.hold_run_lock().map_err(|error| match error {
                    RunLockError::Host(HostError::Unreachable { reason }) => {
                        (Status::Unreachable, reason)
                    }
                    other => (Status::Failed, other.to_string()),
                })?;
            }
            self.slot.endpoint = Some(endpoint);
            self.slot.connection = Some(connection);
        }
        self.slot
            .connection
            .as_mut()
            .ok_or_else(|| (Status::Failed, "no connection".to_string()))
    }

    /// The lock-out guard: prove the host still takes new connections after a risky change
    /// by running `confirmation` over a fresh one, within its deadline.
    fn confirm_reachable(&mut self, confirmation: &modules::Confirmation) -> Result<(), String> {
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

    fn run_nodes(&mut self, nodes: &[TaskNode], scope: &Scope) -> Flow {
        for node in nodes {
            let flow = match node {
                TaskNode::Task(task) => self.run_task(task, scope),
                TaskNode::Block(block) => self.run_block(block, scope),
                TaskNode::Include(include) => self.run_include(include, scope),
                TaskNode::FlushHandlers => self.flush_handlers(scope),
            };
            if flow != Flow::Continue {
                return flow;
            }
        }
        Flow::Continue
    }

    fn inner_scope(&self, scope: &Scope, common: &playbook::Common) -> Scope {
        let mut inner = scope.clone();
        for (key, value) in &common.vars {
            inner.vars.insert(key.clone(), value.clone());
        }
        inner.become_settings = common.become_settings.inherit(&scope.become_settings);
        inner
    }

    fn run_block(&mut self, block: &Block, scope: &Scope) -> Flow {
        if !self.selected_by_tags_any(&block.block)
            && !self.selected_by_tags_any(&block.rescue)
            && !self.selected_by_tags_any(&block.always)
        {
            return Flow::Continue;
        }
        let scope = self.inner_scope(scope, &block.common);
        match self.conditions_hold(&block.common.when, &scope, block.common.role.as_deref()) {
            Ok(true) => {}
            Ok(false) => return Flow::Continue,
            Err(message) => {
                self.report_failure(block.common.name.as_deref().unwrap_or("block"), message);
                return if block.common.ignore_errors {
                    Flow::Continue
                } else {
                    Flow::Failed
                };
            }
        }
        let mut flow = self.run_nodes(&block.block, &scope);
        if flow == Flow::Failed && !block.rescue.is_empty() {
            // The failure is handled: Ansible counts it as rescued instead of failed.
            self.slot.stats.failed = self.slot.stats.failed.saturating_sub(1);
            self.slot.stats.rescued += 1;
            flow = self.run_nodes(&block.rescue, &scope);
        }
        if flow != Flow::Unreachable {
            let always = self.run_nodes(&block.always, &scope);
            if flow == Flow::Continue {
                flow = always;
            }
        }
        if flow == Flow::Failed && block.common.ignore_errors {
            return Flow::Continue;
        }
        flow
    }

    fn run_include(&mut self, include: &Include, scope: &Scope) -> Flow {
        let scope = self.inner_scope(scope, &include.common);
        let role = include.common.role.clone();
        let name = include
            .common
            .name
            .clone()
            .unwrap_or_else(|| "include_tasks".to_string());
        match self.conditions_hold(&include.common.when, &scope, role.as_deref()) {
            Ok(true) => {}
            Ok(false) => {
                self.count(Status::Skipped, false);
                return Flow::Continue;
            }
            Err(message) => {
                self.report_failure(&name, message);
                return Flow::Failed;
            }
        }
        let items = match &include.loop_items {
            Some(spec) => match self.loop_items(spec, &scope, role.as_deref()) {
                Ok(items) => items
                    .into_iter()
                    .map(|i| Some((spec.loop_var.clone(), i)))
                    .collect(),
                Err(message) => {
                    self.report_failure(&name, message);
                    return Flow::Failed;
                }
            },
            None => vec![None],
        };
        for item in items {
            let mut item_scope = scope.clone();
            if let Some((var, value)) = item {
                item_scope.vars.insert(var, value);
            }
            let nodes = match &include.source {
                IncludeSource::Static(nodes) => nodes.clone(),
                IncludeSource::Dynamic { file, base_dir } => {
                    let rendered = self
                        .variables(
                            &item_scope,
                            role.as_deref(),
                            Some(&Value::String(file.clone())),
                        )
                        .and_then(|vars| {
                            self.runner
                                .templates
                                .render_str(file, &vars)
                                .map_err(|e| e.to_string())
                        });
                    let path = match rendered {
                        Ok(path) => base_dir.join(path),
                        Err(message) => {
                            self.report_failure(&name, message);
                            return Flow::Failed;
                        }
                    };
                    match playbook::load_task_file(
                        &path,
                        role.clone(),
                        &self.options().load_options,
                    ) {
                        Ok(nodes) => nodes,
                        Err(diagnostics) => {
                            let message = diagnostics
                                .0
                                .iter()
                                .map(|d| d.to_string())
                                .collect::<Vec<_>>()
                                .join("\n");
                            self.report_failure(&name, message);
                            return Flow::Failed;
                        }
                    }
                }
            };
            let flow = self.run_nodes(&nodes, &item_scope);
            if flow != Flow::Continue {
                return flow;
            }
        }
        Flow::Continue
    }

    fn flush_handlers(&mut self, scope: &Scope) -> Flow {
        if self.notified.is_empty() {
            return Flow::Continue;
        }
        let notified = std::mem::take(&mut self.notified);
        for handler in &self.play.handlers {
            let name = handler.common.name.clone().unwrap_or_default();
            let wanted = notified
                .iter()
                .any(|n| *n == name || handler.listen.contains(n));
            if !wanted {
                continue;
            }
            let flow = self.run_task(handler, scope);
            if flow != Flow::Continue {
                return flow;
            }
        }
        Flow::Continue
    }

    fn tags_selected(&self, tags: &[String]) -> bool {
        let options = self.options();
        let has = |t: &str| tags.iter().any(|tag| tag == t);
        if options.skip_tags.iter().any(|s| has(s) || s == "all") {
            return false;
        }
        if options.tags.is_empty() || options.tags.iter().any(|t| t == "all") {
            return !has("never") || options.tags.iter().any(|t| has(t));
        }
        has("always")
            || options.tags.iter().any(|t| has(t))
            || (options.tags.iter().any(|t| t == "tagged") && !tags.is_empty())
            || (options.tags.iter().any(|t| t == "untagged") && tags.is_empty())
    }

    fn selected_by_tags_any(&self, nodes: &[TaskNode]) -> bool {
        nodes.iter().any(|node| match node {
            TaskNode::Task(task) => self.tags_selected(&task.common.tags),
            TaskNode::Block(block) => {
                self.selected_by_tags_any(&block.block)
                    || self.selected_by_tags_any(&block.rescue)
                    || self.selected_by_tags_any(&block.always)
            }
            TaskNode::Include(include) => self.tags_selected(&include.common.tags),
            TaskNode::FlushHandlers => true,
        })
    }

    /// The task's variables, with every variable `source` reads rendered.
    fn variables(
        &self,
        scope: &Scope,
        role: Option<&RoleInstance>,
        source: Option<&Value>,
    ) -> Result<Map<String, Value>, String> {
        let mut merged = self.base_variables(scope, role);
        if let Some(source) = source {
            vars::resolve_value(&self.runner.templates, &mut merged, source)
                .map_err(|e| e.to_string())?;
        }
        Ok(merged)
    }

    fn base_variables(&self, scope: &Scope, role: Option<&RoleInstance>) -> Map<String, Value> {
        let inventory = self.runner.inventory;
        let host_vars = inventory.host_vars(&self.host.name);
        let mut layers: Vec<&Map<String, Value>> = Vec::new();
        for instance in &self.play.roles {
            layers.push(&instance.role.defaults);
        }
        if let Some(role) = role {
            layers.push(&role.role.defaults);
        }
        layers.push(&host_vars);
        layers.push(&self.slot.fact_vars);
        layers.push(&self.play.vars);
        for file in &self.play.vars_files {
            layers.push(&file.vars);
        }
        if let Some(role) = role {
            layers.push(&role.role.vars);
        }
        layers.push(&scope.vars);
        layers.push(&self.slot.include_vars);
        layers.push(&self.slot.set_facts);
        if let Some(role) = role {
            layers.push(&role.params);
        }
        layers.push(&self.options().extra_vars);
        let mut merged = vars::merge(layers);
        merged.insert("inventory_hostname".into(), json!(self.host.name));
        merged.insert(
            "inventory_hostname_short".into(),
            json!(self.host.name.split('.').next().unwrap_or(&self.host.name)),
        );
        merged.insert(
            "group_names".into(),
            Value::Array(
                self.host
                    .group_names()
                    .into_iter()
                    .map(Value::String)
                    .collect(),
            ),
        );
        merged.insert("groups".into(), Value::Object(inventory.groups_map()));
        merged.insert(
            "ansible_play_hosts".into(),
            Value::Array(self.play_hosts.to_vec()),
        );
        merged.insert(
            "ansible_play_batch".into(),
            Value::Array(self.play_hosts.to_vec()),
        );
        merged.insert(
            "playbook_dir".into(),
            json!(self.playbook_dir.display().to_string()),
        );
        merged.insert("ansible_check_mode".into(), json!(self.options().check));
        merged.insert("omit".into(), json!(template::OMIT));
        if let Some(role) = role {
            merged.insert("role_name".into(), json!(role.role.name));
            merged.insert(
                "role_path".into(),
                json!(role.role.path.display().to_string()),
            );
        }
        merged
    }

    /// `hostvars` is large; it is added only for the templates that use it.
    fn add_hostvars_if_used(&self, vars: &mut Map<String, Value>, source: &str) {
        if source.contains("hostvars") {
            let inventory = self.runner.inventory;
            let hostvars: Map<String, Value> = inventory
                .hosts()
                .iter()
                .map(|h| (h.name.clone(), Value::Object(inventory.host_vars(&h.name))))
                .collect();
            vars.insert("hostvars".into(), Value::Object(hostvars));
        }
    }

    fn conditions_hold(
        &self,
        conditions: &[Condition],
        scope: &Scope,
        role: Option<&RoleInstance>,
    ) -> Result<bool, String> {
        if conditions.is_empty() {
            return Ok(true);
        }
        let mut merged = self.base_variables(scope, role);
        self.evaluate_all(conditions, &mut merged)
    }

    fn evaluate_all(
        &self,
        conditions: &[Condition],
        merged: &mut Map<String, Value>,
    ) -> Result<bool, String> {
        let templates = &self.runner.templates;
        for condition in conditions {
            let located = |e: template::TemplateError| {
                format!(
                    "{} (in `{}` at {})",
                    e, condition.expression, condition.location
                )
            };
            vars::resolve_for(templates, merged, &condition.expression, true).map_err(located)?;
            self.add_hostvars_if_used(merged, &condition.expression);
            if !templates
                .eval_condition(&condition.expression, merged)
                .map_err(located)?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn loop_items(
        &self,
        spec: &Loop,
        scope: &Scope,
        role: Option<&RoleInstance>,
    ) -> Result<Vec<Value>, String> {
        let merged = self.variables(scope, role, Some(&spec.items))?;
        let mut merged = merged;
        if let Value::String(source) = &spec.items {
            self.add_hostvars_if_used(&mut merged, source);
        }
        let rendered = self
            .runner
            .templates
            .render_value(&spec.items, &merged)
            .map_err(|e| e.to_string())?;
        let items = match rendered {
            Value::Array(items) => items,
            Value::Null => Vec::new(),
            other => {
                return Err(format!(
                    "`loop` needs a list, but it gave {}",
                    describe(&other)
                ))
            }
        };
        if spec.flatten {
            return Ok(items
                .into_iter()
                .flat_map(|item| match item {
                    Value::Array(inner) => inner,
                    other => vec![other],
                })
                .collect());
        }
        Ok(items)
    }

    fn report_failure(&mut self, task: &str, message: String) {
        self.report_simple(task, Status::Failed, Some(message));
        self.count(Status::Failed, false);
    }

    fn run_task(&mut self, task: &Task, scope: &Scope) -> Flow {
        if !self.tags_selected(&task.common.tags) {
            return Flow::Continue;
        }
        let scope = self.inner_scope(scope, &task.common);
        let role = task.common.role.clone();
        let display_name = task_display_name(task);
        self.runner
            .reporter
            .task_start(&self.host.name, &display_name);
        let items: Vec<Option<Value>> = match &task.loop_items {
            Some(spec) => match self.loop_items(spec, &scope, role.as_deref()) {
                Ok(items) => items.into_iter().map(Some).collect(),
                Err(message) => {
                    return self.finish(task, &display_name, None, Outcome::failed(message))
                }
            },
            None => vec![None],
        };
        let Some(spec) = &task.loop_items else {
            let outcome = self.run_once(task, &scope, role.as_deref());
            return self.finish(task, &display_name, None, outcome);
        };
        // A loop: one report per item, one registered result with `results`.
        let mut results = Vec::new();
        let mut any_changed = false;
        let mut any_failed = false;
        let mut all_skipped = true;
        let mut item_flow = Flow::Continue;
        for item in items.into_iter().flatten() {
            let mut item_scope = scope.clone();
            item_scope.vars.insert(spec.loop_var.clone(), item.clone());
            let label = self.item_label(spec, &item_scope, role.as_deref(), &item);
            let outcome = self.run_once(task, &item_scope, role.as_deref());
            let mut result = outcome.result.clone();
            result.insert(spec.loop_var.clone(), item.clone());
            result.insert("ansible_loop_var".into(), json!(spec.loop_var));
            any_changed |= outcome.status == Status::Changed;
            any_failed |= outcome.status == Status::Failed || outcome.status == Status::Unreachable;
            all_skipped &= outcome.status == Status::Skipped;
            results.push(Value::Object(result));
            self.report(task, &display_name, Some(label), &outcome);
            if outcome.status == Status::Unreachable {
                item_flow = Flow::Unreachable;
                break;
            }
        }
        let mut result = Map::new();
        result.insert("changed".into(), json!(any_changed));
        result.insert("failed".into(), json!(any_failed));
        result.insert("skipped".into(), json!(all_skipped && !results.is_empty()));
        result.insert("results".into(), Value::Array(results));
        if let Some(name) = &task.register {
            self.slot
                .set_facts
                .insert(name.clone(), Value::Object(result));
        }
        if item_flow == Flow::Unreachable {
            self.count(Status::Unreachable, false);
            return Flow::Unreachable;
        }
        let status = if any_failed {
            Status::Failed
        } else if any_changed {
            Status::Changed
        } else if all_skipped {
            Status::Skipped
        } else {
            Status::Ok
        };
        self.count(status, any_failed && task.common.ignore_errors);
        if any_changed {
            self.notify(task);
        }
        if any_failed && !task.common.ignore_errors {
            return Flow::Failed;
        }
        Flow::Continue
    }

    fn item_label(
        &self,
        spec: &Loop,
        scope: &Scope,
        role: Option<&RoleInstance>,
        item: &Value,
    ) -> String {
        if let Some(label) = &spec.label {
            if let Ok(vars) = self.variables(scope, role, Some(&Value::String(label.clone()))) {
                if let Ok(text) = self.runner.templates.render_str(label, &vars) {
                    return text;
                }
            }
        }
        match item {
            Value::String(text) => text.clone(),
            other => other.to_string(),
        }
    }

    fn notify(&mut self, task: &Task) {
        for name in &task.notify {
            if !self.notified.contains(name) {
                self.notified.push(name.clone());
            }
        }
    }

    /// Report, count, register, notify, and say whether the host goes on.
    fn finish(
        &mut self,
        task: &Task,
        display_name: &str,
        item: Option<String>,
        outcome: Outcome,
    ) -> Flow {
        self.report(task, display_name, item, &outcome);
        let ignored = outcome.status == Status::Failed && task.common.ignore_errors;
        self.count(outcome.status, ignored);
        if let Some(name) = &task.register {
            self.slot
                .set_facts
                .insert(name.clone(), Value::Object(outcome.result.clone()));
        }
        match outcome.status {
            Status::Changed => {
                self.notify(task);
                Flow::Continue
            }
            Status::Failed if ignored => Flow::Continue,
            Status::Failed => Flow::Failed,
            Status::Unreachable => Flow::Unreachable,
            Status::Ok | Status::Skipped if outcome.end_host => Flow::EndHost,
            Status::Ok | Status::Skipped => Flow::Continue,
        }
    }

    fn report(&self, task: &Task, display_name: &str, item: Option<String>, outcome: &Outcome) {
        let no_log = task.common.no_log;
        self.runner.reporter.task(&TaskReport {
            host: &self.host.name,
            task: display_name,
            item: if no_log { None } else { item },
            status: outcome.status,
            changes: if no_log { &[] } else { &outcome.changes },
            message: outcome.message.clone(),
            ignored: outcome.status == Status::Failed && task.common.ignore_errors,
            no_log,
        });
    }

    /// One execution of a task (one loop item): when, render, plan, apply, changed_when.
    fn run_once(&mut self, task: &Task, scope: &Scope, role: Option<&RoleInstance>) -> Outcome {
        match self.conditions_hold(&task.common.when, scope, role) {
            Ok(true) => {}
            Ok(false) => return Outcome::skipped("conditional result was false"),
            Err(message) => return Outcome::failed(message),
        }
        let mut merged = match self.variables(scope, role, Some(&task.args)) {
            Ok(merged) => merged,
            Err(message) => return Outcome::failed(located(message, &task.common.location)),
        };
        if let Some(text) = args_text(&task.args) {
            self.add_hostvars_if_used(&mut merged, &text);
        }
        let args = match self.runner.templates.render_value(&task.args, &merged) {
            Ok(args) => template::strip_omitted(args),
            Err(error) => {
                return Outcome::failed(located(error.to_string(), &task.common.location))
            }
        };
        let check = match task.common.check_mode {
            Some(forced) => forced,
            None => self.options().check,
        };
        let become_as = self.effective_become(scope);
        let mut outcome = self.dispatch(task, args, &merged, check, role, become_as);
        if outcome.status == Status::Unreachable {
            return outcome;
        }
        self.apply_overrides(task, &mut outcome, &mut merged);
        outcome
    }

    /// `changed_when` / `failed_when`, evaluated with the task's own result registered.
    fn apply_overrides(&self, task: &Task, outcome: &mut Outcome, merged: &mut Map<String, Value>) {
        if task.changed_when.is_none() && task.failed_when.is_none() {
            return;
        }
        if outcome.status == Status::Skipped {
            return;
        }
        if let Some(name) = &task.register {
            merged.insert(name.clone(), Value::Object(outcome.result.clone()));
        }
        if let Some(conditions) = &task.changed_when {
            match self.evaluate_all(conditions, merged) {
                Ok(changed) => {
                    if outcome.status != Status::Failed {
                        outcome.status = if changed { Status::Changed } else { Status::Ok };
                        if !changed {
                            outcome.changes.clear();
                        }
                    }
                    outcome.result.insert("changed".into(), json!(changed));
                }
                Err(message) => *outcome = Outcome::failed(message),
            }
        }
        if let Some(conditions) = &task.failed_when {
            match self.evaluate_all(conditions, merged) {
                Ok(failed) => {
                    outcome.result.insert("failed".into(), json!(failed));
                    if failed {
                        outcome.status = Status::Failed;
                        if outcome.message.is_none() {
                            outcome.message = Some("failed_when condition held".into());
                        }
                    } else if outcome.status == Status::Failed {
                        let changed = outcome.result.get("changed").and_then(Value::as_bool);
                        outcome.status = if changed == Some(true) {
                            Status::Changed
                        } else {
                            Status::Ok
                        };
                        outcome.message = None;
                    }
                }
                Err(message) => *outcome = Outcome::failed(message),
            }
        }
    }

    fn effective_become(&self, scope: &Scope) -> Option<Become> {
        let host_vars = self.runner.inventory.host_vars(&self.host.name);
        let from_inventory = BecomeSettings {
            enabled: host_vars.get("ansible_become").and_then(value_as_bool),
            user: host_vars
                .get("ansible_become_user")
                .and_then(Value::as_str)
                .map(str::to_string),
            method: host_vars
                .get("ansible_become_method")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        let settings = self
            .options()
            .become_settings
            .inherit(&scope.become_settings)
            .inherit(&from_inventory);
        let enabled =
            self.options().become_settings.enabled == Some(true) || settings.enabled == Some(true);
        if !enabled {
            return None;
        }
        Some(Become {
            user: settings.user.unwrap_or_else(|| "root".into()),
            method: match settings.method.as_deref() {
                Some("su") => BecomeMethod::Su,
                _ => BecomeMethod::Sudo,
            },
            password: self.options().become_password.clone(),
        })
    }

    fn dispatch(
        &mut self,
        task: &Task,
        args: Value,
        merged: &Map<String, Value>,
        check: bool,
        role: Option<&RoleInstance>,
        become_as: Option<Become>,
    ) -> Outcome {
        let Some(module) = modules::find(&task.module) else {
            return Outcome::failed(format!("unknown module `{}`", task.module));
        };
        if module.target() == Target::Controller && task.module != "template" {
            return self.controller_module(task, args, merged, role);
        }
        let args = match self.prepare_host_args(task, args, merged, role) {
            Ok(args) => args,
            Err(message) => return Outcome::failed(located(message, &task.common.location)),
        };
        if task.module == "setup" {
            // An explicit `setup` task (re)gathers and exposes the facts.
            self.slot.facts = None;
        }
        if self.slot.facts.is_none() && module.uses_facts() {
            if let Err(flow) = self.gather_facts(task.module == "setup") {
                return if flow == Flow::Unreachable {
                    Outcome {
                        status: Status::Unreachable,
                        ..Outcome::failed("host unreachable")
                    }
                } else {
                    Outcome::failed("could not gather facts")
                };
            }
        }
        let facts = self.slot.facts.clone().unwrap_or_default();
        if let Err((status, message)) = self.connection() {
            return Outcome {
                status,
                ..Outcome::failed(message)
            };
        }
        let slot = &mut *self.slot;
        let Some(connection) = slot.connection.as_mut() else {
            return Outcome::failed("no connection");
        };
        connection.set_become(become_as);
        let real: &mut dyn modules::Host = connection.as_mut();
        let context = Context { facts: &facts };
        let planned = if check {
            // Plan against the host as the earlier tasks' plans would have left it.
            let mut view = SimulatedHost {
                real,
                simulation: &mut slot.simulation,
            };
            plan_task(task, &args, module, &mut view, &context)
        } else {
            plan_task(task, &args, module, real, &context)
        };
        let plan = match planned {
            Ok(plan) => plan,
            Err(error) => return module_failure(error),
        };
        if check {
            if let Some(connection) = slot.connection.as_mut() {
                slot.simulation.absorb(&plan, connection.as_mut());
            }
        }
        let warnings = plan.warnings.clone();
        for warning in &warnings {
            self.runner.reporter.warning(&format!(
                "[{}] {}: {warning}",
                self.host.name,
                task_display_name(task)
            ));
        }
        let changed = plan.is_change();
        let mut result = plan.result.clone();
        if check {
            if plan.unknowable_in_check_mode && changed {
                let mut outcome = Outcome::skipped("check mode cannot tell what this would do");
                outcome.changes = plan.changes.clone();
                return outcome;
            }
            result.insert("changed".into(), json!(changed));
            return Outcome {
                status: if changed { Status::Changed } else { Status::Ok },
                changes: plan.changes,
                result,
                message: None,
                end_host: false,
            };
        }
        if !changed {
            result.insert("changed".into(), json!(false));
            return Outcome {
                status: Status::Ok,
                changes: Vec::new(),
                result,
                message: None,
                end_host: false,
            };
        }
        let connection = match self.connection() {
            Ok(connection) => connection,
            Err((_, message)) => return Outcome::failed(message),
        };
        let applied = plan.apply(connection.as_mut());
        let applied = match (applied, &plan.confirm) {
            (Ok(result), Some(confirmation)) => match self.confirm_reachable(confirmation) {
                Ok(()) => Ok(result),
                Err(message) => {
                    let mut outcome = Outcome::failed(message);
                    outcome.changes = plan.changes;
                    return outcome;
                }
            },
            (other, _) => other,
        };
        match applied {
            Ok(mut result) => {
                result.insert("changed".into(), json!(true));
                Outcome {
                    status: Status::Changed,
                    changes: plan.changes,
                    result,
                    message: None,
                    end_host: false,
                }
            }
            Err(ApplyError::CommandFailed {
                command: _,
                status,
                stderr,
                mut result,
            }) => {
                let message = format!(
                    "command exited with status {status}{}",
                    stderr_tail(&stderr)
                );
                result.insert("failed".into(), json!(true));
                result.insert("changed".into(), json!(true));
                result.insert("msg".into(), json!(message));
                Outcome {
                    status: Status::Failed,
                    changes: plan.changes,
                    result,
                    message: Some(message),
                    end_host: false,
                }
            }
            Err(ApplyError::Host(error)) => {
                let unreachable = is_unreachable(&error);
                let mut outcome = Outcome::failed(error.to_string());
                if unreachable {
                    outcome.status = Status::Unreachable;
                }
                outcome
            }
        }
    }

    /// Resolve controller-side paths (`copy: src=`, `template: src=`) and render templates.
    fn prepare_host_args(
        &self,
        task: &Task,
        mut args: Value,
        merged: &Map<String, Value>,
        role: Option<&RoleInstance>,
    ) -> Result<Value, String> {
        if task.module == "slackbuild" {
            // Controller directories: relative to the role's files/ or the playbook.
            for key in ["repo_src", "sources"] {
                let Some(dir) = args.get(key).and_then(Value::as_str).map(str::to_string) else {
                    continue;
                };
                if Path::new(&dir).is_absolute() {
                    continue;
                }
                let candidates: Vec<PathBuf> = role
                    .map(|r| r.role.path.join("files").join(&dir))
                    .into_iter()
                    .chain([
                        self.playbook_dir.join("files").join(&dir),
                        self.playbook_dir.join(&dir),
                    ])
                    .collect();
                let found = candidates.iter().find(|p| p.is_dir()).ok_or_else(|| {
                    format!(
                        "`{key}` directory `{dir}` not found; searched {}",
                        candidates
                            .iter()
                            .map(|p| format!("`{}`", p.display()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })?;
                if let Value::Object(map) = &mut args {
                    map.insert(key.into(), Value::String(found.display().to_string()));
                }
            }
            return Ok(args);
        }
        let kind = match task.module.as_str() {
            "copy" => playbook::SourceKind::File,
            "template" => playbook::SourceKind::Template,
            _ => return Ok(args),
        };
        let Some(src) = args.get("src").and_then(Value::as_str).map(str::to_string) else {
            return Ok(args);
        };
        let remote_src = args
            .get("remote_src")
            .is_some_and(|v| value_as_bool(v) == Some(true));
        if task.module == "copy" && remote_src {
            return Ok(args);
        }
        let path =
            playbook::resolve_source(kind, &src, role, self.playbook_dir).map_err(|searched| {
                format!(
                    "`{src}` not found; searched {}",
                    searched
                        .iter()
                        .map(|p| format!("`{}`", p.display()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?;
        if task.module == "template" {
            let source = std::fs::read_to_string(&path)
                .map_err(|error| format!("cannot read template `{}`: {error}", path.display()))?;
            let mut vars = merged.clone();
            vars::resolve_for(&self.runner.templates, &mut vars, &source, false)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            self.add_hostvars_if_used(&mut vars, &source);
            let file_options = template::FileOptions {
                trim_blocks: args
                    .get("trim_blocks")
                    .and_then(value_as_bool)
                    .unwrap_or(true),
                lstrip_blocks: args
                    .get("lstrip_blocks")
                    .and_then(value_as_bool)
                    .unwrap_or(false),
            };
            let rendered = self
                .runner
                .templates
                .render_file_with(&path.display().to_string(), &source, &vars, file_options)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            if let Value::Object(map) = &mut args {
                map.insert("__rendered".into(), Value::String(rendered));
            }
            return Ok(args);
        }
        if let Value::Object(map) = &mut args {
            map.insert("src".into(), Value::String(path.display().to_string()));
        }
        Ok(args)
    }

    fn controller_module(
        &mut self,
        task: &Task,
        args: Value,
        merged: &Map<String, Value>,
        role: Option<&RoleInstance>,
    ) -> Outcome {
        let ok = |message: Option<String>, result: Map<String, Value>| Outcome {
            status: Status::Ok,
            changes: Vec::new(),
            result,
            message,
            end_host: false,
        };
        match task.module.as_str() {
            "debug" => {
                let parsed: modules::debug::DebugArgs = match serde_json::from_value(args) {
                    Ok(parsed) => parsed,
                    Err(error) => return Outcome::failed(error.to_string()),
                };
                let mut result = Map::new();
                let text = if let Some(var) = &parsed.var {
                    let mut vars = merged.clone();
                    let value = vars::resolve_for(&self.runner.templates, &mut vars, var, true)
                        .map_err(|e| e.to_string())
                        .and_then(|()| {
                            self.runner
                                .templates
                                .eval(var, &vars)
                                .map_err(|e| e.to_string())
                        });
                    match value {
                        Ok(value) => {
                            result.insert(var.clone(), value.clone());
                            format!("{var} = {}", pretty(&value))
                        }
                        Err(message) => format!("{var} = <{message}>"),
                    }
                } else {
                    let msg = parsed.msg.unwrap_or_else(|| json!("Hello world!"));
                    result.insert("msg".into(), msg.clone());
                    match msg {
                        Value::String(text) => text,
                        other => pretty(&other),
                    }
                };
                ok(Some(text), result)
            }
            "fail" => {
                let parsed: modules::fail::FailArgs = match serde_json::from_value(args) {
                    Ok(parsed) => parsed,
                    Err(error) => return Outcome::failed(error.to_string()),
                };
                Outcome::failed(parsed.msg)
            }
            "assert" => {
                let parsed: modules::assert::AssertArgs = match serde_json::from_value(args) {
                    Ok(parsed) => parsed,
                    Err(error) => return Outcome::failed(error.to_string()),
                };
                let mut vars = merged.clone();
                for expression in &parsed.that.0 {
                    let condition = Condition {
                        expression: expression.clone(),
                        location: task.common.location.clone(),
                    };
                    match self.evaluate_all(std::slice::from_ref(&condition), &mut vars) {
                        Ok(true) => {}
                        Ok(false) => {
                            let message = parsed
                                .fail_msg
                                .clone()
                                .unwrap_or_else(|| format!("assertion failed: `{expression}`"));
                            let mut outcome = Outcome::failed(message);
                            outcome.result.insert("assertion".into(), json!(expression));
                            return outcome;
                        }
                        Err(message) => return Outcome::failed(message),
                    }
                }
                let message = if parsed.quiet.0 {
                    None
                } else {
                    Some(
                        parsed
                            .success_msg
                            .unwrap_or_else(|| "All assertions passed".into()),
                    )
                };
                ok(message, Map::new())
            }
            "set_fact" => {
                let Value::Object(facts) = args else {
                    return Outcome::failed("`set_fact` needs a mapping of variables");
                };
                for (key, value) in &facts {
                    self.slot.set_facts.insert(key.clone(), value.clone());
                }
                let mut result = Map::new();
                result.insert("ansible_facts".into(), Value::Object(facts));
                ok(None, result)
            }
            "include_vars" => {
                let parsed: modules::include_vars::IncludeVarsArgs =
                    match serde_json::from_value(args) {
                        Ok(parsed) => parsed,
                        Err(error) => return Outcome::failed(error.to_string()),
                    };
                let mut candidates = Vec::new();
                if let Some(role) = role {
                    candidates.push(role.role.path.join("vars").join(&parsed.file));
                }
                candidates.push(self.playbook_dir.join("vars").join(&parsed.file));
                candidates.push(self.playbook_dir.join(&parsed.file));
                let Some(path) = candidates.iter().find(|p| p.is_file()) else {
                    return Outcome::failed(format!(
                        "vars file `{}` not found; searched {}",
                        parsed.file,
                        candidates
                            .iter()
                            .map(|p| format!("`{}`", p.display()))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                };
                let loaded = match crate::yaml::load_file(path) {
                    Ok(file) => file.root.to_value(),
                    Err(diagnostic) => return Outcome::failed(diagnostic.to_string()),
                };
                let Value::Object(loaded) = loaded else {
                    return Outcome::failed(format!(
                        "vars file `{}` must hold a mapping",
                        path.display()
                    ));
                };
                match parsed.name {
                    Some(name) => {
                        self.slot
                            .include_vars
                            .insert(name, Value::Object(loaded.clone()));
                    }
                    None => {
                        for (key, value) in &loaded {
                            self.slot.include_vars.insert(key.clone(), value.clone());
                        }
                    }
                }
                let mut result = Map::new();
                result.insert("ansible_facts".into(), Value::Object(loaded));
                ok(None, result)
            }
            "meta" => {
                let parsed: modules::meta::MetaArgs = match serde_json::from_value(args) {
                    Ok(parsed) => parsed,
                    Err(error) => return Outcome::failed(error.to_string()),
                };
                match parsed.free_form {
                    modules::meta::MetaAction::Noop | modules::meta::MetaAction::FlushHandlers => {
                        ok(None, Map::new())
                    }
                    modules::meta::MetaAction::EndHost | modules::meta::MetaAction::EndPlay => {
                        Outcome {
                            end_host: true,
                            ..ok(Some("ending the play for this host".into()), Map::new())
                        }
                    }
                }
            }
            other => Outcome::failed(format!(
                "module `{other}` runs on the controller but converge does not run it yet"
            )),
        }
    }
}

fn plan_task(
    task: &Task,
    args: &Value,
    module: &dyn modules::Module,
    host: &mut dyn modules::Host,
    context: &Context,
) -> Result<converge_modules::Plan, ModuleError> {
    if task.module == "template" {
        template_plan(args, host, context)
    } else {
        module.plan(args, host, context)
    }
}

fn template_plan(
    args: &Value,
    host: &mut dyn modules::Host,
    context: &Context,
) -> Result<converge_modules::Plan, ModuleError> {
    let mut args = args.clone();
    let rendered = args
        .as_object_mut()
        .and_then(|map| map.remove("__rendered"))
        .and_then(|v| v.as_str().map(str::to_string))
        .ok_or_else(|| ModuleError::failed("template was not rendered"))?;
    let parsed = modules::module::parse_args::<modules::template::Template>(&args)?;
    let copy = modules::template::copy_args(parsed, rendered);
    modules::copy::plan_copy(copy, host, context)
}

fn module_failure(error: ModuleError) -> Outcome {
    let unreachable = matches!(&error, ModuleError::Host(host) if is_unreachable(host));
    let message = match &error {
        ModuleError::Failed {
            message,
            hint: Some(hint),
        } => format!("{message}\nhint: {hint}"),
        ModuleError::Args(args) => match &args.hint {
            Some(hint) => format!("{}\nhint: {hint}", args.message),
            None => args.message.clone(),
        },
        other => other.to_string(),
    };
    let mut outcome = Outcome::failed(message);
    if unreachable {
        outcome.status = Status::Unreachable;
    }
    outcome
}

fn is_unreachable(error: &modules::HostError) -> bool {
    matches!(error, modules::HostError::Unreachable { .. })
}

fn located(message: String, location: &Location) -> String {
    format!("{message} (task at {location})")
}

fn stderr_tail(stderr: &str) -> String {
    let trimmed = stderr.trim();
    if trimmed.is_empty() {
        String::new()
    } else {
        let tail: Vec<&str> = trimmed.lines().rev().take(10).collect();
        format!(
            ": {}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )
    }
}

fn args_text(args: &Value) -> Option<String> {
    let text = args.to_string();
    text.contains("hostvars").then_some(text)
}

fn value_as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Some(true),
            "no" | "false" | "off" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the string `{s}`"),
        Value::Object(_) => "a mapping".into(),
        other => format!("`{other}`"),
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
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

#[cfg(test)]
mod tests {
    use super::Shard;

    #[test]
    fn shards_cover_every_host_exactly_once() {
        let hosts: Vec<String> = (1..=500).map(|i| format!("web{i}.example.org")).collect();
        let parts: Vec<Shard> = (1..=7).map(|k| Shard { index: k, count: 7 }).collect();
        for host in &hosts {
            let owners = parts.iter().filter(|p| p.contains(host)).count();
            assert_eq!(owners, 1, "{host}");
        }
        let sizes: Vec<usize> = parts
            .iter()
            .map(|p| hosts.iter().filter(|h| p.contains(h)).count())
            .collect();
        assert!(
            sizes.iter().all(|s| *s > 40),
            "parts are balanced: {sizes:?}"
        );
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(Shard::parse("2/5"), Ok(Shard { index: 2, count: 5 }));
        assert!(Shard::parse("0/5").is_err());
        assert!(Shard::parse("6/5").is_err());
        assert!(Shard::parse("two").is_err());
    }
}
