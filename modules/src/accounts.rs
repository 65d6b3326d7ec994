//! The local account databases (`/etc/passwd`, `/etc/group`, `/etc/shadow`) as the `user`,
//! `group` and `authorized_key` modules read them: pure parsers over the files' text, and the
//! argument types those modules share.
//!
//! Lines that are blank, comments, NIS compat entries (`+`/`-`) or malformed are skipped, as
//! glibc's files backend skips them. A shadow entry is only ever looked up for one user, and
//! its `Debug` output hides the hash.

use crate::host::{Host, HostError};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::fmt;

/// The password database.
pub const PASSWD: &str = "/etc/passwd";
/// The group database.
pub const GROUP: &str = "/etc/group";
/// The shadow password database.
pub const SHADOW: &str = "/etc/shadow";

/// One `/etc/passwd` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// GECOS field (the `comment`).
    pub gecos: String,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

/// One `/etc/group` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    /// Group name.
    pub name: String,
    /// Group id.
    pub gid: u32,
    /// Supplementary members, as listed.
    pub members: Vec<String>,
}

/// One `/etc/shadow` line. `Debug` never shows the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ShadowEntry {
    /// Login name.
    pub name: String,
    /// The password hash (`!`-prefixed when locked, `*`/`!` for none).
    pub hash: String,
    /// Minimum days between password changes.
    pub min: Option<i64>,
    /// Maximum days a password is valid.
    pub max: Option<i64>,
    /// Days of warning before a password expires.
    pub warn: Option<i64>,
    /// Days after expiry until the account is disabled.
    pub inactive: Option<i64>,
    /// Account expiry, in days since 1970-01-01.
    pub expire: Option<i64>,
}

impl fmt::Debug for ShadowEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShadowEntry")
            .field("name", &self.name)
            .field("hash", &"<hidden>")
            .field("min", &self.min)
            .field("max", &self.max)
            .field("warn", &self.warn)
            .field("inactive", &self.inactive)
            .field("expire", &self.expire)
            .finish()
    }
}

fn records(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .filter(|line| {
            let line = line.trim();
            !line.is_empty() && !line.starts_with('#') && !line.starts_with(['+', '-'])
        })
        .map(|line| line.split(':').collect())
}

/// The entries of a passwd file.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    records(text)
        .filter_map(|fields| {
            let [name, _, uid, gid, gecos, home, shell] = fields.as_slice() else {
                return None;
            };
            Some(PasswdEntry {
                name: name.to_string(),
                uid: uid.parse().ok()?,
                gid: gid.parse().ok()?,
                gecos: gecos.to_string(),
                home: home.to_string(),
                shell: shell.to_string(),
            })
        })
        .collect()
}

/// The entries of a group file.
pub fn parse_group(text: &str) -> Vec<GroupEntry> {
    records(text)
        .filter_map(|fields| {
            let [name, _, gid, members] = fields.as_slice() else {
                return None;
            };
            Some(GroupEntry {
                name: name.to_string(),
                gid: gid.parse().ok()?,
                members: members
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

/// The shadow entry of `name` only, if the file has one.
pub fn shadow_entry(text: &str, name: &str) -> Option<ShadowEntry> {
    records(text)
        .find(|fields| fields.first() == Some(&name))
        .map(|fields| {
            let number = |at: usize| fields.get(at).and_then(|f| f.trim().parse().ok());
            ShadowEntry {
                name: name.to_string(),
                hash: fields.get(1).copied().unwrap_or_default().to_string(),
                min: number(3),
                max: number(4),
                warn: number(5),
                inactive: number(6),
                expire: number(7),
            }
        })
}

/// What the account modules read from a host: the passwd and group files (absent files read
/// as empty).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    /// `/etc/passwd`.
    pub users: Vec<PasswdEntry>,
    /// `/etc/group`.
    pub groups: Vec<GroupEntry>,
}

/// Read a file as text; an absent file is empty.
pub fn read_text(host: &mut dyn Host, path: &str) -> Result<String, HostError> {
    Ok(host
        .read_file(path)?
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default())
}

impl Accounts {
    /// Read `/etc/passwd` and `/etc/group`.
    pub fn read(host: &mut dyn Host) -> Result<Accounts, HostError> {
        Ok(Accounts {
            users: parse_passwd(&read_text(host, PASSWD)?),
            groups: parse_group(&read_text(host, GROUP)?),
        })
    }

    /// The user called `name`.
    pub fn user(&self, name: &str) -> Option<&PasswdEntry> {
        self.users.iter().find(|user| user.name == name)
    }

    /// The group called `name`.
    pub fn group_named(&self, name: &str) -> Option<&GroupEntry> {
        self.groups.iter().find(|group| group.name == name)
    }

    /// The group with id `gid`.
    pub fn group_by_gid(&self, gid: u32) -> Option<&GroupEntry> {
        self.groups.iter().find(|group| group.gid == gid)
    }

    /// A group given as Ansible accepts it: a numeric id first, else a name.
    pub fn group(&self, spec: &str) -> Option<&GroupEntry> {
        spec.parse::<u32>()
            .ok()
            .and_then(|gid| self.group_by_gid(gid))
            .or_else(|| self.group_named(spec))
    }

    /// The groups that list `user` as a member (its supplementary groups, plus its primary
    /// group when listed there too), in file order.
    pub fn member_of(&self, user: &str) -> Vec<String> {
        self.groups
            .iter()
            .filter(|group| group.members.iter().any(|m| m == user))
            .map(|group| group.name.clone())
            .collect()
    }
}

/// A name written as a string or a number (`group: 100`).
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(with = "String")]
pub struct NameArg(pub String);

impl<'de> Deserialize<'de> for NameArg {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(NameArg(text)),
            Value::Number(number) => Ok(NameArg(number.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected a name or a number, found {other}"
            ))),
        }
    }
}

/// A whole number written as a number or as digits in a string (`uid: "1001"`, what a
/// template renders).
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(with = "i64")]
pub struct IntArg(pub i64);

impl<'de> Deserialize<'de> for IntArg {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        let parsed = match &raw {
            Value::Number(number) => number.as_i64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        };
        parsed.map(IntArg).ok_or_else(|| {
            serde::de::Error::custom(format!("expected a whole number, found {raw}"))
        })
    }
}

/// A number of seconds since 1970 (`expires: 1735689600`), possibly fractional or negative.
#[derive(Debug, Clone, Copy, PartialEq, JsonSchema)]
#[schemars(with = "f64")]
pub struct FloatArg(pub f64);

impl<'de> Deserialize<'de> for FloatArg {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        let parsed = match &raw {
            Value::Number(number) => number.as_f64(),
            Value::String(text) => text.trim().parse().ok(),
            _ => None,
        };
        parsed
            .filter(|value| value.is_finite())
            .map(FloatArg)
            .ok_or_else(|| serde::de::Error::custom(format!("expected a number, found {raw}")))
    }
}

/// `YYYY-MM-DD` of a day counted from 1970-01-01 (the proleptic Gregorian calendar).
pub fn date_of_day(days: i64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_of_days() {
        assert_eq!(date_of_day(0), "1970-01-01");
        assert_eq!(date_of_day(20_089), "2025-01-01");
        assert_eq!(date_of_day(11_016), "2000-02-29");
    }

    #[test]
    fn parsers_skip_what_glibc_skips() {
        let users =
            parse_passwd("root:x:0:0:root:/root:/bin/bash\n\n# c\n+nis\nbad:x:y:0::/:/bin/sh\n");
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].home, "/root");
        let groups = parse_group("sudo:x:27:alice, bob\nempty:x:5:\n");
        assert_eq!(groups[0].members, ["alice", "bob"]);
        assert!(groups[1].members.is_empty());
        let shadow = shadow_entry("alice:$6$s$h:19000:0:99999:7::20000:\n", "alice").unwrap();
        assert_eq!(shadow.expire, Some(20_000));
        assert_eq!(shadow.inactive, None);
        assert!(!format!("{shadow:?}").contains("$6$"));
    }
}
