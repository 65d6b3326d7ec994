//! Lab test for the `apt` module: a local apt repository the test builds inside a lab host
//! (started with `--overlay-usr`, so dpkg writes into the host's own /usr and /opt), then
//! converge installs, upgrades and purges from it over SSH; checked with `dpkg-query`.

use crate::lab::Lab;
use crate::support::Test;

/// Builds `convtest-NAME_VERSION_all.deb` in /srv/repo (inside the host) holding one file, and
/// rewrites the repository's `Packages` index.
fn add_package(lab: &Lab, name: &str, version: &str, file: &str) {
    lab.sh(
        "h1",
        &format!(
            "set -e
d=/srv/build/{name}-{version}
mkdir -p $d/DEBIAN $(dirname $d{file}) /srv/repo
printf 'Package: {name}\\nVersion: {version}\\nArchitecture: all\\nMaintainer: converge <lab@converge.invalid>\\nSection: misc\\nPriority: optional\\nDescription: converge lab test package\\n' > $d/DEBIAN/control
echo '{name} {version}' > $d{file}
dpkg-deb --root-owner-group --build $d /srv/repo/{name}_{version}_all.deb >/dev/null
cd /srv/repo && dpkg-scanpackages --multiversion . /dev/null > Packages 2>/dev/null"
        ),
    );
}

fn installed(lab: &Lab) -> String {
    let out = lab.exec(
        "h1",
        &[
            "dpkg-query",
            "-W",
            "-f",
            "${Package} ${Status} ${Version}\n",
            "convtest-a",
            "convtest-b",
        ],
    );
    out.stdout
}

#[test]
fn lab_apt_installs_upgrades_and_purges_from_a_local_repository() {
    let lab = Lab::start_with(1, &["--overlay-usr"]);
    let inventory = lab.inventory();
    // The host's only apt source is the local repository (the machine's sources show through
    // the /etc overlay and would need the network).
    lab.sh(
        "h1",
        "rm -f /etc/apt/sources.list /etc/apt/sources.list.d/* && echo 'deb [trusted=yes] file:/srv/repo ./' > /etc/apt/sources.list.d/convtest.list",
    );
    add_package(&lab, "convtest-a", "1.0", "/opt/convtest/a.txt");
    add_package(&lab, "convtest-b", "1.0", "/usr/share/convtest/b.txt");

    let present = "- hosts: lab\n  tasks:\n    - apt:\n        name: [convtest-a, convtest-b]\n        update_cache: true\n        install_recommends: false\n";
    let test = Test::new()
        .file("site.yml", present)
        .args(&["-i", &inventory, "site.yml", "--diff"]);
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=1"), "{}", run.stderr);
    // The plan is made before `apt-get update` runs, so a package new to the cache has no
    // version yet (the module warns).
    assert!(
        run.stderr.contains("convtest-a: absent → present"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("`convtest-a` is not in the apt cache yet"),
        "{}",
        run.stderr
    );
    assert_eq!(
        installed(&lab),
        "convtest-a install ok installed 1.0\nconvtest-b install ok installed 1.0\n"
    );
    assert_eq!(lab.sh("h1", "cat /opt/convtest/a.txt"), "convtest-a 1.0\n");

    // Again: nothing to install, and the cache refresh alone is no change (Ansible's rule).
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);

    // A newer convtest-a in the repository: check mode shows the upgrade and changes nothing.
    add_package(&lab, "convtest-a", "2.0", "/opt/convtest/a.txt");
    lab.sh("h1", "apt-get update -q >/dev/null");
    let latest = "- hosts: lab\n  tasks:\n    - apt:\n        name: convtest-a,convtest-b\n        state: latest\n";
    let snapshot = lab.snapshot("h1");
    let test = Test::new()
        .file("site.yml", latest)
        .args(&["-i", &inventory, "site.yml", "--check", "--diff"]);
    let run = test.run();
    run.expect_status(0);
    assert!(
        run.stderr.contains("convtest-a: 1.0 → 2.0"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("convtest-b:"), "{}", run.stderr);
    assert_eq!(lab.snapshot("h1"), snapshot, "check mode changed the host");
    assert!(installed(&lab).contains("convtest-a install ok installed 1.0\n"));

    let test = test.args(&["-i", &inventory, "site.yml"]);
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=1"), "{}", run.stderr);
    assert_eq!(
        installed(&lab),
        "convtest-a install ok installed 2.0\nconvtest-b install ok installed 1.0\n"
    );
    assert_eq!(lab.sh("h1", "cat /opt/convtest/a.txt"), "convtest-a 2.0\n");
    let run = test.run();
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);

    // absent + purge: gone, configuration and all.
    let absent = "- hosts: lab\n  tasks:\n    - apt:\n        name: [convtest-a, convtest-b]\n        state: absent\n        purge: true\n";
    let test = Test::new()
        .file("site.yml", absent)
        .args(&["-i", &inventory, "site.yml", "--diff"]);
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=1"), "{}", run.stderr);
    assert!(
        run.stderr.contains("convtest-a: 2.0 → absent"),
        "{}",
        run.stderr
    );
    let left = installed(&lab);
    assert!(!left.contains(" installed "), "still installed: {left}");
    assert_eq!(
        lab.sh(
            "h1",
            "ls /opt/convtest /usr/share/convtest 2>/dev/null | wc -l"
        ),
        "0\n"
    );
    let run = test.run();
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);

    // Nothing reached the machine itself.
    assert!(!std::path::Path::new("/opt/convtest").exists());
    assert!(!std::path::Path::new("/usr/share/convtest").exists());
    assert!(!std::path::Path::new("/srv/repo/Packages").exists());
}
