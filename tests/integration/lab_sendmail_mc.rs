//! Lab tests for the `sendmail_mc` module: converge over SSH against lab hosts, checked with the real tools.
//!
//! h1 sees the machine's Debian sendmail (/etc/mail through its overlay). converge moves
//! submission to IPv6 (without the default MSA), rebuilds the cf; sendmail then really listens
//! on [::]:587 and port 25, and h2 gets an SMTP banner from h1's IPv6 port 587.

use crate::lab::Lab;
use crate::support::Test;

const SITE: &str = "- hosts: h1\n  tasks:\n\
    \x20   - sendmail_mc:\n\
    \x20       state: absent\n\
    \x20       daemon_options: [{Name: MSP-v4}]\n\
    \x20   - sendmail_mc:\n\
    \x20       features: [no_default_msa]\n\
    \x20       daemon_options:\n\
    \x20         - {Port: submission, Name: MSA6, Family: inet6, M: Ea}\n";

#[test]
fn lab_sendmail_mc_moves_submission_to_ipv6_and_sendmail_listens() {
    if !std::path::Path::new("/etc/mail/sendmail.mc").exists()
        || !std::path::Path::new("/usr/share/sendmail/cf/m4/cf.m4").exists()
    {
        eprintln!("skipped: Debian's sendmail (sendmail-bin, sendmail-cf) is not installed");
        return;
    }
    let lab = Lab::start(2);
    let h1 = lab.hosts[0].clone();
    // sendmail waits 60 s for a host name it cannot qualify: give h1 an FQDN (in its overlay).
    lab.sh(
        "h1",
        &format!("echo '{} h1.lab.example h1' >> /etc/hosts", h1.ipv6),
    );
    let inventory = lab.inventory();
    let test = Test::new().file("site.yml", SITE);

    let before = lab.snapshot("h1");
    let test = test.args(&["-i", &inventory, "site.yml", "--check", "--diff"]);
    let run = test.run();
    run.expect_status(0)
        .stderr_has("DAEMON_OPTIONS(`Port=submission, Name=MSA6, Family=inet6, M=Ea')dnl");
    assert_eq!(lab.snapshot("h1"), before, "--check changed h1");

    let test = test.args(&["-i", &inventory, "site.yml", "--diff"]);
    let run = test.run();
    run.expect_status(0)
        .stderr_has("O DaemonPortOptions=Port=submission, Name=MSA6, Family=inet6, M=Ea");
    assert!(run.recap("h1").contains("changed=2"), "{}", run.stderr);
    let cf = lab.sh("h1", "grep '^O DaemonPortOptions=' /etc/mail/sendmail.cf");
    assert_eq!(
        cf,
        "O DaemonPortOptions=Family=inet,  Name=MTA-v4, Port=smtp, Addr=127.0.0.1\n\
         O DaemonPortOptions=Port=submission, Name=MSA6, Family=inet6, M=Ea\n"
    );
    lab.sh("h1", "ls /etc/mail/sendmail.cf.*~ >/dev/null");

    let run = test.run();
    run.expect_status(0);
    assert!(run.recap("h1").contains("changed=0"), "{}", run.stderr);

    // The real daemon with the new cf.
    lab.sh(
        "h1",
        "mkdir -p /run/sendmail/mta && sendmail -bd -C /etc/mail/sendmail.cf && \
         for i in $(seq 300); do ss -ltn | grep -q ':587 ' && exit 0; sleep 0.2; done; ss -ltn; exit 1",
    );
    let listening = lab.sh("h1", "ss -ltn");
    // A dual-stack [::] socket (bindv6only=0) is shown as `*:587`; `-6` proves the family.
    let v6 = lab.sh("h1", "ss -ltn6 'sport = :587'");
    assert!(
        v6.contains("[::]:587") || v6.contains("*:587"),
        "no IPv6 listener on 587:\n{listening}"
    );
    assert!(listening.contains("127.0.0.1:25"), "{listening}");
    let banner = lab.exec(
        "h2",
        &[
            "timeout",
            "15",
            "bash",
            "-c",
            &format!("exec 3<>/dev/tcp/{}/587; head -1 <&3", h1.ipv6),
        ],
    );
    lab.sh("h1", "kill $(head -1 /run/sendmail/mta/sendmail.pid)");
    assert!(
        banner.stdout.starts_with("220 "),
        "no SMTP banner from [{}]:587: {banner:?}",
        h1.ipv6
    );
}
