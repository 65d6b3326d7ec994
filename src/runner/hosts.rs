//! Which hosts a play runs on: the pattern, `--limit`, `--shard K/N`, and `serial` batches.

use crate::inventory::{Inventory, InventoryHost};
use crate::playbook::SerialStep;

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

/// Split hosts into `serial` batches (all at once when `serial` is empty).
pub(super) fn batches<'h>(
    hosts: &[&'h InventoryHost],
    serial: &[SerialStep],
) -> Vec<Vec<&'h InventoryHost>> {
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

#[cfg(test)]
mod tests {
    use super::Shard;

    #[test]
    pub(super) fn shards_cover_every_host_exactly_once() {
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
    pub(super) fn shard_syntax() {
        assert_eq!(Shard::parse("2/5"), Ok(Shard { index: 2, count: 5 }));
        assert!(Shard::parse("0/5").is_err());
        assert!(Shard::parse("6/5").is_err());
        assert!(Shard::parse("two").is_err());
    }
}
