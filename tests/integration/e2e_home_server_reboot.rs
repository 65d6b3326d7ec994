//! End to end, the home server keeps working (issue #14, Debian): the world of
//! `e2e_home_server` (tests/e2e/topology) with the server's FORWARD policy at DROP for IPv4 and
//! IPv6 before converge runs, then:
//!
//! 1. converge applies `examples/site.yml`; the guests take their leases; guest ↔ guest pings
//!    over IPv4 and IPv6 (bridge netfilter sends them through FORWARD), guests → ISP over IPv6
//!    and over IPv4 through NAT;
//! 2. dhcpd -6, radvd and sendmail are killed (`kill -9`, leaving their pid files) and the
//!    IPv4 guest-to-guest accept is deleted (guest1 then cannot ping guest2): the next run
//!    starts the daemons and puts the rule back, and the run after that changes nothing;
//! 3. a simulated reboot of the server: its daemons stopped, /run emptied of what they and
//!    the boot loaders left, the addresses, routes, neighbours and proxy entries of wan0 and
//!    virbr0 flushed (the links go down and up), both netfilter families emptied with ACCEPT
//!    policies, the `net.*` sysctls converge sets put back to the kernel's defaults, and the
//!    bridge's IPv4 address left off until "libvirt" puts it back after the init scripts ran.
//!    Then, with no converge in between, the boot path the roles installed, in Debian's
//!    order without systemd: the `net.*` lines of /etc/sysctl.d/*.conf and /etc/sysctl.conf
//!    (procps), converge's if-pre-up.d hooks, wan0's static IPv4 (ifupdown's own job), converge's
//!    if-up.d hooks, the rc2.d start links of isc-dhcp-server, radvd and sendmail; then the
//!    bridge's IPv4 address. The daemons must come up, the guests get fresh leases and reach
//!    each other and the ISP again, and the next converge run reports changed=0.
//!
//! The lab host has no systemd (`service_mgr` is sysvinit): the systemd branch (units and
//! drop-ins) is checked by the module tests, not booted here. The lab's own eth0 (converge's
//! SSH) is left alone by the "reboot".
//!
//! Run alone: `cargo test --test integration e2e_home_server_reboot -- --nocapture`.

use crate::e2e_home_server::{
    converge_args, converge_test, ping, tail, wait_until, Clock, Topology, GUESTS, ISP_V4, ISP_V6,
    PING, REPO, SERVER,
};
use crate::lab::Lab;
use crate::support::{Run, Test};
use std::time::Duration;

/// The server's SLAAC address on wan0, once it also has the RA default route.
fn slaac(lab: &Lab) -> Result<String, String> {
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
}

/// The daemons the roles keep running: (what, process names, how many at least).
const DAEMONS: [(&str, &[&str], usize); 3] = [
    ("dhcpd -4 and dhcpd -6", &["dhcpd"], 2),
    ("radvd", &["radvd"], 1),
    ("sendmail", &["sendmail", "sendmail-mta"], 1),
];

/// The daemons that are not running in the server's namespace.
fn missing_daemons(topology: &Topology) -> Vec<&'static str> {
    let processes = topology.server_processes();
    DAEMONS
        .iter()
        .filter(|(_, names, at_least)| {
            processes
                .iter()
                .filter(|p| names.contains(&p.as_str()))
                .count()
                < *at_least
        })
        .map(|(what, _, _)| *what)
        .collect()
}

fn wait_for_daemons(topology: &Topology, lab: &Lab, limit: Duration, when: &str) {
    wait_until(limit, || {
        let missing = missing_daemons(topology);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("{missing:?}"))
        }
    })
    .unwrap_or_else(|missing| {
        panic!(
            "{when}: not running in the server: {missing}; processes: {:?}\nss:\n{}",
            topology.server_processes(),
            lab.sh(SERVER, "ss -lnup; ss -ltnp")
        )
    });
}

/// Fresh dhclients in the guests, then their reserved addresses and the RA default route.
pub(crate) fn lease_guests(topology: &Topology, when: &str) {
    let leases: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = GUESTS
            .iter()
            .map(|(guest, _, _)| scope.spawn(|| topology.run("dhcp", &[guest])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for ((guest, _, _), lease) in GUESTS.iter().zip(&leases) {
        assert_eq!(
            lease.status, 0,
            "{when}: {guest}'s dhclient got no lease from the server's dhcpd:\n{}{}",
            lease.stdout, lease.stderr
        );
    }
    for (guest, v4, v6) in GUESTS {
        wait_until(Duration::from_secs(15), || {
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
            panic!("{when}: {guest} must have {v4}, {v6}/128 and an RA default route; it has:\n{state}")
        });
    }
}

/// Guest ↔ guest over IPv4 and IPv6, guests → ISP over IPv6 and over IPv4 (NAT), ISP → guests.
pub(crate) fn check_guests(topology: &Topology, lab: &Lab, when: &str) {
    let counters = || {
        lab.sh(
            SERVER,
            "iptables -L FORWARD -v -n; ip6tables -L FORWARD -v -n",
        )
    };
    let (g1, g1v4, g1v6) = GUESTS[0];
    let (g2, g2v4, g2v6) = GUESTS[1];
    for (from, to, v4, v6) in [(g1, g2, g2v4, g2v6), (g2, g1, g1v4, g1v6)] {
        ping(topology.guest(from, &[PING, "-4", "-c3", "-W2", v4])).unwrap_or_else(|error| {
            panic!(
                "{when}: {from} cannot ping {to} ({v4}) over IPv4 across virbr0: {error}\n{}",
                counters()
            )
        });
        ping(topology.guest(from, &[PING, "-6", "-c3", "-W2", v6])).unwrap_or_else(|error| {
            panic!(
                "{when}: {from} cannot ping {to} ({v6}) over IPv6 across virbr0: {error}\n{}",
                counters()
            )
        });
    }
    for (guest, _, v6) in GUESTS {
        ping(topology.guest(guest, &[PING, "-6", "-c3", "-W2", ISP_V6])).unwrap_or_else(|error| {
            panic!("{when}: {guest} cannot ping the ISP ({ISP_V6}) over IPv6: {error}")
        });
        ping(topology.guest(guest, &[PING, "-4", "-c3", "-W2", ISP_V4])).unwrap_or_else(
            |error| {
                panic!(
                    "{when}: {guest} cannot reach the ISP ({ISP_V4}) over IPv4 through NAT: {error}\n{}",
                    lab.sh(SERVER, "iptables-save -c")
                )
            },
        );
        ping(topology.isp(&[PING, "-6", "-c3", "-W2", v6]))
            .unwrap_or_else(|error| panic!("{when}: the ISP cannot ping {guest} ({v6}): {error}"));
    }
}

/// A converge run that must succeed; returns it.
fn converge(test: &Test, when: &str) -> Run {
    let run = test.run();
    assert_eq!(run.status, 0, "{when}: converge failed:\n{}", tail(&run));
    run
}

/// Empty tables with ACCEPT policies, for both families (what a kernel boots with).
const EMPTY_NETFILTER: &str = "for f in iptables ip6tables; do
  printf '*filter\\n:INPUT ACCEPT [0:0]\\n:FORWARD ACCEPT [0:0]\\n:OUTPUT ACCEPT [0:0]\\nCOMMIT\\n*nat\\n:PREROUTING ACCEPT [0:0]\\n:INPUT ACCEPT [0:0]\\n:OUTPUT ACCEPT [0:0]\\n:POSTROUTING ACCEPT [0:0]\\nCOMMIT\\n' | $f-restore
done";

/// The server goes down: daemons stopped, /run cleaned as a reboot leaves it, wan0 and virbr0
/// flushed, netfilter emptied, the net.* sysctls back to the kernel's defaults.
fn shut_down_server(topology: &Topology, lab: &Lab) {
    let namespace = topology.server_namespace();
    let pids = std::process::Command::new("ip")
        .args(["netns", "pids", &namespace])
        .output()
        .expect("ip netns pids");
    for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if DAEMONS
            .iter()
            .any(|(_, names, _)| names.contains(&comm.trim()))
        {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", pid])
                .status();
        }
    }
    wait_until(Duration::from_secs(5), || {
        let processes = topology.server_processes();
        match processes.iter().find(|p| {
            DAEMONS
                .iter()
                .any(|(_, names, _)| names.contains(&p.as_str()))
        }) {
            Some(p) => Err(p.clone()),
            None => Ok(()),
        }
    })
    .unwrap_or_else(|p| panic!("{p} is still running after kill -9"));
    lab.sh(
        SERVER,
        &format!(
            "set -e
             # /run is a tmpfs: a reboot leaves no pid files and no converge markers
             rm -f /run/dhcpd.pid /run/dhcpd6.pid /run/radvd/radvd.pid /run/converge-*.loaded
             rm -rf /run/sendmail
             {EMPTY_NETFILTER}
             # the kernel's defaults for what converge sets (all.forwarding=0 resets every interface)
             sysctl -q -w net.ipv6.conf.all.forwarding=0 net.ipv4.ip_forward=0 \
               net.ipv6.conf.all.proxy_ndp=0 net.ipv6.conf.wan0.proxy_ndp=0 net.ipv6.conf.wan0.accept_ra=1
             ip -6 neigh flush proxy || true
             for dev in wan0 virbr0; do
               ip link set $dev down
               ip addr flush dev $dev
               ip route flush dev $dev || true
               ip -6 route flush dev $dev || true
               ip neigh flush dev $dev || true
             done
             # libvirt makes the bridge early without its IPv4 address in this story; up again
             # for its link-local address (radvd sends from it)
             ip link set virbr0 up"
        ),
    );
    let left = lab.sh(
        SERVER,
        "ip -o addr show dev wan0; ip -o addr show dev virbr0 scope global; ip -6 neigh show proxy; \
         iptables-save | grep -c '^-A' || true; sysctl -n net.ipv6.conf.all.forwarding",
    );
    assert_eq!(
        left, "0\n0\n",
        "the simulated shutdown left state behind:\n{left}"
    );
}

/// The boot path the roles installed, in Debian's order without systemd; no converge.
fn boot_server(lab: &Lab) -> String {
    lab.sh(
        SERVER,
        "exec 2>&1
         echo '--- procps: the net.* keys of sysctl.d and sysctl.conf (sysctl.conf last)'
         cat /etc/sysctl.d/*.conf /etc/sysctl.conf 2>/dev/null | grep -E '^[[:space:]]*net[./]' | sysctl -e -p - || true
         echo '--- ifupdown: lo and wan0'
         for IFACE in lo wan0; do
           export IFACE MODE=start PHASE=pre-up ADDRFAM=inet METHOD=static
           for hook in /etc/network/if-pre-up.d/converge-*; do [ -x \"$hook\" ] && { echo \"pre-up $IFACE: $hook\"; \"$hook\"; }; done
           ip link set $IFACE up
           if [ $IFACE = wan0 ]; then
             ip addr add 198.18.0.2/24 dev wan0
             ip route add default via 198.18.0.1 dev wan0
           fi
           export PHASE=post-up
           for hook in /etc/network/if-up.d/converge-*; do [ -x \"$hook\" ] && { echo \"up $IFACE: $hook\"; \"$hook\"; }; done
         done
         echo '--- rc2.d'
         for link in /etc/rc2.d/S*; do
           case $link in *isc-dhcp-server|*radvd|*sendmail) ;; *) continue ;; esac
           echo \"$link start\"
           \"$link\" start </dev/null || echo \"($link start exited $?)\"
         done
         echo '--- libvirt: the bridge gets its IPv4 address'
         ip addr add 192.168.122.1/24 dev virbr0
         true",
    )
}

#[test]
fn e2e_home_server_keeps_working_after_a_killed_daemon_and_a_reboot() {
    let mut clock = Clock::new();
    let lab = Lab::start(1);
    let inventory = lab.inventory();
    // As in e2e_home_server: an FQDN for sendmail, the ISP as (absent) name server.
    lab.sh(
        SERVER,
        "sed -i -E 's/^127\\.0\\.1\\.1[[:space:]]+h1$/127.0.1.1\\th1.home.arpa h1/' /etc/hosts && \
         grep -q '^127.0.1.1.h1.home.arpa h1$' /etc/hosts && \
         rm -f /etc/resolv.conf && \
         printf 'nameserver 198.18.0.1\\noptions timeout:1 attempts:1\\n' >/etc/resolv.conf",
    );
    let topology = Topology::up(&lab, SERVER);
    wait_until(Duration::from_secs(15), || slaac(&lab).map(|_| ()))
        .unwrap_or_else(|error| panic!("no SLAAC on wan0 before converge:\n{error}"));
    // The server: FORWARD policy DROP for both families, no libvirt firewall.
    lab.sh(
        SERVER,
        "iptables -P FORWARD DROP && ip6tables -P FORWARD DROP",
    );
    clock.lap("lab and topology up");

    let site = format!("{REPO}/examples/site.yml");
    let test = converge_test()
        .args(&converge_args(&inventory, &site, &[]))
        .timeout(90);

    // --- 1. converge, then the guests.
    let first = converge(&test, "first run");
    assert!(
        !first.recap(SERVER).contains("changed=0"),
        "the first run must change the server: {}",
        first.recap(SERVER)
    );
    wait_for_daemons(&topology, &lab, Duration::from_secs(10), "after converge");
    lease_guests(&topology, "after converge");
    check_guests(&topology, &lab, "after converge");
    let rules_v4 = lab.sh(SERVER, "cat /etc/iptables/rules.v4");
    assert!(
        rules_v4.contains("-A FORWARD -i virbr0 -o virbr0 -j ACCEPT"),
        "the persisted IPv4 ruleset lacks the guest-to-guest accept:\n{rules_v4}"
    );
    clock.lap("converge and guests");

    // --- 2. daemons killed: the next run starts them; the one after changes nothing.
    let namespace = topology.server_namespace();
    lab.sh(
        SERVER,
        "kill -9 $(cat /run/dhcpd6.pid) $(cat /run/radvd/radvd.pid) $(head -n 1 /run/sendmail/mta/sendmail.pid)",
    );
    wait_until(Duration::from_secs(5), || {
        let missing = missing_daemons(&topology);
        if missing.len() == 3 {
            Ok(())
        } else {
            Err(format!("{missing:?}"))
        }
    })
    .unwrap_or_else(|missing| {
        panic!("kill -9 left daemons running in {namespace}; missing only {missing}")
    });
    // And the IPv4 guest-to-guest accept removed by hand: with FORWARD at DROP and bridge
    // netfilter, guest1 no longer reaches guest2 over IPv4 until the next run puts it back.
    lab.sh(SERVER, "iptables -D FORWARD -i virbr0 -o virbr0 -j ACCEPT");
    let cut = topology.guest(GUESTS[0].0, &[PING, "-4", "-c1", "-W2", GUESTS[1].1]);
    assert_ne!(
        cut.status, 0,
        "without `-i virbr0 -o virbr0 -j ACCEPT` guest1 still pings guest2 over IPv4: the test \
         does not exercise bridge netfilter\n{}",
        cut.stdout
    );
    let restart = converge(&test, "the run after kill -9");
    assert!(
        !restart.recap(SERVER).contains("changed=0"),
        "the run after the daemons died must start them (changed > 0): {}\n{}",
        restart.recap(SERVER),
        tail(&restart)
    );
    wait_for_daemons(
        &topology,
        &lab,
        Duration::from_secs(10),
        "after the run that follows kill -9",
    );
    let again = converge(&test, "the run after the restart");
    assert!(
        again.recap(SERVER).contains("changed=0"),
        "with every daemon running, the run must change nothing: {}\n{}",
        again.recap(SERVER),
        tail(&again)
    );
    lease_guests(&topology, "after the daemons were restarted");
    check_guests(&topology, &lab, "after the daemons were restarted");
    clock.lap("killed daemons restored");

    // --- 3. a simulated reboot, then the boot path alone.
    shut_down_server(&topology, &lab);
    clock.lap("shutdown");
    let boot = boot_server(&lab);
    eprintln!("e2e reboot: the boot path ran:\n{boot}");
    wait_until(Duration::from_secs(20), || slaac(&lab).map(|_| ())).unwrap_or_else(|error| {
        panic!("after the reboot the server has no SLAAC on wan0:\n{error}\nboot:\n{boot}")
    });
    wait_for_daemons(&topology, &lab, Duration::from_secs(30), "after the reboot");
    let live = lab.sh(
        SERVER,
        "sysctl -n net.ipv6.conf.all.forwarding net.ipv4.ip_forward net.ipv6.conf.wan0.accept_ra; \
         iptables-save | grep -c '^-A'; ip -6 neigh show proxy | wc -l",
    );
    assert_eq!(
        live, "1\n1\n2\n4\n2\n",
        "after the reboot: forwarding, ip_forward, wan0.accept_ra, IPv4 rules, proxy entries:\n{live}\nboot:\n{boot}"
    );
    lease_guests(&topology, "after the reboot");
    check_guests(&topology, &lab, "after the reboot");
    clock.lap("reboot");

    let after_boot = converge(&test, "the run after the reboot");
    assert!(
        after_boot.recap(SERVER).contains("changed=0"),
        "after the reboot the boot path must have put everything back: {}\n{}",
        after_boot.recap(SERVER),
        tail(&after_boot)
    );
    clock.lap("converge after the reboot");
    drop(topology);
    drop(lab);
}
