//! Lab tests for `cron`, `hostname` and `timezone`: converge over SSH against lab hosts,
//! checked with the real tools (`crontab -l`, `hostname`, `date`).
//!
//! A lab host has its own /etc, /var and UTS namespace, so crontabs, names and zones set
//! there never reach the machine running the tests (checked at the end of each test).

use crate::lab::Lab;
use crate::support::Test;

fn machine() -> (
    String,
    Option<String>,
    Option<String>,
    Option<std::path::PathBuf>,
) {
    (
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default(),
        std::fs::read_to_string("/var/spool/cron/crontabs/root").ok(),
        std::fs::read_to_string("/etc/cron.d/converge-lab").ok(),
        std::fs::read_link("/etc/localtime").ok(),
    )
}

/// --check changes nothing on h1, a real run reports a change, a second run none, h2 is
/// untouched throughout. Returns the output of the real run.
fn converge(lab: &Lab, site: &str, probe: &str, changed: usize) -> crate::support::Run {
    let changed = format!("changed={changed}");
    let inventory = lab.inventory();
    let h2_before = lab.snapshot("h2");
    let probe_before = lab.sh("h1", probe);
    let snapshot = lab.snapshot("h1");
    let test = Test::new()
        .file("site.yml", site)
        .args(&["-i", &inventory, "site.yml", "--check", "--diff"]);
    let check = test.run();
    check.expect_status(0);
    assert!(check.recap("h1").contains(&changed), "{}", check.stderr);
    assert_eq!(lab.snapshot("h1"), snapshot, "--check changed files");
    assert_eq!(
        lab.sh("h1", probe),
        probe_before,
        "--check changed the host"
    );

    let test = test.args(&["-i", &inventory, "site.yml", "--diff"]);
    let run = test.run();
    run.expect_status(0);
    assert!(
        run.recap("h1").contains(&changed) && run.recap("h1").contains("failed=0"),
        "{}",
        run.stderr
    );
    let again = test.run();
    again.expect_status(0);
    assert!(again.recap("h1").contains("changed=0"), "{}", again.stderr);
    assert_eq!(lab.snapshot("h2"), h2_before, "h2 changed");
    run
}

#[test]
fn lab_sysmods_cron_installs_a_root_crontab_and_a_cron_d_file_readable_by_crontab_l() {
    let machine_before = machine();
    let lab = Lab::start(2);
    let site = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - cron:\n        name: PATH\n        env: yes\n        job: /usr/sbin:/usr/bin:/bin\n    - cron:\n        name: nightly backup\n        minute: 0\n        hour: 3\n        job: /usr/local/bin/backup >/dev/null 2>&1\n    - cron:\n        name: clean tmp\n        special_time: daily\n        user: root\n        cron_file: converge-lab\n        job: find /tmp -mtime +7 -delete\n";
    let probe = "crontab -l -u root 2>&1 || true; cat /etc/cron.d/converge-lab 2>&1 || true";
    let run = converge(&lab, site, probe, 3);
    assert!(
        run.stderr.contains("+#Ansible: nightly backup"),
        "the diff shows the job:\n{}",
        run.stderr
    );
    assert_eq!(
        lab.sh("h1", "crontab -l -u root"),
        "PATH=\"/usr/sbin:/usr/bin:/bin\"\n#Ansible: nightly backup\n0 3 * * * /usr/local/bin/backup >/dev/null 2>&1\n"
    );
    assert_eq!(
        lab.sh("h1", "cat /etc/cron.d/converge-lab"),
        "#Ansible: clean tmp\n@daily root find /tmp -mtime +7 -delete\n"
    );

    // Removing the last job of the cron.d file removes the file.
    let remove = Test::new()
        .file(
            "site.yml",
            "- hosts: h1\n  gather_facts: no\n  tasks:\n    - cron:\n        name: clean tmp\n        cron_file: converge-lab\n        state: absent\n",
        )
        .args(&["-i", &lab.inventory(), "site.yml"]);
    let removed = remove.run();
    removed.expect_status(0);
    assert!(
        removed.recap("h1").contains("changed=1"),
        "{}",
        removed.stderr
    );
    assert_eq!(
        lab.exec("h1", &["test", "-e", "/etc/cron.d/converge-lab"])
            .status,
        1
    );
    drop(lab);
    assert_eq!(machine(), machine_before, "the real machine changed");
}

#[test]
fn lab_sysmods_hostname_sets_the_live_name_and_etc_hostname() {
    let machine_before = machine();
    let lab = Lab::start(2);
    assert_eq!(lab.sh("h1", "hostname"), "h1\n");
    let site = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - hostname:\n        name: gw1.lab.example\n      register: renamed\n    - debug:\n        msg: \"short={{ renamed.ansible_facts.ansible_hostname }}\"\n";
    let run = converge(&lab, site, "hostname; cat /etc/hostname", 1);
    run.stderr_has("short=gw1");
    assert_eq!(lab.sh("h1", "hostname"), "gw1.lab.example\n");
    assert_eq!(lab.sh("h1", "cat /etc/hostname"), "gw1.lab.example\n");
    assert_eq!(lab.sh("h2", "hostname"), "h2\n");
    drop(lab);
    assert_eq!(machine(), machine_before, "the real machine changed");
}

#[test]
fn lab_sysmods_timezone_relinks_localtime_so_date_shows_the_zone() {
    let machine_before = machine();
    let lab = Lab::start(2);
    let site =
        "- hosts: h1\n  tasks:\n    - community.general.timezone:\n        name: Asia/Tokyo\n";
    let probe = "readlink /etc/localtime; cat /etc/timezone 2>/dev/null || true";
    converge(&lab, site, probe, 1);
    assert_eq!(lab.sh("h1", "date +%Z"), "JST\n");
    assert_eq!(
        lab.sh("h1", "readlink /etc/localtime"),
        "/usr/share/zoneinfo/Asia/Tokyo\n"
    );
    assert_eq!(lab.sh("h1", "cat /etc/timezone"), "Asia/Tokyo\n");
    assert_eq!(lab.sh("h2", "date +%Z"), "UTC\n");
    drop(lab);
    assert_eq!(machine(), machine_before, "the real machine changed");
}

#[test]
fn lab_sysmods_mount_mounts_a_tmpfs_from_fstab_then_absent_unmounts_and_removes_it() {
    let machine_fstab = std::fs::read_to_string("/etc/fstab").ok();
    let lab = Lab::start(2);
    let fstab_before = lab.sh("h1", "cat /etc/fstab 2>/dev/null || true");
    let site = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - ansible.posix.mount:\n        path: /srv/cvg-cache\n        src: tmpfs\n        fstype: tmpfs\n        opts: size=8m,mode=0750\n        state: mounted\n";
    let probe = "findmnt -n -o FSTYPE /srv/cvg-cache || true; cat /etc/fstab 2>/dev/null || true";
    converge(&lab, site, probe, 1);
    assert_eq!(
        lab.sh("h1", "findmnt -n -o FSTYPE /srv/cvg-cache"),
        "tmpfs\n"
    );
    assert_eq!(
        lab.sh("h1", "findmnt -n -o SIZE /srv/cvg-cache").trim(),
        "8M"
    );
    assert_eq!(
        lab.sh("h1", "cat /etc/fstab"),
        format!("{fstab_before}tmpfs /srv/cvg-cache tmpfs size=8m,mode=0750 0 0\n")
    );
    assert_eq!(lab.exec("h2", &["findmnt", "/srv/cvg-cache"]).status, 1);

    let absent = Test::new()
        .file(
            "site.yml",
            "- hosts: h1\n  gather_facts: no\n  tasks:\n    - ansible.posix.mount:\n        path: /srv/cvg-cache\n        state: absent\n",
        )
        .args(&["-i", &lab.inventory(), "site.yml"]);
    let run = absent.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=1"), "{}", run.stderr);
    assert_eq!(lab.exec("h1", &["findmnt", "/srv/cvg-cache"]).status, 1);
    assert_eq!(lab.exec("h1", &["test", "-e", "/srv/cvg-cache"]).status, 1);
    assert_eq!(
        lab.sh("h1", "cat /etc/fstab 2>/dev/null || true"),
        fstab_before
    );
    drop(lab);
    assert_eq!(std::fs::read_to_string("/etc/fstab").ok(), machine_fstab);
}
