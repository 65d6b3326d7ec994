//! Facts about a host, gathered in one round trip, used by modules and exposed to playbooks.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One mounted filesystem, as `ansible_mounts` lists it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Mount point (`/`, `/boot`), octal escapes of the mount table decoded.
    pub mount: String,
    /// Source device (`/dev/sda1`, `server:/export`).
    pub device: String,
    /// Filesystem type (`ext4`, `nfs`).
    pub fstype: String,
    /// Mount options (`rw,relatime`), with `,bind` added for bind mounts.
    pub options: String,
    /// The mount table's dump field.
    pub dump: u64,
    /// The mount table's pass field.
    pub passno: u64,
    /// Sizes from statvfs, when the mount point could be read.
    pub size: Option<MountSize>,
    /// Filesystem UUID from `lsblk`, or `N/A`.
    pub uuid: String,
}

/// statvfs numbers of a mount, named as Ansible names them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSize {
    /// Fragment size (`f_frsize`), the unit of the block counts.
    pub fragment_size: u64,
    /// Preferred block size (`f_bsize`), Ansible's `block_size`.
    pub block_size: u64,
    /// Blocks in the filesystem (`f_blocks`).
    pub block_total: u64,
    /// Blocks available to unprivileged users (`f_bavail`).
    pub block_available: u64,
    /// Inodes in the filesystem (`f_files`).
    pub inode_total: u64,
    /// Free inodes (`f_ffree`, which Linux also reports as `f_favail`).
    pub inode_available: u64,
}

/// SELinux state (`ansible_selinux`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selinux {
    /// `enabled` or `disabled`.
    pub status: String,
    /// `enforcing` or `permissive` when enabled.
    pub mode: Option<String>,
    /// The mode `/etc/selinux/config` asks for at boot.
    pub config_mode: Option<String>,
    /// Policy type (`targeted`).
    pub policy_type: Option<String>,
    /// Policy version.
    pub policyvers: Option<String>,
}

/// Virtualization as Ansible detects it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Virtualization {
    /// `docker`, `lxc`, `container`, `kvm`, `xen`… or `NA`.
    pub kind: String,
    /// `guest`, `host` or `NA`.
    pub role: String,
    /// Every guest technology seen, in the order detected.
    pub tech_guest: Vec<String>,
    /// Every host technology seen, in the order detected.
    pub tech_host: Vec<String>,
}

/// Memory from `/proc/meminfo`, in MiB (rounded down as Ansible does).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// `MemTotal`.
    pub total: Option<u64>,
    /// `MemFree`.
    pub free: Option<u64>,
    /// `Buffers`.
    pub buffers: Option<u64>,
    /// `Cached`.
    pub cached: Option<u64>,
    /// `SwapTotal`.
    pub swap_total: Option<u64>,
    /// `SwapFree`.
    pub swap_free: Option<u64>,
    /// `SwapCached`.
    pub swap_cached: Option<u64>,
}

/// Processor counts from `/proc/cpuinfo`, computed as Ansible computes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Processor {
    /// `ansible_processor`: index, vendor and model of each processor.
    pub processor: Vec<String>,
    /// Sockets.
    pub count: u64,
    /// Cores per socket.
    pub cores: u64,
    /// Threads per core.
    pub threads_per_core: u64,
    /// threads per core × cores × sockets.
    pub vcpus: u64,
    /// Processors this process may run on (`nproc`).
    pub nproc: u64,
}

/// The login user's account entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Numeric user id.
    pub uid: Option<u64>,
    /// Primary group id.
    pub gid: Option<u64>,
    /// GECOS field.
    pub gecos: String,
    /// Login shell.
    pub shell: String,
}

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
    /// Node name (`uname -n`), Ansible's `nodename`.
    pub nodename: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Kernel build string (`uname -v`).
    pub kernel_version: String,
    /// Machine architecture (`uname -m`).
    pub architecture: String,
    /// `systemd`, `bsdinit` (Slackware's rc.d scripts) or `sysvinit`.
    pub service_mgr: String,
    /// `apt`, `slackpkg`, `pkgtools` (Slackware without slackpkg), or `unknown`.
    pub pkg_mgr: String,
    /// The login user's name.
    pub user_id: String,
    /// The login user's home directory.
    pub user_dir: String,
    /// The login user's uid, gid, GECOS and shell.
    pub user: User,
    /// The environment the facts were gathered in (`ansible_env`).
    pub env: BTreeMap<String, String>,
    /// Mounted filesystems (`ansible_mounts`).
    pub mounts: Vec<Mount>,
    /// SELinux state.
    pub selinux: Selinux,
    /// Container or VM detection.
    pub virtualization: Virtualization,
    /// Memory sizes.
    pub memory: Memory,
    /// Processor counts.
    pub processor: Processor,
    /// `ansible_date_time`: the host's clock when facts were gathered, every value a string.
    pub date_time: BTreeMap<String, String>,
    /// Network interfaces (loopback included).
    pub interfaces: Vec<Interface>,
    /// The IPv4 default route, if any.
    pub default_ipv4: Option<DefaultRoute>,
    /// The IPv6 default route, if any.
    pub default_ipv6: Option<DefaultRoute>,
}
