//! Slackware's installed-package database: one file per package in `/var/log/packages`,
//! named `NAME-VERSION-ARCH-BUILD` (15.0 keeps them in `/var/lib/pkgtools/packages` with
//! `/var/log/packages` a symlink to it, so that path works on both).

/// One installed package, from its database entry name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledPackage {
    /// The package name; may contain dashes (`fcitx-configtool`).
    pub name: String,
    /// `VERSION` (no dashes).
    pub version: String,
    /// `ARCH` (`x86_64`, `i586`, `noarch`).
    pub arch: String,
    /// `BUILD` with its tag (`1_SBo`).
    pub build: String,
    /// The whole entry, what `removepkg` is given.
    pub entry: String,
}

/// Split `NAME-VERSION-ARCH-BUILD` (a database entry, or a package file name with its
/// `.tgz`/`.txz`/`.tbz`/`.tlz` extension): the last three dash fields are version, arch and
/// build, everything before them is the name.
pub fn parse_package_entry(entry: &str) -> Option<InstalledPackage> {
    let entry = entry.trim();
    let base = entry.rsplit('/').next().unwrap_or(entry);
    let base = [".tgz", ".txz", ".tbz", ".tlz"]
        .iter()
        .find_map(|ext| base.strip_suffix(ext))
        .unwrap_or(base);
    let mut fields = base.rsplitn(4, '-');
    let build = fields.next()?;
    let arch = fields.next()?;
    let version = fields.next()?;
    let name = fields.next()?;
    if [name, version, arch, build].iter().any(|f| f.is_empty()) {
        return None;
    }
    Some(InstalledPackage {
        name: name.to_string(),
        version: version.to_string(),
        arch: arch.to_string(),
        build: build.to_string(),
        entry: base.to_string(),
    })
}

/// Every package in a listing of the database directory (one entry per line); lines that are
/// not package entries are skipped.
pub fn parse_package_list(text: &str) -> Vec<InstalledPackage> {
    text.lines().filter_map(parse_package_entry).collect()
}
