//! Lab tests for the `slackbuild` module: converge over SSH against lab hosts, checked with the real tools.
//!
//! Lab hosts are Debian and have no pkgtools, so the test puts the TEST DOUBLES of `makepkg`,
//! `installpkg`, `upgradepkg` and `removepkg` from tests/fixtures/pkgtools into the host's
//! `/usr/local/sbin` (its private overlay); the module calls them by their real names. The
//! SlackBuild tree is converge's own fixture (`hello-greeting` and `hello-converge`, which
//! requires it), uploaded from the controller with `repo_src`, and the sources come from a
//! controller directory (`sources`), since lab hosts have no internet.

use crate::lab::Lab;
use crate::support::Test;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

fn fixture(relative: &str) -> String {
    std::fs::read_to_string(format!(
        "{REPO}/modules/tests/fixtures/slackbuild/{relative}"
    ))
    .expect("fixture")
}

fn playbook(state: &str, sources: &str) -> String {
    format!(
        "- hosts: lab\n  tasks:\n    - name: hello-converge from a SlackBuild\n      slackbuild:\n        name: hello-converge\n        repo: /var/lib/converge/slackbuilds\n        repo_src: {REPO}/modules/tests/fixtures/slackbuild/repo\n        sources: \"{{dir}}/{sources}\"\n        state: {state}\n        env:\n          WHO: lab\n          TAG: _test\n"
    )
}

fn packages(lab: &Lab) -> String {
    lab.sh("h1", "ls -1 /var/log/packages 2>/dev/null || true")
}

#[test]
fn lab_slackbuild_builds_dependencies_first_installs_and_removes() {
    let lab = Lab::start(1);
    // Copied in from the controller: the checkout may live under /tmp, which the host does
    // not share.
    for tool in ["makepkg", "installpkg", "upgradepkg", "removepkg"] {
        let script = std::fs::read(format!("{REPO}/tests/fixtures/pkgtools/{tool}"))
            .expect("pkgtools fixture");
        lab.put("h1", &format!("/usr/local/sbin/{tool}"), &script, 0o755);
    }
    let inventory = lab.inventory();
    let greeting = fixture("sources/hello-greeting/hello-greeting-1.0.txt");
    let program = fixture("sources/hello-converge/hello-converge-1.0.sh");
    let test = Test::new()
        .file("good/hello-greeting/hello-greeting-1.0.txt", &greeting)
        .file("good/hello-converge/hello-converge-1.0.sh", &program)
        .file("bad/hello-greeting-1.0.txt", &greeting)
        .file(
            "bad/hello-converge-1.0.sh",
            &program.replace("Hello", "Goodbye"),
        )
        .file("bad.yml", &playbook("present", "bad"))
        .file("site.yml", &playbook("present", "good"))
        .file("absent.yml", &playbook("absent", "good"))
        .file(
            "host-tree.yml",
            &playbook("present", "good").replace(
                &format!("        repo_src: {REPO}/modules/tests/fixtures/slackbuild/repo\n"),
                "",
            ),
        );

    // A source whose MD5 differs from the .info: refused before anything is built.
    let test = test.args(&["-i", &inventory, "bad.yml"]);
    let run = test.run();
    assert_ne!(run.status, 0, "{}", run.stderr);
    run.stderr_has("hello-converge: MD5 mismatch for hello-converge-1.0.sh: expected d3d1980e490928dad523ece85250bfcc");
    assert_eq!(
        packages(&lab),
        "",
        "nothing may be installed after a refused source"
    );

    // Check mode shows the queue in build order and changes nothing.
    let before = lab.snapshot("h1");
    let test = test.args(&["-i", &inventory, "site.yml", "--check"]);
    let run = test.run();
    run.expect_status(0);
    let first = run
        .stderr
        .find("hello-greeting: build hello-greeting 1.0 (1 of 2; not installed; sources from the controller)")
        .unwrap_or_else(|| panic!("no queue in\n{}", run.stderr));
    let second = run
        .stderr
        .find("hello-converge: build hello-converge 1.0 (2 of 2; not installed; sources from the controller)")
        .unwrap_or_else(|| panic!("no queue in\n{}", run.stderr));
    assert!(first < second, "dependency first");
    assert_eq!(before, lab.snapshot("h1"), "--check changed the host");

    // The real run builds both, in order, and installs them with (the double of) upgradepkg.
    let test = test.args(&["-i", &inventory, "site.yml", "--diff"]);
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=1"), "{}", run.recap("h1"));
    assert_eq!(
        packages(&lab),
        "hello-converge-1.0-noarch-1_test\nhello-greeting-1.0-noarch-1_test\n"
    );
    assert_eq!(
        lab.sh("h1", "/usr/local/bin/hello-converge"),
        "Hello, lab! Have a converged day.\n"
    );
    let entry = lab.sh(
        "h1",
        "cat /var/log/packages/hello-converge-1.0-noarch-1_test",
    );
    assert!(
        entry.starts_with("PACKAGE NAME:     hello-converge-1.0-noarch-1_test\n")
            && entry.contains("\nFILE LIST:\n")
            && entry.contains("\nusr/local/bin/hello-converge\n"),
        "{entry}"
    );
    assert_eq!(
        lab.sh(
            "h1",
            "stat -c %a /var/lib/converge/slackbuilds/misc/hello-converge/hello-converge.SlackBuild"
        ),
        "755\n"
    );
    assert_eq!(
        lab.sh("h1", "ls -d /tmp/converge-slackbuild.* 2>/dev/null || true"),
        "",
        "the private OUTPUT/TMP directory is removed"
    );

    // Installed at the .info version: nothing to do.
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.recap("h1"));

    // absent removes the package (not its dependency), then is a no-op.
    let test = test.args(&["-i", &inventory, "absent.yml", "--diff"]);
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=1"), "{}", run.recap("h1"));
    assert_eq!(packages(&lab), "hello-greeting-1.0-noarch-1_test\n");
    assert_eq!(
        lab.sh(
            "h1",
            "test -e /usr/local/bin/hello-converge && echo left || echo gone"
        ),
        "gone\n"
    );
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.recap("h1"));

    // The tree uploaded before is now on the host: read there (one shell walk of REQUIRES),
    // only the removed package is rebuilt, its installed dependency is not.
    let test = test.args(&["-i", &inventory, "host-tree.yml"]);
    let run = test.run();
    run.expect_status(0);
    run.stderr_has(
        "hello-converge: build hello-converge 1.0 (1 of 1; not installed; sources from the controller)",
    );
    assert_eq!(
        packages(&lab),
        "hello-converge-1.0-noarch-1_test\nhello-greeting-1.0-noarch-1_test\n"
    );
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.recap("h1"));
}
