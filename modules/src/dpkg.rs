//! Pure parsers for what dpkg says about installed packages, shared by `apt` and
//! `package_facts`: the `/var/lib/dpkg/status` database, `dpkg-query -W` lines and
//! `dpkg-deb -f` control fields.

/// One package as dpkg knows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DpkgPackage {
    /// `Package:` (without architecture).
    pub name: String,
    /// The three words of `Status:`, e.g. `install ok installed`.
    pub status: String,
    /// `Version:` (with epoch, e.g. `2:9.0.1378-2`).
    pub version: String,
    /// `Architecture:` (`amd64`, `all`); empty from `dpkg-query` lines.
    pub arch: String,
    /// `Section:` (`editors`); empty when dpkg has none.
    pub section: String,
}

impl DpkgPackage {
    /// Unpacked and configured (or half-configured): what `apt` and Ansible call installed.
    /// `deinstall ok config-files` (removed, configuration kept) is not.
    pub fn is_installed(&self) -> bool {
        matches!(
            self.status.split_whitespace().nth(2),
            Some(
                "installed"
                    | "half-configured"
                    | "unpacked"
                    | "triggers-awaited"
                    | "triggers-pending"
            )
        )
    }

    /// Only configuration files are left (`rc` in `dpkg -l`): `purge` still has work to do.
    pub fn has_config_files_only(&self) -> bool {
        self.status.split_whitespace().nth(2) == Some("config-files")
    }
}

/// The stanzas of `/var/lib/dpkg/status` (one package each, separated by blank lines), in
/// file order. Continuation lines (starting with a space) are skipped; unknown fields ignored.
pub fn parse_status(text: &str) -> Vec<DpkgPackage> {
    let mut packages = Vec::new();
    let mut current = DpkgPackage::default();
    for line in text.lines().chain(std::iter::once("")) {
        if line.trim().is_empty() {
            if !current.name.is_empty() {
                packages.push(std::mem::take(&mut current));
            }
            current = DpkgPackage::default();
            continue;
        }
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match field {
            "Package" => current.name = value,
            "Status" => current.status = value,
            "Version" => current.version = value,
            "Architecture" => current.arch = value,
            "Section" => current.section = value,
            _ => {}
        }
    }
    packages
}

/// The `dpkg-query` format the `apt` module asks for: one round trip for every name.
pub const QUERY_FORMAT: &str = "${Package}\\t${Status}\\t${Version}\\n";

/// Lines of `dpkg-query -W -f '${Package}\t${Status}\t${Version}\n'`. Names dpkg never heard
/// of are simply absent (dpkg-query says so on stderr).
pub fn parse_query(text: &str) -> Vec<DpkgPackage> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next()?.trim();
            let status = fields.next()?.trim();
            let version = fields.next().unwrap_or("").trim();
            (!name.is_empty()).then(|| DpkgPackage {
                name: name.to_string(),
                status: status.to_string(),
                version: version.to_string(),
                ..DpkgPackage::default()
            })
        })
        .collect()
}

/// The value of `field` in control-file text (`dpkg-deb -f FILE` prints the whole control file).
pub fn control_field<'a>(control: &'a str, field: &str) -> Option<&'a str> {
    control.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        (name == field && !line.starts_with(' ')).then(|| value.trim())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_stanzas_with_continuations() {
        let text = "Package: vim\nStatus: install ok installed\nPriority: optional\nSection: editors\nArchitecture: amd64\nVersion: 2:9.0.1378-2\nDescription: Vi IMproved\n enhanced vi editor\n .\n more\n\nPackage: nano\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 7.2-1\n";
        let packages = parse_status(text);
        assert_eq!(packages.len(), 2);
        assert_eq!(packages[0].name, "vim");
        assert_eq!(packages[0].section, "editors");
        assert!(packages[0].is_installed());
        assert!(!packages[1].is_installed());
        assert!(packages[1].has_config_files_only());
    }

    #[test]
    fn control_fields() {
        let control = "Package: convtest-a\nVersion: 1.0\nDescription: x\n Version: not this\n";
        assert_eq!(control_field(control, "Version"), Some("1.0"));
        assert_eq!(control_field(control, "Package"), Some("convtest-a"));
        assert_eq!(control_field(control, "Depends"), None);
    }
}
