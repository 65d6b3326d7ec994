//! `user`: a local user account, as Ansible's `user` module manages it on Linux.
//!
//! Converges one account: whether it exists, its uid, primary group, supplementary groups,
//! comment, home, shell, password hash, lock, expiry and password ageing. Reads `/etc/passwd`,
//! `/etc/group` and the user's own line of `/etc/shadow` (three file reads, no command), then
//! plans the shadow-utils commands Ansible runs, as argument vectors: `useradd` for a new
//! account, one `usermod` with every differing field for an existing one, `userdel` for
//! `state: absent`, and `chage` for password ageing. The hash is set with `chpasswd -e` fed
//! on stdin, so it never appears in a command line, a diff or a registered result (the
//! report shows only that the password changes).
//!
//! Ansible's comparison rules: `groups` is compared with the groups whose member list names
//! the user (`append: yes` only adds); `update_password: on_create` sets the hash only for a
//! new account; a hash is compared without a leading `!`, so locking is `password_lock`'s
//! business alone; `expires` compares calendar days. Idempotence: after applying, every field
//! read back equals the task's, so a second plan has no change.
//!
//! Not built (each refused with an error naming it): `local: yes` (the libuser tools),
//! `generate_ssh_key`. For a new account the result has only the values the task gives:
//! the uid or home `useradd` picks itself is not known before it runs.
//!
//! ```yaml
//! - user:
//!     name: alice
//!     shell: /bin/bash
//!     groups: [sudo, adm]
//!     append: yes
//!     password: "$6$rounds=5000$salt$hash…"
//! ```

use crate::accounts::{
    date_of_day, read_text, shadow_entry, Accounts, FloatArg, IntArg, NameArg, PasswdEntry,
    ShadowEntry, SHADOW,
};
use crate::args::{Flag, StringList};
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, ChangeDetail, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

/// Whether the account should exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccountState {
    /// The account exists with the given attributes.
    #[default]
    Present,
    /// The account does not exist.
    Absent,
}

impl AccountState {
    /// Ansible's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Present => "present",
            AccountState::Absent => "absent",
        }
    }
}

/// When `password` is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UpdatePassword {
    /// Whenever the account's hash differs.
    #[default]
    Always,
    /// Only when the account is created.
    OnCreate,
}

/// A password hash; `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct PasswordHash(pub String);

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<hidden>)")
    }
}

fn yes() -> Flag {
    Flag(true)
}

/// Arguments of `user`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserArgs {
    /// The login name.
    #[serde(alias = "user")]
    pub name: String,
    /// Whether the account should exist.
    #[serde(default)]
    pub state: AccountState,
    /// The user id.
    pub uid: Option<IntArg>,
    /// With `uid`: allow an id another account already has (`-o`).
    #[serde(default)]
    pub non_unique: Flag,
    /// The primary group, by name or id; it must exist.
    pub group: Option<NameArg>,
    /// Supplementary groups, a list or a comma-separated string; they must exist. Without
    /// `append` the account is in exactly these; an empty value removes it from every group.
    pub groups: Option<StringList>,
    /// Only add the account to `groups`, never remove it from others.
    #[serde(default)]
    pub append: Flag,
    /// The comment (GECOS) field, e.g. the full name.
    pub comment: Option<String>,
    /// The home directory (default for a new account: `useradd`'s, usually `/home/NAME`).
    pub home: Option<String>,
    /// With a changed `home`: move the old home's content there (`usermod -m`).
    #[serde(default)]
    pub move_home: Flag,
    /// The login shell.
    pub shell: Option<String>,
    /// The password as a crypt(3) hash (e.g. from `password_hash('sha512')`), never clear
    /// text. Kept out of reports and command lines.
    pub password: Option<PasswordHash>,
    /// `always` sets `password` whenever it differs; `on_create` only for a new account.
    #[serde(default)]
    pub update_password: UpdatePassword,
    /// `yes` locks the password (`usermod -L`), `no` unlocks a locked one (`usermod -U`).
    pub password_lock: Option<Flag>,
    /// Account expiry in seconds since 1970 (compared by day); a negative value removes it.
    pub expires: Option<FloatArg>,
    /// Maximum days a password stays valid (`chage -M`).
    pub password_expire_max: Option<IntArg>,
    /// Minimum days between password changes (`chage -m`).
    pub password_expire_min: Option<IntArg>,
    /// Days of warning before the password expires (`chage -W`).
    pub password_expire_warn: Option<IntArg>,
    /// Days after the password expired until the account is disabled (`chage -I`).
    pub password_expire_account_disable: Option<IntArg>,
    /// Create a system account (`useradd -r`); only when creating.
    #[serde(default)]
    pub system: Flag,
    /// Create the home directory for a new account (`useradd -m`; `no` is `-M`).
    #[serde(default = "yes", alias = "createhome")]
    pub create_home: Flag,
    /// The skeleton directory copied into a new home (`useradd -k`).
    pub skeleton: Option<String>,
    /// The umask for a new home directory (`useradd -K UMASK=`).
    pub umask: Option<String>,
    /// Lowest uid `useradd` may pick (`-K UID_MIN=`).
    pub uid_min: Option<IntArg>,
    /// Highest uid `useradd` may pick (`-K UID_MAX=`).
    pub uid_max: Option<IntArg>,
    /// With `state: absent`: remove even if the user is logged in (`userdel -f`).
    #[serde(default)]
    pub force: Flag,
    /// With `state: absent`: remove the home directory and mail spool (`userdel -r`).
    #[serde(default)]
    pub remove: Flag,
    /// Use the libuser tools (`luseradd`). Not built: converge refuses `yes`.
    #[serde(default)]
    pub local: Flag,
    /// Generate an SSH key for the user. Not built: converge refuses `yes`.
    #[serde(default)]
    pub generate_ssh_key: Flag,
}

/// The `user` module.
pub struct User;

impl TypedModule for User {
    type Args = UserArgs;
    const NAME: &'static str = "user";
    const SUMMARY: &'static str = "Manage a local user account (useradd/usermod/userdel)";
    const EXAMPLES: &'static str = "- user:\n    name: alice\n    comment: Alice Liddell\n    shell: /bin/bash\n    groups: [sudo, adm]\n    append: yes\n    password: \"{{ alice_hash }}\"\n\n- user:\n    name: backup\n    system: yes\n    create_home: no\n    shell: /usr/sbin/nologin\n\n- user:\n    name: olduser\n    state: absent\n    remove: yes\n";
    const USES_FACTS: bool = false;

    fn check(args: &UserArgs) -> Result<(), ArgsError> {
        if args.local.0 {
            return Err(ArgsError::new(
                Some("local"),
                "`local: yes` (the libuser tools) is not built in converge's `user` module",
            )
            .with_hint("drop `local`: converge edits the local files with useradd/usermod"));
        }
        if args.generate_ssh_key.0 {
            return Err(ArgsError::new(
                Some("generate_ssh_key"),
                "`generate_ssh_key` is not built in converge's `user` module",
            )
            .with_hint("run `ssh-keygen` in a `command` task with `creates: ~NAME/.ssh/id_rsa`"));
        }
        if args.name.is_empty() || args.name.contains([':', ',', '\n', '/']) {
            return Err(ArgsError::new(
                Some("name"),
                format!("`{}` is not a valid user name", args.name),
            ));
        }
        if args.non_unique.0 && args.uid.is_none() {
            return Err(ArgsError::new(
                Some("non_unique"),
                "`non_unique` needs `uid`",
            ));
        }
        Ok(())
    }

    fn plan(args: UserArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let accounts = Accounts::read(host)?;
        let shadow = match accounts.user(&args.name) {
            Some(_) => shadow_entry(&read_text(host, SHADOW)?, &args.name),
            None => None,
        };
        let mut plan = match (args.state, accounts.user(&args.name)) {
            (AccountState::Absent, None) => Plan::unchanged(),
            (AccountState::Absent, Some(_)) => remove(&args),
            (AccountState::Present, None) => create(&args, &accounts, host)?,
            (AccountState::Present, Some(current)) => {
                modify(&args, &accounts, current, shadow.as_ref())?
            }
        };
        plan.result.insert("name".into(), json!(args.name));
        plan.result
            .insert("state".into(), json!(args.state.as_str()));
        if args.state == AccountState::Present {
            if args.password.is_some() {
                plan.result
                    .insert("password".into(), json!("NOT_LOGGING_PASSWORD"));
                if let Some(hash) = &args.password {
                    if !looks_hashed(&hash.0) {
                        plan.warnings.push(
                            "the input password appears not to have been hashed: `password` must be a crypt hash (e.g. `{{ secret | password_hash('sha512') }}`)"
                                .into(),
                        );
                    }
                }
            }
            if let Some(groups) = &args.groups {
                plan.result
                    .insert("groups".into(), json!(groups.0.join(",")));
            }
        }
        Ok(plan)
    }
}

/// True when `password` looks like a crypt(3) hash or a locked/empty marker, not clear text.
pub fn looks_hashed(password: &str) -> bool {
    let hash = password.trim_start_matches('!');
    if hash.is_empty() || hash == "*" || hash == "x" {
        return true;
    }
    if let Some(rest) = hash.strip_prefix('$') {
        return rest.contains('$');
    }
    // Traditional DES crypt: 13 characters of the crypt alphabet.
    hash.len() == 13
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
}

fn remove(args: &UserArgs) -> Plan {
    let mut argv = vec!["userdel".to_string()];
    if args.force.0 {
        argv.push("-f".into());
    }
    if args.remove.0 {
        argv.push("-r".into());
    }
    argv.push(args.name.clone());
    let mut plan = Plan::unchanged();
    plan.push(
        Change::value(
            format!("user {}", args.name),
            Some("present".into()),
            Some("absent".into()),
        ),
        [run(Command::argv(argv))],
    );
    plan.result.insert("force".into(), json!(args.force.0));
    plan.result.insert("remove".into(), json!(args.remove.0));
    plan
}

fn run(command: Command) -> Step {
    Step::Run {
        command,
        allow_failure: false,
    }
}

fn group_missing(name: &str) -> ModuleError {
    ModuleError::Failed {
        message: format!("group `{name}` does not exist"),
        hint: Some(format!(
            "create it first with a `group` task (`group: {{name: {name}}}`)"
        )),
    }
}

/// The requested supplementary groups, each checked to exist, as written.
fn requested_groups<'a>(
    groups: &'a StringList,
    accounts: &Accounts,
) -> Result<Vec<&'a str>, ModuleError> {
    let mut seen = Vec::new();
    for group in &groups.0 {
        let group = group.trim();
        if group.is_empty() || seen.contains(&group) {
            continue;
        }
        if accounts.group(group).is_none() {
            return Err(group_missing(group));
        }
        seen.push(group);
    }
    Ok(seen)
}

fn expiry_date(seconds: f64) -> Option<String> {
    (seconds >= 0.0).then(|| date_of_day((seconds / 86_400.0).floor() as i64))
}

fn create(args: &UserArgs, accounts: &Accounts, host: &mut dyn Host) -> Result<Plan, ModuleError> {
    let mut argv = vec!["useradd".to_string()];
    let mut shown = Vec::new();
    if let Some(uid) = args.uid {
        argv.extend(["-u".into(), uid.0.to_string()]);
        if args.non_unique.0 {
            argv.push("-o".into());
        }
        shown.push(format!("uid {}", uid.0));
    }
    let mut primary = None;
    if let Some(group) = &args.group {
        let entry = accounts
            .group(&group.0)
            .ok_or_else(|| group_missing(&group.0))?;
        argv.extend(["-g".into(), group.0.clone()]);
        shown.push(format!("group {}", entry.name));
        primary = Some(entry.gid);
    } else if accounts.group_named(&args.name).is_some() {
        // A group named like the user exists: without -N, useradd (USERGROUPS_ENAB) would
        // fail trying to create it.
        argv.push("-N".into());
    }
    if let Some(groups) = &args.groups {
        let wanted = requested_groups(groups, accounts)?;
        if !wanted.is_empty() {
            argv.extend(["-G".into(), wanted.join(",")]);
            shown.push(format!("groups {}", wanted.join(",")));
        }
    }
    if let Some(comment) = &args.comment {
        argv.extend(["-c".into(), comment.clone()]);
    }
    let mut steps = Vec::new();
    if let Some(home) = &args.home {
        if args.create_home.0 {
            // useradd creates the home but not its parent.
            let parent = match home.trim_end_matches('/').rsplit_once('/') {
                Some(("", _)) | None => "/".to_string(),
                Some((parent, _)) => parent.to_string(),
            };
            if host.stat(&parent)?.is_none() {
                steps.push(run(Command::argv(["mkdir", "-p", parent.as_str()])));
            }
        }
        argv.extend(["-d".into(), home.clone()]);
        shown.push(format!("home {home}"));
    }
    if let Some(shell) = &args.shell {
        argv.extend(["-s".into(), shell.clone()]);
        shown.push(format!("shell {shell}"));
    }
    if let Some(expires) = args.expires {
        argv.extend(["-e".into(), expiry_date(expires.0).unwrap_or_default()]);
    }
    if args.create_home.0 {
        argv.push("-m".into());
        if let Some(skeleton) = &args.skeleton {
            argv.extend(["-k".into(), skeleton.clone()]);
        }
        if let Some(umask) = &args.umask {
            argv.extend(["-K".into(), format!("UMASK={umask}")]);
        }
    } else {
        argv.push("-M".into());
    }
    if args.system.0 {
        argv.push("-r".into());
        shown.push("system".into());
    }
    if let Some(min) = args.uid_min {
        argv.extend(["-K".into(), format!("UID_MIN={}", min.0)]);
    }
    if let Some(max) = args.uid_max {
        argv.extend(["-K".into(), format!("UID_MAX={}", max.0)]);
    }
    argv.push(args.name.clone());
    steps.push(run(Command::argv(argv)));
    let mut plan = Plan::unchanged();
    let after = if shown.is_empty() {
        "present".to_string()
    } else {
        format!("present ({})", shown.join(", "))
    };
    plan.push(
        Change::value(
            format!("user {}", args.name),
            Some("absent".into()),
            Some(after),
        ),
        steps,
    );
    if let Some(password) = &args.password {
        let lock = args.password_lock.is_some_and(|lock| lock.0);
        plan.push(
            password_change(&args.name, "set"),
            [set_password(&args.name, &password.0, lock)],
        );
    }
    if let Some(step) = chage(args, None) {
        plan.push(
            Change::note(format!("user {}: password ageing", args.name), "set"),
            [step],
        );
    }
    plan.result.insert("system".into(), json!(args.system.0));
    plan.result
        .insert("create_home".into(), json!(args.create_home.0));
    if let Some(uid) = args.uid {
        plan.result.insert("uid".into(), json!(uid.0));
    }
    if let Some(gid) = primary {
        plan.result.insert("group".into(), json!(gid));
    }
    for (key, value) in [
        ("comment", &args.comment),
        ("home", &args.home),
        ("shell", &args.shell),
    ] {
        if let Some(value) = value {
            plan.result.insert(key.into(), json!(value));
        }
    }
    Ok(plan)
}

fn password_change(name: &str, what: &str) -> Change {
    Change {
        subject: format!("user {name}: password"),
        detail: ChangeDetail::Hidden(format!("password hash {what}")),
    }
}

/// `chpasswd -e` with `NAME:HASH` on stdin: the hash stays out of argv (and so out of `ps`
/// and of the registered `cmd`).
fn set_password(name: &str, hash: &str, lock: bool) -> Step {
    let hash = if lock && !hash.starts_with('!') {
        format!("!{hash}")
    } else {
        hash.to_string()
    };
    run(Command::argv(["chpasswd", "-e"]).with_stdin(format!("{name}:{hash}\n")))
}

/// `chage` for the password-ageing arguments that differ from `current` (all given ones
/// for a new account).
fn chage(args: &UserArgs, current: Option<&ShadowEntry>) -> Option<Step> {
    let mut argv = vec!["chage".to_string()];
    for (flag, wanted, have) in [
        ("-m", args.password_expire_min, current.and_then(|s| s.min)),
        ("-M", args.password_expire_max, current.and_then(|s| s.max)),
        (
            "-W",
            args.password_expire_warn,
            current.and_then(|s| s.warn),
        ),
        (
            "-I",
            args.password_expire_account_disable,
            current.and_then(|s| s.inactive),
        ),
    ] {
        if let Some(wanted) = wanted {
            if current.is_none() || have != Some(wanted.0) {
                argv.extend([flag.to_string(), wanted.0.to_string()]);
            }
        }
    }
    (argv.len() > 1).then(|| {
        argv.push(args.name.clone());
        run(Command::argv(argv))
    })
}

fn modify(
    args: &UserArgs,
    accounts: &Accounts,
    current: &PasswdEntry,
    shadow: Option<&ShadowEntry>,
) -> Result<Plan, ModuleError> {
    let subject = |field: &str| format!("user {}: {field}", args.name);
    let mut changes = Vec::new();
    let mut argv = vec!["usermod".to_string()];
    let mut final_uid = current.uid;
    let mut final_gid = current.gid;
    if let Some(uid) = args.uid {
        if i64::from(current.uid) != uid.0 {
            argv.extend(["-u".into(), uid.0.to_string()]);
            if args.non_unique.0 {
                argv.push("-o".into());
            }
            changes.push(Change::value(
                subject("uid"),
                Some(current.uid.to_string()),
                Some(uid.0.to_string()),
            ));
            final_uid = u32::try_from(uid.0).unwrap_or(current.uid);
        }
    }
    if let Some(group) = &args.group {
        let entry = accounts
            .group(&group.0)
            .ok_or_else(|| group_missing(&group.0))?;
        if entry.gid != current.gid {
            argv.extend(["-g".into(), entry.gid.to_string()]);
            let before = accounts
                .group_by_gid(current.gid)
                .map(|g| g.name.clone())
                .unwrap_or_else(|| current.gid.to_string());
            changes.push(Change::value(
                subject("group"),
                Some(before),
                Some(entry.name.clone()),
            ));
            final_gid = entry.gid;
        }
    }
    if let Some(groups) = &args.groups {
        let have = accounts.member_of(&args.name);
        let wanted = requested_groups(groups, accounts)?;
        let wanted_names: Vec<String> = wanted
            .iter()
            .filter_map(|g| accounts.group(g).map(|e| e.name.clone()))
            .collect();
        let missing: Vec<&String> = wanted_names.iter().filter(|g| !have.contains(g)).collect();
        let extra: Vec<&String> = have.iter().filter(|g| !wanted_names.contains(g)).collect();
        let needed = if wanted.is_empty() {
            !have.is_empty() && !args.append.0
        } else if args.append.0 {
            !missing.is_empty()
        } else {
            !missing.is_empty() || !extra.is_empty()
        };
        if needed {
            if args.append.0 {
                argv.push("-a".into());
            }
            argv.extend(["-G".into(), wanted_names.join(",")]);
            let after = if args.append.0 {
                let mut all = have.clone();
                all.extend(missing.iter().map(|g| g.to_string()));
                all
            } else {
                wanted_names.clone()
            };
            changes.push(Change::value(
                subject("groups"),
                Some(have.join(",")),
                Some(after.join(",")),
            ));
        }
    }
    for (field, flag, wanted, have) in [
        ("comment", "-c", &args.comment, &current.gecos),
        ("home", "-d", &args.home, &current.home),
        ("shell", "-s", &args.shell, &current.shell),
    ] {
        if let Some(wanted) = wanted {
            if wanted != have {
                argv.extend([flag.to_string(), wanted.clone()]);
                if field == "home" && args.move_home.0 {
                    argv.push("-m".into());
                }
                changes.push(Change::value(
                    subject(field),
                    Some(have.clone()),
                    Some(wanted.clone()),
                ));
            }
        }
    }
    if let Some(expires) = args.expires {
        let have = shadow.and_then(|s| s.expire).unwrap_or(-1);
        let have_date = (have >= 0).then(|| date_of_day(have));
        let wanted = expiry_date(expires.0);
        let differs = match &wanted {
            None => have >= 0,
            Some(_) => have < 0 || have_date != wanted,
        };
        if differs {
            argv.extend(["-e".into(), wanted.clone().unwrap_or_default()]);
            changes.push(Change::value(
                subject("expires"),
                Some(have_date.unwrap_or_else(|| "never".into())),
                Some(wanted.unwrap_or_else(|| "never".into())),
            ));
        }
    }
    let hash = shadow.map(|s| s.hash.as_str()).unwrap_or_default();
    let locked = hash.starts_with('!');
    let new_password = match (&args.password, args.update_password) {
        (Some(password), UpdatePassword::Always)
            if hash.trim_start_matches('!') != password.0.trim_start_matches('!') =>
        {
            Some(password)
        }
        _ => None,
    };
    let lock = args.password_lock.map(|flag| flag.0);
    if new_password.is_none() {
        match lock {
            Some(true) if !locked => {
                argv.push("-L".into());
                changes.push(Change::value(
                    subject("password lock"),
                    Some("unlocked".into()),
                    Some("locked".into()),
                ));
            }
            Some(false) if locked => {
                argv.push("-U".into());
                changes.push(Change::value(
                    subject("password lock"),
                    Some("locked".into()),
                    Some("unlocked".into()),
                ));
            }
            _ => {}
        }
    }
    let mut plan = Plan::unchanged();
    if argv.len() > 1 {
        argv.push(args.name.clone());
        plan.changes.extend(changes);
        plan.steps.push(run(Command::argv(argv)));
    }
    if let Some(password) = new_password {
        plan.push(
            password_change(&args.name, "changes"),
            [set_password(&args.name, &password.0, lock == Some(true))],
        );
    }
    if let Some(step) = chage(args, Some(shadow.unwrap_or(&NO_SHADOW))) {
        plan.push(Change::note(subject("password ageing"), "changes"), [step]);
    }
    plan.result.insert("append".into(), json!(args.append.0));
    plan.result
        .insert("move_home".into(), json!(args.move_home.0));
    // What the account looks like once the plan is applied (Ansible reads it back).
    let after: [(&str, Value); 5] = [
        ("uid", json!(final_uid)),
        ("group", json!(final_gid)),
        (
            "comment",
            json!(args.comment.as_ref().unwrap_or(&current.gecos)),
        ),
        ("home", json!(args.home.as_ref().unwrap_or(&current.home))),
        (
            "shell",
            json!(args.shell.as_ref().unwrap_or(&current.shell)),
        ),
    ];
    for (key, value) in after {
        plan.result.insert(key.into(), value);
    }
    Ok(plan)
}

static NO_SHADOW: ShadowEntry = ShadowEntry {
    name: String::new(),
    hash: String::new(),
    min: None,
    max: None,
    warn: None,
    inactive: None,
    expire: None,
};
