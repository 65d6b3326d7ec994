#!/usr/bin/env bash
# slackware-host.sh — give a host of converge's lab (tests/lab/lab) the look of Slackware 15.0.
#
#   slackware-host.sh make STATE HOST [--fqdn NAME] [--user NAME]...   apply the Slackware look
#   slackware-host.sh show STATE HOST                                  what a fact gatherer sees
#
# Run as root from a converge checkout (it calls tests/lab/lab; LAB=/path/to/lab overrides).
# Everything happens inside HOST's own mount namespace and overlays; the machine's files are
# never changed. `tests/lab/lab down STATE` removes it all with the host.
#
# SOURCES (every Slackware file is taken verbatim with `git show COMMIT:PATH`, except where noted):
#   repository github:slackwarecn/slackware-loongarch64 (a mirror of the Slackware tree), bare git
#   in $SLK_GIT (a bare git mirror; without one, the staged copy in 15.0/ beside the script), commit $SLK_COMMIT
#   (default 0ff3062f77b274ce055065deebafb56ae9b15f09 = "Wed Feb 2 22:22:22 UTC 2022 / Slackware
#   15.0 x86_64 stable is released!"; the later a47ecd351042243773bd847317bb41588af9b5b9 is
#   2024 -current and works too):
#   - source/a/aaa_base/{slackware-version,os-release}   -> /etc (%ARCH% -> x86_64 and
#     VERSION_CODENAME=stable appended, as aaa_base.SlackBuild does for a stable release)
#   - source/a/pkgtools/scripts/{installpkg,removepkg,upgradepkg,makepkg,explodepkg,pkgtool}
#                                                        -> /sbin (= /usr/sbin, 0755)
#   - source/a/sysvinit-scripts/scripts/rc.{4,6,K,M,S,cpufreq,local,loop,sysvinit,modules,
#     modules.local}, inittab, default/cpufreq           -> /etc/rc.d (0755), rc.0 -> rc.6
#   - source/n/network-scripts/scripts/{rc.inet1,rc.inet2 (0755),rc.inet1.conf (0600),
#     rc.ip_forward (0644)}                                 -> /etc/rc.d
#   - source/a/etc/_etc/etc/profile.new                  -> /etc/profile (sources profile.d/*.sh
#     only when executable)
#   - extra/source/sendmail/_sendmail/etc/rc.d/rc.sendmail.new -> /etc/rc.d/rc.sendmail (0755:
#     the target user runs sendmail; 15.0 ships it in /extra)
#   - extra/source/sendmail/_sendmail/etc/mail/*.new (text ones) -> /etc/mail (doinst.sh config())
#   - extra/source/sendmail/{sendmail-slackware.mc,sendmail-slackware-tls.mc,
#     sendmail-slackware-tls-sasl.mc,linux.uucp.mc}     -> /usr/share/sendmail/cf/cf (as
#     SlackBuild-sendmail + SlackBuild-sendmail-cf put them)
#   - FILELIST.TXT: the names of every slackware64/*/*.txz (postfix left out: this user runs
#     sendmail) and extra/sendmail/*.txz -> header-only entries in /var/lib/pkgtools/packages
#   - source/n/dhcp/dhcp.SlackBuild: /etc/dhcpd.conf stub text, /var/state/dhcp/*.leases
# Built here, not copied: /etc/mail/sendmail.cf and submit.cf (m4 of sendmail-slackware.mc and
# cf/cf/submit.mc in Debian's sendmail-cf 8.17.1 tree, which is what SlackBuild-sendmail does
# with the same 8.17.1 cf tree), the .db maps (Debian's makemap/newaliases).
#
# WHAT THE HOST GETS (inside its mount namespace only)
#   - a private overlay on /usr (upper in STATE/hosts/HOST/slk/upper/usr; the lab's /usr/local
#     overlay is moved back on top), so packages can install into /usr, /usr/doc, /usr/sbin...
#   - /bin/sh -> bash (Slackware's /bin/sh is bash)
#   - Debian hints removed (whiteouts): /etc/debian_version /etc/init.d /etc/rc?.d /etc/systemd
#     /etc/default (cpufreq put back) /etc/dhcp /etc/apt /etc/dpkg /etc/network /etc/hostname
#     /etc/sysctl.conf /etc/sysctl.d/99-sysctl.conf /etc/mail (Slackware's put back)
#     /usr/lib/os-release /var/lib/dpkg /var/lib/apt, apt*/dpkg*/systemctl/update-rc.d/
#     invoke-rc.d/service commands. /run/systemd does not exist (the lab's /run is private).
#   - /var/lib/pkgtools/{packages,scripts,setup,douninst.sh}, /var/log/{packages,scripts,setup}
#     symlinks to ../lib/pkgtools/X, /var/log/pkgtools/removed_{packages,scripts}
#   - /etc/HOSTNAME with the FQDN and an /etc/hosts line for it (sendmail wants an FQDN)
#   - users given with --user: uid 1000.., primary group `users` (Slackware's useradd default)
#   - LAB-ONLY SHIMS (not Slackware): /usr/bin/pgrep, pkill and killall see only this host's
#     processes (lab hosts share the machine's PID namespace; rc.sendmail's `killall sendmail`
#     must not reach other labs). The real pgrep and killall are in /usr/lib/slk-lab/.
# STILL DEBIAN UNDERNEATH: every binary (bash 5.2, coreutils, tar 1.34, Debian's sendmail
# 8.17.1.9, ISC dhcpd 4.4.3 with Debian's compiled-in lease path /var/lib/dhcp, radvd, iptables
# 1.8.9 on nf_tables where 15.0 defaults to legacy), the kernel, the lab's sshd; no slackpkg, no
# init: "boot" means running the rc scripts' relevant lines by hand (never `sysctl --system`:
# non-net.* keys would change the machine). Slackware 14.2's pkgtools need tar-1.13 (Debian has
# none; they fall back to tar with malformed FILE LISTs), so only 15.0's are used.
# Staged copy: `slackware-host.sh stage DIR` copies the files below out of the mirror once.
set -euo pipefail
export LC_ALL=C

SLK_GIT=${SLK_GIT:-/nonexistent}
SLK_COMMIT=${SLK_COMMIT:-0ff3062f77b274ce055065deebafb56ae9b15f09}
# Without the git mirror, use the files staged from it (`stage DIR`) beside this script.
HERE=$(dirname "$(readlink -f "$0")")
if [ -z "${SLK_STAGED:-}" ] && ! [ -d "$SLK_GIT" ] && [ -f "$HERE/15.0/COMMIT" ]; then SLK_STAGED=$HERE/15.0; fi
SELF=$(readlink -f "$0")
die() { echo "slackware-host: $*" >&2; exit 1; }

lab_cmd() {
  local lab=${LAB:-tests/lab/lab}
  [ -x "$lab" ] || die "no lab script at $lab (run from a converge checkout or set LAB=)"
  readlink -f "$lab"
}

gshow() { git --git-dir="$SLK_GIT" show "$SLK_COMMIT:$1"; }

# ------------------------------------------------------------------ controller side: stage files
stage() {  # $1 = staging dir
  local s=$1 f
  rm -rf "$s"
  if [ -n "${SLK_STAGED:-}" ]; then   # files staged once before (shared/slackware/15.0)
    [ -f "$SLK_STAGED/COMMIT" ] || die "no staged Slackware files in $SLK_STAGED"
    cp -r "$SLK_STAGED" "$s"; return
  fi
  mkdir -p "$s"/{etc/rc.d,etc/mail,etc/default,sbin,cf}
  git --git-dir="$SLK_GIT" cat-file -e "$SLK_COMMIT^{commit}" 2>/dev/null ||
    die "commit $SLK_COMMIT not in $SLK_GIT (fetch github:slackwarecn/slackware-loongarch64)"
  gshow source/a/aaa_base/slackware-version >"$s/etc/slackware-version"
  gshow source/a/aaa_base/os-release | sed 's/%ARCH%/x86_64/g' >"$s/etc/os-release"
  echo "VERSION_CODENAME=stable" >>"$s/etc/os-release"
  for f in installpkg removepkg upgradepkg makepkg explodepkg pkgtool; do
    gshow "source/a/pkgtools/scripts/$f" >"$s/sbin/$f"
  done
  for f in rc.4 rc.6 rc.K rc.M rc.S rc.cpufreq rc.local rc.loop rc.sysvinit rc.modules rc.modules.local; do
    gshow "source/a/sysvinit-scripts/scripts/$f" >"$s/etc/rc.d/$f"
  done
  gshow source/a/sysvinit-scripts/scripts/inittab >"$s/etc/inittab"
  gshow source/a/sysvinit-scripts/default/cpufreq >"$s/etc/default/cpufreq"
  for f in rc.inet1 rc.inet2 rc.inet1.conf rc.ip_forward; do
    gshow "source/n/network-scripts/scripts/$f" >"$s/etc/rc.d/$f"
  done
  gshow source/a/etc/_etc/etc/profile.new >"$s/etc/profile"
  gshow extra/source/sendmail/_sendmail/etc/rc.d/rc.sendmail.new >"$s/etc/rc.d/rc.sendmail"
  for f in Makefile access aliases domaintable local-host-names mailertable statistics trusted-users virtusertable; do
    gshow "extra/source/sendmail/_sendmail/etc/mail/$f.new" >"$s/etc/mail/$f"
  done
  for f in sendmail-slackware.mc sendmail-slackware-tls.mc sendmail-slackware-tls-sasl.mc linux.uucp.mc; do
    gshow "extra/source/sendmail/$f" >"$s/cf/$f"
  done
  # a full install's package database (names only), as SlackBuilds.org assumes
  gshow FILELIST.TXT | awk '{print $NF}' |
    grep -E '^\./(slackware64/[a-z]+|extra/sendmail)/[^/]+\.txz$' |
    grep -v '/postfix-' | sed 's,.*/,,; s,\.txz$,,' | sort -u >"$s/packages.txt"
  [ "$(wc -l <"$s/packages.txt")" -gt 1000 ] || die "FILELIST.TXT gave too few packages"
  # dhcp.SlackBuild's /etc/dhcpd.conf.new
  printf '# dhcpd.conf\n#\n# Configuration file for ISC dhcpd (see '"'"'man dhcpd.conf'"'"')\n#\n' >"$s/etc/dhcpd.conf"
  echo "$SLK_COMMIT" >"$s/COMMIT"
}

# ------------------------------------------------------------------ host side (in its namespaces)
# lab shims: pgrep/pkill/killall limited to processes in this host's mount namespace
write_shims() {
  mkdir -p /usr/lib/slk-lab
  # the real pgrep and killall once (pkill is a symlink to pgrep: copy first, then remove all
  # three, so that no shim is ever written through that symlink)
  for f in pgrep killall; do
    [ -e "/usr/lib/slk-lab/$f" ] || cp -pL "/usr/bin/$f" "/usr/lib/slk-lab/$f"
  done
  rm -f /usr/bin/pgrep /usr/bin/pkill /usr/bin/killall
  cat >/usr/bin/pgrep <<'EOF'
#!/bin/bash
# LAB SHIM (not Slackware): pgrep limited to this lab host's processes (mount namespace).
me=$(readlink /proc/self/ns/mnt)
out=$(/usr/lib/slk-lab/pgrep "$@") || true
rc=1
while read -r pid rest; do
  [ -n "$pid" ] || continue
  [ "$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)" = "$me" ] || continue
  [ "$pid" = "$$" ] && continue
  if [ -n "$rest" ]; then echo "$pid $rest"; else echo "$pid"; fi
  rc=0
done <<<"$out"
exit $rc
EOF
  cat >/usr/bin/pkill <<'EOF'
#!/bin/bash
# LAB SHIM (not Slackware): pkill limited to this lab host's processes. Usage: pkill [-SIG] ARGS
sig=TERM
case ${1:-} in -[A-Z0-9]*) sig=${1#-}; shift ;; esac
pids=$(/usr/bin/pgrep "$@") || exit 1
kill -s "$sig" $pids
EOF
  cat >/usr/bin/killall <<'EOF'
#!/bin/bash
# LAB SHIM (not Slackware): killall limited to this lab host's processes.
# Usage: killall [-q] [-w] [-SIG | -s SIG] NAME...
sig=TERM quiet= wait= rc=0
while [ $# -gt 0 ]; do
  case $1 in
    -q) quiet=1; shift ;;
    -w) wait=1; shift ;;
    -s) sig=$2; shift 2 ;;
    -[A-Z0-9]*) sig=${1#-}; shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
for name in "$@"; do
  pids=$(/usr/bin/pgrep -x -- "$name") || { [ -n "$quiet" ] || echo "$name: no process found" >&2; rc=1; continue; }
  kill -s "$sig" $pids
  if [ -n "$wait" ]; then for p in $pids; do while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done; fi
done
exit $rc
EOF
  chmod 755 /usr/bin/pgrep /usr/bin/pkill /usr/bin/killall
}

inner_make() {  # runs inside the host: $1 = staging dir, $2 = slk dir, $3 = host, $4 = fqdn, rest = users
  local s=$1 slk=$2 host=$3 fqdn=$4; shift 4
  local users=("$@") f d
  # --- a private /usr for this host (the lab's /usr/local overlay moved back on top)
  if ! grep -q " /usr .* slk-$host-usr " /proc/self/mountinfo; then
    mkdir -p "$slk/upper/usr" "$slk/work/usr" "$slk/park"
    chown --reference=/usr "$slk/upper/usr"; chmod --reference=/usr "$slk/upper/usr"
    mount --move /usr/local "$slk/park"
    mount -t overlay "slk-$host-usr" -o "lowerdir=/usr,upperdir=$slk/upper/usr,workdir=$slk/work/usr" /usr
    mount --move "$slk/park" /usr/local
  fi
  # --- commands: pkgtools in /sbin, Debian's package/init tools gone, /bin/sh is bash
  for f in installpkg removepkg upgradepkg makepkg explodepkg pkgtool; do
    install -m 755 "$s/sbin/$f" "/sbin/$f"
  done
  for f in /usr/bin/apt /usr/bin/apt-get /usr/bin/apt-cache /usr/bin/apt-config /usr/bin/apt-mark \
           /usr/bin/apt-key /usr/bin/dpkg /usr/bin/dpkg-query /usr/bin/dpkg-deb /usr/bin/dpkg-divert \
           /usr/bin/dpkg-statoverride /usr/bin/dpkg-trigger /usr/bin/dpkg-split /usr/bin/dpkg-maintscript-helper \
           /usr/bin/systemctl /usr/bin/deb-systemd-helper /usr/bin/deb-systemd-invoke \
           /usr/sbin/update-rc.d /usr/sbin/invoke-rc.d /usr/sbin/service /usr/sbin/dpkg-reconfigure \
           /usr/sbin/dpkg-preconfigure /usr/lib/os-release; do
    rm -f "$f"
  done
  ln -sfn bash /usr/bin/sh
  write_shims
  # --- /etc: Debian's hints out, Slackware's files in (sendmail's helpfile is the same file)
  [ -e "$slk/helpfile" ] || { [ -r /etc/mail/helpfile ] && cp /etc/mail/helpfile "$slk/helpfile"; } || true
  for d in /etc/init.d /etc/rc0.d /etc/rc1.d /etc/rc2.d /etc/rc3.d /etc/rc4.d /etc/rc5.d /etc/rc6.d /etc/rcS.d \
           /etc/systemd /etc/default /etc/dhcp /etc/apt /etc/dpkg /etc/network /etc/iptables /etc/mail; do
    rm -rf "$d"
  done
  rm -f /etc/debian_version /etc/lsb-release /etc/hostname /etc/sysctl.conf /etc/sysctl.d/99-sysctl.conf
  mkdir -p /etc/sysctl.d
  install -m 644 "$s/etc/slackware-version" /etc/slackware-version
  install -m 644 "$s/etc/os-release" /etc/os-release
  install -m 644 "$s/etc/profile" /etc/profile
  install -m 644 "$s/etc/inittab" /etc/inittab
  install -D -m 644 "$s/etc/default/cpufreq" /etc/default/cpufreq
  install -m 644 "$s/etc/dhcpd.conf" /etc/dhcpd.conf
  mkdir -p /etc/rc.d/init.d /etc/rc.d/rc{0,1,2,3,4,5,6}.d
  for f in rc.4 rc.6 rc.K rc.M rc.S rc.cpufreq rc.local rc.loop rc.sysvinit rc.modules rc.modules.local rc.inet1 rc.inet2 rc.sendmail; do
    install -m 755 "$s/etc/rc.d/$f" "/etc/rc.d/$f"
  done
  install -m 600 "$s/etc/rc.d/rc.inet1.conf" /etc/rc.d/rc.inet1.conf
  install -m 644 "$s/etc/rc.d/rc.ip_forward" /etc/rc.d/rc.ip_forward
  ln -sfn rc.6 /etc/rc.d/rc.0
  echo "$fqdn" >/etc/HOSTNAME
  grep -q "[[:space:]]$fqdn[[:space:]]" /etc/hosts || sed -i -E "s/([[:space:]])$host\$/\1$fqdn $host/" /etc/hosts
  # --- sendmail (from /extra) as Slackware installs it
  mkdir -p /etc/mail
  for f in Makefile access aliases domaintable local-host-names mailertable statistics trusted-users virtusertable; do
    install -m 644 "$s/etc/mail/$f" "/etc/mail/$f"
  done
  [ -r "$slk/helpfile" ] && install -m 644 "$slk/helpfile" /etc/mail/helpfile
  for f in "$s"/cf/*.mc; do install -m 644 "$f" "/usr/share/sendmail/cf/cf/${f##*/}"; done
  (cd /usr/share/sendmail/cf/cf && m4 sendmail-slackware.mc >/usr/share/sendmail/sendmail-slackware.cf &&
     m4 ../m4/cf.m4 submit.mc >/etc/mail/submit.cf)
  install -m 644 /usr/share/sendmail/sendmail-slackware.cf /etc/mail/sendmail.cf
  for f in access mailertable virtusertable domaintable; do makemap hash "/etc/mail/$f" <"/etc/mail/$f"; done
  sendmail -bi >/dev/null 2>&1 || newaliases >/dev/null 2>&1 || true
  mkdir -p /var/spool/mqueue /var/spool/clientmqueue
  chown smmsp:smmsp /var/spool/clientmqueue 2>/dev/null || true
  chmod 770 /var/spool/clientmqueue
  # --- dhcp's state directory
  mkdir -p /var/state/dhcp
  touch /var/state/dhcp/dhcpd.leases /var/state/dhcp/dhcpd6.leases
  # --- the package database (15.0 layout)
  rm -rf /var/lib/dpkg /var/lib/apt /var/cache/apt /var/cache/debconf
  for d in packages scripts setup douninst.sh; do mkdir -p "/var/lib/pkgtools/$d"; chmod 755 "/var/lib/pkgtools/$d"; done
  mkdir -p /var/log/pkgtools/removed_packages /var/log/pkgtools/removed_scripts /var/log/pkgtools/removed_uninstall_scripts
  for d in packages scripts setup; do
    [ -L "/var/log/$d" ] || { rm -rf "/var/log/$d"; ln -s "../lib/pkgtools/$d" "/var/log/$d"; }
  done
  while read -r entry; do
    [ -e "/var/lib/pkgtools/packages/$entry" ] && continue
    printf 'PACKAGE NAME:     %s\nCOMPRESSED PACKAGE SIZE:     0K\nUNCOMPRESSED PACKAGE SIZE:     0K\nPACKAGE LOCATION: /mnt/slackware64/%s.txz\nPACKAGE DESCRIPTION:\nFILE LIST:\n' \
      "$entry" "$entry" >"/var/lib/pkgtools/packages/$entry"
  done <"$s/packages.txt"
  # --- users, Slackware style (primary group users, gid 100)
  local uid=1000
  for u in "${users[@]}"; do
    while getent passwd "$uid" >/dev/null; do uid=$((uid + 1)); done
    mkdir -p "$slk/skel"   # Slackware's /etc/skel is empty
    getent passwd "$u" >/dev/null || useradd -m -k "$slk/skel" -u "$uid" -g users -s /bin/bash "$u"
  done
  echo "slackware-host: $host now looks like $(cat /etc/slackware-version) ($(ls /var/log/packages/ | wc -l) packages in /var/log/packages)"
}

inner_show() {
  echo "slackware-version: $(cat /etc/slackware-version 2>/dev/null || echo -)"
  echo "os-release ID: $(. /etc/os-release 2>/dev/null; echo "${ID:-}") VERSION_ID=$(. /etc/os-release; echo "${VERSION_ID:-}") CODENAME=$(. /etc/os-release; echo "${VERSION_CODENAME:-}")"
  echo "debian_version: $([ -e /etc/debian_version ] && echo present || echo absent)"
  echo "/run/systemd/system: $([ -d /run/systemd/system ] && echo present || echo absent)"
  echo "/etc/rc.d/rc.M: $([ -f /etc/rc.d/rc.M ] && echo present || echo absent)"
  echo "apt-get: $(command -v apt-get || echo absent)  slackpkg: $(command -v slackpkg || echo absent)  /sbin/installpkg: $([ -x /sbin/installpkg ] && echo executable || echo absent)"
  echo "/bin/sh -> $(readlink -f /bin/sh)"
  echo "/var/log/packages -> $(readlink /var/log/packages) ($(ls /var/log/packages/ | wc -l) entries)"
  echo "rc.d: $(cd /etc/rc.d && for f in rc.*; do [ -x "$f" ] && printf '%s* ' "$f" || printf '%s ' "$f"; done)"
}

# ------------------------------------------------------------------ main
case ${1:-} in
  make)
    [ $# -ge 3 ] || die "usage: $0 make STATE HOST [--fqdn NAME] [--user NAME]..."
    state=$(cd "$2" && pwd -P); host=$3; shift 3
    fqdn=$host.home.arpa; users=()
    while [ $# -gt 0 ]; do
      case $1 in
        --fqdn) fqdn=$2; shift 2 ;;
        --user) users+=("$2"); shift 2 ;;
        *) die "unknown option $1" ;;
      esac
    done
    [ -d "$state/hosts/$host" ] || die "no host $host in the lab at $state"
    slk=$state/hosts/$host/slk
    mkdir -p "$slk"
    stage "$slk/src"
    # The host may not see this checkout (lab hosts have a private /tmp): run a copy kept in
    # the lab's state, which it does see.
    install -m 755 "$SELF" "$slk/slackware-host.sh"
    "$(lab_cmd)" exec "$state" "$host" bash "$slk/slackware-host.sh" _inner_make "$slk/src" "$slk" "$host" "$fqdn" "${users[@]}"
    ;;
  show)
    [ $# -eq 3 ] || die "usage: $0 show STATE HOST"
    state=$(cd "$2" && pwd -P)
    install -m 755 "$SELF" "$state/hosts/$3/slk/slackware-host.sh" 2>/dev/null || true
    "$(lab_cmd)" exec "$state" "$3" bash "$state/hosts/$3/slk/slackware-host.sh" _inner_show
    ;;
  stage) [ $# -eq 2 ] || die "usage: $0 stage DIR"; stage "$2" ;;
  _inner_make) shift; inner_make "$@" ;;
  _inner_show) inner_show ;;
  *) sed -n '2,8p' "$SELF" | sed 's/^# \{0,1\}//' >&2; exit 64 ;;
esac
