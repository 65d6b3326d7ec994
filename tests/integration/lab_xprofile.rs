//! Lab tests for the `xprofile` module: converge over SSH against lab hosts, checked with the real tools.

use crate::lab::Lab;
use crate::support::Test;

const SITE: &str = "- hosts: lab\n  gather_facts: no\n  tasks:\n    - name: fcitx for deploy's X session\n      xprofile:\n        user: deploy\n        im: fcitx\n        env:\n          MOZC_NOTE: \"it's $HOME, not `id`\"\n";

const USER_LINES: &str =
    "# deploy's own lines\nxset b off 2>/dev/null || true\nexport LANG='ja_JP.UTF-8'\n";

/// What the file exports, as `/bin/sh` sees it after sourcing it as `deploy`.
fn sourced(lab: &Lab, host: &str) -> String {
    lab.sh(
        host,
        "runuser -u deploy -- env -i HOME=/home/deploy /bin/sh -c '. /home/deploy/.xprofile && env' | grep -E '^(GTK|QT|XMODIFIERS|SDL|MOZC|LANG)' | sort",
    )
}

#[test]
fn lab_xprofile_creates_the_file_owned_by_the_user_and_keeps_their_lines() {
    let lab = Lab::start(2);
    let inventory = lab.inventory();
    // h2's user already has an .xprofile of their own (mode 0600).
    lab.sh(
        "h2",
        &format!(
            "printf '%s' \"{USER_LINES}\" > /home/deploy/.xprofile && chown deploy:deploy /home/deploy/.xprofile && chmod 600 /home/deploy/.xprofile"
        ),
    );
    assert_eq!(lab.sh("h2", "cat /home/deploy/.xprofile"), USER_LINES);

    // --check: shows the diff, changes nothing.
    let snapshots = (lab.snapshot("h1"), lab.snapshot("h2"));
    let test = Test::new()
        .file("site.yml", SITE)
        .args(&["-i", &inventory, "site.yml", "--check", "--diff"]);
    test.run()
        .expect_status(0)
        .stderr_has("+export XMODIFIERS=@im=fcitx");
    assert_eq!((lab.snapshot("h1"), lab.snapshot("h2")), snapshots);

    let test = test.args(&["-i", &inventory, "site.yml", "--diff"]);
    let run = test.run();
    run.expect_status(0);
    for host in ["h1", "h2"] {
        assert!(run.recap(host).contains("changed=1"), "{}", run.stderr);
    }

    let block = "# BEGIN converge xprofile\nexport GTK_IM_MODULE=fcitx\nexport QT_IM_MODULE=fcitx\nexport XMODIFIERS=@im=fcitx\nexport MOZC_NOTE='it'\"'\"'s $HOME, not `id`'\n# END converge xprofile\n";
    assert_eq!(lab.sh("h1", "cat /home/deploy/.xprofile"), block);
    assert_eq!(
        lab.sh("h1", "stat -c '%U:%G %a' /home/deploy/.xprofile"),
        "deploy:deploy 644\n"
    );
    assert_eq!(
        sourced(&lab, "h1"),
        "GTK_IM_MODULE=fcitx\nMOZC_NOTE=it's $HOME, not `id`\nQT_IM_MODULE=fcitx\nXMODIFIERS=@im=fcitx\n"
    );

    assert_eq!(
        lab.sh("h2", "cat /home/deploy/.xprofile"),
        format!("{USER_LINES}{block}")
    );
    assert_eq!(
        lab.sh("h2", "stat -c '%U:%G %a' /home/deploy/.xprofile"),
        "deploy:deploy 600\n"
    );
    assert!(
        sourced(&lab, "h2").starts_with("GTK_IM_MODULE=fcitx\nLANG=ja_JP.UTF-8\n"),
        "the user's own export still runs"
    );

    let run = test.run();
    run.expect_status(0);
    for host in ["h1", "h2"] {
        assert!(run.recap(host).contains("changed=0"), "{}", run.stderr);
    }
    assert!(
        !std::path::Path::new("/home/deploy/.xprofile").exists(),
        "the real machine was changed"
    );
}
