//! Lab tests for the `dhcpd` module: converge over SSH against lab hosts, checked with the real tools.
//!
//! h1 gets a v4 and a v6 config for its eth0 lab subnet; dhcpd then serves it for real: h2
//! (reserved by MAC) and h3 ask with dhclient, which only records the lease (`-sf /bin/true`).

use crate::lab::Lab;
use crate::support::Test;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The lab's IPv4 /20 and IPv6 /64 as seen from a host's addresses.
fn networks(ipv4: &str, ipv6: &str) -> (Ipv4Addr, Ipv6Addr) {
    let v4: Ipv4Addr = ipv4.parse().expect("lab ipv4");
    let v6: Ipv6Addr = ipv6.parse().expect("lab ipv6");
    (
        Ipv4Addr::from(u32::from(v4) & 0xffff_f000),
        Ipv6Addr::from(u128::from(v6) & !0xffff_ffff_ffff_ffffu128),
    )
}

fn playbook(v4: Ipv4Addr, v6: Ipv6Addr, h2_mac: &str, range_start: u8) -> String {
    let base = v4.octets();
    let at = |last: u8| format!("{}.{}.{}.{last}", base[0], base[1], base[2]);
    format!(
        "- hosts: h1\n  tasks:\n\
         \x20   - dhcpd:\n\
         \x20       family: ipv4\n\
         \x20       authoritative: yes\n\
         \x20       default_lease_time: 600\n\
         \x20       max_lease_time: 7200\n\
         \x20       domain_name_servers: {dns}\n\
         \x20       subnets:\n\
         \x20         - subnet: {v4}/20\n\
         \x20           range: {first} {last}\n\
         \x20           routers: [{dns}]\n\
         \x20       hosts:\n\
         \x20         - name: h2\n\
         \x20           hardware_ethernet: \"{h2_mac}\"\n\
         \x20           fixed_address: {fixed}\n\
         \x20   - dhcpd:\n\
         \x20       family: ipv6\n\
         \x20       default_lease_time: 2592000\n\
         \x20       preferred_lifetime: 604800\n\
         \x20       domain_name_servers: [\"{v6}1\"]\n\
         \x20       subnets:\n\
         \x20         - subnet: \"{v6}/64\"\n\
         \x20           range6: \"{v6}1:0 {v6}1:ff\"\n",
        dns = at(1),
        first = at(range_start),
        last = at(210),
        fixed = at(220),
    )
}

#[test]
fn lab_dhcpd_serves_v4_and_v6_leases_and_refuses_a_bad_range() {
    let lab = Lab::start(3);
    let h1 = lab.hosts[0].clone();
    let (v4, v6) = networks(&h1.ipv4, &h1.ipv6);
    let h2_mac = lab
        .sh("h2", "cat /sys/class/net/eth0/address")
        .trim()
        .to_string();
    let test = Test::new().file("site.yml", &playbook(v4, v6, &h2_mac, 200));
    let inventory = lab.inventory();

    // --check first: a plan with changes, and nothing on the host changed.
    let before = lab.snapshot("h1");
    let test = test.args(&["-i", &inventory, "site.yml", "--check", "--diff"]);
    let run = test.run();
    run.expect_status(0).stderr_has("+subnet6 ");
    assert_eq!(lab.snapshot("h1"), before, "--check changed h1");

    let test = test.args(&["-i", &inventory, "site.yml", "--diff"]);
    let run = test.run();
    run.expect_status(0)
        .stderr_has("+  range ")
        .stderr_has("+subnet6 ");
    assert!(run.recap("h1").contains("changed=2"), "{}", run.stderr);
    let config = lab.sh("h1", "cat /etc/dhcp/dhcpd.conf");
    let config6 = lab.sh("h1", "cat /etc/dhcp/dhcpd6.conf");
    lab.sh(
        "h1",
        "test -f /var/lib/dhcp/dhcpd.leases && test -f /var/lib/dhcp/dhcpd6.leases",
    );
    lab.sh("h1", "dhcpd -t -cf /etc/dhcp/dhcpd.conf 2>/dev/null && dhcpd -6 -t -cf /etc/dhcp/dhcpd6.conf 2>/dev/null");

    // Second run: nothing to do.
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);

    // The real daemons serve what converge wrote.
    lab.sh(
        "h1",
        "ip -6 addr add fe80::1/64 dev eth0 nodad; \
         dhcpd -4 -q -cf /etc/dhcp/dhcpd.conf -lf /var/lib/dhcp/dhcpd.leases -pf /run/dhcpd.pid eth0 && \
         dhcpd -6 -q -cf /etc/dhcp/dhcpd6.conf -lf /var/lib/dhcp/dhcpd6.leases -pf /run/dhcpd6.pid eth0",
    );
    let v4_lease = |host: &str| {
        lab.exec(
            host,
            &[
                "sh",
                "-c",
                "timeout 30 dhclient -4 -1 -v -sf /bin/true -lf /tmp/x.leases -pf /tmp/dh.pid eth0; \
                 cat /tmp/x.leases; kill $(cat /tmp/dh.pid) 2>/dev/null; true",
            ],
        )
    };
    let h2 = v4_lease("h2");
    let base = v4.octets();
    let fixed = format!("fixed-address {}.{}.{}.220;", base[0], base[1], base[2]);
    assert!(
        h2.stdout.contains(&fixed),
        "h2 lease:\n{}{}",
        h2.stdout,
        h2.stderr
    );
    let h3 = v4_lease("h3");
    let offered = h3
        .stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("fixed-address "))
        .and_then(|rest| rest.trim_end_matches(';').parse::<Ipv4Addr>().ok())
        .unwrap_or_else(|| panic!("h3 got no lease:\n{}{}", h3.stdout, h3.stderr));
    let last = offered.octets()[3];
    assert!(
        offered.octets()[..3] == base[..3] && (200..=210).contains(&last),
        "h3 got {offered}"
    );

    let h3_v6 = lab.exec(
        "h3",
        &[
            "sh",
            "-c",
            "ip -6 addr add fe80::3/64 dev eth0 nodad; \
             timeout 30 dhclient -6 -1 -v -sf /bin/true -lf /tmp/x6.leases -pf /tmp/dh6.pid eth0; \
             cat /tmp/x6.leases; kill $(cat /tmp/dh6.pid) 2>/dev/null; true",
        ],
    );
    let address6 = h3_v6
        .stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("iaaddr "))
        .and_then(|rest| rest.trim_end_matches(" {").trim().parse::<Ipv6Addr>().ok())
        .unwrap_or_else(|| panic!("h3 got no IPv6 lease:\n{}{}", h3_v6.stdout, h3_v6.stderr));
    let offset = u128::from(address6) - u128::from(v6);
    assert!((0x1_0000..=0x1_00ff).contains(&offset), "h3 got {address6}");
    lab.sh("h1", "kill $(cat /run/dhcpd.pid) $(cat /run/dhcpd6.pid)");

    // A range outside the subnet: dhcpd's own message, and the old file stays.
    let bad = playbook(v4, v6, &h2_mac, 200).replace(
        &format!("range: {}.{}.{}.200", base[0], base[1], base[2]),
        &format!(
            "range: {}.{}.{}.200",
            base[0],
            base[1].wrapping_add(1),
            base[2]
        ),
    );
    let test = test.file("site.yml", &bad);
    let run = test.run();
    assert_ne!(run.status, 0, "a bad range must fail\n{}", run.stderr);
    run.stderr_has("bad range, address");
    assert!(run.recap("h1").contains("failed=1"), "{}", run.stderr);
    assert_eq!(lab.sh("h1", "cat /etc/dhcp/dhcpd.conf"), config);
    assert_eq!(lab.sh("h1", "cat /etc/dhcp/dhcpd6.conf"), config6);
}
