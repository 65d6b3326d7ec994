//! Bounded fuzzing of the parsers that read host files: whatever bytes a host holds, parsing
//! returns a value or an error, never a panic. Cases per parser: `PROPTEST_CASES` (default
//! 256 here; `scripts/fuzz` runs many more).

use converge_modules::{ip6tables, iproute, sendmail_mc, slackbuild, sysctl};
use proptest::prelude::*;

/// Text built from the tokens these formats are made of, so that mutations reach deep into
/// the parsers instead of failing on the first byte.
fn format_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("\n".to_string()),
        Just(" ".to_string()),
        Just("\t".to_string()),
        Just("=".to_string()),
        Just("\\\n".to_string()),
        Just("\"".to_string()),
        Just("`".to_string()),
        Just("'".to_string()),
        Just("dnl".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just(",".to_string()),
        Just("#".to_string()),
        Just(";".to_string()),
        Just("*filter".to_string()),
        Just(":INPUT ACCEPT [0:0]".to_string()),
        Just("-A INPUT".to_string()),
        Just(" -p tcp -m tcp --dport 22 -j ACCEPT".to_string()),
        Just("COMMIT".to_string()),
        Just("FEATURE(`no_default_msa')".to_string()),
        Just("DAEMON_OPTIONS(`Port=submission, Name=MSA6, Family=inet6')".to_string()),
        Just("MAILER(smtp)".to_string()),
        Just("PRGNAM=\"x\"".to_string()),
        Just("DOWNLOAD=\"http://a/b \\".to_string()),
        Just("MD5SUM=\"".to_string()),
        Just("REQUIRES=\"%README% a\"".to_string()),
        Just("net.ipv6.conf.eth0/100.accept_ra".to_string()),
        Just("--- addresses".to_string()),
        Just("fd42:1::11/128".to_string()),
        Just("dev virbr0 proto kernel metric 256".to_string()),
        "[ -~]{0,12}",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(token, 0..80).prop_map(|tokens| tokens.concat())
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![format_soup(), any::<String>()]
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(256),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn sysctl_conf_parses_and_edits_anything(input in text()) {
        let entries = sysctl::parse_conf(&input);
        // Editing with no edits gives the text back, byte for byte.
        prop_assert_eq!(sysctl::edit_conf(&input, &[]), input.clone());
        let _ = entries;
    }

    #[test]
    fn ip6tables_save_parser_never_panics(input in text()) {
        let _ = ip6tables::save::parse(&input);
    }

    #[test]
    fn sendmail_mc_parser_never_panics(input in text()) {
        let _ = sendmail_mc::parse(&input);
    }

    #[test]
    fn slackbuild_info_parser_never_panics(input in text()) {
        let _ = slackbuild::parse_info(&input);
    }

    #[test]
    fn iproute_listing_parser_never_panics(input in text()) {
        let _ = iproute::parse_listing(&input, iproute::Family::Ipv6);
    }
}
