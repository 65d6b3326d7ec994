//! Lab tests for the `sysctl` module: converge over SSH against lab hosts, checked with the real tools.
//!
//! Only `net.*` keys: they belong to the lab host's network namespace. Anything else would
//! change the machine running the tests.

use crate::lab::Lab;
use crate::support::Test;

const SITE: &str = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - name: route IPv6 without losing SLAAC on eth0\n      sysctl:\n        settings:\n          net.ipv6.conf.all.forwarding: 1\n          net.ipv6.conf.eth0.accept_ra: 2\n";

const KEYS: &str = "sysctl -n net.ipv6.conf.all.forwarding net.ipv6.conf.eth0.accept_ra";

fn real_machine() -> (String, Option<String>) {
    let live = ["all/forwarding", "eth0/accept_ra", "default/forwarding"]
        .iter()
        .map(|key| {
            std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{key}")).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(",");
    (live, std::fs::read_to_string("/etc/sysctl.conf").ok())
}

#[test]
fn lab_sysctl_sets_forwarding_and_accept_ra_live_and_in_the_file() {
    let machine_before = real_machine();
    let lab = Lab::start(2);
    let inventory = lab.inventory();
    let h2_before = (lab.sh("h2", KEYS), lab.snapshot("h2"));
    let h1_live_before = lab.sh("h1", KEYS);
    assert_eq!(h1_live_before, "0\n1\n", "a fresh lab host routes nothing");
    let file_before = lab.exec("h1", &["cat", "/etc/sysctl.conf"]).stdout;

    // --check: reports the four changes, changes nothing.
    let snapshot = lab.snapshot("h1");
    let test = Test::new()
        .file("site.yml", SITE)
        .args(&["-i", &inventory, "site.yml", "--check", "--diff"]);
    let run = test.run();
    run.expect_status(0)
        .stderr_has("net.ipv6.conf.eth0.accept_ra (file /etc/sysctl.conf)")
        .stderr_has("net.ipv6.conf.all.forwarding (live)");
    assert_eq!(lab.snapshot("h1"), snapshot, "--check changed files");
    assert_eq!(
        lab.sh("h1", KEYS),
        h1_live_before,
        "--check changed live values"
    );

    // Apply.
    let test = test.args(&["-i", &inventory, "site.yml", "--diff"]);
    let run = test.run();
    run.expect_status(0);
    assert!(
        run.recap("h1").contains("changed=1") && run.recap("h1").contains("failed=0"),
        "{}",
        run.stderr
    );
    assert_eq!(lab.sh("h1", KEYS), "1\n2\n");
    // Every old line kept byte for byte, the two keys appended (accept_ra first is not
    // required in the file: both are applied before any RA arrives at boot).
    let file_after = lab.sh("h1", "cat /etc/sysctl.conf");
    assert!(
        file_before.ends_with('\n'),
        "the machine's file ends with a newline"
    );
    // Appended like the file's last setting; a stock file with every line commented gets
    // Ansible's `key=value`.
    let appended = [
        "net.ipv6.conf.all.forwarding = 1\nnet.ipv6.conf.eth0.accept_ra = 2\n",
        "net.ipv6.conf.all.forwarding=1\nnet.ipv6.conf.eth0.accept_ra=2\n",
    ];
    assert!(
        appended
            .iter()
            .any(|tail| file_after == format!("{file_before}{tail}")),
        "{file_after}"
    );
    // Never `sysctl -p` here: the file may hold kernel.*/vm.* keys that are machine-wide.

    // Second run: nothing to do.
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);

    // Nobody else changed.
    assert_eq!((lab.sh("h2", KEYS), lab.snapshot("h2")), h2_before);
    drop(lab);
    assert_eq!(real_machine(), machine_before, "the real machine changed");
}

/// An "ISP" network namespace (`cvgt-isp<pid>`) running radvd, linked by a veth to the lab
/// host's `wan0`, advertising the ULA prefix fd42:1::/64 every 3–4 s. Removed on drop.
struct Isp {
    namespace: String,
    radvd: std::process::Child,
    _dir: tempfile::TempDir,
}

fn ip(args: &[&str]) {
    let status = std::process::Command::new("ip")
        .args(args)
        .status()
        .expect("run ip");
    assert!(status.success(), "ip {args:?} failed");
}

impl Isp {
    fn start(lab: &Lab, host: &str) -> Isp {
        let env = std::fs::read_to_string(lab.state().join("lab.env")).expect("lab.env");
        let slot = env
            .lines()
            .find_map(|line| line.strip_prefix("SLOT="))
            .expect("SLOT in lab.env");
        let host_ns = format!("cvg{slot}-{host}");
        let namespace = format!("cvgt-isp{}", std::process::id());
        ip(&["netns", "add", &namespace]);
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("radvd.conf");
        std::fs::write(
            &config,
            "interface veth-isp {\n AdvSendAdvert on;\n MinRtrAdvInterval 3;\n MaxRtrAdvInterval 4;\n prefix fd42:1::/64 { AdvOnLink on; AdvAutonomous on; };\n};\n",
        )
        .expect("radvd.conf");
        ip(&[
            "-n", &namespace, "link", "add", "veth-isp", "type", "veth", "peer", "name", "wan0",
            "netns", &host_ns,
        ]);
        ip(&[
            "-n",
            &namespace,
            "addr",
            "add",
            "fd42:1::1/64",
            "dev",
            "veth-isp",
        ]);
        ip(&["-n", &namespace, "link", "set", "veth-isp", "up"]);
        ip(&["-n", &host_ns, "link", "set", "wan0", "up"]);
        let radvd = std::process::Command::new("ip")
            .args([
                "netns", "exec", &namespace, "radvd", "-n", "-m", "stderr", "-C",
            ])
            .arg(&config)
            .arg("-p")
            .arg(dir.path().join("radvd.pid"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start radvd");
        Isp {
            namespace,
            radvd,
            _dir: dir,
        }
    }
}

impl Drop for Isp {
    fn drop(&mut self) {
        // `ip netns exec` execs radvd, so the child is radvd itself. SIGTERM lets it stop its
        // privilege-separation helper; SIGKILL only if it does not exit within 3 s.
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.radvd.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
        while matches!(self.radvd.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = self.radvd.kill();
        let _ = self.radvd.wait();
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.namespace])
            .status();
    }
}

/// Wait up to `seconds` for h1's RA default route via wan0 to be `present` (or gone).
fn wait_ra_route(lab: &Lab, present: bool, seconds: u64) -> bool {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    loop {
        let routes = lab.sh("h1", "ip -6 route show default");
        if routes.contains("dev wan0 proto ra") == present {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

/// DOMAIN.md §2 with converge: forwarding alone drops the RA default route (and converge warns
/// beforehand, naming the fix); forwarding with `accept_ra = 2` keeps it through later RAs.
#[test]
fn lab_sysctl_radvd_forwarding_keeps_the_ra_route_only_with_accept_ra_2() {
    let lab = Lab::start(1);
    let inventory = lab.inventory();
    let _isp = Isp::start(&lab, "h1");
    assert!(
        wait_ra_route(&lab, true, 20),
        "wan0 got no RA default route"
    );

    // Without accept_ra = 2: warned, and the route goes.
    let forwarding_only = "- hosts: h1\n  tasks:\n    - sysctl:\n        name: net.ipv6.conf.all.forwarding\n        value: 1\n        sysctl_file: /etc/sysctl.d/60-forwarding-only.conf\n";
    let test = Test::new()
        .file("b.yml", forwarding_only)
        .args(&["-i", &inventory, "b.yml"]);
    test.run()
        .expect_status(0)
        .stderr_has("will remove the IPv6 default route of `wan0`")
        .stderr_has("add `net.ipv6.conf.wan0.accept_ra = 2` to this task");
    assert!(
        wait_ra_route(&lab, false, 3),
        "the RA route survived forwarding"
    );
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert!(
        wait_ra_route(&lab, false, 0),
        "an RA brought the route back"
    );

    // Back to a plain host; the next RA restores the route.
    lab.sh("h1", "sysctl -q -w net.ipv6.conf.all.forwarding=0");
    assert!(wait_ra_route(&lab, true, 10), "the route did not come back");

    // With accept_ra = 2 (set first): no warning, and the route stays through later RAs.
    let recipe = "- hosts: h1\n  tasks:\n    - sysctl:\n        settings:\n          net.ipv6.conf.all.forwarding: 1\n          net.ipv6.conf.wan0.accept_ra: 2\n";
    let test = Test::new()
        .file("a.yml", recipe)
        .args(&["-i", &inventory, "a.yml"]);
    let run = test.run();
    run.expect_status(0);
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    assert_eq!(
        lab.sh(
            "h1",
            "sysctl -n net.ipv6.conf.all.forwarding net.ipv6.conf.wan0.accept_ra"
        ),
        "1\n2\n"
    );
    assert!(
        wait_ra_route(&lab, true, 0),
        "the route went with accept_ra = 2"
    );
    // Past the route's lifetime (3 × 4 s) only refreshed routes remain.
    std::thread::sleep(std::time::Duration::from_secs(13));
    assert!(
        wait_ra_route(&lab, true, 0),
        "RAs were ignored with accept_ra = 2"
    );
}
