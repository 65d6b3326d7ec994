//! `slackbuild`: `.info` parsing, package-database names and build order, over converge's own
//! fixture tree (tests/fixtures/slackbuild) and the real SlackBuilds.org files in
//! shared/fixtures/slackbuilds when that directory is there.

use converge_modules::slackbuild::{
    build_order, parse_info, parse_package_entry, parse_package_list, Info,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const OWN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/slackbuild/repo"
);
const SHARED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/fixtures/slackbuilds"
);

/// Every `category/NAME/NAME.info` below `root`: NAME → (path, text).
fn tree(root: &Path) -> BTreeMap<String, (PathBuf, String)> {
    let mut found = BTreeMap::new();
    for category in std::fs::read_dir(root).expect("tree").flatten() {
        let Ok(names) = std::fs::read_dir(category.path()) else {
            continue;
        };
        for dir in names.flatten() {
            let name = dir.file_name().to_string_lossy().into_owned();
            let path = dir.path().join(format!("{name}.info"));
            if let Ok(bytes) = std::fs::read(&path) {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                found.insert(name, (path, text));
            }
        }
    }
    found
}

fn infos(root: &Path) -> BTreeMap<String, Info> {
    tree(root)
        .into_iter()
        .map(|(name, (path, text))| {
            let info = parse_info(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (name, info)
        })
        .collect()
}

fn own(name: &str) -> Info {
    infos(Path::new(OWN)).remove(name).expect("fixture exists")
}

/// Each package comes after every package it requires (among those in `order`).
fn assert_dependencies_first(order: &[String], infos: &BTreeMap<String, Info>) {
    for (position, name) in order.iter().enumerate() {
        for dependency in &infos[name].requires {
            let at = order.iter().position(|n| n == dependency);
            assert!(
                at.is_some_and(|at| at < position),
                "{name} at {position} needs {dependency} before it (found at {at:?}) in {order:?}"
            );
        }
    }
    let mut unique = order.to_vec();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), order.len(), "a package twice in {order:?}");
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

// ---- package database -----------------------------------------------------------------------

#[test]
fn package_entry_name_keeps_its_dashes() {
    let package = parse_package_entry("fcitx-configtool-0.4.10-x86_64-1_SBo").expect("entry");
    assert_eq!(package.name, "fcitx-configtool");
    assert_eq!(package.version, "0.4.10");
    assert_eq!(package.arch, "x86_64");
    assert_eq!(package.build, "1_SBo");
    assert_eq!(package.entry, "fcitx-configtool-0.4.10-x86_64-1_SBo");
}

#[test]
fn package_file_names_lose_their_extension() {
    let package =
        parse_package_entry("/tmp/fcitx5-mozc-2.26.4360.102.1-x86_64-1_SBo.tgz").expect("file");
    assert_eq!(package.name, "fcitx5-mozc");
    assert_eq!(package.version, "2.26.4360.102.1");
    assert_eq!(package.entry, "fcitx5-mozc-2.26.4360.102.1-x86_64-1_SBo");
    let package = parse_package_entry("aaa_base-15.0-x86_64-3.txz").expect("file");
    assert_eq!(
        (package.name.as_str(), package.build.as_str()),
        ("aaa_base", "3")
    );
}

#[test]
fn package_list_skips_what_is_not_an_entry() {
    let list = parse_package_list(
        "zinnia-0.06-x86_64-1_SBo\nREADME\nninja-1.10.2-x86_64-1_SBo\n\nbad--x86_64-1\n",
    );
    let found: Vec<(&str, &str)> = list
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(found, [("zinnia", "0.06"), ("ninja", "1.10.2")]);
}

// ---- own fixtures: the quirks ------------------------------------------------------------------

#[test]
fn continued_urls_trailing_spaces_and_no_final_newline() {
    let info = own("multi-url");
    assert_eq!(
        info.download,
        [
            "https://example.org/multi-url-0.5.tar.gz",
            "https://example.org/multi-url-data.zip",
            "https://example.org/dl/get.php/multi-url-extra.patch?raw=1"
        ]
    );
    assert_eq!(info.md5sum.len(), 3);
    assert_eq!(info.requires, ["readme-lib"]);
    assert_eq!(info.email, "root@localhost", "last line without newline");
    assert!(info.defects.is_empty(), "{:?}", info.defects);
    let sources = info.sources(Some("x86_64")).expect("sources");
    let files: Vec<&str> = sources.files.iter().map(|s| s.file.as_str()).collect();
    assert_eq!(
        files,
        [
            "multi-url-0.5.tar.gz",
            "multi-url-data.zip",
            "multi-url-extra.patch"
        ]
    );
}

#[test]
fn arch_specific_sources_follow_the_architecture() {
    let info = own("arch-split");
    let x86_64 = info.sources(Some("x86_64")).expect("x86_64");
    assert_eq!(
        x86_64.files[0].url,
        "https://example.org/arch-split-5-x86_64.tar.gz"
    );
    assert_eq!(x86_64.files[0].md5, "fedcba9876543210fedcba9876543210");
    let i586 = info.sources(Some("i586")).expect("i586");
    assert_eq!(
        i586.files[0].url,
        "https://example.org/arch-split-5-i586.tar.gz"
    );
    let unknown = info.sources(None).expect_err("architecture matters");
    assert!(unknown.contains("architecture is unknown"), "{unknown}");
}

#[test]
fn unsupported_and_untested_are_reported() {
    let error = own("x86-only")
        .sources(Some("i586"))
        .expect_err("x86_64 only");
    assert!(
        error.contains("only on x86_64") && error.contains("i586"),
        "{error}"
    );
    assert_eq!(
        own("x86-only")
            .sources(Some("x86_64"))
            .expect("x86_64")
            .files
            .len(),
        1
    );
    let error = own("no-x86-64")
        .sources(Some("x86_64"))
        .expect_err("no x86_64");
    assert!(error.contains("does not build on x86_64"), "{error}");
    let untested = own("untested-64")
        .sources(Some("x86_64"))
        .expect("untested builds");
    assert_eq!(untested.files[0].file, "untested-64-4.tar.gz");
    assert!(
        untested.warnings[0].contains("UNTESTED"),
        "{:?}",
        untested.warnings
    );
}

#[test]
fn d5sum_typo_is_a_defect_and_refuses_to_build() {
    let info = own("typo-sum");
    assert!(
        info.defects
            .iter()
            .any(|d| d.contains("unknown key `D5SUM`") && d.contains("did you mean `MD5SUM`")),
        "{:?}",
        info.defects
    );
    let error = info.sources(Some("x86_64")).expect_err("no checksums");
    assert!(
        error.contains("1 URL(s)") && error.contains("D5SUM"),
        "{error}"
    );
}

#[test]
fn readme_marker_is_not_a_dependency() {
    let info = own("readme-app");
    assert_eq!(info.requires, ["readme-lib"]);
    assert!(info.readme);
    assert_eq!(info.maintainer, "Jürgen Ökonom");
}

#[test]
fn own_tree_orders_dependencies_first_and_reports_readme() {
    let infos = infos(Path::new(OWN));
    let order = build_order(
        &names(&["hello-converge", "multi-url", "readme-app"]),
        &infos,
    )
    .expect("no cycle");
    assert_eq!(
        order.order,
        [
            "hello-greeting",
            "hello-converge",
            "readme-lib",
            "multi-url",
            "readme-app"
        ]
    );
    assert_eq!(order.readme, ["readme-app"]);
    assert!(order.missing.is_empty());
    assert_dependencies_first(&order.order, &infos);
}

#[test]
fn cycle_is_an_error_naming_it() {
    let infos = infos(Path::new(OWN));
    let cycle = build_order(&names(&["cyc-b"]), &infos).expect_err("cycle");
    assert_eq!(cycle.0, ["cyc-b", "cyc-c", "cyc-a", "cyc-b"]);
    assert_eq!(
        cycle.to_string(),
        "dependency cycle: `cyc-b` → `cyc-c` → `cyc-a` → `cyc-b`"
    );
}

#[test]
fn missing_dependency_is_reported_with_who_needs_it() {
    let infos = infos(Path::new(OWN));
    let order = build_order(&names(&["needs-ghost", "nowhere"]), &infos).expect("no cycle");
    assert_eq!(order.order, ["needs-ghost"]);
    let missing: Vec<(&str, Option<&str>)> = order
        .missing
        .iter()
        .map(|m| (m.name.as_str(), m.required_by.as_deref()))
        .collect();
    assert_eq!(
        missing,
        [("ghost-lib", Some("needs-ghost")), ("nowhere", None)]
    );
}

// ---- the real SlackBuilds.org files ------------------------------------------------------------

fn shared() -> Option<PathBuf> {
    let path = PathBuf::from(SHARED);
    if path.is_dir() {
        Some(path)
    } else {
        println!("skipped: {SHARED} is not there (CI keeps shared/ beside the clone)");
        None
    }
}

#[test]
fn corpus_every_info_parses_or_names_its_defect() {
    let Some(root) = shared() else { return };
    let mut checked = 0;
    for release in ["14.1", "14.2"] {
        for (name, (path, text)) in tree(&root.join(release)) {
            let info = parse_info(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            checked += 1;
            assert_eq!(info.prgnam, name, "{}", path.display());
            assert!(!info.version.is_empty(), "{}", path.display());
            assert!(
                !info.email.is_empty() && !info.email.ends_with(' '),
                "{}: EMAIL {:?}",
                path.display(),
                info.email
            );
            let sources = info.sources(Some("x86_64"));
            if release == "14.2" && name == "screenkey" {
                assert!(
                    info.defects.iter().any(|d| d.contains("`D5SUM`")),
                    "{:?}",
                    info.defects
                );
                let error = sources.expect_err("screenkey has no MD5SUM");
                assert!(error.contains("D5SUM"), "{error}");
            } else {
                assert!(
                    info.defects.is_empty(),
                    "{}: {:?}",
                    path.display(),
                    info.defects
                );
                let sources = sources.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(
                    sources.files.len(),
                    info.download.len(),
                    "{}",
                    path.display()
                );
            }
        }
    }
    assert!(checked >= 50, "only {checked} .info files found");
}

#[test]
fn corpus_quirks_parse_as_bash_would() {
    let Some(root) = shared() else { return };
    let efax = infos(&root.join("14.2")).remove("efax").expect("efax");
    assert_eq!(efax.email, "ld.jay@protonmail.com");
    let mozc_141 = infos(&root.join("14.1"))
        .remove("fcitx-mozc")
        .expect("14.1 fcitx-mozc");
    assert_eq!(mozc_141.download.len(), 11);
    assert_eq!(mozc_141.md5sum.len(), 11);
    assert_eq!(mozc_141.email, "kuro.code25@gmail.com");
    let mozc_142 = infos(&root.join("14.2"))
        .remove("fcitx-mozc")
        .expect("14.2 fcitx-mozc");
    assert_eq!(mozc_142.download.len(), 8);
    assert_eq!(mozc_142.md5sum[7], "fe502a9242ba799406b1141b5085a24d");
    assert_eq!(mozc_142.requires, ["fcitx-configtool", "ninja", "zinnia"]);
}

#[test]
fn corpus_fcitx_mozc_chain_resolves_dependencies_first() {
    let Some(root) = shared() else { return };
    let infos = infos(&root.join("14.2"));
    let order = build_order(&names(&["fcitx-mozc"]), &infos).expect("no cycle");
    assert!(order.missing.is_empty(), "{:?}", order.missing);
    assert_eq!(
        order.order,
        [
            "python3",
            "ninja",
            "meson",
            "libxkbcommon",
            "extra-cmake-modules",
            "fcitx",
            "fcitx-configtool",
            "zinnia",
            "fcitx-mozc"
        ]
    );
    assert_dependencies_first(&order.order, &infos);
}

#[test]
fn corpus_every_complete_closure_orders_dependencies_first() {
    let Some(root) = shared() else { return };
    for release in ["14.1", "14.2"] {
        let infos = infos(&root.join(release));
        for name in infos.keys() {
            let order = build_order(std::slice::from_ref(name), &infos).expect("no cycle in SBo");
            if order.missing.is_empty() {
                assert_dependencies_first(&order.order, &infos);
                assert_eq!(order.order.last(), Some(name));
            }
        }
    }
}
