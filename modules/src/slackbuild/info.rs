//! `.info` files of SlackBuilds.org: bash-sourceable `KEY="value"` lines.
//!
//! Real files have quirks the parser accepts: values continued over lines with a backslash
//! before the newline (multi-URL `DOWNLOAD`/`MD5SUM`), trailing spaces after the closing quote,
//! no final newline, CRLF line ends. A key the format does not have (the 14.2 `D5SUM=` typo)
//! is recorded as a defect of that file, not a parse failure, so the rest of the file (its
//! `REQUIRES` above all) stays usable; [`Info::sources`] then refuses to build it.

use crate::module::closest;
use std::fmt;

/// The keys of an `.info` file, in the order SlackBuilds.org writes them.
pub const INFO_KEYS: [&str; 10] = [
    "PRGNAM",
    "VERSION",
    "HOMEPAGE",
    "DOWNLOAD",
    "MD5SUM",
    "DOWNLOAD_x86_64",
    "MD5SUM_x86_64",
    "REQUIRES",
    "MAINTAINER",
    "EMAIL",
];

/// A parsed `.info` file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Info {
    /// The program name (`PRGNAM`), also the directory and the package name.
    pub prgnam: String,
    /// `VERSION`.
    pub version: String,
    /// `HOMEPAGE`.
    pub homepage: String,
    /// `DOWNLOAD` URLs; `["UNSUPPORTED"]` when the SlackBuild is for x86_64 only.
    pub download: Vec<String>,
    /// `MD5SUM`, one per `DOWNLOAD` URL, in the same order.
    pub md5sum: Vec<String>,
    /// `DOWNLOAD_x86_64`; empty means "use `DOWNLOAD`", `["UNSUPPORTED"]`/`["UNTESTED"]` say so.
    pub download_x86_64: Vec<String>,
    /// `MD5SUM_x86_64`.
    pub md5sum_x86_64: Vec<String>,
    /// `REQUIRES` without `%README%`: other SlackBuilds' PRGNAMs.
    pub requires: Vec<String>,
    /// `REQUIRES` contains `%README%`: the README names optional or extra dependencies.
    pub readme: bool,
    /// `MAINTAINER`.
    pub maintainer: String,
    /// `EMAIL`.
    pub email: String,
    /// What is wrong with the file without making it unreadable, e.g. an unknown key.
    pub defects: Vec<String>,
}

/// A file that cannot be read as an `.info` file at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoError {
    /// 1-based line, when the error has one.
    pub line: Option<usize>,
    /// What is wrong, lowercase.
    pub message: String,
}

impl fmt::Display for InfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// One source file a build needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Where it is downloaded from.
    pub url: String,
    /// Its expected MD5 sum (lowercase hex).
    pub md5: String,
    /// The file name the SlackBuild expects next to it (the URL's last path segment).
    pub file: String,
}

/// The sources for one architecture, and anything a person should know about the choice.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sources {
    /// Files in `.info` order.
    pub files: Vec<Source>,
    /// E.g. "`DOWNLOAD_x86_64` is UNTESTED".
    pub warnings: Vec<String>,
}

/// Parse the text of an `.info` file.
pub fn parse_info(text: &str) -> Result<Info, InfoError> {
    let mut info = Info::default();
    let mut seen: Vec<&'static str> = Vec::new();
    let lines: Vec<&str> = text.split('\n').collect();
    let mut index = 0;
    while index < lines.len() {
        let number = index + 1;
        let line = lines[index].trim_end_matches('\r');
        index += 1;
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((key, rest)) = trimmed.split_once('=') else {
            info.defects.push(format!(
                "line {number}: `{trimmed}` is not a `KEY=\"value\"` line"
            ));
            continue;
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            info.defects
                .push(format!("line {number}: `{key}` is not a variable name"));
            continue;
        }
        let (value, used) = read_value(rest, &lines[index..]).map_err(|message| InfoError {
            line: Some(number),
            message: format!("value of `{key}`: {message}"),
        })?;
        index += used;
        let Some(known) = INFO_KEYS.iter().copied().find(|k| *k == key) else {
            let suggestion = closest(key, INFO_KEYS.iter().copied())
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            info.defects
                .push(format!("line {number}: unknown key `{key}`{suggestion}"));
            continue;
        };
        if seen.contains(&known) {
            info.defects.push(format!(
                "line {number}: `{known}` is set twice; the last one counts"
            ));
        }
        seen.push(known);
        let words = || value.split_whitespace().map(str::to_string).collect();
        match known {
            "PRGNAM" => info.prgnam = value.trim().to_string(),
            "VERSION" => info.version = value.trim().to_string(),
            "HOMEPAGE" => info.homepage = value.trim().to_string(),
            "DOWNLOAD" => info.download = words(),
            "MD5SUM" => info.md5sum = words(),
            "DOWNLOAD_x86_64" => info.download_x86_64 = words(),
            "MD5SUM_x86_64" => info.md5sum_x86_64 = words(),
            "REQUIRES" => {
                let all: Vec<String> = words();
                info.readme = all.iter().any(|word| word == "%README%");
                info.requires = all.into_iter().filter(|w| w != "%README%").collect();
            }
            "MAINTAINER" => info.maintainer = value.trim().to_string(),
            _ => info.email = value.trim().to_string(),
        }
    }
    for required in ["PRGNAM", "VERSION"] {
        if !seen.contains(&required) {
            return Err(InfoError {
                line: None,
                message: format!("no `{required}=` line"),
            });
        }
    }
    for key in ["DOWNLOAD", "MD5SUM"] {
        if !seen.contains(&key) {
            info.defects.push(format!("no `{key}=` line"));
        }
    }
    Ok(info)
}

/// Read a value after `=`: quoted (possibly over several lines) or bare. Returns the value and
/// how many of the following lines it used.
fn read_value(rest: &str, following: &[&str]) -> Result<(String, usize), String> {
    let rest = rest.trim_end();
    let Some(quoted) = rest.strip_prefix('"').or_else(|| rest.strip_prefix('\'')) else {
        // Bare word (bash would stop at the first space; SBo files never do this).
        let bare = rest.split('#').next().unwrap_or("").trim();
        return Ok((bare.to_string(), 0));
    };
    let quote = if rest.starts_with('"') { '"' } else { '\'' };
    let mut value = String::new();
    let mut used = 0;
    let mut current = quoted.to_string();
    loop {
        let mut chars = current.chars().peekable();
        while let Some(c) = chars.next() {
            if c == quote {
                let after: String = chars.collect();
                let after = after.trim();
                if !after.is_empty() && !after.starts_with('#') {
                    return Err(format!("unexpected `{after}` after the closing quote"));
                }
                return Ok((value, used));
            }
            if c == '\\' && quote == '"' {
                match chars.next() {
                    // Backslash-newline: the line continues.
                    None => {}
                    Some(next @ ('"' | '\\' | '$' | '`')) => value.push(next),
                    Some(other) => {
                        value.push('\\');
                        value.push(other);
                    }
                }
                continue;
            }
            value.push(c);
        }
        // The line ended inside the quotes: a plain newline is part of the value (bash keeps
        // it); after a backslash it is dropped. Either way the words stay separate.
        let Some(next) = following.get(used) else {
            return Err(format!("no closing `{quote}`"));
        };
        value.push(' ');
        used += 1;
        current = next.trim_end_matches('\r').to_string();
    }
}

impl Info {
    /// The sources to fetch on `arch` (`uname -m`; `None` when unknown).
    ///
    /// x86_64 uses `DOWNLOAD_x86_64`/`MD5SUM_x86_64` when set, `DOWNLOAD` otherwise; other
    /// architectures use `DOWNLOAD`. `UNSUPPORTED` refuses, `UNTESTED` warns. Every URL needs
    /// its 32-digit MD5 sum: a file whose sums are missing (the `D5SUM` typo) is refused with
    /// its defects named.
    pub fn sources(&self, arch: Option<&str>) -> Result<Sources, String> {
        let name = &self.prgnam;
        let marker = |list: &[String], word: &str| list.len() == 1 && list[0] == word;
        let mut warnings = Vec::new();
        let x86_64_specific = !self.download_x86_64.is_empty()
            && !marker(&self.download_x86_64, "UNTESTED")
            && !marker(&self.download_x86_64, "UNSUPPORTED");
        let (urls, sums, url_key, sum_key) = match arch {
            Some("x86_64") => {
                if marker(&self.download_x86_64, "UNSUPPORTED") {
                    return Err(format!(
                        "`{name}` does not build on x86_64 (`DOWNLOAD_x86_64=\"UNSUPPORTED\"`)"
                    ));
                }
                if marker(&self.download_x86_64, "UNTESTED") {
                    warnings.push(format!(
                        "`{name}` is untested on x86_64 (`DOWNLOAD_x86_64=\"UNTESTED\"`); building from `DOWNLOAD`"
                    ));
                }
                if x86_64_specific {
                    (
                        &self.download_x86_64,
                        &self.md5sum_x86_64,
                        "DOWNLOAD_x86_64",
                        "MD5SUM_x86_64",
                    )
                } else {
                    (&self.download, &self.md5sum, "DOWNLOAD", "MD5SUM")
                }
            }
            Some(other) => {
                if marker(&self.download, "UNSUPPORTED") {
                    return Err(format!(
                        "`{name}` builds only on x86_64 (`DOWNLOAD=\"UNSUPPORTED\"`), this host is {other}"
                    ));
                }
                (&self.download, &self.md5sum, "DOWNLOAD", "MD5SUM")
            }
            None => {
                if x86_64_specific || marker(&self.download, "UNSUPPORTED") {
                    return Err(format!(
                        "`{name}` has different sources per architecture and the host's architecture is unknown"
                    ));
                }
                (&self.download, &self.md5sum, "DOWNLOAD", "MD5SUM")
            }
        };
        if marker(urls, "UNSUPPORTED") || marker(urls, "UNTESTED") {
            return Err(format!(
                "`{name}` has no sources for this architecture (`{url_key}=\"{}\"`)",
                urls[0]
            ));
        }
        if urls.len() != sums.len() {
            let mut message = format!(
                "`{name}.info` lists {} URL(s) in `{url_key}` but {} checksum(s) in `{sum_key}`",
                urls.len(),
                sums.len()
            );
            if !self.defects.is_empty() {
                message.push_str(&format!(" ({})", self.defects.join("; ")));
            }
            return Err(message);
        }
        let mut files = Vec::new();
        for (url, md5) in urls.iter().zip(sums) {
            if md5.len() != 32 || !md5.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(format!(
                    "`{name}.info`: `{md5}` in `{sum_key}` is not an MD5 sum"
                ));
            }
            let file = source_file_name(url).ok_or_else(|| {
                format!("`{name}.info`: cannot tell a file name from the URL `{url}`")
            })?;
            files.push(Source {
                url: url.clone(),
                md5: md5.to_ascii_lowercase(),
                file,
            });
        }
        Ok(Sources { files, warnings })
    }
}

/// The file name a download of `url` is saved as: its last path segment, without a query.
pub fn source_file_name(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let name = path.rsplit('/').next()?;
    let ok = !name.is_empty()
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c.is_control() || c == '\\');
    ok.then(|| name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_lines_join_urls() {
        let text = "PRGNAM=\"a\"\nVERSION=\"1\"\nDOWNLOAD=\"http://x/a.tar.gz \\\n\t  http://x/b.zip\"\nMD5SUM=\"0123456789abcdef0123456789abcdef \\\n        fedcba9876543210fedcba9876543210\"\nREQUIRES=\"\"";
        let info = parse_info(text).expect("parses");
        assert_eq!(info.download, ["http://x/a.tar.gz", "http://x/b.zip"]);
        assert_eq!(info.md5sum.len(), 2);
        assert!(info.defects.is_empty(), "{:?}", info.defects);
    }

    #[test]
    fn unterminated_quote_is_an_error_with_its_line() {
        let error = parse_info("PRGNAM=\"a\nVERSION=\"1\"").expect_err("broken");
        assert_eq!(error.line, Some(1));
    }

    #[test]
    fn file_name_drops_query() {
        assert_eq!(
            source_file_name("https://x/y/file.tar.gz?raw=true").as_deref(),
            Some("file.tar.gz")
        );
        assert_eq!(source_file_name("https://x/y/"), None);
    }
}
