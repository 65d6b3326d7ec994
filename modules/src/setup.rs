//! `setup`: gather facts about a host in one round trip.
//!
//! One shell script prints marked sections (`==hostname==`, `==os-release==`, `==addr==`…)
//! from `hostname`, `/etc/slackware-version`, `/etc/os-release`, `/etc/debian_version`,
//! `uname`, `id`, `getent`, `$HOME`, `env`, `ip -o addr show`, `ip -o link show`, the default
//! routes, `/proc/meminfo`, `/proc/cpuinfo`, `date`, the mount table with `stat -f`, `lsblk`
//! and `findmnt`, selinuxfs, and the files Ansible reads to detect containers and VMs; the
//! script never changes the host. Where converge differs from Ansible on purpose:
//! `service_mgr` is `bsdinit` on Slackware and `pkg_mgr` is `slackpkg` there, or `pkgtools`
//! when only pkgtools (`installpkg`) exist (the `service` and `package` modules use them), `service_mgr` does not read `/proc/1/comm`, and
//! `systemd-detect-virt` answers when none of Ansible's virtualization checks matched. [`parse`] turns that text into [`Facts`] (a pure function
//! tested with fixture outputs) and [`to_ansible_vars`] spells the facts the way playbooks
//! read them (`ansible_facts.os_family`, `ansible_default_ipv6.address`, `ansible_eth0`).
//! Idempotence: setup never changes anything; its plan is always "ok".
//!
//! ```yaml
//! - setup:
//!     filter: "ansible_default_ipv*"
//! ```

mod system;

use crate::args::StringList;
use crate::facts::{DefaultRoute, Facts, Interface, Mount, Selinux};
use crate::host::{Command, Host, HostError};
use crate::module::{Context, ModuleError, TypedModule};
use crate::Plan;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};
pub use system::{
    civil_from_days, detect_virtualization, getfqdn, parse_date_time, parse_env, parse_memory,
    parse_mounts, parse_passwd, parse_processor, parse_selinux, VirtInputs,
};

/// The script [`gather`] runs: every section starts with a `==NAME==` line.
///
/// `/sbin` and `/usr/sbin` are added to `PATH` because `ip` lives there on Slackware and a
/// non-root login shell does not have them.
pub const SCRIPT: &str = r#"echo '==env=='; env -0 2>/dev/null || env; echo
PATH="$PATH:/sbin:/usr/sbin:/bin:/usr/bin"; export PATH
echo '==hostname=='; hostname 2>/dev/null || cat /proc/sys/kernel/hostname 2>/dev/null
echo '==fqdn=='; hostname -f 2>/dev/null
echo '==nodename=='; uname -n
echo '==fqdn-lookup=='
set -- $(getent ahosts "$(uname -n)" 2>/dev/null | head -n 1)
[ -n "$1" ] && getent hosts "$1" 2>/dev/null | head -n 1
echo '==slackware-version=='; cat /etc/slackware-version 2>/dev/null
echo '==os-release=='; cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release 2>/dev/null
echo '==debian-version=='; cat /etc/debian_version 2>/dev/null
echo '==kernel=='; uname -r
echo '==kernel-version=='; uname -v
echo '==machine=='; uname -m
echo '==service-mgr=='
if [ -d /run/systemd/system ]; then echo systemd
elif [ -f /etc/rc.d/rc.M ]; then echo bsdinit
elif [ -e /sbin/openrc ]; then echo openrc
else echo sysvinit; fi
echo '==pkg-mgr=='
if command -v apt-get >/dev/null 2>&1; then echo apt
elif command -v slackpkg >/dev/null 2>&1 || [ -x /usr/sbin/slackpkg ]; then echo slackpkg
elif [ -x /sbin/installpkg ]; then echo pkgtools
elif [ -e /usr/bin/dnf5 ]; then echo dnf5
elif [ -e /usr/bin/dnf ] || [ -e /usr/bin/yum ]; then echo dnf
elif [ -e /usr/bin/zypper ]; then echo zypper
elif [ -e /usr/bin/pacman ]; then echo pacman
elif [ -e /sbin/apk ]; then echo apk
elif [ -e /usr/bin/emerge ]; then echo portage
elif [ -e /usr/bin/xbps-install ]; then echo xbps
else echo unknown; fi
echo '==user-id=='; id -un 2>/dev/null || whoami 2>/dev/null
echo '==user-dir=='; echo "$HOME"
echo '==passwd=='; getent passwd "$(id -un 2>/dev/null)" 2>/dev/null | head -n 1
echo '==link=='; ip -o link show 2>/dev/null
echo '==addr=='; ip -o addr show 2>/dev/null
echo '==route4=='; ip -4 route show default 2>/dev/null
echo '==route6=='; ip -6 route show default 2>/dev/null
echo '==meminfo=='
grep -E '^(MemTotal|MemFree|Buffers|Cached|SwapCached|SwapTotal|SwapFree):' /proc/meminfo 2>/dev/null
echo '==cpuinfo=='
grep -E '^(processor|vendor_id|model name|Processor|cpu|Vendor|physical id|core id|cpu cores|siblings|# processors|max thread id|ncpus active|machine)[[:space:]]*:' /proc/cpuinfo 2>/dev/null
echo '==nproc=='; nproc 2>/dev/null
echo '==date=='; date '+%Y %m %d %H %M %S %s %N %z %A %w %W %Z'
echo '==zones=='
y=$(date +%Y); date -d "$y-01-01 12:00" '+%z %Z' 2>/dev/null; date -d "$y-07-01 12:00" '+%z %Z' 2>/dev/null
m=/etc/mtab; [ -e $m ] || m=/proc/mounts
echo '==mounts=='; cat $m 2>/dev/null
echo '==statfs=='
set --
while read -r dev mnt fs rest; do
  case "$fs" in none) continue;; esac
  case "$dev" in /*|\\*|*:/*) ;; *) continue;; esac
  case "$mnt" in *\\[0-7][0-7][0-7]*) mnt=$(printf '%b' "$(printf '%s' "$mnt" | sed 's/\\\([0-7]\)/\\0\1/g')");; esac
  set -- "$@" "$mnt"
done < $m
[ $# -gt 0 ] && stat -f -c '%S %s %b %a %c %d %n' -- "$@" 2>/dev/null
set --
echo '==lsblk=='; lsblk --list --noheadings --paths --output NAME,UUID --exclude 2 2>/dev/null
echo '==findmnt=='; findmnt --list --noheadings --notruncate 2>/dev/null
echo '==selinux=='
if [ -r /sys/fs/selinux/enforce ]; then
  echo "enforce=$(cat /sys/fs/selinux/enforce)"
  echo "policyvers=$(cat /sys/fs/selinux/policyvers 2>/dev/null)"
  grep -E '^(SELINUX|SELINUXTYPE)=' /etc/selinux/config 2>/dev/null
fi
echo '==cgroup1=='; cat /proc/1/cgroup 2>/dev/null
echo '==environ1=='; tr '\0' '\n' 2>/dev/null < /proc/1/environ | grep '^container='
echo '==virt-files=='
for f in /proc/vz /proc/bc /proc/lve /.dockerenv /.dockerinit /proc/xen /dev/kvm; do
  [ -e $f ] && echo $f
done
echo '==systemd-container=='; cat /run/systemd/container 2>/dev/null
echo '==xen-capabilities=='; cat /proc/xen/capabilities 2>/dev/null
echo '==dmi=='
for k in product_name sys_vendor product_family bios_vendor; do
  [ -r /sys/devices/virtual/dmi/id/$k ] && echo "$k=$(cat /sys/devices/virtual/dmi/id/$k)"
done
echo '==vxid=='; grep '^VxID:' /proc/self/status 2>/dev/null
echo '==modules=='; cut -d' ' -f1 /proc/modules 2>/dev/null | grep -xE 'kvm|vboxdrv|virtio'
echo '==detect-virt=='; systemd-detect-virt 2>/dev/null
echo '==end=='
exit 0
"#;

/// The one command that gathers facts (a read: named ahead, it goes in the same request
/// as the first tasks' reads).
pub fn gather_command() -> Command {
    Command::shell(SCRIPT)
}

/// Gather facts with one command on `host`.
pub fn gather(host: &mut dyn Host) -> Result<Facts, HostError> {
    let output = host.run_read(&gather_command())?;
    Ok(parse(&output.stdout_text()))
}

/// The sections of the script's output, by name, in order of appearance.
fn sections(text: &str) -> Vec<(&str, Vec<&str>)> {
    let mut result: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        let marker = line
            .strip_prefix("==")
            .and_then(|rest| rest.strip_suffix("=="))
            .filter(|name| !name.is_empty() && !name.contains(' '));
        match (marker, result.last_mut()) {
            (Some(name), _) => result.push((name, Vec::new())),
            (None, Some((_, lines))) => lines.push(line),
            (None, None) => {}
        }
    }
    result
}

/// Turn the output of [`SCRIPT`] into facts. Missing sections leave fields empty.
pub fn parse(text: &str) -> Facts {
    let sections = sections(text);
    let section = |name: &str| -> Vec<&str> {
        sections
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, lines)| lines.clone())
            .unwrap_or_default()
    };
    let first = |name: &str| -> String {
        section(name)
            .iter()
            .map(|line| line.trim())
            .find(|line| !line.is_empty())
            .unwrap_or("")
            .to_string()
    };

    let mut facts = Facts {
        hostname: first("hostname"),
        ..Facts::default()
    };
    // `hostname` may print the FQDN on some systems; the short name is the first label.
    if let Some((short, _)) = facts.hostname.split_once('.') {
        facts.hostname = short.to_string();
    }
    facts.nodename = first("nodename");
    if facts.nodename.is_empty() {
        facts.nodename = first("hostname");
    } else {
        // Ansible's `hostname` is the node name's first label.
        facts.hostname = facts
            .nodename
            .split('.')
            .next()
            .unwrap_or_default()
            .to_string();
    }
    let fqdn = first("fqdn");
    facts.fqdn = if sections.iter().any(|(n, _)| *n == "fqdn-lookup") {
        // The reverse lookup Python's socket.getfqdn() does, which Ansible reports.
        getfqdn(&first("fqdn-lookup"), &facts.nodename)
    } else if fqdn.is_empty() || (fqdn == "localhost" && !facts.hostname.is_empty()) {
        first("hostname")
    } else {
        fqdn
    };

    let os_release = parse_os_release(&section("os-release"));
    let slackware = first("slackware-version");
    let debian_version = first("debian-version");
    set_distribution(&mut facts, &os_release, &slackware, &debian_version);

    facts.kernel = first("kernel");
    facts.kernel_version = first("kernel-version");
    facts.architecture = first("machine");
    facts.service_mgr = first("service-mgr");
    facts.pkg_mgr = first("pkg-mgr");
    facts.user_id = first("user-id");
    facts.user_dir = first("user-dir");
    facts.user = parse_passwd(&first("passwd"));
    facts.env = parse_env(&section("env").join("\n"));
    facts.memory = parse_memory(&section("meminfo"));
    facts.processor = parse_processor(&section("cpuinfo"), &first("nproc"), &facts.architecture);
    facts.date_time = parse_date_time(&first("date"), &section("zones"));
    facts.mounts = parse_mounts(
        &section("mounts"),
        &section("statfs"),
        &section("lsblk"),
        &section("findmnt"),
    );
    facts.selinux = parse_selinux(&section("selinux"));
    facts.virtualization = detect_virtualization(&VirtInputs {
        cgroup: section("cgroup1"),
        environ: section("environ1"),
        files: section("virt-files").into_iter().map(str::trim).collect(),
        systemd_container: first("systemd-container"),
        xen_capabilities: section("xen-capabilities"),
        dmi: section("dmi"),
        vxid: section("vxid"),
        cpuinfo: section("cpuinfo"),
        modules: section("modules").into_iter().map(str::trim).collect(),
        detect_virt: first("detect-virt"),
    });
    facts.interfaces = parse_interfaces(&section("link"), &section("addr"));
    facts.default_ipv4 = parse_default_route(&section("route4"));
    facts.default_ipv6 = parse_default_route(&section("route6"));
    facts
}

/// `KEY=value` pairs of an os-release file, quotes removed.
fn parse_os_release(lines: &[&str]) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|line| {
            let line = line.trim();
            if line.starts_with('#') {
                return None;
            }
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            Some((key.trim().to_string(), value.replace("\\\"", "\"")))
        })
        .collect()
}

/// Ansible's spelling of an os-release `ID`.
fn distribution_name(id: &str) -> String {
    match id {
        "debian" => "Debian".into(),
        "ubuntu" => "Ubuntu".into(),
        "raspbian" => "Debian".into(),
        "linuxmint" => "Linux Mint".into(),
        "devuan" => "Devuan".into(),
        "kali" => "Kali".into(),
        "pop" => "Pop!_OS".into(),
        "slackware" => "Slackware".into(),
        "rhel" => "RedHat".into(),
        "centos" => "CentOS".into(),
        "fedora" => "Fedora".into(),
        "almalinux" => "AlmaLinux".into(),
        "rocky" => "Rocky".into(),
        "ol" => "OracleLinux".into(),
        "amzn" => "Amazon".into(),
        "arch" => "Archlinux".into(),
        "alpine" => "Alpine".into(),
        "gentoo" => "Gentoo".into(),
        "opensuse-leap" => "openSUSE Leap".into(),
        "opensuse-tumbleweed" => "openSUSE Tumbleweed".into(),
        "sles" => "SLES".into(),
        "void" => "Void".into(),
        other => {
            let mut chars = other.chars();
            match chars.next() {
                Some(c) => c.to_uppercase().chain(chars).collect(),
                None => String::new(),
            }
        }
    }
}

/// Ansible's `os_family` for a distribution, with `ID_LIKE` as the fallback.
fn os_family(distribution: &str, id_like: &str) -> String {
    let family = match distribution {
        "Debian" | "Ubuntu" | "Linux Mint" | "Devuan" | "Kali" | "Pop!_OS" => "Debian",
        "RedHat" | "CentOS" | "Fedora" | "AlmaLinux" | "Rocky" | "OracleLinux" | "Amazon" => {
            "RedHat"
        }
        "Slackware" => "Slackware",
        "Archlinux" => "Archlinux",
        "Alpine" => "Alpine",
        "Gentoo" => "Gentoo",
        "SLES" | "openSUSE Leap" | "openSUSE Tumbleweed" => "Suse",
        _ => "",
    };
    if !family.is_empty() {
        return family.to_string();
    }
    let like: Vec<&str> = id_like.split_whitespace().collect();
    if like.iter().any(|id| *id == "debian" || *id == "ubuntu") {
        "Debian".into()
    } else if like
        .iter()
        .any(|id| matches!(*id, "rhel" | "fedora" | "centos"))
    {
        "RedHat".into()
    } else if like.iter().any(|id| id.starts_with("suse")) {
        "Suse".into()
    } else if like.contains(&"arch") {
        "Archlinux".into()
    } else {
        distribution.to_string()
    }
}

fn set_distribution(
    facts: &mut Facts,
    os_release: &[(String, String)],
    slackware: &str,
    debian_version: &str,
) {
    let get = |key: &str| {
        os_release
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    if let Some(rest) = slackware.strip_prefix("Slackware") {
        // "Slackware 15.0", "Slackware 15.0+" (-current); Ansible keeps the `+`.
        facts.distribution = "Slackware".into();
        facts.os_family = "Slackware".into();
        facts.distribution_version = rest.split_whitespace().next().unwrap_or("").to_string();
        let codename = get("VERSION_CODENAME");
        facts.distribution_release = if !codename.is_empty() {
            codename
        } else if facts.distribution_version.ends_with('+') {
            "current".into()
        } else {
            String::new()
        };
        return;
    }
    let id = get("ID");
    facts.distribution = distribution_name(&id);
    facts.os_family = os_family(&facts.distribution, &get("ID_LIKE"));
    facts.distribution_version = get("VERSION_ID");
    // Ansible reports Debian's point release (12.5) from /etc/debian_version; testing and
    // sid have a codename there ("trixie/sid") and keep VERSION_ID.
    if facts.distribution == "Debian"
        && id == "debian"
        && debian_version
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    {
        facts.distribution_version = debian_version.to_string();
    }
    facts.distribution_release = get("VERSION_CODENAME");
    if facts.distribution_release.is_empty() {
        facts.distribution_release = get("UBUNTU_CODENAME");
    }
}

/// The interface name of an `ip -o` line's second field (`eth0.100@eth0:` → `eth0.100`).
fn interface_name(field: &str) -> String {
    let name = field.trim_end_matches(':');
    name.split('@').next().unwrap_or(name).to_string()
}

/// Interfaces from `ip -o link show` (names, in kernel order) and `ip -o addr show`.
fn parse_interfaces(link: &[&str], addr: &[&str]) -> Vec<Interface> {
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut entry = |name: String| -> usize {
        match interfaces.iter().position(|i| i.name == name) {
            Some(index) => index,
            None => {
                interfaces.push(Interface {
                    name,
                    ..Interface::default()
                });
                interfaces.len() - 1
            }
        }
    };
    for line in link {
        let mut fields = line.split_whitespace();
        if let (Some(_), Some(name)) = (fields.next(), fields.next()) {
            entry(interface_name(name));
        }
    }
    let mut addresses: Vec<(usize, bool, String)> = Vec::new();
    for line in addr {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 4 {
            continue;
        }
        let index = entry(interface_name(fields[1]));
        match fields[2] {
            "inet" => addresses.push((index, false, fields[3].to_string())),
            "inet6" => addresses.push((index, true, fields[3].to_string())),
            _ => {}
        }
    }
    for (index, v6, address) in addresses {
        if v6 {
            interfaces[index].ipv6.push(address);
        } else {
            interfaces[index].ipv4.push(address);
        }
    }
    interfaces
}

/// The default route with the lowest metric from `ip route show default`.
fn parse_default_route(lines: &[&str]) -> Option<DefaultRoute> {
    let mut best: Option<(u64, DefaultRoute)> = None;
    let mut index = 0;
    while index < lines.len() {
        let line = lines[index].trim();
        index += 1;
        if !line.starts_with("default") {
            continue;
        }
        let mut route = DefaultRoute::default();
        let mut metric = 0u64;
        let mut protocol = None;
        scan_route_fields(line, &mut route, &mut metric, &mut protocol);
        // A multipath route lists its next hops on the following indented lines.
        while index < lines.len() && lines[index].trim_start().starts_with("nexthop") {
            if route.interface.is_empty() {
                scan_route_fields(lines[index].trim(), &mut route, &mut metric, &mut protocol);
            }
            index += 1;
        }
        if route.interface.is_empty() {
            continue;
        }
        // iproute2 omits `proto boot`, the protocol of routes added by hand or by scripts.
        route.protocol = Some(protocol.unwrap_or_else(|| "boot".to_string()));
        if best.as_ref().is_none_or(|(m, _)| metric < *m) {
            best = Some((metric, route));
        }
    }
    best.map(|(_, route)| route)
}

fn scan_route_fields(
    line: &str,
    route: &mut DefaultRoute,
    metric: &mut u64,
    protocol: &mut Option<String>,
) {
    let fields: Vec<&str> = line.split_whitespace().collect();
    for pair in fields.windows(2) {
        match pair[0] {
            "via" if route.gateway.is_none() => {
                // `via inet6 fe80::1` appears for IPv4 routes with an IPv6 next hop.
                route.gateway = Some(pair[1].to_string());
            }
            "dev" if route.interface.is_empty() => route.interface = pair[1].to_string(),
            "metric" => *metric = pair[1].parse().unwrap_or(0),
            "proto" if protocol.is_none() => *protocol = Some(pair[1].to_string()),
            _ => {}
        }
    }
    if route.gateway.as_deref() == Some("inet6") {
        if let Some(position) = fields.iter().position(|f| *f == "inet6") {
            route.gateway = fields.get(position + 1).map(|g| g.to_string());
        }
    }
}

/// The scope Linux gives an IPv6 address: `host`, `link` or `global`.
fn ipv6_scope(address: &str) -> &'static str {
    let lower = address.to_ascii_lowercase();
    if lower == "::1" {
        "host"
    } else if ["fe8", "fe9", "fea", "feb"]
        .iter()
        .any(|p| lower.starts_with(p))
    {
        "link"
    } else {
        "global"
    }
}

fn split_prefix(cidr: &str) -> (&str, &str) {
    cidr.split_once('/').unwrap_or((cidr, ""))
}

/// Netmask and network of an IPv4 address with prefix length, as Ansible shows them.
fn ipv4_details(cidr: &str) -> Value {
    let (address, prefix) = split_prefix(cidr);
    let mut entry = json!({"address": address, "prefix": prefix});
    if let (Ok(ip), Ok(bits)) = (address.parse::<std::net::Ipv4Addr>(), prefix.parse::<u32>()) {
        if bits <= 32 {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            let network = u32::from(ip) & mask;
            entry["netmask"] = json!(std::net::Ipv4Addr::from(mask).to_string());
            entry["network"] = json!(std::net::Ipv4Addr::from(network).to_string());
        }
    }
    entry
}

fn ipv6_details(cidr: &str) -> Value {
    let (address, prefix) = split_prefix(cidr);
    json!({"address": address, "prefix": prefix, "scope": ipv6_scope(address)})
}

/// The key Ansible uses for an interface's facts: `-` becomes `_` (`br-lan` → `br_lan`).
pub fn interface_key(name: &str) -> String {
    name.replace('-', "_")
}

fn default_route_value(route: &Option<DefaultRoute>, facts: &Facts, v6: bool) -> Value {
    let Some(route) = route else {
        return json!({});
    };
    let mut value = Map::new();
    value.insert("interface".into(), json!(route.interface));
    value.insert(
        "gateway".into(),
        json!(route.gateway.clone().unwrap_or_default()),
    );
    if let Some(protocol) = &route.protocol {
        value.insert("protocol".into(), json!(protocol));
    }
    let interface = facts.interfaces.iter().find(|i| i.name == route.interface);
    let address = interface.and_then(|i| {
        if v6 {
            i.ipv6
                .iter()
                .find(|a| ipv6_scope(split_prefix(a).0) == "global")
        } else {
            i.ipv4.first()
        }
    });
    if let Some(address) = address {
        let details = if v6 {
            ipv6_details(address)
        } else {
            ipv4_details(address)
        };
        if let Value::Object(details) = details {
            value.extend(details);
        }
    }
    Value::Object(value)
}

/// One `ansible_mounts` entry.
fn mount_value(mount: &Mount) -> Value {
    let mut value = json!({
        "mount": mount.mount,
        "device": mount.device,
        "fstype": mount.fstype,
        "options": mount.options,
        "dump": mount.dump,
        "passno": mount.passno,
        "uuid": mount.uuid,
    });
    if let Some(size) = &mount.size {
        value["size_total"] = json!(size.fragment_size * size.block_total);
        value["size_available"] = json!(size.fragment_size * size.block_available);
        value["block_size"] = json!(size.block_size);
        value["block_total"] = json!(size.block_total);
        value["block_available"] = json!(size.block_available);
        value["block_used"] = json!(size.block_total.saturating_sub(size.block_available));
        value["inode_total"] = json!(size.inode_total);
        value["inode_available"] = json!(size.inode_available);
        value["inode_used"] = json!(size.inode_total.saturating_sub(size.inode_available));
    }
    value
}

fn selinux_value(selinux: &Selinux) -> Value {
    let mut value = Map::new();
    let status = if selinux.status.is_empty() {
        "disabled"
    } else {
        &selinux.status
    };
    value.insert("status".into(), json!(status));
    for (key, field) in [
        ("mode", &selinux.mode),
        ("config_mode", &selinux.config_mode),
        ("type", &selinux.policy_type),
        ("policyvers", &selinux.policyvers),
    ] {
        if let Some(field) = field {
            value.insert(key.into(), json!(field));
        }
    }
    Value::Object(value)
}

/// The `ansible_facts` dictionary (keys without the `ansible_` prefix).
pub fn ansible_facts(facts: &Facts) -> Map<String, Value> {
    let major = facts
        .distribution_version
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end_matches('+')
        .to_string();
    let mut map = Map::new();
    let mut put = |key: &str, value: Value| {
        map.insert(key.to_string(), value);
    };
    put("hostname", json!(facts.hostname));
    put("fqdn", json!(facts.fqdn));
    put("os_family", json!(facts.os_family));
    put("distribution", json!(facts.distribution));
    put("distribution_version", json!(facts.distribution_version));
    put("distribution_major_version", json!(major));
    put("distribution_release", json!(facts.distribution_release));
    put("system", json!("Linux"));
    put("kernel", json!(facts.kernel));
    put("architecture", json!(facts.architecture));
    put("machine", json!(facts.architecture));
    put("service_mgr", json!(facts.service_mgr));
    put("pkg_mgr", json!(facts.pkg_mgr));
    put("user_id", json!(facts.user_id));
    put("user_dir", json!(facts.user_dir));
    put("nodename", json!(facts.nodename));
    put(
        "domain",
        json!(facts
            .fqdn
            .split_once('.')
            .map(|(_, domain)| domain)
            .unwrap_or("")),
    );
    put("kernel_version", json!(facts.kernel_version));
    if let Some(uid) = facts.user.uid {
        put("user_uid", json!(uid));
        put("user_gid", json!(facts.user.gid));
        put("user_gecos", json!(facts.user.gecos));
        put("user_shell", json!(facts.user.shell));
    }
    put("env", json!(facts.env));
    put(
        "mounts",
        Value::Array(facts.mounts.iter().map(mount_value).collect()),
    );
    put("selinux", selinux_value(&facts.selinux));
    let virt = &facts.virtualization;
    if !virt.kind.is_empty() {
        put("virtualization_type", json!(virt.kind));
        put("virtualization_role", json!(virt.role));
        put("virtualization_tech_guest", json!(virt.tech_guest));
        put("virtualization_tech_host", json!(virt.tech_host));
    }
    let memory = &facts.memory;
    if let Some(total) = memory.total {
        put("memtotal_mb", json!(total));
        put("memfree_mb", json!(memory.free));
        put("swaptotal_mb", json!(memory.swap_total));
        put("swapfree_mb", json!(memory.swap_free));
        let minus = |a: Option<u64>, b: Option<u64>| Some(a?.saturating_sub(b?));
        let nocache_free = (|| Some(memory.cached? + memory.free? + memory.buffers?))();
        put(
            "memory_mb",
            json!({
                "real": {"total": total, "used": minus(Some(total), memory.free), "free": memory.free},
                "nocache": {"free": nocache_free, "used": minus(Some(total), nocache_free)},
                "swap": {
                    "total": memory.swap_total,
                    "free": memory.swap_free,
                    "used": minus(memory.swap_total, memory.swap_free),
                    "cached": memory.swap_cached,
                },
            }),
        );
    }
    let cpu = &facts.processor;
    if !cpu.processor.is_empty() {
        put("processor", json!(cpu.processor));
        put("processor_count", json!(cpu.count));
        put("processor_cores", json!(cpu.cores));
        put("processor_threads_per_core", json!(cpu.threads_per_core));
        put("processor_vcpus", json!(cpu.vcpus));
        put("processor_nproc", json!(cpu.nproc));
    }
    if !facts.date_time.is_empty() {
        put("date_time", json!(facts.date_time));
    }
    put(
        "interfaces",
        json!(facts
            .interfaces
            .iter()
            .map(|i| i.name.clone())
            .collect::<Vec<_>>()),
    );
    put(
        "all_ipv4_addresses",
        json!(facts
            .interfaces
            .iter()
            .flat_map(|i| i.ipv4.iter())
            .map(|a| split_prefix(a).0)
            .filter(|a| !a.starts_with("127."))
            .collect::<Vec<_>>()),
    );
    put(
        "all_ipv6_addresses",
        json!(facts
            .interfaces
            .iter()
            .flat_map(|i| i.ipv6.iter())
            .map(|a| split_prefix(a).0)
            .filter(|a| *a != "::1")
            .collect::<Vec<_>>()),
    );
    put(
        "default_ipv4",
        default_route_value(&facts.default_ipv4, facts, false),
    );
    put(
        "default_ipv6",
        default_route_value(&facts.default_ipv6, facts, true),
    );
    for interface in &facts.interfaces {
        let mut value = Map::new();
        value.insert("device".into(), json!(interface.name));
        if let Some(first) = interface.ipv4.first() {
            value.insert("ipv4".into(), ipv4_details(first));
        }
        value.insert(
            "ipv4_secondaries".into(),
            Value::Array(
                interface
                    .ipv4
                    .iter()
                    .skip(1)
                    .map(|a| ipv4_details(a))
                    .collect(),
            ),
        );
        value.insert(
            "ipv6".into(),
            Value::Array(interface.ipv6.iter().map(|a| ipv6_details(a)).collect()),
        );
        map.insert(interface_key(&interface.name), Value::Object(value));
    }
    map
}

/// The variables playbooks read: `ansible_facts` plus every fact again at top level with
/// the `ansible_` prefix (`ansible_os_family`, `ansible_default_ipv6`, `ansible_eth0`).
pub fn to_ansible_vars(facts: &Facts) -> Map<String, Value> {
    let inner = ansible_facts(facts);
    let mut vars = Map::new();
    for (key, value) in &inner {
        vars.insert(format!("ansible_{key}"), value.clone());
    }
    vars.insert("ansible_facts".into(), Value::Object(inner));
    vars
}

/// Shell-style glob match supporting `*` and `?` (what `filter` accepts).
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Arguments of `setup`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupArgs {
    /// Accepted for Ansible compatibility; converge always gathers its one small set.
    pub gather_subset: Option<StringList>,
    /// Only return facts whose name matches one of these globs (`ansible_eth*`); the
    /// `ansible_` prefix is optional.
    pub filter: Option<StringList>,
    /// Accepted for Ansible compatibility and ignored: gathering is one short command.
    pub gather_timeout: Option<u64>,
}

/// The `setup` module.
pub struct Setup;

impl TypedModule for Setup {
    type Args = SetupArgs;
    const NAME: &'static str = "setup";
    const SUMMARY: &'static str =
        "Gather facts about the host (OS, service and package manager, addresses)";
    const EXAMPLES: &'static str = "- setup:\n- setup:\n    filter: \"ansible_default_ipv*\"\n";

    fn plan(args: SetupArgs, host: &mut dyn Host, _: &Context) -> Result<Plan, ModuleError> {
        let facts = gather(host)?;
        let mut inner = ansible_facts(&facts);
        if let Some(filter) = args.filter.filter(|f| !f.0.is_empty()) {
            inner.retain(|key, _| {
                let prefixed = format!("ansible_{key}");
                filter
                    .0
                    .iter()
                    .any(|pattern| glob_match(pattern, key) || glob_match(pattern, &prefixed))
            });
        }
        let mut plan = Plan::unchanged();
        plan.result
            .insert("ansible_facts".into(), Value::Object(inner));
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_fnmatch() {
        assert!(glob_match("ansible_eth*", "ansible_eth0"));
        assert!(glob_match("*ipv?", "default_ipv6"));
        assert!(!glob_match("ansible_eth*", "ansible_lo"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn multipath_and_metric_choose_a_route() {
        let lines = [
            "default via 192.0.2.1 dev eth1 proto dhcp src 192.0.2.9 metric 600",
            "default via 198.51.100.1 dev eth0 proto static metric 100",
        ];
        let route = parse_default_route(&lines).expect("a route");
        assert_eq!(route.interface, "eth0");
        assert_eq!(route.protocol.as_deref(), Some("static"));
        let multipath = [
            "default proto ra metric 1024 expires 1795sec pref medium",
            "\tnexthop via fe80::1 dev eth0 weight 1 ",
            "\tnexthop via fe80::2 dev eth1 weight 1 ",
        ];
        let route = parse_default_route(&multipath).expect("a route");
        assert_eq!(route.interface, "eth0");
        assert_eq!(route.gateway.as_deref(), Some("fe80::1"));
        assert_eq!(route.protocol.as_deref(), Some("ra"));
    }

    #[test]
    fn route_without_proto_is_boot() {
        let route = parse_default_route(&["default via 192.0.2.1 dev eth0 "]).expect("a route");
        assert_eq!(route.protocol.as_deref(), Some("boot"));
    }

    #[test]
    fn id_like_decides_unknown_distributions() {
        assert_eq!(os_family("Mx", "debian"), "Debian");
        assert_eq!(os_family("Nobara", "rhel fedora"), "RedHat");
        assert_eq!(distribution_name("mx"), "Mx");
    }
}
