//! `ip6tables`/`iptables`: the save format, normalisation to the kernel's spelling, and
//! chain diffs — pure functions tested against fixture files. The `*-save.rules` fixtures
//! are what `ip6tables-nft-save`, `ip6tables-legacy-save` (`-c`) and `iptables-nft-save`
//! printed after loading the hand-written files into a fresh network namespace.

use converge_modules::ip6tables::save::{self, Family, Rule, Ruleset};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ip6tables");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).expect("fixture")
}

fn normalised(name: &str, family: Family) -> Ruleset {
    save::normalise(&save::parse(&fixture(name)).expect("parses"), family)
}

fn words(text: &str) -> Vec<String> {
    save::split_words(text).expect("words")
}

#[test]
fn handwritten_rules_normalise_to_what_the_kernel_prints_on_both_backends() {
    let written = normalised("handwritten.rules", Family::V6);
    let nft = normalised("handwritten.nft-save.rules", Family::V6);
    let legacy = normalised("handwritten.legacy-save.rules", Family::V6);
    assert_eq!(save::render(&written), save::render(&nft));
    assert_eq!(written, nft);
    assert_eq!(written, legacy);
}

#[test]
fn counters_and_comment_lines_are_stripped() {
    let counted = normalised("legacy-counters.save.rules", Family::V6);
    assert_eq!(counted, normalised("handwritten.rules", Family::V6));
    let input = counted
        .table("filter")
        .and_then(|t| t.chain("INPUT"))
        .expect("INPUT");
    assert_eq!(input.policy.as_deref(), Some("DROP"));
    assert_eq!(input.rules[0], Rule(words("-i lo -j ACCEPT")));
}

#[test]
fn ipv4_nat_and_filter_normalise_to_iptables_save_output_whatever_the_table_order() {
    let written = normalised("ipv4-nat.rules", Family::V4);
    let saved = normalised("ipv4-nat.nft-save.rules", Family::V4);
    for table in ["nat", "filter"] {
        assert_eq!(written.table(table), saved.table(table), "table {table}");
    }
    assert!(save::diff(&saved, &written).is_empty());
    let nat = written.table("nat").expect("nat");
    assert_eq!(
        nat.chain("POSTROUTING").expect("POSTROUTING").rules[0],
        Rule(words(
            "-s 192.168.122.0/24 ! -d 192.168.122.0/24 -o eth0 -j MASQUERADE"
        ))
    );
}

#[test]
fn normalising_kernel_output_changes_nothing() {
    for (name, family) in [
        ("handwritten.nft-save.rules", Family::V6),
        ("handwritten.legacy-save.rules", Family::V6),
        ("ipv4-nat.nft-save.rules", Family::V4),
    ] {
        let parsed = save::parse(&fixture(name)).expect("parses");
        let once = save::normalise(&parsed, family);
        for (table, original) in once.tables.iter().zip(&parsed.tables) {
            for chain in &original.chains {
                assert_eq!(
                    table.chain(&chain.name).map(|c| &c.rules),
                    Some(&chain.rules),
                    "{name}: {}",
                    chain.name
                );
            }
        }
        assert_eq!(save::normalise(&once, family), once, "{name}");
    }
}

#[test]
fn render_then_parse_round_trips_with_quoted_comments() {
    let ruleset = normalised("handwritten.rules", Family::V6);
    let text = save::render(&ruleset);
    assert!(
        text.contains(r#"--comment "mail \"in\"; submission" -j ACCEPT"#),
        "{text}"
    );
    assert_eq!(save::parse(&text).expect("parses"), ruleset);
}

#[test]
fn kernel_spellings_of_single_rules() {
    let cases = [
        (
            "-p tcp --dport ssh -j ACCEPT",
            "-p tcp -m tcp --dport 22 -j ACCEPT",
        ),
        (
            "-j ACCEPT -p icmpv6 --icmpv6-type neighbor-solicitation",
            "-p ipv6-icmp -m icmp6 --icmpv6-type 135 -j ACCEPT",
        ),
        (
            "-p udp -i eth0 -s fd42:1:0:0:0:0:0:ff/120 --sport 547",
            "-s fd42:1::/120 -i eth0 -p udp -m udp --sport 547",
        ),
        (
            "-m conntrack --ctstate established,related,new -j ACCEPT",
            "-m conntrack --ctstate NEW,RELATED,ESTABLISHED -j ACCEPT",
        ),
        (
            "-p tcp ! --dport 22 -j DROP",
            "-p tcp -m tcp ! --dport 22 -j DROP",
        ),
        ("--in-interface virbr0 --jump ACCEPT", "-i virbr0 -j ACCEPT"),
        ("! -s ::1 -j DROP", "! -s ::1/128 -j DROP"),
        (
            "-j ACCEPT -m multiport -p tcp --dports 1,2 -m comment --comment x",
            "-p tcp -m multiport --dports 1,2 -m comment --comment x -j ACCEPT",
        ),
        (
            "-j LOG --log-prefix \"a b\" -p tcp --dport 5",
            "-p tcp -m tcp --dport 5 -j LOG --log-prefix \"a b\"",
        ),
    ];
    for (written, kernel) in cases {
        assert_eq!(
            save::normalise_rule(&words(written), Family::V6),
            words(kernel),
            "{written}"
        );
    }
    assert_eq!(
        save::normalise_rule(
            &words("-s 10.1.2.3/255.255.0.0 -j SNAT --to-source 10.0.0.1"),
            Family::V4
        ),
        words("-s 10.1.0.0/16 -j SNAT --to-source 10.0.0.1")
    );
}

#[test]
fn diff_shows_each_changed_chain_as_lines_added_and_removed() {
    let live = normalised("handwritten.nft-save.rules", Family::V6);
    let desired_text = fixture("handwritten.rules")
        .replace("-A INPUT -s fd42:1::17/64 -j DROP\n", "")
        .replace(
            "-A INPUT -i lo -j ACCEPT\n",
            "-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp --dport 8080 -j ACCEPT\n",
        )
        .replace(":services - [0:0]\n", "")
        .replace("-j services", "-j ACCEPT")
        .lines()
        .filter(|line| !line.starts_with("-A services"))
        .map(|line| format!("{line}\n"))
        .collect::<String>();
    let desired = save::normalise(&save::parse(&desired_text).expect("parses"), Family::V6);
    let diffs = save::diff(&live, &desired);
    let chains: Vec<(&str, bool, bool)> = diffs
        .iter()
        .map(|d| (d.chain.as_str(), d.before.is_some(), d.after.is_some()))
        .collect();
    assert_eq!(chains, [("INPUT", true, true), ("services", true, false)]);
    let input = &diffs[0];
    let before = input.before.as_deref().expect("before");
    let after = input.after.as_deref().expect("after");
    assert!(before.starts_with(":INPUT DROP\n-A INPUT -i lo -j ACCEPT\n"));
    assert!(after.starts_with(
        ":INPUT DROP\n-A INPUT -i lo -j ACCEPT\n-A INPUT -p tcp -m tcp --dport 8080 -j ACCEPT\n"
    ));
    assert!(before.contains("-A INPUT -s fd42:1::/64 -j DROP\n"));
    assert!(!after.contains("fd42:1::/64"));
    assert!(after.contains("--dport 587 -j ACCEPT\n"));
}

#[test]
fn a_table_missing_from_the_live_ruleset_counts_as_its_empty_default() {
    let desired = save::normalise(
        &save::parse("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n").expect("parses"),
        Family::V6,
    );
    assert!(save::diff(&Ruleset::default(), &desired).is_empty());
    let dropping = save::normalise(
        &save::parse("*filter\n:INPUT DROP [0:0]\nCOMMIT\n").expect("parses"),
        Family::V6,
    );
    let diffs = save::diff(&Ruleset::default(), &dropping);
    assert_eq!(diffs.len(), 1);
    assert_eq!(diffs[0].before.as_deref(), Some(":INPUT ACCEPT\n"));
    assert_eq!(diffs[0].after.as_deref(), Some(":INPUT DROP\n"));
}

#[test]
fn parse_errors_name_the_line() {
    let cases = [
        ("*filter\n-A custom -j ACCEPT\nCOMMIT\n", 2, "not declared"),
        ("*filter\n:INPUT DROP\n", 2, "no COMMIT"),
        ("-A INPUT -j ACCEPT\n", 1, "outside a table"),
        ("*filter\n-F INPUT\nCOMMIT\n", 2, "not supported"),
        ("*filtr\nCOMMIT\n", 1, "not a table"),
        (
            "*filter\n:bad;chain - [0:0]\nCOMMIT\n",
            2,
            "not a chain name",
        ),
        ("*filter\n:INPUT -\nCOMMIT\n", 2, "needs a policy"),
        (
            "*filter\n-A INPUT -m comment --comment \"open\nCOMMIT\n",
            2,
            "not closed",
        ),
    ];
    for (text, line, message) in cases {
        let error = save::parse(text).expect_err(text);
        assert_eq!(error.line, line, "{text}");
        assert!(error.message.contains(message), "{text}: {}", error.message);
    }
}

/// Every ruleset under the shared fixtures (`ip6tables/`, `iptables/`) parses, and
/// normalising it twice equals normalising it once.
#[test]
fn corpus_of_shared_rulesets_parses_and_normalises_stably() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures");
    if !std::path::Path::new(root).is_dir() {
        println!("skipped: {root} does not exist");
        return;
    }
    let mut seen = 0;
    for (dir, family) in [("ip6tables", Family::V6), ("iptables", Family::V4)] {
        let Ok(entries) = std::fs::read_dir(format!("{root}/{dir}")) else {
            continue;
        };
        for entry in entries.flatten() {
            let text = std::fs::read_to_string(entry.path()).expect("read");
            let parsed =
                save::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
            let once = save::normalise(&parsed, family);
            assert_eq!(save::normalise(&once, family), once);
            seen += 1;
        }
    }
    if seen == 0 {
        println!("skipped: no ip6tables/ or iptables/ rulesets under {root}");
    }
}
