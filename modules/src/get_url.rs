//! `get_url`: a file on the host downloaded from a URL, optionally verified by a checksum.
//!
//! The download runs on the host (as Ansible's does), with `curl`, else `wget`, else
//! `python3`'s urllib. Planning reads, in one round trip, which of those tools exists, whether
//! `dest` is a directory (then the file is named after the URL's last path segment; Ansible
//! also honours a `Content-Disposition` header, converge does not) and, when the file exists,
//! its digest with the checksum's algorithm. Applying downloads into a temp file in the
//! destination's directory, verifies the checksum there, sets mode/owner/group on the temp
//! file and renames it over `dest` (`mv -f`, atomic): a failed download or a wrong checksum
//! leaves no file and the old one untouched. Credentials and headers go to the tool on stdin,
//! never on its command line, and are never shown.
//!
//! Idempotence, as Ansible's: with `checksum`, an existing file with that digest is no change
//! (and not downloaded); without one, an existing `dest` file is no change unless
//! `force: yes`. With `force: yes` converge reports a change on every run (Ansible downloads
//! and compares; converge's plan does not download). `checksum: ALGO:URL` (a checksum file to
//! fetch) is not built and is refused with an error. Check mode changes nothing: it reports
//! "would download".
//!
//! After applying, the command prints `status_code=`, `checksum_src=`, `size=` lines:
//! [`download_result`] turns them into the task result.
//!
//! ```yaml
//! - get_url:
//!     url: https://example.com/tool-1.2.tar.gz
//!     dest: /srv/dist/tool-1.2.tar.gz
//!     checksum: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//!     mode: "0644"
//! ```

use crate::args::{Flag, Mode};
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

fn ten() -> u64 {
    10
}

fn yes() -> Flag {
    Flag(true)
}

/// Arguments of `get_url`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetUrlArgs {
    /// The URL to download (`http`, `https` or `ftp`).
    pub url: String,
    /// The file to write, or an existing directory (the file is then named after the URL's
    /// last path segment).
    pub dest: String,
    /// `ALGORITHM:HEXDIGEST` (`sha256:…`, `sha1:…`, `md5:…`, also sha224/sha384/sha512): the
    /// download is verified before it replaces `dest`, and a `dest` already with this digest
    /// is not downloaded again. The `ALGORITHM:URL` form is not supported.
    #[serde(default)]
    pub checksum: String,
    /// Download even when `dest` exists (without a checksum an existing file is kept).
    #[serde(default, alias = "thirsty")]
    pub force: Flag,
    /// Seconds for the whole request.
    #[serde(default = "ten")]
    pub timeout: u64,
    /// Extra request headers, e.g. `{Authorization: "Bearer …"}` (never shown).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// User name for HTTP basic authentication.
    #[serde(alias = "username")]
    pub url_username: Option<String>,
    /// Password for HTTP basic authentication (never shown).
    #[serde(alias = "password")]
    pub url_password: Option<String>,
    /// Send the credentials without waiting for a 401 (curl and wget always do).
    #[serde(default)]
    pub force_basic_auth: Flag,
    /// Verify the server's TLS certificate.
    #[serde(default = "yes")]
    pub validate_certs: Flag,
    /// Keep a copy of the replaced file, named `DEST.PID.YYYY-MM-DD@HH:MM:SS~`.
    #[serde(default)]
    pub backup: Flag,
    /// Permission bits of the file, e.g. `"0644"` (default: a new file gets 0666 minus the
    /// umask, a replaced one keeps its mode).
    pub mode: Option<Mode>,
    /// Owner of the file.
    pub owner: Option<String>,
    /// Group of the file.
    pub group: Option<String>,
}

/// A checksum argument, split and normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    /// `sha256`, `sha1`, `md5`…
    pub algorithm: String,
    /// Lowercase hex digest.
    pub digest: String,
}

const ALGORITHMS: &[(&str, usize)] = &[
    ("md5", 32),
    ("sha1", 40),
    ("sha224", 56),
    ("sha256", 64),
    ("sha384", 96),
    ("sha512", 128),
];

/// Parse `ALGORITHM:DIGEST` as Ansible does (non-word characters in the digest dropped,
/// lowercased); `""` is no checksum.
pub fn parse_checksum(text: &str) -> Result<Option<Checksum>, String> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let (algorithm, digest) = text
        .split_once(':')
        .ok_or("the checksum parameter has to be in format <algorithm>:<checksum>")?;
    let algorithm = algorithm.trim().to_ascii_lowercase();
    let digest = digest.trim();
    if digest.contains("://") {
        return Err(format!(
            "`checksum: {algorithm}:URL` (a checksum file to download) is not supported by converge; give the digest itself, e.g. `{algorithm}:HEXDIGEST`"
        ));
    }
    let Some((_, length)) = ALGORITHMS.iter().find(|(name, _)| *name == algorithm) else {
        return Err(format!(
            "unknown checksum algorithm `{algorithm}`: use one of md5, sha1, sha224, sha256, sha384, sha512"
        ));
    };
    let digest: String = digest
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '_')
        .collect::<String>()
        .to_ascii_lowercase();
    if !digest.chars().all(|c| c.is_ascii_hexdigit()) || digest.len() != *length {
        return Err(format!(
            "the checksum format is invalid: `{digest}` is not a {length}-digit hex {algorithm} digest"
        ));
    }
    Ok(Some(Checksum { algorithm, digest }))
}

/// The file name a URL gives (its last path segment, without query or fragment), as
/// Ansible's `url_filename`; `index.html` when there is none.
pub fn url_filename(url: &str) -> String {
    let without_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = without_scheme
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .split_once('/')
        .map_or("", |(_, path)| path);
    match path.rsplit('/').next() {
        Some(name) if !name.is_empty() => name.to_string(),
        _ => "index.html".to_string(),
    }
}

/// What the probe found on the host.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Probe {
    /// `curl`, `wget`, `python3`, or empty when none exists.
    pub tool: String,
    /// `dest` is an existing directory.
    pub dest_is_dir: bool,
    /// The final path exists as a regular file.
    pub exists: bool,
    /// The final path exists and is not a regular file.
    pub not_a_file: bool,
    /// The file's digest with the checksum's algorithm (or sha1 without one).
    pub digest: Option<String>,
    /// The final path's directory exists.
    pub dir_exists: bool,
}

/// Name given to the probe script (`$0`), so that test hosts can recognise it.
pub const PROBE_NAME: &str = "converge-get_url-probe";

/// `$1` dest, `$2` the URL's file name, `$3` digest tool (`sha256sum`…). Prints `tool=`,
/// `dir=yes` when dest is a directory, `path=FINAL`, `kind=file|other|missing`,
/// `parent=yes|no` and `digest=HEX`.
pub const PROBE_SCRIPT: &str = r#"d=$1
for t in curl wget python3; do
  if command -v "$t" >/dev/null 2>&1; then echo "tool=$t"; break; fi
done
if [ -d "$d" ]; then echo dir=yes; d="${d%/}/$2"; fi
echo "path=$d"
if [ -f "$d" ]; then
  echo kind=file
  echo "digest=$("$3" "$d" | cut -d' ' -f1)"
elif [ -e "$d" ] || [ -L "$d" ]; then echo kind=other
else echo kind=missing
fi
if [ -d "$(dirname "$d")" ]; then echo parent=yes; else echo parent=no; fi
"#;

/// Parse the probe's output.
pub fn parse_probe(text: &str) -> Probe {
    let mut probe = Probe::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key {
            "tool" => probe.tool = value.to_string(),
            "dir" => probe.dest_is_dir = value == "yes",
            "kind" => {
                probe.exists = value == "file";
                probe.not_a_file = value == "other";
            }
            "digest" if !value.is_empty() => probe.digest = Some(value.to_ascii_lowercase()),
            "parent" => probe.dir_exists = value == "yes",
            _ => {}
        }
    }
    probe
}

/// Name given to the download script (`$0`).
pub const DOWNLOAD_NAME: &str = "converge-get_url";

/// Downloads `$1` (URL) to a temp file next to `$2` (dest) with `$3` (tool), timeout `$4`,
/// verifies `$5` (digest tool, or empty) against `$6`, applies mode `$7`, owner `$8`, group
/// `$9`, backs up when `${10}` is `yes`, renames. The tool's options (credentials, headers)
/// come on stdin. Prints `status_code=`, `checksum_src=`, `size=`, `backup_file=`.
pub const DOWNLOAD_SCRIPT: &str = r#"url=$1 dest=$2 tool=$3 timeout=$4 sum=$5 want=$6 mode=$7 owner=$8 group=$9 backup=${10}
tmp=$(mktemp "$(dirname "$dest")/.converge-get_url.XXXXXX") || exit 1
trap 'rm -f "$tmp"' EXIT
case $tool in
  curl) code=$(curl -sS -L --fail -K - -o "$tmp" -w '%{http_code}' --max-time "$timeout" -- "$url") || { echo "download of $url failed (HTTP status ${code:-none})" >&2; exit 1; } ;;
  wget) wget -q -O "$tmp" --timeout="$timeout" --config=/dev/stdin -- "$url" || { echo "download of $url failed (wget exited $?)" >&2; exit 1; }; code=200 ;;
  python3) code=$(python3 -c "$CONVERGE_PY" "$url" "$tmp" "$timeout") || exit 1 ;;
  *) echo "no download tool on this host: install curl, wget or python3" >&2; exit 1 ;;
esac
if [ -n "$sum" ]; then
  got=$("$sum" "$tmp" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    echo "the checksum for the download of $url did not match $want; it was $got" >&2
    exit 1
  fi
fi
if [ -n "$mode" ]; then chmod "$mode" "$tmp"
elif [ -f "$dest" ]; then chmod --reference="$dest" "$tmp"
else chmod "$(printf '%o' $((0666 & ~$(umask))))" "$tmp"
fi || exit 1
if [ -n "$owner" ]; then chown "$owner" "$tmp" || exit 1; fi
if [ -n "$group" ]; then chgrp "$group" "$tmp" || exit 1; fi
if [ "$backup" = yes ] && [ -f "$dest" ]; then
  b="$dest.$$.$(date +%Y-%m-%d@%H:%M:%S)~"
  cp -p "$dest" "$b" || exit 1
  echo "backup_file=$b"
fi
echo "checksum_src=$(sha1sum "$tmp" | cut -d' ' -f1)"
echo "size=$(wc -c < "$tmp" | tr -d ' ')"
mv -f "$tmp" "$dest" || exit 1
trap - EXIT
echo "status_code=$code"
"#;

/// The python3 fallback: reads `{headers, user, password, force_basic_auth,
/// validate_certs}` as JSON on stdin, prints the status code.
const PYTHON_DOWNLOAD: &str = r#"import sys, json, ssl, base64, urllib.request
url, out, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
o = json.load(sys.stdin)
req = urllib.request.Request(url, headers=o.get("headers") or {})
if o.get("user") is not None:
    token = base64.b64encode(("%s:%s" % (o["user"], o.get("password") or "")).encode()).decode()
    req.add_header("Authorization", "Basic " + token)
ctx = None if o.get("validate_certs", True) else ssl._create_unverified_context()
try:
    with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r, open(out, "wb") as f:
        while True:
            chunk = r.read(65536)
            if not chunk:
                break
            f.write(chunk)
        print(r.status)
except Exception as e:
    sys.stderr.write("download of %s failed: %s\n" % (url, e))
    sys.exit(1)
"#;

/// Quote a value for a curl config file or a wgetrc (double quotes, backslash escapes).
fn config_quote(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What the download tool reads on stdin: credentials and headers, never on a command line.
pub fn tool_stdin(tool: &str, args: &GetUrlArgs) -> Vec<u8> {
    match tool {
        "curl" => {
            let mut lines = Vec::new();
            if let Some(user) = &args.url_username {
                let password = args.url_password.as_deref().unwrap_or("");
                lines.push(format!(
                    "user = {}",
                    config_quote(&format!("{user}:{password}"))
                ));
            }
            for (name, value) in &args.headers {
                lines.push(format!(
                    "header = {}",
                    config_quote(&format!("{name}: {value}"))
                ));
            }
            if !args.validate_certs.0 {
                lines.push("insecure".into());
            }
            lines.join("\n").into_bytes()
        }
        "wget" => {
            // wgetrc: one command per line, the value unquoted to the end of the line.
            let mut lines = Vec::new();
            if let Some(user) = &args.url_username {
                lines.push(format!("user = {user}"));
                lines.push(format!(
                    "password = {}",
                    args.url_password.as_deref().unwrap_or("")
                ));
                lines.push("auth_no_challenge = on".into());
            }
            for (name, value) in &args.headers {
                lines.push(format!("header = {name}: {value}"));
            }
            if !args.validate_certs.0 {
                lines.push("check_certificate = off".into());
            }
            lines.join("\n").into_bytes()
        }
        _ => json!({
            "headers": args.headers,
            "user": args.url_username,
            "password": args.url_password,
            "validate_certs": args.validate_certs.0,
        })
        .to_string()
        .into_bytes(),
    }
}

/// The task result from the download command's output (`KEY=VALUE` lines) merged over the
/// planned result: `status_code` (a number), `checksum_src`, `size`, `backup_file`.
pub fn download_result(planned: &Map<String, Value>, stdout: &str) -> Map<String, Value> {
    let mut result = planned.clone();
    for line in stdout.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = match key {
            "status_code" | "size" => value.parse::<u64>().map_or(json!(value), Value::from),
            "checksum_src" | "backup_file" => json!(value),
            _ => continue,
        };
        result.insert(key.to_string(), value);
    }
    result
}

/// The result without the download command's own `rc`, `cmd`, `stdout`… (Ansible's
/// `get_url` returns none of them).
pub(crate) fn without_command_keys(mut result: Map<String, Value>) -> Map<String, Value> {
    for key in crate::plan::COMMAND_RESULT_KEYS {
        result.remove(*key);
    }
    result
}

/// The `get_url` module.
pub struct GetUrl;

impl TypedModule for GetUrl {
    type Args = GetUrlArgs;
    const NAME: &'static str = "get_url";
    const SUMMARY: &'static str =
        "Download a file from HTTP, HTTPS or FTP to the host, verified by a checksum";
    const EXAMPLES: &'static str = r#"- get_url:
    url: https://example.com/tool-1.2.tar.gz
    dest: /srv/dist/tool-1.2.tar.gz
    checksum: sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
    mode: "0644"
"#;
    const USES_FACTS: bool = false;

    fn check(args: &GetUrlArgs) -> Result<(), ArgsError> {
        parse_checksum(&args.checksum)
            .map_err(|message| ArgsError::new(Some("checksum"), message))?;
        if !args.url.contains("://") {
            return Err(ArgsError::new(
                Some("url"),
                format!(
                    "`{}` is not a URL (it needs a scheme, e.g. https://)",
                    args.url
                ),
            ));
        }
        if args.url_password.is_some() && args.url_username.is_none() {
            return Err(ArgsError::new(
                Some("url_password"),
                "`url_password` needs `url_username`",
            ));
        }
        Ok(())
    }

    fn plan(
        args: GetUrlArgs,
        host: &mut dyn Host,
        _context: &Context,
    ) -> Result<Plan, ModuleError> {
        let checksum = parse_checksum(&args.checksum).map_err(ModuleError::failed)?;
        let sum_tool = format!(
            "{}sum",
            checksum.as_ref().map_or("sha1", |c| c.algorithm.as_str())
        );
        let output = host.run(&Command::argv([
            "sh".to_string(),
            "-c".to_string(),
            PROBE_SCRIPT.to_string(),
            PROBE_NAME.to_string(),
            args.dest.clone(),
            url_filename(&args.url),
            sum_tool.clone(),
        ]))?;
        if !output.success() {
            return Err(ModuleError::failed(format!(
                "cannot inspect `{}`: {}",
                args.dest,
                output.stderr_text().trim()
            )));
        }
        let probe = parse_probe(&output.stdout_text());
        let dest = if probe.dest_is_dir {
            format!(
                "{}/{}",
                args.dest.trim_end_matches('/'),
                url_filename(&args.url)
            )
        } else {
            args.dest.clone()
        };

        let mut plan = Plan::unchanged();
        plan.result.insert("dest".into(), json!(dest));
        plan.result.insert("url".into(), json!(args.url));
        plan.result.insert("checksum_dest".into(), Value::Null);
        plan.result.insert("checksum_src".into(), Value::Null);
        if probe.not_a_file {
            return Err(ModuleError::failed(format!(
                "`{dest}` exists and is not a regular file"
            )));
        }
        if !probe.dir_exists {
            return Err(ModuleError::failed(format!(
                "destination {} does not exist",
                parent_of(&dest)
            )));
        }
        if probe.exists {
            if checksum.is_none() {
                plan.result
                    .insert("checksum_dest".into(), json!(probe.digest.clone()));
            }
            let matches = match &checksum {
                Some(want) => probe.digest.as_deref() == Some(want.digest.as_str()),
                None => true,
            };
            if !args.force.0 && matches {
                plan.result
                    .insert("msg".into(), json!("file already exists"));
                return Ok(plan);
            }
        }
        if probe.tool.is_empty() {
            return Err(ModuleError::Failed {
                message: "no download tool on this host (looked for curl, wget, python3)".into(),
                hint: Some("install curl on the host, e.g. with the `package` module".into()),
            });
        }
        let before = probe.exists.then(|| {
            format!(
                "present ({}: {})",
                sum_tool.trim_end_matches("sum"),
                probe.digest.clone().unwrap_or_default()
            )
        });
        plan.changes.push(Change::value(
            dest.clone(),
            before,
            Some(format!("would download {}", args.url)),
        ));
        plan.result
            .insert("msg".into(), json!(format!("would download {}", args.url)));
        let mut command = Command::argv([
            "sh".to_string(),
            "-c".to_string(),
            DOWNLOAD_SCRIPT.to_string(),
            DOWNLOAD_NAME.to_string(),
            args.url.clone(),
            dest.clone(),
            probe.tool.clone(),
            args.timeout.to_string(),
            checksum
                .as_ref()
                .map_or(String::new(), |_| sum_tool.clone()),
            checksum
                .as_ref()
                .map_or(String::new(), |c| c.digest.clone()),
            args.mode.as_ref().map_or(String::new(), |m| {
                // A symbolic mode applies to a new file (0644 under the usual umask).
                format!(
                    "{:04o}",
                    m.bits().unwrap_or_else(|| m.resolve(0o644, false, 0o022))
                )
            }),
            args.owner.clone().unwrap_or_default(),
            args.group.clone().unwrap_or_default(),
            if args.backup.0 { "yes" } else { "no" }.to_string(),
        ])
        .with_stdin(tool_stdin(&probe.tool, &args));
        if probe.tool == "python3" {
            command
                .env
                .push(("CONVERGE_PY".into(), PYTHON_DOWNLOAD.into()));
        }
        plan.steps.push(Step::Run {
            command,
            allow_failure: false,
        });
        Ok(plan)
    }

    fn applied(_args: &GetUrlArgs, result: Map<String, Value>) -> crate::AppliedResult {
        let stdout = result
            .get("stdout")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok(download_result(&without_command_keys(result), &stdout))
    }
}

fn parent_of(path: &str) -> &str {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) => "/",
        Some((parent, _)) => parent,
        None => ".",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_parse_like_ansible() {
        let sum = parse_checksum(
            "SHA256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08",
        )
        .unwrap()
        .unwrap();
        assert_eq!(sum.algorithm, "sha256");
        assert!(sum.digest.starts_with("9f86d0"));
        assert_eq!(parse_checksum("").unwrap(), None);
        assert!(parse_checksum("sha256:abc")
            .unwrap_err()
            .contains("invalid"));
        assert!(parse_checksum("crc32:abcd")
            .unwrap_err()
            .contains("unknown"));
        assert!(parse_checksum("sha256:https://x/SHA256SUMS")
            .unwrap_err()
            .contains("not supported"));
        assert!(parse_checksum("abc").is_err());
    }

    #[test]
    fn url_filename_is_the_last_segment() {
        assert_eq!(url_filename("http://h/a/b.tar.gz?x=1"), "b.tar.gz");
        assert_eq!(url_filename("http://h/"), "index.html");
        assert_eq!(url_filename("http://h"), "index.html");
    }

    #[test]
    fn curl_config_quotes_secrets() {
        let args: GetUrlArgs = serde_json::from_value(json!({
            "url": "http://h/f", "dest": "/tmp/f", "url_username": "u",
            "url_password": "p\"w", "headers": {"X-A": "1"}
        }))
        .unwrap();
        let text = String::from_utf8(tool_stdin("curl", &args)).unwrap();
        assert_eq!(text, "user = \"u:p\\\"w\"\nheader = \"X-A: 1\"");
    }

    #[test]
    fn download_output_becomes_the_result() {
        let result = download_result(&Map::new(), "checksum_src=abc\nsize=12\nstatus_code=200\n");
        assert_eq!(result["status_code"], json!(200));
        assert_eq!(result["size"], json!(12));
        assert_eq!(result["checksum_src"], json!("abc"));
    }
}
