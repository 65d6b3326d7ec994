//! Lab tests for `get_url`, `uri` and `unarchive`: a `python3 -m http.server` runs inside lab
//! host h1 (bound to h1's own address, bounded by `timeout`, killed at the end) serving a
//! text file, a JSON document and a tar.gz from h1's private /srv; converge downloads and
//! extracts on h1 over SSH. Only h1's own address is used.

use crate::lab::Lab;
use crate::support::Test;

const PORT: u16 = 8717;
const HELLO_SHA256: &str = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";

/// The server, killed (by its PID, inside the host) on drop.
struct Server<'a> {
    lab: &'a Lab,
    pid: String,
}

impl Drop for Server<'_> {
    fn drop(&mut self) {
        let _ = self.lab.exec(
            "h1",
            &["sh", "-c", &format!("kill {} 2>/dev/null", self.pid)],
        );
    }
}

/// The play; `extract: false` leaves out `unarchive` (in check mode its archive is not
/// there yet, and it fails as Ansible's does).
fn site(base: &str, extract: bool) -> String {
    let mut play = format!(
        r#"- hosts: h1
  gather_facts: no
  tasks:
    - name: fetch a verified file
      get_url:
        url: {base}/hello.txt
        dest: /srv/out/hello.txt
        checksum: sha256:{HELLO_SHA256}
        mode: "0640"
    - name: read the JSON document
      uri:
        url: {base}/doc.json
      register: doc
    - assert:
        that:
          - doc.status == 200
          - doc.json.name == 'converge'
          - doc.json.n[1] == 2
    - name: fetch the archive
      get_url:
        url: {base}/bundle.tar.gz
        dest: /srv/out/
"#
    );
    if extract {
        play.push_str(
            "    - name: extract it\n      unarchive:\n        src: /srv/out/bundle.tar.gz\n        dest: /srv/out/x\n        remote_src: yes\n",
        );
    }
    play
}

#[test]
fn lab_netmods_download_verify_request_and_extract() {
    let lab = Lab::start(1);
    let inventory = lab.inventory();
    let address = lab.hosts[0].ipv6.clone();
    lab.sh(
        "h1",
        "rm -rf /srv/www /srv/out && mkdir -p /srv/www /srv/out/x /tmp/bundle/d && printf 'hello\\n' > /srv/www/hello.txt && printf '{\"name\": \"converge\", \"n\": [1, 2]}' > /srv/www/doc.json && printf abc > /tmp/bundle/d/a.txt && tar -czf /srv/www/bundle.tar.gz -C /tmp/bundle d",
    );
    let pid = lab
        .sh(
            "h1",
            &format!("setsid timeout 120 python3 -m http.server --bind {address} {PORT} --directory /srv/www >/tmp/http.log 2>&1 </dev/null & echo $!"),
        )
        .trim()
        .to_string();
    let server = Server { lab: &lab, pid };
    lab.sh(
        "h1",
        &format!("i=0; until python3 -c 'import socket; socket.create_connection((\"{address}\", {PORT}), 1)' 2>/dev/null; do i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done"),
    );
    let base = format!("http://[{address}]:{PORT}");

    // --check: reports the downloads, changes nothing.
    let snapshot = lab.snapshot("h1");
    let test = Test::new()
        .file("check.yml", &site(&base, false))
        .file("site.yml", &site(&base, true))
        .args(&["-i", &inventory, "check.yml", "--check", "--diff"]);
    let run = test.run();
    run.expect_status(0).stderr_has("would download");
    // Only the server's log may differ.
    let strip = |text: &str| {
        text.lines()
            .filter(|line| !line.contains("http.log"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&lab.snapshot("h1")),
        strip(&snapshot),
        "--check changed files"
    );

    let test = test.args(&["-i", &inventory, "site.yml"]);
    let run = test.run();
    run.expect_status(0);
    assert!(
        run.recap("h1").contains("changed=3") && run.recap("h1").contains("failed=0"),
        "{}",
        run.stderr
    );
    assert_eq!(lab.sh("h1", "cat /srv/out/hello.txt"), "hello\n");
    assert_eq!(lab.sh("h1", "stat -c %a /srv/out/hello.txt"), "640\n");
    assert_eq!(lab.sh("h1", "cat /srv/out/x/d/a.txt"), "abc");

    // Second run: nothing to do.
    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);

    // A wrong checksum fails and leaves neither the file nor a temp file.
    let bad = format!(
        "- hosts: h1\n  gather_facts: no\n  tasks:\n    - get_url:\n        url: {base}/hello.txt\n        dest: /srv/out/bad.txt\n        checksum: sha256:{}\n",
        "0".repeat(64)
    );
    let run = Test::new()
        .file("bad.yml", &bad)
        .args(&["-i", &inventory, "bad.yml"])
        .run();
    run.expect_status(2).stderr_has("did not match");
    assert_eq!(
        lab.sh("h1", "ls -A /srv/out"),
        "bundle.tar.gz\nhello.txt\nx\n"
    );

    // What the applied command printed reaches `register`: a download's status and size, a
    // request's response (http.server answers POST with 501).
    let registered = format!(
        r#"- hosts: h1
  gather_facts: no
  tasks:
    - get_url:
        url: {base}/hello.txt
        dest: /srv/out/again.txt
      register: again
    - uri:
        url: {base}/doc.json
        method: POST
        body: x
        status_code: [501]
      register: posted
    - assert:
        that:
          - again.changed
          - again.status_code == 200
          - again.size == 6
          - again.rc is not defined
          - posted.status == 501
          - posted.url == '{base}/doc.json'
          - posted.stdout is not defined
"#
    );
    let run = Test::new()
        .file("registered.yml", &registered)
        .args(&["-i", &inventory, "registered.yml"])
        .run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("failed=0"), "{}", run.stderr);
    drop(server);
}
