//! `ip6tables`/`iptables` plans against a fake netfilter host: plan, apply, plan again.
//!
//! `Fake` wraps a [`MemoryHost`] (files) and acts out the commands the modules emit on a
//! ruleset it keeps: the read scripts (`-S`, `-C`, `-save`, the scratch-namespace load),
//! `-A/-I/-D/-P/-F`, and the ruleset apply script (which replaces the tables it is given).

use converge_modules::host::{FileStat, HostError, WriteOutcome};
use converge_modules::ip6tables::save::{self, Family, Rule, Ruleset};
use converge_modules::memory_host::MemoryHost;
use converge_modules::module::{Context, ModuleError};
use converge_modules::{Command, Facts, Host, Output, Plan, Program, Step, WriteOptions};
use serde_json::{json, Value};

struct Fake {
    files: MemoryHost,
    family: Family,
    live: Ruleset,
    /// Whether `unshare -n` works (else the module falls back to its own normaliser).
    scratch_namespace: bool,
    ran: Vec<Command>,
}

fn ok(stdout: String) -> Output {
    Output {
        status: 0,
        stdout: stdout.into_bytes(),
        stderr: Vec::new(),
    }
}

fn fail(status: i32, stderr: &str) -> Output {
    Output {
        status,
        stdout: Vec::new(),
        stderr: stderr.as_bytes().to_vec(),
    }
}

impl Fake {
    /// A host with netfilter-persistent installed (its plugins load rules.v4/rules.v6).
    fn new(family: Family, live: &str) -> Fake {
        Fake {
            files: MemoryHost::new(),
            family,
            live: save::normalise(&save::parse(live).expect("live parses"), family),
            scratch_namespace: true,
            ran: Vec::new(),
        }
        .with_file(
            converge_modules::ip6tables::debian_boot::persistent_plugin(Family::V4),
            "",
        )
        .with_file(
            converge_modules::ip6tables::debian_boot::persistent_plugin(Family::V6),
            "",
        )
    }

    /// The same host without netfilter-persistent.
    fn without_netfilter_persistent(mut self) -> Fake {
        for family in [Family::V4, Family::V6] {
            let _ = self
                .files
                .remove(converge_modules::ip6tables::debian_boot::persistent_plugin(
                    family,
                ));
        }
        self
    }

    fn with_file(mut self, path: &str, content: &str) -> Fake {
        self.files = self.files.with_file(path, content);
        self
    }

    fn live_text(&self) -> String {
        save::render(&self.live)
    }

    fn table_mut(&mut self, name: &str) -> &mut save::Table {
        if self.live.table(name).is_none() {
            let empty = save::Table {
                name: name.into(),
                chains: Vec::new(),
            };
            self.live
                .tables
                .push(save::normalise_table(&empty, self.family));
        }
        self.live
            .tables
            .iter_mut()
            .find(|t| t.name == name)
            .expect("table")
    }

    fn file_section(&self, path: &str) -> String {
        match self.files.files.get(path) {
            Some(entry) if !path.is_empty() => format!(
                "@@file {} {}\n{}\n",
                if entry.mode & 0o111 != 0 { "yes" } else { "no" },
                entry.content.len(),
                String::from_utf8_lossy(&entry.content)
            ),
            _ => "@@nofile\n".into(),
        }
    }

    fn header(&self) -> String {
        let command = self.family.command();
        format!("@@version {command} v1.8.9 (nf_tables)\n@@backend {command}-nft\n")
    }

    /// `-S [CHAIN]` as ip6tables prints it.
    fn listing(&self, table: &str, chain: &str) -> Option<String> {
        let empty = save::normalise_table(
            &save::Table {
                name: table.into(),
                chains: Vec::new(),
            },
            self.family,
        );
        let table = self.live.table(table).cloned().unwrap_or(empty);
        let mut out = String::new();
        for c in table
            .chains
            .iter()
            .filter(|c| chain.is_empty() || c.name == chain)
        {
            match &c.policy {
                Some(policy) => out.push_str(&format!("-P {} {policy}\n", c.name)),
                None => out.push_str(&format!("-N {}\n", c.name)),
            }
        }
        for c in table
            .chains
            .iter()
            .filter(|c| chain.is_empty() || c.name == chain)
        {
            for rule in &c.rules {
                out.push_str(&format!("-A {} {}\n", c.name, save::render_words(&rule.0)));
            }
        }
        (chain.is_empty() || table.chain(chain).is_some()).then_some(out)
    }

    fn rule_listing(&self, args: &[String]) -> Output {
        let (table, chain) = (&args[1], &args[2]);
        let mut out = String::from("@@chain\n");
        match self.listing(table, chain) {
            Some(listing) => out.push_str(&format!("{listing}@@rc 0\n")),
            None => out.push_str("ip6tables: No chain/target/match by that name.\n@@rc 1\n"),
        }
        ok(out)
    }

    fn rule_check(&self, args: &[String]) -> Output {
        let (table, chain, rule) = (&args[1], &args[2], &args[3..]);
        let mut out = String::new();
        {
            out.push_str("@@check\n");
            if rule.iter().any(|w| w == "NOPE") {
                out.push_str("ip6tables v1.8.9 (nf_tables): Couldn't load target `NOPE'\n@@rc 2\n");
            } else {
                let want = Rule(save::normalise_rule(rule, self.family));
                let found = self
                    .live
                    .table(table)
                    .and_then(|t| t.chain(chain))
                    .is_some_and(|c| c.rules.contains(&want));
                out.push_str(if found { "@@rc 0\n" } else { "@@rc 1\n" });
            }
        }
        ok(out)
    }

    fn ruleset_read(&self, args: &[String], stdin: &[u8]) -> Output {
        let mut out = self.header();
        out.push_str(&format!(
            "@@live\n{}@@rc 0\n@@canonical\n",
            self.live_text()
        ));
        let text = String::from_utf8_lossy(stdin);
        if !self.scratch_namespace {
            out.push_str("@@rc unavailable\n");
        } else if let Some(at) = text.lines().position(|l| l.contains("NOPE")) {
            out.push_str(&format!(
                "ip6tables-restore v1.8.9 (nf_tables): Couldn't load target `NOPE'\nError occurred at line: {}\n@@rc 2\n",
                at + 1
            ));
        } else {
            // The "kernel": what it was given, with `# Generated` comments around it.
            out.push_str(&format!("# Generated by fake\n{text}# Completed\n@@rc 0\n"));
        }
        // $2..$5: the persisted file and three boot files; then paths whose existence counts.
        for path in args.iter().skip(1).take(4) {
            out.push_str(&self.file_section(path));
        }
        for path in args.iter().skip(5) {
            if self.files.files.contains_key(path) {
                out.push_str(&format!("@@exists {path}\n"));
            }
        }
        ok(out)
    }

    fn ruleset_apply(&mut self, args: &[String], stdin: &[u8]) -> Output {
        let text = String::from_utf8_lossy(stdin);
        if !args[3].is_empty() {
            let files = std::mem::take(&mut self.files);
            self.files = files.with_file(&args[3], stdin.to_vec());
            if let Some(entry) = self.files.files.get_mut(&args[3]) {
                entry.mode = 0o600;
            }
        }
        let Ok(new) = save::parse(&text) else {
            return fail(2, "Error occurred at line: 1");
        };
        for table in save::normalise(&new, self.family).tables {
            self.live.tables.retain(|t| t.name != table.name);
            self.live.tables.push(table);
        }
        ok(String::new())
    }

    /// `BACKEND -w [SECONDS] -t TABLE OP CHAIN [NUM] RULE…`
    fn rule_command(&mut self, argv: &[String]) -> Option<Output> {
        let family = self.family;
        let at = argv.iter().position(|w| w == "-t")?;
        let table = argv.get(at + 1)?.clone();
        let op = argv.get(at + 2)?.as_str();
        let chain = argv.get(at + 3).cloned().unwrap_or_default();
        let rest = argv.get(at + 4..).unwrap_or_default().to_vec();
        let target = self.table_mut(&table);
        match op {
            "-N" => target.chains.push(save::Chain {
                name: chain,
                policy: None,
                rules: Vec::new(),
            }),
            "-X" => target.chains.retain(|c| c.name != chain),
            "-F" => {
                for c in target
                    .chains
                    .iter_mut()
                    .filter(|c| chain.is_empty() || c.name == chain)
                {
                    c.rules.clear();
                }
            }
            "-P" => {
                let c = target.chains.iter_mut().find(|c| c.name == chain)?;
                c.policy = rest.first().cloned();
            }
            "-A" | "-I" | "-D" => {
                let c = target.chains.iter_mut().find(|c| c.name == chain)?;
                let (position, words) = match (op, rest.first().map(|w| w.parse::<usize>())) {
                    ("-I", Some(Ok(n))) => (n - 1, rest[1..].to_vec()),
                    ("-I", _) => (0, rest.clone()),
                    _ => (c.rules.len(), rest.clone()),
                };
                let rule = Rule(save::normalise_rule(&words, family));
                if op == "-D" {
                    let at = c.rules.iter().position(|r| *r == rule)?;
                    c.rules.remove(at);
                } else {
                    c.rules.insert(position.min(c.rules.len()), rule);
                }
            }
            _ => return None,
        }
        Some(ok(String::new()))
    }
}

impl Host for Fake {
    fn name(&self) -> &str {
        "fake"
    }

    fn run(&mut self, command: &Command) -> Result<Output, HostError> {
        self.ran.push(command.clone());
        let Program::Argv(argv) = &command.program else {
            return Ok(fail(127, "shell commands are not expected"));
        };
        let stdin = command.stdin.clone().unwrap_or_default();
        if argv.first().map(String::as_str) == Some("sh") {
            let script = &argv[2];
            let args = &argv[4..];
            return Ok(if script.contains("@@check") {
                self.rule_check(args)
            } else if script.contains("@@chain") {
                self.rule_listing(args)
            } else if script.contains("@@canonical") {
                self.ruleset_read(args, &stdin)
            } else if script.contains("@@version") {
                // The rule form's first read: `-V`.
                ok(self.header())
            } else if script.contains("armed") {
                self.ruleset_apply(args, &stdin)
            } else if script.contains("ln -sf") {
                // A symlink, kept as a file holding its target.
                let files = std::mem::take(&mut self.files);
                self.files = files.with_file(&args[1], args[0].as_bytes().to_vec());
                ok(String::new())
            } else {
                fail(127, "unknown script")
            });
        }
        if argv.get(1).map(String::as_str) == Some("-w") {
            return Ok(self
                .rule_command(argv)
                .unwrap_or_else(|| fail(1, "Bad rule")));
        }
        self.files.run(command)
    }

    fn read_file(&mut self, path: &str) -> Result<Option<Vec<u8>>, HostError> {
        self.files.read_file(path)
    }

    fn stat(&mut self, path: &str) -> Result<Option<FileStat>, HostError> {
        self.files.stat(path)
    }

    fn write_file(
        &mut self,
        path: &str,
        content: &[u8],
        options: &WriteOptions,
    ) -> Result<WriteOutcome, HostError> {
        self.files.write_file(path, content, options)
    }

    fn remove(&mut self, path: &str) -> Result<(), HostError> {
        self.files.remove(path)
    }
}

fn facts(os_family: &str) -> Facts {
    Facts {
        os_family: os_family.into(),
        ..Facts::default()
    }
}

fn plan(module: &str, args: Value, host: &mut Fake, facts: &Facts) -> Result<Plan, ModuleError> {
    converge_modules::find(module)
        .expect("module is registered")
        .plan(&args, host, &Context { facts })
}

/// Plan, apply, and plan again (which must change nothing); returns the first plan.
fn converge(module: &str, args: Value, host: &mut Fake, facts: &Facts) -> Plan {
    let first = plan(module, args.clone(), host, facts).expect("plan");
    first.apply(host).expect("apply");
    let again = plan(module, args, host, facts).expect("replan");
    assert!(
        !again.is_change(),
        "not idempotent: {:?} / {:?}",
        again.changes,
        again.steps
    );
    first
}

fn argv(step: &Step) -> Vec<String> {
    match step {
        Step::Run { command, .. } => match &command.program {
            Program::Argv(argv) => argv.clone(),
            Program::Shell(script) => vec![script.clone()],
        },
        Step::WriteFile { path, .. } => vec![format!("write {path}")],
        Step::Remove { path } => vec![format!("remove {path}")],
    }
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/ip6tables/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

const SERVER: &str = "*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A INPUT -p tcp --dport 22 -j ACCEPT
-A INPUT -p tcp --dport 8080 -j ACCEPT
-A FORWARD -i virbr0 -o eth0 -j ACCEPT
COMMIT
";

#[test]
fn ruleset_on_debian_plans_per_chain_diffs_applies_with_a_guard_and_persists() {
    let mut host = Fake::new(Family::V6, "");
    let first = converge(
        "ip6tables",
        json!({"ruleset": SERVER}),
        &mut host,
        &facts("Debian"),
    );
    let subjects: Vec<&str> = first.changes.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "/ip6tables/filter/INPUT",
            "/ip6tables/filter/FORWARD",
            "/etc/iptables/rules.v6"
        ]
    );
    assert_eq!(
        first.changes[0],
        converge_modules::Change::content(
            "/ip6tables/filter/INPUT",
            Some(":INPUT ACCEPT\n".into()),
            Some(
                ":INPUT DROP\n-A INPUT -i lo -j ACCEPT\n-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT\n"
                    .into()
            )
        )
    );
    // One read, then the apply script with the rendered ruleset, then the persisted copy.
    let run = argv(&first.steps[0]);
    assert_eq!(run[4], "ip6tables-nft");
    assert!(run[5].starts_with("/run/converge-ip6tables-"), "{run:?}");
    assert_eq!(run[6], "20");
    assert_eq!(run[7], "/etc/iptables/rules.v6");
    assert_eq!(
        run[8],
        "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n",
        "a rollback empties the tables the change touched before restoring the saved ones"
    );
    let Step::Run { command, .. } = &first.steps[0] else {
        panic!("first step runs the apply script")
    };
    let rendered = String::from_utf8(command.stdin.clone().unwrap_or_default()).expect("text");
    assert!(rendered
        .starts_with("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"));
    assert_eq!(
        first.steps.len(),
        1,
        "the apply script also writes the persisted copy"
    );
    assert_eq!(host.files.text("/etc/iptables/rules.v6"), Some(rendered));
    let confirm = first.confirm.expect("a lock-out guard");
    assert_eq!(confirm.within_seconds, 20);
    let Program::Argv(disarm) = &confirm.command.program else {
        panic!("the confirmation is an argv")
    };
    assert_eq!(disarm[0], "sh");
    assert!(disarm[2].starts_with("rm \"$1\""), "{disarm:?}");
    assert_eq!(disarm[4], format!("{}/armed", run[5]));
    assert_eq!(first.result["backend"], json!("ip6tables-nft"));
}

#[test]
fn planning_reads_the_host_in_one_round_trip_and_changes_nothing() {
    let mut host = Fake::new(Family::V6, "");
    let planned = plan(
        "ip6tables",
        json!({"ruleset": SERVER}),
        &mut host,
        &facts("Slackware"),
    )
    .expect("plan");
    assert!(planned.is_change());
    assert_eq!(host.ran.len(), 1, "one command while planning");
    assert_eq!(host.live, Ruleset::default());
    assert!(host.files.text("/etc/ip6tables.rules").is_none());
}

#[test]
fn live_rules_in_the_kernels_spelling_with_counters_match_what_a_person_wrote() {
    for live in ["handwritten.nft-save.rules", "legacy-counters.save.rules"] {
        let mut host = Fake::new(Family::V6, &fixture(live));
        let desired = fixture("handwritten.rules");
        let rendered = save::render(&save::normalise(
            &save::parse(&desired).expect("parses"),
            Family::V6,
        ));
        host = host.with_file("/etc/iptables/rules.v6", &rendered);
        for scratch in [true, false] {
            host.scratch_namespace = scratch;
            let planned = plan(
                "ip6tables",
                json!({"ruleset": desired}),
                &mut host,
                &facts("Debian"),
            )
            .expect("plan");
            assert!(!planned.is_change(), "{live}: {:?}", planned.changes);
        }
    }
}

#[test]
fn slackware_persists_to_etc_ip6tables_rules_and_loads_it_from_converges_own_script() {
    let mut host = Fake::new(Family::V6, "");
    let first = converge(
        "ip6tables",
        json!({"rules": [":INPUT DROP", "-A INPUT -p tcp --dport 22 -j ACCEPT"]}),
        &mut host,
        &facts("Slackware"),
    );
    let subjects: Vec<&str> = first.changes.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "/ip6tables/filter/INPUT",
            "/etc/ip6tables.rules",
            "/etc/rc.d/rc.converge-firewall",
            "/etc/rc.d/rc.firewall"
        ]
    );
    let steps: Vec<String> = first.steps.iter().map(|s| argv(s)[0].clone()).collect();
    assert_eq!(
        steps,
        [
            "write /etc/rc.d/rc.converge-firewall",
            "write /etc/rc.d/rc.firewall",
            "sh"
        ],
        "boot's files before the restore"
    );
    assert_eq!(argv(&first.steps[2])[7], "/etc/ip6tables.rules");
    assert_eq!(
        first.result["loaded_at_boot_from"],
        json!("/etc/rc.d/rc.firewall (start)")
    );
    for path in ["/etc/rc.d/rc.firewall", "/etc/rc.d/rc.converge-firewall"] {
        assert_eq!(host.files.files[path].mode, 0o755, "{path}");
    }
    assert_eq!(host.files.files["/etc/ip6tables.rules"].mode, 0o600);
    let script = host
        .files
        .text("/etc/rc.d/rc.converge-firewall")
        .expect("text");
    assert!(
        script.ends_with(
            "# BEGIN converge ip6tables\nif [ -r /etc/ip6tables.rules ]; then\n  \
             /usr/sbin/ip6tables-restore < /etc/ip6tables.rules\nfi\n# END converge ip6tables\n"
        ),
        "{script}"
    );
    // The IPv4 module adds its own block beside it; rc.firewall already calls the script.
    let mut host4 = Fake::new(Family::V4, "");
    host4.files = std::mem::take(&mut host.files);
    let v4 = converge(
        "iptables",
        json!({"rules": ["-A INPUT -p tcp --dport 22 -j ACCEPT"]}),
        &mut host4,
        &facts("Slackware"),
    );
    assert!(v4
        .changes
        .iter()
        .all(|c| c.subject != "/etc/rc.d/rc.firewall"));
    let text = host4
        .files
        .text("/etc/rc.d/rc.converge-firewall")
        .expect("text");
    assert!(text.contains("# BEGIN converge ip6tables\n"));
    assert!(text.ends_with(
        "# BEGIN converge iptables\nif [ -r /etc/iptables.rules ]; then\n  /usr/sbin/iptables-restore < /etc/iptables.rules\nfi\n# END converge iptables\n"
    ));
}

#[test]
fn an_admin_rc_firewall_that_ends_in_exit_and_is_disabled_keeps_its_text_and_mode() {
    let admin = "#!/bin/sh\niptables -P INPUT DROP\nexit 0\n";
    let mut host = Fake::new(Family::V6, "")
        .with_file("/etc/rc.d/rc.firewall", admin)
        .with_file("/etc/rc.d/rc.local", "#!/bin/sh\n");
    host.files
        .files
        .get_mut("/etc/rc.d/rc.firewall")
        .expect("file")
        .mode = 0o644;
    host.files
        .files
        .get_mut("/etc/rc.d/rc.local")
        .expect("file")
        .mode = 0o755;
    let first = converge(
        "ip6tables",
        json!({"rules": ["-A INPUT -j ACCEPT"], "rollback_timeout": 0}),
        &mut host,
        &facts("Slackware"),
    );
    assert!(
        first.confirm.is_none(),
        "rollback_timeout 0 disables the guard"
    );
    assert_eq!(
        host.files.text("/etc/rc.d/rc.firewall").as_deref(),
        Some(admin)
    );
    assert_eq!(host.files.files["/etc/rc.d/rc.firewall"].mode, 0o644);
    assert_eq!(host.files.files["/etc/rc.d/rc.local"].mode, 0o755);
    assert!(host
        .files
        .text("/etc/rc.d/rc.local")
        .is_some_and(|t| t.contains("  /etc/rc.d/rc.converge-firewall\n")));
    assert_eq!(
        first.result["loaded_at_boot_from"],
        json!("/etc/rc.d/rc.local")
    );
    assert!(
        first.changes.iter().all(|c| !c.subject.contains("mode")),
        "{:?}",
        first.changes
    );
}

#[test]
fn only_the_persisted_file_differs_so_no_ruleset_is_restored_and_no_guard_armed() {
    let mut host = Fake::new(Family::V6, SERVER);
    let first = converge(
        "ip6tables",
        json!({"ruleset": SERVER, "persist_file": "/etc/firewall/v6.rules"}),
        &mut host,
        &facts("Debian"),
    );
    // netfilter-persistent does not load this file: converge's own loader does.
    let subjects: Vec<&str> = first.changes.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "/etc/firewall/v6.rules",
            "/etc/network/if-pre-up.d/converge-ip6tables"
        ]
    );
    assert!(first.confirm.is_none());
    let steps: Vec<Vec<String>> = first.steps.iter().map(argv).collect();
    assert_eq!(
        steps,
        [
            ["write /etc/network/if-pre-up.d/converge-ip6tables"],
            ["write /etc/firewall/v6.rules"]
        ]
    );
}

#[test]
fn a_ruleset_only_touches_the_tables_it_names_and_removes_stale_user_chains() {
    let live =
        "*nat\n:POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -s 10.0.0.0/8 -j MASQUERADE\nCOMMIT\n\
                *filter\n:INPUT ACCEPT [0:0]\n:old - [0:0]\n-A INPUT -j old\nCOMMIT\n";
    let mut host = Fake::new(Family::V4, live);
    let first = converge(
        "iptables",
        json!({"ruleset": "*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", "persist": false}),
        &mut host,
        &facts("Debian"),
    );
    let subjects: Vec<&str> = first.changes.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(subjects, ["/iptables/filter/INPUT", "/iptables/filter/old"]);
    assert_eq!(
        first.changes[1],
        converge_modules::Change::content("/iptables/filter/old", Some(":old -\n".into()), None)
    );
    assert!(host
        .live
        .table("nat")
        .is_some_and(|t| t.chain("POSTROUTING").is_some_and(|c| c.rules.len() == 1)));
}

#[test]
fn the_kernel_rejecting_the_ruleset_names_the_line() {
    let mut host = Fake::new(Family::V6, "");
    let error = plan(
        "ip6tables",
        json!({"ruleset": "*filter\n-A INPUT -p tcp -j NOPE\nCOMMIT\n"}),
        &mut host,
        &facts("Debian"),
    )
    .expect_err("rejected");
    let text = error.to_string();
    assert!(
        text.contains("rejects the ruleset at `-A INPUT -p tcp -j NOPE`"),
        "{text}"
    );
}

#[test]
fn ruleset_text_errors_name_the_line_and_say_the_fix() {
    let mut host = Fake::new(Family::V6, "");
    let error = plan(
        "ip6tables",
        json!({"ruleset": "*filter\n-A web -j ACCEPT\nCOMMIT\n"}),
        &mut host,
        &facts("Debian"),
    )
    .expect_err("undeclared chain");
    assert_eq!(
        error.to_string(),
        "the ruleset does not parse, line 2: chain `web` is not declared in table `filter`; add `:web - [0:0]` before its rules"
    );
    assert!(host.ran.is_empty(), "nothing read for a broken ruleset");
}

#[test]
fn rule_form_appends_once_with_the_kernels_spelling() {
    let mut host = Fake::new(Family::V6, "");
    let args = json!({
        "chain": "INPUT", "protocol": "tcp", "destination_port": "22",
        "ctstate": "NEW", "jump": "ACCEPT", "comment": "ssh"
    });
    let first = converge("ip6tables", args, &mut host, &facts("Debian"));
    // Ansible's `construct_rule` order: the kernel stores the matches in the order they are
    // loaded, so the same order leaves the same rule as an Ansible run.
    assert_eq!(
        argv(&first.steps[0]),
        [
            "ip6tables-nft",
            "-w",
            "-t",
            "filter",
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "-j",
            "ACCEPT",
            "--destination-port",
            "22",
            "-m",
            "conntrack",
            "--ctstate",
            "NEW",
            "-m",
            "comment",
            "--comment",
            "ssh"
        ]
    );
    assert_eq!(
        first.changes,
        [converge_modules::Change::value(
            "/ip6tables/filter/INPUT",
            None,
            Some("-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m comment --comment ssh -j ACCEPT".into())
        )]
    );
    assert_eq!(
        first.result["rule"],
        json!("-p tcp -j ACCEPT --destination-port 22 -m conntrack --ctstate NEW -m comment --comment ssh")
    );
    assert_eq!(
        host.ran.len(),
        6,
        "plan (3 reads: -V, the chain, -C) + apply (1) + replan (2 reads: the chain shows the rule)"
    );
    assert_eq!(first.result["ip_version"], json!("ipv6"));
}

#[test]
fn rule_form_inserts_at_a_position_and_removes_with_state_absent() {
    let mut host = Fake::new(
        Family::V6,
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -j DROP\nCOMMIT\n",
    );
    let first = converge(
        "ip6tables",
        json!({"chain": "INPUT", "action": "insert", "rule_num": "2", "protocol": "tcp", "destination_port": "8080", "jump": "ACCEPT"}),
        &mut host,
        &facts("Debian"),
    );
    assert_eq!(&argv(&first.steps[0])[4..7], ["-I", "INPUT", "2"]);
    let input = host
        .live
        .table("filter")
        .and_then(|t| t.chain("INPUT"))
        .cloned()
        .expect("INPUT");
    assert_eq!(
        input.rules[1].0[..],
        ["-p", "tcp", "-m", "tcp", "--dport", "8080", "-j", "ACCEPT"]
    );
    let removed = converge(
        "ip6tables",
        json!({"chain": "INPUT", "jump": "DROP", "state": "absent"}),
        &mut host,
        &facts("Debian"),
    );
    assert_eq!(&argv(&removed.steps[0])[4..], ["-D", "INPUT", "-j", "DROP"]);
    assert_eq!(
        removed.changes,
        [converge_modules::Change::value(
            "/ip6tables/filter/INPUT",
            Some("-A INPUT -j DROP".into()),
            None
        )]
    );
}

#[test]
fn policy_and_flush_change_only_when_needed() {
    let mut host = Fake::new(
        Family::V6,
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\nCOMMIT\n",
    );
    let first = converge(
        "ip6tables",
        json!({"chain": "INPUT", "policy": "DROP"}),
        &mut host,
        &facts("Debian"),
    );
    assert_eq!(
        first.changes,
        [converge_modules::Change::value(
            "/ip6tables/filter/INPUT policy",
            Some("ACCEPT".into()),
            Some("DROP".into())
        )]
    );
    assert_eq!(&argv(&first.steps[0])[4..], ["-P", "INPUT", "DROP"]);
    let flushed = converge(
        "ip6tables",
        json!({"chain": "INPUT", "flush": true}),
        &mut host,
        &facts("Debian"),
    );
    assert_eq!(&argv(&flushed.steps[0])[4..], ["-F", "INPUT"]);
    let error = plan(
        "ip6tables",
        json!({"chain": "INPUT", "policy": "DROP", "table": "nat"}),
        &mut Fake::new(Family::V6, "*nat\n:custom - [0:0]\nCOMMIT\n"),
        &facts("Debian"),
    );
    assert!(error.is_ok(), "nat INPUT is built in");
    let error = plan(
        "ip6tables",
        json!({"chain": "custom", "policy": "DROP", "table": "nat"}),
        &mut Fake::new(Family::V6, "*nat\n:custom - [0:0]\nCOMMIT\n"),
        &facts("Debian"),
    )
    .expect_err("user chains have no policy");
    assert!(error.to_string().contains("has no policy"), "{error}");
}

#[test]
fn iptables_masquerades_the_guests_ipv4_in_the_nat_table() {
    let mut host = Fake::new(Family::V4, "");
    let first = converge(
        "iptables",
        json!({"table": "nat", "chain": "POSTROUTING", "source": "192.168.122.0/24",
               "out_interface": "eth0", "jump": "MASQUERADE"}),
        &mut host,
        &facts("Slackware"),
    );
    assert_eq!(
        argv(&first.steps[0]),
        [
            "iptables-nft",
            "-w",
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-s",
            "192.168.122.0/24",
            "-j",
            "MASQUERADE",
            "-o",
            "eth0"
        ]
    );
    assert_eq!(first.result["ip_version"], json!("ipv4"));
}

#[test]
fn values_reach_the_command_as_single_arguments_and_cannot_inject() {
    let mut host = Fake::new(Family::V6, "");
    let comment = "x\"; rm -rf / ; echo '";
    let first = converge(
        "ip6tables",
        json!({"chain": "INPUT", "jump": "ACCEPT", "comment": comment}),
        &mut host,
        &facts("Debian"),
    );
    let words = argv(&first.steps[0]);
    assert!(words.iter().any(|w| w == comment), "{words:?}");
    assert!(matches!(&host.ran[2].program, Program::Argv(a) if a.iter().any(|w| w == comment)));
    for (args, argument) in [
        (json!({"chain": "INPUT; reboot", "jump": "ACCEPT"}), "chain"),
        (json!({"chain": "IN\nPUT", "jump": "ACCEPT"}), "chain"),
        (
            json!({"chain": "INPUT", "jump": "ACCEPT", "comment": "a\nb"}),
            "comment",
        ),
        (
            json!({"chain": "INPUT", "jump": "ACCEPT", "source": "::1 -j DROP"}),
            "source",
        ),
        (json!({"chain": "INPUT", "jump": "ACC\"EPT"}), "jump"),
        (
            json!({"chain": "INPUT", "jump": "ACCEPT", "in_interface": "--help"}),
            "in_interface",
        ),
        (
            json!({"chain": "INPUT", "destination_port": "22", "jump": "ACCEPT"}),
            "destination_port",
        ),
    ] {
        let error =
            plan("ip6tables", args.clone(), &mut host, &facts("Debian")).expect_err("rejected");
        match error {
            ModuleError::Args(found) => {
                assert_eq!(found.argument.as_deref(), Some(argument), "{args}: {found}")
            }
            other => panic!("{args}: {other}"),
        }
    }
}

#[test]
fn arguments_of_the_two_forms_do_not_mix() {
    let mut host = Fake::new(Family::V6, "");
    for (args, message) in [
        (
            json!({"ruleset": SERVER, "chain": "INPUT"}),
            "belongs to the rule form",
        ),
        (
            json!({"ruleset": SERVER, "rules": []}),
            "exclude each other",
        ),
        (
            json!({"chain": "INPUT", "jump": "ACCEPT", "persist_file": "/x"}),
            "need the ruleset form",
        ),
        (json!({"jump": "ACCEPT"}), "needs `chain`"),
        (
            json!({"chain": "INPUT", "flush": true, "policy": "DROP"}),
            "`flush` and `policy` exclude each other",
        ),
        (
            json!({"chain": "INPUT", "log_prefix": "x", "jump": "DROP"}),
            "only be used with the LOG jump target",
        ),
        (
            json!({"chain": "INPUT", "match_set": "bad", "jump": "DROP"}),
            "needs `match_set_flags`",
        ),
        (
            json!({"chain": "INPUT", "tcp_flags": {"flags": ["ALL"]}, "jump": "DROP"}),
            "needs both `flags` and `flags_set`",
        ),
        (
            json!({"chain": "INPUT", "jump": "ACCEPT", "dport": 22}),
            "unknown argument `dport`",
        ),
    ] {
        let error =
            plan("ip6tables", args.clone(), &mut host, &facts("Debian")).expect_err("rejected");
        assert!(error.to_string().contains(message), "{args}: {error}");
    }
    assert!(host.ran.is_empty());
}

#[test]
fn a_rule_the_host_cannot_check_or_a_missing_chain_fails_with_a_hint() {
    let mut host = Fake::new(Family::V6, "");
    let error = plan(
        "ip6tables",
        json!({"chain": "INPUT", "jump": "NOPE"}),
        &mut host,
        &facts("Debian"),
    )
    .expect_err("bad target");
    assert!(error.to_string().contains("rejects the rule"), "{error}");
    let error = plan(
        "ip6tables",
        json!({"chain": "web", "jump": "ACCEPT"}),
        &mut host,
        &facts("Debian"),
    )
    .expect_err("missing chain");
    let ModuleError::Failed { message, hint } = error else {
        panic!("failed")
    };
    assert!(message.contains("cannot list chain `web`"), "{message}");
    assert!(hint
        .unwrap_or_default()
        .contains("create chain `web` first"));
}

/// Every Ansible argument turns into exactly the words Ansible's `construct_rule` builds
/// (the fixture was produced by ansible-core 2.19's own function; see construct_rule.py).
#[test]
fn rule_words_are_the_words_ansibles_construct_rule_builds() {
    let text = std::fs::read_to_string(format!(
        "{}/tests/fixtures/iptables/construct_rule.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let fixture: Value = serde_json::from_str(&text).expect("json");
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20);
    for case in cases {
        let args: converge_modules::ip6tables::NetfilterArgs =
            serde_json::from_value(case["args"].clone()).expect("args deserialize");
        let family = if case["args"]["ip_version"] == json!("ipv6") {
            Family::V6
        } else {
            Family::V4
        };
        let words = converge_modules::ip6tables::rule::rule_words(&args, family)
            .unwrap_or_else(|error| panic!("{}: {error}", case["args"]));
        let expected: Vec<String> =
            serde_json::from_value(case["ansible_rule"].clone()).expect("words");
        assert_eq!(words, expected, "{}", case["args"]);
    }
}

#[test]
fn numbers_from_loop_items_are_accepted_where_ansible_takes_strings() {
    let mut host = Fake::new(Family::V4, "");
    for port in [22, 80] {
        converge(
            "iptables",
            json!({"chain": "INPUT", "protocol": "tcp", "destination_port": port,
                   "match": "tcp", "ctstate": "NEW", "jump": "ACCEPT",
                   "comment": format!("port {port}")}),
            &mut host,
            &facts("Debian"),
        );
    }
    let first = converge(
        "iptables",
        json!({"chain": "INPUT", "protocol": "udp", "destination_ports": [53, "5353"],
               "limit": "10/second", "limit_burst": 20, "jump": "ACCEPT"}),
        &mut host,
        &facts("Debian"),
    );
    assert_eq!(
        &argv(&first.steps[0])[6..],
        [
            "-p",
            "udp",
            "-j",
            "ACCEPT",
            "-m",
            "multiport",
            "--dports",
            "53,5353",
            "-m",
            "limit",
            "--limit",
            "10/second",
            "--limit-burst",
            "20"
        ]
    );
    assert_eq!(
        host.live_text()
            .lines()
            .filter(|l| l.starts_with("-A INPUT"))
            .collect::<Vec<_>>(),
        [
            "-A INPUT -p tcp -m tcp --dport 22 -m conntrack --ctstate NEW -m comment --comment \"port 22\" -j ACCEPT",
            "-A INPUT -p tcp -m tcp --dport 80 -m conntrack --ctstate NEW -m comment --comment \"port 80\" -j ACCEPT",
            "-A INPUT -p udp -m multiport --dports 53,5353 -m limit --limit 10/second --limit-burst 20 -j ACCEPT",
        ]
    );
}

#[test]
fn insert_at_rule_num_checks_with_dash_c_and_does_not_duplicate_a_rule_elsewhere() {
    let mut host = Fake::new(
        Family::V4,
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\nCOMMIT\n",
    );
    let first = converge(
        "iptables",
        json!({"chain": "INPUT", "source": "192.0.2.66", "jump": "DROP",
               "action": "insert", "rule_num": 1, "wait": 5}),
        &mut host,
        &facts("Debian"),
    );
    assert_eq!(
        argv(&first.steps[0]),
        [
            "iptables-nft",
            "-w",
            "5",
            "-t",
            "filter",
            "-I",
            "INPUT",
            "1",
            "-s",
            "192.0.2.66",
            "-j",
            "DROP"
        ]
    );
    assert_eq!(
        first.changes,
        [converge_modules::Change::value(
            "/iptables/filter/INPUT",
            None,
            Some("-I INPUT 1 -s 192.0.2.66/32 -j DROP".into())
        )]
    );
    // The rule exists (at position 3 now): `-C` finds it wherever it is, as for Ansible.
    let again = plan(
        "iptables",
        json!({"chain": "INPUT", "protocol": "tcp", "destination_port": 22, "jump": "ACCEPT",
               "action": "insert", "rule_num": "1"}),
        &mut host,
        &facts("Debian"),
    )
    .expect("plan");
    assert!(!again.is_change(), "{:?}", again.changes);
    // `rule_num` without `action: insert` is ignored, as Ansible ignores it.
    let appended = plan(
        "iptables",
        json!({"chain": "INPUT", "jump": "LOG", "rule_num": 2}),
        &mut host,
        &facts("Debian"),
    )
    .expect("plan");
    assert_eq!(&argv(&appended.steps[0])[4..], ["-A", "INPUT", "-j", "LOG"]);
}

#[test]
fn ip_version_ipv6_makes_iptables_act_on_ip6tables() {
    let mut host = Fake::new(Family::V6, "");
    let first = converge(
        "iptables",
        json!({"ip_version": "ipv6", "chain": "INPUT", "protocol": "ipv6-icmp",
               "icmp_type": "echo-request", "jump": "ACCEPT", "comment": "icmpv6"}),
        &mut host,
        &facts("Debian"),
    );
    assert_eq!(argv(&first.steps[0])[0], "ip6tables-nft");
    assert!(argv(&first.steps[0]).contains(&"--icmpv6-type".to_string()));
    assert_eq!(first.result["ip_version"], json!("ipv6"));
    assert!(matches!(&host.ran[0].program,
        Program::Argv(a) if a.get(4).map(String::as_str) == Some("ip6tables")));
}

#[test]
fn chain_management_creates_and_deletes_a_user_chain() {
    let mut host = Fake::new(Family::V4, "");
    let created = converge(
        "iptables",
        json!({"chain": "web", "chain_management": true}),
        &mut host,
        &facts("Debian"),
    );
    assert_eq!(&argv(&created.steps[0])[4..], ["-N", "web"]);
    assert!(
        host.live_text().contains(":web - [0:0]"),
        "{}",
        host.live_text()
    );
    // Without chain_management Ansible reports the change and leaves the chain alone.
    let left = plan(
        "iptables",
        json!({"chain": "web", "state": "absent"}),
        &mut host,
        &facts("Debian"),
    )
    .expect("plan");
    assert!(left.is_change() && left.steps.is_empty(), "{left:?}");
    let deleted = converge(
        "iptables",
        json!({"chain": "web", "state": "absent", "chain_management": true}),
        &mut host,
        &facts("Debian"),
    );
    assert_eq!(&argv(&deleted.steps[0])[4..], ["-X", "web"]);
    assert!(!host.live_text().contains(":web"));
    // A built-in chain with no rule arguments exists: nothing to do.
    let input = plan(
        "iptables",
        json!({"chain": "INPUT"}),
        &mut host,
        &facts("Debian"),
    )
    .expect("plan");
    assert!(!input.is_change());
}

fn facts_with(os_family: &str, service_mgr: &str) -> Facts {
    Facts {
        os_family: os_family.into(),
        service_mgr: service_mgr.into(),
        ..Facts::default()
    }
}

#[test]
fn debian_with_netfilter_persistent_leaves_boot_to_it() {
    let mut host = Fake::new(Family::V4, "");
    let first = converge(
        "iptables",
        json!({"ruleset": "*nat\n-A POSTROUTING -s 192.168.122.0/24 -o eth0 -j MASQUERADE\nCOMMIT\n"}),
        &mut host,
        &facts_with("Debian", "sysvinit"),
    );
    assert_eq!(
        first.result["loaded_at_boot_by"],
        json!("netfilter-persistent")
    );
    assert!(host
        .files
        .text("/etc/network/if-pre-up.d/converge-iptables")
        .is_none());
}

#[test]
fn debian_without_netfilter_persistent_or_systemd_gets_an_if_pre_up_hook_that_loads_the_file() {
    let mut host = Fake::new(Family::V4, "").without_netfilter_persistent();
    let first = converge(
        "iptables",
        json!({"ruleset": "*nat\n-A POSTROUTING -s 192.168.122.0/24 -o eth0 -j MASQUERADE\nCOMMIT\n"}),
        &mut host,
        &facts_with("Debian", "sysvinit"),
    );
    let hook = "/etc/network/if-pre-up.d/converge-iptables";
    assert_eq!(first.result["loaded_at_boot_by"], json!(hook));
    assert!(
        first.changes.iter().any(|c| c.subject == hook),
        "{:?}",
        first.changes
    );
    let text = host.files.text(hook).expect("the hook is written");
    assert!(
        text.contains("/usr/sbin/iptables-nft-restore < /etc/iptables/rules.v4"),
        "{text}"
    );
    assert_eq!(host.files.files[hook].mode & 0o777, 0o755);
    assert!(host.files.text("/etc/iptables/rules.v4").is_some());
}

#[test]
fn debian_with_systemd_but_no_netfilter_persistent_gets_an_enabled_unit() {
    let mut host = Fake::new(Family::V6, "").without_netfilter_persistent();
    let first = converge(
        "ip6tables",
        json!({"ruleset": SERVER}),
        &mut host,
        &facts_with("Debian", "systemd"),
    );
    let unit = "/etc/systemd/system/converge-ip6tables.service";
    let text = host.files.text(unit).expect("the unit is written");
    assert!(
        text.contains("ExecStart=/usr/sbin/ip6tables-nft-restore /etc/iptables/rules.v6\n"),
        "{text}"
    );
    assert_eq!(
        host.files
            .text("/etc/systemd/system/multi-user.target.wants/converge-ip6tables.service")
            .as_deref(),
        Some("../converge-ip6tables.service")
    );
    assert!(first
        .changes
        .iter()
        .any(|c| c.subject == "converge-ip6tables.service enabled"));
}

#[test]
fn a_persist_file_netfilter_persistent_does_not_load_still_gets_converges_loader() {
    let mut host = Fake::new(Family::V6, SERVER);
    converge(
        "ip6tables",
        json!({"ruleset": SERVER, "persist_file": "/etc/firewall/v6.rules"}),
        &mut host,
        &facts_with("Debian", "sysvinit"),
    );
    let text = host
        .files
        .text("/etc/network/if-pre-up.d/converge-ip6tables")
        .expect("the hook is written");
    assert!(text.contains("< /etc/firewall/v6.rules"), "{text}");
}
