//! Flags, listing, help, doc.

use crate::support::Test;

#[test]
fn help_explains_the_flags() {
    let run = Test::new().args(&["--help"]).run();
    run.expect_status(0)
        .stdout_has("--check")
        .stdout_has("Plan only: show what would change and change nothing on any host")
        .stdout_has("--diff")
        .stdout_has("--limit");
}

#[test]
fn help_keeps_the_examples_one_per_line() {
    let run = Test::new().args(&["--help"]).run();
    run.expect_status(0);
    let examples = run
        .stdout
        .split_once("Examples:\n")
        .map(|(_, tail)| tail)
        .expect("an Examples section");
    insta::assert_snapshot!(examples, @r"
      converge -i inventory.yml site.yml                  apply
      converge -i inventory.yml site.yml --check --diff   dry run with diffs
      converge -i inventory.yml web --list-hosts          the hosts a pattern selects
      converge doc sysctl                                 a module's arguments
    ");
}

/// The README's flag table and `--help` cannot drift apart: every option `--help` lists is
/// in the table (by its long or short name), and every long option the table names exists.
#[test]
fn readme_flag_table_matches_help() {
    let run = Test::new().args(&["--help"]).run();
    run.expect_status(0);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let table: String = readme
        .split("| flag | meaning |")
        .nth(1)
        .and_then(|tail| tail.split("\n\n").next())
        .expect("the README's flag table")
        .lines()
        .filter_map(|row| row.split('|').nth(1))
        .collect::<Vec<_>>()
        .join(" ");
    let option = regex::Regex::new(r"^\s+(?:(-[A-Za-z]), )?(--[a-z][a-z0-9-]*)").unwrap();
    let mut help_longs = Vec::new();
    for line in run.stdout.lines() {
        let Some(found) = option.captures(line) else {
            continue;
        };
        let long = &found[2];
        help_longs.push(long.to_string());
        let short = found.get(1).map(|m| m.as_str());
        let named = |flag: &str| {
            table
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
                .any(|word| word == flag)
        };
        assert!(
            named(long) || short.is_some_and(named),
            "`{long}` is in --help but not in the README's flag table"
        );
    }
    let long_in_table = regex::Regex::new(r"(^|[^-\w])(--[a-z][a-z0-9-]*)").unwrap();
    for found in long_in_table.captures_iter(&table) {
        let long = &found[2];
        // Flags of subcommands (`converge vault encrypt --ansible`) are in their own help.
        if long == "--ansible" {
            continue;
        }
        assert!(
            help_longs.iter().any(|known| known == long),
            "the README's flag table names `{long}`, which --help does not list"
        );
    }
}

#[test]
fn no_playbook_is_a_usage_error() {
    Test::new()
        .args(&[])
        .run()
        .expect_status(5)
        .stderr_has("no playbook given");
}

#[test]
fn list_hosts_and_tasks_print_on_stdout() {
    let test = Test::new()
        .file(
            "inventory.ini",
            "[web]\nweb1 ansible_connection=local\nweb2 ansible_connection=local\n[db]\ndb1\n",
        )
        .file(
            "site.yml",
            "- name: web servers\n  hosts: web\n  tasks:\n    - name: say hi\n      debug: {msg: hi}\n      tags: [greet]\n",
        )
        .args(&["-i", "inventory.ini", "site.yml", "--list-hosts", "--list-tasks"]);
    let run = test.run();
    run.expect_status(0)
        .stdout_has("play: web servers (2 hosts)")
        .stdout_has("    web1\n    web2\n")
        .stdout_has("say hi\tTAGS: [greet]");
    assert!(!run.stdout.contains("db1"));
}

#[test]
fn limit_narrows_the_hosts() {
    let test = Test::new()
        .file("inventory.ini", "[web]\nweb1\nweb2\nweb3\n")
        .file(
            "site.yml",
            "- hosts: web\n  tasks:\n    - debug: {msg: hi}\n",
        )
        .args(&[
            "-i",
            "inventory.ini",
            "site.yml",
            "--list-hosts",
            "--limit",
            "web*:!web2",
        ]);
    let run = test.run();
    run.expect_status(0)
        .stdout_has("(2 hosts)\n    web1\n    web3\n");
}

#[test]
fn doc_lists_modules_and_documents_one() {
    let run = Test::new().args(&["doc"]).run();
    run.expect_status(0)
        .stdout_has("copy")
        .stdout_has("lineinfile");
    let run = Test::new().args(&["doc", "copy"]).run();
    run.expect_status(0)
        .stdout_has("ARGUMENTS")
        .stdout_has("dest")
        .stdout_has("EXAMPLES");
    Test::new()
        .args(&["doc", "cpy"])
        .run()
        .expect_status(5)
        .stderr_has("did you mean `copy`?");
}

#[test]
fn syntax_check_connects_nowhere() {
    let test = Test::new()
        .file(
            "inventory.yml",
            "all:\n  hosts:\n    far:\n      ansible_host: 192.0.2.1\n",
        )
        .file(
            "site.yml",
            "- hosts: all\n  tasks:\n    - copy: {dest: /tmp/x, content: y}\n",
        )
        .args(&["-i", "inventory.yml", "site.yml", "--syntax-check"]);
    test.run().expect_status(0).stdout_has("playbook: site.yml");
}
