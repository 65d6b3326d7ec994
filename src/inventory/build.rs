//! The mutable inventory the format parsers fill in, and the reconciliation Ansible does when
//! parsing ends: parentless groups join `all`, hosts in no group join `ungrouped`, loops in
//! `children` are refused, and every host learns its groups in variable-precedence order.

use super::error::InventoryError;
use super::{Group, Inventory, InventoryHost};
use crate::diagnostic::{Diagnostic, Location};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

/// Index of `all` in [`Builder::groups`].
pub(crate) const ALL: usize = 0;
/// Index of `ungrouped`.
pub(crate) const UNGROUPED: usize = 1;

/// A host while parsing.
#[derive(Debug)]
pub(crate) struct HostEntry {
    pub name: String,
    pub vars: Map<String, Value>,
    /// Groups it is listed in directly, in the order it was added to them.
    pub direct: Vec<usize>,
}

/// A group while parsing.
#[derive(Debug)]
pub(crate) struct GroupEntry {
    pub name: String,
    pub vars: Map<String, Value>,
    /// Child groups in the order declared, with where each was declared (for loop errors).
    pub children: Vec<(usize, Option<Location>)>,
    /// Hosts listed directly, in the order added.
    pub hosts: Vec<usize>,
    /// The same hosts as a set: membership checks stay cheap in groups of thousands.
    host_set: HashSet<usize>,
    /// `ansible_group_priority` (Ansible's default is 1).
    pub priority: i64,
}

/// Hosts and groups gathered from every source, in the order first seen.
#[derive(Debug)]
pub(crate) struct Builder {
    pub hosts: Vec<HostEntry>,
    host_index: HashMap<String, usize>,
    pub groups: Vec<GroupEntry>,
    group_index: HashMap<String, usize>,
}

impl Builder {
    /// Only `all` and its child `ungrouped`, as Ansible starts.
    pub fn new() -> Self {
        let mut builder = Builder {
            hosts: Vec::new(),
            host_index: HashMap::new(),
            groups: Vec::new(),
            group_index: HashMap::new(),
        };
        builder.group("all");
        builder.group("ungrouped");
        builder.add_child(ALL, UNGROUPED, None);
        builder
    }

    /// The group called `name`, created if new.
    pub fn group(&mut self, name: &str) -> usize {
        if let Some(index) = self.group_index.get(name) {
            return *index;
        }
        let index = self.groups.len();
        self.groups.push(GroupEntry {
            name: name.to_string(),
            vars: Map::new(),
            children: Vec::new(),
            hosts: Vec::new(),
            host_set: HashSet::new(),
            priority: 1,
        });
        self.group_index.insert(name.to_string(), index);
        index
    }

    /// The group called `name`, if any source defined it.
    pub fn find_group(&self, name: &str) -> Option<usize> {
        self.group_index.get(name).copied()
    }

    /// Every group name so far, for suggestions.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().map(|group| group.name.as_str())
    }

    /// List host `name` in `group`; a host named again is the same host.
    pub fn add_host(&mut self, name: &str, group: usize) -> usize {
        let index = match self.host_index.get(name) {
            Some(index) => *index,
            None => {
                let index = self.hosts.len();
                self.hosts.push(HostEntry {
                    name: name.to_string(),
                    vars: Map::new(),
                    direct: Vec::new(),
                });
                self.host_index.insert(name.to_string(), index);
                index
            }
        };
        if !self.hosts[index].direct.contains(&group) {
            self.hosts[index].direct.push(group);
        }
        if self.groups[group].host_set.insert(index) {
            self.groups[group].hosts.push(index);
        }
        index
    }

    /// Set a host variable (a later definition of the same host wins per key).
    pub fn set_host_var(&mut self, host: usize, key: String, value: Value) {
        self.hosts[host].vars.insert(key, value);
    }

    /// Set a group variable; `ansible_group_priority` sets the group's priority instead.
    /// The value has been checked by `check_variable` already.
    pub fn set_group_var(&mut self, group: usize, key: String, value: Value) {
        if key == "ansible_group_priority" {
            let priority = match &value {
                Value::Number(number) => number.as_i64(),
                Value::String(text) => text.trim().parse().ok(),
                _ => None,
            };
            if let Some(priority) = priority {
                self.groups[group].priority = priority;
            }
            // Ansible's Group.set_variable keeps it as the priority only, never as a variable.
            return;
        }
        self.groups[group].vars.insert(key, value);
    }

    /// Make `child` a child of `parent`.
    pub fn add_child(&mut self, parent: usize, child: usize, at: Option<Location>) {
        if !self.groups[parent]
            .children
            .iter()
            .any(|(c, _)| *c == child)
        {
            self.groups[parent].children.push((child, at));
        }
    }

    /// Reconcile and freeze.
    pub fn finish(mut self) -> Result<Inventory, Diagnostic> {
        // Groups nobody claims hang under `all`, in the order they were created (Ansible's
        // reconcile_inventory), after any `all: children:` declared explicitly.
        let mut has_parent = vec![false; self.groups.len()];
        for group in &self.groups {
            for (child, _) in &group.children {
                has_parent[*child] = true;
            }
        }
        for (index, claimed) in has_parent.into_iter().enumerate() {
            if index != ALL && !claimed {
                self.add_child(ALL, index, None);
            }
        }
        self.check_cycles()?;

        let parents = self.parents();
        let mut depth = vec![None; self.groups.len()];
        for index in 0..self.groups.len() {
            group_depth(index, &parents, &mut depth);
        }
        let depth: Vec<usize> = depth.into_iter().map(|d| d.unwrap_or(0)).collect();

        // `ungrouped` holds exactly the hosts in no group but `all`, whatever the parser did.
        let mut leave_ungrouped = HashSet::new();
        for host in 0..self.hosts.len() {
            let closure = ancestors(&self.hosts[host].direct, &parents);
            let elsewhere = closure.iter().any(|g| *g != ALL && *g != UNGROUPED);
            if elsewhere {
                if closure.contains(&UNGROUPED) {
                    self.hosts[host].direct.retain(|g| *g != UNGROUPED);
                    leave_ungrouped.insert(host);
                }
            } else if !closure.contains(&UNGROUPED) {
                self.hosts[host].direct.push(UNGROUPED);
                self.groups[UNGROUPED].hosts.push(host);
            }
        }
        self.groups[UNGROUPED]
            .hosts
            .retain(|h| !leave_ungrouped.contains(h));

        let group_order = |a: &usize, b: &usize| {
            (depth[*a], self.groups[*a].priority, &self.groups[*a].name).cmp(&(
                depth[*b],
                self.groups[*b].priority,
                &self.groups[*b].name,
            ))
        };
        let mut hosts = Vec::with_capacity(self.hosts.len());
        let mut host_index = HashMap::with_capacity(self.hosts.len());
        for (index, entry) in self.hosts.into_iter().enumerate() {
            let mut group_ids: Vec<usize> =
                ancestors(&entry.direct, &parents).into_iter().collect();
            group_ids.sort_by(group_order);
            host_index.insert(entry.name.clone(), index);
            hosts.push(InventoryHost {
                groups: group_ids
                    .iter()
                    .map(|g| self.groups[*g].name.clone())
                    .collect(),
                name: entry.name,
                group_ids,
                vars: entry.vars,
            });
        }

        let children: Vec<Vec<usize>> = self
            .groups
            .iter()
            .map(|group| group.children.iter().map(|(child, _)| *child).collect())
            .collect();
        let mut groups = Vec::with_capacity(self.groups.len());
        for index in 0..self.groups.len() {
            let ordered_hosts = ansible_host_order(index, &children, &self.groups);
            let entry = &self.groups[index];
            groups.push(Group {
                name: entry.name.clone(),
                vars: entry.vars.clone(),
                ordered_hosts,
                direct_hosts: entry.hosts.clone(),
                children: children[index].clone(),
            });
        }
        Ok(Inventory {
            hosts,
            host_index,
            group_index: self.group_index,
            groups,
            vars_dirs: Vec::new(),
            localhost: Inventory::implicit_localhost(),
        })
    }

    fn parents(&self) -> Vec<Vec<usize>> {
        let mut parents = vec![Vec::new(); self.groups.len()];
        for (index, group) in self.groups.iter().enumerate() {
            for (child, _) in &group.children {
                parents[*child].push(index);
            }
        }
        parents
    }

    /// Refuse a group that reaches itself through `children` (it would make a host's group list
    /// and every walk over groups endless). Iterative DFS, so deep nesting cannot overflow.
    fn check_cycles(&self) -> Result<(), Diagnostic> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            OnPath,
            Done,
        }
        let mut mark = vec![Mark::New; self.groups.len()];
        for start in 0..self.groups.len() {
            if mark[start] != Mark::New {
                continue;
            }
            // (group, next child position)
            let mut path: Vec<(usize, usize)> = vec![(start, 0)];
            mark[start] = Mark::OnPath;
            while let Some((group, position)) = path.last().copied() {
                let Some((child, at)) = self.groups[group].children.get(position) else {
                    mark[group] = Mark::Done;
                    path.pop();
                    continue;
                };
                if let Some(top) = path.last_mut() {
                    top.1 += 1;
                }
                match mark[*child] {
                    Mark::New => {
                        mark[*child] = Mark::OnPath;
                        path.push((*child, 0));
                    }
                    Mark::OnPath => {
                        let from = path.iter().position(|(g, _)| g == child).unwrap_or(0);
                        let mut chain: Vec<&str> = path[from..]
                            .iter()
                            .map(|(g, _)| self.groups[*g].name.as_str())
                            .collect();
                        chain.push(&self.groups[*child].name);
                        let error = InventoryError::GroupCycle {
                            group: self.groups[*child].name.clone(),
                            chain: chain.join(" -> "),
                        };
                        return Err(match at {
                            Some(location) => error.at(location.clone()),
                            None => error.nowhere(),
                        });
                    }
                    Mark::Done => {}
                }
            }
        }
        Ok(())
    }
}

/// Longest distance from `all` (Ansible's group depth): parents before children when sorted.
fn group_depth(index: usize, parents: &[Vec<usize>], memo: &mut Vec<Option<usize>>) -> usize {
    if let Some(depth) = memo[index] {
        return depth;
    }
    // The graph is acyclic here; a group's depth is bounded by the number of groups.
    let depth = parents[index]
        .iter()
        .map(|parent| group_depth(*parent, parents, memo) + 1)
        .max()
        .unwrap_or(0);
    memo[index] = Some(depth);
    depth
}

/// `groups` and all their ancestors.
fn ancestors(groups: &[usize], parents: &[Vec<usize>]) -> HashSet<usize> {
    let mut seen: HashSet<usize> = HashSet::new();
    let mut stack: Vec<usize> = groups.to_vec();
    while let Some(group) = stack.pop() {
        if seen.insert(group) {
            stack.extend(parents[group].iter().copied());
        }
    }
    seen
}

/// The hosts of a group in the order Ansible lists them (`groups['db'][0]`, `hosts: db`): its
/// own hosts as listed, then those of its descendants, breadth first, each once.
fn ansible_host_order(group: usize, children: &[Vec<usize>], groups: &[GroupEntry]) -> Vec<usize> {
    let mut visited = HashSet::from([group]);
    let mut order = vec![group];
    let mut next = 0;
    while next < order.len() {
        for child in &children[order[next]] {
            if visited.insert(*child) {
                order.push(*child);
            }
        }
        next += 1;
    }
    let mut seen = HashSet::new();
    let mut hosts = Vec::new();
    for group in order {
        for host in &groups[group].hosts {
            if seen.insert(*host) {
                hosts.push(*host);
            }
        }
    }
    hosts
}
