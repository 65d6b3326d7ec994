//! `uri`: an HTTP request made from the host, its response checked and returned.
//!
//! The request runs on the host with `python3`'s urllib (the host needs python3; converge
//! fails with a clear error otherwise). The request (method, body, headers, credentials) goes
//! to it as JSON on stdin, never on a command line; the response comes back as JSON and
//! [`response_result`] turns it into Ansible's result: `status`, `url`, `redirected`,
//! `elapsed`, `msg`, every response header lowercased with `-` → `_` (`content_type`),
//! `content` with `return_content: yes`, and `json` when the response is JSON. A status not
//! in `status_code` fails the task, as in Ansible.
//!
//! `GET` and `HEAD` only read, so they run while planning and are no change (Ansible reports
//! `changed: false` for every request too); with `dest` the body is written there, a change
//! only when the file's content differs (Ansible reports a change on every write). Other
//! methods are a change converge cannot predict: they run as the plan's step, and check mode
//! reports them skipped (Ansible's `uri` has no check mode at all). converge reports them
//! `changed` (Ansible: `changed: false`), since something was sent that may have changed
//! state. `creates`/`removes` skip the request, as in Ansible. The step prints the response
//! JSON; [`response_result`] is what turns it into the registered result.
//!
//! ```yaml
//! - uri:
//!     url: http://127.0.0.1:8080/health
//!     return_content: yes
//!   register: health
//! ```

use crate::args::Flag;
use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use crate::{FileAttributes, WriteOptions};
use base64::Engine;
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// How `body` is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum BodyFormat {
    /// Sent as written.
    #[default]
    Raw,
    /// A map or list is serialised to JSON (a string is sent as is); `Content-Type:
    /// application/json` unless a header sets it.
    Json,
    /// A map is encoded as `a=1&b=2`; `Content-Type: application/x-www-form-urlencoded`.
    FormUrlencoded,
}

/// Which redirects are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FollowRedirects {
    /// Follow redirects of GET and HEAD only.
    #[default]
    Safe,
    /// Follow every redirect (also `yes`, `urllib2`).
    #[serde(alias = "yes", alias = "urllib2")]
    All,
    /// Follow none (also `no`).
    #[serde(alias = "no")]
    None,
}

/// The accepted status codes: one number or a list.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(with = "Vec<u16>")]
pub struct StatusCodes(pub Vec<u16>);

impl Default for StatusCodes {
    fn default() -> Self {
        StatusCodes(vec![200])
    }
}

impl<'de> Deserialize<'de> for StatusCodes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        let one = |value: &Value| -> Result<u16, String> {
            match value {
                Value::Number(n) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
                Value::String(s) => s.trim().parse().ok(),
                _ => None,
            }
            .ok_or_else(|| format!("`{value}` is not an HTTP status code"))
        };
        let codes = match &raw {
            Value::Array(items) => items.iter().map(one).collect::<Result<Vec<_>, _>>(),
            Value::String(text) => text
                .split(',')
                .map(|item| one(&Value::String(item.to_string())))
                .collect(),
            other => one(other).map(|code| vec![code]),
        };
        codes.map(StatusCodes).map_err(serde::de::Error::custom)
    }
}

fn get() -> String {
    "GET".into()
}

fn thirty() -> u64 {
    30
}

fn yes() -> Flag {
    Flag(true)
}

/// Arguments of `uri`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UriArgs {
    /// The URL (`http://` or `https://`).
    pub url: String,
    /// The method, one uppercase word (`GET`, `POST`, `PUT`, `DELETE`…).
    #[serde(default = "get")]
    pub method: String,
    /// The request body: a string, or with `body_format: json`/`form-urlencoded` a map.
    pub body: Option<Value>,
    /// How `body` is encoded.
    #[serde(default)]
    pub body_format: BodyFormat,
    /// Request headers (never shown).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The status codes that mean success (default 200).
    #[serde(default)]
    pub status_code: StatusCodes,
    /// Return the body as `content`.
    #[serde(default)]
    pub return_content: Flag,
    /// Write the body to this file (only with GET or HEAD in converge).
    pub dest: Option<String>,
    /// Skip the request when this path exists on the host.
    pub creates: Option<String>,
    /// Skip the request when this path does not exist on the host.
    pub removes: Option<String>,
    /// Which redirects to follow: `safe` (GET/HEAD), `all`, `none`.
    #[serde(default)]
    pub follow_redirects: FollowRedirects,
    /// Seconds to wait for the response.
    #[serde(default = "thirty")]
    pub timeout: u64,
    /// User name for HTTP basic authentication.
    #[serde(alias = "user")]
    pub url_username: Option<String>,
    /// Password for HTTP basic authentication (never shown).
    #[serde(alias = "password")]
    pub url_password: Option<String>,
    /// Send the credentials with the first request (converge always does when given).
    #[serde(default)]
    pub force_basic_auth: Flag,
    /// Verify the server's TLS certificate.
    #[serde(default = "yes")]
    pub validate_certs: Flag,
}

impl UriArgs {
    fn read_only(&self) -> bool {
        matches!(self.method.as_str(), "GET" | "HEAD")
    }
}

/// Name given to the request script (`$0`).
pub const REQUEST_NAME: &str = "converge-uri";

/// Runs python3 on the request JSON from stdin; prints the response as JSON.
pub const REQUEST_SCRIPT: &str = r#"command -v python3 >/dev/null 2>&1 || { echo "uri needs python3 on the host" >&2; exit 127; }
exec python3 -c "$CONVERGE_PY""#;

const PYTHON_REQUEST: &str = r#"import sys, json, ssl, base64, time, urllib.request, urllib.error
o = json.load(sys.stdin)
body = base64.b64decode(o["body"]) if o.get("body") is not None else None
req = urllib.request.Request(o["url"], data=body, headers=o["headers"], method=o["method"])
if o.get("user") is not None:
    token = base64.b64encode(("%s:%s" % (o["user"], o.get("password") or "")).encode()).decode()
    req.add_header("Authorization", "Basic " + token)
follow = o["follow"]
class Redirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, hdrs, newurl):
        if follow == "none" or (follow == "safe" and req.get_method() not in ("GET", "HEAD")):
            return None
        return urllib.request.HTTPRedirectHandler.redirect_request(self, req, fp, code, msg, hdrs, newurl)
handlers = [Redirect()]
if not o["validate_certs"]:
    handlers.append(urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))
opener = urllib.request.build_opener(*handlers)
start = time.time()
out = {"url": o["url"]}
try:
    try:
        r = opener.open(req, timeout=o["timeout"])
    except urllib.error.HTTPError as e:
        r = e
    data = r.read() if r.fp is not None else b""
    out.update(status=r.status if hasattr(r, "status") and r.status else r.code, url=r.geturl(),
               msg="OK (%s bytes)" % len(data) if r.code < 400 else str(getattr(r, "reason", "")),
               headers=[[k, v] for k, v in r.headers.items()],
               body=base64.b64encode(data).decode())
except Exception as e:
    out.update(status=-1, msg="Status code was -1 and not %s: Request failed: %s" % (o["status_code"], e), headers=[], body="")
out["elapsed"] = int(time.time() - start)
print(json.dumps(out))
if out["status"] not in o["status_code"]:
    sys.exit(3)
"#;

/// Encode a map as `application/x-www-form-urlencoded`.
pub fn form_urlencode(body: &Value) -> Result<String, String> {
    let Value::Object(map) = body else {
        return match body {
            Value::String(text) => Ok(text.clone()),
            _ => Err("with `body_format: form-urlencoded` the body is a map or a string".into()),
        };
    };
    let encode = |text: &str| -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    Ok(map
        .iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            format!("{}={}", encode(key), encode(&value))
        })
        .collect::<Vec<_>>()
        .join("&"))
}

/// A request body (bytes) and the headers to send with it.
pub type Encoded = (Option<Vec<u8>>, BTreeMap<String, String>);

/// The body bytes and the headers to send (a default `Content-Type` for json and form).
pub fn encode_request(args: &UriArgs) -> Result<Encoded, String> {
    let mut headers = args.headers.clone();
    let has_type = headers
        .keys()
        .any(|k| k.eq_ignore_ascii_case("content-type"));
    let body = match (&args.body, args.body_format) {
        (None, _) => None,
        (Some(body), BodyFormat::Raw) => Some(match body {
            Value::String(text) => text.clone().into_bytes(),
            other => other.to_string().into_bytes(),
        }),
        (Some(body), BodyFormat::Json) => {
            if !has_type {
                headers.insert("Content-Type".into(), "application/json".into());
            }
            Some(match body {
                Value::String(text) => text.clone().into_bytes(),
                other => other.to_string().into_bytes(),
            })
        }
        (Some(body), BodyFormat::FormUrlencoded) => {
            if !has_type {
                headers.insert(
                    "Content-Type".into(),
                    "application/x-www-form-urlencoded".into(),
                );
            }
            Some(form_urlencode(body)?.into_bytes())
        }
    };
    Ok((body, headers))
}

/// The JSON the request script reads on stdin.
pub fn request_json(args: &UriArgs) -> Result<Value, String> {
    let (body, headers) = encode_request(args)?;
    Ok(json!({
        "url": args.url,
        "method": args.method,
        "body": body.map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes)),
        "headers": headers,
        "user": args.url_username,
        "password": args.url_password,
        "follow": match args.follow_redirects {
            FollowRedirects::Safe => "safe",
            FollowRedirects::All => "all",
            FollowRedirects::None => "none",
        },
        "validate_certs": args.validate_certs.0,
        "timeout": args.timeout,
        "status_code": args.status_code.0,
    }))
}

/// A response as the request script reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct Response {
    /// HTTP status, or -1 when the request failed.
    pub status: i64,
    /// The final URL (after redirects).
    pub url: String,
    /// A short message.
    #[serde(default)]
    pub msg: String,
    /// Headers as sent by the server.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The body, base64.
    #[serde(default)]
    pub body: String,
    /// Whole seconds taken.
    #[serde(default)]
    pub elapsed: u64,
}

impl Response {
    /// The body bytes.
    pub fn bytes(&self) -> Vec<u8> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.body)
            .unwrap_or_default()
    }
}

/// Ansible's result for a response: headers lowercased with `-` → `_`, `json` when the
/// content type is JSON, `content` with `return_content`; `Err` with the message and the
/// result when the status is not one of `status_code`.
pub fn response_result(
    args: &UriArgs,
    response: &Response,
) -> Result<Map<String, Value>, (String, Map<String, Value>)> {
    let mut result = Map::new();
    for (name, value) in &response.headers {
        result.insert(name.to_ascii_lowercase().replace('-', "_"), json!(value));
    }
    result.insert("redirected".into(), json!(response.url != args.url));
    result.insert("url".into(), json!(response.url));
    result.insert("status".into(), json!(response.status));
    result.insert("elapsed".into(), json!(response.elapsed));
    result.insert("msg".into(), json!(response.msg));
    result.insert("changed".into(), json!(false));
    let content = String::from_utf8_lossy(&response.bytes()).into_owned();
    let content_type = result
        .get("content_type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    let subtype = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .rsplit('/')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let subtype = subtype.rsplit('+').next().unwrap_or("");
    if matches!(subtype, "json" | "javascript") {
        if let Ok(parsed) = serde_json::from_str::<Value>(&content) {
            result.insert("json".into(), parsed);
        }
    }
    let ok = u16::try_from(response.status)
        .map(|status| args.status_code.0.contains(&status))
        .unwrap_or(false);
    if args.return_content.0 || !ok {
        result.insert("content".into(), json!(content));
    }
    if !ok {
        let message = if response.status == -1 {
            response.msg.clone()
        } else {
            format!(
                "Status code was {} and not {:?}: {}",
                response.status, args.status_code.0, response.msg
            )
        };
        result.insert("msg".into(), json!(message));
        return Err((message, result));
    }
    Ok(result)
}

fn request_command(args: &UriArgs) -> Result<Command, ModuleError> {
    let stdin = request_json(args).map_err(ModuleError::failed)?;
    let mut command = Command::argv([
        "sh".to_string(),
        "-c".to_string(),
        REQUEST_SCRIPT.to_string(),
        REQUEST_NAME.to_string(),
    ])
    .with_stdin(stdin.to_string());
    command
        .env
        .push(("CONVERGE_PY".into(), PYTHON_REQUEST.into()));
    Ok(command)
}

/// The `uri` module.
pub struct Uri;

impl TypedModule for Uri {
    type Args = UriArgs;
    const NAME: &'static str = "uri";
    const SUMMARY: &'static str = "Make an HTTP request from the host and check its response";
    const EXAMPLES: &'static str = r#"- uri:
    url: http://127.0.0.1:8080/health
    return_content: yes
  register: health

- uri:
    url: http://127.0.0.1:8080/api/items
    method: POST
    body_format: json
    body: {name: converge}
    status_code: [200, 201]
"#;
    const USES_FACTS: bool = false;

    fn check(args: &UriArgs) -> Result<(), ArgsError> {
        if args.method.is_empty() || !args.method.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(ArgsError::new(
                Some("method"),
                "parameter `method` needs to be a single word in uppercase, like GET or POST",
            ));
        }
        if args.dest.is_some() && !args.read_only() {
            return Err(ArgsError::new(
                Some("dest"),
                "converge writes `dest` only for GET and HEAD requests",
            ));
        }
        encode_request(args).map_err(|message| ArgsError::new(Some("body"), message))?;
        Ok(())
    }

    fn applied(args: &UriArgs, result: Map<String, Value>) -> crate::AppliedResult {
        let stdout = result
            .get("stdout")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let response = parse_response(stdout).map_err(|message| {
            (
                format!("the request to {} gave no response: {message}", args.url),
                result.clone(),
            )
        })?;
        let planned = crate::get_url::without_command_keys(result);
        let mut registered = response_result(args, &response)?;
        for (key, value) in planned {
            registered.entry(key).or_insert(value);
        }
        Ok(registered)
    }

    fn plan(args: UriArgs, host: &mut dyn Host, _context: &Context) -> Result<Plan, ModuleError> {
        let mut plan = Plan::unchanged();
        if let Some(creates) = &args.creates {
            if host.stat(creates)?.is_some() {
                plan.result.insert(
                    "stdout".into(),
                    json!(format!("skipped, since '{creates}' exists")),
                );
                return Ok(plan);
            }
        }
        if let Some(removes) = &args.removes {
            if host.stat(removes)?.is_none() {
                plan.result.insert(
                    "stdout".into(),
                    json!(format!("skipped, since '{removes}' does not exist")),
                );
                return Ok(plan);
            }
        }
        let command = request_command(&args)?;
        if !args.read_only() {
            plan.unknowable_in_check_mode = true;
            plan.changes.push(Change::note(
                args.url.clone(),
                format!("will send a {} request", args.method),
            ));
            plan.result.insert("url".into(), json!(args.url));
            plan.steps.push(Step::Run {
                command,
                allow_failure: false,
            });
            return Ok(plan);
        }
        let output = host.run(&command)?;
        let text = output.stdout_text();
        let response: Response = match serde_json::from_str(text.trim()) {
            Ok(response) => response,
            Err(_) => {
                return Err(ModuleError::failed(format!(
                    "the request to {} did not run: {}",
                    args.url,
                    output.stderr_text().trim()
                )))
            }
        };
        match response_result(&args, &response) {
            Ok(result) => plan.result = result,
            Err((message, _)) => return Err(ModuleError::failed(message)),
        }
        if let Some(dest) = &args.dest {
            let body = response.bytes();
            let current = host.read_file(dest)?;
            plan.result.insert("path".into(), json!(dest));
            if current.as_deref() != Some(body.as_slice()) && response.status != 304 {
                plan.changes.push(Change {
                    subject: dest.clone(),
                    detail: crate::plan::ChangeDetail::Hidden(format!(
                        "response of {} ({} bytes)",
                        args.url,
                        body.len()
                    )),
                });
                plan.steps.push(Step::WriteFile {
                    path: dest.clone(),
                    content: body,
                    options: WriteOptions {
                        attributes: FileAttributes::default(),
                        ..WriteOptions::default()
                    },
                });
            }
        }
        Ok(plan)
    }
}

/// Parse the response JSON printed by a request step (for the registered result).
pub fn parse_response(stdout: &str) -> Result<Response, String> {
    serde_json::from_str(stdout.trim()).map_err(|error| format!("bad response JSON: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(value: Value) -> UriArgs {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn headers_are_lowercased_with_underscores_and_json_parsed() {
        let a = args(json!({"url": "http://h/x"}));
        let response = Response {
            status: 200,
            url: "http://h/x".into(),
            msg: "OK".into(),
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/json; charset=utf-8".into(),
                ),
                ("X-Request-Id".into(), "7".into()),
            ],
            body: base64::engine::general_purpose::STANDARD.encode(b"{\"a\": [1]}"),
            elapsed: 0,
        };
        let result = response_result(&a, &response).unwrap();
        assert_eq!(result["x_request_id"], json!("7"));
        assert_eq!(result["json"], json!({"a": [1]}));
        assert_eq!(result["redirected"], json!(false));
        assert!(!result.contains_key("content"));
    }

    #[test]
    fn unexpected_status_fails_with_ansibles_message() {
        let a = args(json!({"url": "http://h/x", "status_code": [200, 201]}));
        let response = Response {
            status: 404,
            url: "http://h/x".into(),
            msg: "Not Found".into(),
            headers: vec![],
            body: String::new(),
            elapsed: 0,
        };
        let (message, result) = response_result(&a, &response).unwrap_err();
        assert_eq!(message, "Status code was 404 and not [200, 201]: Not Found");
        assert_eq!(result["content"], json!(""));
    }

    #[test]
    fn form_bodies_are_urlencoded() {
        assert_eq!(
            form_urlencode(&json!({"a b": "1&2", "c": 3})).unwrap(),
            "a+b=1%262&c=3"
        );
        let a = args(
            json!({"url": "http://h", "method": "POST", "body_format": "json", "body": {"k": 1}}),
        );
        let (body, headers) = encode_request(&a).unwrap();
        assert_eq!(body.unwrap(), b"{\"k\":1}");
        assert_eq!(headers["Content-Type"], "application/json");
    }
}
