//! `iproute`: the pure parsers over listings captured from real `ip` (iproute2 6.1, in a lab
//! host), and cases as data (`tests/fixtures/iproute/cases/*.yml`) run against a memory host
//! whose kernel is simulated here: it prints listings the way `ip` does and acts out `ip addr`,
//! `ip route` and `ip neigh … proxy` commands with the kernel's refusals. Every case plans
//! (one read), checks the plan, applies it, checks the kernel, and plans again (unchanged).
//!
//! A case file:
//!
//! ```yaml
//! args: {routes: [{to: "fd42:1::11/128", dev: virbr0}]}
//! links: [lo, eth0, virbr0]                          # default: lo, eth0
//! addresses: ["eth0 fd00:c0::11/64"]                 # DEV CIDR
//! routes: ["fd42:1::11 dev eth0 metric 1024"]        # as `ip route show` prints them
//! proxies: ["fd42:1::11 eth0"]                       # ADDRESS DEV
//! family: ipv4                                       # the simulated listings' family
//! expect:
//!   changes: ["route fd42:1::11/128 dev virbr0: dev eth0 metric 1024 → present"]
//!   ran: ["ip -6 route replace fd42:1::11/128 dev virbr0 metric 1024"]
//!   routes: [...]      # the main table after applying (also addresses, proxies)
//!   error: "substring" # planning fails (and `hint`)
//! ```

use converge_modules::iproute::{
    parse_listing, Cidr, Family, LiveRoute, READ_SCRIPT, READ_SCRIPT_NAME,
};
use converge_modules::memory_host::MemoryHost;
use converge_modules::{
    find, ChangeDetail, Command, Context, Facts, ModuleError, Output, Plan, Program,
};
use serde::Deserialize;
use serde_json::Value;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/iproute");
const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/fixtures/iproute");

fn fixture(name: &str) -> String {
    std::fs::read_to_string(Path::new(FIXTURES).join(name)).expect("fixture")
}

fn cidr(text: &str) -> Cidr {
    Cidr::parse(text).expect("cidr")
}

fn addr(text: &str) -> IpAddr {
    text.parse().expect("address")
}

#[test]
fn ipv6_listing_from_a_real_server_parses() {
    let listing = parse_listing(&fixture("read-ipv6-server.txt"), Family::Ipv6).expect("parses");
    let on = |dev: &str| -> Vec<String> {
        listing
            .addresses
            .iter()
            .filter(|a| a.dev == dev)
            .map(|a| a.cidr.to_string())
            .collect()
    };
    assert_eq!(
        on("virbr0"),
        ["fd42:1::fffe/128", "fe80::1450:ceff:feb7:460b/64"]
    );
    // `peer` takes the peer's length; `nodad noprefixroute` flags are skipped.
    assert_eq!(
        on("v.1"),
        [
            "fd45::1/64",
            "fd44::1/128",
            "fd43::1/64",
            "fe80::f4bf:f4ff:fef8:7209/64"
        ]
    );
    let route = |to: &str| -> Vec<&LiveRoute> {
        listing.routes.iter().filter(|r| r.to == cidr(to)).collect()
    };
    // A destination without a length is a host route; metric and proto are read.
    let host = route("fd42:1::12/128");
    assert_eq!(host.len(), 1);
    assert_eq!(
        (
            host[0].dev.as_deref(),
            host[0].metric,
            host[0].proto.as_deref()
        ),
        (Some("virbr0"), 512, None)
    );
    let kernel = route("fd42:1::fffe/128");
    assert_eq!(kernel[0].proto.as_deref(), Some("kernel"));
    assert_eq!(kernel[0].metric, 256);
    let static_route = route("fd42:2::/64");
    assert_eq!(static_route[0].via, Some(addr("fd00:c0:0:3::1")));
    assert_eq!(static_route[0].proto.as_deref(), Some("static"));
    // Multipath: no device of its own, two next hops.
    let multipath = route("fd46::/64");
    assert_eq!(multipath[0].dev, None);
    assert_eq!(
        multipath[0].nexthops,
        vec![
            (Some(addr("fd00:c0:0:3::1")), Some("eth0".to_string())),
            (Some(addr("fd43::2")), Some("v.1".to_string()))
        ]
    );
    assert_eq!(route("fd47::/64")[0].kind.as_deref(), Some("unreachable"));
    assert_eq!(
        route("fd48::/64")[0].metric,
        1024,
        "`expires 294sec` skipped"
    );
    assert_eq!(route("fe80::/64").len(), 3);
    let default = route("::/0");
    assert_eq!(default[0].dev.as_deref(), Some("eth0"));
    assert_eq!(listing.routes.len(), 16);
    // Proxy entries end with `proxy ` (a trailing space).
    let proxies: Vec<String> = listing
        .proxies
        .iter()
        .map(|p| format!("{} {}", p.address, p.dev))
        .collect();
    assert_eq!(proxies, ["fd42:1::11 eth0", "fd42:1::12 eth0"]);
    // `eth0@if4` and `v2@v.1` are eth0 and v2.
    assert_eq!(listing.links, ["lo", "eth0", "virbr0", "v2", "v.1"]);
}

#[test]
fn ipv4_listing_from_a_real_server_parses() {
    let listing = parse_listing(&fixture("read-ipv4-server.txt"), Family::Ipv4).expect("parses");
    assert!(listing.proxies.is_empty());
    // The label at the end of IPv4 lines is not the device.
    let virbr0: Vec<String> = listing
        .addresses
        .iter()
        .filter(|a| a.dev == "virbr0")
        .map(|a| a.cidr.to_string())
        .collect();
    assert_eq!(virbr0, ["192.168.122.1/24"]);
    let shown: Vec<(String, Option<String>, u32)> = listing
        .routes
        .iter()
        .map(|r| (r.to.to_string(), r.dev.clone(), r.metric))
        .collect();
    let row = |to: &str, dev: &str, metric| (to.to_string(), Some(dev.to_string()), metric);
    assert_eq!(
        shown,
        vec![
            row("10.9.0.0/16", "virbr0", 5),
            row("10.10.0.0/16", "eth0", 0),
            row("10.231.48.0/20", "eth0", 0),
            row("192.168.122.0/24", "virbr0", 0),
        ]
    );
    assert_eq!(listing.routes[1].via, Some(addr("10.231.48.1")));
}

#[test]
fn truncated_listing_is_an_error() {
    let text = fixture("read-ipv6-server.txt");
    let cut = text.split("--- proxy").next().expect("has a proxy section");
    let error = parse_listing(cut, Family::Ipv6).expect_err("no proxy or links section");
    assert!(error.contains("`--- proxy`"), "{error}");
    assert!(parse_listing("garbage\n", Family::Ipv6).is_err());
}

/// Listings of other machines, when the shared corpus has them: each parses.
#[test]
fn corpus_listings_parse() {
    let dir = Path::new(CORPUS);
    if !dir.is_dir() {
        println!("skipped: no iproute corpus at {}", dir.display());
        return;
    }
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("corpus dir") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let family = if path.to_string_lossy().contains("ipv4") {
            Family::Ipv4
        } else {
            Family::Ipv6
        };
        parse_listing(&text, family).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        count += 1;
    }
    println!("parsed {count} corpus listings");
}

// ---------------------------------------------------------------------------------------
// The simulated kernel.

#[derive(Debug, Clone, PartialEq)]
struct SimRoute {
    to: Cidr,
    via: Option<IpAddr>,
    dev: String,
    proto: Option<String>,
    metric: u32,
}

#[derive(Debug, Default)]
struct Kernel {
    family: Family,
    links: Vec<String>,
    addresses: Vec<(String, Cidr)>,
    routes: Vec<SimRoute>,
    proxies: Vec<(IpAddr, String)>,
}

fn shown(cidr: &Cidr) -> String {
    let full = matches!(
        (cidr.address, cidr.len),
        (IpAddr::V6(_), 128) | (IpAddr::V4(_), 32)
    );
    if cidr.len == 0 {
        "default".into()
    } else if full {
        cidr.address.to_string()
    } else {
        cidr.to_string()
    }
}

impl SimRoute {
    /// `fd42:1::11 dev eth0 metric 1024` (the way the case files and `ip` write it).
    fn parse(line: &str) -> SimRoute {
        let words: Vec<&str> = line.split_whitespace().collect();
        let value = |key: &str| {
            words
                .windows(2)
                .find(|w| w[0] == key)
                .map(|w| w[1].to_string())
        };
        SimRoute {
            to: cidr(words[0]),
            via: value("via").map(|v| addr(&v)),
            dev: value("dev").expect("route has a dev"),
            proto: value("proto"),
            metric: value("metric").map_or(0, |m| m.parse().expect("metric")),
        }
    }

    fn render(&self, family: Family) -> String {
        let mut line = shown(&self.to);
        if let Some(via) = self.via {
            line.push_str(&format!(" via {via}"));
        }
        line.push_str(&format!(" dev {}", self.dev));
        if let Some(proto) = &self.proto {
            line.push_str(&format!(" proto {proto}"));
        }
        match family {
            Family::Ipv6 => line.push_str(&format!(" metric {} pref medium", self.metric)),
            Family::Ipv4 if self.metric != 0 => line.push_str(&format!(" metric {} ", self.metric)),
            Family::Ipv4 => line.push(' '),
        }
        line
    }
}

fn fail(status: i32, message: &str) -> Output {
    Output {
        status,
        stdout: Vec::new(),
        stderr: format!("{message}\n").into_bytes(),
    }
}

impl Kernel {
    fn flag(&self) -> &'static str {
        self.family.flag()
    }

    fn listing(&self) -> String {
        let kind = if self.family == Family::Ipv6 {
            "inet6"
        } else {
            "inet"
        };
        let index = |dev: &str| self.links.iter().position(|l| l == dev).unwrap_or(0) + 1;
        let mut out = String::from("--- addresses\n");
        for (dev, cidr) in &self.addresses {
            out.push_str(&format!(
                "{}: {dev}    {kind} {cidr} scope global \\       valid_lft forever preferred_lft forever\n",
                index(dev)
            ));
        }
        out.push_str("--- routes\n");
        for route in &self.routes {
            out.push_str(&route.render(self.family));
            out.push('\n');
        }
        if self.family == Family::Ipv6 {
            out.push_str("--- proxy\n");
            for (address, dev) in &self.proxies {
                out.push_str(&format!("{address} dev {dev} proxy \n"));
            }
        }
        out.push_str("--- links\n");
        for dev in &self.links {
            out.push_str(&format!(
                "{}: {dev}: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP mode DEFAULT group default qlen 1000\\    link/ether 02:00:00:00:00:01 brd ff:ff:ff:ff:ff:ff\n",
                index(dev)
            ));
        }
        out
    }

    fn default_metric(&self) -> u32 {
        if self.family == Family::Ipv6 {
            1024
        } else {
            0
        }
    }

    /// Act out one `ip` command as the kernel would.
    fn ip(&mut self, argv: &[String]) -> Output {
        let words: Vec<&str> = argv.iter().map(String::as_str).collect();
        let value = |key: &str| words.windows(2).find(|w| w[0] == key).map(|w| w[1]);
        if words.get(1) != Some(&self.flag()) {
            return fail(1, "simulated kernel: wrong family");
        }
        let dev = value("dev");
        if let Some(dev) = dev {
            if !self.links.iter().any(|l| l == dev) {
                return fail(1, &format!("Cannot find device \"{dev}\""));
            }
        }
        match &words[2..] {
            ["addr", verb, target, "dev", dev] => {
                let target = cidr(target);
                let at = self
                    .addresses
                    .iter()
                    .position(|(d, c)| d == dev && c.address == target.address);
                match (*verb, at) {
                    ("add", Some(_)) => fail(2, "Error: ipv6: address already assigned."),
                    ("add", None) => {
                        self.addresses.push((dev.to_string(), target));
                        if self.family == Family::Ipv6 {
                            self.routes.push(SimRoute {
                                to: target.network(),
                                via: None,
                                dev: dev.to_string(),
                                proto: Some("kernel".into()),
                                metric: 256,
                            });
                        }
                        Output::default()
                    }
                    ("del", Some(at)) if self.addresses[at].1.len == target.len => {
                        self.addresses.remove(at);
                        self.routes.retain(|r| {
                            !(r.proto.as_deref() == Some("kernel")
                                && r.to == target.network()
                                && r.dev == *dev)
                        });
                        Output::default()
                    }
                    _ => fail(2, "RTNETLINK answers: Cannot assign requested address"),
                }
            }
            ["route", verb, to, ..] => {
                let to = if *to == "default" {
                    Cidr::default_route(self.family)
                } else {
                    cidr(to)
                };
                let via = value("via").map(addr);
                let metric = value("metric").map(|m| m.parse::<u32>().expect("metric"));
                match *verb {
                    "replace" => {
                        let metric = metric.unwrap_or(self.default_metric());
                        let route = SimRoute {
                            to,
                            via,
                            dev: dev.expect("sim routes have a dev").to_string(),
                            proto: None,
                            metric,
                        };
                        match self
                            .routes
                            .iter()
                            .position(|r| r.to == to && r.metric == metric)
                        {
                            Some(at) => self.routes[at] = route,
                            None => self.routes.push(route),
                        }
                        Output::default()
                    }
                    "del" => {
                        let at = self.routes.iter().position(|r| {
                            r.to == to
                                && dev.is_none_or(|d| r.dev == d)
                                && via.is_none_or(|v| r.via == Some(v))
                                && metric.is_none_or(|m| r.metric == m)
                        });
                        match at {
                            Some(at) => {
                                self.routes.remove(at);
                                Output::default()
                            }
                            None => fail(2, "RTNETLINK answers: No such process"),
                        }
                    }
                    _ => fail(1, "simulated kernel: unknown route verb"),
                }
            }
            ["neigh", verb, "proxy", address, "dev", dev] => {
                let entry = (addr(address), dev.to_string());
                let at = self.proxies.iter().position(|p| *p == entry);
                match (*verb, at) {
                    ("add", None) => {
                        self.proxies.push(entry);
                        Output::default()
                    }
                    ("add", Some(_)) => fail(2, "RTNETLINK answers: File exists"),
                    ("del", Some(at)) => {
                        self.proxies.remove(at);
                        Output::default()
                    }
                    _ => fail(2, "RTNETLINK answers: No such file or directory"),
                }
            }
            _ => fail(1, "simulated kernel: command not understood"),
        }
    }
}

fn host_for(kernel: Arc<Mutex<Kernel>>) -> MemoryHost {
    MemoryHost::new().respond(move |command: &Command| {
        let Program::Argv(argv) = &command.program else {
            return None;
        };
        let mut kernel = kernel.lock().expect("kernel");
        match argv.first().map(String::as_str) {
            Some("sh") => {
                let is_read = argv.len() == 5
                    && argv[1] == "-c"
                    && argv[2] == READ_SCRIPT
                    && argv[3] == READ_SCRIPT_NAME
                    && argv[4] == kernel.flag();
                is_read.then(|| Output {
                    status: 0,
                    stdout: kernel.listing().into_bytes(),
                    stderr: Vec::new(),
                })
            }
            Some("ip") => Some(kernel.ip(argv)),
            _ => None,
        }
    })
}

// ---------------------------------------------------------------------------------------
// Cases.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    args: Value,
    #[serde(default)]
    links: Option<Vec<String>>,
    #[serde(default)]
    addresses: Vec<String>,
    #[serde(default)]
    routes: Vec<String>,
    #[serde(default)]
    proxies: Vec<String>,
    #[serde(default)]
    family: Option<String>,
    expect: Expect,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Expect {
    #[serde(default)]
    changes: Option<Vec<String>>,
    #[serde(default)]
    ran: Option<Vec<String>>,
    #[serde(default)]
    addresses: Option<Vec<String>>,
    #[serde(default)]
    routes: Option<Vec<String>>,
    #[serde(default)]
    proxies: Option<Vec<String>>,
    error: Option<String>,
    hint: Option<String>,
}

fn summary(plan: &Plan) -> Vec<String> {
    plan.changes
        .iter()
        .map(|change| match &change.detail {
            ChangeDetail::Value { before, after } => format!(
                "{}: {} → {}",
                change.subject,
                before.as_deref().unwrap_or("absent"),
                after.as_deref().unwrap_or("absent")
            ),
            other => panic!("iproute changes are values, got {other:?}"),
        })
        .collect()
}

fn kernel_for(case: &Case) -> Kernel {
    let family = match case.family.as_deref() {
        Some("ipv4") => Family::Ipv4,
        _ => Family::Ipv6,
    };
    Kernel {
        family,
        links: case
            .links
            .clone()
            .unwrap_or_else(|| vec!["lo".into(), "eth0".into()]),
        addresses: case
            .addresses
            .iter()
            .map(|line| {
                let (dev, address) = line.split_once(' ').expect("DEV CIDR");
                (dev.to_string(), cidr(address))
            })
            .collect(),
        routes: case
            .routes
            .iter()
            .map(|line| SimRoute::parse(line))
            .collect(),
        proxies: case
            .proxies
            .iter()
            .map(|line| {
                let (address, dev) = line.split_once(' ').expect("ADDRESS DEV");
                (addr(address), dev.to_string())
            })
            .collect(),
    }
}

fn run_case(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let case: Case = serde_saphyr::from_str(&text).map_err(|e| format!("bad case: {e}"))?;
    let kernel = Arc::new(Mutex::new(kernel_for(&case)));
    let mut host = host_for(kernel.clone());
    let module = find("iproute").ok_or("no iproute module")?;
    let facts = Facts::default();
    let context = Context { facts: &facts };

    let planned = module.plan(&case.args, &mut host, &context);
    let reads = host.commands_run.len();
    if let Some(expected) = &case.expect.error {
        let error = match planned {
            Ok(plan) => return Err(format!("planned instead of failing: {:?}", summary(&plan))),
            Err(error) => error,
        };
        let (message, hint) = match &error {
            ModuleError::Failed { message, hint } => (message.clone(), hint.clone()),
            ModuleError::Args(args) => (args.message.clone(), args.hint.clone()),
            other => (other.to_string(), None),
        };
        if !message.contains(expected.as_str()) {
            return Err(format!("error `{message}` lacks `{expected}`"));
        }
        if let Some(expected) = &case.expect.hint {
            let hint = hint.unwrap_or_default();
            if !hint.contains(expected.as_str()) {
                return Err(format!("hint `{hint}` lacks `{expected}`"));
            }
        }
        return Ok(());
    }
    let plan = planned.map_err(|e| format!("plan failed: {e}"))?;
    if reads != 1 {
        return Err(format!(
            "planning ran {reads} commands, not one read: {:?}",
            host.commands_run
        ));
    }
    if let Some(expected) = &case.expect.changes {
        if summary(&plan) != *expected {
            return Err(format!(
                "changes\n  got:      {:?}\n  expected: {expected:?}",
                summary(&plan)
            ));
        }
    }

    plan.apply(&mut host)
        .map_err(|e| format!("apply failed: {e}"))?;
    let ran: Vec<String> = host.commands_run[1..].to_vec();
    if let Some(expected) = &case.expect.ran {
        if ran != *expected {
            return Err(format!(
                "ran\n  got:      {ran:?}\n  expected: {expected:?}"
            ));
        }
    }
    {
        let kernel = kernel.lock().map_err(|e| e.to_string())?;
        if let Some(expected) = &case.expect.addresses {
            let got: Vec<String> = kernel
                .addresses
                .iter()
                .map(|(dev, cidr)| format!("{dev} {cidr}"))
                .collect();
            if got != *expected {
                return Err(format!(
                    "addresses\n  got:      {got:?}\n  expected: {expected:?}"
                ));
            }
        }
        if let Some(expected) = &case.expect.routes {
            let got: Vec<String> = kernel
                .routes
                .iter()
                .map(|r| r.render(kernel.family).trim_end().to_string())
                .collect();
            if got != *expected {
                return Err(format!(
                    "routes\n  got:      {got:?}\n  expected: {expected:?}"
                ));
            }
        }
        if let Some(expected) = &case.expect.proxies {
            let got: Vec<String> = kernel
                .proxies
                .iter()
                .map(|(address, dev)| format!("{address} {dev}"))
                .collect();
            if got != *expected {
                return Err(format!(
                    "proxies\n  got:      {got:?}\n  expected: {expected:?}"
                ));
            }
        }
    }

    let again = module
        .plan(&case.args, &mut host, &context)
        .map_err(|e| format!("second plan failed: {e}"))?;
    if again.is_change() {
        return Err(format!(
            "second plan is not unchanged: {:?}",
            summary(&again)
        ));
    }
    Ok(())
}

#[test]
fn cases() {
    let dir = Path::new(FIXTURES).join("cases");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("cases dir")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "yml"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 10,
        "expected the iproute cases, found {}",
        paths.len()
    );
    let failures: Vec<String> = paths
        .iter()
        .filter_map(|path| {
            run_case(path)
                .err()
                .map(|error| format!("{}: {error}", path.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Check mode is planning: the plan of a changing task leaves the kernel as it was.
#[test]
fn planning_changes_nothing() {
    let kernel = Arc::new(Mutex::new(Kernel {
        family: Family::Ipv6,
        links: vec!["lo".into(), "eth0".into(), "virbr0".into()],
        ..Kernel::default()
    }));
    let before = kernel.lock().expect("kernel").listing();
    let mut host = host_for(kernel.clone());
    let module = find("iproute").expect("iproute");
    let facts = Facts::default();
    let args = serde_json::json!({
        "addresses": [{"address": "fd42:1::fffe/128", "dev": "virbr0"}],
        "routes": [{"to": "fd42:1::11/128", "dev": "virbr0"}],
        "proxy_neighbours": [{"address": "fd42:1::11", "dev": "eth0"}],
    });
    let plan = module
        .plan(&args, &mut host, &Context { facts: &facts })
        .expect("plans");
    assert_eq!(plan.changes.len(), 3);
    assert_eq!(host.commands_run.len(), 1, "{:?}", host.commands_run);
    assert_eq!(kernel.lock().expect("kernel").listing(), before);
}

/// Unknown arguments and unknown item fields are refused before the host is touched.
#[test]
fn unknown_fields_are_refused() {
    let module = find("iproute").expect("iproute");
    let error = module
        .validate(&serde_json::json!({"routes": [{"to": "fd42::/64", "device": "eth0"}]}))
        .expect_err("unknown field");
    assert!(error.message.contains("device"), "{}", error.message);
    let error = module
        .validate(&serde_json::json!({"route": []}))
        .expect_err("unknown argument");
    assert_eq!(error.hint.as_deref(), Some("did you mean `routes`?"));
    // `proxy_neighbors` (American spelling) is accepted.
    module
        .validate(&serde_json::json!({"proxy_neighbors": [{"address": "fd42::1", "dev": "eth0"}]}))
        .expect("alias");
}
