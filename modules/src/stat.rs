//! `stat`: read what a path is, for `register` and `when:`, as Ansible's `stat`.
//!
//! Changes nothing: the plan is always "no change" and carries the `stat` dictionary under
//! the keys Ansible uses (`st.stat.exists`, `st.stat.isdir`, `st.stat.mode` as `"0644"`,
//! `st.stat.checksum`…), so playbooks written for Ansible read it unchanged.
//!
//! Reads everything in one round trip: a POSIX shell script runs GNU `stat --printf` (or
//! `stat -L` with `follow`), `test -r/-w/-x` for `readable`/`writeable`/`executable` (as the
//! connecting or become user, like Python's `os.access`), `readlink` and `realpath` for a link,
//! the `*sum` tool of `checksum_algorithm` for a readable regular file, `file --mime-type
//! --mime-encoding` (`get_mime`) and `lsattr -vd` (`get_attributes`). The output is parsed by
//! the pure function [`parse_report`]. A missing `file` or `lsattr` gives Ansible's fallbacks
//! (`mimetype: unknown`, `attributes: []`).
//!
//! ```yaml
//! - stat:
//!     path: /etc/ssh/sshd_config
//!   register: sshd_config
//! - debug:
//!     msg: "sshd_config is {{ sshd_config.stat.mode }}"
//!   when: sshd_config.stat.exists
//! ```

use crate::args::Flag;
use crate::host::{quote, Command, Host};
use crate::module::{Context, ModuleError, TypedModule};
use crate::plan::Plan;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// A checksum algorithm, as Ansible names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumAlgorithm {
    /// MD5.
    Md5,
    /// SHA-1 (Ansible's default).
    #[default]
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl ChecksumAlgorithm {
    /// The coreutils tool that computes it (`sha1sum`…).
    pub fn tool(self) -> &'static str {
        match self {
            ChecksumAlgorithm::Md5 => "md5sum",
            ChecksumAlgorithm::Sha1 => "sha1sum",
            ChecksumAlgorithm::Sha224 => "sha224sum",
            ChecksumAlgorithm::Sha256 => "sha256sum",
            ChecksumAlgorithm::Sha384 => "sha384sum",
            ChecksumAlgorithm::Sha512 => "sha512sum",
        }
    }
}

fn yes() -> Flag {
    Flag(true)
}

/// Arguments of `stat`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatArgs {
    /// The path to examine.
    #[serde(alias = "dest", alias = "name")]
    pub path: String,
    /// Follow a final symbolic link and describe what it points to.
    #[serde(default)]
    pub follow: Flag,
    /// Compute the checksum of a readable regular file (`stat.checksum`).
    #[serde(default = "yes")]
    pub get_checksum: Flag,
    /// The algorithm of `stat.checksum`.
    #[serde(default, alias = "checksum", alias = "checksum_algo")]
    pub checksum_algorithm: ChecksumAlgorithm,
    /// Ask `file` for `stat.mimetype` and `stat.charset`.
    #[serde(
        default = "yes",
        alias = "mime",
        alias = "mime_type",
        alias = "mime-type"
    )]
    pub get_mime: Flag,
    /// Ask `lsattr` for `stat.attributes`, `stat.attr_flags` and `stat.version`.
    #[serde(default = "yes", alias = "attr", alias = "attributes")]
    pub get_attributes: Flag,
}

/// The `stat` module.
pub struct Stat;

impl TypedModule for Stat {
    type Args = StatArgs;
    const NAME: &'static str = "stat";
    const SUMMARY: &'static str =
        "Read what a path is (type, mode, owner, checksum…) without changing it";
    const EXAMPLES: &'static str = "- stat:\n    path: /etc/ssh/sshd_config\n  register: sshd_config\n\n- fail:\n    msg: sshd_config must not be world-writable\n  when: sshd_config.stat.exists and sshd_config.stat.woth\n\n- stat:\n    path: /usr/local/bin/tool\n    checksum_algorithm: sha256\n    get_mime: no\n  register: tool\n";
    const USES_FACTS: bool = false;

    fn plan(args: StatArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let mut command = Command::shell(script(&args));
        command.env.push(("LC_ALL".into(), "C".into()));
        let output = host.run_read(&command)?;
        if !output.success() {
            return Err(ModuleError::failed(format!(
                "cannot stat `{}`: `stat` script exited with status {}: {}",
                args.path,
                output.status,
                output.stderr_text().trim()
            )));
        }
        let stat = parse_report(&args.path, &output.stdout).map_err(ModuleError::failed)?;
        let mut plan = Plan::unchanged();
        plan.result.insert("stat".into(), Value::Object(stat));
        Ok(plan)
    }
}

/// GNU `stat --printf` fields, tab-separated: raw mode (hex), uid, gid, user, group, size,
/// atime, mtime, ctime, inode, device, links, blocks, I/O block size, device type.
const STAT_FORMAT: &str = r"%f\t%u\t%g\t%U\t%G\t%s\t%.9X\t%.9Y\t%.9Z\t%i\t%d\t%h\t%b\t%o\t%r";

/// The script that reads everything `stat` returns; each record is `KEY\tVALUE\0`.
pub fn script(args: &StatArgs) -> String {
    let follow = args.follow.0;
    let mut s = format!("p={}\n", quote(&args.path));
    s.push_str(&format!(
        "s=$(stat {}--printf={} -- \"$p\" 2>&1) || {{ printf 'error\\t%s\\0' \"$s\"; exit 0; }}\n",
        if follow { "-L " } else { "" },
        quote(STAT_FORMAT)
    ));
    s.push_str("printf 'stat\\t%s\\0' \"$s\"\n");
    s.push_str("[ -r \"$p\" ] && printf 'readable\\t\\0'\n");
    s.push_str("[ -w \"$p\" ] && printf 'writeable\\t\\0'\n");
    s.push_str("[ -x \"$p\" ] && printf 'executable\\t\\0'\n");
    // `[ -f ]` follows links: without `follow` a link is never a regular file.
    let regular = if follow {
        "[ -f \"$p\" ]"
    } else {
        "[ -f \"$p\" ] && [ ! -L \"$p\" ]"
    };
    if !follow {
        s.push_str("if [ -L \"$p\" ]; then\n");
        s.push_str("  printf 'lnk_target\\t%s\\0' \"$(readlink -- \"$p\")\"\n");
        s.push_str(
            "  printf 'lnk_source\\t%s\\0' \"$(realpath -m -- \"$p\" 2>/dev/null || readlink -f -- \"$p\")\"\n",
        );
        s.push_str("fi\n");
    }
    if args.get_checksum.0 {
        s.push_str(&format!(
            "if {regular} && [ -r \"$p\" ]; then c=$({} < \"$p\") && printf 'checksum\\t%s\\0' \"${{c%% *}}\"; fi\n",
            args.checksum_algorithm.tool()
        ));
    }
    if !args.get_mime.0 {
        s.push_str("printf 'skip\\tmime\\0'\n");
    } else {
        s.push_str("if command -v file >/dev/null 2>&1; then m=$(file --mime-type --mime-encoding -- \"$p\" 2>/dev/null) && printf 'mime\\t%s\\0' \"$m\"; fi\n");
    }
    if !args.get_attributes.0 {
        s.push_str("printf 'skip\\tattr\\0'\n");
    } else {
        s.push_str("if command -v lsattr >/dev/null 2>&1; then a=$(lsattr -vd -- \"$p\" 2>/dev/null) && printf 'attr\\t%s\\0' \"$a\"; fi\n");
    }
    s.push_str("exit 0\n");
    s
}

/// What one `stat` reports about a path, before it becomes Ansible's dictionary.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawStat {
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// `None` when the host has no name for the id.
    pub owner: Option<String>,
    pub group: Option<String>,
    pub size: u64,
    pub atime: f64,
    pub mtime: f64,
    pub ctime: f64,
    pub inode: u64,
    pub dev: u64,
    pub nlink: u64,
}

const S_IFMT: u32 = 0o170000;

impl RawStat {
    fn kind(&self) -> u32 {
        self.mode & S_IFMT
    }

    /// True for a regular file.
    pub fn is_regular(&self) -> bool {
        self.kind() == 0o100000
    }

    /// True for a directory.
    pub fn is_dir(&self) -> bool {
        self.kind() == 0o040000
    }

    /// True for a symbolic link.
    pub fn is_link(&self) -> bool {
        self.kind() == 0o120000
    }

    /// The keys Ansible's `find` gives every file (and `stat` too), with its types.
    pub fn statinfo(&self) -> Map<String, Value> {
        let bit = |mask: u32| Value::Bool(self.mode & mask != 0);
        let kind = self.kind();
        let mut map = Map::new();
        map.insert("mode".into(), json!(format!("{:04o}", self.mode & 0o7777)));
        map.insert("isdir".into(), json!(kind == 0o040000));
        map.insert("ischr".into(), json!(kind == 0o020000));
        map.insert("isblk".into(), json!(kind == 0o060000));
        map.insert("isreg".into(), json!(kind == 0o100000));
        map.insert("isfifo".into(), json!(kind == 0o010000));
        map.insert("islnk".into(), json!(kind == 0o120000));
        map.insert("issock".into(), json!(kind == 0o140000));
        map.insert("uid".into(), json!(self.uid));
        map.insert("gid".into(), json!(self.gid));
        map.insert("size".into(), json!(self.size));
        map.insert("inode".into(), json!(self.inode));
        map.insert("dev".into(), json!(self.dev));
        map.insert("nlink".into(), json!(self.nlink));
        map.insert("atime".into(), json!(self.atime));
        map.insert("mtime".into(), json!(self.mtime));
        map.insert("ctime".into(), json!(self.ctime));
        map.insert("wusr".into(), bit(0o200));
        map.insert("rusr".into(), bit(0o400));
        map.insert("xusr".into(), bit(0o100));
        map.insert("wgrp".into(), bit(0o020));
        map.insert("rgrp".into(), bit(0o040));
        map.insert("xgrp".into(), bit(0o010));
        map.insert("woth".into(), bit(0o002));
        map.insert("roth".into(), bit(0o004));
        map.insert("xoth".into(), bit(0o001));
        map.insert("isuid".into(), bit(0o4000));
        map.insert("isgid".into(), bit(0o2000));
        map
    }
}

fn number<T: std::str::FromStr>(field: &str, what: &str) -> Result<T, String> {
    field
        .trim()
        .parse()
        .map_err(|_| format!("unexpected {what} `{field}` in the output of `stat`"))
}

/// A name from `stat`/`find`: GNU tools print `UNKNOWN` (stat) or the number (find) when the
/// host has no name for an id.
pub(crate) fn known_name(name: &str, id: u64) -> Option<String> {
    (name != "UNKNOWN" && name != id.to_string()).then(|| name.to_string())
}

/// The fields printed with [`STAT_FORMAT`], plus blocks, block size and device type.
fn parse_stat_line(line: &str) -> Result<(RawStat, [u64; 3]), String> {
    let fields: Vec<&str> = line.trim_end_matches('\n').split('\t').collect();
    if fields.len() != 15 {
        return Err(format!("unexpected output of `stat`: `{line}`"));
    }
    let uid = number(fields[1], "uid")?;
    let gid = number(fields[2], "gid")?;
    let raw = RawStat {
        mode: u32::from_str_radix(fields[0], 16)
            .map_err(|_| format!("unexpected mode `{}` in the output of `stat`", fields[0]))?,
        uid,
        gid,
        owner: known_name(fields[3], uid),
        group: known_name(fields[4], gid),
        size: number(fields[5], "size")?,
        atime: number(fields[6], "atime")?,
        mtime: number(fields[7], "mtime")?,
        ctime: number(fields[8], "ctime")?,
        inode: number(fields[9], "inode")?,
        dev: number(fields[10], "device")?,
        nlink: number(fields[11], "link count")?,
    };
    let extra = [
        number(fields[12], "block count")?,
        number(fields[13], "block size")?,
        number(fields[14], "device type")?,
    ];
    Ok((raw, extra))
}

/// Ansible's names for `lsattr` flags.
const FILE_ATTRIBUTES: &[(char, &str)] = &[
    ('A', "noatime"),
    ('a', "append"),
    ('c', "compressed"),
    ('C', "nocow"),
    ('d', "nodump"),
    ('D', "dirsync"),
    ('e', "extents"),
    ('E', "encrypted"),
    ('h', "blocksize"),
    ('i', "immutable"),
    ('I', "indexed"),
    ('j', "journalled"),
    ('N', "inline"),
    ('s', "zero"),
    ('S', "synchronous"),
    ('t', "notail"),
    ('T', "blockroot"),
    ('u', "undelete"),
    ('X', "compressedraw"),
    ('Z', "compresseddirty"),
];

/// Turn the script's output into Ansible's `stat` dictionary for `path`.
pub fn parse_report(path: &str, output: &[u8]) -> Result<Map<String, Value>, String> {
    let text = String::from_utf8_lossy(output);
    let mut records = Vec::new();
    for record in text.split('\0').filter(|r| !r.is_empty()) {
        let (key, value) = record.split_once('\t').unwrap_or((record, ""));
        records.push((key, value));
    }
    let value_of = |key: &str| records.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
    if let Some(message) = value_of("error") {
        if message.contains("No such file or directory") {
            return Ok(Map::from_iter([("exists".to_string(), json!(false))]));
        }
        return Err(format!("cannot stat `{path}`: {}", message.trim()));
    }
    let line = value_of("stat").ok_or_else(|| format!("no output from `stat` for `{path}`"))?;
    let (raw, [blocks, block_size, device_type]) = parse_stat_line(line)?;
    let mut stat = Map::new();
    stat.insert("exists".into(), json!(true));
    stat.insert("path".into(), json!(path));
    stat.extend(raw.statinfo());
    stat.insert("blocks".into(), json!(blocks));
    stat.insert("block_size".into(), json!(block_size));
    stat.insert("device_type".into(), json!(device_type));
    for key in ["readable", "writeable", "executable"] {
        stat.insert(key.into(), json!(value_of(key).is_some()));
    }
    if raw.is_link() {
        for key in ["lnk_source", "lnk_target"] {
            if let Some(value) = value_of(key) {
                stat.insert(key.into(), json!(value));
            }
        }
    }
    if let Some(owner) = raw.owner {
        stat.insert("pw_name".into(), json!(owner));
    }
    if let Some(group) = raw.group {
        stat.insert("gr_name".into(), json!(group));
    }
    if let Some(checksum) = value_of("checksum") {
        stat.insert("checksum".into(), json!(checksum.trim()));
    }
    if script_asked(&records, "mime") {
        let (mimetype, charset) = value_of("mime")
            .and_then(parse_mime)
            .unwrap_or_else(|| ("unknown".into(), "unknown".into()));
        stat.insert("mimetype".into(), json!(mimetype));
        stat.insert("charset".into(), json!(charset));
    }
    if script_asked(&records, "attr") {
        let mut version = Value::Null;
        let mut flags = String::new();
        if let Some(line) = value_of("attr") {
            let mut words = line.split_whitespace();
            if let (Some(v), Some(f)) = (words.next(), words.next()) {
                version = json!(v);
                flags = f.replace('-', "");
            }
        }
        let names: Vec<&str> = flags
            .chars()
            .filter_map(|c| {
                FILE_ATTRIBUTES
                    .iter()
                    .find(|(f, _)| *f == c)
                    .map(|(_, n)| *n)
            })
            .collect();
        stat.insert("version".into(), version);
        stat.insert("attributes".into(), json!(names));
        stat.insert("attr_flags".into(), json!(flags));
    }
    Ok(stat)
}

/// The script marks what was not asked for with a `skip` record.
fn script_asked(records: &[(&str, &str)], key: &str) -> bool {
    !records.iter().any(|(k, v)| *k == "skip" && *v == key)
}

/// `file --mime-type --mime-encoding` prints `PATH: TYPE; charset=CHARSET`.
fn parse_mime(line: &str) -> Option<(String, String)> {
    let (_, rest) = line.trim_end().rsplit_once(':')?;
    let (mimetype, charset) = rest.split_once(';')?;
    let charset = charset.split_once('=')?.1;
    Some((mimetype.trim().to_string(), charset.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_report() {
        let output = b"stat\t81a4\t0\t0\troot\troot\t3\t1796603035.648609000\t1796603035.632608872\t1796603035.632608872\t10011595\t65024\t1\t8\t4096\t0\0readable\t\0writeable\t\0checksum\t55ca6286e3e4f4fba5d0448333fa99fc5a404a73\0mime\t/tmp/a.txt: text/plain; charset=us-ascii\0attr\t3565213785 --------------e------- /tmp/a.txt\0";
        let stat = parse_report("/tmp/a.txt", output).unwrap();
        assert_eq!(stat["exists"], json!(true));
        assert_eq!(stat["mode"], json!("0644"));
        assert_eq!(stat["isreg"], json!(true));
        assert_eq!(stat["islnk"], json!(false));
        assert_eq!(stat["pw_name"], json!("root"));
        assert_eq!(stat["size"], json!(3));
        assert_eq!(
            stat["mtime"].as_f64(),
            "1796603035.632608872".parse::<f64>().ok()
        );
        assert_eq!(stat["readable"], json!(true));
        assert_eq!(stat["executable"], json!(false));
        assert_eq!(
            stat["checksum"],
            json!("55ca6286e3e4f4fba5d0448333fa99fc5a404a73")
        );
        assert_eq!(stat["mimetype"], json!("text/plain"));
        assert_eq!(stat["charset"], json!("us-ascii"));
        assert_eq!(stat["version"], json!("3565213785"));
        assert_eq!(stat["attributes"], json!(["extents"]));
        assert_eq!(stat["attr_flags"], json!("e"));
        assert_eq!(stat["block_size"], json!(4096));
        assert!(!stat.contains_key("lnk_source"));
    }

    #[test]
    fn a_missing_path_only_says_so() {
        let output = b"error\tstat: cannot statx '/nope': No such file or directory\0";
        assert_eq!(
            Value::Object(parse_report("/nope", output).unwrap()),
            json!({"exists": false})
        );
        let denied = b"error\tstat: cannot statx '/root/x': Permission denied\0";
        assert_eq!(
            parse_report("/root/x", denied).unwrap_err(),
            "cannot stat `/root/x`: stat: cannot statx '/root/x': Permission denied"
        );
    }

    #[test]
    fn missing_tools_give_ansibles_fallbacks() {
        let output = b"stat\ta1ff\t0\t0\troot\troot\t5\t1.5\t1.5\t1.5\t7\t8\t1\t0\t4096\t0\0lnk_target\ta.txt\0lnk_source\t/tmp/a.txt\0";
        let stat = parse_report("/tmp/l", output).unwrap();
        assert_eq!(stat["islnk"], json!(true));
        assert_eq!(stat["mode"], json!("0777"));
        assert_eq!(stat["lnk_target"], json!("a.txt"));
        assert_eq!(stat["lnk_source"], json!("/tmp/a.txt"));
        assert_eq!(stat["mimetype"], json!("unknown"));
        assert_eq!(stat["attributes"], json!([]));
        assert_eq!(stat["version"], Value::Null);
    }
}
