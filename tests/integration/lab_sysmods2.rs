//! Lab tests for `pamd`, `locale_gen`, `debconf` and `apt_repository`: converge over SSH
//! against a lab host, checked with the real tools (`locale -a`, `debconf-show`,
//! `apt-cache policy`) and the files left behind.
//!
//! A lab host has its own /etc and /var (and, started with `--overlay-usr`, its own /usr, where
//! `locale-gen` writes the locale archive), so nothing here reaches the machine running the
//! tests (checked at the end of each test).

use crate::lab::Lab;
use crate::support::{Run, Test};

/// `--check` reports `changed` changes and leaves h1's files as they were, a real run makes
/// them, a second run reports none. Returns the real run.
fn converge(lab: &Lab, site: &str, changed: usize) -> Run {
    let changed = format!("changed={changed}");
    let inventory = lab.inventory();
    let snapshot = lab.snapshot("h1");
    let test = Test::new()
        .file("site.yml", site)
        .args(&["-i", &inventory, "site.yml", "--check", "--diff"]);
    let check = test.run();
    check.expect_status(0);
    assert!(check.recap("h1").contains(&changed), "{}", check.stderr);
    assert_eq!(lab.snapshot("h1"), snapshot, "--check changed files");

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
    run
}

fn machine(command: &str) -> String {
    let output = std::process::Command::new("sh")
        .args(["-c", command])
        .output()
        .expect("run on the machine");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const SERVICE: &str = "#%PAM-1.0\nauth       sufficient pam_rootok.so\n# keep this comment\nsession    required   pam_env.so readenv=1\n@include common-session\n";

#[test]
fn lab_sysmods2_pamd_inserts_a_rule_and_adds_arguments_in_a_service_file() {
    let machine_pam = machine("ls -l /etc/pam.d; cat /etc/pam.d/su");
    let lab = Lab::start(1);
    lab.put("h1", "/etc/pam.d/converge-test", SERVICE.as_bytes(), 0o644);
    let site = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - community.general.pamd:\n        name: converge-test\n        type: auth\n        control: sufficient\n        module_path: pam_rootok.so\n        new_type: auth\n        new_control: required\n        new_module_path: pam_wheel.so\n        module_arguments: use_uid\n        state: after\n      register: wheel\n    - community.general.pamd:\n        name: converge-test\n        type: session\n        control: required\n        module_path: pam_env.so\n        module_arguments: [readenv=0, user_readenv=1]\n        state: args_present\n    - debug:\n        msg: \"count={{ wheel.change_count }} backup=[{{ wheel.backupdest }}]\"\n";
    let run = converge(&lab, site, 2);
    run.stderr_has("count=1 backup=[]");
    assert!(
        run.stderr
            .contains("+auth       required pam_wheel.so use_uid"),
        "the diff shows the new rule:\n{}",
        run.stderr
    );
    let text = lab.sh("h1", "cat /etc/pam.d/converge-test");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("#%PAM-1.0"));
    assert!(
        lines
            .next()
            .is_some_and(|l| l.starts_with("# Updated by Ansible - ")),
        "{text}"
    );
    assert_eq!(
        lines.collect::<Vec<_>>(),
        [
            "auth       sufficient pam_rootok.so",
            "auth       required pam_wheel.so use_uid",
            "# keep this comment",
            "session    required pam_env.so readenv=0 user_readenv=1",
            "@include common-session",
        ]
    );
    // A service that does not exist fails the task with Ansible's message.
    let missing = Test::new()
        .file(
            "site.yml",
            "- hosts: h1\n  gather_facts: no\n  tasks:\n    - community.general.pamd:\n        name: nothere\n        type: auth\n        control: required\n        module_path: pam_x.so\n        state: absent\n",
        )
        .args(&["-i", &lab.inventory(), "site.yml"])
        .run();
    assert_ne!(missing.status, 0);
    missing.stderr_has("Unable to open/read PAM module file /etc/pam.d/nothere");
    drop(lab);
    assert_eq!(
        machine("ls -l /etc/pam.d; cat /etc/pam.d/su"),
        machine_pam,
        "the real machine changed"
    );
}

#[test]
fn lab_sysmods2_locale_gen_compiles_a_locale_that_locale_a_then_lists() {
    let machine_locales = machine("locale -a; cat /etc/locale.gen");
    let lab = Lab::start_with(1, &["--overlay-usr"]);
    assert!(!lab.sh("h1", "locale -a").contains("de_CH.utf8"));
    let site = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - community.general.locale_gen:\n        name: de_CH.UTF-8\n      register: made\n    - debug:\n        msg: \"mechanism={{ made.mechanism }}\"\n";
    let run = converge(&lab, site, 1);
    run.stderr_has("mechanism=glibc");
    assert!(
        run.stderr.contains("+de_CH.UTF-8 UTF-8"),
        "the diff shows the line:\n{}",
        run.stderr
    );
    assert!(lab.sh("h1", "locale -a").contains("de_CH.utf8"));
    assert_eq!(
        lab.sh("h1", "LC_ALL=de_CH.UTF-8 locale charmap 2>/dev/null"),
        "UTF-8\n"
    );

    let absent = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - community.general.locale_gen:\n        name: de_CH.UTF-8\n        state: absent\n";
    converge(&lab, absent, 1);
    assert!(!lab.sh("h1", "locale -a").contains("de_CH.utf8"));
    assert!(lab
        .sh("h1", "cat /etc/locale.gen")
        .contains("\n# de_CH.UTF-8 UTF-8\n"));

    // A locale glibc does not know is refused with Ansible's message.
    let unknown = Test::new()
        .file(
            "site.yml",
            "- hosts: h1\n  gather_facts: no\n  tasks:\n    - community.general.locale_gen:\n        name: xx_YY.UTF-8\n",
        )
        .args(&["-i", &lab.inventory(), "site.yml"])
        .run();
    assert_ne!(unknown.status, 0);
    unknown.stderr_has(
        "The following locales you have entered are not available on your system: xx_YY.UTF-8",
    );
    drop(lab);
    assert_eq!(
        machine("locale -a; cat /etc/locale.gen"),
        machine_locales,
        "the real machine changed"
    );
}

#[test]
fn lab_sysmods2_debconf_preseeds_answers_debconf_show_then_shows() {
    // debconf-show prints its answers in no fixed order.
    let machine_debconf = machine("debconf-show locales | sort");
    let lab = Lab::start(1);
    let site = "- hosts: h1\n  gather_facts: no\n  tasks:\n    - ansible.builtin.debconf:\n        name: locales\n        question: locales/default_environment_locale\n        value: de_CH.UTF-8\n        vtype: select\n      register: answer\n    - ansible.builtin.debconf:\n        name: locales\n        question: locales/locales_to_be_generated\n        value: [en_US.UTF-8 UTF-8, de_CH.UTF-8 UTF-8]\n        vtype: multiselect\n        unseen: true\n    - debug:\n        msg: \"was={{ answer.previous['locales/default_environment_locale'] | default('?') }}\"\n      when: answer is changed\n";
    let run = converge(&lab, site, 2);
    run.stderr_has("was=None");
    let shown = lab.sh("h1", "debconf-show locales");
    assert!(
        shown.contains("* locales/default_environment_locale: de_CH.UTF-8"),
        "{shown}"
    );
    assert!(
        shown.contains("  locales/locales_to_be_generated: de_CH.UTF-8 UTF-8, en_US.UTF-8 UTF-8"),
        "not marked seen: {shown}"
    );
    // Without a question the module only reads, and returns every answer.
    let read = Test::new()
        .file(
            "site.yml",
            "- hosts: h1\n  gather_facts: no\n  tasks:\n    - debconf:\n        name: locales\n      register: all\n    - debug:\n        msg: \"locale={{ all.current['locales/default_environment_locale'] }}\"\n",
        )
        .args(&["-i", &lab.inventory(), "site.yml"])
        .run();
    read.expect_status(0);
    read.stderr_has("locale=de_CH.UTF-8");
    assert!(read.recap("h1").contains("changed=0"), "{}", read.stderr);
    drop(lab);
    assert_eq!(
        machine("debconf-show locales | sort"),
        machine_debconf,
        "the real machine changed"
    );
}

#[test]
fn lab_sysmods2_apt_repository_adds_a_local_repository_apt_then_sees() {
    let machine_sources = machine("ls -la /etc/apt/sources.list.d; cat /etc/apt/sources.list 2>&1");
    let lab = Lab::start(1);
    // Only the local repository: the machine's sources show through the /etc overlay and
    // would need the network.
    lab.sh(
        "h1",
        "set -e
rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*
d=/srv/build/convtest-a
mkdir -p $d/DEBIAN /srv/repo
printf 'Package: convtest-a\\nVersion: 1.0\\nArchitecture: all\\nMaintainer: converge <lab@converge.invalid>\\nDescription: converge lab test package\\n' > $d/DEBIAN/control
dpkg-deb --root-owner-group --build $d /srv/repo/convtest-a_1.0_all.deb >/dev/null
cd /srv/repo && dpkg-scanpackages . /dev/null > Packages 2>/dev/null",
    );
    let repo = "deb [trusted=yes] file:///srv/repo ./";
    let site = format!(
        "- hosts: h1\n  tasks:\n    - ansible.builtin.apt_repository:\n        repo: \"{repo}\"\n      register: added\n    - debug:\n        msg: \"added={{{{ added.sources_added | join(',') }}}}\"\n"
    );
    let run = converge(&lab, &site, 1);
    run.stderr_has("added=/etc/apt/sources.list.d/srv_repo.list");
    assert_eq!(
        lab.sh("h1", "cat /etc/apt/sources.list.d/srv_repo.list; stat -c %a /etc/apt/sources.list.d/srv_repo.list"),
        format!("{repo}\n644\n")
    );
    let policy = lab.sh("h1", "apt-cache policy convtest-a");
    assert!(policy.contains("Candidate: 1.0"), "{policy}");

    // A repository apt cannot read: the update fails and the file is taken away again.
    let bad = Test::new()
        .file(
            "site.yml",
            "- hosts: h1\n  tasks:\n    - apt_repository:\n        repo: deb [trusted=yes] file:///srv/nothere ./\n        filename: broken\n        update_cache_retries: 2\n        update_cache_retry_max_delay: 1\n",
        )
        .args(&["-i", &lab.inventory(), "site.yml"])
        .run();
    assert_ne!(bad.status, 0, "{}", bad.stderr);
    bad.stderr_has("Failed to update apt cache after 2 retries");
    assert_eq!(
        lab.exec("h1", &["test", "-e", "/etc/apt/sources.list.d/broken.list"])
            .status,
        1
    );

    let absent = format!(
        "- hosts: h1\n  tasks:\n    - apt_repository:\n        repo: \"{repo}\"\n        state: absent\n        update_cache: false\n"
    );
    converge(&lab, &absent, 1);
    assert_eq!(
        lab.exec(
            "h1",
            &["test", "-e", "/etc/apt/sources.list.d/srv_repo.list"]
        )
        .status,
        1
    );
    drop(lab);
    assert_eq!(
        machine("ls -la /etc/apt/sources.list.d; cat /etc/apt/sources.list 2>&1"),
        machine_sources,
        "the real machine changed"
    );
}
