//! Pure parsers for the system sections of the setup script: mounts, SELinux, virtualization,
//! memory, processors, the clock, the environment, the account and the FQDN. Each follows the
//! Ansible 2.19 fact collector of the same name, so values keep Ansible's shapes.

use crate::facts::{Memory, Mount, MountSize, Processor, Selinux, User, Virtualization};
use std::collections::BTreeMap;

/// Decode the `\040`-style octal escapes the kernel writes in mount tables.
pub(crate) fn unescape_octal(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let digits = bytes.get(index + 1..index + 4);
        match digits {
            Some(d) if bytes[index] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)) => {
                let value = d.iter().fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                index += 4;
            }
            _ => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `ansible_mounts` from the mount table, `stat -f` lines (`frsize bsize blocks bavail files
/// ffree path`), `lsblk --list --paths --output NAME,UUID` and `findmnt --list` (bind mounts).
/// Entries Ansible skips (pseudo filesystems: a device not starting with `/` and not
/// `host:/path`, or type `none`) are skipped; a mount point listed twice keeps its first place
/// and its last entry.
pub fn parse_mounts(
    mtab: &[&str],
    statfs: &[&str],
    lsblk: &[&str],
    findmnt: &[&str],
) -> Vec<Mount> {
    let mut sizes: BTreeMap<String, MountSize> = BTreeMap::new();
    for line in statfs {
        let mut parts = line.splitn(7, ' ');
        let numbers: Vec<u64> = (0..6)
            .filter_map(|_| parts.next().and_then(|n| n.parse().ok()))
            .collect();
        let (Some(path), &[frsize, bsize, blocks, bavail, files, ffree]) =
            (parts.next(), &numbers[..])
        else {
            continue;
        };
        sizes.insert(
            path.to_string(),
            MountSize {
                fragment_size: frsize,
                block_size: bsize,
                block_total: blocks,
                block_available: bavail,
                inode_total: files,
                inode_available: ffree,
            },
        );
    }
    let mut uuids: BTreeMap<String, String> = BTreeMap::new();
    for line in lsblk {
        let mut fields = line.trim().rsplitn(2, char::is_whitespace);
        if let (Some(uuid), Some(device)) = (fields.next(), fields.next()) {
            uuids
                .entry(device.trim().to_string())
                .or_insert_with(|| uuid.trim().to_string());
        }
    }
    let binds: Vec<&str> = findmnt
        .iter()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() >= 2 && fields[1].contains(']')).then_some(fields[0])
        })
        .collect();
    let mut mounts: Vec<Mount> = Vec::new();
    for line in mtab {
        let fields: Vec<String> = line.split_whitespace().map(unescape_octal).collect();
        if fields.len() < 4 {
            continue;
        }
        let (device, mount, fstype) = (&fields[0], &fields[1], &fields[2]);
        let network = device.contains(":/");
        if (!device.starts_with(['/', '\\']) && !network) || fstype == "none" {
            continue;
        }
        let mut options = fields[3].clone();
        if binds.contains(&mount.as_str()) && !options.contains("bind") {
            options.push_str(",bind");
        }
        let number = |i: usize| fields.get(i).and_then(|n| n.parse().ok()).unwrap_or(0);
        let entry = Mount {
            mount: mount.clone(),
            device: device.clone(),
            fstype: fstype.clone(),
            options,
            dump: number(4),
            passno: number(5),
            size: sizes.get(mount).cloned(),
            uuid: uuids
                .get(device)
                .filter(|u| !u.is_empty())
                .cloned()
                .unwrap_or_else(|| "N/A".into()),
        };
        match mounts.iter_mut().find(|m| m.mount == entry.mount) {
            Some(existing) => *existing = entry,
            None => mounts.push(entry),
        }
    }
    mounts
}

/// SELinux from `enforce=`, `policyvers=` (selinuxfs, present only when enabled) and the
/// `SELINUX=`/`SELINUXTYPE=` lines of `/etc/selinux/config`.
pub fn parse_selinux(lines: &[&str]) -> Selinux {
    let get = |key: &str| {
        lines.iter().find_map(|line| {
            line.trim()
                .strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('='))
                .map(|v| v.trim().trim_matches('"').to_string())
        })
    };
    let Some(enforce) = get("enforce") else {
        return Selinux {
            status: "disabled".into(),
            ..Selinux::default()
        };
    };
    let mode = match enforce.as_str() {
        "1" => "enforcing",
        "0" => "permissive",
        _ => "unknown",
    };
    Selinux {
        status: "enabled".into(),
        mode: Some(mode.into()),
        config_mode: Some(
            get("SELINUX")
                .filter(|m| matches!(m.as_str(), "enforcing" | "permissive" | "disabled"))
                .unwrap_or_else(|| "unknown".into()),
        ),
        policy_type: Some(get("SELINUXTYPE").unwrap_or_else(|| "unknown".into())),
        policyvers: Some(
            get("policyvers")
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| "unknown".into()),
        ),
    }
}

/// What the setup script reads for virtualization detection.
#[derive(Debug, Default)]
pub struct VirtInputs<'a> {
    /// `/proc/1/cgroup`.
    pub cgroup: Vec<&'a str>,
    /// `container=` lines of `/proc/1/environ` (readable by root only).
    pub environ: Vec<&'a str>,
    /// Which of `/proc/vz /proc/bc /proc/lve /.dockerenv /.dockerinit /proc/xen /dev/kvm` exist.
    pub files: Vec<&'a str>,
    /// `/run/systemd/container`.
    pub systemd_container: String,
    /// `/proc/xen/capabilities`.
    pub xen_capabilities: Vec<&'a str>,
    /// `key=value` lines for the DMI `product_name`, `sys_vendor`, `product_family`, `bios_vendor`.
    pub dmi: Vec<&'a str>,
    /// The `VxID:` line of `/proc/self/status`.
    pub vxid: Vec<&'a str>,
    /// The filtered `/proc/cpuinfo` lines.
    pub cpuinfo: Vec<&'a str>,
    /// Loaded modules among `kvm`, `vboxdrv`, `virtio`.
    pub modules: Vec<&'a str>,
    /// `systemd-detect-virt` output (`none`, `kvm`, `docker`…), empty when absent.
    pub detect_virt: String,
}

/// Ansible's `LinuxVirtual.get_virtual_facts`, in its order (containers, then Xen, DMI,
/// VServer, cpuinfo, modules, `/dev/kvm`). converge adds one last step Ansible lacks: when
/// nothing matched, the answer of `systemd-detect-virt` before falling back to `NA`.
pub fn detect_virtualization(input: &VirtInputs) -> Virtualization {
    let mut guest: Vec<String> = Vec::new();
    let mut host: Vec<String> = Vec::new();
    let add = |list: &mut Vec<String>, tech: &str| {
        if !list.iter().any(|t| t == tech) {
            list.push(tech.to_string());
        }
    };
    let mut found_virt = false;
    let mut kind: Option<String> = None;
    let mut role: Option<String> = None;
    macro_rules! set {
        ($kind:expr, $role:expr) => {
            if !found_virt {
                kind = Some($kind.to_string());
                if let Some(r) = $role {
                    role = Some(String::from(r));
                }
                found_virt = true;
            }
        };
    }
    let exists = |path: &str| input.files.contains(&path);

    for line in &input.cgroup {
        if line.contains("/docker/") || docker_scope(line) {
            add(&mut guest, "docker");
            set!("docker", Some("guest"));
        }
        if line.contains("/lxc/") || line.contains("/machine.slice/machine-lxc") {
            add(&mut guest, "lxc");
            set!("lxc", Some("guest"));
        }
        if line.contains("/system.slice/containerd.service") {
            add(&mut guest, "containerd");
            set!("containerd", Some("guest"));
        }
    }
    for line in &input.environ {
        if line.contains("container=lxc") {
            add(&mut guest, "lxc");
            set!("lxc", Some("guest"));
        }
        if line.contains("container=podman") {
            add(&mut guest, "podman");
            set!("podman", Some("guest"));
        }
        if line.starts_with("container=") && line.len() > "container=".len() {
            add(&mut guest, "container");
            set!("container", Some("guest"));
        }
    }
    if exists("/proc/vz") && !exists("/proc/lve") {
        kind = Some("openvz".into());
        if exists("/proc/bc") {
            add(&mut host, "openvz");
            if !found_virt {
                role = Some("host".into());
            }
        } else {
            add(&mut guest, "openvz");
            if !found_virt {
                role = Some("guest".into());
            }
        }
        found_virt = true;
    }
    let systemd_container = input.systemd_container.trim();
    if !systemd_container.is_empty() {
        add(&mut guest, systemd_container);
        set!(systemd_container, Some("guest"));
    }
    if exists("/.dockerenv") || exists("/.dockerinit") {
        add(&mut guest, "docker");
        set!("docker", Some("guest"));
    }
    if guest.iter().any(|t| {
        matches!(
            t.as_str(),
            "docker" | "lxc" | "podman" | "openvz" | "containerd"
        )
    }) || !systemd_container.is_empty()
    {
        add(&mut guest, "container");
    }
    if exists("/proc/xen") {
        if input
            .xen_capabilities
            .iter()
            .any(|l| l.contains("control_d"))
        {
            add(&mut host, "xen");
            set!("xen", Some("host"));
        } else {
            set!("xen", Some("guest"));
        }
    }
    // From here Ansible sets the role to `guest` up front and drops it again if nothing is found.
    let role_before_dmi = role.clone();
    if !found_virt {
        role = Some("guest".into());
    }
    let dmi = |key: &str| {
        input
            .dmi
            .iter()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .map(str::trim)
            .unwrap_or("")
    };
    let (product, vendor, family, bios) = (
        dmi("product_name"),
        dmi("sys_vendor"),
        dmi("product_family"),
        dmi("bios_vendor"),
    );
    let mut dmi_tech: Vec<&str> = Vec::new();
    if matches!(
        product,
        "KVM" | "KVM Server" | "Bochs" | "AHV" | "CloudStack KVM Hypervisor"
    ) {
        dmi_tech.push("kvm");
    }
    if vendor == "oVirt" {
        dmi_tech.push("oVirt");
    }
    if vendor == "Red Hat" {
        if family == "RHV" {
            dmi_tech.push("RHV");
        } else if product == "RHEV Hypervisor" {
            dmi_tech.push("RHEV");
        }
    }
    if product.starts_with("VMware") {
        dmi_tech.push("VMware");
    }
    if matches!(product, "OpenStack Compute" | "OpenStack Nova") {
        dmi_tech.push("openstack");
    }
    if bios == "Xen" {
        dmi_tech.push("xen");
    }
    if bios == "innotek GmbH" {
        dmi_tech.push("virtualbox");
    }
    if matches!(bios, "Amazon EC2" | "DigitalOcean" | "Hetzner" | "Linode") {
        dmi_tech.push("kvm");
    }
    if matches!(
        vendor,
        "QEMU" | "Amazon EC2" | "DigitalOcean" | "Google" | "Scaleway" | "Nutanix"
    ) {
        dmi_tech.push("kvm");
    }
    match vendor {
        "KubeVirt" => dmi_tech.push("KubeVirt"),
        "Microsoft Corporation" => dmi_tech.push("VirtualPC"),
        "Parallels Software International Inc." => dmi_tech.push("parallels"),
        "OpenStack Foundation" => dmi_tech.push("openstack"),
        _ => {}
    }
    for tech in dmi_tech {
        add(&mut guest, tech);
        set!(tech, None::<&str>);
    }
    if !found_virt {
        role = role_before_dmi;
    }
    for line in &input.vxid {
        let Some(id) = line.strip_prefix("VxID:").map(str::trim) else {
            continue;
        };
        if id.parse::<u64>().is_err() {
            continue;
        }
        if id == "0" {
            add(&mut host, "linux_vserver");
            set!("linux_vserver", Some("host"));
        } else {
            add(&mut guest, "linux_vserver");
            set!("linux_vserver", Some("guest"));
        }
    }
    for line in &input.cpuinfo {
        let (key, value) = line.split_once(':').unwrap_or((line, ""));
        let (key, value) = (key.trim(), value.trim());
        let tech = match key {
            "model name" if value.contains("QEMU Virtual CPU") => "kvm",
            "vendor_id" if value.contains("User Mode Linux") => "uml",
            "model name" if value.contains("UML") => "uml",
            "machine" if value.contains("CHRP IBM pSeries (emulated by qemu)") => "kvm",
            "vendor_id" if value.contains("PowerVM Lx86") => "powervm_lx86",
            "vendor_id" if value.contains("IBM/S390") => "PR/SM",
            _ => continue,
        };
        add(&mut guest, tech);
        let role = if tech == "PR/SM" { "LPAR" } else { "guest" };
        set!(tech, Some(role));
    }
    if input.modules.contains(&"kvm") {
        add(&mut host, "kvm");
        set!("kvm", Some("host"));
    }
    if input.modules.contains(&"vboxdrv") {
        add(&mut host, "virtualbox");
        set!("virtualbox", Some("host"));
    }
    if input.modules.contains(&"virtio") {
        add(&mut host, "kvm");
        set!("kvm", Some("guest"));
    }
    if exists("/dev/kvm") {
        add(&mut host, "kvm");
        set!("kvm", Some("host"));
    }
    let detected = input.detect_virt.trim();
    if !found_virt && !detected.is_empty() && detected != "none" {
        set!(detected, Some("guest"));
    }
    let role = if found_virt { role } else { None };
    Virtualization {
        kind: kind.unwrap_or_else(|| "NA".into()),
        role: role.unwrap_or_else(|| "NA".into()),
        tech_guest: guest,
        tech_host: host,
    }
}

/// `/docker-<hex>.scope` in a cgroup path (Ansible's `/docker(/|-[0-9a-f]+\.scope)`).
fn docker_scope(line: &str) -> bool {
    line.match_indices("/docker-").any(|(at, _)| {
        let rest = &line[at + "/docker-".len()..];
        let hex = rest.chars().take_while(|c| c.is_ascii_hexdigit()).count();
        hex > 0 && rest[hex..].starts_with(".scope")
    })
}

/// `/proc/meminfo` lines, in MiB.
pub fn parse_memory(lines: &[&str]) -> Memory {
    let get = |key: &str| {
        lines.iter().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            (k == key)
                .then(|| v.split_whitespace().next()?.parse::<u64>().ok())
                .flatten()
                .map(|kib| kib / 1024)
        })
    };
    Memory {
        total: get("MemTotal"),
        free: get("MemFree"),
        buffers: get("Buffers"),
        cached: get("Cached"),
        swap_total: get("SwapTotal"),
        swap_free: get("SwapFree"),
        swap_cached: get("SwapCached"),
    }
}

/// Python's `round` on a ratio: halves go to the even neighbour.
fn round_half_even(numerator: u64, denominator: u64) -> u64 {
    if denominator == 0 {
        return 0;
    }
    let (quotient, remainder) = (numerator / denominator, numerator % denominator);
    match (remainder * 2).cmp(&denominator) {
        std::cmp::Ordering::Less => quotient,
        std::cmp::Ordering::Greater => quotient + 1,
        std::cmp::Ordering::Equal => quotient + quotient % 2,
    }
}

/// Processor facts from the filtered `/proc/cpuinfo` lines, `nproc` and `uname -m`, as
/// Ansible's `LinuxHardware.get_cpu_facts` computes them (Xen paravirt aside).
pub fn parse_processor(cpuinfo: &[&str], nproc: &str, architecture: &str) -> Processor {
    let mut processor = Vec::new();
    let (mut i, mut vendor_ids, mut model_names, mut processors) = (0u64, 0u64, 0u64, 0u64);
    // Ansible's physid/coreid start as the integer 0, distinct from any string id.
    let (mut physid, mut coreid) = (None::<String>, None::<String>);
    let mut sockets: Vec<(Option<String>, u64)> = Vec::new();
    let mut cores: Vec<(Option<String>, u64)> = Vec::new();
    let set = |map: &mut Vec<(Option<String>, u64)>, key: &Option<String>, value: u64| match map
        .iter_mut()
        .find(|(k, _)| k == key)
    {
        Some(entry) => entry.1 = value,
        None => map.push((key.clone(), value)),
    };
    let (mut zp, mut zmt) = (0u64, 0u64);
    for line in cpuinfo {
        let (key, value) = line.split_once(':').unwrap_or((line, ""));
        let (key, value) = (key.trim(), value.trim());
        match key {
            "model name" | "Processor" | "vendor_id" | "cpu" | "Vendor" | "processor" => {
                processor.push(value.to_string());
                match key {
                    "vendor_id" => vendor_ids += 1,
                    "model name" => model_names += 1,
                    "processor" => processors += 1,
                    _ => {}
                }
                i += 1;
            }
            "physical id" => {
                physid = Some(value.to_string());
                if !sockets.iter().any(|(k, _)| *k == physid) {
                    set(&mut sockets, &physid, 1);
                }
            }
            "core id" => {
                coreid = Some(value.to_string());
                // Ansible checks `sockets` here (sic), so a new core id is always added.
                if !sockets.iter().any(|(k, _)| *k == coreid) {
                    set(&mut cores, &coreid, 1);
                }
            }
            "cpu cores" => set(&mut sockets, &physid, value.parse().unwrap_or(0)),
            "siblings" => set(&mut cores, &coreid, value.parse().unwrap_or(0)),
            "# processors" => zp = value.parse().unwrap_or(0),
            "max thread id" => zmt = value.parse::<u64>().unwrap_or(0) + 1,
            "ncpus active" => i = value.parse().unwrap_or(i),
            _ => {}
        }
    }
    if vendor_ids > 0 && vendor_ids == model_names {
        i = vendor_ids;
    }
    if ["armv", "aarch", "ppc"]
        .iter()
        .any(|p| architecture.starts_with(p))
    {
        i = processors;
    }
    let nproc_value = nproc.trim().parse().ok();
    if architecture == "s390x" {
        return Processor {
            processor,
            count: 1,
            cores: round_half_even(zp, zmt),
            threads_per_core: zmt,
            vcpus: zp,
            nproc: nproc_value.unwrap_or(zp),
        };
    }
    let count = if sockets.is_empty() {
        i
    } else {
        sockets.len() as u64
    };
    let per_socket = sockets
        .first()
        .map(|(_, v)| *v)
        .filter(|v| *v > 0)
        .unwrap_or(1);
    let threads = match cores.first() {
        Some((_, siblings)) => round_half_even(*siblings, per_socket),
        None => round_half_even(1, per_socket),
    };
    Processor {
        processor,
        count,
        cores: per_socket,
        threads_per_core: threads,
        vcpus: threads * count * per_socket,
        nproc: nproc_value.unwrap_or(processors),
    }
}

/// Days since 1970-01-01 to a civil date `(year, month, day)` (Howard Hinnant's algorithm,
/// proleptic Gregorian calendar).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// UTC `YYYY-MM-DDTHH:MM:SS` of a Unix time.
fn utc_timestamp(epoch: i64) -> String {
    let (days, seconds) = (epoch.div_euclid(86_400), epoch.rem_euclid(86_400));
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds % 3600 / 60,
        seconds % 60
    )
}

/// `ansible_date_time` from one `date '+%Y %m %d %H %M %S %s %N %z %A %w %W %Z'` line and the
/// `%z %Z` of January and July 1st (to name the zone's daylight-saving abbreviation, Python's
/// `time.tzname[1]`). Empty when the line is missing or malformed.
pub fn parse_date_time(line: &str, zones: &[&str]) -> BTreeMap<String, String> {
    let mut facts = BTreeMap::new();
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [year, month, day, hour, minute, second, epoch, nanos, offset, weekday, weekday_number, weeknumber, tz @ ..] =
        fields.as_slice()
    else {
        return facts;
    };
    let Ok(epoch_number) = epoch.parse::<i64>() else {
        return facts;
    };
    let tz = tz.join(" ");
    // busybox `date` has no %N: it prints it literally.
    let micros = if nanos.len() >= 6 && nanos.chars().all(|c| c.is_ascii_digit()) {
        nanos[..6].to_string()
    } else {
        "000000".to_string()
    };
    let utc = utc_timestamp(epoch_number);
    let zone_offsets: Vec<(i64, &str)> = zones
        .iter()
        .filter_map(|l| {
            let (offset, name) = l.trim().split_once(' ')?;
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let digits = offset.trim_start_matches(['+', '-']);
            let value: i64 = digits.parse().ok()?;
            Some((sign * (value / 100 * 60 + value % 100), name.trim()))
        })
        .collect();
    let tz_dst = match zone_offsets.as_slice() {
        [(a, name_a), (b, name_b)] if a != b => {
            if a > b {
                name_a.to_string()
            } else {
                name_b.to_string()
            }
        }
        _ => tz.clone(),
    };
    let mut put = |key: &str, value: String| {
        facts.insert(key.to_string(), value);
    };
    put("year", year.to_string());
    put("month", month.to_string());
    put("weekday", weekday.to_string());
    put("weekday_number", weekday_number.to_string());
    put("weeknumber", weeknumber.to_string());
    put("day", day.to_string());
    put("hour", hour.to_string());
    put("minute", minute.to_string());
    put("second", second.to_string());
    put("epoch", epoch.to_string());
    put("epoch_int", epoch_number.to_string());
    put("date", format!("{year}-{month}-{day}"));
    put("time", format!("{hour}:{minute}:{second}"));
    put("iso8601_micro", format!("{utc}.{micros}Z"));
    put("iso8601", format!("{utc}Z"));
    put(
        "iso8601_basic",
        format!("{year}{month}{day}T{hour}{minute}{second}{micros}"),
    );
    put(
        "iso8601_basic_short",
        format!("{year}{month}{day}T{hour}{minute}{second}"),
    );
    put("tz", tz);
    put("tz_dst", tz_dst);
    put("tz_offset", offset.to_string());
    facts
}

/// The environment from `env -0` (NUL-separated, values may hold newlines) or, where `env`
/// has no `-0`, one `NAME=value` a line.
pub fn parse_env(text: &str) -> BTreeMap<String, String> {
    let entries: Vec<&str> = if text.contains('\0') {
        text.split('\0').collect()
    } else {
        text.lines().collect()
    };
    entries
        .into_iter()
        .map(|e| e.strip_prefix('\n').unwrap_or(e))
        .filter_map(|entry| {
            let (name, value) = entry.split_once('=')?;
            (!name.is_empty() && !name.contains(char::is_whitespace))
                .then(|| (name.to_string(), value.to_string()))
        })
        .collect()
}

/// The account entry of `getent passwd USER` (`name:x:uid:gid:gecos:dir:shell`).
pub fn parse_passwd(line: &str) -> User {
    let fields: Vec<&str> = line.trim_end().split(':').collect();
    if fields.len() < 7 {
        return User::default();
    }
    User {
        uid: fields[2].parse().ok(),
        gid: fields[3].parse().ok(),
        gecos: fields[4].to_string(),
        shell: fields[6].to_string(),
    }
}

/// Python's `socket.getfqdn()`: the first of the reverse lookup's name and aliases that holds a
/// dot, else its name; the node name when the lookup gave nothing. `lookup` is the
/// `getent hosts ADDRESS` line (`127.0.1.1 gw1.example.org gw1`).
pub fn getfqdn(lookup: &str, nodename: &str) -> String {
    let mut names = lookup.split_whitespace().skip(1);
    let Some(first) = names.next() else {
        return nodename.to_string();
    };
    std::iter::once(first)
        .chain(names)
        .find(|n| n.contains('.'))
        .unwrap_or(first)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_escapes_decode() {
        assert_eq!(unescape_octal(r"/mnt/my\040disk"), "/mnt/my disk");
        assert_eq!(unescape_octal(r"a\\b"), r"a\\b");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00");
        assert_eq!(utc_timestamp(1_796_602_994), "2026-12-07T00:23:14");
        assert_eq!(utc_timestamp(951_825_600), "2000-02-29T12:00:00");
    }

    #[test]
    fn python_rounding() {
        assert_eq!(round_half_even(1, 2), 0);
        assert_eq!(round_half_even(3, 2), 2);
        assert_eq!(round_half_even(2, 2), 1);
    }

    #[test]
    fn fqdn_as_python_finds_it() {
        assert_eq!(getfqdn("127.0.0.1 localhost", "vm"), "localhost");
        assert_eq!(
            getfqdn("127.0.1.1 gw1 gw1.lab.example.org", "gw1"),
            "gw1.lab.example.org"
        );
        assert_eq!(getfqdn("", "gw1"), "gw1");
    }

    #[test]
    fn docker_scopes() {
        assert!(docker_scope("0::/system.slice/docker-0123abc.scope"));
        assert!(!docker_scope("0::/system.slice/docker-.scope"));
    }
}
