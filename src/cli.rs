//! The command line. The doc comments here are the `--help` text.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Shown after the options, one example a line (clap would reflow a doc comment).
const EXAMPLES: &str = "\
Examples:
  converge -i inventory.yml site.yml                  apply
  converge -i inventory.yml site.yml --check --diff   dry run with diffs
  converge -i inventory.yml web --list-hosts          the hosts a pattern selects
  converge doc sysctl                                 a module's arguments";

/// converge: agentless configuration management for people who come from Ansible.
///
/// Applies Ansible-style playbooks to the hosts of an Ansible-style inventory. Every task
/// first plans (reads the host, computes the change and a diff), then applies exactly
/// that plan. With --check only the planning half runs and no host is changed.
#[derive(Debug, Parser)]
#[command(
    name = "converge",
    version,
    args_conflicts_with_subcommands = true,
    after_help = EXAMPLES
)]
pub struct Cli {
    /// A subcommand instead of running playbooks.
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Options for running playbooks.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a plan saved with `--check --plan-out` as `--check --diff` showed it, with the
    /// tasks decided at apply time (not reviewed) listed at the end.
    Show {
        /// The plan file.
        #[arg(value_name = "PLAN")]
        plan: PathBuf,
        /// The plan key it was made with (to check its MAC and show sealed secrets).
        #[arg(long, value_name = "FILE")]
        plan_key: Option<PathBuf>,
        /// `human`, or `json` (the plan file's content, verified).
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Apply exactly a plan saved with `--check --plan-out`: run again from the same
    /// directory, with unchanged inputs; each task applies the reviewed steps after re-reading
    /// its host; a host that changed since the plan stops as drifted, the others go on.
    Apply {
        /// The plan file.
        #[arg(value_name = "PLAN")]
        plan: PathBuf,
        /// The plan key it was made with (checks its MAC, unseals its secrets).
        #[arg(long, value_name = "FILE")]
        plan_key: Option<PathBuf>,
        /// The digest `--plan-out` printed; a plan without a key is refused unless it matches.
        #[arg(long, value_name = "SHA256")]
        digest: Option<String>,
        /// Refuse tasks decided at apply time (not reviewed) instead of planning them live.
        #[arg(long)]
        reviewed_only: bool,
        /// Refuse a plan older than this (`90m`, `12h`, `2d`, or seconds).
        #[arg(long, value_name = "AGE")]
        max_age: Option<String>,
        /// Show a unified diff for every change.
        #[arg(short = 'D', long)]
        diff: bool,
        /// More output.
        #[arg(short, long, action = clap::ArgAction::Count)]
        verbose: u8,
        /// `human` or `json`, as for a run.
        #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
        format: OutputFormat,
    },
    /// Load and check inventory, playbooks, roles, module arguments and templates without
    /// connecting anywhere; report every problem at once (same as `--syntax-check`).
    Validate {
        /// Playbooks to check.
        #[arg(value_name = "PLAYBOOK", required = true)]
        playbooks: Vec<PathBuf>,
        /// Inventory file or directory (may repeat).
        #[arg(short, long = "inventory", value_name = "PATH")]
        inventory: Vec<PathBuf>,
        /// Extra variables, as for a run.
        #[arg(short, long = "extra-vars", value_name = "VARS")]
        extra_vars: Vec<String>,
        /// Extra role directories.
        #[arg(long, value_name = "DIR", value_delimiter = ':')]
        roles_path: Vec<PathBuf>,
        /// Vault passwords, as for a run.
        #[command(flatten)]
        vault: VaultArgs,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout: `converge man > converge.1`.
    Man,
    /// Encrypt, decrypt, view or edit variables files, in converge's age format or
    /// ansible-vault's (both are read); `encrypt_string` prints a `!vault |` value. Encrypted
    /// files and values are decrypted in memory when a run loads them; their values are never
    /// printed.
    Vault {
        /// What to do.
        #[arg(value_enum)]
        action: VaultAction,
        /// The files; for `encrypt_string` the strings to encrypt (none, or `-`: read stdin).
        #[arg(value_name = "FILE|STRING")]
        targets: Vec<String>,
        /// Vault passwords.
        #[command(flatten)]
        vault: VaultArgs,
        /// `encrypt`: write ansible-vault's format (`$ANSIBLE_VAULT;1.1;AES256`, or 1.2 with
        /// the password's vault id) instead of age, to share the file with Ansible users.
        /// Age resists password guessing far better (scrypt, against 10,000 PBKDF2 rounds).
        #[arg(long)]
        ansible: bool,
        /// The vault id to encrypt with, when several passwords are given.
        #[arg(long, value_name = "LABEL")]
        encrypt_vault_id: Option<String>,
        /// `encrypt_string`: the variable name of each string, in order. May repeat.
        #[arg(short = 'n', long = "name", value_name = "NAME")]
        names: Vec<String>,
        /// `encrypt_string`: the variable name of the string read from stdin.
        #[arg(long, value_name = "NAME")]
        stdin_name: Option<String>,
    },
    /// Show the inventory as `ansible-inventory` does: `--list` (JSON with `_meta.hostvars`),
    /// `--graph [GROUP]` (the group tree) or `--host NAME` (one host's variables as JSON).
    #[command(group(clap::ArgGroup::new("action").required(true).args(["list", "graph", "host"])))]
    Inventory {
        /// Inventory file or directory (may repeat).
        #[arg(short, long = "inventory", value_name = "PATH")]
        inventory: Vec<PathBuf>,
        /// Every group with its hosts and children, and every host's variables, as JSON.
        #[arg(long)]
        list: bool,
        /// The tree of groups and hosts under GROUP (`all` by default).
        #[arg(long)]
        graph: bool,
        /// One host's variables, as JSON.
        #[arg(long, value_name = "NAME")]
        host: Option<String>,
        /// The group `--graph` starts at.
        #[arg(value_name = "GROUP", requires = "graph")]
        group: Option<String>,
    },
    /// List the modules, or show one module's arguments, types, defaults and examples.
    Doc {
        /// The module to document; without it, all modules are listed.
        module: Option<String>,
    },
}

/// Flags for running playbooks (Ansible's spellings). Saved in a plan (`--plan-out`) so that
/// `converge apply` runs the same.
#[derive(Debug, Args, Clone, serde::Serialize, serde::Deserialize)]
pub struct RunArgs {
    /// Playbooks to run, in order.
    #[arg(value_name = "PLAYBOOK")]
    pub playbooks: Vec<PathBuf>,

    /// Inventory file or directory (YAML or INI, with group_vars/ and host_vars/ beside
    /// it). May be given more than once. Without it only `localhost` exists.
    #[arg(short, long = "inventory", value_name = "PATH")]
    pub inventory: Vec<PathBuf>,

    /// Plan only: show what would change and change nothing on any host.
    #[arg(short = 'C', long)]
    pub check: bool,

    /// Show a unified diff for every change (in --check too).
    #[arg(short = 'D', long)]
    pub diff: bool,

    /// Run only on hosts matching this pattern (e.g. `web*:!web3`).
    #[arg(short, long, value_name = "PATTERN")]
    pub limit: Option<String>,

    /// Run only tasks with one of these tags (comma-separated; may repeat).
    #[arg(short, long, value_name = "TAGS", value_delimiter = ',')]
    pub tags: Vec<String>,

    /// Skip tasks with one of these tags (comma-separated; may repeat).
    #[arg(long, value_name = "TAGS", value_delimiter = ',')]
    pub skip_tags: Vec<String>,

    /// Extra variables, highest precedence: `key=value ...`, a YAML/JSON mapping, or
    /// `@file.yml`. May repeat.
    #[arg(short, long = "extra-vars", value_name = "VARS")]
    pub extra_vars: Vec<String>,

    /// How many hosts run at once.
    #[arg(short, long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub forks: u32,

    /// More output: -v shows task results, -vv also skipped tasks and commands.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// List the hosts each play would run on, and stop.
    #[arg(long)]
    pub list_hosts: bool,

    /// List the tasks each play would run, and stop.
    #[arg(long)]
    pub list_tasks: bool,

    /// Load and check everything (inventory, playbooks, roles, arguments, templates)
    /// without connecting to any host.
    #[arg(long)]
    pub syntax_check: bool,

    /// Connection type for every host, overriding `ansible_connection` (`local`).
    #[arg(short, long, value_name = "TYPE")]
    pub connection: Option<String>,

    /// Extra directories to search for roles (after the playbook's `roles/`). May repeat;
    /// colon-separated lists are accepted.
    #[arg(long, value_name = "DIR", value_delimiter = ':')]
    pub roles_path: Vec<PathBuf>,

    /// Run tasks as another user (root by default) with sudo.
    #[arg(short, long = "become")]
    pub become_root: bool,

    /// The user to become.
    #[arg(long, value_name = "USER")]
    pub become_user: Option<String>,

    /// Log in as this user, overriding `ansible_user`.
    #[arg(short, long, value_name = "USER")]
    pub user: Option<String>,

    /// The SSH private key to log in with, overriding `ansible_ssh_private_key_file`.
    #[arg(long, value_name = "FILE")]
    pub private_key: Option<PathBuf>,

    /// How to treat SSH host keys: `strict` refuses unknown and changed keys (the default),
    /// `accept-new` records unknown hosts in known_hosts, `off` records unknown hosts and
    /// accepts changed keys with a warning, as OpenSSH's `StrictHostKeyChecking=no` (unsafe: a
    /// man in the middle sees everything, become passwords included). A changed key is
    /// refused unless `off`.
    #[arg(long, value_enum, value_name = "MODE")]
    pub host_key_checking: Option<HostKeyCheckingArg>,

    /// Seconds to wait for an SSH connection before calling the host unreachable.
    #[arg(short = 'T', long, value_name = "SECONDS")]
    pub timeout: Option<u64>,

    /// Seconds an SSH command may run without an answer (its output comes when it ends)
    /// before the host is called unreachable. By
    /// default there is no limit, as in Ansible: a dead link is found by SSH keepalives
    /// (every 15 s, 3 unanswered; ServerAliveInterval and ServerAliveCountMax change them).
    #[arg(long, value_name = "SECONDS")]
    pub command_timeout: Option<u64>,

    /// Vault passwords for encrypted variables files and `!vault` values.
    #[command(flatten)]
    pub vault: VaultArgs,

    /// Ask once for the passphrase of encrypted SSH private keys.
    #[arg(long)]
    pub ask_key_passphrase: bool,

    /// Ask for the SSH login password (only used when key login fails).
    #[arg(short = 'k', long)]
    pub ask_pass: bool,

    /// Read the SSH login password from this file.
    #[arg(long, value_name = "FILE")]
    pub connection_password_file: Option<PathBuf>,

    /// Ask once for the become (sudo) password; it is sent on sudo's stdin, never in
    /// arguments, environment or logs.
    #[arg(short = 'K', long)]
    pub ask_become_pass: bool,

    /// Read the become (sudo) password from this file.
    #[arg(long, value_name = "FILE")]
    pub become_password_file: Option<PathBuf>,

    /// Run only part K of N of the selected hosts (e.g. `--shard 2/5`): N CI jobs with
    /// K = 1..N together cover every host exactly once. The split depends on host names only.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,

    /// Ad-hoc: run this one module on the hosts matching the pattern given in place of a
    /// playbook, e.g. `converge -i inv.yml servers -m sysctl -a 'name=… value=2'`.
    #[arg(short = 'm', long = "module-name", value_name = "MODULE")]
    pub module_name: Option<String>,

    /// Ad-hoc: the module's arguments, as `key=value ...` or a YAML/JSON mapping.
    #[arg(
        short = 'a',
        long = "args",
        value_name = "ARGS",
        requires = "module_name"
    )]
    pub module_args: Option<String>,

    /// Show the content of private files (no group or other permission bits, e.g. 0600) in
    /// diffs; by default only the fact of a change is shown, since such files hold secrets.
    #[arg(long)]
    pub show_private_diffs: bool,

    /// Output format: `human` (results and diffs on stderr) or `json` (one JSON event per
    /// line on stdout: play_start, task_start, task_result with its diffs, recap).
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,

    /// Also write a JUnit XML report (one test case per host and task) to this file.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// With --check: exit with status 6 when any change is pending (for CI).
    #[arg(long)]
    pub detailed_exitcode: bool,

    /// With --check: save every host's plan to this file, for `converge show` and
    /// `converge apply` (prints the plan's digest).
    #[arg(long, value_name = "FILE", requires = "check")]
    pub plan_out: Option<PathBuf>,

    /// With --plan-out: a passphrase file that seals the plan's secrets and protects the
    /// plan with a MAC. Without it, a plan holding secrets is not written.
    #[arg(long, value_name = "FILE", requires = "plan_out")]
    pub plan_key: Option<PathBuf>,
}

/// Where vault passwords come from (Ansible's flags; converge's age files use the same ones).
#[derive(Debug, Args, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct VaultArgs {
    /// A vault password, `[LABEL@]SOURCE`: SOURCE is `prompt` or a file (run for its output
    /// if executable). May repeat; a file whose ansible-vault header names a vault id is tried
    /// with that label's password first, then with every other.
    #[arg(long = "vault-id", value_name = "[LABEL@]SOURCE")]
    pub vault_ids: Vec<String>,

    /// Read a vault password from this file (its content without surrounding whitespace); if
    /// the file is executable, run it and use what it prints. May repeat. Also taken from
    /// ANSIBLE_VAULT_PASSWORD_FILE.
    #[arg(
        long = "vault-password-file",
        visible_alias = "vault-pass-file",
        value_name = "FILE"
    )]
    pub vault_password_files: Vec<PathBuf>,

    /// Ask for the vault password.
    #[arg(short = 'J', long, visible_alias = "ask-vault-password")]
    pub ask_vault_pass: bool,
}

impl VaultArgs {
    /// The request these flags and the environment make.
    pub fn request(&self) -> crate::vault::password::Request {
        crate::vault::password::Request {
            vault_ids: self.vault_ids.clone(),
            password_files: self.vault_password_files.clone(),
            ask: self.ask_vault_pass,
            ..Default::default()
        }
        .with_env()
    }
}

/// `--host-key-checking` values.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum HostKeyCheckingArg {
    /// Refuse unknown and changed host keys.
    Strict,
    /// Record unknown hosts; refuse changed keys.
    AcceptNew,
    /// Accept any key (unsafe).
    Off,
}

/// `--format` values.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
pub enum OutputFormat {
    /// Human-readable results on stderr.
    Human,
    /// JSON lines on stdout.
    Json,
}

/// `converge vault` actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum VaultAction {
    /// Encrypt plain files in place (age; ansible-vault with `--ansible`).
    Encrypt,
    /// Decrypt encrypted files in place (either format).
    Decrypt,
    /// Print the decrypted content.
    View,
    /// Decrypt into a private temp file, run $EDITOR, encrypt the result back (same format,
    /// vault id and password).
    Edit,
    /// Print each string (or stdin) encrypted as a `!vault |` value (ansible-vault format).
    #[value(name = "encrypt_string", alias = "encrypt-string")]
    EncryptString,
}
