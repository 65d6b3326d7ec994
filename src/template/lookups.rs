//! Ansible's lookups, for `lookup()`/`query()` in templates and for `with_<lookup>:` loops.
//!
//! Relative paths are found as Ansible's `find_file_in_search_path` finds them: for each
//! search path (the role's directory, then the playbook's), `PATH/files/NAME` (or
//! `templates/` for the template lookup), then `PATH/NAME`.

use std::path::{Path, PathBuf};

use minijinja::value::Object;
use serde_json::{Map, Value};

use converge_modules::pyregex::{Flags, PyRegex};

/// Where lookups look for relative paths, and the variables `vars`/`varnames` read.
#[derive(Debug, Clone)]
pub struct LookupContext<'a> {
    /// Base directories in search order: the role's directory (innermost role first), then
    /// the playbook's directory (Ansible's `ansible_search_path`).
    pub search_paths: Vec<PathBuf>,
    /// The host's variables.
    pub vars: &'a Map<String, Value>,
}

impl<'a> LookupContext<'a> {
    /// A context whose search paths come from the `role_path` and `playbook_dir` variables,
    /// as renders without an explicit context use.
    pub fn from_vars(vars: &'a Map<String, Value>) -> LookupContext<'a> {
        let search_paths = ["role_path", "playbook_dir"]
            .iter()
            .filter_map(|name| vars.get(*name).and_then(Value::as_str))
            .map(PathBuf::from)
            .collect();
        LookupContext { search_paths, vars }
    }
}

/// The part of a [`LookupContext`] that travels inside a render's context, so lookups in
/// templates rendered in parallel each see their own host's paths.
#[derive(Debug)]
pub(super) struct LookupState {
    pub search_paths: Vec<PathBuf>,
    /// The host's variables as the render sees them, for `varnames` and the template lookup.
    pub vars: minijinja::Value,
}

impl Object for LookupState {}

/// The context key [`LookupState`] travels under (never a user's variable name).
pub(super) const STATE_KEY: &str = "__converge_lookup_state__";

/// How a lookup reads variables.
pub(super) trait Variables {
    fn get(&self, name: &str) -> Option<Value>;

    fn names(&self) -> Vec<String>;
}

impl Variables for Map<String, Value> {
    fn get(&self, name: &str) -> Option<Value> {
        Map::get(self, name).cloned()
    }
    fn names(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
}

/// A file by Ansible's search order under `subdir`; `None` if not found anywhere.
pub(super) fn find_file(search_paths: &[PathBuf], subdir: &str, name: &str) -> Option<PathBuf> {
    candidates(search_paths, subdir, name)
        .into_iter()
        .find(|path| path.exists())
}

fn candidates(search_paths: &[PathBuf], subdir: &str, name: &str) -> Vec<PathBuf> {
    let path = Path::new(name);
    if path.is_absolute() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    for base in search_paths {
        out.push(base.join(subdir).join(path));
        out.push(base.join(path));
    }
    out.push(path.to_path_buf());
    out
}

fn not_found(search_paths: &[PathBuf], subdir: &str, name: &str, lookup: &str) -> String {
    let searched: Vec<String> = candidates(search_paths, subdir, name)
        .iter()
        .map(|c| c.display().to_string())
        .collect();
    format!(
        "lookup `{lookup}`: could not find `{name}` (searched {})",
        searched.join(", ")
    )
}

fn string_terms(terms: &[Value], lookup: &str) -> Result<Vec<String>, String> {
    terms
        .iter()
        .map(|term| match term {
            Value::String(text) => Ok(text.clone()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(format!("lookup `{lookup}` expects strings, got {other}")),
        })
        .collect()
}

fn flag(kwargs: &Map<String, Value>, name: &str, default: bool) -> bool {
    match kwargs.get(name) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => matches!(s.to_lowercase().as_str(), "yes" | "true" | "on" | "1"),
        _ => default,
    }
}

/// One level of flattening, as Ansible's `LookupBase._flatten`.
fn flatten_once(terms: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for term in terms {
        match term {
            Value::Array(items) => out.extend(items.iter().cloned()),
            other => out.push(other.clone()),
        }
    }
    out
}

/// Run lookup `name` (with or without `ansible.builtin.`) on `terms`.
pub(super) fn run(
    name: &str,
    terms: &[Value],
    kwargs: &Map<String, Value>,
    search_paths: &[PathBuf],
    vars: &dyn Variables,
) -> Result<Vec<Value>, String> {
    run_in(name, terms, kwargs, search_paths, vars, "files")
}

/// [`run`] where `first_found` looks in `subdir` of each search path: Ansible gives a
/// `with_first_found` loop the subdirectory of its task's action (`vars` for `include_vars`,
/// `templates` for `template`, `files` otherwise).
pub(super) fn run_in(
    name: &str,
    terms: &[Value],
    kwargs: &Map<String, Value>,
    search_paths: &[PathBuf],
    vars: &dyn Variables,
    subdir: &str,
) -> Result<Vec<Value>, String> {
    let name = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    match name {
        "filetree" | "community.general.filetree" => {
            let mut out = Vec::new();
            for term in string_terms(terms, "filetree")? {
                out.extend(filetree(&term, search_paths)?);
            }
            Ok(out)
        }
        "env" => {
            let default = kwargs.get("default").cloned().unwrap_or(Value::from(""));
            Ok(string_terms(terms, "env")?
                .into_iter()
                .map(|var| std::env::var(&var).map(Value::from).unwrap_or(default.clone()))
                .collect())
        }
        "file" => {
            let rstrip = flag(kwargs, "rstrip", true);
            let lstrip = flag(kwargs, "lstrip", false);
            let mut out = Vec::new();
            for term in string_terms(terms, "file")? {
                let path = find_file(search_paths, "files", &term)
                    .filter(|p| p.is_file())
                    .ok_or_else(|| not_found(search_paths, "files", &term, "file"))?;
                let text = std::fs::read_to_string(&path).map_err(|err| {
                    format!("lookup `file`: cannot read `{}`: {err}", path.display())
                })?;
                let text = if rstrip { text.trim_end() } else { &text[..] };
                let text = if lstrip { text.trim_start() } else { text };
                out.push(Value::from(text));
            }
            Ok(out)
        }
        "vars" => {
            let default = kwargs.get("default");
            string_terms(terms, "vars")?
                .into_iter()
                .map(|var| match (vars.get(&var), default) {
                    (Some(value), _) => Ok(value),
                    (None, Some(default)) => Ok(default.clone()),
                    (None, None) => Err(format!("lookup `vars`: no variable named `{var}`")),
                })
                .collect()
        }
        "varnames" => {
            if terms.is_empty() {
                return Err("lookup `varnames`: give at least one regular expression".into());
            }
            let names = vars.names();
            let mut out = Vec::new();
            for term in string_terms(terms, "varnames")? {
                let regex = PyRegex::new(&term, Flags::default())
                    .map_err(|err| format!("lookup `varnames`: {err}"))?;
                for name in &names {
                    if regex.search(name).map_err(|e| e.to_string())?.is_some() {
                        out.push(Value::from(name.as_str()));
                    }
                }
            }
            Ok(out)
        }
        "pipe" | "lines" => {
            let mut out = Vec::new();
            for command in string_terms(terms, name)? {
                let output = std::process::Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&command)
                    .output()
                    .map_err(|err| format!("lookup `{name}`: cannot run `{command}`: {err}"))?;
                if !output.status.success() {
                    return Err(format!(
                        "lookup `{name}`: `{command}` exited with {}",
                        output.status.code().unwrap_or(-1)
                    ));
                }
                let stdout = String::from_utf8_lossy(&output.stdout);
                if name == "pipe" {
                    out.push(Value::from(stdout.trim_end()));
                } else {
                    out.extend(stdout.lines().map(Value::from));
                }
            }
            Ok(out)
        }
        "fileglob" => {
            let mut out = Vec::new();
            for term in string_terms(terms, "fileglob")? {
                out.extend(fileglob(&term, search_paths)?.into_iter().map(Value::from));
            }
            Ok(out)
        }
        "first_found" => first_found(terms, kwargs, search_paths, subdir),
        "items" => Ok(flatten_once(terms)),
        "list" => Ok(terms.to_vec()),
        "indexed_items" => Ok(flatten_once(terms)
            .into_iter()
            .enumerate()
            .map(|(i, item)| Value::Array(vec![Value::from(i), item]))
            .collect()),
        "dict" => {
            let mut out = Vec::new();
            for term in terms {
                let Value::Object(map) = term else {
                    return Err(format!("lookup `dict` expects a dictionary, got {term}"));
                };
                for (key, value) in map {
                    let mut pair = Map::new();
                    pair.insert("key".into(), Value::from(key.as_str()));
                    pair.insert("value".into(), value.clone());
                    out.push(Value::Object(pair));
                }
            }
            Ok(out)
        }
        "together" => {
            let lists: Vec<Vec<Value>> = terms.iter().map(as_list).collect();
            let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
            Ok((0..longest)
                .map(|i| {
                    Value::Array(
                        lists
                            .iter()
                            .map(|l| l.get(i).cloned().unwrap_or(Value::Null))
                            .collect(),
                    )
                })
                .collect())
        }
        "nested" => {
            let lists: Vec<Vec<Value>> = terms.iter().map(as_list).collect();
            if lists.is_empty() {
                return Err("lookup `nested` needs at least one list".into());
            }
            Ok(product(&lists).into_iter().map(Value::Array).collect())
        }
        "subelements" => {
            let (Some(list), Some(Value::String(key))) = (terms.first(), terms.get(1)) else {
                return Err(
                    "lookup `subelements` expects a list (or dictionary), a key, and optional flags"
                        .into(),
                );
            };
            let skip_missing = match terms.get(2) {
                Some(Value::Object(flags)) => flag(flags, "skip_missing", false),
                _ => flag(kwargs, "skip_missing", false),
            };
            subelements(list, key, skip_missing)
        }
        "sequence" => {
            let mut out = Vec::new();
            for term in string_terms(terms, "sequence")? {
                out.extend(sequence(&term, kwargs)?.into_iter().map(Value::from));
            }
            if terms.is_empty() {
                out.extend(sequence("", kwargs)?.into_iter().map(Value::from));
            }
            Ok(out)
        }
        other => Err(format!(
            "lookup `{other}` is not supported (converge has env, file, filetree, template, vars, varnames, pipe, lines, fileglob, first_found, items, list, indexed_items, dict, together, nested, subelements, sequence)"
        )),
    }
}

/// community.general's `filetree`: every entry below the directory `term` (found like a
/// `files/` path), as a dict with `root`, `path` (relative), `state` (file, directory,
/// link), `src`, `uid`, `gid`, `owner`, `group`, `mode`, `size`, `mtime`, `ctime`, in
/// `os.walk` order: a directory's subdirectories, then its files, then each subdirectory's
/// entries. Names are sorted within each group (Ansible takes the directory's order).
fn filetree(term: &str, search_paths: &[PathBuf]) -> Result<Vec<Value>, String> {
    use std::os::unix::fs::MetadataExt;
    let (dir, base) = match term.trim_end_matches('/').rsplit_once('/') {
        Some((dir, base)) => (dir, base),
        None => ("", term.trim_end_matches('/')),
    };
    let root = if dir.is_empty() {
        find_file(search_paths, "files", base)
    } else {
        find_file(search_paths, "files", dir).map(|found| found.join(base))
    }
    .filter(|path| path.is_dir());
    // Like Ansible, a directory that is not there gives no entries rather than an error.
    let Some(root) = root else {
        return Ok(Vec::new());
    };
    let users = id_names("/etc/passwd");
    let groups = id_names("/etc/group");
    let root_text = format!("{}/", root.display().to_string().trim_end_matches('/'));
    let mut out = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let read = std::fs::read_dir(root.join(&relative)).map_err(|err| {
            format!(
                "lookup `filetree`: cannot read `{}`: {err}",
                root.join(&relative).display()
            )
        })?;
        let mut dirs = Vec::new();
        let mut files = Vec::new();
        for entry in read.flatten() {
            let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
            let name = relative.join(entry.file_name());
            if is_dir {
                dirs.push(name);
            } else {
                files.push(name);
            }
        }
        dirs.sort();
        files.sort();
        for path in dirs.iter().chain(&files) {
            let absolute = root.join(path);
            let Ok(meta) = std::fs::symlink_metadata(&absolute) else {
                continue;
            };
            let mut props = Map::new();
            props.insert("root".into(), Value::from(root_text.as_str()));
            props.insert("path".into(), Value::from(path.display().to_string()));
            let kind = meta.file_type();
            if kind.is_symlink() {
                props.insert("state".into(), Value::from("link"));
                let target = std::fs::read_link(&absolute).unwrap_or_default();
                props.insert("src".into(), Value::from(target.display().to_string()));
            } else if kind.is_dir() {
                props.insert("state".into(), Value::from("directory"));
            } else if kind.is_file() {
                props.insert("state".into(), Value::from("file"));
                props.insert("src".into(), Value::from(absolute.display().to_string()));
            } else {
                continue;
            }
            let name_of = |names: &std::collections::HashMap<u32, String>, id: u32| {
                names
                    .get(&id)
                    .map_or(Value::from(id), |name| Value::from(name.as_str()))
            };
            props.insert("uid".into(), Value::from(meta.uid()));
            props.insert("gid".into(), Value::from(meta.gid()));
            props.insert("owner".into(), name_of(&users, meta.uid()));
            props.insert("group".into(), name_of(&groups, meta.gid()));
            props.insert(
                "mode".into(),
                Value::from(format!("0{:03o}", meta.mode() & 0o7777)),
            );
            props.insert("size".into(), Value::from(meta.size()));
            let seconds = |s: i64, ns: i64| s as f64 + ns as f64 / 1e9;
            props.insert(
                "mtime".into(),
                Value::from(seconds(meta.mtime(), meta.mtime_nsec())),
            );
            props.insert(
                "ctime".into(),
                Value::from(seconds(meta.ctime(), meta.ctime_nsec())),
            );
            out.push(Value::Object(props));
        }
        // Depth first, in order: push in reverse so the first directory is walked first.
        pending.extend(dirs.into_iter().rev());
    }
    Ok(out)
}

/// `id → name` from a passwd/group style file on the controller (empty if unreadable).
fn id_names(path: &str) -> std::collections::HashMap<u32, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id = fields.nth(1)?.parse().ok()?;
            Some((id, name.to_string()))
        })
        .collect()
}

fn as_list(value: &Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    }
}

/// Cartesian product, first list outermost (Python's `itertools.product`).
pub(super) fn product(lists: &[Vec<Value>]) -> Vec<Vec<Value>> {
    let mut out: Vec<Vec<Value>> = vec![Vec::new()];
    for list in lists {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                list.iter().map(move |item| {
                    let mut next = prefix.clone();
                    next.push(item.clone());
                    next
                })
            })
            .collect();
    }
    out
}

/// Ansible's `subelements`: `[item, sub]` for each element of `item[key]` (a dotted path).
pub(super) fn subelements(
    list: &Value,
    key: &str,
    skip_missing: bool,
) -> Result<Vec<Value>, String> {
    let items: Vec<Value> = match list {
        Value::Array(items) => items.clone(),
        Value::Object(map) => map.values().cloned().collect(),
        other => {
            return Err(format!(
                "subelements: the first term must be a list or a dictionary, got {other}"
            ))
        }
    };
    let mut out = Vec::new();
    for item in items {
        let mut value = Some(&item);
        for part in key.split('.') {
            value = value.and_then(|v| v.get(part));
        }
        match value {
            Some(Value::Array(subs)) => {
                for sub in subs {
                    out.push(Value::Array(vec![item.clone(), sub.clone()]));
                }
            }
            Some(other) => {
                return Err(format!(
                    "subelements: the key `{key}` should point to a list, got {other}"
                ))
            }
            None if skip_missing => {}
            None => {
                return Err(format!(
                "subelements: could not find `{key}` in {item} (use skip_missing=True to skip it)"
            ))
            }
        }
    }
    Ok(out)
}

/// Ansible's `sequence`: `start=1 end=5 stride=2 format=%02d`, `count=N`, or `[start-]end[/stride][:format]`.
fn sequence(term: &str, kwargs: &Map<String, Value>) -> Result<Vec<String>, String> {
    let mut start = 1i64;
    let mut end: Option<i64> = None;
    let mut count: Option<i64> = None;
    let mut stride = 1i64;
    let mut format = "%d".to_string();
    let number = |text: &str| -> Result<i64, String> {
        let text = text.trim();
        let parsed = if let Some(hex) = text.strip_prefix("0x") {
            i64::from_str_radix(hex, 16)
        } else if let Some(oct) = text
            .strip_prefix("0o")
            .or(text.strip_prefix("0").filter(|r| !r.is_empty()))
        {
            i64::from_str_radix(oct, 8)
        } else {
            text.parse()
        };
        parsed.map_err(|_| format!("lookup `sequence`: can't parse `{text}` as an integer"))
    };
    let mut apply = |key: &str, value: &str| -> Result<(), String> {
        match key {
            "start" => start = number(value)?,
            "end" => end = Some(number(value)?),
            "count" => count = Some(number(value)?),
            "stride" => stride = number(value)?,
            "format" => format = value.to_string(),
            other => return Err(format!("lookup `sequence`: unknown argument `{other}`")),
        }
        Ok(())
    };
    for (key, value) in kwargs {
        let text = match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        apply(key, &text)?;
    }
    let term = term.trim();
    if term.contains('=') {
        for pair in term.split_whitespace() {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("lookup `sequence`: expected key=value, got `{pair}`"))?;
            apply(key, value)?;
        }
    } else if !term.is_empty() {
        let (rest, fmt) = match term.split_once(':') {
            Some((rest, fmt)) => (rest, Some(fmt)),
            None => (term, None),
        };
        let (rest, step) = match rest.split_once('/') {
            Some((rest, step)) => (rest, Some(step)),
            None => (rest, None),
        };
        match rest.split_once('-') {
            Some((s, e)) => {
                apply("start", s)?;
                apply("end", e)?;
            }
            None => apply("end", rest)?,
        }
        if let Some(step) = step {
            apply("stride", step)?;
        }
        if let Some(fmt) = fmt {
            apply("format", fmt)?;
        }
    }
    let end = match (end, count) {
        (Some(_), Some(_)) => {
            return Err("lookup `sequence`: can't specify both count and end".into())
        }
        (None, Some(0)) => return Ok(Vec::new()),
        (None, Some(count)) => start + (count - 1) * stride,
        (Some(end), None) => end,
        (None, None) => return Err("lookup `sequence`: must specify count or end".into()),
    };
    if stride == 0 {
        return Ok(Vec::new());
    }
    if (stride > 0 && end < start) || (stride < 0 && end > start) {
        return Err("lookup `sequence`: to count backwards make stride negative".into());
    }
    let mut out = Vec::new();
    let mut i = start;
    while (stride > 0 && i <= end) || (stride < 0 && i >= end) {
        out.push(printf_int(&format, i)?);
        i += stride;
    }
    Ok(out)
}

/// Python's `%` formatting of one integer (`%d`, `%02d`, `%x`, `%o`, text around it).
fn printf_int(format: &str, value: i64) -> Result<String, String> {
    let Some(at) = format.find('%') else {
        return Err(format!("lookup `sequence`: bad format string `{format}`"));
    };
    let spec_end = format[at + 1..]
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|e| at + 1 + e)
        .ok_or_else(|| format!("lookup `sequence`: bad format string `{format}`"))?;
    let flags = &format[at + 1..spec_end];
    let zero = flags.starts_with('0');
    let width: usize = flags.trim_start_matches(['0', '-']).parse().unwrap_or(0);
    let body = match &format[spec_end..spec_end + 1] {
        "d" | "i" => value.to_string(),
        "x" => format!("{value:x}"),
        "X" => format!("{value:X}"),
        "o" => format!("{value:o}"),
        other => return Err(format!("lookup `sequence`: unsupported format `%{other}`")),
    };
    let padded = if flags.starts_with('-') {
        format!("{body:<width$}")
    } else if zero {
        format!("{body:0>width$}")
    } else {
        format!("{body:>width$}")
    };
    Ok(format!(
        "{}{padded}{}",
        &format[..at],
        &format[spec_end + 1..]
    ))
}

/// Python's `fnmatch` on one name: `*`, `?`, `[abc]`, `[!abc]`.
fn fnmatch(pattern: &[char], name: &[char]) -> bool {
    match pattern.first() {
        None => name.is_empty(),
        Some('*') => (0..=name.len()).any(|i| fnmatch(&pattern[1..], &name[i..])),
        Some('?') => !name.is_empty() && fnmatch(&pattern[1..], &name[1..]),
        Some('[') => {
            let Some(close) = pattern
                .iter()
                .skip(2)
                .position(|c| *c == ']')
                .map(|p| p + 2)
            else {
                return name.first() == Some(&'[') && fnmatch(&pattern[1..], &name[1..]);
            };
            let Some(c) = name.first() else { return false };
            let (negate, set) = match pattern[1] {
                '!' => (true, &pattern[2..close]),
                _ => (false, &pattern[1..close]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    hit |= set[i] <= *c && *c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == *c;
                    i += 1;
                }
            }
            hit != negate && fnmatch(&pattern[close + 1..], &name[1..])
        }
        Some(p) => name.first() == Some(p) && fnmatch(&pattern[1..], &name[1..]),
    }
}

fn fileglob(term: &str, search_paths: &[PathBuf]) -> Result<Vec<String>, String> {
    let (dir, file) = match term.rfind('/') {
        Some(at) => (&term[..at], &term[at + 1..]),
        None => ("", term),
    };
    let dirs: Vec<PathBuf> = if !dir.is_empty() {
        find_file(
            search_paths,
            "files",
            if dir.is_empty() { "/" } else { dir },
        )
        .into_iter()
        .collect()
    } else {
        let mut dirs = Vec::new();
        for base in search_paths {
            dirs.push(base.join("files"));
            dirs.push(base.clone());
        }
        dirs
    };
    let pattern: Vec<char> = file.chars().collect();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut found: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|entry| {
                let name: Vec<char> = entry.file_name().to_string_lossy().chars().collect();
                // A leading dot is matched only by a pattern that starts with one, as in glob.
                (name.first() != Some(&'.') || pattern.first() == Some(&'.'))
                    && fnmatch(&pattern, &name)
                    && entry.path().is_file()
            })
            .map(|entry| entry.path().display().to_string())
            .collect();
        if !found.is_empty() {
            found.sort();
            return Ok(found);
        }
    }
    Ok(Vec::new())
}

fn first_found(
    terms: &[Value],
    kwargs: &Map<String, Value>,
    search_paths: &[PathBuf],
    subdir: &str,
) -> Result<Vec<Value>, String> {
    let split = |text: &str| -> Vec<String> {
        text.split([',', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let strings = |value: Option<&Value>| -> Vec<String> {
        match value {
            Some(Value::String(s)) => split(s),
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .flat_map(&split)
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut skip = flag(kwargs, "skip", false);
    let mut files = strings(kwargs.get("files"));
    let mut paths = strings(kwargs.get("paths"));
    for term in flatten_once(terms) {
        match term {
            Value::String(s) => files.extend(split(&s)),
            Value::Object(map) => {
                files.extend(strings(map.get("files")));
                paths.extend(strings(map.get("paths")));
                skip |= flag(&map, "skip", false);
            }
            other => return Err(format!("lookup `first_found`: unexpected term {other}")),
        }
    }
    let mut wanted = Vec::new();
    for file in &files {
        if paths.is_empty() {
            wanted.push(file.clone());
        } else {
            wanted.extend(
                paths
                    .iter()
                    .map(|p| Path::new(p).join(file).display().to_string()),
            );
        }
    }
    for name in &wanted {
        if let Some(path) = find_file(search_paths, subdir, name).filter(|p| p.is_file()) {
            return Ok(vec![Value::from(path.display().to_string())]);
        }
    }
    if skip {
        return Ok(Vec::new());
    }
    Err(format!(
        "lookup `first_found`: no file was found (looked for {})",
        wanted.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fnmatch_like_python() {
        let m = |p: &str, n: &str| {
            fnmatch(
                &p.chars().collect::<Vec<_>>(),
                &n.chars().collect::<Vec<_>>(),
            )
        };
        assert!(m("*.conf", "a.conf"));
        assert!(!m("*.conf", "a.confx"));
        assert!(m("a?[0-9][!x]", "ab1y"));
        assert!(!m("a?[0-9][!x]", "ab1x"));
    }

    #[test]
    fn sequence_forms() {
        let none = Map::new();
        assert_eq!(
            sequence("start=1 end=5 stride=2", &none).unwrap(),
            ["1", "3", "5"]
        );
        assert_eq!(
            sequence("4-8/2:host%02d", &none).unwrap(),
            ["host04", "host06", "host08"]
        );
        assert_eq!(sequence("count=3 start=0", &none).unwrap(), ["0", "1", "2"]);
        assert_eq!(
            sequence("start=0x0a end=0x0c format=%x", &none).unwrap(),
            ["a", "b", "c"]
        );
        assert_eq!(
            sequence("start=5 end=1 stride=-2", &none).unwrap(),
            ["5", "3", "1"]
        );
        assert!(sequence("start=5 end=1", &none).is_err());
        let kwargs = json!({"start": 1, "end": 2});
        assert_eq!(
            sequence("", kwargs.as_object().unwrap()).unwrap(),
            ["1", "2"]
        );
    }
}
