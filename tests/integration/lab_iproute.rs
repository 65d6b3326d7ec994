//! Lab tests for the `iproute` module: converge over SSH puts the home server's guest routing
//! (a /128 on the bridge, /128 host routes, proxy NDP entries) into a lab host's kernel, checked
//! with `ip` inside the host. Everything happens in the lab host's network namespace.

use crate::lab::Lab;
use crate::support::Test;

const PRESENT: &str = r#"- hosts: h1
  gather_facts: no
  tasks:
    - name: route the guests' IPv6 addresses to virbr0
      iproute:
        addresses:
          - {address: "fd42:1::fffe/128", dev: virbr0}
        routes:
          - {to: "fd42:1::11/128", dev: virbr0}
          - {to: "fd42:1:0:0::12/128", dev: virbr0}
        proxy_neighbours:
          - {address: "fd42:1::11", dev: eth0}
          - {address: "FD42:1::12", dev: eth0}
"#;

const ABSENT: &str = r#"- hosts: h1
  gather_facts: no
  tasks:
    - iproute:
        state: absent
        addresses:
          - {address: "fd42:1::fffe/128", dev: virbr0}
        routes:
          - {to: "fd42:1::11/128", dev: virbr0}
          - {to: "fd42:1::12/128", dev: virbr0}
        proxy_neighbours:
          - {address: "fd42:1::11", dev: eth0}
          - {address: "fd42:1::12", dev: eth0}
"#;

/// The kernel state the module manages, as `ip` shows it (flags and lifetimes left out).
const LISTINGS: &str = "ip -6 -o addr show dev virbr0 scope global | awk '{print $4}'; echo --; ip -6 route show; echo --; ip -6 neigh show proxy";

fn listings(lab: &Lab, host: &str) -> String {
    lab.sh(host, LISTINGS)
}

#[test]
fn lab_iproute_converges_guest_routes_and_proxy_ndp() {
    let lab = Lab::start(2);
    let inventory = lab.inventory();
    lab.sh(
        "h1",
        "ip link add virbr0 type bridge && ip link set virbr0 up",
    );
    let h2_before = lab.sh("h2", "ip -6 route show; ip -6 neigh show proxy");
    let fresh = listings(&lab, "h1");
    assert!(
        !fresh.contains("fd42:1::"),
        "a fresh lab host has no guest routes:\n{fresh}"
    );

    // --check: reports every item, changes neither the kernel nor any file.
    let snapshot = lab.snapshot("h1");
    let mut test = Test::new()
        .file("site.yml", PRESENT)
        .file("absent.yml", ABSENT)
        .timeout(120);
    test = test.args(&["-i", &inventory, "site.yml", "--check", "--diff"]);
    let run = test.run();
    run.expect_status(0)
        .stderr_has("address fd42:1::fffe/128 on virbr0: absent → present")
        .stderr_has("route fd42:1::11/128 dev virbr0: absent → present")
        .stderr_has("route fd42:1::12/128 dev virbr0: absent → present")
        .stderr_has("proxy neighbour fd42:1::11 on eth0: absent → present")
        .stderr_has("proxy neighbour fd42:1::12 on eth0: absent → present");
    assert_eq!(listings(&lab, "h1"), fresh, "--check changed the kernel");
    assert_eq!(lab.snapshot("h1"), snapshot, "--check changed files");

    // Apply.
    test = test.args(&["-i", &inventory, "site.yml", "--diff"]);
    let run = test.run();
    run.expect_status(0);
    assert!(
        run.recap("h1").contains("changed=1") && run.recap("h1").contains("failed=0"),
        "{}",
        run.stderr
    );
    let addresses = lab.sh(
        "h1",
        "ip -6 -o addr show dev virbr0 scope global | awk '{print $4}'",
    );
    assert_eq!(addresses, "fd42:1::fffe/128\n");
    let routes = lab.sh("h1", "ip -6 route show");
    for line in [
        "fd42:1::11 dev virbr0 metric 1024 pref medium",
        "fd42:1::12 dev virbr0 metric 1024 pref medium",
        "fd42:1::fffe dev virbr0 proto kernel metric 256 pref medium",
    ] {
        assert!(
            routes.lines().any(|l| l.trim() == line),
            "no `{line}` in:\n{routes}"
        );
    }
    assert_eq!(
        lab.sh("h1", "ip -6 neigh show proxy"),
        "fd42:1::11 dev eth0 proxy \nfd42:1::12 dev eth0 proxy \n"
    );

    // Second run: nothing to do; --check on the converged host: nothing to do either.
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);
    let converged = listings(&lab, "h1");
    let snapshot = lab.snapshot("h1");
    test = test.args(&["-i", &inventory, "site.yml", "--check"]);
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);

    // --check of the removal: reported, nothing removed.
    test = test.args(&["-i", &inventory, "absent.yml", "--check", "--diff"]);
    let run = test.run();
    run.expect_status(0)
        .stderr_has("proxy neighbour fd42:1::11 on eth0: present → absent")
        .stderr_has("address fd42:1::fffe/128 on virbr0: present → absent");
    assert_eq!(listings(&lab, "h1"), converged, "--check removed something");
    assert_eq!(lab.snapshot("h1"), snapshot, "--check changed files");

    // state: absent removes exactly these, and again is a no-op.
    test = test.args(&["-i", &inventory, "absent.yml"]);
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=1"), "{}", run.stderr);
    assert_eq!(listings(&lab, "h1"), fresh);
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);

    // h2 was never touched.
    assert_eq!(
        lab.sh("h2", "ip -6 route show; ip -6 neigh show proxy"),
        h2_before
    );
}

/// A route to a bridge that does not exist yet fails with the device's name and the fix, and
/// leaves the kernel alone.
#[test]
fn lab_iproute_missing_bridge_names_the_device() {
    let lab = Lab::start(1);
    let inventory = lab.inventory();
    let before = lab.sh("h1", "ip -6 route show; ip -6 neigh show proxy");
    let run = Test::new()
        .file("site.yml", PRESENT)
        .timeout(60)
        .args(&["-i", &inventory, "site.yml"])
        .run();
    assert_ne!(run.status, 0, "{}", run.stderr);
    run.stderr_has("device `virbr0` does not exist on this host")
        .stderr_has("create `virbr0` first");
    assert!(run.recap("h1").contains("failed=1"), "{}", run.stderr);
    assert_eq!(
        lab.sh("h1", "ip -6 route show; ip -6 neigh show proxy"),
        before
    );
}
