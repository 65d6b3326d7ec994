//! Build order from `REQUIRES`: depth-first, dependencies before their dependents, in the order
//! `REQUIRES` lists them, each package once at its first position (as sbotools does).

use super::info::Info;
use std::collections::BTreeMap;
use std::fmt;

/// A dependency that is not in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingDependency {
    /// The missing PRGNAM.
    pub name: String,
    /// Who requires it; `None` for a requested package.
    pub required_by: Option<String>,
}

/// The result of resolving.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BuildOrder {
    /// Every package found, each after all its `REQUIRES`.
    pub order: Vec<String>,
    /// Names not in the tree (they and what needs them are still ordered without them).
    pub missing: Vec<MissingDependency>,
    /// Packages in `order` whose `REQUIRES` has `%README%`.
    pub readme: Vec<String>,
}

/// `REQUIRES` lead back to a package: the cycle, first name repeated at the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DependencyCycle(pub Vec<String>);

impl fmt::Display for DependencyCycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.0.iter().map(|n| format!("`{n}`")).collect();
        write!(f, "dependency cycle: {}", names.join(" → "))
    }
}

/// Order `roots` and everything they require (recursively) from `infos` (by PRGNAM).
pub fn build_order(
    roots: &[String],
    infos: &BTreeMap<String, Info>,
) -> Result<BuildOrder, DependencyCycle> {
    let mut result = BuildOrder::default();
    let mut stack: Vec<String> = Vec::new();
    for root in roots {
        visit(root, None, infos, &mut stack, &mut result)?;
    }
    Ok(result)
}

fn visit(
    name: &str,
    parent: Option<&str>,
    infos: &BTreeMap<String, Info>,
    stack: &mut Vec<String>,
    result: &mut BuildOrder,
) -> Result<(), DependencyCycle> {
    if let Some(start) = stack.iter().position(|n| n == name) {
        let mut cycle = stack[start..].to_vec();
        cycle.push(name.to_string());
        return Err(DependencyCycle(cycle));
    }
    if result.order.iter().any(|n| n == name) {
        return Ok(());
    }
    let Some(info) = infos.get(name) else {
        let missing = MissingDependency {
            name: name.to_string(),
            required_by: parent.map(str::to_string),
        };
        if !result.missing.contains(&missing) {
            result.missing.push(missing);
        }
        return Ok(());
    };
    stack.push(name.to_string());
    for dependency in &info.requires {
        visit(dependency, Some(name), infos, stack, result)?;
    }
    stack.pop();
    result.order.push(name.to_string());
    if info.readme {
        result.readme.push(name.to_string());
    }
    Ok(())
}
