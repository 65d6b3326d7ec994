//! The example site on a Slackware-flavoured home server: lab host h1 given Slackware 15.0's
//! own rc scripts, pkgtools and package database by `tests/lab/slackware/slackware-host.sh`,
//! in the namespaces of `tests/e2e/topology` (ISP with radvd, virbr0 with two guests).
//!
//! In order: the admin's own rc.firewall (ending in `exit 0`) is put in place; `--check` on the
//! fresh host exits 0, changes nothing and lists every handler that would run (the restarts of
//! the guest-network script and of sendmail, which plan against the rc.guest-network an earlier
//! task would write); the real run starts dhcpd, dhcpd -6, radvd and sendmail; the second run
//! changes nothing; a simulated power cycle (rc.local_shutdown, daemons and rules gone) and
//! boot through the relevant lines of Slackware's own rc.S (net.* keys of the sysctl files
//! only), rc.inet2, rc.M and rc.local brings back the IPv6 firewall, the sysctls and every
//! daemon; then facts (`-m setup`), the package module's refusal without slackpkg, a service
//! the admin disabled, and a tiny SBo-style tree built with the real makepkg and installed
//! with the real installpkg/upgradepkg (a `.new` config file reported, the package kept).
//!
//! Every file reaches the host from the controller's side (lab hosts have a private /tmp).
//! Run alone: `cargo test --test integration lab_slackware -- --nocapture`.

use crate::e2e_home_server::Topology;
use crate::e2e_home_server_reboot::{check_guests, lease_guests};
use crate::lab::Lab;
use crate::support::{Run, Test};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const SLACKWARE_HOST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/lab/slackware/slackware-host.sh"
);
const INVENTORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/home_server.yml");
const SERVER: &str = "h1";

/// The admin's own IPv4 firewall, as many are written: no case statement, `exit 0` at the end.
const ADMIN_RC_FIREWALL: &str =
    "#!/bin/sh\n# My firewall.\n/usr/sbin/iptables -A INPUT -i lo -j ACCEPT\nexit 0\n";

fn tail(run: &Run) -> String {
    let lines: Vec<&str> = run.stderr.lines().collect();
    lines[lines.len().saturating_sub(80)..].join("\n")
}

fn wait_until(limit: Duration, mut probe: impl FnMut() -> Result<(), String>) {
    let start = Instant::now();
    loop {
        match probe() {
            Ok(()) => return,
            Err(error) if start.elapsed() >= limit => panic!("{error}"),
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// The daemons the example starts on the server, by command line (the `[x]` keeps each
/// pattern from matching the shell that runs pgrep, whose command line holds it too).
fn daemons(lab: &Lab) -> String {
    lab.sh(
        SERVER,
        "for p in '[d]hcpd -q -cf' '[d]hcpd -q -6' '[r]advd -C' '[s]endmail: accepting'; do \
           if pgrep -f \"$p\" >/dev/null; then echo \"$p: running\" | tr -d '[]'; \
           else echo \"$p: stopped\" | tr -d '[]'; fi; \
         done",
    )
}

const ALL_RUNNING: &str = "dhcpd -q -cf: running\ndhcpd -q -6: running\nradvd -C: running\nsendmail: accepting: running\n";

/// The lines of Slackware's own boot scripts that bring this server up, taken from the files
/// on the host: rc.S's sysctl step (net.* keys only: other keys are the machine's), rc.inet2's
/// firewall and IP-forwarding blocks, rc.M's mail block and its rc.local block.
const BOOT: &str = r#"set -e
cd /
echo '--- rc.S (sysctl, net.* keys only)'
for f in /etc/sysctl.d/*.conf /etc/sysctl.conf; do
  [ -r "$f" ] || continue
  grep -E '^[[:space:]]*net[./]' "$f" | /sbin/sysctl -e -p - >/dev/null
done
snippet() { sed -n "/^if \[ -x \/etc\/rc.d\/$2 /,/^fi/p" "/etc/rc.d/$1"; }
boot=$(mktemp)
{
  echo 'echo "--- rc.inet2"'
  snippet rc.inet2 rc.firewall
  snippet rc.inet2 rc.ip_forward
  echo 'echo "--- rc.M"'
  snippet rc.M rc.sendmail
  snippet rc.M rc.local
} > "$boot"
grep -q 'rc.firewall start' "$boot"
grep -q 'rc.sendmail start' "$boot"
grep -q '/etc/rc.d/rc.local$' "$boot"
set +e
bash "$boot" </dev/null >/dev/null 2>&1
rc=$?
rm -f "$boot"
exit $rc
"#;

/// What a power cycle loses: daemons (stopped by rc.local_shutdown and rc.sendmail as rc.6
/// would), netfilter rules, sysctls, the bridge's /128, the guests' routes and proxy entries.
const POWER_OFF: &str = r#"cd /
[ -x /etc/rc.d/rc.local_shutdown ] && /etc/rc.d/rc.local_shutdown stop >/dev/null 2>&1
/etc/rc.d/rc.sendmail stop >/dev/null 2>&1
sleep 1
for t in ip6tables iptables; do
  $t -P INPUT ACCEPT; $t -P FORWARD ACCEPT; $t -F; $t -X
done
iptables -t nat -F
sysctl -q -w net.ipv6.conf.wan0.accept_ra=1 net.ipv6.conf.all.forwarding=0 net.ipv4.ip_forward=0 net.ipv6.conf.all.proxy_ndp=0 net.ipv6.conf.wan0.proxy_ndp=0
ip -6 neigh flush proxy dev wan0 2>/dev/null || true
for a in fd42:1::11 fd42:1::12; do ip -6 route del $a/128 dev virbr0 2>/dev/null || true; done
ip -6 addr del fd42:1::fffe/128 dev virbr0 2>/dev/null || true
exit 0
"#;

/// What must be back after boot.
fn booted_state(lab: &Lab) -> String {
    lab.sh(
        SERVER,
        "ip6tables -S INPUT | head -1; ip6tables -S FORWARD | head -1; \
         sysctl -n net.ipv6.conf.all.forwarding net.ipv6.conf.wan0.accept_ra net.ipv6.conf.wan0.proxy_ndp; \
         ip -6 neigh show proxy dev wan0 | sort; \
         ip -6 -o addr show dev virbr0 scope global | grep -o 'fd42:1::fffe/128'; true",
    )
}

const BOOTED: &str = "-P INPUT DROP\n-P FORWARD DROP\n1\n2\n1\nfd42:1::11 proxy \nfd42:1::12 proxy \nfd42:1::fffe/128\n";

/// A third SlackBuild, written here: it installs /etc/hello.conf through doinst.sh's config(),
/// which leaves `hello.conf.new` beside a hello.conf the admin changed.
fn hello_config_tree(test: Test, source: &str) -> Test {
    let md5 = md5_hex(source.as_bytes());
    test.file(
        "sbo/misc/hello-config/hello-config.info",
        &format!(
            "PRGNAM=\"hello-config\"\nVERSION=\"1.0\"\nHOMEPAGE=\"https://example.org/hello-config/\"\nDOWNLOAD=\"https://example.org/hello-config/hello-config-1.0.conf\"\nMD5SUM=\"{md5}\"\nDOWNLOAD_x86_64=\"\"\nMD5SUM_x86_64=\"\"\nREQUIRES=\"\"\nMAINTAINER=\"converge tests\"\nEMAIL=\"root@localhost\"\n"
        ),
    )
    .file(
        "sbo/misc/hello-config/hello-config.SlackBuild",
        "#!/bin/bash\n# Slackware build script for hello-config (a converge test fixture, 15.0 template shape)\ncd $(dirname $0) ; CWD=$(pwd)\nPRGNAM=hello-config\nVERSION=${VERSION:-1.0}\nBUILD=${BUILD:-1}\nTAG=${TAG:-_SBo}\nPKGTYPE=${PKGTYPE:-tgz}\nARCH=noarch\nif [ ! -z \"${PRINT_PACKAGE_NAME}\" ]; then\n  echo \"$PRGNAM-$VERSION-$ARCH-$BUILD$TAG.$PKGTYPE\"\n  exit 0\nfi\nTMP=${TMP:-/tmp/SBo}\nPKG=$TMP/package-$PRGNAM\nOUTPUT=${OUTPUT:-/tmp}\nset -e\nrm -rf $PKG\nmkdir -p $TMP $PKG $OUTPUT\nmkdir -p $PKG/etc $PKG/install\ncp $CWD/$PRGNAM-$VERSION.conf $PKG/etc/hello.conf.new\ncat $CWD/slack-desc > $PKG/install/slack-desc\ncat $CWD/doinst.sh > $PKG/install/doinst.sh\ncd $PKG\n/sbin/makepkg -l y -c n $OUTPUT/$PRGNAM-$VERSION-$ARCH-$BUILD$TAG.$PKGTYPE\n",
    )
    .file(
        "sbo/misc/hello-config/doinst.sh",
        "config() {\n  NEW=\"$1\"\n  OLD=\"$(dirname $NEW)/$(basename $NEW .new)\"\n  if [ ! -r $OLD ]; then\n    mv $NEW $OLD\n  elif [ \"$(cat $OLD | md5sum)\" = \"$(cat $NEW | md5sum)\" ]; then\n    rm $NEW\n  fi\n}\nconfig etc/hello.conf.new\n",
    )
    .file(
        "sbo/misc/hello-config/slack-desc",
        "            |-----handy-ruler------------------------------------------------------|\nhello-config: hello-config (a configuration file for converge's tests)\nhello-config:\nhello-config: Installs /etc/hello.conf through doinst.sh's config().\nhello-config:\nhello-config:\nhello-config:\nhello-config:\nhello-config:\nhello-config:\nhello-config:\nhello-config:\n",
    )
    .file("sbo/misc/hello-config/README", "hello-config: a test fixture.\n")
    .file("sources/hello-config/hello-config-1.0.conf", source)
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    Md5::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn fixture(relative: &str) -> String {
    std::fs::read_to_string(format!(
        "{REPO}/modules/tests/fixtures/slackbuild/{relative}"
    ))
    .expect("fixture")
}

fn slackbuild_playbook(dir: &Path, sources: &str) -> String {
    let dir = dir.display();
    format!(
        "- hosts: {SERVER}\n  tasks:\n    - name: hello-converge (and hello-greeting, which it requires)\n      slackbuild:\n        name: hello-converge\n        repo: /var/lib/converge/slackbuilds\n        repo_src: {REPO}/modules/tests/fixtures/slackbuild/repo\n        sources: {dir}/{sources}\n        package_dir: /var/cache/converge/test-packages\n        env:\n          WHO: slack\n    - name: hello-config\n      slackbuild:\n        name: hello-config\n        repo: /var/lib/converge/slackbuilds\n        repo_src: {dir}/sbo\n        sources: {dir}/{sources}\n        package_dir: /var/cache/converge/test-packages\n"
    )
}

#[test]
fn lab_slackware_home_server_check_run_boot_and_slackbuilds() {
    let lab = Lab::start(1);
    let made = Command::new(SLACKWARE_HOST)
        .arg("make")
        .arg(lab.state())
        .arg(SERVER)
        .args(["--fqdn", "h1.home.arpa"])
        .env("LAB", format!("{REPO}/tests/lab/lab"))
        .output()
        .expect("run slackware-host.sh");
    assert!(
        made.status.success(),
        "slackware-host.sh make failed:\n{}{}",
        String::from_utf8_lossy(&made.stdout),
        String::from_utf8_lossy(&made.stderr)
    );
    // sendmail looks up the names of the server's addresses: as at home, the ISP's router is
    // the name server, and nothing answers there, so every lookup fails at once.
    lab.sh(
        SERVER,
        "rm -f /etc/resolv.conf && printf 'nameserver 198.18.0.1\\noptions timeout:1 attempts:1\\n' >/etc/resolv.conf",
    );
    lab.put(
        SERVER,
        "/etc/rc.d/rc.firewall",
        ADMIN_RC_FIREWALL.as_bytes(),
        0o755,
    );
    let topology = Topology::up(&lab, SERVER);

    let inventory = lab.inventory();
    let mut test = Test::new().file(
        "e2e.yml",
        &std::fs::read_to_string(INVENTORY).expect("tests/e2e/home_server.yml"),
    );
    for entry in
        std::fs::read_dir(Path::new(REPO).join("inventory/group_vars")).expect("group_vars")
    {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        test = test.file(
            &format!("group_vars/{name}"),
            &std::fs::read_to_string(&path).expect("group_vars file"),
        );
    }
    let site = format!("{REPO}/examples/site.yml");
    let site_args = |extra: &[&'static str]| -> Vec<String> {
        let mut args: Vec<String> = ["-i", &inventory, "-i", "e2e.yml", &site, "--limit", SERVER]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let with = |test: Test, args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        test.args(&args).timeout(240)
    };

    // --- Check mode on the fresh host: exit 0, nothing changed, every handler listed.
    let before = lab.snapshot(SERVER);
    let test = with(test, site_args(&["--check"]));
    let check = test.run();
    assert_eq!(check.status, 0, "--check failed:\n{}", tail(&check));
    for handler in [
        "changed: [h1] guest_network : Restart dhcpd from the guest-network script\n    guest-network: restart (`/etc/rc.d/rc.guest-network restart dhcpd`)",
        "changed: [h1] guest_network : Restart radvd from the guest-network script\n    guest-network: restart (`/etc/rc.d/rc.guest-network restart radvd`)",
        "changed: [h1] mail_submission : Restart sendmail\n    sendmail: restart (`/etc/rc.d/rc.sendmail restart`)",
    ] {
        assert!(
            check.stderr.contains(handler),
            "--check does not list {handler:?}:\n{}",
            tail(&check)
        );
    }
    assert_eq!(before, lab.snapshot(SERVER), "--check changed the host");

    // --- The real run.
    let test = with(test, site_args(&["--diff"]));
    let apply = test.run();
    assert_eq!(apply.status, 0, "converge failed:\n{}", tail(&apply));
    assert!(
        !apply.recap(SERVER).contains("changed=0"),
        "{}",
        apply.recap(SERVER)
    );
    wait_until(Duration::from_secs(10), || match daemons(&lab) {
        state if state == ALL_RUNNING => Ok(()),
        state => Err(format!("after converge:\n{state}")),
    });
    // The admin's rc.firewall is as they wrote it (mode too); rc.local calls converge's script.
    assert_eq!(
        lab.sh(SERVER, "cat /etc/rc.d/rc.firewall"),
        ADMIN_RC_FIREWALL
    );
    assert_eq!(
        lab.sh(
            SERVER,
            "stat -c '%n %a' /etc/rc.d/rc.firewall /etc/rc.d/rc.converge-firewall /etc/rc.d/rc.local /etc/rc.d/rc.local_shutdown /etc/rc.d/rc.guest-network /etc/profile.d/converge.sh; head -1 /etc/rc.d/rc.local_shutdown"
        ),
        "/etc/rc.d/rc.firewall 755\n/etc/rc.d/rc.converge-firewall 755\n/etc/rc.d/rc.local 755\n\
         /etc/rc.d/rc.local_shutdown 755\n/etc/rc.d/rc.guest-network 755\n/etc/profile.d/converge.sh 755\n#!/bin/sh\n"
    );
    assert!(
        lab.sh(SERVER, "cat /etc/rc.d/rc.local")
            .contains("# BEGIN converge firewall\nif [ -x /etc/rc.d/rc.converge-firewall ]; then\n  /etc/rc.d/rc.converge-firewall\nfi\n# END converge firewall\n"),
        "rc.local does not call rc.converge-firewall"
    );
    // A login shell reads /etc/profile.d/converge.sh (Slackware's profile: executable only).
    assert_eq!(
        lab.sh(
            SERVER,
            "bash -lc 'echo $GUEST_BRIDGE $WAN_INTERFACE' </dev/null"
        ),
        "virbr0 wan0\n"
    );

    // --- The second run changes nothing.
    let again = test.run();
    assert_eq!(again.status, 0, "second run failed:\n{}", tail(&again));
    assert!(
        again.recap(SERVER).contains("changed=0"),
        "second run: {}\n{}",
        again.recap(SERVER),
        tail(&again)
    );

    // --- Power cycle: everything the run set live is gone, then Slackware's boot lines.
    lab.sh(SERVER, POWER_OFF);
    assert_eq!(
        daemons(&lab),
        "dhcpd -q -cf: stopped\ndhcpd -q -6: stopped\nradvd -C: stopped\nsendmail: accepting: stopped\n",
        "rc.local_shutdown and rc.sendmail stop must stop the daemons"
    );
    assert_ne!(booted_state(&lab), BOOTED);
    let boot = lab.exec(SERVER, &["bash", "-c", BOOT]);
    assert_eq!(boot.status, 0, "boot:\n{}{}", boot.stdout, boot.stderr);
    assert_eq!(booted_state(&lab), BOOTED, "after the simulated boot");
    wait_until(Duration::from_secs(10), || match daemons(&lab) {
        state if state == ALL_RUNNING => Ok(()),
        state => Err(format!("after the simulated boot:\n{state}")),
    });
    // The guests renew their leases and reach each other and the outside, over IPv6 and
    // over IPv4 through NAT, with no converge run since the boot.
    lease_guests(&topology, "after the Slackware boot");
    check_guests(&topology, &lab, "after the Slackware boot");
    drop(topology);

    // --- Facts, as `ansible HOST -m setup` prints them.
    let facts = Test::new()
        .args(&[
            "-i",
            &inventory,
            SERVER,
            "-m",
            "setup",
            "-a",
            "filter=ansible_pkg_mgr",
        ])
        .run();
    facts.expect_status(0).stderr_has(
        "    {\n      \"ansible_facts\": {\n        \"ansible_pkg_mgr\": \"pkgtools\"\n      },\n      \"changed\": false\n    }\n",
    );
    // --- No slackpkg: the package module refuses before running anything, naming slackbuild.
    let package = Test::new()
        .args(&[
            "-i",
            &inventory,
            SERVER,
            "-m",
            "package",
            "-a",
            "name=radvd",
            "--check",
        ])
        .run();
    assert_eq!(package.status, 2, "{}", package.stderr);
    package
        .stderr_has("module `package` cannot install radvd: this host has Slackware's pkgtools but no slackpkg")
        .stderr_has("`slackbuild` module");
    // --- A service the admin disabled is not started by a restart.
    lab.sh(
        SERVER,
        "/etc/rc.d/rc.sendmail stop >/dev/null 2>&1; sleep 1; chmod 644 /etc/rc.d/rc.sendmail",
    );
    let restart = Test::new()
        .args(&[
            "-i",
            &inventory,
            SERVER,
            "-m",
            "service",
            "-a",
            "name=sendmail state=restarted",
        ])
        .run();
    restart.expect_status(0).stderr_has(
        "/etc/rc.d/rc.sendmail is not executable (disabled): sendmail is not started; set `enabled: true` to enable and start it",
    );
    assert!(daemons(&lab).contains("sendmail: accepting: stopped"));
    assert_eq!(lab.sh(SERVER, "stat -c %a /etc/rc.d/rc.sendmail"), "644\n");

    // --- SlackBuilds: the real makepkg, installpkg and upgradepkg.
    lab.put(SERVER, "/etc/hello.conf", b"greeting = mine\n", 0o644);
    let greeting = fixture("sources/hello-greeting/hello-greeting-1.0.txt");
    let program = fixture("sources/hello-converge/hello-converge-1.0.sh");
    let sbo = hello_config_tree(Test::new(), "greeting = hello\n")
        .file("sources/hello-greeting/hello-greeting-1.0.txt", &greeting)
        .file("sources/hello-converge/hello-converge-1.0.sh", &program)
        .file("bad/hello-greeting/hello-greeting-1.0.txt", &greeting)
        .file("bad/hello-converge/hello-converge-1.0.sh", &program)
        .file(
            "bad/hello-config/hello-config-1.0.conf",
            "greeting = tampered\n",
        );
    let dir = sbo.path().to_path_buf();
    let sbo = sbo
        .file("sbo.yml", &slackbuild_playbook(&dir, "sources"))
        .file("bad.yml", &slackbuild_playbook(&dir, "bad"));
    // A wrong MD5 in the local source cache: check mode says so before any build.
    let sbo = sbo.args(&["-i", &inventory, "bad.yml", "--check"]);
    let bad = sbo.run();
    assert_eq!(bad.status, 2, "{}", bad.stderr);
    bad.stderr_has("hello-config: MD5 mismatch for hello-config-1.0.conf: expected ");
    let sbo = sbo.args(&["-i", &inventory, "sbo.yml", "--check"]);
    let check = sbo.run();
    check.expect_status(0).stderr_has(
        "hello-config: build hello-config 1.0 (1 of 1; not installed; sources from the controller)",
    );
    let sbo = sbo.args(&["-i", &inventory, "sbo.yml"]);
    let built = sbo.run();
    built.expect_status(0).stderr_has(
        "hello-config: /etc/hello.conf.new was installed beside your changed /etc/hello.conf: compare them and merge by hand",
    );
    assert_eq!(
        lab.sh(
            SERVER,
            "/usr/local/bin/hello-converge; cat /etc/hello.conf /etc/hello.conf.new"
        ),
        "Hello, slack! Have a converged day.\ngreeting = mine\ngreeting = hello\n"
    );
    let entry = lab.sh(
        SERVER,
        "cat /var/log/packages/hello-config-1.0-noarch-1_SBo",
    );
    assert!(
        entry.starts_with("PACKAGE NAME:     hello-config-1.0-noarch-1_SBo\n")
            && entry.contains(
                "\nPACKAGE LOCATION: /var/cache/converge/test-packages/hello-config-1.0-noarch-1_SBo.tgz\n"
            )
            && entry.contains("\nFILE LIST:\n./\netc/\netc/hello.conf.new\n"),
        "{entry}"
    );
    assert_eq!(
        lab.sh(SERVER, "ls /var/cache/converge/test-packages"),
        "hello-config-1.0-noarch-1_SBo.tgz\nhello-converge-1.0-noarch-1_SBo.tgz\nhello-greeting-1.0-noarch-1_SBo.tgz\n",
        "the built packages are kept where the package database says they are"
    );
    let again = sbo.run();
    again.expect_status(0);
    assert!(
        again.recap(SERVER).contains("changed=0"),
        "{}",
        again.recap(SERVER)
    );

    // A source URL that no longer answers: check mode says so (wget --spider on the host).
    let dead = sbo
        .file(
            "sbo/misc/hello-dead/hello-dead.info",
            "PRGNAM=\"hello-dead\"\nVERSION=\"1.0\"\nHOMEPAGE=\"https://example.org/\"\nDOWNLOAD=\"http://127.0.0.1:9/hello-dead-1.0.tar.gz\"\nMD5SUM=\"d41d8cd98f00b204e9800998ecf8427e\"\nDOWNLOAD_x86_64=\"\"\nMD5SUM_x86_64=\"\"\nREQUIRES=\"\"\nMAINTAINER=\"converge tests\"\nEMAIL=\"root@localhost\"\n",
        )
        .file("sbo/misc/hello-dead/hello-dead.SlackBuild", "#!/bin/sh\nexit 1\n")
        .file(
            "dead.yml",
            &format!(
                "- hosts: {SERVER}\n  tasks:\n    - slackbuild:\n        name: hello-dead\n        repo: /var/lib/converge/slackbuilds\n        repo_src: {}/sbo\n",
                dir.display()
            ),
        )
        .args(&["-i", &inventory, "dead.yml", "--check"]);
    let run = dead.run();
    assert_eq!(run.status, 2, "{}", run.stderr);
    run.stderr_has(
        "hello-dead: source URL http://127.0.0.1:9/hello-dead-1.0.tar.gz does not answer (",
    );
}
