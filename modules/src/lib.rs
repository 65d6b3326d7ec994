//! converge's modules: each converges one kind of state on a host.
//!
//! A module takes typed arguments, reads the host through the [`Host`] trait, and returns a
//! [`Plan`]: the changes a person reviews and the steps that make them. [`Plan::apply`] runs
//! the steps. Nothing here knows about the command line, SSH, or playbooks, so a module can
//! be used alone from Rust.
//!
//! # Plan and apply one module on this machine
//!
//! ```
//! use converge_modules::{find, local::LocalConnection, Context, Facts};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("motd");
//! let mut host = LocalConnection::new("localhost");
//! let module = find("ansible.builtin.lineinfile").expect("converge has lineinfile");
//! let args = serde_json::json!({"path": path, "line": "managed by converge", "create": true});
//! let facts = Facts::default();
//! let context = Context { facts: &facts };
//!
//! // Planning only reads: the plan says what would change, nothing has changed yet.
//! let plan = module.plan(&args, &mut host, &context)?;
//! assert!(plan.is_change());
//! assert!(!path.exists());
//!
//! // Applying runs exactly the planned steps.
//! plan.apply(&mut host)?;
//! assert_eq!(std::fs::read_to_string(&path)?, "managed by converge\n");
//!
//! // Planning again finds nothing to do.
//! assert!(!module.plan(&args, &mut host, &context)?.is_change());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod accounts;
pub mod args;
pub mod facts;
pub mod host;
pub mod module;
pub mod plan;
pub mod pyregex;

mod fsutil;
mod lines;

pub mod apt;
pub mod apt_repository;
pub mod assert;
pub mod authorized_key;
pub mod blockinfile;
pub mod command;
pub mod copy;
pub mod cron;
pub mod debconf;
pub mod debug;
pub mod dhcpd;
pub mod dpkg;
pub mod fail;
pub mod fetch;
pub mod file;
pub mod find;
pub mod get_url;
pub mod getent;
pub mod git;
pub mod group;
pub mod hostname;
pub mod include_vars;
pub mod ip6tables;
pub mod iproute;
pub mod iptables;
pub mod known_hosts;
pub mod lineinfile;
pub mod local;
pub mod locale_gen;
pub mod memory_host;
pub mod meta;
pub mod mount;
pub mod package;
pub mod package_facts;
pub mod pam_limits;
pub mod pamd;
pub mod replace;
pub mod sendmail_mc;
pub mod service;
pub mod service_facts;
pub mod set_fact;
pub mod setup;
pub mod shell;
pub mod slackbuild;
pub mod slurp;
pub mod stat;
pub mod sysctl;
pub mod systemd;
pub mod template;
pub mod timezone;
pub mod ufw;
pub mod unarchive;
pub mod unit;
pub mod uri;
pub mod user;
pub mod wait_for;
pub mod xprofile;

pub use facts::Facts;
pub use fsutil::set_show_private_diffs;
pub use host::{
    quote, Command, FileAttributes, FileKind, FileStat, Host, HostError, Output, Program, Read,
    WriteOptions, WriteOutcome,
};
pub use module::{
    closest, AppliedResult, ArgsError, Context, Module, ModuleError, Target, Typed, TypedModule,
};
pub use plan::{ApplyError, Change, ChangeDetail, Confirmation, Plan, Step};

/// Every module converge has, in the order `converge doc` lists them.
pub fn all() -> &'static [&'static dyn Module] {
    static ALL: &[&dyn Module] = &[
        &Typed::<apt::Apt>::new(),
        &Typed::<apt_repository::AptRepository>::new(),
        &Typed::<assert::Assert>::new(),
        &Typed::<authorized_key::AuthorizedKey>::new(),
        &Typed::<blockinfile::Blockinfile>::new(),
        &Typed::<command::CommandModule>::new(),
        &Typed::<copy::Copy>::new(),
        &Typed::<cron::Cron>::new(),
        &Typed::<debconf::Debconf>::new(),
        &Typed::<debug::Debug>::new(),
        &Typed::<dhcpd::Dhcpd>::new(),
        &Typed::<fail::Fail>::new(),
        &Typed::<fetch::Fetch>::new(),
        &Typed::<file::File>::new(),
        &Typed::<find::Find>::new(),
        &Typed::<get_url::GetUrl>::new(),
        &Typed::<getent::Getent>::new(),
        &Typed::<git::Git>::new(),
        &Typed::<group::Group>::new(),
        &Typed::<hostname::Hostname>::new(),
        &Typed::<include_vars::IncludeVars>::new(),
        &Typed::<ip6tables::Ip6tables>::new(),
        &Typed::<iproute::Iproute>::new(),
        &Typed::<iptables::Iptables>::new(),
        &Typed::<known_hosts::KnownHosts>::new(),
        &Typed::<lineinfile::Lineinfile>::new(),
        &Typed::<locale_gen::LocaleGen>::new(),
        &Typed::<meta::Meta>::new(),
        &Typed::<mount::Mount>::new(),
        &Typed::<package::Package>::new(),
        &Typed::<package_facts::PackageFacts>::new(),
        &Typed::<pam_limits::PamLimits>::new(),
        &Typed::<pamd::Pamd>::new(),
        &Typed::<replace::Replace>::new(),
        &Typed::<sendmail_mc::SendmailMc>::new(),
        &Typed::<service::Service>::new(),
        &Typed::<service_facts::ServiceFacts>::new(),
        &Typed::<set_fact::SetFact>::new(),
        &Typed::<setup::Setup>::new(),
        &Typed::<shell::Shell>::new(),
        &Typed::<slackbuild::Slackbuild>::new(),
        &Typed::<slurp::Slurp>::new(),
        &Typed::<stat::Stat>::new(),
        &Typed::<sysctl::Sysctl>::new(),
        &Typed::<systemd::Systemd>::new(),
        &Typed::<systemd::SystemdService>::new(),
        &Typed::<template::Template>::new(),
        &Typed::<timezone::Timezone>::new(),
        &Typed::<ufw::Ufw>::new(),
        &Typed::<unarchive::Unarchive>::new(),
        &Typed::<uri::Uri>::new(),
        &Typed::<user::User>::new(),
        &Typed::<wait_for::WaitFor>::new(),
        &Typed::<xprofile::Xprofile>::new(),
    ];
    ALL
}

/// Collections whose spelling of a module name converge accepts (`ansible.builtin.copy`).
pub const COLLECTION_PREFIXES: &[&str] =
    &["ansible.builtin.", "ansible.posix.", "community.general."];

/// The module called `name`, accepting Ansible's fully qualified spellings.
pub fn find(name: &str) -> Option<&'static dyn Module> {
    let short = COLLECTION_PREFIXES
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))
        .unwrap_or(name);
    all().iter().copied().find(|module| module.name() == short)
}

#[cfg(test)]
mod tests {
    /// `converge doc` lists the summaries: each is a phrase that starts with a capital letter
    /// and says what the module does, not the tool's name.
    #[test]
    fn every_summary_reads_as_a_sentence() {
        for module in super::all() {
            let summary = module.summary();
            assert!(
                summary.starts_with(|c: char| c.is_ascii_uppercase()),
                "`{}`: {summary}",
                module.name()
            );
            assert!(
                !summary.to_ascii_lowercase().starts_with("converge "),
                "`{}`: {summary}",
                module.name()
            );
        }
    }
}
