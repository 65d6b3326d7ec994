//! End to end, the IPv6 home server story (DOMAIN.md §10): `examples/site.yml` with the
//! home-server roles, applied over SSH to a lab host that plays the server, in a small world
//! of network namespaces built by `tests/e2e/topology`:
//!
//! ```text
//!   isp (radvd: fd42:1::/64, no managed flag; fd42:1::1, 198.18.0.1)
//!    | veth-isp ⇄ wan0 (SLAAC; 198.18.0.2/24)
//!   server = lab host h1 (sshd on the lab's eth0, reached by converge)
//!    | virbr0 (bridge, 192.168.122.1/24 as libvirt makes it)
//!   guest1 (52:54:00:00:00:11)   guest2 (52:54:00:00:00:12)   dhclient -4 / -6
//! ```
//!
//! Before converge a guest cannot reach the ISP over IPv6 (the story's symptom); after it the
//! server keeps its SLAAC address and RA default route, the guests get their reserved IPv4 and
//! IPv6 addresses from the server's dhcpd, reach the ISP over IPv6 (proxy NDP) and over IPv4
//! (NAT), sendmail takes submissions on IPv6, ip6tables drops what is not allowed, and a second
//! run changes nothing. `--check --diff` first must list changes and change nothing.
//!
//! Run alone: `cargo test --test integration e2e_home_server -- --nocapture` (prints timings);
//! `CONVERGE_E2E_SITE=PLAYBOOK` runs another playbook in place of `examples/site.yml`;
//! `CONVERGE_E2E_START_DAEMONS=1` starts a daemon the roles left stopped (a marked fallback for
//! debugging the roles; by default that is a failure).
//! Everything happens in the lab host's namespaces and overlays and in namespaces named
//! `cvge2e-*`, removed on drop (also when an assertion fails).

use crate::lab::{Exec, Lab};
use crate::support::{Run, Test};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

pub(crate) const REPO: &str = env!("CARGO_MANIFEST_DIR");
pub(crate) const TOPOLOGY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/topology");
pub(crate) const PING: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/ping");
pub(crate) const INVENTORY: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/home_server.yml");
pub(crate) const SERVER: &str = "h1";
pub(crate) const ISP_V6: &str = "fd42:1::1";
pub(crate) const ISP_V4: &str = "198.18.0.1";
/// (name, reserved IPv4, reserved IPv6) as in tests/e2e/home_server.yml.
pub(crate) const GUESTS: [(&str, &str, &str); 2] = [
    ("guest1", "192.168.122.11", "fd42:1::11"),
    ("guest2", "192.168.122.12", "fd42:1::12"),
];

/// The namespaces around the server (tests/e2e/topology); `down` on drop.
pub(crate) struct Topology {
    dir: PathBuf,
}

pub(crate) fn output_of(command: &mut Command) -> Exec {
    let output = command.output().expect("run tests/e2e/topology");
    Exec {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

impl Topology {
    pub(crate) fn up(lab: &Lab, server: &str) -> Topology {
        let dir = tempfile::Builder::new()
            .prefix("cvge2e-")
            .tempdir_in("/dev/shm")
            .expect("topology state dir")
            .keep();
        // Built before `up` runs: a failed `up` is still torn down.
        let topology = Topology { dir };
        let up = output_of(
            Command::new(TOPOLOGY)
                .arg("up")
                .arg(&topology.dir)
                .arg(lab.state())
                .arg(server),
        );
        assert_eq!(
            up.status, 0,
            "topology up failed:\n{}{}",
            up.stdout, up.stderr
        );
        topology
    }

    pub(crate) fn run(&self, verb: &str, args: &[&str]) -> Exec {
        output_of(Command::new(TOPOLOGY).arg(verb).arg(&self.dir).args(args))
    }

    pub(crate) fn isp(&self, args: &[&str]) -> Exec {
        self.run("isp", args)
    }

    pub(crate) fn guest(&self, guest: &str, args: &[&str]) -> Exec {
        let mut all = vec![guest];
        all.extend_from_slice(args);
        self.run("guest", &all)
    }

    /// A shell script in a guest; panics unless it succeeds; returns stdout.
    pub(crate) fn guest_sh(&self, guest: &str, script: &str) -> String {
        let result = self.guest(guest, &["sh", "-c", script]);
        assert_eq!(
            result.status, 0,
            "`{script}` failed in {guest}:\n{}{}",
            result.stdout, result.stderr
        );
        result.stdout
    }

    pub(crate) fn server_namespace(&self) -> String {
        std::fs::read_to_string(self.dir.join("env"))
            .expect("topology env")
            .lines()
            .find_map(|line| line.strip_prefix("SERVER_NS="))
            .expect("SERVER_NS")
            .to_string()
    }

    /// Command names of the processes in the server's network namespace.
    pub(crate) fn server_processes(&self) -> Vec<String> {
        let pids = output_of(Command::new("ip").args(["netns", "pids", &self.server_namespace()]));
        pids.stdout
            .split_whitespace()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).ok())
            .map(|comm| comm.trim().to_string())
            .collect()
    }

    pub(crate) fn file(&self, relative: &str) -> String {
        std::fs::read_to_string(self.dir.join(relative)).unwrap_or_default()
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        let _ = Command::new(TOPOLOGY).arg("down").arg(&self.dir).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Poll `probe` every 100 ms until it returns Ok or `limit` passes; the last error otherwise.
pub(crate) fn wait_until(
    limit: Duration,
    mut probe: impl FnMut() -> Result<(), String>,
) -> Result<Duration, String> {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(()) => return Ok(start.elapsed()),
            Err(error) if start.elapsed() >= limit => return Err(error),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Phase timings, printed as they happen (visible with --nocapture or on failure).
pub(crate) struct Clock {
    start: Instant,
    last: Instant,
}

impl Clock {
    pub(crate) fn new() -> Clock {
        let now = Instant::now();
        Clock {
            start: now,
            last: now,
        }
    }

    pub(crate) fn lap(&mut self, what: &str) {
        let now = Instant::now();
        eprintln!(
            "e2e: {what}: {:.2}s (total {:.2}s)",
            (now - self.last).as_secs_f64(),
            (now - self.start).as_secs_f64()
        );
        self.last = now;
    }
}

/// What `--check` must leave alone on the server: its overlay files and its live network
/// state (lifetimes and packet counters, which move by themselves, are blanked).
fn server_state(lab: &Lab) -> String {
    let live = lab.sh(
        SERVER,
        "ip -6 route | sed -E 's/ expires [0-9]+sec//'; \
         ip -6 addr | sed -E 's/(valid|preferred)_lft [0-9]+sec/\\1_lft T/g'; \
         ip -4 route; ip -4 addr; ip -6 neigh show proxy; \
         ip6tables-save | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'; \
         iptables-save | grep -v '^#' | sed -E 's/\\[[0-9]+:[0-9]+\\]//'; \
         sysctl -a 2>/dev/null | grep '^net\\.' | grep -v -e nf_conntrack_count -e '^net.netfilter.nf_log'; \
         ss -ltnu | sort",
    );
    format!("{}\n--- live\n{live}", lab.snapshot(SERVER))
}

fn first_difference(before: &str, after: &str) -> String {
    let before: Vec<&str> = before.lines().collect();
    let after: Vec<&str> = after.lines().collect();
    let gone: Vec<&&str> = before.iter().filter(|l| !after.contains(l)).collect();
    let new: Vec<&&str> = after.iter().filter(|l| !before.contains(l)).collect();
    format!("lines gone: {gone:#?}\nlines new: {new:#?}")
}

/// The last lines of a run's stderr, for failure messages.
pub(crate) fn tail(run: &Run) -> String {
    let lines: Vec<&str> = run.stderr.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

pub(crate) fn ping(exec: Exec) -> Result<(), String> {
    if exec.status == 0 {
        Ok(())
    } else {
        Err(format!(
            "exit {}: {}{}",
            exec.status,
            exec.stdout.trim(),
            exec.stderr.trim()
        ))
    }
}

/// converge's test dir: the e2e inventory (h1's host_vars) beside a copy of the example's
/// group_vars, so the example site finds every variable it uses.
pub(crate) fn converge_test() -> Test {
    let mut test = Test::new().file(
        "e2e.yml",
        &std::fs::read_to_string(INVENTORY).expect("tests/e2e/home_server.yml"),
    );
    let group_vars = Path::new(REPO).join("inventory/group_vars");
    for entry in std::fs::read_dir(&group_vars).expect("inventory/group_vars") {
        let path = entry.expect("group_vars entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("group_vars file");
        test = test.file(&format!("group_vars/{name}"), &text);
    }
    test
}

pub(crate) fn converge_args<'a>(
    inventory: &'a str,
    site: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["-i", inventory, "-i", "e2e.yml", site, "--limit", SERVER];
    args.extend_from_slice(extra);
    args
}

#[test]
fn e2e_home_server_guests_reach_the_isp_over_ipv6_after_converge() {
    let mut clock = Clock::new();
    let lab = Lab::start(1);
    let inventory = lab.inventory();
    // sendmail waits for a host name it cannot qualify: the server's name as an FQDN first.
    // And it looks up the names of all the server's addresses: with the IPv4 default route via
    // the ISP, the machine's name server would be asked through the ISP, which drops the
    // queries (10 s per lookup). As at home, the ISP's router is the name server here; nothing
    // listens on its port 53, so every lookup fails at once (ICMP port unreachable).
    lab.sh(
        SERVER,
        "sed -i -E 's/^127\\.0\\.1\\.1[[:space:]]+h1$/127.0.1.1\\th1.home.arpa h1/' /etc/hosts && \
         grep -q '^127.0.1.1.h1.home.arpa h1$' /etc/hosts && \
         rm -f /etc/resolv.conf && \
         printf 'nameserver 198.18.0.1\\noptions timeout:1 attempts:1\\n' >/etc/resolv.conf",
    );
    clock.lap("lab up");
    // Declared after the lab: dropped (torn down) before it.
    let topology = Topology::up(&lab, SERVER);
    clock.lap("topology up");

    // The server takes SLAAC from the ISP as any host does (accept_ra 1, forwarding 0).
    let slaac = |lab: &Lab| -> Result<String, String> {
        let routes = lab.sh(SERVER, "ip -6 route show default");
        let addresses = lab.sh(SERVER, "ip -6 -o addr show dev wan0 scope global");
        let address = addresses
            .split_whitespace()
            .skip_while(|word| *word != "inet6")
            .nth(1)
            .and_then(|cidr| cidr.split('/').next())
            .filter(|address| address.starts_with("fd42:1:"))
            .map(str::to_string);
        match address {
            Some(address) if routes.contains("dev wan0 proto ra") => Ok(address),
            _ => Err(format!(
                "wan0 addresses:\n{addresses}\ndefault routes:\n{routes}"
            )),
        }
    };
    let waited = wait_until(Duration::from_secs(15), || slaac(&lab).map(|_| ()))
        .unwrap_or_else(|error| {
            panic!(
                "the server got no SLAAC address and RA default route on wan0 within 15 s:\n{error}\nradvd log:\n{}",
                topology.file("radvd.log")
            )
        });
    let server_v6 = slaac(&lab).unwrap();
    eprintln!("e2e: server wan0 {server_v6} by SLAAC after {waited:.2?}");
    clock.lap("SLAAC");

    // --- Before converge: the story's symptom.
    // (a) guest1 as it is: only a link-local address (no DHCPv6 server answers), so IPv6 to
    //     the ISP fails at once ("Network is unreachable"); no IPv4 either.
    let global = topology.guest_sh("guest1", "ip -6 -o addr show dev eth0 scope global");
    assert_eq!(global, "", "guest1 has a global address before converge");
    let before6 = topology.guest("guest1", &[PING, "-6", "-c1", "-W2", ISP_V6]);
    assert_eq!(
        before6.status, 2,
        "before converge guest1's IPv6 ping to the ISP must fail with \"Network is unreachable\" (exit 2):\n{}{}",
        before6.stdout, before6.stderr
    );
    let before4 = topology.guest("guest1", &[PING, "-4", "-c1", "-W2", ISP_V4]);
    assert_eq!(
        before4.status, 2,
        "before converge guest1 has no IPv4 address or route (exit 2 expected):\n{}{}",
        before4.stdout, before4.stderr
    );
    // (b) the story exactly: guest1 with the address it will be given (fd42:1::11/128) and a
    //     default route via the server's virbr0 still gets no answer, because the server
    //     neither forwards nor answers the ISP's neighbour solicitations for it.
    let virbr0_ll = lab
        .sh(SERVER, "ip -6 -o addr show dev virbr0 scope link")
        .split_whitespace()
        .skip_while(|word| *word != "inet6")
        .nth(1)
        .and_then(|cidr| cidr.split('/').next())
        .expect("virbr0 has a link-local address")
        .to_string();
    wait_until(Duration::from_secs(5), || {
        let link = topology.guest_sh("guest1", "ip -6 addr show dev eth0 scope link");
        if link.contains("fe80") && !link.contains("tentative") {
            Ok(())
        } else {
            Err(format!("guest1's link-local address is not ready:\n{link}"))
        }
    })
    .unwrap_or_else(|error| panic!("{error}"));
    topology.guest_sh(
        "guest1",
        &format!(
            "ip -6 addr add fd42:1::11/128 dev eth0 nodad && ip -6 route add default via {virbr0_ll} dev eth0"
        ),
    );
    let story = topology.guest("guest1", &[PING, "-6", "-c1", "-W2", ISP_V6]);
    assert_eq!(
        story.status, 1,
        "with its address and a route via virbr0, guest1's ping to the ISP must go unanswered before converge:\n{}{}",
        story.stdout, story.stderr
    );
    topology.guest_sh(
        "guest1",
        "ip -6 route del default dev eth0 && ip -6 addr del fd42:1::11/128 dev eth0",
    );
    clock.lap("symptom before converge");

    // (c) The trap converge warns about, seen on a real RA route: forwarding on alone would
    //     drop wan0's default route. A dry run names wan0 and changes nothing.
    let trap = Test::new()
        .file(
            "trap.yml",
            "- hosts: all\n  gather_facts: false\n  tasks:\n    - sysctl: {name: net.ipv6.conf.all.forwarding, value: 1, sysctl_file: /etc/sysctl.d/90-trap.conf}\n",
        )
        .args(&["-i", &inventory, "trap.yml", "--check"])
        .timeout(30)
        .run();
    assert_eq!(trap.status, 0, "{}", tail(&trap));
    assert!(
        trap.stderr.contains(
            "will remove the IPv6 default route of `wan0`, which came from router advertisements"
        ),
        "no SLAAC warning for wan0's RA route:\n{}",
        tail(&trap)
    );
    assert_eq!(
        lab.sh(SERVER, "cat /proc/sys/net/ipv6/conf/all/forwarding")
            .trim(),
        "0"
    );
    clock.lap("SLAAC trap warned");

    // --- The roles must be there (they are written in parallel with this test).
    // CONVERGE_E2E_SITE: another playbook in place of the example site (to debug roles).
    let site =
        std::env::var("CONVERGE_E2E_SITE").unwrap_or_else(|_| format!("{REPO}/examples/site.yml"));
    let test = converge_test()
        .args(&["validate", "-i", &inventory, "-i", "e2e.yml", &site])
        .timeout(45);
    let validate = test.run();
    assert_eq!(
        validate.status,
        0,
        "`converge validate` refuses the example site with the e2e inventory (are the home-server roles complete?):\n{}",
        tail(&validate)
    );
    // What the example site does on the server, named in the failure messages below.
    let test = test.args(&converge_args(&inventory, &site, &["--list-tasks"]));
    let listed = test.run();
    let tasks = format!(
        "(the example site's tasks for {SERVER}, from --list-tasks:\n{}{})",
        listed.stdout, listed.stderr
    );
    clock.lap("validate");

    // --- --check --diff: lists changes, changes nothing.
    let before = server_state(&lab);
    let test = test
        .args(&converge_args(&inventory, &site, &["--check", "--diff"]))
        .timeout(45);
    let check = test.run();
    assert_eq!(
        check.status,
        0,
        "converge --check --diff failed:\n{}",
        tail(&check)
    );
    let recap = check.recap(SERVER);
    assert!(
        recap.contains("failed=0") && !recap.contains("changed=0"),
        "--check must list changes for {SERVER}: {recap}\n{}",
        tail(&check)
    );
    assert!(
        check.stderr.contains("\n+"),
        "--check --diff shows no diff lines:\n{}",
        tail(&check)
    );
    let after = server_state(&lab);
    assert!(
        before == after,
        "--check changed the server:\n{}",
        first_difference(&before, &after)
    );
    clock.lap("converge --check --diff");

    // --- The real run.
    let test = test.args(&converge_args(&inventory, &site, &["--diff"]));
    let apply = test.run();
    assert_eq!(apply.status, 0, "converge failed:\n{}", tail(&apply));
    let recap = apply.recap(SERVER);
    assert!(
        recap.contains("failed=0") && !recap.contains("changed=0"),
        "{SERVER}: {recap}"
    );
    clock.lap("converge");

    // The server keeps its SLAAC address and its RA default route (accept_ra=2 before forwarding).
    let kept = slaac(&lab)
        .unwrap_or_else(|error| panic!("after converge the server lost SLAAC on wan0:\n{error}"));
    assert_eq!(kept, server_v6, "wan0's SLAAC address changed");
    assert_eq!(
        lab.sh(
            SERVER,
            "sysctl -n net.ipv6.conf.all.forwarding net.ipv6.conf.wan0.accept_ra"
        ),
        "1\n2\n",
        "after converge the server must have net.ipv6.conf.all.forwarding = 1 and \
         net.ipv6.conf.wan0.accept_ra = 2 (left: the live values) {tasks}"
    );

    // The daemons the roles start (handlers): dhcpd -4 and -6, radvd on virbr0, sendmail.
    // The lab host has no init system; on Debian the service module runs the init scripts.
    // CONVERGE_E2E_START_DAEMONS=1: a FALLBACK for debugging roles whose handlers cannot start
    // a daemon here: the test starts it itself (`service NAME start`) and says so.
    let fallback = std::env::var_os("CONVERGE_E2E_START_DAEMONS").is_some();
    let daemons: [(&str, &[&str], usize, &str); 3] = [
        ("dhcpd -4 and dhcpd -6", &["dhcpd"], 2, "isc-dhcp-server"),
        (
            "radvd (RAs with the managed flag on virbr0)",
            &["radvd"],
            1,
            "radvd",
        ),
        ("sendmail", &["sendmail", "sendmail-mta"], 1, "sendmail"),
    ];
    for (what, names, at_least, service) in daemons {
        let running = |processes: &[String]| {
            processes
                .iter()
                .filter(|p| names.contains(&p.as_str()))
                .count()
                >= at_least
        };
        let processes = topology.server_processes();
        if running(&processes) {
            continue;
        }
        // Debian's init scripts restart some daemons through invoke-rc.d, which a
        // policy-rc.d that exits 101 (Docker images have one) silently denies.
        let policy = lab
            .exec(
                SERVER,
                &[
                    "sh",
                    "-c",
                    &format!("/usr/sbin/policy-rc.d {service} start"),
                ],
            )
            .status;
        let policy_note = if policy == 101 {
            format!(
                " Note: /usr/sbin/policy-rc.d on this machine exits 101, so `invoke-rc.d {service} ...` \
                 (used by some Debian init scripts' `restart`) is denied while the script still exits 0; \
                 `service {service} start` runs the daemon directly."
            )
        } else {
            String::new()
        };
        if fallback {
            eprintln!(
                "e2e: FALLBACK (CONVERGE_E2E_START_DAEMONS): {what} not running after converge; \
                 starting it with `service {service} start`.{policy_note}"
            );
            lab.sh(
                SERVER,
                &format!("service {service} start </dev/null >/dev/null 2>&1"),
            );
            let processes = topology.server_processes();
            assert!(
                running(&processes),
                "FALLBACK `service {service} start` did not start {what}; processes in the server: {processes:?}"
            );
            continue;
        }
        let handlers: Vec<&str> = apply
            .stderr
            .lines()
            .filter(|line| line.contains(service) || names.iter().any(|n| line.contains(n)))
            .filter(|line| {
                line.contains("restart") || line.contains("start") || line.contains("Restart")
            })
            .collect();
        panic!(
            "after converge the server must run {what}; processes in the server's namespace: \
             {processes:?}.{policy_note}\nconverge's lines about starting it:\n{}\nconverge:\n{}",
            handlers.join("\n"),
            tail(&apply)
        );
    }
    let listening = lab.sh(SERVER, "ss -lnup");
    assert!(
        listening.contains(":67 ") && listening.contains(":547 "),
        "dhcpd must listen on ports 67 (IPv4) and 547 (IPv6):\n{listening}"
    );
    clock.lap("server checks");

    // --- The guests: fresh dhclients (-4 and -6, after DAD), in parallel.
    let leases: Vec<Exec> = std::thread::scope(|scope| {
        let handles: Vec<_> = GUESTS
            .iter()
            .map(|(guest, _, _)| scope.spawn(|| topology.run("dhcp", &[guest])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((guest, _, _), lease) in GUESTS.iter().zip(&leases) {
        assert_eq!(
            lease.status, 0,
            "{guest}: dhclient got no lease from the server's dhcpd:\n{}{}",
            lease.stdout, lease.stderr
        );
    }
    clock.lap("guests' DHCP");
    for (guest, v4, v6) in GUESTS {
        let waited = wait_until(Duration::from_secs(10), || {
            let state = topology.guest_sh(
                guest,
                "ip -4 -o addr show dev eth0; ip -6 -o addr show dev eth0 scope global; ip -6 route show default",
            );
            let ok = state.contains(&format!("inet {v4}/"))
                && state.contains(&format!("inet6 {v6}/128"))
                && !state.contains("tentative")
                && state.contains("proto ra");
            if ok {
                Ok(())
            } else {
                Err(state)
            }
        })
        .unwrap_or_else(|state| {
            panic!(
                "{guest} must have {v4} (DHCPv4), {v6}/128 (DHCPv6, DAD done) and an IPv6 default route from the server's RA within 10 s; it has:\n{state}"
            )
        });
        eprintln!("e2e: {guest} addressed {waited:.2?} after its dhclients returned");
    }
    clock.lap("guests addressed");

    // Each guest reaches the ISP over IPv6 (proxy NDP, /128 routes, FORWARD) and over IPv4
    // (the ISP has no route to 192.168.122.0/24: only the server's NAT makes this work).
    let isp_routes = topology.isp(&["ip", "-4", "route"]).stdout;
    assert!(
        !isp_routes.contains("192.168.122."),
        "the ISP must have no route to the guests' IPv4 subnet: {isp_routes}"
    );
    for (guest, _, v6) in GUESTS {
        ping(topology.guest(guest, &[PING, "-6", "-c5", "-W2", ISP_V6])).unwrap_or_else(|error| {
            panic!("{guest} cannot ping the ISP ({ISP_V6}) over IPv6 after converge: {error}")
        });
        ping(topology.guest(guest, &[PING, "-4", "-c5", "-W2", ISP_V4])).unwrap_or_else(
            |error| panic!("{guest} cannot reach the ISP ({ISP_V4}) over IPv4 through NAT after converge: {error}"),
        );
        // and from outside: the ISP finds the guest's address by proxy NDP on wan0
        ping(topology.isp(&[PING, "-6", "-c5", "-W2", v6]))
            .unwrap_or_else(|error| panic!("the ISP cannot ping {guest} ({v6}): {error}"));
    }
    clock.lap("guests ↔ ISP");

    // --- sendmail: submission on IPv6 and port 25; the ISP gets the SMTP banner on 587.
    // A dual-stack [::] socket (bindv6only=0) is shown as `*:587`; `-6` proves the family.
    wait_until(Duration::from_secs(10), || {
        let v6_587 = lab.sh(SERVER, "ss -ltn6 'sport = :587'");
        if v6_587.contains("[::]:587") || v6_587.contains("*:587") {
            Ok(())
        } else {
            Err(lab.sh(SERVER, "ss -ltnp"))
        }
    })
    .unwrap_or_else(|listening| {
        panic!("sendmail must listen on [::]:587 (within 10 s of converge):\n{listening}")
    });
    let all_tcp = lab.sh(SERVER, "ss -ltn");
    assert!(
        all_tcp.contains(":25 "),
        "sendmail must listen on port 25:\n{all_tcp}"
    );
    let banner = topology.isp(&[
        "timeout",
        "15",
        "bash",
        "-c",
        "exec 3<>\"/dev/tcp/$0/587\" && head -c 4 <&3",
        &server_v6,
    ]);
    assert_eq!(
        banner.stdout, "220 ",
        "the ISP must get sendmail's SMTP banner from [{server_v6}]:587:\n{}{}",
        banner.stdout, banner.stderr
    );

    // --- The firewall: a listener on a port firewall6 does not allow is unreachable from the ISP.
    lab.sh(
        SERVER,
        "setsid /usr/bin/python3 -m http.server --bind :: 8081 </dev/null >/dev/null 2>&1 &",
    );
    wait_until(Duration::from_secs(10), || {
        let listening = lab.sh(SERVER, "ss -ltn 'sport = :8081'");
        if listening.contains(":8081") {
            Ok(())
        } else {
            Err(listening)
        }
    })
    .unwrap_or_else(|error| panic!("the test listener on 8081 did not start: {error}"));
    let blocked = topology.isp(&[
        "timeout",
        "3",
        "bash",
        "-c",
        "exec 3<>\"/dev/tcp/$0/8081\"",
        &server_v6,
    ]);
    assert_ne!(
        blocked.status, 0,
        "port 8081 (not in firewall6_allowed_tcp) on [{server_v6}] was reachable from the ISP"
    );
    clock.lap("sendmail and firewall");

    // --- Second run: nothing left to do.
    let again = test.run();
    assert_ne!(
        again.status,
        3,
        "after converge the controller cannot reach {SERVER} over SSH any more (the firewall must \
         allow TCP 22 from anywhere):\n{}",
        tail(&again)
    );
    assert_eq!(again.status, 0, "second converge failed:\n{}", tail(&again));
    let recap = again.recap(SERVER);
    assert!(
        recap.contains("changed=0") && recap.contains("failed=0"),
        "the second run must change nothing: {recap}\n{}",
        tail(&again)
    );
    clock.lap("second converge");

    // Still on SLAAC: RAs keep being accepted on wan0 with forwarding on.
    slaac(&lab)
        .unwrap_or_else(|error| panic!("at the end the server has lost SLAAC on wan0:\n{error}"));
    drop(topology);
    drop(lab);
    clock.lap("teardown");
}
