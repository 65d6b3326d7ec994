//! Lab tests for the `ip6tables` module: converge over SSH against lab hosts, checked with the real tools.

use crate::lab::Lab;
use crate::support::Test;

/// The comment that marks this test's rules, to tell them from anything else on a machine.
const MARK: &str = "converge-lab-ip6tables";

fn ruleset(extra: &str) -> String {
    format!(
        "*filter
:INPUT DROP [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
-A INPUT -p icmpv6 -j ACCEPT
{extra}-A INPUT -p tcp --dport 8080 -m comment --comment {MARK} -j ACCEPT
COMMIT
"
    )
}

fn playbook(ruleset: &str, timeout: u32) -> String {
    let indented: String = ruleset
        .lines()
        .map(|l| format!("          {l}\n"))
        .collect();
    format!(
        "- hosts: h1\n  tasks:\n    - name: firewall\n      ip6tables:\n        rollback_timeout: {timeout}\n        ruleset: |\n{indented}"
    )
}

/// From h2, whether a TCP connection to h1's `port` opens within 3 s.
fn connects(lab: &Lab, address: &str, port: u16) -> bool {
    let script = format!(
        "import socket,sys\ns=socket.socket(socket.AF_INET6)\ns.settimeout(3)\n\
         try:\n    s.connect(('{address}', {port}))\nexcept OSError:\n    sys.exit(1)\n"
    );
    lab.exec("h2", &["/usr/bin/python3", "-c", &script]).status == 0
}

fn live_rules(lab: &Lab, host: &str) -> String {
    lab.sh(host, "ip6tables-save")
        .lines()
        .filter(|line| line.starts_with("-A ") || line.starts_with(':'))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn lab_ip6tables_ruleset_lets_ssh_and_8080_in_drops_the_rest_and_converges_once() {
    let lab = Lab::start(2);
    let h1 = lab.hosts[0].ipv6.clone();
    // Listeners on 8080 (allowed) and 8081 (dropped); the lab kills them on teardown.
    for port in [8080, 8081] {
        lab.sh(
            "h1",
            &format!(
                "setsid /usr/bin/python3 -m http.server --bind :: {port} </dev/null >/dev/null 2>&1 & echo $! > /tmp/listener-{port}.pid"
            ),
        );
    }
    lab.sh(
        "h1",
        "for i in $(seq 50); do ss -ltn | grep -q ':8081 ' && ss -ltn | grep -q ':8080 ' && exit 0; sleep 0.1; done; exit 1",
    );
    assert!(
        connects(&lab, &h1, 8081),
        "8081 answers before the firewall"
    );

    let inventory = lab.inventory();
    let test = Test::new().file(
        "site.yml",
        &playbook(&ruleset("-A INPUT -p tcp --dport ssh -j ACCEPT\n"), 20),
    );
    let before = lab.snapshot("h1");
    let check = test.args(&["-i", &inventory, "site.yml", "--check", "--diff"]);
    let run = check.run();
    run.expect_status(0)
        .stderr_has("+-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT");
    assert!(run.recap("h1").contains("changed=1"), "{}", run.stderr);
    assert_eq!(lab.snapshot("h1"), before, "--check changed files on h1");
    assert!(
        !live_rules(&lab, "h1").contains(MARK),
        "--check loaded rules"
    );

    let apply = check.args(&["-i", &inventory, "site.yml", "--diff"]);
    let run = apply.run();
    run.expect_status(0)
        .stderr_has("--- a/ip6tables/filter/INPUT")
        .stderr_has("+-A INPUT -p tcp -m tcp --dport 8080 -m comment --comment converge-lab-ip6tables -j ACCEPT");
    assert!(run.recap("h1").contains("changed=1"), "{}", run.stderr);
    let live = live_rules(&lab, "h1");
    assert!(live.contains(":INPUT DROP"), "{live}");
    assert!(
        live.contains("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"),
        "{live}"
    );
    assert!(connects(&lab, &h1, 8080), "8080 is allowed");
    assert!(!connects(&lab, &h1, 8081), "8081 is dropped");
    // Debian: persisted for netfilter-persistent, in the form ip6tables-restore loads.
    let persisted = lab.sh(
        "h1",
        "cat /etc/iptables/rules.v6 && ip6tables-restore --test /etc/iptables/rules.v6",
    );
    assert!(persisted.contains(MARK), "{persisted}");
    // The guard was disarmed over a fresh connection: no marker left, rules stay.
    assert_eq!(
        lab.sh(
            "h1",
            "ls /run/converge-ip6tables-*/armed 2>/dev/null | wc -l"
        )
        .trim(),
        "0"
    );

    let again = apply.args(&["-i", &inventory, "site.yml"]);
    let run = again.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);

    // Only h1 has the rules: not h2, not the machine running the lab.
    assert!(!live_rules(&lab, "h2").contains(MARK));
    let machine = std::process::Command::new("ip6tables-save").output();
    if let Ok(output) = machine {
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains(MARK),
            "the real machine got the rules"
        );
    }
    lab.sh(
        "h1",
        "kill $(cat /tmp/listener-8080.pid) $(cat /tmp/listener-8081.pid)",
    );
}

#[test]
fn lab_ip6tables_ruleset_that_cuts_ssh_rolls_itself_back() {
    let lab = Lab::start(1);
    let inventory = lab.inventory();
    // No rule for port 22 and none for established connections: SSH is cut, even the
    // session that applied it.
    let cutting = "*filter\n:INPUT DROP [0:0]\n-A INPUT -i lo -j ACCEPT\n\
                   -A INPUT -p tcp --dport 8080 -m comment --comment converge-lab-ip6tables -j ACCEPT\nCOMMIT\n";
    let test = Test::new()
        .file("site.yml", &playbook(cutting, 4))
        .args(&["-i", &inventory, "site.yml"]);
    let started = std::time::Instant::now();
    let run = test.run();
    eprintln!("cutting run took {:?}", started.elapsed());
    // The runner gives up reconnecting, or reconnects after the rollback won the race.
    run.expect_status(2);
    assert!(
        run.stderr
            .contains("the host restores its previous state by itself")
            || run
                .stderr
                .contains("the host restored its previous ruleset"),
        "{}",
        run.stderr
    );
    assert!(run.recap("h1").contains("failed=1"), "{}", run.stderr);
    // About 7 s: the 4 s guard, then the old session recovers once the rollback ran.
    assert!(
        started.elapsed().as_secs() < 60,
        "took {:?}",
        started.elapsed()
    );
    // Wait for the rollback's clean-up, then the host is as before and reachable.
    lab.sh("h1", "for i in $(seq 50); do ls /run | grep -q converge-ip6tables || exit 0; sleep 0.2; done; exit 1");
    let live = live_rules(&lab, "h1");
    assert!(!live.contains("converge-lab-ip6tables"), "{live}");
    assert!(!live.contains("DROP"), "{live}");
    let persisted = lab.exec("h1", &["cat", "/etc/iptables/rules.v6"]);
    assert_ne!(
        persisted.status, 0,
        "the persisted file was put back (absent): {}",
        persisted.stdout
    );
    let reachable = Test::new()
        .file(
            "ping.yml",
            "- hosts: h1\n  gather_facts: false\n  tasks:\n    - command: 'true'\n",
        )
        .args(&["-i", &inventory, "ping.yml"])
        .run();
    reachable.expect_status(0);
}
