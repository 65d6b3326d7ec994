//! Ansible's filters, tests and lookups that minijinja does not ship, with Ansible's semantics.
//!
//! Most of them work on `serde_json::Value`: converting once at the edge keeps each filter a
//! plain function over data, and JSON values are what the runner hands to modules anyway.

use std::cmp::Ordering;
use std::path::PathBuf;

use super::lookups;

use base64::Engine as _;
use converge_modules::pyregex::{self, Flags, PyRegex, PyRegexError};
use minijinja::value::{Kwargs, Rest, Serde, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, Value};
use serde_json::{Map, Value as Json};

/// Filters registered on top of minijinja's built-ins (used for "did you mean" hints too).
pub(super) const FILTERS: &[&str] = &[
    "b64decode",
    "b64encode",
    "basename",
    "checksum",
    "comment",
    "hash",
    "product",
    "subelements",
    "zip_longest",
    "bool",
    "combine",
    "dict",
    "dict2items",
    "difference",
    "dirname",
    "flatten",
    "float",
    "from_json",
    "from_yaml",
    "int",
    "intersect",
    "items2dict",
    "mandatory",
    "quote",
    "regex_escape",
    "regex_findall",
    "regex_replace",
    "regex_search",
    "symmetric_difference",
    "ternary",
    "to_json",
    "to_nice_json",
    "to_nice_yaml",
    "to_yaml",
    "union",
];

/// minijinja's built-in filters, for suggestions.
pub(super) const BUILTIN_FILTERS: &[&str] = &[
    "abs",
    "attr",
    "batch",
    "capitalize",
    "chain",
    "count",
    "d",
    "default",
    "dictsort",
    "e",
    "escape",
    "first",
    "format",
    "groupby",
    "indent",
    "items",
    "join",
    "last",
    "length",
    "lines",
    "list",
    "lower",
    "map",
    "max",
    "min",
    "pprint",
    "reject",
    "rejectattr",
    "replace",
    "reverse",
    "round",
    "safe",
    "select",
    "selectattr",
    "slice",
    "sort",
    "split",
    "string",
    "sum",
    "title",
    "tojson",
    "trim",
    "unique",
    "upper",
    "urlencode",
    "zip",
];

/// Tests registered on top of minijinja's built-ins.
pub(super) const TESTS: &[&str] = &[
    "change",
    "changed",
    "failed",
    "failure",
    "falsy",
    "match",
    "regex",
    "search",
    "skip",
    "skipped",
    "success",
    "succeeded",
    "truthy",
    "version",
];

/// minijinja's built-in tests, for suggestions.
pub(super) const BUILTIN_TESTS: &[&str] = &[
    "boolean",
    "defined",
    "divisibleby",
    "endingwith",
    "eq",
    "equalto",
    "escaped",
    "even",
    "false",
    "filter",
    "float",
    "ge",
    "greaterthan",
    "gt",
    "in",
    "integer",
    "iterable",
    "le",
    "lessthan",
    "lower",
    "lt",
    "mapping",
    "ne",
    "none",
    "number",
    "odd",
    "sameas",
    "sequence",
    "startingwith",
    "string",
    "test",
    "true",
    "undefined",
    "upper",
];

/// Register every filter, test and function of this module on `env`.
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_filter("b64decode", b64decode);
    env.add_filter("b64encode", b64encode);
    env.add_filter("checksum", checksum);
    env.add_filter("comment", comment);
    env.add_filter("ipaddr", super::ipaddr::ipaddr);
    env.add_filter("ipv4", super::ipaddr::ipv4);
    env.add_filter("ipv6", super::ipaddr::ipv6);
    env.add_filter("ipwrap", super::ipaddr::ipwrap);
    env.add_filter("password_hash", password_hash);
    env.add_filter("hash", hash);
    env.add_filter("product", product);
    env.add_filter("subelements", subelements);
    env.add_filter("zip_longest", zip_longest);
    env.add_filter("basename", basename);
    env.add_filter("bool", to_bool_filter);
    env.add_filter("combine", combine);
    env.add_filter("dict", dict);
    env.add_filter("dict2items", dict2items);
    env.add_filter("difference", difference);
    env.add_filter("dirname", dirname);
    env.add_filter("flatten", flatten);
    env.add_filter("float", float);
    env.add_filter("from_json", from_json);
    env.add_filter("from_yaml", from_yaml);
    env.add_filter("int", int);
    env.add_filter("intersect", intersect);
    env.add_filter("items2dict", items2dict);
    env.add_filter("mandatory", mandatory);
    env.add_filter("quote", quote);
    env.add_filter("regex_escape", regex_escape);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("symmetric_difference", symmetric_difference);
    env.add_filter("ternary", ternary);
    env.add_filter("to_json", to_json);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("to_nice_yaml", to_nice_yaml);
    env.add_filter("to_yaml", to_yaml);
    env.add_filter("union", union);

    env.add_test("changed", changed);
    env.add_test("change", changed);
    env.add_test("failed", failed);
    env.add_test("failure", failed);
    env.add_test("falsy", falsy);
    env.add_test("match", regex_match);
    env.add_test("regex", regex_test);
    env.add_test("search", regex_search_test);
    env.add_test("skipped", skipped);
    env.add_test("skip", skipped);
    env.add_test("succeeded", succeeded);
    env.add_test("success", succeeded);
    env.add_test("truthy", truthy);
    env.add_test("version", version);

    env.add_function(super::source::CHAIN, chain);
    env.add_function("lookup", lookup);
    env.add_function("query", query);
    env.add_function("q", query);
}

/// `base.k1[k2]...` where every missing step (and `none`) gives undefined instead of an
/// error, as Ansible's chained undefined does under `default` and `is defined`.
fn chain(base: Value, keys: minijinja::value::Rest<Value>) -> Value {
    let mut value = base;
    for key in keys.iter() {
        if value.is_undefined() || value.is_none() {
            return Value::UNDEFINED;
        }
        value = value.get_item(key).unwrap_or(Value::UNDEFINED);
    }
    value
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// The undefined error carries no name here; the caller finds it from the template's variables.
fn check_defined(value: &Value) -> Result<(), Error> {
    if value.is_undefined() {
        Err(Error::from(ErrorKind::UndefinedError))
    } else {
        Ok(())
    }
}

/// A template value as JSON; undefined values are an error rather than a silent `null`.
pub(super) fn json_of(value: &Value) -> Result<Json, Error> {
    check_defined(value)?;
    serde_json::to_value(value)
        .map_err(|err| invalid(format!("cannot convert {} to data: {err}", value.kind())))
}

fn value_of(json: Json) -> Value {
    Value::from(Serde(json))
}

fn type_name(json: &Json) -> &'static str {
    match json {
        Json::Null => "none",
        Json::Bool(_) => "bool",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "list",
        Json::Object(_) => "dict",
    }
}

/// Ansible's `bool`: the YAML-ish words, `1`, and real booleans; everything else is false.
pub(super) fn ansible_bool(value: &Value) -> Option<bool> {
    match value.kind() {
        ValueKind::Bool | ValueKind::None => Some(value.is_true()),
        ValueKind::Number => Some(value.as_i64() == Some(1)),
        ValueKind::String => {
            let word = value
                .as_str()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            match word.as_str() {
                "yes" | "on" | "1" | "true" => Some(true),
                "no" | "off" | "0" | "false" | "" => Some(false),
                _ => None,
            }
        }
        _ => None,
    }
}

fn to_bool_filter(value: &Value) -> Result<bool, Error> {
    check_defined(value)?;
    Ok(ansible_bool(value).unwrap_or(false))
}

/// Jinja2's `int`: anything unparsable gives `default` (0), floats and float strings truncate.
fn int(
    value: &Value,
    default: Option<i64>,
    base: Option<u32>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    check_defined(value)?;
    let default = match default {
        Some(default) => default,
        None => kwargs.get::<Option<i64>>("default")?.unwrap_or(0),
    };
    let base = match base {
        Some(base) => base,
        None => kwargs.get::<Option<u32>>("base")?.unwrap_or(10),
    };
    kwargs.assert_all_used()?;
    if !(2..=36).contains(&base) {
        return Err(invalid(format!(
            "`int` base must be between 2 and 36, not {base}"
        )));
    }
    let result = match value.kind() {
        ValueKind::Bool => i64::from(value.is_true()),
        ValueKind::Number => match value.as_i64() {
            Some(n) => n,
            None => f64::try_from(value.clone())
                .map(|f| f.trunc() as i64)
                .unwrap_or(default),
        },
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default().trim().replace('_', "");
            let (negative, digits) = match text.strip_prefix('-') {
                Some(rest) => (true, rest.to_string()),
                None => (false, text.trim_start_matches('+').to_string()),
            };
            let prefix = match base {
                16 => ["0x", "0X"],
                8 => ["0o", "0O"],
                2 => ["0b", "0B"],
                _ => ["", ""],
            };
            let digits = prefix
                .iter()
                .filter(|p| !p.is_empty())
                .find_map(|p| digits.strip_prefix(p))
                .unwrap_or(&digits);
            match i64::from_str_radix(digits, base) {
                Ok(n) if negative => -n,
                Ok(n) => n,
                Err(_) if base == 10 => text
                    .parse::<f64>()
                    .map(|f| f.trunc() as i64)
                    .unwrap_or(default),
                Err(_) => default,
            }
        }
        _ => default,
    };
    Ok(Value::from(result))
}

/// Jinja2's `float`: anything unparsable gives `default` (0.0).
fn float(value: &Value, default: Option<f64>, kwargs: Kwargs) -> Result<Value, Error> {
    check_defined(value)?;
    let default = match default {
        Some(default) => default,
        None => kwargs.get::<Option<f64>>("default")?.unwrap_or(0.0),
    };
    kwargs.assert_all_used()?;
    let result = match value.kind() {
        ValueKind::Bool => f64::from(u8::from(value.is_true())),
        ValueKind::Number => f64::try_from(value.clone()).unwrap_or(default),
        ValueKind::String => value
            .as_str()
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(default),
        _ => default,
    };
    Ok(Value::from(result))
}

fn ternary(
    value: &Value,
    true_value: Value,
    false_value: Value,
    none_value: Option<Value>,
) -> Value {
    match none_value {
        Some(none_value) if value.is_none() => none_value,
        _ if value.is_true() => true_value,
        _ => false_value,
    }
}

fn mandatory(value: Value, message: Option<String>) -> Result<Value, Error> {
    if !value.is_undefined() {
        return Ok(value);
    }
    match message {
        Some(message) => Err(invalid(message)),
        None => Err(Error::from(ErrorKind::UndefinedError)),
    }
}

fn b64encode(value: String) -> String {
    base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
}

fn b64decode(value: String) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim().as_bytes())
        .map_err(|err| invalid(format!("`b64decode`: input is not valid base64: {err}")))?;
    String::from_utf8(bytes).map_err(|_| invalid("`b64decode`: decoded bytes are not valid UTF-8"))
}

/// Python's `os.path.basename`: everything after the last slash.
pub(super) fn basename(path: String) -> String {
    match path.rfind('/') {
        Some(index) => path[index + 1..].to_string(),
        None => path,
    }
}

/// Python's `os.path.dirname`: up to the last slash, trailing slashes removed unless all slashes.
pub(super) fn dirname(path: String) -> String {
    let head = match path.rfind('/') {
        Some(index) => &path[..=index],
        None => return String::new(),
    };
    if head.bytes().all(|b| b == b'/') {
        head.to_string()
    } else {
        head.trim_end_matches('/').to_string()
    }
}

fn quote(value: &Value) -> Result<String, Error> {
    check_defined(value)?;
    let text = match value.as_str() {
        Some(text) => text.to_string(),
        None if value.is_none() => String::new(),
        None => value.to_string(),
    };
    Ok(converge_modules::quote(&text))
}

fn dict(value: &Value) -> Result<Value, Error> {
    let Json::Array(pairs) = json_of(value)? else {
        return Err(invalid("`dict` expects a list of [key, value] pairs"));
    };
    let mut map = Map::new();
    for pair in pairs {
        match pair {
            Json::Array(items) if items.len() == 2 => {
                let mut items = items.into_iter();
                let (key, item) = (items.next(), items.next());
                if let (Some(key), Some(item)) = (key, item) {
                    map.insert(json_key(&key), item);
                }
            }
            other => {
                return Err(invalid(format!(
                    "`dict` expects [key, value] pairs, got {}",
                    type_name(&other)
                )))
            }
        }
    }
    Ok(value_of(Json::Object(map)))
}

fn json_key(key: &Json) -> String {
    match key {
        Json::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn dict2items(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let key_name: Option<String> = kwargs.get("key_name")?;
    let value_name: Option<String> = kwargs.get("value_name")?;
    kwargs.assert_all_used()?;
    let key_name = key_name.unwrap_or_else(|| "key".into());
    let value_name = value_name.unwrap_or_else(|| "value".into());
    let json = json_of(value)?;
    let Json::Object(map) = json else {
        return Err(invalid(format!(
            "`dict2items` requires a dictionary, got {} instead",
            type_name(&json)
        )));
    };
    let items = map
        .into_iter()
        .map(|(key, item)| {
            let mut pair = Map::new();
            pair.insert(key_name.clone(), Json::String(key));
            pair.insert(value_name.clone(), item);
            Json::Object(pair)
        })
        .collect();
    Ok(value_of(Json::Array(items)))
}

fn items2dict(value: &Value, kwargs: Kwargs) -> Result<Value, Error> {
    let key_name: Option<String> = kwargs.get("key_name")?;
    let value_name: Option<String> = kwargs.get("value_name")?;
    kwargs.assert_all_used()?;
    let key_name = key_name.unwrap_or_else(|| "key".into());
    let value_name = value_name.unwrap_or_else(|| "value".into());
    let json = json_of(value)?;
    let Json::Array(items) = json else {
        return Err(invalid(format!(
            "`items2dict` requires a list, got {} instead",
            type_name(&json)
        )));
    };
    let mut map = Map::new();
    for item in items {
        let (Some(key), Some(entry)) = (item.get(&key_name), item.get(&value_name)) else {
            return Err(invalid(format!(
                "`items2dict` expects each item to have `{key_name}` and `{value_name}` keys"
            )));
        };
        map.insert(json_key(key), entry.clone());
    }
    Ok(value_of(Json::Object(map)))
}

/// How `combine` merges two lists found under the same key.
#[derive(Clone, Copy)]
enum ListMerge {
    Replace,
    Keep,
    Append,
    Prepend,
    AppendRp,
    PrependRp,
}

fn combine(value: &Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let recursive: Option<bool> = kwargs.get("recursive")?;
    let list_merge: Option<String> = kwargs.get("list_merge")?;
    kwargs.assert_all_used()?;
    let list_merge = match list_merge.as_deref().unwrap_or("replace") {
        "replace" => ListMerge::Replace,
        "keep" => ListMerge::Keep,
        "append" => ListMerge::Append,
        "prepend" => ListMerge::Prepend,
        "append_rp" => ListMerge::AppendRp,
        "prepend_rp" => ListMerge::PrependRp,
        other => {
            return Err(invalid(format!(
                "`combine`: list_merge must be one of replace, keep, append, prepend, append_rp, prepend_rp, not `{other}`"
            )))
        }
    };
    // Ansible flattens one level, so `[a, b] | combine` and `a | combine(b)` are the same.
    let mut dicts = Vec::new();
    for term in std::iter::once(value).chain(others.0.iter()) {
        match json_of(term)? {
            Json::Array(items) => dicts.extend(items),
            other => dicts.push(other),
        }
    }
    let mut result = Map::new();
    for dict in dicts {
        let Json::Object(dict) = dict else {
            return Err(invalid(format!(
                "`combine` expects dictionaries, got {}",
                type_name(&dict)
            )));
        };
        merge_hash(&mut result, dict, recursive.unwrap_or(false), list_merge);
    }
    Ok(value_of(Json::Object(result)))
}

fn merge_hash(
    into: &mut Map<String, Json>,
    from: Map<String, Json>,
    recursive: bool,
    lists: ListMerge,
) {
    for (key, new) in from {
        let Some(old) = into.get_mut(&key) else {
            into.insert(key, new);
            continue;
        };
        match (old, new) {
            (Json::Object(old), Json::Object(new)) if recursive => {
                merge_hash(old, new, recursive, lists);
            }
            (Json::Array(old), Json::Array(new)) => {
                let merged = match lists {
                    ListMerge::Replace => new,
                    ListMerge::Keep => old.clone(),
                    ListMerge::Append => old.iter().cloned().chain(new).collect(),
                    ListMerge::Prepend => new.into_iter().chain(old.iter().cloned()).collect(),
                    ListMerge::AppendRp => {
                        let kept = old.iter().filter(|item| !new.contains(item)).cloned();
                        kept.chain(new.iter().cloned()).collect()
                    }
                    ListMerge::PrependRp => {
                        let kept: Vec<Json> = old
                            .iter()
                            .filter(|item| !new.contains(item))
                            .cloned()
                            .collect();
                        new.into_iter().chain(kept).collect()
                    }
                };
                *old = merged;
            }
            (old, new) => *old = new,
        }
    }
}

fn flatten(value: &Value, levels: Option<usize>, kwargs: Kwargs) -> Result<Value, Error> {
    let levels = match levels {
        Some(levels) => Some(levels),
        None => kwargs.get("levels")?,
    };
    let skip_nulls: Option<bool> = kwargs.get("skip_nulls")?;
    kwargs.assert_all_used()?;
    let Json::Array(items) = json_of(value)? else {
        return Err(invalid("`flatten` expects a list"));
    };
    let mut out = Vec::new();
    flatten_into(items, levels, skip_nulls.unwrap_or(true), &mut out);
    Ok(value_of(Json::Array(out)))
}

fn flatten_into(items: Vec<Json>, levels: Option<usize>, skip_nulls: bool, out: &mut Vec<Json>) {
    for item in items {
        // Ansible drops the Python spellings of null too, since they often come from templating.
        let null = matches!(&item, Json::Null)
            || matches!(&item, Json::String(s) if s == "None" || s == "null");
        match item {
            _ if skip_nulls && null => {}
            Json::Array(inner) if levels != Some(0) => {
                flatten_into(inner, levels.map(|l| l - 1), skip_nulls, out)
            }
            other => out.push(other),
        }
    }
}

fn list_of(value: &Value, filter: &str) -> Result<Vec<Json>, Error> {
    match json_of(value)? {
        Json::Array(items) => Ok(items),
        other => Err(invalid(format!(
            "`{filter}` expects a list, got {}",
            type_name(&other)
        ))),
    }
}

fn dedup(items: impl IntoIterator<Item = Json>) -> Vec<Json> {
    let mut out: Vec<Json> = Vec::new();
    for item in items {
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

fn union(value: &Value, other: &Value) -> Result<Value, Error> {
    let (a, b) = (list_of(value, "union")?, list_of(other, "union")?);
    Ok(value_of(Json::Array(dedup(a.into_iter().chain(b)))))
}

fn intersect(value: &Value, other: &Value) -> Result<Value, Error> {
    let (a, b) = (list_of(value, "intersect")?, list_of(other, "intersect")?);
    Ok(value_of(Json::Array(dedup(
        a.into_iter().filter(|x| b.contains(x)),
    ))))
}

fn difference(value: &Value, other: &Value) -> Result<Value, Error> {
    let (a, b) = (list_of(value, "difference")?, list_of(other, "difference")?);
    Ok(value_of(Json::Array(dedup(
        a.into_iter().filter(|x| !b.contains(x)),
    ))))
}

fn symmetric_difference(value: &Value, other: &Value) -> Result<Value, Error> {
    let a = list_of(value, "symmetric_difference")?;
    let b = list_of(other, "symmetric_difference")?;
    let left: Vec<Json> = a.iter().filter(|x| !b.contains(x)).cloned().collect();
    let right = b.into_iter().filter(|x| !a.contains(x));
    Ok(value_of(Json::Array(dedup(left.into_iter().chain(right)))))
}

// ---------------------------------------------------------------------------------------------
// comment, hash, product, zip_longest, subelements

/// Ansible's `comment`: styles plain, erlang, c, cblock, xml, and its keyword arguments.
fn comment(value: &Value, style: Option<String>, kwargs: Kwargs) -> Result<String, Error> {
    let text = text_of(value)?;
    let style = style.unwrap_or_else(|| "plain".into());
    let (beginning, decoration, end) = match style.as_str() {
        "plain" => ("", "# ", ""),
        "erlang" => ("", "% ", ""),
        "c" => ("", "// ", ""),
        "cblock" => ("/*", " * ", " */"),
        "xml" => ("<!--", " - ", "-->"),
        other => {
            return Err(invalid(format!(
                "`comment`: invalid style `{other}` (available: plain, erlang, c, cblock, xml)"
            )))
        }
    };
    let text_arg = |name: &str, default: &str| -> Result<String, Error> {
        Ok(kwargs
            .get::<Option<String>>(name)?
            .unwrap_or_else(|| default.to_string()))
    };
    let decoration = text_arg("decoration", decoration)?;
    let newline = text_arg("newline", "\n")?;
    let beginning = text_arg("beginning", beginning)?;
    let prefix = text_arg("prefix", decoration.trim_end())?;
    let postfix = text_arg("postfix", decoration.trim_end())?;
    let end = text_arg("end", end)?;
    let prefix_count: usize = kwargs.get::<Option<usize>>("prefix_count")?.unwrap_or(1);
    let postfix_count: usize = kwargs.get::<Option<usize>>("postfix_count")?.unwrap_or(1);
    kwargs.assert_all_used()?;
    let mut out = String::new();
    if !beginning.is_empty() {
        out.push_str(&beginning);
        out.push_str(&newline);
    }
    if !prefix.is_empty() {
        let one = if prefix != newline {
            format!("{prefix}{newline}")
        } else {
            newline.clone()
        };
        out.push_str(&one.repeat(prefix_count));
    }
    let body = format!(
        "{decoration}{}",
        text.replace(&newline, &format!("{newline}{decoration}"))
    )
    .replace(
        &format!("{decoration}{newline}"),
        &format!("{}{newline}", decoration.trim_end()),
    );
    out.push_str(&body);
    for _ in 0..postfix_count {
        out.push_str(&newline);
        out.push_str(&postfix);
    }
    if !end.is_empty() {
        out.push_str(&newline);
        out.push_str(&end);
    }
    Ok(out)
}

fn digest(data: &[u8], kind: &str) -> Result<String, Error> {
    use sha2::Digest as _;
    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
    Ok(match kind {
        "sha1" => hex(&sha1::Sha1::digest(data)),
        "md5" => hex(&md5::Md5::digest(data)),
        "sha224" => hex(&sha2::Sha224::digest(data)),
        "sha256" => hex(&sha2::Sha256::digest(data)),
        "sha384" => hex(&sha2::Sha384::digest(data)),
        "sha512" => hex(&sha2::Sha512::digest(data)),
        other => {
            return Err(invalid(format!(
                "`hash`: unsupported hash type `{other}` (use sha1, md5, sha224, sha256, sha384 or sha512)"
            )))
        }
    })
}

fn hash(value: &Value, kind: Option<String>) -> Result<String, Error> {
    digest(
        text_of(value)?.as_bytes(),
        kind.as_deref().unwrap_or("sha1"),
    )
}

/// `password_hash(scheme, salt, rounds=N)`: a crypt(3) hash as Ansible writes it with passlib
/// (`$6$rounds=656000$salt$...` for sha512 by default; the salt is random when not given).
fn password_hash(
    value: &Value,
    scheme: Option<String>,
    salt: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let password = text_of(value)?;
    let scheme = scheme.unwrap_or_else(|| "sha512".into());
    let rounds: Option<usize> = kwargs.get("rounds")?;
    let salt_kwarg: Option<String> = kwargs.get("salt")?;
    let _ident: Option<String> = kwargs.get("ident")?;
    kwargs.assert_all_used()?;
    let salt = match salt.or(salt_kwarg) {
        Some(salt) => salt,
        None => random_salt(16),
    };
    let salt: String = salt.chars().take(16).collect();
    let bad = |message: String| invalid(format!("`password_hash`: {message}"));
    let (id, hashed, rounds) = match scheme.as_str() {
        "sha512" | "sha512_crypt" => {
            let rounds = rounds.unwrap_or(656_000);
            let params = sha_crypt::Sha512Params::new(rounds).map_err(|e| bad(format!("{e:?}")))?;
            let hashed = sha_crypt::sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &params)
                .map_err(|e| bad(format!("{e:?}")))?;
            ("6", hashed, rounds)
        }
        "sha256" | "sha256_crypt" => {
            let rounds = rounds.unwrap_or(535_000);
            let params = sha_crypt::Sha256Params::new(rounds).map_err(|e| bad(format!("{e:?}")))?;
            let hashed = sha_crypt::sha256_crypt_b64(password.as_bytes(), salt.as_bytes(), &params)
                .map_err(|e| bad(format!("{e:?}")))?;
            ("5", hashed, rounds)
        }
        other => {
            return Err(bad(format!(
                "the scheme `{other}` is not built in converge (it has sha512 and sha256)"
            )))
        }
    };
    // passlib leaves out the rounds when they are crypt's implicit 5000.
    let rounds = if rounds == 5_000 {
        String::new()
    } else {
        format!("rounds={rounds}$")
    };
    Ok(format!("${id}${rounds}{salt}${hashed}"))
}

/// A random salt from crypt's alphabet.
fn random_salt(length: usize) -> String {
    const ALPHABET: &[u8] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = vec![0u8; length];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source: a salt from the clock still differs between hosts and runs.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = (nanos >> (i % 16 * 8)) as u8;
        }
    }
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Ansible's `checksum`: the SHA-1 of the text.
fn checksum(value: &Value) -> Result<String, Error> {
    digest(text_of(value)?.as_bytes(), "sha1")
}

fn product(value: &Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let repeat: Option<usize> = kwargs.get("repeat")?;
    kwargs.assert_all_used()?;
    let mut lists = vec![list_of(value, "product")?];
    for other in &others.0 {
        lists.push(list_of(other, "product")?);
    }
    let lists: Vec<Vec<Json>> = (0..repeat.unwrap_or(1))
        .flat_map(|_| lists.clone())
        .collect();
    Ok(value_of(Json::Array(
        lookups::product(&lists)
            .into_iter()
            .map(Json::Array)
            .collect(),
    )))
}

fn zip_longest(value: &Value, others: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let fill: Option<Value> = kwargs.get("fillvalue")?;
    kwargs.assert_all_used()?;
    let fill = match fill {
        Some(fill) => json_of(&fill)?,
        None => Json::Null,
    };
    let mut lists = vec![list_of(value, "zip_longest")?];
    for other in &others.0 {
        lists.push(list_of(other, "zip_longest")?);
    }
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    Ok(value_of(Json::Array(
        (0..longest)
            .map(|i| {
                Json::Array(
                    lists
                        .iter()
                        .map(|l| l.get(i).cloned().unwrap_or_else(|| fill.clone()))
                        .collect(),
                )
            })
            .collect(),
    )))
}

fn subelements(
    value: &Value,
    key: String,
    skip_missing: Option<bool>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let skip = match skip_missing {
        Some(skip) => skip,
        None => kwargs.get::<Option<bool>>("skip_missing")?.unwrap_or(false),
    };
    kwargs.assert_all_used()?;
    let items = lookups::subelements(&json_of(value)?, &key, skip).map_err(invalid)?;
    Ok(value_of(Json::Array(items)))
}

// ---------------------------------------------------------------------------------------------
// JSON and YAML

/// How Python's `json.dumps` lays out its output.
pub(super) struct PyJson {
    /// Spaces per level; `None` writes everything on one line.
    pub indent: Option<usize>,
    /// Sort object keys.
    pub sort_keys: bool,
    /// Escape non-ASCII characters as `\uXXXX`, Python's default.
    pub ensure_ascii: bool,
}

impl PyJson {
    /// Serialize `value` exactly as Python's `json.dumps` would with these options.
    pub(super) fn dumps(&self, value: &Json) -> String {
        let mut out = String::new();
        self.write(value, 0, &mut out);
        out
    }

    fn write(&self, value: &Json, level: usize, out: &mut String) {
        // Python uses ", " between items on one line and "," before a newline.
        let item_separator = if self.indent.is_some() { "," } else { ", " };
        match value {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(&n.to_string()),
            Json::String(s) => self.write_string(s, out),
            Json::Array(items) if items.is_empty() => out.push_str("[]"),
            Json::Object(map) if map.is_empty() => out.push_str("{}"),
            Json::Array(items) => {
                out.push('[');
                for (index, item) in items.iter().enumerate() {
                    if index > 0 {
                        out.push_str(item_separator);
                    }
                    self.newline(level + 1, out);
                    self.write(item, level + 1, out);
                }
                self.newline(level, out);
                out.push(']');
            }
            Json::Object(map) => {
                let mut entries: Vec<(&String, &Json)> = map.iter().collect();
                if self.sort_keys {
                    entries.sort_by(|a, b| a.0.cmp(b.0));
                }
                out.push('{');
                for (index, (key, item)) in entries.into_iter().enumerate() {
                    if index > 0 {
                        out.push_str(item_separator);
                    }
                    self.newline(level + 1, out);
                    self.write_string(key, out);
                    out.push_str(": ");
                    self.write(item, level + 1, out);
                }
                self.newline(level, out);
                out.push('}');
            }
        }
    }

    fn newline(&self, level: usize, out: &mut String) {
        if let Some(indent) = self.indent {
            out.push('\n');
            out.push_str(&" ".repeat(indent * level));
        }
    }

    fn write_string(&self, text: &str, out: &mut String) {
        out.push('"');
        for c in text.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                c if (c as u32) < 0x20 || (self.ensure_ascii && !c.is_ascii()) => {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

fn to_json(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let ensure_ascii: Option<bool> = kwargs.get("ensure_ascii")?;
    kwargs.assert_all_used()?;
    let options = PyJson {
        indent,
        sort_keys: sort_keys.unwrap_or(false),
        ensure_ascii: ensure_ascii.unwrap_or(true),
    };
    Ok(options.dumps(&json_of(value)?))
}

fn to_nice_json(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    let sort_keys: Option<bool> = kwargs.get("sort_keys")?;
    let ensure_ascii: Option<bool> = kwargs.get("ensure_ascii")?;
    kwargs.assert_all_used()?;
    let options = PyJson {
        indent: Some(indent.unwrap_or(4)),
        sort_keys: sort_keys.unwrap_or(true),
        ensure_ascii: ensure_ascii.unwrap_or(true),
    };
    Ok(options.dumps(&json_of(value)?))
}

fn sort_keys(value: Json) -> Json {
    match value {
        Json::Object(map) => {
            let mut entries: Vec<(String, Json)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k, sort_keys(v)))
                    .collect(),
            )
        }
        Json::Array(items) => Json::Array(items.into_iter().map(sort_keys).collect()),
        other => other,
    }
}

/// YAML in block style with sorted keys (PyYAML, which Ansible uses, sorts keys by default).
fn yaml_dump(value: &Value, kwargs: Kwargs, filter: &str) -> Result<String, Error> {
    // Accepted for compatibility with Ansible's signatures; the layout is fixed.
    let _: Option<usize> = kwargs.get("indent")?;
    let _: Option<usize> = kwargs.get("width")?;
    let _: Option<bool> = kwargs.get("default_flow_style")?;
    let _: Option<bool> = kwargs.get("explicit_start")?;
    kwargs.assert_all_used()?;
    let json = sort_keys(json_of(value)?);
    serde_saphyr::to_string(&json).map_err(|err| invalid(format!("`{filter}`: {err}")))
}

fn to_yaml(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    yaml_dump(value, kwargs, "to_yaml")
}

fn to_nice_yaml(value: &Value, kwargs: Kwargs) -> Result<String, Error> {
    yaml_dump(value, kwargs, "to_nice_yaml")
}

fn from_json(value: String) -> Result<Value, Error> {
    let json: Json = serde_json::from_str(&value)
        .map_err(|err| invalid(format!("`from_json`: input is not valid JSON: {err}")))?;
    Ok(value_of(json))
}

fn from_yaml(value: String) -> Result<Value, Error> {
    if value.trim().is_empty() {
        return Ok(Value::from(()));
    }
    serde_saphyr::from_str::<Value>(&value)
        .map_err(|err| invalid(format!("`from_yaml`: input is not valid YAML: {err}")))
}

// ---------------------------------------------------------------------------------------------
// Regular expressions (Python's `re`, through converge_modules::pyregex)

fn compile_regex(pattern: &str, ignorecase: bool, multiline: bool) -> Result<PyRegex, Error> {
    let flags = Flags {
        ignorecase,
        multiline,
        dotall: false,
    };
    PyRegex::new(pattern, flags).map_err(regex_error)
}

fn regex_error(err: PyRegexError) -> Error {
    invalid(err.to_string())
}

fn regex_flags(kwargs: &Kwargs) -> Result<(bool, bool), Error> {
    let ignorecase: Option<bool> = kwargs.get("ignorecase")?;
    let multiline: Option<bool> = kwargs.get("multiline")?;
    Ok((ignorecase.unwrap_or(false), multiline.unwrap_or(false)))
}

fn regex_replace(
    value: &Value,
    pattern: String,
    replacement: Option<String>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let value = text_of(value)?;
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    let count: Option<usize> = kwargs.get("count")?;
    let mandatory_count: Option<usize> = kwargs.get("mandatory_count")?;
    kwargs.assert_all_used()?;
    let regex = compile_regex(&pattern, ignorecase, multiline)?;
    let (out, replaced) = regex
        .sub(
            &value,
            replacement.as_deref().unwrap_or(""),
            count.unwrap_or(0),
        )
        .map_err(regex_error)?;
    if let Some(expected) = mandatory_count.filter(|n| *n > 0) {
        if replaced != expected {
            return Err(invalid(format!(
                "`regex_replace`: expected {expected} replacement(s) of `{pattern}`, made {replaced}"
            )));
        }
    }
    Ok(out)
}

/// Ansible's filters call `to_text` on their input: numbers and booleans become strings.
fn text_of(value: &Value) -> Result<String, Error> {
    check_defined(value)?;
    Ok(match value.as_str() {
        Some(text) => text.to_string(),
        None if value.is_none() => "None".to_string(),
        None => value.to_string(),
    })
}

fn regex_search(
    value: &Value,
    pattern: String,
    groups: Rest<String>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let value = text_of(value)?;
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let regex = compile_regex(&pattern, ignorecase, multiline)?;
    let Some(found) = regex.search(&value).map_err(regex_error)? else {
        return Ok(Value::from(()));
    };
    if groups.0.is_empty() {
        return Ok(Value::from(found.as_str()));
    }
    let mut out = Vec::new();
    for group in &groups.0 {
        let index = if let Some(name) = group.strip_prefix("\\g<").and_then(|g| g.strip_suffix('>'))
        {
            match name.parse::<usize>() {
                Ok(index) => Some(index),
                Err(_) => regex.group_index(name),
            }
        } else if let Some(number) = group.strip_prefix('\\') {
            number.parse().ok()
        } else {
            return Err(invalid(format!(
                "`regex_search`: group arguments look like `\\1` or `\\g<name>`, not `{group}`"
            )));
        };
        let index = index
            .filter(|index| *index <= regex.groups())
            .ok_or_else(|| invalid(format!("`regex_search`: no group `{group}` in `{pattern}`")))?;
        out.push(found.group(index).map_or(Value::from(()), Value::from));
    }
    Ok(Value::from(out))
}

fn regex_findall(value: &Value, pattern: String, kwargs: Kwargs) -> Result<Value, Error> {
    let value = text_of(value)?;
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let regex = compile_regex(&pattern, ignorecase, multiline)?;
    // Python's findall: whole matches without groups, the group with one, lists with several.
    let out: Vec<Value> = regex
        .findall(&value)
        .map_err(regex_error)?
        .into_iter()
        .map(|mut groups| {
            if regex.groups() <= 1 {
                Value::from(groups.pop().unwrap_or_default())
            } else {
                Value::from(groups)
            }
        })
        .collect();
    Ok(Value::from(out))
}

/// Ansible's `regex_escape` (re_type `python`: `re.escape`; `posix_basic`: BRE specials).
fn regex_escape(value: &Value, re_type: Option<String>) -> Result<String, Error> {
    let value = text_of(value)?;
    match re_type.as_deref().unwrap_or("python") {
        "python" => Ok(pyregex::escape(&value)),
        "posix_basic" => Ok(value
            .chars()
            .flat_map(|c| {
                let special = "\\^$.[]*".contains(c);
                special
                    .then_some('\\')
                    .into_iter()
                    .chain(std::iter::once(c))
            })
            .collect()),
        other => Err(invalid(format!(
            "`regex_escape`: re_type must be `python` or `posix_basic`, not `{other}`"
        ))),
    }
}

fn regex_match(value: &Value, pattern: String, kwargs: Kwargs) -> Result<bool, Error> {
    regex_test_kind(value, pattern, kwargs, "match")
}

fn regex_search_test(value: &Value, pattern: String, kwargs: Kwargs) -> Result<bool, Error> {
    regex_test_kind(value, pattern, kwargs, "search")
}

fn regex_test(value: &Value, pattern: String, kwargs: Kwargs) -> Result<bool, Error> {
    let match_type: Option<String> = kwargs.get("match_type")?;
    let match_type = match_type.unwrap_or_else(|| "search".into());
    regex_test_kind(value, pattern, kwargs, &match_type)
}

fn regex_test_kind(
    value: &Value,
    pattern: String,
    kwargs: Kwargs,
    kind: &str,
) -> Result<bool, Error> {
    let value = text_of(value)?;
    let (ignorecase, multiline) = regex_flags(&kwargs)?;
    kwargs.assert_all_used()?;
    let regex = compile_regex(&pattern, ignorecase, multiline)?;
    let found = match kind {
        "search" => regex.search(&value),
        "match" => regex.match_start(&value),
        "fullmatch" => regex.fullmatch(&value),
        other => {
            return Err(invalid(format!(
                "`regex` test: match_type must be search, match or fullmatch, not `{other}`"
            )))
        }
    };
    Ok(found.map_err(regex_error)?.is_some())
}

// ---------------------------------------------------------------------------------------------
// Tests on registered results and values

fn result_map(value: &Value, test: &str) -> Result<Map<String, Json>, Error> {
    match json_of(value)? {
        Json::Object(map) => Ok(map),
        other => Err(invalid(format!(
            "the `{test}` test expects a registered result (a dictionary), got {}",
            type_name(&other)
        ))),
    }
}

fn flag(map: &Map<String, Json>, key: &str) -> bool {
    map.get(key)
        .is_some_and(|v| ansible_bool(&value_of(v.clone())).unwrap_or_else(|| json_truthy(v)))
}

fn json_truthy(value: &Json) -> bool {
    match value {
        Json::Null => false,
        Json::Bool(b) => *b,
        Json::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Json::String(s) => !s.is_empty(),
        Json::Array(a) => !a.is_empty(),
        Json::Object(o) => !o.is_empty(),
    }
}

fn failed(value: &Value) -> Result<bool, Error> {
    Ok(flag(&result_map(value, "failed")?, "failed"))
}

fn succeeded(value: &Value) -> Result<bool, Error> {
    Ok(!flag(&result_map(value, "succeeded")?, "failed"))
}

fn skipped(value: &Value) -> Result<bool, Error> {
    Ok(flag(&result_map(value, "skipped")?, "skipped"))
}

fn changed(value: &Value) -> Result<bool, Error> {
    let map = result_map(value, "changed")?;
    if map.contains_key("changed") {
        return Ok(flag(&map, "changed"));
    }
    // A looped task's result holds one result per item under `results`.
    Ok(match map.get("results") {
        Some(Json::Array(results)) => results
            .iter()
            .any(|r| r.as_object().is_some_and(|r| flag(r, "changed"))),
        _ => false,
    })
}

fn truthy(value: &Value, kwargs: Kwargs) -> Result<bool, Error> {
    check_defined(value)?;
    let convert_bool: Option<bool> = kwargs.get("convert_bool")?;
    kwargs.assert_all_used()?;
    if convert_bool.unwrap_or(false) {
        if let Some(b) = ansible_bool(value) {
            return Ok(b);
        }
    }
    Ok(value.is_true())
}

fn falsy(value: &Value, kwargs: Kwargs) -> Result<bool, Error> {
    truthy(value, kwargs).map(|b| !b)
}

/// One piece of a version string, as Python's LooseVersion splits it.
#[derive(Debug, PartialEq, Eq)]
enum Part {
    Number(u64),
    Word(String),
}

impl PartialOrd for Part {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Part {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Part::Number(a), Part::Number(b)) => a.cmp(b),
            (Part::Word(a), Part::Word(b)) => a.cmp(b),
            // "1.0rc1" < "1.0.1": a pre-release word sorts before a number.
            (Part::Word(_), Part::Number(_)) => Ordering::Less,
            (Part::Number(_), Part::Word(_)) => Ordering::Greater,
        }
    }
}

fn version_parts(version: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let flush = |current: &mut String, parts: &mut Vec<Part>| {
        if !current.is_empty() {
            parts.push(match current.parse() {
                Ok(n) => Part::Number(n),
                Err(_) => Part::Word(current.to_ascii_lowercase()),
            });
            current.clear();
        }
    };
    for c in version.trim().chars() {
        let switch = current
            .chars()
            .last()
            .is_some_and(|last| last.is_ascii_digit() != c.is_ascii_digit());
        if !c.is_ascii_alphanumeric() || switch {
            flush(&mut current, &mut parts);
        }
        if c.is_ascii_alphanumeric() {
            current.push(c);
        }
    }
    flush(&mut current, &mut parts);
    parts
}

/// Compare dotted versions as Ansible's `version` test does by default (loose comparison).
pub(super) fn compare_versions(left: &str, right: &str) -> Ordering {
    version_parts(left).cmp(&version_parts(right))
}

fn version(
    value: &Value,
    other: &Value,
    operator: Option<String>,
    kwargs: Kwargs,
) -> Result<bool, Error> {
    check_defined(value)?;
    check_defined(other)?;
    let _: Option<bool> = kwargs.get("strict")?;
    let _: Option<String> = kwargs.get("version_type")?;
    kwargs.assert_all_used()?;
    let ordering = compare_versions(&value.to_string(), &other.to_string());
    let operator = operator.unwrap_or_else(|| "eq".into());
    Ok(match operator.as_str() {
        "==" | "=" | "eq" => ordering == Ordering::Equal,
        "!=" | "<>" | "ne" => ordering != Ordering::Equal,
        "<" | "lt" => ordering == Ordering::Less,
        "<=" | "le" => ordering != Ordering::Greater,
        ">" | "gt" => ordering == Ordering::Greater,
        ">=" | "ge" => ordering != Ordering::Less,
        other => {
            return Err(invalid(format!(
                "`version` test: unknown operator `{other}` (use ==, !=, <, <=, >, >=)"
            )))
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Lookups (the lookups themselves are in lookups.rs)

fn lookup(state: &State, name: String, terms: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let wantlist: Option<bool> = kwargs.get("wantlist")?;
    let results = run_lookup(state, &name, &terms.0, &kwargs)?;
    if wantlist.unwrap_or(false) {
        return Ok(value_of(Json::Array(results)));
    }
    // Ansible 2.19: one result is returned as itself, several strings joined with commas,
    // anything else as the list.
    Ok(match results.len() {
        1 => value_of(results.into_iter().next().unwrap_or(Json::Null)),
        _ if !results.is_empty() && results.iter().all(Json::is_string) => Value::from(
            results
                .iter()
                .filter_map(Json::as_str)
                .collect::<Vec<_>>()
                .join(","),
        ),
        _ => value_of(Json::Array(results)),
    })
}

fn query(state: &State, name: String, terms: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let _: Option<bool> = kwargs.get("wantlist")?;
    Ok(value_of(Json::Array(run_lookup(
        state, &name, &terms.0, &kwargs,
    )?)))
}

/// Variables as a template sees them: the render's context, loop variables included.
struct StateVariables<'a, 'b> {
    state: &'a State<'a, 'b>,
    all: Option<&'a Value>,
}

impl lookups::Variables for StateVariables<'_, '_> {
    fn get(&self, name: &str) -> Option<Json> {
        self.state
            .lookup(name)
            .filter(|value| !value.is_undefined())
            .and_then(|value| serde_json::to_value(&value).ok())
    }

    fn names(&self) -> Vec<String> {
        let Some(all) = self.all else {
            return Vec::new();
        };
        all.try_iter()
            .map(|keys| {
                keys.filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn run_lookup(
    state: &State,
    name: &str,
    terms: &[Value],
    kwargs: &Kwargs,
) -> Result<Vec<Json>, Error> {
    let errors: Option<String> = kwargs.get("errors")?;
    let mut options = Map::new();
    let keys: Vec<String> = kwargs.args().map(str::to_string).collect();
    for key in keys {
        if key == "wantlist" || key == "errors" {
            continue;
        }
        let value: Value = kwargs.get(&key)?;
        options.insert(key, json_of(&value)?);
    }
    kwargs.assert_all_used()?;
    let terms = terms.iter().map(json_of).collect::<Result<Vec<_>, _>>()?;
    let lookup_state = state.lookup(lookups::STATE_KEY);
    let found = lookup_state
        .as_ref()
        .and_then(|value| value.downcast_object_ref::<lookups::LookupState>());
    let search_paths: Vec<PathBuf> = match found {
        Some(found) => found.search_paths.clone(),
        None => ["role_path", "playbook_dir"]
            .iter()
            .filter_map(|var| state.lookup(var))
            .filter_map(|value| value.as_str().map(PathBuf::from))
            .collect(),
    };
    let short = name.strip_prefix("ansible.builtin.").unwrap_or(name);
    let result = if short == "template" {
        template_lookup(
            state,
            &terms,
            &options,
            &search_paths,
            lookup_state.as_ref(),
        )
    } else {
        let variables = StateVariables {
            state,
            all: found.map(|found| &found.vars),
        };
        lookups::run(name, &terms, &options, &search_paths, &variables).map_err(invalid)
    };
    match (result, errors.as_deref()) {
        (Ok(results), _) => Ok(results),
        (Err(_), Some("ignore") | Some("warn")) => Ok(Vec::new()),
        (Err(err), None | Some("strict")) => Err(err),
        (Err(_), Some(other)) => Err(invalid(format!(
            "lookup `{name}`: errors must be strict, warn or ignore, not `{other}`"
        ))),
    }
}

/// The `template` lookup: each term a template file under `templates/`, rendered with the
/// current variables as the template module would.
fn template_lookup(
    state: &State,
    terms: &[Json],
    options: &Map<String, Json>,
    search_paths: &[PathBuf],
    lookup_state: Option<&Value>,
) -> Result<Vec<Json>, Error> {
    let flag =
        |key: &str, default: bool| options.get(key).and_then(Json::as_bool).unwrap_or(default);
    let file_options = super::FileOptions {
        trim_blocks: flag("trim_blocks", true),
        lstrip_blocks: flag("lstrip_blocks", false),
    };
    let found = lookup_state.and_then(|value| value.downcast_object_ref::<lookups::LookupState>());
    let mut out = Vec::new();
    for term in terms {
        let Some(name) = term.as_str() else {
            return Err(invalid(format!(
                "lookup `template` expects file names, got {term}"
            )));
        };
        let path = lookups::find_file(search_paths, "templates", name)
            .filter(|path| path.is_file())
            .ok_or_else(|| invalid(format!("lookup `template`: could not find `{name}`")))?;
        let source = std::fs::read_to_string(&path).map_err(|err| {
            invalid(format!(
                "lookup `template`: cannot read `{}`: {err}",
                path.display()
            ))
        })?;
        let vars = found.map_or_else(|| Value::from(()), |found| found.vars.clone());
        let mut extra = std::collections::BTreeMap::new();
        if let Some(lookup_state) = lookup_state {
            extra.insert(lookups::STATE_KEY, lookup_state.clone());
        }
        if state.lookup("ansible_managed").is_none() {
            extra.insert("ansible_managed", Value::from(super::ANSIBLE_MANAGED));
        }
        let ctx = minijinja::value::merge_maps([vars, Value::from(extra)]);
        let text = super::render_file_text(state.env(), name, &source, &ctx, file_options)?;
        out.push(Json::String(text));
    }
    Ok(out)
}
