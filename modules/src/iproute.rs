//! `iproute`: live kernel network state that sysctl does not cover — addresses on devices,
//! routes, and IPv6 proxy neighbours (proxy NDP entries).
//!
//! Converges each listed item to `state` (`present` or `absent`); items not listed are left
//! alone, so the task never removes an address, route or proxy entry it was not told about.
//! The state lives in the running kernel only: keeping it across reboots is the job of a boot
//! script (the roles write one), not of this module.
//!
//! Reads, in one round trip: `ip -6 -o addr show`, `ip -6 route show`, `ip -6 neigh show
//! proxy` and `ip -o link show` (with `family: ipv4`, `ip -4` and no proxy listing), printed by
//! one script between `--- NAME` markers and parsed by the pure function [`parse_listing`].
//! Changes are made with `ip` argument vectors (never a shell): `ip -6 addr add`, `ip -6 route
//! replace`, `ip -6 neigh add proxy`, and their `del` forms for `state: absent`.
//!
//! Idempotence: addresses compare as parsed values (`fd42:1:0::11` is `fd42:1::11`). An address
//! is present when the device has it with the same prefix length (a different prefix length is
//! replaced: deleted, then added). A route is present when the main table has a unicast route
//! to the same destination with the same `dev`, and the same `via` and `metric` when they are
//! given; otherwise `ip route replace` installs it, taking the place of the route to the same
//! destination that is in effect (lowest metric), so a second plan finds it. A proxy neighbour
//! is present when `ip -6 neigh show proxy` lists the address on the device.
//!
//! A device that does not exist fails the task with `state: present` (the kernel would refuse
//! the change) and counts as "nothing to remove" with `state: absent`.
//!
//! ```yaml
//! - iproute:
//!     addresses:
//!       - {address: "fd42:1::fffe/128", dev: virbr0}
//!     routes:
//!       - {to: "fd42:1::11/128", dev: virbr0}
//!     proxy_neighbours:
//!       - {address: "fd42:1::11", dev: eth0}
//! ```

use crate::host::{Command, Host};
use crate::module::{ArgsError, Context, ModuleError, TypedModule};
use crate::plan::{Change, Plan, Step};
use schemars::JsonSchema;
use serde::Deserialize;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether the listed items should exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum IprouteState {
    /// Every listed item is in the kernel.
    #[default]
    Present,
    /// None of the listed items is in the kernel (exactly these are removed).
    Absent,
}

/// The address family of every item in the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv6 (`ip -6`).
    #[default]
    Ipv6,
    /// IPv4 (`ip -4`): addresses and routes only (proxy NDP is IPv6).
    Ipv4,
}

impl Family {
    /// The `ip` option: `-6` or `-4`.
    pub fn flag(self) -> &'static str {
        match self {
            Family::Ipv6 => "-6",
            Family::Ipv4 => "-4",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Family::Ipv6 => "IPv6",
            Family::Ipv4 => "IPv4",
        }
    }

    fn bits(self) -> u8 {
        match self {
            Family::Ipv6 => 128,
            Family::Ipv4 => 32,
        }
    }

    fn of(address: &IpAddr) -> Family {
        match address {
            IpAddr::V6(_) => Family::Ipv6,
            IpAddr::V4(_) => Family::Ipv4,
        }
    }
}

/// An address to have on a device.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressArg {
    /// The address with its prefix length, e.g. `fd42:1::fffe/128` (without a prefix length:
    /// `/128`, or `/32` for IPv4).
    pub address: String,
    /// The device, e.g. `virbr0`.
    pub dev: String,
}

/// A route in the main table.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteArg {
    /// The destination prefix, e.g. `fd42:1::11/128`, or `default` (without a prefix length:
    /// a host route, `/128` or `/32`). Host bits must be zero (`fd42:1::/64`, not
    /// `fd42:1::11/64`).
    pub to: String,
    /// The device the route goes out of, e.g. `virbr0`. Give `dev`, `via` or both.
    pub dev: Option<String>,
    /// The gateway address, e.g. `fe80::1` (a link-local gateway needs `dev`).
    pub via: Option<String>,
    /// The route's metric (preference, lower wins). Default: any metric counts as present;
    /// a new route gets the kernel's default (1024 for IPv6, 0 for IPv4).
    pub metric: Option<u32>,
}

/// An IPv6 proxy neighbour: the host answers neighbour solicitations for `address` on `dev`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyNeighbourArg {
    /// The single address to answer for, e.g. a guest's `fd42:1::11` (no prefix length).
    pub address: String,
    /// The device the solicitations arrive on: the upstream interface, e.g. `eth0`.
    pub dev: String,
}

/// Arguments of `iproute`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IprouteArgs {
    /// Addresses to have on devices, each `{address, dev}` (`ip addr add ADDRESS dev DEV`);
    /// other addresses on the devices are kept.
    #[serde(default)]
    pub addresses: Vec<AddressArg>,
    /// Routes to have in the main table, each `{to, dev, via, metric}` (`ip route replace TO
    /// [via VIA] [dev DEV] [metric M]`).
    #[serde(default)]
    pub routes: Vec<RouteArg>,
    /// IPv6 proxy neighbours, each `{address, dev}` (`ip -6 neigh add proxy ADDRESS dev DEV`;
    /// `proxy_neighbors` is accepted too). Proxy NDP also needs
    /// the sysctls `net.ipv6.conf.DEV.proxy_ndp=1`, `net.ipv6.conf.all.proxy_ndp=1` and
    /// forwarding on.
    #[serde(default, alias = "proxy_neighbors")]
    pub proxy_neighbours: Vec<ProxyNeighbourArg>,
    /// `present`: add what is missing; `absent`: remove exactly the listed items.
    #[serde(default)]
    pub state: IprouteState,
    /// The family of every address in the task: `ipv6` (default) or `ipv4`.
    #[serde(default)]
    pub family: Family,
}

/// An address with a prefix length, e.g. `fd42:1::11/128`. Displays canonically
/// (`fd42:1:0::11/128` shows as `fd42:1::11/128`); a zero-length prefix shows as `default`
/// when it is a route destination (see [`Cidr::route_destination`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The address.
    pub address: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl Cidr {
    /// Parse `ADDRESS[/LEN]` strictly: no spaces, no zone (`%eth0`), a decimal length no
    /// larger than the family allows. Without `/LEN` the length is the full address.
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let (address, len) = match text.split_once('/') {
            Some((address, len)) => (address, Some(len)),
            None => (text, None),
        };
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address"))?;
        let bits = Family::of(&address).bits();
        let len = match len {
            None => bits,
            Some(len) => {
                let parsed =
                    (!len.is_empty() && len.len() <= 3 && len.bytes().all(|b| b.is_ascii_digit()))
                        .then(|| len.parse::<u8>().ok())
                        .flatten()
                        .filter(|len| *len <= bits);
                parsed.ok_or_else(|| {
                    format!("`{text}` has a bad prefix length (`/{len}`; 0 to {bits})")
                })?
            }
        };
        Ok(Cidr { address, len })
    }

    /// The whole address space of `family`: the default route's destination.
    pub fn default_route(family: Family) -> Cidr {
        match family {
            Family::Ipv6 => Cidr {
                address: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                len: 0,
            },
            Family::Ipv4 => Cidr {
                address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                len: 0,
            },
        }
    }

    /// The address with its host bits cleared.
    pub fn network(&self) -> Cidr {
        let address = match self.address {
            IpAddr::V6(address) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.len))
                    .unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(address) & mask))
            }
            IpAddr::V4(address) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0);
                IpAddr::V4(Ipv4Addr::from(u32::from(address) & mask))
            }
        };
        Cidr {
            address,
            len: self.len,
        }
    }

    /// How `ip route` takes and shows this as a destination: `default` for length 0.
    pub fn route_destination(&self) -> String {
        if self.len == 0 {
            "default".to_string()
        } else {
            self.to_string()
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.len)
    }
}

/// An address on a device, as `ip -o addr show` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveAddress {
    /// The device.
    pub dev: String,
    /// The address and prefix length (for `peer` addresses, the peer's prefix length).
    pub cidr: Cidr,
}

/// A route of the main table, as `ip route show` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRoute {
    /// The route type when `ip` prints one (`unreachable`, `blackhole`…); `None` is unicast.
    pub kind: Option<String>,
    /// The destination.
    pub to: Cidr,
    /// The device (`None` for a multipath route).
    pub dev: Option<String>,
    /// The gateway.
    pub via: Option<IpAddr>,
    /// The metric (IPv4 routes without one have 0).
    pub metric: u32,
    /// Who installed it (`kernel`, `static`, `ra`…), when `ip` says.
    pub proto: Option<String>,
    /// The next hops of a multipath route, as `(via, dev)`.
    pub nexthops: Vec<(Option<IpAddr>, Option<String>)>,
}

impl LiveRoute {
    fn is_unicast(&self) -> bool {
        matches!(self.kind.as_deref(), None | Some("unicast"))
    }

    /// `dev eth0 via fe80::1 metric 1024`: what a person needs to tell two routes apart.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(kind) = &self.kind {
            parts.push(kind.clone());
        }
        if let Some(via) = &self.via {
            parts.push(format!("via {via}"));
        }
        if let Some(dev) = &self.dev {
            parts.push(format!("dev {dev}"));
        }
        if !self.nexthops.is_empty() {
            parts.push(format!("multipath ({} next hops)", self.nexthops.len()));
        }
        parts.push(format!("metric {}", self.metric));
        if let Some(proto) = &self.proto {
            parts.push(format!("proto {proto}"));
        }
        parts.join(" ")
    }
}

/// An IPv6 proxy neighbour, as `ip -6 neigh show proxy` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveProxy {
    /// The address answered for.
    pub address: IpAddr,
    /// The device.
    pub dev: String,
}

/// What the read script found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Every address on every device.
    pub addresses: Vec<LiveAddress>,
    /// The main table.
    pub routes: Vec<LiveRoute>,
    /// Proxy neighbours (empty for IPv4).
    pub proxies: Vec<LiveProxy>,
    /// Every device name.
    pub links: Vec<String>,
}

/// Name given to the read script (`$0`), so that test hosts can recognise it.
pub const READ_SCRIPT_NAME: &str = "converge-iproute-read";

/// Prints the listings between `--- addresses`, `--- routes`, `--- proxy` (IPv6 only) and
/// `--- links` markers; `$1` is `-6` or `-4`. Exits with `ip`'s status when a listing fails.
/// Only reads.
pub const READ_SCRIPT: &str = r#"echo '--- addresses'
ip "$1" -o addr show || exit
echo '--- routes'
ip "$1" route show || exit
if [ "$1" = -6 ]; then
  echo '--- proxy'
  ip -6 neigh show proxy || exit
fi
echo '--- links'
ip -o link show || exit
"#;

/// Parse the read script's output.
pub fn parse_listing(output: &str, family: Family) -> Result<Listing, String> {
    let mut sections: [(&str, String); 4] = [
        ("addresses", String::new()),
        ("routes", String::new()),
        ("proxy", String::new()),
        ("links", String::new()),
    ];
    let mut current: Option<usize> = None;
    let mut seen = [false; 4];
    for line in output.lines() {
        if let Some(name) = line.strip_prefix("--- ") {
            let at = sections
                .iter()
                .position(|(known, _)| *known == name.trim())
                .ok_or_else(|| format!("unexpected marker `{line}` in the listing"))?;
            seen[at] = true;
            current = Some(at);
            continue;
        }
        match current {
            Some(at) => {
                sections[at].1.push_str(line);
                sections[at].1.push('\n');
            }
            None if line.trim().is_empty() => {}
            None => return Err(format!("unexpected line `{line}` before the first marker")),
        }
    }
    let needed = match family {
        Family::Ipv6 => [true, true, true, true],
        Family::Ipv4 => [true, true, false, true],
    };
    if let Some(missing) = (0..4).find(|&at| needed[at] && !seen[at]) {
        return Err(format!(
            "the listing has no `--- {}` section (the read script stopped early)",
            sections[missing].0
        ));
    }
    Ok(Listing {
        addresses: parse_addresses(&sections[0].1)?,
        routes: parse_routes(&sections[1].1, family)?,
        proxies: parse_proxies(&sections[2].1)?,
        links: parse_links(&sections[3].1),
    })
}

/// Parse `ip -o addr show` (either family): `3: virbr0    inet6 fd42:1::fffe/128 scope
/// global \       valid_lft …`. A `peer` address takes the peer's prefix length.
pub fn parse_addresses(text: &str) -> Result<Vec<LiveAddress>, String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let head = line.split('\\').next().unwrap_or(line);
        let words: Vec<&str> = head.split_whitespace().collect();
        let [index, dev, kind, address, rest @ ..] = words.as_slice() else {
            if words.is_empty() {
                continue;
            }
            return Err(format!("cannot read the address line `{line}`"));
        };
        if !index.ends_with(':') || !matches!(*kind, "inet" | "inet6") {
            return Err(format!("cannot read the address line `{line}`"));
        }
        let mut cidr = Cidr::parse(address)?;
        if !address.contains('/') {
            if let [peer_word, peer, ..] = rest {
                if *peer_word == "peer" {
                    cidr.len = Cidr::parse(peer)?.len;
                }
            }
        }
        found.push(LiveAddress {
            dev: dev.split('@').next().unwrap_or(dev).to_string(),
            cidr,
        });
    }
    Ok(found)
}

/// Route types `ip route show` prints before the destination.
const ROUTE_TYPES: &[&str] = &[
    "unicast",
    "unreachable",
    "blackhole",
    "prohibit",
    "throw",
    "local",
    "broadcast",
    "multicast",
    "anycast",
    "nat",
];

/// Route attributes `ip route show` prints with a value after them.
const ROUTE_VALUED: &[&str] = &[
    "via",
    "dev",
    "proto",
    "metric",
    "table",
    "src",
    "scope",
    "pref",
    "expires",
    "mtu",
    "advmss",
    "hoplimit",
    "from",
    "tos",
    "dsfield",
    "realm",
    "realms",
    "rtt",
    "rttvar",
    "weight",
    "error",
    "nhid",
    "initcwnd",
    "initrwnd",
    "quickack",
    "features",
    "congctl",
    "window",
    "ssthresh",
    "cwnd",
    "reordering",
    "fastopen_no_cookie",
    "rto_min",
    "encap",
    "ttl-propagate",
    "pool",
];

/// Attribute values of one route line: `via`, `dev`, `metric`, `proto`.
struct Attributes {
    via: Option<IpAddr>,
    dev: Option<String>,
    metric: Option<u32>,
    proto: Option<String>,
}

fn attributes(words: &[&str], line: &str) -> Result<Attributes, String> {
    let mut found = Attributes {
        via: None,
        dev: None,
        metric: None,
        proto: None,
    };
    let mut index = 0;
    while index < words.len() {
        let word = words[index];
        if !ROUTE_VALUED.contains(&word) {
            index += 1;
            continue;
        }
        let mut value = words.get(index + 1).copied();
        index += 2;
        // `mtu lock 1400`; `via inet6 fe80::1` (an IPv4 route with an IPv6 gateway).
        if matches!(value, Some("lock" | "inet" | "inet6")) && word != "dev" {
            value = words.get(index).copied();
            index += 1;
        }
        let Some(value) = value else {
            return Err(format!("`{word}` without a value in the route `{line}`"));
        };
        match word {
            "via" => {
                found.via = Some(
                    value
                        .parse()
                        .map_err(|_| format!("bad gateway `{value}` in the route `{line}`"))?,
                )
            }
            "dev" => found.dev = Some(value.to_string()),
            "metric" => {
                found.metric = Some(
                    value
                        .parse()
                        .map_err(|_| format!("bad metric `{value}` in the route `{line}`"))?,
                )
            }
            "proto" => found.proto = Some(value.to_string()),
            _ => {}
        }
    }
    Ok(found)
}

/// Parse `ip route show` of `family`: `fd42:1::11 dev virbr0 metric 1024 pref medium`, a type
/// first for non-unicast routes, `default` for the zero-length prefix, multipath routes
/// followed by indented `nexthop` lines. A destination without a length is a host route.
pub fn parse_routes(text: &str, family: Family) -> Result<Vec<LiveRoute>, String> {
    let mut routes: Vec<LiveRoute> = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.is_empty() {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            let Some(route) = routes.last_mut() else {
                return Err(format!("a next hop without a route: `{line}`"));
            };
            if words[0] == "nexthop" {
                let hop = attributes(&words[1..], line)?;
                route.nexthops.push((hop.via, hop.dev));
            }
            continue;
        }
        let (kind, rest) = if ROUTE_TYPES.contains(&words[0]) {
            (Some(words[0].to_string()), &words[1..])
        } else {
            (None, &words[..])
        };
        let Some((destination, rest)) = rest.split_first() else {
            return Err(format!("a route without a destination: `{line}`"));
        };
        let to = if *destination == "default" {
            Cidr::default_route(family)
        } else {
            Cidr::parse(destination)?
        };
        let found = attributes(rest, line)?;
        routes.push(LiveRoute {
            kind,
            to,
            dev: found.dev,
            via: found.via,
            metric: found.metric.unwrap_or(0),
            proto: found.proto,
            nexthops: Vec::new(),
        });
    }
    Ok(routes)
}

/// Parse `ip -6 neigh show proxy`: `fd42:1::11 dev eth0 proxy`.
pub fn parse_proxies(text: &str) -> Result<Vec<LiveProxy>, String> {
    let mut found = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => {}
            [address, "dev", dev, ..] => found.push(LiveProxy {
                address: address
                    .parse()
                    .map_err(|_| format!("bad address in the proxy neighbour `{line}`"))?,
                dev: dev.to_string(),
            }),
            _ => return Err(format!("cannot read the proxy neighbour line `{line}`")),
        }
    }
    Ok(found)
}

/// Parse `ip -o link show`: the device names (`eth0@if4` is `eth0`).
pub fn parse_links(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let name = line.split_whitespace().nth(1)?.strip_suffix(':')?;
            Some(name.split('@').next().unwrap_or(name).to_string())
        })
        .collect()
}

/// A device name as the kernel accepts it, and safe as one `ip` argument: 1 to 15 printable
/// ASCII characters, no `/`, `:`, `@`, not starting with `-`, not `.` or `..`.
fn check_dev(dev: &str, argument: &str) -> Result<(), ArgsError> {
    let ok = !dev.is_empty()
        && dev.len() <= 15
        && dev != "."
        && dev != ".."
        && !dev.starts_with('-')
        && dev
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"/:@".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ArgsError::new(
            Some(argument),
            format!("`{dev}` is not a device name"),
        )
        .with_hint("device names are 1 to 15 characters without spaces, `/`, `:` or `@`, e.g. `virbr0`"))
    }
}

fn family_cidr(text: &str, family: Family, argument: &str) -> Result<Cidr, ArgsError> {
    let cidr = Cidr::parse(text.trim()).map_err(|reason| {
        ArgsError::new(Some(argument), reason).with_hint(match family {
            Family::Ipv6 => "write an IPv6 address like `fd42:1::11/128`",
            Family::Ipv4 => "write an IPv4 address like `192.168.122.1/24`",
        })
    })?;
    if text.trim() != text {
        return Err(ArgsError::new(
            Some(argument),
            format!("`{text}` has spaces around it"),
        ));
    }
    let found = Family::of(&cidr.address);
    if found != family {
        return Err(ArgsError::new(
            Some(argument),
            format!(
                "`{text}` is an {} address but the task's `family` is {}",
                found.name(),
                family.name().to_ascii_lowercase()
            ),
        )
        .with_hint(format!(
            "one family per task: put {} items in a task with `family: {}`",
            found.name(),
            found.name().to_ascii_lowercase()
        )));
    }
    Ok(cidr)
}

/// A checked address item.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WantedAddress {
    cidr: Cidr,
    dev: String,
}

/// A checked route item.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WantedRoute {
    to: Cidr,
    dev: Option<String>,
    via: Option<IpAddr>,
    metric: Option<u32>,
}

impl WantedRoute {
    fn subject(&self) -> String {
        let mut subject = format!("route {}", self.to.route_destination());
        if let Some(via) = &self.via {
            subject.push_str(&format!(" via {via}"));
        }
        if let Some(dev) = &self.dev {
            subject.push_str(&format!(" dev {dev}"));
        }
        if let Some(metric) = self.metric {
            subject.push_str(&format!(" metric {metric}"));
        }
        subject
    }

    /// True when `live` is this route (same destination, device, and gateway/metric when given).
    fn matches(&self, live: &LiveRoute) -> bool {
        live.is_unicast()
            && live.to == self.to
            && (self.dev.is_none() || live.dev == self.dev)
            && (self.via.is_none() || live.via == self.via)
            && self.metric.is_none_or(|metric| live.metric == metric)
            && live.nexthops.is_empty()
    }
}

/// A checked proxy neighbour item.
#[derive(Debug, Clone, PartialEq, Eq)]
struct WantedProxy {
    address: IpAddr,
    dev: String,
}

struct Wanted {
    addresses: Vec<WantedAddress>,
    routes: Vec<WantedRoute>,
    proxies: Vec<WantedProxy>,
}

fn wanted(args: &IprouteArgs) -> Result<Wanted, ArgsError> {
    let family = args.family;
    if args.addresses.is_empty() && args.routes.is_empty() && args.proxy_neighbours.is_empty() {
        return Err(ArgsError::new(
            None,
            "module `iproute` needs at least one of `addresses`, `routes`, `proxy_neighbours`",
        )
        .with_hint("e.g. `routes: [{to: \"fd42:1::11/128\", dev: virbr0}]`"));
    }
    if family == Family::Ipv4 && !args.proxy_neighbours.is_empty() {
        return Err(ArgsError::new(
            Some("proxy_neighbours"),
            "`proxy_neighbours` are IPv6 (proxy NDP) but the task's `family` is ipv4",
        )
        .with_hint("put the proxy neighbours in a task with `family: ipv6` (the default)"));
    }

    let mut addresses: Vec<WantedAddress> = Vec::new();
    for item in &args.addresses {
        let cidr = family_cidr(&item.address, family, "addresses")?;
        if cidr.address.is_unspecified() || cidr.address.is_multicast() {
            return Err(ArgsError::new(
                Some("addresses"),
                format!("`{}` cannot be put on a device", item.address),
            ));
        }
        check_dev(&item.dev, "addresses")?;
        let wanted = WantedAddress {
            cidr,
            dev: item.dev.clone(),
        };
        if addresses
            .iter()
            .any(|other| other.cidr.address == cidr.address && other.dev == wanted.dev)
        {
            return Err(ArgsError::new(
                Some("addresses"),
                format!(
                    "address `{}` on `{}` is listed twice",
                    cidr.address, wanted.dev
                ),
            ));
        }
        addresses.push(wanted);
    }

    let mut routes: Vec<WantedRoute> = Vec::new();
    for item in &args.routes {
        let to = if item.to.trim() == "default" {
            Cidr::default_route(family)
        } else {
            family_cidr(&item.to, family, "routes")?
        };
        if to.network() != to {
            return Err(ArgsError::new(
                Some("routes"),
                format!("route destination `{}` has host bits set", item.to),
            )
            .with_hint(format!(
                "did you mean `{}`? (for one address write `/{}`)",
                to.network(),
                family.bits()
            )));
        }
        if let Some(dev) = &item.dev {
            check_dev(dev, "routes")?;
        }
        let via = match &item.via {
            Some(via) => {
                let gateway = family_cidr(via, family, "routes")?;
                if via.contains('/') {
                    return Err(ArgsError::new(
                        Some("routes"),
                        format!("gateway `{via}` of route `{}` has a prefix length", item.to),
                    )
                    .with_hint("`via` is one address, e.g. `fe80::1`"));
                }
                Some(gateway.address)
            }
            None => None,
        };
        if item.dev.is_none() && via.is_none() {
            return Err(ArgsError::new(
                Some("routes"),
                format!("route `{}` needs `dev`, `via` or both", item.to),
            )
            .with_hint("e.g. `{to: \"fd42:1::11/128\", dev: virbr0}`"));
        }
        if via
            .is_some_and(|via| matches!(via, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80))
            && item.dev.is_none()
        {
            return Err(ArgsError::new(
                Some("routes"),
                format!("route `{}` via a link-local gateway needs `dev`", item.to),
            ));
        }
        let wanted = WantedRoute {
            to,
            dev: item.dev.clone(),
            via,
            metric: item.metric,
        };
        if routes
            .iter()
            .any(|other| other.to == to && other.metric == wanted.metric)
        {
            return Err(ArgsError::new(
                Some("routes"),
                format!("route `{}` is listed twice", to.route_destination()),
            )
            .with_hint("one route per destination (and metric)"));
        }
        routes.push(wanted);
    }

    let mut proxies: Vec<WantedProxy> = Vec::new();
    for item in &args.proxy_neighbours {
        let cidr = family_cidr(&item.address, Family::Ipv6, "proxy_neighbours")?;
        if item.address.contains('/') {
            return Err(ArgsError::new(
                Some("proxy_neighbours"),
                format!("proxy neighbour `{}` has a prefix length", item.address),
            )
            .with_hint("a proxy neighbour is one address, e.g. `fd42:1::11`"));
        }
        if cidr.address.is_unspecified() || cidr.address.is_multicast() {
            return Err(ArgsError::new(
                Some("proxy_neighbours"),
                format!("`{}` cannot be a proxy neighbour", item.address),
            ));
        }
        check_dev(&item.dev, "proxy_neighbours")?;
        let wanted = WantedProxy {
            address: cidr.address,
            dev: item.dev.clone(),
        };
        if proxies.contains(&wanted) {
            return Err(ArgsError::new(
                Some("proxy_neighbours"),
                format!(
                    "proxy neighbour `{}` on `{}` is listed twice",
                    wanted.address, wanted.dev
                ),
            ));
        }
        proxies.push(wanted);
    }
    Ok(Wanted {
        addresses,
        routes,
        proxies,
    })
}

/// Read the listings in one command.
fn read_listing(host: &mut dyn Host, family: Family) -> Result<Listing, ModuleError> {
    let output = host.run_read(&Command::argv([
        "sh",
        "-c",
        READ_SCRIPT,
        READ_SCRIPT_NAME,
        family.flag(),
    ]))?;
    if !output.success() {
        return Err(ModuleError::Failed {
            message: format!(
                "cannot list addresses, routes and proxy neighbours: `ip` exited with status {}: {}",
                output.status,
                output.stderr_text().trim()
            ),
            hint: Some("converge needs `ip` from iproute2 on the host (package `iproute2`)".into()),
        });
    }
    parse_listing(&output.stdout_text(), family)
        .map_err(|reason| ModuleError::failed(format!("cannot read the output of `ip`: {reason}")))
}

fn ip(family: Family, words: &[&str]) -> Step {
    let mut argv = vec!["ip", family.flag()];
    argv.extend_from_slice(words);
    Step::Run {
        command: Command::argv(argv),
        allow_failure: false,
    }
}

fn route_words(
    verb: &str,
    to: &Cidr,
    via: Option<IpAddr>,
    dev: Option<&str>,
    metric: Option<u32>,
) -> Vec<String> {
    let mut words = vec![
        "route".to_string(),
        verb.to_string(),
        to.route_destination(),
    ];
    if let Some(via) = via {
        words.extend(["via".to_string(), via.to_string()]);
    }
    if let Some(dev) = dev {
        words.extend(["dev".to_string(), dev.to_string()]);
    }
    if let Some(metric) = metric {
        words.extend(["metric".to_string(), metric.to_string()]);
    }
    words
}

fn ip_owned(family: Family, words: &[String]) -> Step {
    let borrowed: Vec<&str> = words.iter().map(String::as_str).collect();
    ip(family, &borrowed)
}

/// Fail when a device the task puts something on does not exist.
fn require_devices(wanted: &Wanted, listing: &Listing) -> Result<(), ModuleError> {
    let uses = wanted
        .addresses
        .iter()
        .map(|item| (item.dev.as_str(), format!("address `{}`", item.cidr)))
        .chain(wanted.routes.iter().filter_map(|item| {
            let dev = item.dev.as_deref()?;
            Some((dev, format!("route `{}`", item.to.route_destination())))
        }))
        .chain(wanted.proxies.iter().map(|item| {
            (
                item.dev.as_str(),
                format!("proxy neighbour `{}`", item.address),
            )
        }));
    for (dev, what) in uses {
        if !listing.links.iter().any(|link| link == dev) {
            return Err(ModuleError::Failed {
                message: format!("device `{dev}` does not exist on this host (for {what})"),
                hint: Some(format!(
                    "create `{dev}` first, in an earlier task (a bridge: `ip link add {dev} type bridge` and `ip link set {dev} up`; libvirt creates `virbr0` when its network starts), or fix the name: the host has {}",
                    listing.links.join(", ")
                )),
            });
        }
    }
    Ok(())
}

fn plan_present(wanted: &Wanted, listing: &Listing, family: Family, plan: &mut Plan) {
    for item in &wanted.addresses {
        let subject = format!("address {} on {}", item.cidr, item.dev);
        let same_address = listing
            .addresses
            .iter()
            .find(|live| live.dev == item.dev && live.cidr.address == item.cidr.address);
        match same_address {
            Some(live) if live.cidr.len == item.cidr.len => {}
            Some(live) => plan.push(
                Change::value(
                    subject,
                    Some(live.cidr.to_string()),
                    Some(item.cidr.to_string()),
                ),
                [
                    ip_owned(
                        family,
                        &[
                            "addr".into(),
                            "del".into(),
                            live.cidr.to_string(),
                            "dev".into(),
                            item.dev.clone(),
                        ],
                    ),
                    ip_owned(
                        family,
                        &[
                            "addr".into(),
                            "add".into(),
                            item.cidr.to_string(),
                            "dev".into(),
                            item.dev.clone(),
                        ],
                    ),
                ],
            ),
            None => plan.push(
                Change::value(subject, None, Some("present".into())),
                [ip_owned(
                    family,
                    &[
                        "addr".into(),
                        "add".into(),
                        item.cidr.to_string(),
                        "dev".into(),
                        item.dev.clone(),
                    ],
                )],
            ),
        }
    }
    for item in &wanted.routes {
        if listing.routes.iter().any(|live| item.matches(live)) {
            continue;
        }
        // The route to the same destination (and metric, when given) that `replace` would
        // overwrite: the one in effect, i.e. the lowest metric.
        let displaced = listing
            .routes
            .iter()
            .filter(|live| live.to == item.to && item.metric.is_none_or(|m| m == live.metric))
            .min_by_key(|live| live.metric);
        let (before, metric) = match displaced {
            Some(live) => (
                Some(live.describe()),
                Some(item.metric.unwrap_or(live.metric)),
            ),
            None => (None, item.metric),
        };
        let words = route_words("replace", &item.to, item.via, item.dev.as_deref(), metric);
        plan.push(
            Change::value(item.subject(), before, Some("present".into())),
            [ip_owned(family, &words)],
        );
    }
    for item in &wanted.proxies {
        let found = listing
            .proxies
            .iter()
            .any(|live| live.address == item.address && live.dev == item.dev);
        if !found {
            let address = item.address.to_string();
            plan.push(
                Change::value(
                    format!("proxy neighbour {address} on {}", item.dev),
                    None,
                    Some("present".into()),
                ),
                [ip(
                    family,
                    &["neigh", "add", "proxy", &address, "dev", &item.dev],
                )],
            );
        }
    }
}

fn plan_absent(wanted: &Wanted, listing: &Listing, family: Family, plan: &mut Plan) {
    // Reverse order of `present`: what depends on addresses goes first.
    for item in &wanted.proxies {
        let found = listing
            .proxies
            .iter()
            .any(|live| live.address == item.address && live.dev == item.dev);
        if found {
            let address = item.address.to_string();
            plan.push(
                Change::value(
                    format!("proxy neighbour {address} on {}", item.dev),
                    Some("present".into()),
                    None,
                ),
                [ip(
                    family,
                    &["neigh", "del", "proxy", &address, "dev", &item.dev],
                )],
            );
        }
    }
    for item in &wanted.routes {
        let found: Vec<&LiveRoute> = listing
            .routes
            .iter()
            .filter(|live| item.matches(live))
            .collect();
        if found.is_empty() {
            continue;
        }
        let steps: Vec<Step> = found
            .iter()
            .map(|live| {
                ip_owned(
                    family,
                    &route_words(
                        "del",
                        &live.to,
                        live.via,
                        live.dev.as_deref(),
                        Some(live.metric),
                    ),
                )
            })
            .collect();
        let before = found
            .iter()
            .map(|live| live.describe())
            .collect::<Vec<_>>()
            .join("; ");
        plan.push(Change::value(item.subject(), Some(before), None), steps);
    }
    for item in &wanted.addresses {
        let found = listing
            .addresses
            .iter()
            .any(|live| live.dev == item.dev && live.cidr == item.cidr);
        if found {
            plan.push(
                Change::value(
                    format!("address {} on {}", item.cidr, item.dev),
                    Some("present".into()),
                    None,
                ),
                [ip_owned(
                    family,
                    &[
                        "addr".into(),
                        "del".into(),
                        item.cidr.to_string(),
                        "dev".into(),
                        item.dev.clone(),
                    ],
                )],
            );
        }
    }
}

/// The `iproute` module.
pub struct Iproute;

impl TypedModule for Iproute {
    type Args = IprouteArgs;
    const NAME: &'static str = "iproute";
    const SUMMARY: &'static str =
        "Ensure addresses, routes and IPv6 proxy neighbours in the running kernel (ip addr/route/neigh)";
    const EXAMPLES: &'static str = "- iproute:\n    addresses:\n      - {address: \"fd42:1::fffe/128\", dev: virbr0}\n    routes:\n      - {to: \"fd42:1::11/128\", dev: virbr0}\n    proxy_neighbours:\n      - {address: \"fd42:1::11\", dev: eth0}\n\n- iproute:\n    family: ipv4\n    routes:\n      - {to: 10.10.0.0/16, via: 192.168.122.2, dev: virbr0, metric: 10}\n\n- iproute:\n    proxy_neighbours:\n      - {address: \"fd42:1::11\", dev: eth0}\n    state: absent\n";
    const USES_FACTS: bool = false;

    fn check(args: &IprouteArgs) -> Result<(), ArgsError> {
        wanted(args).map(|_| ())
    }

    fn plan(args: IprouteArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let wanted = wanted(&args)?;
        let listing = read_listing(host, args.family)?;
        let mut plan = Plan::unchanged();
        match args.state {
            IprouteState::Present => {
                require_devices(&wanted, &listing)?;
                plan_present(&wanted, &listing, args.family, &mut plan);
            }
            IprouteState::Absent => plan_absent(&wanted, &listing, args.family, &mut plan),
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_parses_strictly_and_displays_canonically() {
        let cidr = Cidr::parse("fd42:1:0::11/128").unwrap();
        assert_eq!(cidr.to_string(), "fd42:1::11/128");
        assert_eq!(Cidr::parse("fd42:1::11").unwrap(), cidr);
        assert_eq!(Cidr::parse("10.0.0.1").unwrap().len, 32);
        for bad in [
            "fd42::1/129",
            "fd42::1/+5",
            "fd42::1/",
            "fd42::1/64 ",
            " fd42::1",
            "fe80::1%eth0",
            "fd42::1;reboot",
            "10.0.0.1/33",
            "-fd42::1",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn network_clears_host_bits() {
        assert_eq!(
            Cidr::parse("fd42:1::11/64").unwrap().network().to_string(),
            "fd42:1::/64"
        );
        assert_eq!(
            Cidr::parse("10.9.8.7/16").unwrap().network().to_string(),
            "10.9.0.0/16"
        );
        assert_eq!(
            Cidr::default_route(Family::Ipv6).route_destination(),
            "default"
        );
    }

    #[test]
    fn device_names_are_checked() {
        for good in ["virbr0", "eth0.100", "br-lan", "wlp2s0"] {
            assert!(check_dev(good, "x").is_ok(), "{good}");
        }
        for bad in [
            "",
            "-x",
            "a b",
            "a/b",
            "a:b",
            "eth0@if4",
            "sixteen-chars-xx",
            "..",
            "a\nb",
        ] {
            assert!(check_dev(bad, "x").is_err(), "{bad:?}");
        }
    }
}
