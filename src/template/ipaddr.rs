//! `ansible.utils.ipaddr`, `ipv4`, `ipv6` and `ipwrap`: the address queries roles use to
//! derive networks, prefixes and guest addresses from one `address/prefix` variable.
//!
//! The results follow ansible.utils 5 on netaddr (observed with ansible-core 2.19.14): an
//! input that is no address at all gives `false`; a query that does not apply to a valid
//! address (`'10.0.0.1' | ipaddr('public')`, `'192.168.1.0/24' | ipaddr('host')`) gives
//! none; on a list, both are dropped.

use minijinja::value::Value;
use minijinja::{Error, ErrorKind};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address with its prefix, as written (`192.168.1.5/24`, `fd42::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    address: IpAddr,
    prefix: u32,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().ok()?;
        let bits = bits(address);
        let prefix = match prefix {
            None => bits,
            Some(prefix) => match prefix.parse::<u32>() {
                Ok(prefix) if prefix <= bits => prefix,
                Ok(_) => return None,
                // A dotted netmask (`192.168.1.0/255.255.255.0`).
                Err(_) => {
                    let mask: Ipv4Addr = prefix.parse().ok()?;
                    let mask = u32::from(mask);
                    if mask.leading_ones() + mask.trailing_zeros() != 32 || bits != 32 {
                        return None;
                    }
                    mask.leading_ones()
                }
            },
        };
        Some(Cidr { address, prefix })
    }

    fn bits(&self) -> u32 {
        bits(self.address)
    }

    fn value(&self) -> u128 {
        match self.address {
            IpAddr::V4(v4) => u128::from(u32::from(v4)),
            IpAddr::V6(v6) => u128::from(v6),
        }
    }

    fn mask(&self) -> u128 {
        let host_bits = self.bits() - self.prefix;
        let all = if self.bits() == 128 {
            u128::MAX
        } else {
            (1u128 << self.bits()) - 1
        };
        if host_bits >= 128 {
            0
        } else {
            all & !((1u128 << host_bits) - 1)
        }
    }

    fn network(&self) -> u128 {
        self.value() & self.mask()
    }

    fn last(&self) -> u128 {
        self.network() | (!self.mask() & self.full())
    }

    fn full(&self) -> u128 {
        if self.bits() == 128 {
            u128::MAX
        } else {
            (1u128 << self.bits()) - 1
        }
    }

    fn size(&self) -> u128 {
        let host_bits = self.bits() - self.prefix;
        if host_bits >= 128 {
            u128::MAX
        } else {
            1u128 << host_bits
        }
    }

    fn address_of(&self, value: u128) -> IpAddr {
        match self.address {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(value as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(value)),
        }
    }

    fn with_prefix(&self, value: u128) -> String {
        format!("{}/{}", self.address_of(value), self.prefix)
    }

    fn is_private(&self) -> bool {
        let ranges: &[(&str, u32)] = match self.address {
            IpAddr::V4(_) => &[
                ("10.0.0.0", 8),
                ("100.64.0.0", 10),
                ("172.16.0.0", 12),
                ("192.0.0.0", 24),
                ("192.168.0.0", 16),
                ("198.18.0.0", 15),
                ("239.192.0.0", 14),
            ],
            IpAddr::V6(_) => &[("fc00::", 7), ("fec0::", 10)],
        };
        ranges.iter().any(|(network, prefix)| {
            let range = Cidr {
                address: network.parse().unwrap_or(self.address),
                prefix: *prefix,
            };
            range.prefix <= self.prefix && range.network() == (self.value() & range.mask())
        })
    }

    fn is_public(&self) -> bool {
        let special = match self.address {
            IpAddr::V4(v4) => {
                v4.is_loopback()
                    || v4.is_link_local()
                    || v4.is_multicast()
                    || v4.is_broadcast()
                    || v4.is_unspecified()
                    || v4.octets()[0] >= 240
            }
            IpAddr::V6(v6) => {
                v6.is_loopback()
                    || v6.is_multicast()
                    || v6.is_unspecified()
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        };
        !special && !self.is_private()
    }

    fn revdns(&self) -> String {
        match self.address {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                format!("{}.{}.{}.{}.in-addr.arpa.", o[3], o[2], o[1], o[0])
            }
            IpAddr::V6(v6) => {
                let hex = format!("{:032x}", u128::from(v6));
                let mut out: Vec<String> = hex.chars().rev().map(String::from).collect();
                out.push("ip6.arpa.".into());
                out.join(".")
            }
        }
    }
}

fn bits(address: IpAddr) -> u32 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// The query's answer for one valid address: `Some` value, or `None` when it does not apply.
fn answer(text: &str, cidr: &Cidr, query: &Value) -> Result<Option<Value>, Error> {
    if let Some(index) = query.as_i64() {
        let index = i128::from(index);
        let offset = if index >= 0 {
            index
        } else {
            cidr.size() as i128 + index
        };
        if offset < 0 || offset as u128 >= cidr.size() {
            return Ok(None);
        }
        return Ok(Some(Value::from(
            cidr.with_prefix(cidr.network() + offset as u128),
        )));
    }
    let query = query.as_str().unwrap_or_default();
    let text_value = || Value::from(text.trim());
    let number = |n: u128| Value::from(u64::try_from(n).unwrap_or(u64::MAX));
    let result = match query {
        "" => Some(text_value()),
        "address" | "ip" => Some(Value::from(cidr.address.to_string())),
        "network" => Some(Value::from(cidr.address_of(cidr.network()).to_string())),
        "prefix" => Some(Value::from(cidr.prefix)),
        "netmask" => Some(Value::from(cidr.address_of(cidr.mask()).to_string())),
        "broadcast" => Some(Value::from(cidr.address_of(cidr.last()).to_string())),
        "size" => Some(number(cidr.size())),
        "version" => Some(Value::from(if cidr.bits() == 32 { 4 } else { 6 })),
        "revdns" => Some(Value::from(cidr.revdns())),
        "subnet" => Some(Value::from(cidr.with_prefix(cidr.network()))),
        "cidr" | "host/prefix" | "address/prefix" => {
            Some(Value::from(cidr.with_prefix(cidr.value())))
        }
        "host" => (cidr.size() == 1 || cidr.value() != cidr.network())
            .then(|| Value::from(cidr.with_prefix(cidr.value()))),
        "net" => (cidr.size() > 1 && cidr.value() == cidr.network())
            .then(|| Value::from(cidr.with_prefix(cidr.network()))),
        "private" => cidr.is_private().then(text_value),
        "public" => cidr.is_public().then(text_value),
        "range_usable" => {
            let (first, last) = if cidr.size() > 2 && cidr.bits() == 32 {
                (cidr.network() + 1, cidr.last() - 1)
            } else {
                (cidr.network(), cidr.last())
            };
            Some(Value::from(format!(
                "{}-{}",
                cidr.address_of(first),
                cidr.address_of(last)
            )))
        }
        other => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("`ipaddr`: the query `{other}` is not built in converge"),
            ))
        }
    };
    Ok(result)
}

/// One value through the filter: `false` for no address (or the wrong version), none when
/// the query does not apply.
fn one(value: &Value, query: &Value, version: Option<u32>) -> Result<Value, Error> {
    let Some(text) = value.as_str() else {
        return Ok(Value::from(false));
    };
    let Some(cidr) = Cidr::parse(text) else {
        return Ok(Value::from(false));
    };
    if version.is_some_and(|bits| bits != cidr.bits()) {
        return Ok(Value::from(false));
    }
    Ok(answer(text, &cidr, query)?.unwrap_or(Value::from(())))
}

fn filter(value: &Value, query: Option<Value>, version: Option<u32>) -> Result<Value, Error> {
    let query = query.unwrap_or(Value::from(""));
    if value.as_str().is_none() {
        if let Ok(items) = value.try_iter() {
            let mut kept = Vec::new();
            for item in items {
                let answer = one(&item, &query, version)?;
                if !(answer.is_none() || answer.is_undefined() || answer == Value::from(false)) {
                    kept.push(answer);
                }
            }
            return Ok(Value::from(kept));
        }
    }
    one(value, &query, version)
}

/// `ipaddr(query)`.
pub(super) fn ipaddr(value: &Value, query: Option<Value>) -> Result<Value, Error> {
    filter(value, query, None)
}

/// `ipv4(query)`: only IPv4 addresses.
pub(super) fn ipv4(value: &Value, query: Option<Value>) -> Result<Value, Error> {
    filter(value, query, Some(32))
}

/// `ipv6(query)`: only IPv6 addresses.
pub(super) fn ipv6(value: &Value, query: Option<Value>) -> Result<Value, Error> {
    filter(value, query, Some(128))
}

/// `ipwrap`: IPv6 addresses in brackets (`[fd42::1]`, `[fd42::]/64`); anything else as is.
pub(super) fn ipwrap(value: &Value) -> Value {
    let wrap = |item: Value| -> Value {
        match item
            .as_str()
            .and_then(|text| Some((text, Cidr::parse(text)?)))
        {
            Some((text, cidr)) if cidr.bits() == 128 => match text.split_once('/') {
                Some((address, prefix)) => Value::from(format!("[{address}]/{prefix}")),
                None => Value::from(format!("[{text}]")),
            },
            _ => item,
        }
    };
    if value.as_str().is_none() {
        if let Ok(items) = value.try_iter() {
            return Value::from(items.map(wrap).collect::<Vec<_>>());
        }
    }
    wrap(value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(value: &str, query: Value) -> Value {
        ipaddr(&Value::from(value), Some(query)).unwrap()
    }

    /// Each row was observed with ansible-core 2.19.14, ansible.utils and netaddr.
    #[test]
    fn queries_give_what_ansible_utils_gives() {
        let rows: &[(&str, Value, Value)] = &[
            ("192.168.1.5/24", "network".into(), "192.168.1.0".into()),
            ("192.168.1.5/24", "address".into(), "192.168.1.5".into()),
            ("192.168.1.5/24", "prefix".into(), 24.into()),
            ("192.168.1.5/24", "netmask".into(), "255.255.255.0".into()),
            ("192.168.1.5/24", "host".into(), "192.168.1.5/24".into()),
            ("192.168.1.0/24", "host".into(), Value::from(())),
            ("192.168.1.5/24", "net".into(), Value::from(())),
            ("192.168.1.0/24", "net".into(), "192.168.1.0/24".into()),
            ("192.168.1.0/24", "size".into(), 256.into()),
            ("192.168.1.0/24", 5.into(), "192.168.1.5/24".into()),
            ("192.168.1.0/24", (-1).into(), "192.168.1.255/24".into()),
            ("fd42:1::/64", 1.into(), "fd42:1::1/64".into()),
            ("fd42:1::5/64", "network".into(), "fd42:1::".into()),
            ("10.0.0.1", "private".into(), "10.0.0.1".into()),
            ("8.8.8.8", "public".into(), "8.8.8.8".into()),
            ("10.0.0.1", "public".into(), Value::from(())),
            ("192.168.1.5", "".into(), "192.168.1.5".into()),
            ("junk", "".into(), false.into()),
            ("", "".into(), false.into()),
            (
                "192.168.1.5",
                "revdns".into(),
                "5.1.168.192.in-addr.arpa.".into(),
            ),
            (
                "fd42::1",
                "revdns".into(),
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.4.d.f.ip6.arpa.".into(),
            ),
            ("192.168.1.5/24", "broadcast".into(), "192.168.1.255".into()),
            ("192.168.1.5/24", "subnet".into(), "192.168.1.0/24".into()),
            ("192.168.1.5/24", "cidr".into(), "192.168.1.5/24".into()),
            ("192.168.1.5", "network".into(), "192.168.1.5".into()),
            ("192.168.1.5", "host".into(), "192.168.1.5/32".into()),
            ("fd42::1", "prefix".into(), 128.into()),
            ("fd42::1", "size".into(), 1.into()),
            (
                "192.168.1.5/24",
                "range_usable".into(),
                "192.168.1.1-192.168.1.254".into(),
            ),
        ];
        for (input, query, expected) in rows {
            assert_eq!(
                &q(input, query.clone()),
                expected,
                "{input} | ipaddr({query})"
            );
        }
    }

    #[test]
    fn versions_lists_and_wrapping() {
        let list = Value::from(vec!["192.168.1.1", "fd42::1", "junk"]);
        assert_eq!(
            ipaddr(&list, None).unwrap(),
            Value::from(vec!["192.168.1.1", "fd42::1"])
        );
        assert_eq!(ipv6(&list, None).unwrap(), Value::from(vec!["fd42::1"]));
        assert_eq!(
            ipv6(&Value::from("fd42:1::5/64"), Some("address".into())).unwrap(),
            Value::from("fd42:1::5")
        );
        assert_eq!(
            ipv4(&Value::from("fd42:1::5/64"), None).unwrap(),
            Value::from(false)
        );
        let nets = Value::from(vec!["192.168.1.0/24", "192.168.1.1/24"]);
        assert_eq!(
            ipaddr(&nets, Some("net".into())).unwrap(),
            Value::from(vec!["192.168.1.0/24"])
        );
        assert_eq!(ipwrap(&Value::from("fd42::1")), Value::from("[fd42::1]"));
        assert_eq!(
            ipwrap(&Value::from("fd42::/64")),
            Value::from("[fd42::]/64")
        );
        assert_eq!(
            ipwrap(&Value::from("192.168.1.5")),
            Value::from("192.168.1.5")
        );
    }
}
