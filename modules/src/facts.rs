//! Facts about a host, gathered in one round trip, used by modules and exposed to playbooks.

use serde::{Deserialize, Serialize};

/// One network interface and its addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    /// Kernel name (`eth0`, `virbr0`, `eth0.100`).
    pub name: String,
    /// IPv4 addresses with prefix length (`192.0.2.5/24`).
    pub ipv4: Vec<String>,
    /// IPv6 addresses with prefix length (`fd00::5/64`), link-local included.
    pub ipv6: Vec<String>,
}

/// A default route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRoute {
    /// Next hop, when there is one.
    pub gateway: Option<String>,
    /// Outgoing interface.
    pub interface: String,
    /// How the route was learnt (`ra`, `dhcp`, `static`, `kernel`…).
    pub protocol: Option<String>,
}

/// What converge knows about a host after gathering.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facts {
    /// Short host name.
    pub hostname: String,
    /// Fully qualified name (falls back to the host name).
    pub fqdn: String,
    /// `Debian`, `Slackware`, `RedHat`…, as Ansible spells it.
    pub os_family: String,
    /// `Debian`, `Ubuntu`, `Slackware`…
    pub distribution: String,
    /// `12`, `15.0`…
    pub distribution_version: String,
    /// `bookworm`…, empty when the OS has none.
    pub distribution_release: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Machine architecture (`uname -m`).
    pub architecture: String,
    /// `systemd`, `bsdinit` (Slackware's rc.d scripts) or `sysvinit`.
    pub service_mgr: String,
    /// `apt`, `slackpkg`, or `unknown`.
    pub pkg_mgr: String,
    /// The login user's name.
    pub user_id: String,
    /// The login user's home directory.
    pub user_dir: String,
    /// Network interfaces (loopback included).
    pub interfaces: Vec<Interface>,
    /// The IPv4 default route, if any.
    pub default_ipv4: Option<DefaultRoute>,
    /// The IPv6 default route, if any.
    pub default_ipv6: Option<DefaultRoute>,
}
