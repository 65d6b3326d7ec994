//! The command's flow: parse flags, load and check everything, then run. Returns the exit code.

use crate::cli::{Cli, Command, HostKeyCheckingArg, OutputFormat, RunArgs, VaultAction};
use crate::connection::open::ConnectOptions;
use crate::connection::ssh::HostKeyChecking;
use crate::connection::Secret;
use crate::diagnostic::{Diagnostic, Diagnostics, Severity};
use crate::error::Exit;
use crate::inventory::Inventory;
use crate::playbook::{self, BecomeSettings, LoadOptions, Playbook};
use crate::report::json::JsonLines;
use crate::report::junit::Junit;
use crate::report::{Console, Fanout, Reporter};
use crate::runner::{self, RunOptions, Runner, Shard};
use crate::template::Templates;
use crate::{adhoc, doc, extra_vars, validate};
use clap::Parser;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// Run converge with these command-line arguments; returns the process exit code.
pub fn main_with_args(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            let code = match error.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Exit::Success
                }
                _ => Exit::BadOptions,
            };
            // clap prints help on stdout and errors on stderr.
            let _ = error.print();
            return code.code();
        }
    };
    match cli.command {
        Some(Command::Doc { module }) => doc::run(module.as_deref()).code(),
        Some(Command::Inventory {
            inventory,
            list,
            graph,
            host,
            group,
        }) => inventory_command(&inventory, list, graph, host.as_deref(), group.as_deref()).code(),
        Some(Command::Validate {
            playbooks,
            inventory,
            extra_vars,
            roles_path,
            vault,
        }) => {
            let mut run = cli.run;
            run.playbooks = playbooks;
            run.inventory = inventory;
            run.extra_vars = extra_vars;
            run.roles_path = roles_path;
            run.vault = vault;
            run.syntax_check = true;
            run_playbooks(&run).code()
        }
        Some(Command::Completions { shell }) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "converge", &mut std::io::stdout());
            Exit::Success.code()
        }
        Some(Command::Vault {
            action,
            targets,
            vault,
            ansible,
            encrypt_vault_id,
            names,
            stdin_name,
        }) => crate::vault::command::run(&crate::vault::command::Options {
            action: match action {
                VaultAction::Encrypt => crate::vault::command::Action::Encrypt,
                VaultAction::Decrypt => crate::vault::command::Action::Decrypt,
                VaultAction::View => crate::vault::command::Action::View,
                VaultAction::Edit => crate::vault::command::Action::Edit,
                VaultAction::EncryptString => crate::vault::command::Action::EncryptString,
            },
            targets,
            request: vault.request(),
            ansible,
            encrypt_vault_id,
            names,
            stdin_name,
        })
        .code(),
        Some(Command::Man) => {
            let command = <Cli as clap::CommandFactory>::command();
            match clap_mangen::Man::new(command).render(&mut std::io::stdout()) {
                Ok(()) => Exit::Success.code(),
                Err(error) => {
                    eprintln!("error: cannot write the manual page: {error}");
                    Exit::Internal.code()
                }
            }
        }
        Some(Command::Show {
            plan,
            plan_key,
            format,
        }) => crate::reviewed::command::show(&plan, plan_key.as_deref(), format).code(),
        Some(Command::Apply {
            plan,
            plan_key,
            digest,
            reviewed_only,
            max_age,
            diff,
            verbose,
            format,
        }) => crate::reviewed::command::apply(&crate::reviewed::command::ApplyOptions {
            plan,
            plan_key,
            digest,
            reviewed_only,
            max_age,
            diff,
            verbose,
            format,
        })
        .code(),
        None => run_playbooks(&cli.run).code(),
    }
}

fn print_diagnostics(diagnostics: &Diagnostics) {
    let mut err = std::io::stderr().lock();
    for diagnostic in &diagnostics.0 {
        let _ = write!(err, "{}", diagnostic.render());
    }
    let errors = diagnostics
        .0
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 1 {
        let _ = writeln!(err, "error: {errors} problems found; no host was changed");
    } else if errors == 1 {
        let _ = writeln!(err, "no host was changed");
    }
}

fn run_playbooks(args: &RunArgs) -> Exit {
    let session = args.plan_out.as_ref().map(|_| {
        Arc::new(crate::reviewed::Session::Record(
            crate::reviewed::Recorder::default(),
        ))
    });
    // The plan key is read before anything runs, so a wrong path fails at once.
    let plan_key = match args
        .plan_key
        .as_deref()
        .map(crate::reviewed::file::PlanKey::read)
        .transpose()
    {
        Ok(key) => key,
        Err(error) => {
            eprintln!("error: {error}");
            return Exit::BadOptions;
        }
    };
    let exit = run_playbooks_with(args, session.clone());
    match (session.as_deref(), &args.plan_out) {
        (Some(crate::reviewed::Session::Record(recorder)), Some(path))
            if !matches!(exit, Exit::Invalid | Exit::BadOptions | Exit::Internal) =>
        {
            match crate::reviewed::command::write_plan(args, recorder, path, plan_key.as_ref()) {
                Ok(digest) => {
                    eprintln!("plan written to {} (digest {digest})", path.display());
                    exit
                }
                Err(error) => {
                    eprintln!("error: {error}");
                    Exit::Internal
                }
            }
        }
        _ => exit,
    }
}

/// Run the playbooks of `args`, recording or applying a reviewed plan when `session` says.
pub(crate) fn run_playbooks_with(
    args: &RunArgs,
    session: Option<Arc<crate::reviewed::Session>>,
) -> Exit {
    if args.playbooks.is_empty() {
        eprintln!("error: no playbook given\n  = hint: run `converge -i inventory.yml site.yml`, or `converge --help`");
        return Exit::BadOptions;
    }
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(shard) => shard,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::BadOptions;
        }
    };
    let vault_ids = args.vault.request().vault_ids(false);
    match crate::vault::password::load(&vault_ids, crate::vault::password::Purpose::Open) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("warning: {warning}");
            }
            crate::vault::set_secrets(loaded.secrets);
        }
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::BadOptions;
        }
    }
    converge_modules::set_show_private_diffs(args.show_private_diffs);
    let extra = match extra_vars::parse_all(&args.extra_vars) {
        Ok(extra) => extra,
        Err(diagnostic) => {
            print_diagnostics(&diagnostic.into());
            return Exit::BadOptions;
        }
    };
    let mut inventory = if args.inventory.is_empty() {
        Inventory::implicit()
    } else {
        match Inventory::load(&args.inventory) {
            Ok(inventory) => inventory,
            Err(diagnostic) => {
                print_diagnostics(&diagnostic.into());
                return Exit::Invalid;
            }
        }
    };
    if let Some(pattern) = adhoc_list_pattern(args) {
        list_adhoc_hosts(&inventory, &pattern, args, shard);
        return Exit::Success;
    }
    let load_options = LoadOptions {
        roles_path: args.roles_path.clone(),
        collections_path: LoadOptions::collections_path_from_env(),
        ..LoadOptions::default()
    };
    let mut diagnostics = Diagnostics::default();
    let mut playbooks: Vec<Playbook> = Vec::new();
    if let Some(module) = &args.module_name {
        let [pattern] = args.playbooks.as_slice() else {
            eprintln!("error: with `-m`, give exactly one host pattern instead of playbooks\n  = hint: converge -i inventory.yml web -m command -a 'uptime'");
            return Exit::BadOptions;
        };
        match adhoc::playbook(
            &pattern.display().to_string(),
            module,
            args.module_args.as_deref(),
        ) {
            Ok(book) => playbooks.push(book),
            Err(diagnostic) => {
                print_diagnostics(&diagnostic.into());
                return Exit::Invalid;
            }
        }
    }
    let playbook_paths: &[std::path::PathBuf] = if args.module_name.is_some() {
        &[]
    } else {
        &args.playbooks
    };
    for path in playbook_paths {
        match playbook::load_playbook(path, &load_options) {
            Ok(book) => playbooks.push(book),
            Err(found) => diagnostics.0.extend(found.0),
        }
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Err(diagnostic) = inventory.add_vars_dir(dir) {
            diagnostics.push(diagnostic);
        }
    }
    if diagnostics.has_errors() {
        print_diagnostics(&diagnostics);
        return Exit::Invalid;
    }
    let templates = Templates::new();
    let checked = validate::check(
        &playbooks,
        &inventory,
        &extra,
        args.limit.as_deref(),
        &templates,
    );
    if checked.diagnostics.has_errors() {
        print_diagnostics(&checked.diagnostics);
        return Exit::Invalid;
    }
    // Warnings (variables the check cannot see defined) and, with -v, the loader's notes.
    let mut warnings = checked.diagnostics.0.clone();
    if args.verbose > 0 {
        warnings.extend(playbooks.iter().flat_map(|book| book.notes.iter().cloned()));
    }
    if !warnings.is_empty() {
        print_diagnostics(&Diagnostics(warnings));
    }
    if args.list_hosts || args.list_tasks {
        list(&playbooks, &inventory, args, shard);
        return Exit::Success;
    }
    if args.syntax_check {
        for path in &args.playbooks {
            println!("playbook: {}", path.display());
        }
        if !checked.runtime_only.is_empty() {
            let names: Vec<String> = checked
                .runtime_only
                .iter()
                .map(|n| format!("`{n}`"))
                .collect();
            eprintln!(
                "note: known only at run time (registered results, set_fact, facts), not checked: {}",
                names.join(", ")
            );
        }
        return Exit::Success;
    }
    let password = match secret(
        args.ask_pass,
        args.connection_password_file.as_deref(),
        "SSH password: ",
    ) {
        Ok(password) => password,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::BadOptions;
        }
    };
    let passphrase = match secret(args.ask_key_passphrase, None, "SSH key passphrase: ") {
        Ok(passphrase) => passphrase,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::BadOptions;
        }
    };
    let become_password = match secret(
        args.ask_become_pass,
        args.become_password_file.as_deref(),
        "BECOME password: ",
    ) {
        Ok(password) => password,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::BadOptions;
        }
    };
    let prompted = match runner::prompt_vars(&playbooks, &extra) {
        Ok(prompted) => prompted,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Invalid;
        }
    };
    let options = RunOptions {
        check: args.check,
        tags: args.tags.clone(),
        skip_tags: args.skip_tags.clone(),
        limit: args.limit.clone(),
        connect: ConnectOptions {
            connection: args.connection.clone(),
            user: args.user.clone(),
            private_key: args.private_key.clone(),
            host_key_checking: args.host_key_checking.map(|mode| match mode {
                HostKeyCheckingArg::Strict => HostKeyChecking::Strict,
                HostKeyCheckingArg::AcceptNew => HostKeyChecking::AcceptNew,
                HostKeyCheckingArg::Off => HostKeyChecking::Off,
            }),
            timeout: args.timeout,
            command_timeout: args.command_timeout,
            password,
            passphrase,
        },
        become_password,
        extra_vars: extra,
        become_settings: BecomeSettings {
            enabled: args.become_root.then_some(true),
            user: args.become_user.clone(),
            method: None,
        },
        forks: args.forks as usize,
        load_options,
        shard,
        prompted,
        reviewed: session,
    };
    let mut reporters: Vec<Arc<dyn Reporter>> = Vec::new();
    match args.format {
        OutputFormat::Human => reporters.push(Arc::new(Console::stderr(args.diff, args.verbose))),
        OutputFormat::Json => reporters.push(Arc::new(JsonLines::stdout())),
    }
    let junit = args.junit.clone().map(|path| Arc::new(Junit::new(path)));
    if let Some(junit) = &junit {
        reporters.push(junit.clone());
    }
    let console = Fanout(reporters);
    let mut runner = match Runner::new(&inventory, &options, &console) {
        Ok(runner) => runner,
        Err(message) => {
            eprintln!("error: {message}");
            return Exit::Internal;
        }
    };
    let interrupt = runner.interrupt();
    let ctrl_c = watch_ctrl_c(Arc::clone(&interrupt));
    let summary = runner.run(&playbooks);
    if interrupt.requested() {
        let cleanup = runner.clean_up_after_interrupt();
        console.interrupted(&interrupt.in_progress(), &cleanup);
    }
    console.recap(&summary.stats);
    console.timing(
        summary.elapsed,
        summary
            .slowest
            .as_ref()
            .map(|(host, time)| (host.as_str(), *time)),
    );
    if let Some(message) = junit.and_then(|junit| junit.write_error()) {
        eprintln!("error: {message}");
        return Exit::Internal;
    }
    if let Some(handle) = ctrl_c {
        handle.close();
    }
    if interrupt.requested() {
        Exit::Interrupted
    } else if summary.any_failed() {
        Exit::HostFailed
    } else if summary.any_unreachable() {
        Exit::Unreachable
    } else if args.check && args.detailed_exitcode && summary.any_changed() {
        Exit::ChangesPending
    } else {
        Exit::Success
    }
}

/// Watch for Ctrl-C while the run goes on: the first asks it to stop (see
/// [`runner::Interrupt`]), a second ends the process at once. `None` when the signal cannot
/// be watched (then Ctrl-C ends the process as it always does).
fn watch_ctrl_c(interrupt: Arc<runner::Interrupt>) -> Option<signal_hook::iterator::Handle> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGINT]).ok()?;
    let handle = signals.handle();
    std::thread::Builder::new()
        .name("converge-ctrl-c".into())
        .spawn(move || {
            for _ in signals.forever() {
                if interrupt.request() {
                    eprintln!(
                        "\ninterrupted: stopping, then cleaning up (Ctrl-C again quits at once)"
                    );
                } else {
                    eprintln!("interrupted again: quitting at once");
                    std::process::exit(Exit::Interrupted.code());
                }
            }
        })
        .ok()?;
    Some(handle)
}

/// The host pattern of `converge -i INV PATTERN --list-hosts` (Ansible's ad-hoc `ansible
/// PATTERN --list-hosts`): with `-m`, or when the one argument is no file and does not end in
/// `.yml`/`.yaml` (a mistyped playbook name still gets "cannot read").
fn adhoc_list_pattern(args: &RunArgs) -> Option<String> {
    if !args.list_hosts {
        return None;
    }
    let [single] = args.playbooks.as_slice() else {
        return None;
    };
    let looks_like_playbook = single.exists()
        || single
            .extension()
            .is_some_and(|e| e == "yml" || e == "yaml");
    (args.module_name.is_some() || !looks_like_playbook).then(|| single.display().to_string())
}

/// Ansible's ad-hoc host list: `  hosts (N):` and one indented line per host.
fn list_adhoc_hosts(inventory: &Inventory, pattern: &str, args: &RunArgs, shard: Option<Shard>) {
    let hosts = runner::select_hosts(inventory, pattern, args.limit.as_deref(), shard);
    if hosts.is_empty() {
        eprintln!("warning: no host matches `{pattern}`");
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "  hosts ({}):", hosts.len());
    for host in &hosts {
        let _ = writeln!(out, "    {}", host.name);
    }
}

fn list(playbooks: &[Playbook], inventory: &Inventory, args: &RunArgs, shard: Option<Shard>) {
    let mut out = std::io::stdout().lock();
    for book in playbooks {
        let _ = writeln!(out, "\nplaybook: {}", book.path.display());
        for play in &book.plays {
            let hosts = runner::select_hosts(inventory, &play.hosts, args.limit.as_deref(), shard);
            if args.list_hosts {
                let _ = writeln!(out, "\n  play: {} ({} hosts)", play.name, hosts.len());
                for host in &hosts {
                    let _ = writeln!(out, "    {}", host.name);
                }
            }
            if args.list_tasks {
                let _ = writeln!(out, "\n  play: {}", play.name);
                let mut tasks = Vec::new();
                runner::list_tasks(&play.tasks, &mut tasks);
                for task in tasks {
                    let _ = writeln!(out, "    {task}");
                }
            }
        }
    }
}

/// `converge inventory`: print what `ansible-inventory` prints for `--list`, `--graph` or
/// `--host`.
fn inventory_command(
    sources: &[std::path::PathBuf],
    list: bool,
    graph: bool,
    host: Option<&str>,
    group: Option<&str>,
) -> Exit {
    let inventory = if sources.is_empty() {
        Inventory::implicit()
    } else {
        match Inventory::load(sources) {
            Ok(inventory) => inventory,
            Err(diagnostic) => {
                print_diagnostics(&diagnostic.into());
                return Exit::Invalid;
            }
        }
    };
    use crate::inventory::export;
    let output = if list {
        Ok(export::list(&inventory))
    } else if graph {
        let group = group.unwrap_or("all");
        export::graph(&inventory, group).ok_or_else(|| {
            format!("`--graph` needs a group name, and the inventory has no group `{group}`")
        })
    } else if let Some(name) = host {
        export::host(&inventory, name).ok_or_else(|| format!("the inventory has no host `{name}`"))
    } else {
        Err("give one of `--list`, `--graph` or `--host NAME`".to_string())
    };
    match output {
        Ok(text) => {
            println!("{text}");
            Exit::Success
        }
        Err(message) => {
            eprintln!("error: {message}");
            Exit::BadOptions
        }
    }
}

/// Print one diagnostic (used by subcommands).
pub fn print_error(diagnostic: Diagnostic) {
    print_diagnostics(&diagnostic.into());
}

/// A password asked for on the terminal or read from a file (first line), or none.
fn secret(ask: bool, file: Option<&Path>, prompt: &str) -> Result<Option<Secret>, String> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|error| format!("cannot read password file `{}`: {error}", file.display()))?;
        let line = text.lines().next().unwrap_or("").to_string();
        return Ok(Some(Secret(line)));
    }
    if ask {
        let password = rpassword::prompt_password(prompt)
            .map_err(|error| format!("cannot read a password from the terminal: {error}"))?;
        return Ok(Some(Secret(password)));
    }
    Ok(None)
}
