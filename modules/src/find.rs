//! `find`: list files by name, age, size, type and content, as Ansible's `find`.
//!
//! Changes nothing: the plan is "no change" and carries `files` (one stat-like dictionary per
//! match, with `path`), `matched`, `examined`, `msg` and `skipped_paths`, under Ansible's keys.
//!
//! Reads in one round trip: for every path, one GNU `find -printf` prints every entry below it
//! with its lstat fields (`find -L` with `follow`, plus `stat` for the links themselves, since
//! Ansible describes a link, not its target). The filtering is Ansible's and happens here, in
//! the pure function [`select`]: entries are visited in `os.walk` order (a directory's files,
//! then its subdirectories, depth first), names are matched with `fnmatch` globs or Python
//! regular expressions (`re.match`, anchored at the start), `hidden` skips dot-names (Ansible
//! still descends into hidden directories), `age` and `size` take Ansible's suffixes and
//! negative values, and `depth` counts from the searched path. Two more round trips only
//! when asked: `contains` reads the candidate files (base64 over one command), and
//! `get_checksum` runs the `*sum` tool over the matches.
//!
//! ```yaml
//! - find:
//!     paths: /var/log
//!     patterns: '*.gz'
//!     age: 4w
//!     recurse: yes
//!   register: old_logs
//! ```

use crate::args::{parse_mode, Flag, StringList};
use crate::host::{quote, Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::Plan;
use crate::pyregex::{Flags, PyRegex};
use crate::stat::{known_name, ChecksumAlgorithm, RawStat};
use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};

/// Which kind of entry to return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FileType {
    /// Regular files (the default).
    #[default]
    File,
    /// Directories.
    Directory,
    /// Symbolic links.
    Link,
    /// Everything.
    Any,
}

/// Which timestamp `age` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AgeStamp {
    /// Last access.
    Atime,
    /// Last status change.
    Ctime,
    /// Last modification (the default).
    #[default]
    Mtime,
}

/// A value Ansible takes as a string that YAML may have read as a number (`age: 3600`).
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(with = "String")]
pub struct Text(pub String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(Text(text)),
            Value::Number(number) => Ok(Text(number.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "expected a string, found {other}"
            ))),
        }
    }
}

/// Arguments of `find`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FindArgs {
    /// The directories to search.
    #[serde(alias = "name", alias = "path")]
    pub paths: StringList,
    /// Names to return: shell globs (`*.conf`), or Python regular expressions with
    /// `use_regex` (matched at the start of the name). Default: everything.
    #[serde(default, alias = "pattern")]
    pub patterns: StringList,
    /// Names to leave out, in the same syntax as `patterns`.
    #[serde(default, alias = "exclude")]
    pub excludes: Option<StringList>,
    /// A Python regular expression a regular file must contain (matched at the start of a
    /// line, or searched in the whole file with `read_whole_file`).
    pub contains: Option<String>,
    /// Search `contains` in the whole file instead of line by line.
    #[serde(default)]
    pub read_whole_file: Flag,
    /// Which kind of entry to return.
    #[serde(default)]
    pub file_type: FileType,
    /// Entries at least this old (`2d`, `1w`; units s, m, h, d, w), or with a minus sign at
    /// most this old.
    pub age: Option<Text>,
    /// Which timestamp `age` compares.
    #[serde(default)]
    pub age_stamp: AgeStamp,
    /// Regular files at least this large (`10m`; units b, k, m, g, t), or with a minus sign
    /// at most this large.
    pub size: Option<Text>,
    /// Search subdirectories too.
    #[serde(default)]
    pub recurse: Flag,
    /// Include names starting with a dot.
    #[serde(default)]
    pub hidden: Flag,
    /// Descend into symbolic links to directories.
    #[serde(default)]
    pub follow: Flag,
    /// Add `checksum` to every regular file returned.
    #[serde(default)]
    pub get_checksum: Flag,
    /// The algorithm of `checksum`.
    #[serde(default, alias = "checksum", alias = "checksum_algo")]
    pub checksum_algorithm: ChecksumAlgorithm,
    /// Treat `patterns` and `excludes` as Python regular expressions.
    #[serde(default)]
    pub use_regex: Flag,
    /// How deep to recurse (1 is the searched directory's own entries).
    pub depth: Option<u32>,
    /// Only entries with this mode (`"0644"`, or any of these bits with `exact_mode: no`).
    pub mode: Option<String>,
    /// Compare `mode` exactly (otherwise any common bit matches).
    #[serde(default = "yes")]
    pub exact_mode: Flag,
    /// The encoding `contains` reads files in: `utf-8` (the default) or `latin-1`.
    pub encoding: Option<String>,
    /// Stop after this many matches.
    pub limit: Option<u64>,
}

fn yes() -> Flag {
    Flag(true)
}

/// The `find` module.
pub struct Find;

/// The arguments, checked and compiled.
pub struct Query {
    patterns: Vec<PyRegex>,
    excludes: Vec<PyRegex>,
    contains: Option<PyRegex>,
    read_whole_file: bool,
    latin1: bool,
    file_type: FileType,
    age: Option<i64>,
    age_stamp: AgeStamp,
    size: Option<i64>,
    hidden: bool,
    depth: Option<u32>,
    mode: Option<u32>,
    exact_mode: bool,
    limit: Option<u64>,
}

fn with_unit(
    argument: &str,
    text: &str,
    units: &[(char, i64)],
    example: &str,
) -> Result<i64, ArgsError> {
    let lower = text.trim().to_ascii_lowercase();
    let (number, unit) = match lower.chars().last() {
        Some(c) if c.is_ascii_alphabetic() => (&lower[..lower.len() - 1], Some(c)),
        _ => (lower.as_str(), None),
    };
    let factor = match unit {
        None => Some(1),
        Some(c) => units.iter().find(|(u, _)| *u == c).map(|(_, f)| *f),
    };
    let digits = number.strip_prefix('-').unwrap_or(number);
    match (factor, number.parse::<i64>()) {
        (Some(factor), Ok(value))
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(value.saturating_mul(factor))
        }
        _ => Err(ArgsError::new(
            Some(argument),
            format!("failed to process {argument} `{text}`"),
        )
        .with_hint(format!("write it like `{example}`"))),
    }
}

impl Query {
    /// Check and compile the arguments.
    pub fn compile(args: &FindArgs) -> Result<Query, ArgsError> {
        let use_regex = args.use_regex.0;
        let compile = |argument: &str, pattern: &str| -> Result<PyRegex, ArgsError> {
            let source = if use_regex {
                format!(r"\A(?:{pattern})")
            } else {
                glob_to_regex(pattern)
            };
            PyRegex::new(&source, Flags::default()).map_err(|error| {
                ArgsError::new(
                    Some(argument),
                    format!(
                        "`{argument}` has an invalid pattern `{pattern}`: {}",
                        error.reason()
                    ),
                )
            })
        };
        let mut patterns = Vec::new();
        for pattern in &args.patterns.0 {
            patterns.push(compile("patterns", pattern)?);
        }
        if patterns.is_empty() {
            patterns.push(compile("patterns", if use_regex { ".*" } else { "*" })?);
        }
        let mut excludes = Vec::new();
        for pattern in args.excludes.iter().flat_map(|list| &list.0) {
            excludes.push(compile("excludes", pattern)?);
        }
        let contains = match &args.contains {
            Some(pattern) => Some(PyRegex::new(pattern, Flags::default()).map_err(|error| {
                ArgsError::new(
                    Some("contains"),
                    format!(
                        "`contains` is not a valid regular expression: {}",
                        error.reason()
                    ),
                )
            })?),
            None => None,
        };
        let latin1 = match args
            .encoding
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("utf-8") | Some("utf8") => false,
            Some("latin-1") | Some("latin1") | Some("iso-8859-1") => true,
            Some(other) => {
                return Err(ArgsError::new(
                    Some("encoding"),
                    format!("encoding `{other}` is not supported by module `find`"),
                )
                .with_hint("use `utf-8` or `latin-1`"))
            }
        };
        let age = match &args.age {
            Some(Text(text)) => Some(with_unit(
                "age",
                text,
                &[
                    ('s', 1),
                    ('m', 60),
                    ('h', 3600),
                    ('d', 86400),
                    ('w', 604800),
                ],
                "2d or -1h",
            )?),
            None => None,
        };
        let size = match &args.size {
            Some(Text(text)) => Some(with_unit(
                "size",
                text,
                &[
                    ('b', 1),
                    ('k', 1 << 10),
                    ('m', 1 << 20),
                    ('g', 1 << 30),
                    ('t', 1 << 40),
                ],
                "10m or -1k",
            )?),
            None => None,
        };
        let mode = match &args.mode {
            Some(text) => Some(
                parse_mode(text)
                    .and_then(|mode| {
                        mode.bits().ok_or_else(|| {
                            "a symbolic mode is not supported here yet; write it in octal".into()
                        })
                    })
                    .map_err(|reason: String| {
                        ArgsError::new(Some("mode"), format!("`mode` of module `find`: {reason}"))
                            .with_hint("e.g. `mode: \"0644\"`")
                    })?,
            ),
            None => None,
        };
        if args.limit == Some(0) {
            return Err(ArgsError::new(
                Some("limit"),
                "limit cannot be 0 (leave it out for unlimited)",
            ));
        }
        Ok(Query {
            patterns,
            excludes,
            contains,
            read_whole_file: args.read_whole_file.0,
            latin1,
            file_type: args.file_type,
            age,
            age_stamp: args.age_stamp,
            size,
            hidden: args.hidden.0,
            // Ansible treats `depth: 0` as no limit, and without `recurse` only looks at
            // the first level anyway.
            depth: if args.recurse.0 {
                args.depth.filter(|d| *d > 0)
            } else {
                Some(1)
            },
            mode,
            exact_mode: args.exact_mode.0,
            limit: args.limit,
        })
    }

    fn name_matches(&self, name: &str) -> bool {
        let hit = |regex: &PyRegex| matches!(regex.search(name), Ok(Some(_)));
        self.patterns.iter().any(hit) && !self.excludes.iter().any(hit)
    }

    fn age_matches(&self, stat: &RawStat, now: f64) -> bool {
        let Some(age) = self.age else { return true };
        let stamp = match self.age_stamp {
            AgeStamp::Atime => stat.atime,
            AgeStamp::Ctime => stat.ctime,
            AgeStamp::Mtime => stat.mtime,
        };
        let elapsed = now - stamp;
        if age >= 0 {
            elapsed >= age as f64
        } else {
            elapsed <= age.unsigned_abs() as f64
        }
    }

    fn size_matches(&self, stat: &RawStat) -> bool {
        match self.size {
            None => true,
            Some(size) if size >= 0 => stat.size >= size as u64,
            Some(size) => stat.size <= size.unsigned_abs(),
        }
    }

    fn mode_matches(&self, stat: &RawStat) -> bool {
        match self.mode {
            None => true,
            Some(mode) if self.exact_mode => stat.mode & 0o7777 == mode,
            Some(mode) => stat.mode & mode != 0,
        }
    }

    /// `contentfilter`: does the file's text match `contains`.
    fn content_matches(&self, content: &[u8]) -> bool {
        let Some(regex) = &self.contains else {
            return true;
        };
        let text = if self.latin1 {
            content.iter().map(|b| char::from(*b)).collect()
        } else {
            String::from_utf8_lossy(content).into_owned()
        };
        if self.read_whole_file {
            return matches!(regex.search(&text), Ok(Some(_)));
        }
        // Python's text mode: universal newlines, each line keeps its `\n`.
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        text.split_inclusive('\n')
            .any(|line| matches!(regex.match_start(line), Ok(Some(_))))
    }
}

/// One entry `find -printf` reported.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Normalised path.
    pub path: String,
    /// Depth below the searched directory (1 for its own entries).
    pub depth: u32,
    /// Whether `os.walk` counts it as a directory (following links).
    pub walks_as_dir: bool,
    stat: RawStat,
}

/// What the host reported for one searched path.
#[derive(Debug, Clone, PartialEq)]
pub enum Listing {
    /// The entries below the directory, in `find`'s order.
    Directory(Vec<Entry>),
    /// The path is not a directory (or does not exist).
    NotADirectory,
}

/// Everything the listing round trip returned.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The host's clock (seconds since the epoch).
    pub now: f64,
    /// One listing per searched path, in order.
    pub listings: Vec<Listing>,
    /// Directories `find` could not read, with the reason.
    pub unreadable: Vec<(String, String)>,
}

/// `find -printf` fields: type, type following links, mode, uid, gid, user, group, size,
/// atime, mtime, ctime, inode, device, links, depth, path.
const PRINTF: &str = r"E\t%y\t%Y\t%m\t%U\t%G\t%u\t%g\t%s\t%A@\t%T@\t%C@\t%i\t%D\t%n\t%d\t%p\0";
/// `stat --printf` of a link itself under `find -L`: raw mode, uid, gid, user, group, size,
/// atime, mtime, ctime, inode, device, links, path.
const LINK_STAT: &str = r"S\t%f\t%u\t%g\t%U\t%G\t%s\t%.9X\t%.9Y\t%.9Z\t%i\t%d\t%h\t%n\0";

/// The listing script for `args`.
pub fn listing_script(args: &FindArgs, query: &Query) -> String {
    let mut s = String::from("printf 'T\\t%s\\0' \"$(date +%s)\"\n");
    // `depth` entries one level deeper are still counted in `examined`, as `os.walk` lists
    // them before Ansible's depth check skips them.
    let maxdepth = query
        .depth
        .map(|d| format!(" -maxdepth {}", if args.recurse.0 { d + 1 } else { 1 }))
        .unwrap_or_default();
    for (index, path) in args.paths.0.iter().enumerate() {
        s.push_str(&format!("p={}\n", quote(path)));
        s.push_str(&format!("if [ -d \"$p\" ]; then printf 'P\\t{index}\\0'; "));
        if args.follow.0 {
            s.push_str(&format!(
                "find -L \"$p\" -mindepth 1{maxdepth} -printf {} \\( -xtype l -exec stat --printf={} -- {{}} + \\)",
                quote(PRINTF),
                quote(LINK_STAT)
            ));
        } else {
            s.push_str(&format!(
                "find -H \"$p\" -mindepth 1{maxdepth} -printf {}",
                quote(PRINTF)
            ));
        }
        s.push_str(&format!(
            " || [ $? -ne 127 ] || printf 'X\\tfind\\0'; else printf 'N\\t{index}\\0'; fi\n"
        ));
    }
    s.push_str("exit 0\n");
    s
}

/// Lexical `os.path.normpath`.
fn normpath(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn type_bits(kind: &str) -> u32 {
    match kind {
        "f" => 0o100000,
        "d" => 0o040000,
        "l" => 0o120000,
        "c" => 0o020000,
        "b" => 0o060000,
        "p" => 0o010000,
        "s" => 0o140000,
        _ => 0,
    }
}

fn field<T: std::str::FromStr>(value: &str, what: &str) -> Result<T, String> {
    value
        .parse()
        .map_err(|_| format!("unexpected {what} `{value}` in the output of `find`"))
}

fn parse_entry(record: &str, follow: bool) -> Result<Entry, String> {
    let f: Vec<&str> = record.splitn(17, '\t').collect();
    if f.len() != 17 {
        return Err(format!("unexpected output of `find`: `{record}`"));
    }
    let uid = field(f[4], "uid")?;
    let gid = field(f[5], "gid")?;
    let stat = RawStat {
        mode: type_bits(f[1])
            | u32::from_str_radix(f[3], 8)
                .map_err(|_| format!("unexpected mode `{}` in the output of `find`", f[3]))?,
        uid,
        gid,
        owner: known_name(f[6], uid),
        group: known_name(f[7], gid),
        size: field(f[8], "size")?,
        atime: field(f[9], "atime")?,
        mtime: field(f[10], "mtime")?,
        ctime: field(f[11], "ctime")?,
        inode: field(f[12], "inode")?,
        dev: field(f[13], "device")?,
        nlink: field(f[14], "link count")?,
    };
    // Under `-L`, %y already follows links.
    let walks_as_dir = if follow { f[1] == "d" } else { f[2] == "d" };
    Ok(Entry {
        path: normpath(f[16]),
        depth: field(f[15], "depth")?,
        walks_as_dir,
        stat,
    })
}

fn parse_link_stat(record: &str) -> Result<(String, RawStat), String> {
    let f: Vec<&str> = record.splitn(14, '\t').collect();
    if f.len() != 14 {
        return Err(format!("unexpected output of `stat`: `{record}`"));
    }
    let uid = field(f[2], "uid")?;
    let gid = field(f[3], "gid")?;
    let stat = RawStat {
        mode: u32::from_str_radix(f[1], 16)
            .map_err(|_| format!("unexpected mode `{}` in the output of `stat`", f[1]))?,
        uid,
        gid,
        owner: known_name(f[4], uid),
        group: known_name(f[5], gid),
        size: field(f[6], "size")?,
        atime: field(f[7], "atime")?,
        mtime: field(f[8], "mtime")?,
        ctime: field(f[9], "ctime")?,
        inode: field(f[10], "inode")?,
        dev: field(f[11], "device")?,
        nlink: field(f[12], "link count")?,
    };
    Ok((normpath(f[13]), stat))
}

/// Parse the listing script's output (and `find`'s complaints on stderr).
pub fn parse_report(stdout: &[u8], stderr: &str, follow: bool) -> Result<Report, String> {
    let text = String::from_utf8_lossy(stdout);
    let mut report = Report {
        now: 0.0,
        listings: Vec::new(),
        unreadable: Vec::new(),
    };
    let mut links: HashMap<String, RawStat> = HashMap::new();
    for record in text.split('\0').filter(|r| !r.is_empty()) {
        let (tag, rest) = record.split_once('\t').unwrap_or((record, ""));
        match tag {
            "T" => report.now = field(rest, "time")?,
            "P" => report.listings.push(Listing::Directory(Vec::new())),
            "N" => report.listings.push(Listing::NotADirectory),
            "X" => return Err("the host has no `find` command (GNU findutils is needed)".into()),
            "E" => {
                let entry = parse_entry(record, follow)?;
                match report.listings.last_mut() {
                    Some(Listing::Directory(entries)) => entries.push(entry),
                    _ => return Err("`find` printed an entry outside any searched path".into()),
                }
            }
            "S" => {
                let (path, stat) = parse_link_stat(record)?;
                links.insert(path, stat);
            }
            _ => return Err(format!("unexpected output of the find script: `{record}`")),
        }
    }
    for listing in &mut report.listings {
        if let Listing::Directory(entries) = listing {
            for entry in entries.iter_mut() {
                if let Some(stat) = links.remove(&entry.path) {
                    entry.stat = stat;
                }
            }
        }
    }
    for line in stderr.lines() {
        // GNU find in the C locale: `find: 'PATH': REASON`.
        let Some(rest) = line.strip_prefix("find: '") else {
            continue;
        };
        if let Some((path, reason)) = rest.rsplit_once("': ") {
            let message = match reason {
                "Permission denied" => format!("[Errno 13] Permission denied: '{path}'"),
                "No such file or directory" => {
                    format!("[Errno 2] No such file or directory: '{path}'")
                }
                other => other.to_string(),
            };
            report.unreadable.push((path.to_string(), message));
        }
    }
    Ok(report)
}

/// What [`select`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Matching entries, in `os.walk` order.
    pub files: Vec<Entry>,
    /// Entries looked at.
    pub examined: u64,
    /// Searched paths skipped, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Whether `limit` stopped the search.
    pub limit_reached: bool,
}

impl Entry {
    fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    fn parent(&self) -> &str {
        match self.path.rfind('/') {
            Some(0) => "/",
            Some(at) => &self.path[..at],
            None => ".",
        }
    }
}

/// Ansible's walk and filters over what the host listed, before `contains`. `content`
/// answers `contains` for a regular file (and is asked only for candidates).
pub fn select(
    args: &FindArgs,
    query: &Query,
    report: &Report,
    content: &dyn Fn(&str) -> bool,
) -> Selection {
    let mut selection = Selection {
        files: Vec::new(),
        examined: 0,
        skipped: Vec::new(),
        limit_reached: false,
    };
    for (path, listing) in args.paths.0.iter().zip(&report.listings) {
        let Listing::Directory(entries) = listing else {
            selection
                .skipped
                .push((path.clone(), format!("'{path}' is not a directory")));
            continue;
        };
        let mut children: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
        for entry in entries {
            children.entry(entry.parent()).or_default().push(entry);
        }
        let root = normpath(path);
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let listed = children.get(dir.as_str()).cloned().unwrap_or_default();
            let (dirs, files): (Vec<&Entry>, Vec<&Entry>) =
                listed.into_iter().partition(|e| e.walks_as_dir);
            selection.examined += (files.len() + dirs.len()) as u64;
            for entry in files.iter().chain(&dirs) {
                if query.depth.is_some_and(|max| entry.depth > max) {
                    continue;
                }
                if entry.name().starts_with('.') && !query.hidden {
                    continue;
                }
                if matches(query, entry, report.now, content) {
                    selection.files.push((*entry).clone());
                }
                if Some(selection.files.len() as u64) == query.limit {
                    selection.limit_reached = true;
                    return selection;
                }
            }
            // Depth first, in listing order.
            for dir in dirs.iter().rev() {
                stack.push(dir.path.clone());
            }
        }
    }
    selection
}

fn matches(query: &Query, entry: &Entry, now: f64, content: &dyn Fn(&str) -> bool) -> bool {
    let stat = &entry.stat;
    let common = || {
        query.name_matches(entry.name()) && query.age_matches(stat, now) && query.mode_matches(stat)
    };
    match query.file_type {
        FileType::Any => common() && (!stat.is_regular() || query.size_matches(stat)),
        FileType::Directory => stat.is_dir() && common(),
        FileType::Link => stat.is_link() && common(),
        FileType::File => {
            stat.is_regular() && common() && query.size_matches(stat) && content(&entry.path)
        }
    }
}

/// A script that prints, for each NUL-separated path on stdin, one line: `-` when it cannot
/// be read, else the output of `each` (given the path as `$f`).
fn per_file_script(each: &str) -> String {
    format!(
        "xargs -0 sh -c {} sh",
        quote(&format!(
            "for f; do if [ -r \"$f\" ] && o=$({each}); then printf '%s\\n' \"$o\"; else echo -; fi; done"
        ))
    )
}

fn per_file(
    host: &mut dyn Host,
    paths: &[&str],
    each: &str,
) -> Result<Vec<Option<String>>, ModuleError> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let mut stdin = Vec::new();
    for path in paths {
        stdin.extend_from_slice(path.as_bytes());
        stdin.push(0);
    }
    let command = Command::shell(per_file_script(each)).with_stdin(stdin);
    let output = host.run(&command)?;
    let lines: Vec<Option<String>> = output
        .stdout_text()
        .lines()
        .map(|line| (line != "-").then(|| line.to_string()))
        .collect();
    if !output.success() || lines.len() != paths.len() {
        return Err(ModuleError::failed(format!(
            "cannot read the files `find` matched: `{}` exited with status {}: {}",
            each,
            output.status,
            output.stderr_text().trim()
        )));
    }
    Ok(lines)
}

impl TypedModule for Find {
    type Args = FindArgs;
    const NAME: &'static str = "find";
    const SUMMARY: &'static str =
        "List files by name, age, size, type or content, without changing them";
    const EXAMPLES: &'static str = "- find:\n    paths: /var/log\n    patterns: '*.gz'\n    age: 4w\n    recurse: yes\n  register: old_logs\n\n- find:\n    paths: /etc/nginx/sites-enabled\n    file_type: link\n  register: sites\n\n- find:\n    paths: [/etc, /usr/local/etc]\n    patterns: '^.*\\.conf$'\n    use_regex: yes\n    contains: '^\\s*Listen\\s+80'\n";
    const USES_FACTS: bool = false;

    fn check(args: &FindArgs) -> Result<(), ArgsError> {
        if args.paths.0.is_empty() {
            return Err(ArgsError::new(
                Some("paths"),
                "`paths` of module `find` is empty",
            ));
        }
        Query::compile(args).map(|_| ())
    }

    fn plan(args: FindArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let query = Query::compile(&args)?;
        let mut command = Command::shell(listing_script(&args, &query));
        command.env.push(("LC_ALL".into(), "C".into()));
        let output = host.run(&command)?;
        if !output.success() {
            return Err(ModuleError::failed(format!(
                "the find script exited with status {}: {}",
                output.status,
                output.stderr_text().trim()
            )));
        }
        let report = parse_report(&output.stdout, &output.stderr_text(), args.follow.0)
            .map_err(ModuleError::failed)?;

        // `contains`: read every candidate once (a second round trip), then select.
        let mut contents: HashMap<String, bool> = HashMap::new();
        if query.contains.is_some() && query.file_type == FileType::File {
            let candidates = select(&args, &query, &report, &|_| true);
            let paths: Vec<&str> = candidates.files.iter().map(|e| e.path.as_str()).collect();
            let read = per_file(host, &paths, "base64 < \"$f\" | tr -d '\\n'")?;
            for (path, encoded) in paths.iter().zip(read) {
                let found = encoded
                    .and_then(|text| base64::engine::general_purpose::STANDARD.decode(text).ok())
                    .is_some_and(|bytes| query.content_matches(&bytes));
                contents.insert(path.to_string(), found);
            }
        }
        let selection = select(&args, &query, &report, &|path| {
            contents.get(path).copied().unwrap_or(true)
        });

        let mut checksums: HashMap<String, String> = HashMap::new();
        if args.get_checksum.0 {
            let paths: Vec<&str> = selection
                .files
                .iter()
                .filter(|e| e.stat.is_regular())
                .map(|e| e.path.as_str())
                .collect();
            let each = format!(
                "{} < \"$f\" | cut -d' ' -f1",
                args.checksum_algorithm.tool()
            );
            for (path, sum) in paths.iter().zip(per_file(host, &paths, &each)?) {
                if let Some(sum) = sum {
                    checksums.insert(path.to_string(), sum);
                }
            }
        }

        let files: Vec<Value> = selection
            .files
            .iter()
            .map(|entry| {
                let mut map = Map::new();
                map.insert("path".into(), json!(entry.path));
                map.extend(entry.stat.statinfo());
                // `find` gives empty names where the host has none (stat leaves them out).
                map.insert(
                    "pw_name".into(),
                    json!(entry.stat.owner.clone().unwrap_or_default()),
                );
                map.insert(
                    "gr_name".into(),
                    json!(entry.stat.group.clone().unwrap_or_default()),
                );
                if let Some(sum) = checksums.get(&entry.path) {
                    map.insert("checksum".into(), json!(sum));
                }
                Value::Object(map)
            })
            .collect();
        let mut skipped = Map::new();
        for (path, reason) in report.unreadable.iter().chain(&selection.skipped) {
            skipped.insert(path.clone(), json!(reason));
        }
        let mut plan = Plan::unchanged();
        for (path, reason) in &selection.skipped {
            plan.warnings.push(format!(
                "skipped '{path}' path due to this access issue: {reason}"
            ));
        }
        let msg = if !selection.skipped.is_empty() {
            "Not all paths examined, check warnings for details"
        } else if selection.limit_reached {
            "Limit of matches reached"
        } else {
            "All paths examined"
        };
        plan.result.insert("matched".into(), json!(files.len()));
        plan.result.insert("files".into(), Value::Array(files));
        plan.result
            .insert("examined".into(), json!(selection.examined));
        plan.result.insert("msg".into(), json!(msg));
        plan.result
            .insert("skipped_paths".into(), Value::Object(skipped));
        Ok(plan)
    }
}

/// Translate a shell glob as Python's `fnmatch` reads it (`*`, `?`, `[seq]`, `[!seq]`) into
/// an anchored regular expression.
fn glob_to_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut out = String::from(r"\A(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut j = i;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    out.push_str(r"\[");
                    continue;
                }
                let mut class = String::from("[");
                let mut k = i;
                if chars[k] == '!' {
                    class.push('^');
                    k += 1;
                }
                for &member in &chars[k..j] {
                    match member {
                        '\\' | '[' | ']' | '&' | '~' | '^' => {
                            class.push('\\');
                            class.push(member);
                        }
                        _ => class.push(member),
                    }
                }
                class.push(']');
                out.push_str(&class);
                i = j + 1;
            }
            _ => {
                let mut buffer = [0u8; 4];
                out.push_str(&regex::escape(c.encode_utf8(&mut buffer)));
            }
        }
    }
    out.push_str(r")\z");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normpath_is_lexical() {
        assert_eq!(normpath("/tmp//x/./y/"), "/tmp/x/y");
        assert_eq!(normpath("/a/../b"), "/b");
        assert_eq!(normpath("a/b/.."), "a");
        assert_eq!(normpath("/"), "/");
    }

    #[test]
    fn ages_and_sizes_take_ansibles_units() {
        let units = [('s', 1), ('m', 60), ('d', 86400), ('w', 604800)];
        assert_eq!(with_unit("age", "2d", &units, "").unwrap(), 172800);
        assert_eq!(with_unit("age", "-1W", &units, "").unwrap(), -604800);
        assert_eq!(with_unit("age", "30", &units, "").unwrap(), 30);
        assert!(with_unit("age", "2y", &units, "").is_err());
        assert!(with_unit("age", "d", &units, "").is_err());
        assert!(with_unit("age", "1.5d", &units, "").is_err());
    }

    #[test]
    fn globs_follow_fnmatch() {
        let matches = |glob: &str, name: &str| {
            PyRegex::new(&glob_to_regex(glob), Flags::default())
                .unwrap()
                .search(name)
                .unwrap()
                .is_some()
        };
        assert!(matches("*.txt", "a.txt"));
        assert!(!matches("*.txt", "a.txt.bak"));
        assert!(matches("?.log", "a.log"));
        assert!(matches("[ab]*", "beta"));
        assert!(!matches("[!ab]*", "beta"));
        assert!(matches("[", "["));
        assert!(matches("a+b(c)", "a+b(c)"));
        assert!(matches(".*", ".hidden"));
    }
}
