#!/usr/bin/python3
"""converge's benchmark against ansible-core, pyinfra and an OpenSSH floor (run by bench/run).

For every N in --hosts and every tool: a fresh lab of N hosts (tests/lab/lab), a first run
(which changes every host), a no-change run, then the lab is removed. The floor (N parallel
OpenSSH connections that each read the managed files once) runs on converge's lab after
converge's runs, when the files exist.

Measured per run:
  wall        /usr/bin/time's elapsed time of the tool's command
  ctl CPU     user+system CPU of every controller process: the command runs in its own cpuacct
              cgroup, so daemonized children (Ansible's ControlPersist masters) count too
  hosts CPU   user+system CPU of the lab's sshd listeners and everything they start (sessions,
              shells, python, sysctl...): the listeners are moved into a second cpuacct cgroup
  peak mem    the largest sum of PSS over the controller cgroup's processes (sampled every
              0.1 s) and the largest single process's peak RSS (/usr/bin/time %M)
  other load  CPU used by the rest of the machine meanwhile, in cores (from /proc/stat)
Only standard-library Python, run with the machine's /usr/bin/python3.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "tests/lab/lab"
WORKLOAD = ROOT / "bench/workload"
CGROOT = Path("/sys/fs/cgroup/cpuacct")
TASKS = {"sysctl": 2, "template": 2, "lineinfile": 3, "ip6tables": 2, "command": 1}
TOOLS = ["converge", "floor", "pyinfra", "ansible"]
TICK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


# ------------------------------------------------------------------ accounting
class Cgroup:
    def __init__(self, name):
        self.path = CGROOT / name
        self.path.mkdir(parents=True, exist_ok=True)

    def usage(self):  # seconds of CPU, all processes ever in the group
        return int((self.path / "cpuacct.usage").read_text()) / 1e9

    def pids(self):
        return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]

    def add(self, pid):
        (self.path / "cgroup.procs").write_text(str(pid))

    def remove(self):
        for pid in self.pids():  # back to the root group
            try:
                (CGROOT / "cgroup.procs").write_text(str(pid))
            except OSError:
                pass
        try:
            self.path.rmdir()
        except OSError as e:
            log(f"could not remove {self.path}: {e}")


def machine_cpu():  # seconds of non-idle CPU of the whole machine
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / TICK


def pss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().split("\n"):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class MemSampler(threading.Thread):
    def __init__(self, cg, exclude):
        super().__init__(daemon=True)
        self.cg, self.exclude, self.peak, self.stop = cg, exclude, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            total = sum(pss_kib(p) for p in self.cg.pids() if p not in self.exclude)
            self.peak = max(self.peak, total)
            self.stop.wait(0.1)


def loadavg():
    return Path("/proc/loadavg").read_text().split()[0]


# ------------------------------------------------------------------ the lab
class Lab:
    def __init__(self, state, n, hosts_cg):
        self.state, self.n = state, n
        if state.exists():
            subprocess.run([LAB, "down", state], capture_output=True)
        t = time.time()
        sh([LAB, "up", state, str(n)])
        self.hosts = []
        for line in (state / "hosts.txt").read_text().split("\n"):
            if line and not line.startswith("#"):
                name, v6, v4, pid = line.split()
                self.hosts.append((name, v6, v4))
                hosts_cg.add(int(pid))
        log(f"lab up: {n} hosts in {time.time() - t:.1f}s")

    def exec(self, host, cmd):
        return subprocess.run([LAB, "exec", self.state, host, "sh", "-c", cmd],
                              text=True, capture_output=True).stdout

    def down(self):
        subprocess.run([LAB, "down", self.state], capture_output=True)


def verify(lab, skip):
    """The first run's result on the first and last host: '' when right, else what is wrong."""
    wrong = []
    for host in {lab.hosts[0][0], lab.hosts[-1][0]}:
        out = lab.exec(host, "cat /etc/bench-limits.conf; grep -c . /etc/bench-app.conf /etc/bench-peers.conf;"
                       " cat /proc/sys/net/ipv6/conf/all/forwarding /proc/sys/net/ipv6/conf/default/accept_ra;"
                       " cat /etc/sysctl.d/90-bench.conf; ip6tables -S INPUT")
        need = ["max_connections=512", "max_open_files=65536", "max_rate=100", "/etc/bench-app.conf:11",
                "/etc/bench-peers.conf:27"]
        if "sysctl" not in skip:
            need += ["net.ipv6.conf.all.forwarding", "net.ipv6.conf.default.accept_ra"]
            lines = out.split("\n")
            if "1" not in lines or "2" not in lines:
                wrong.append(f"{host}: live sysctl values not set")
        if "ip6tables" not in skip:
            need += ["--dport 22 -j ACCEPT", "--dport 8080 -j ACCEPT"]
        wrong += [f"{host}: missing {w!r}" for w in need if w not in out]
    return "; ".join(wrong[:3]) + (f" (+{len(wrong) - 3} more)" if len(wrong) > 3 else "")


# ------------------------------------------------------------------ the tools
def converge_missing(converge):
    """Task groups converge cannot run yet (its module is still a placeholder)."""
    missing = []
    for module in ["sysctl", "ip6tables"]:
        out = subprocess.run([converge, "doc", module], text=True, capture_output=True).stdout
        if "not built yet" in out.split("\n")[0]:
            missing.append(module)
    return missing


def commands(tool, lab, n, skip, args, rundir):
    """(argv, env, cwd) for one run of a tool against lab."""
    env = dict(os.environ, LC_ALL="C.UTF-8")
    state = lab.state
    if tool == "converge":
        argv = [args.converge, "-i", state / "inventory.yml", WORKLOAD / "converge/site.yml",
                "--forks", str(n)]
        if skip:
            argv += ["--skip-tags", ",".join(skip)]
        return argv, env, ROOT
    if tool == "ansible":
        home = rundir / "ansible-home"
        (home / "cp").mkdir(parents=True, exist_ok=True)
        cfg = rundir / "ansible.cfg"
        cfg.write_text(f"""[defaults]
forks = {n}
host_key_checking = True
interpreter_python = /usr/bin/python3
retry_files_enabled = False
timeout = 30
local_tmp = {home}/tmp
[ssh_connection]
pipelining = True
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o KexAlgorithms=curve25519-sha256
control_path_dir = {home}/cp
""")
        env.update(ANSIBLE_CONFIG=str(cfg), ANSIBLE_HOME=str(home), ANSIBLE_NOCOLOR="1")
        argv = [Path(args.venv) / "bin/ansible-playbook", "-i", state / "inventory.yml",
                WORKLOAD / "ansible/site.yml"]
        if skip:
            argv += ["--skip-tags", ",".join(skip)]
        return argv, env, rundir
    if tool == "pyinfra":
        inv = rundir / "inventory.py"
        hosts = ",\n".join(f'    ("{name}", {{"ssh_hostname": "{v6}", "lab_ipv4": "{v4}"}})'
                           for name, v6, v4 in lab.hosts)
        inv.write_text(f"""lab = ([
{hosts}
], {{
    "ssh_user": "root",
    "ssh_port": 22,
    "ssh_key": "{state}/id_ed25519",
    "ssh_known_hosts_file": "{state}/known_hosts",
    "ssh_strict_host_key_checking": "yes",
    "ssh_allow_agent": False,
    "ssh_look_for_keys": False,
}})
""")
        env.update(BENCH_SKIP_TAGS=",".join(skip), PYINFRA_PROGRESS="off", NO_COLOR="1")
        argv = [Path(args.venv) / "bin/pyinfra", "-y", "--parallel", str(n), inv,
                WORKLOAD / "pyinfra/deploy.py"]
        return argv, env, rundir
    if tool == "floor":
        files = ["/etc/bench-app.conf", "/etc/bench-peers.conf", "/etc/bench-limits.conf", "/etc/hostname"]
        extra = ""
        if "sysctl" not in skip:
            files += ["/etc/sysctl.d/90-bench.conf", "/proc/sys/net/ipv6/conf/all/forwarding",
                      "/proc/sys/net/ipv6/conf/default/accept_ra"]
        if "ip6tables" not in skip:
            extra = "; ip6tables -S INPUT"
        remote = "cat " + " ".join(files) + extra
        script = rundir / "floor.sh"
        script.write_text("#!/bin/bash\n# N parallel OpenSSH connections, each reading the managed state once\n"
                          + "".join(f"ssh -F {state}/ssh_config -o KexAlgorithms=curve25519-sha256 {name} "
                                    f"'{remote}' >/dev/null &\n" for name, _, _ in lab.hosts)
                          + "fail=0\nfor j in $(jobs -p); do wait $j || fail=1; done\nexit $fail\n")
        return ["/bin/bash", script], env, rundir
    raise ValueError(tool)


def close_ansible_masters(rundir):
    """Close Ansible's ControlPersist masters so the next run starts cold."""
    cp = rundir / "ansible-home/cp"
    if cp.is_dir():
        for sock in cp.iterdir():
            subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "bench"],
                           capture_output=True)


def measure(tool, run, lab, n, skip, args, outdir, ctl_cg, hosts_cg):
    rundir = outdir / f"n{n}-{tool}"
    rundir.mkdir(parents=True, exist_ok=True)
    argv, env, cwd = commands(tool, lab, n, skip, args, rundir)
    timef = rundir / f"{run}.time"
    logf = rundir / f"{run}.log"
    load = loadavg()
    c0, h0, m0 = ctl_cg.usage(), hosts_cg.usage(), machine_cpu()
    t0 = time.monotonic()
    with open(logf, "w") as out:
        proc = subprocess.Popen(["/usr/bin/time", "-f", "%e %U %S %M", "-o", timef, *argv],
                                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                preexec_fn=lambda: ctl_cg.add(os.getpid()))
        sampler = MemSampler(ctl_cg, exclude={proc.pid})
        sampler.start()
        rc = proc.wait()
    t1 = time.monotonic()
    if tool == "ansible":
        close_ansible_masters(rundir)
    # let daemonized controller children and the hosts' sessions end before reading the counters
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (ctl_cg.pids() or len(hosts_cg.pids()) > n):
        time.sleep(0.05)
    sampler.stop.set()
    sampler.join()
    c1, h1, m1 = ctl_cg.usage(), hosts_cg.usage(), machine_cpu()
    waited = time.monotonic() - t1
    wall, _u, _s, maxrss = open(timef).read().split("\n")[-2].split()
    ctl, hosts = c1 - c0, h1 - h0
    r = dict(n=n, tool=tool, run=run, rc=rc, wall=float(wall), ctl_cpu=ctl, hosts_cpu=hosts,
             peak_pss_mib=sampler.peak / 1024, max_rss_mib=int(maxrss) / 1024,
             other_cores=max(0.0, (m1 - m0) - ctl - hosts) / (t1 - t0 + waited),
             load1=load, tasks=10 - sum(TASKS[g] for g in skip), log=str(logf))
    log(f"{tool:8} N={n:<4} {run:9} rc={rc} wall {r['wall']:.2f}s ctl {ctl:.2f}s hosts {hosts:.2f}s "
        f"mem {r['peak_pss_mib']:.1f}/{r['max_rss_mib']:.1f} MiB other {r['other_cores']:.2f} cores")
    if rc != 0:
        log(f"  {tool} failed: see {logf}: " + " | ".join(open(logf).read().strip().split("\n")[-3:]))
    return r


# ------------------------------------------------------------------ report
def fmt(x, d=2):
    return f"{x:.{d}f}"


def ratio(a, b):
    return f"{b / a:.1f}×" if a > 0 else "–"


def report(results, skip, outdir, notes, goal_lines):
    lines = []
    add = lines.append
    add(f"Tasks per host: {results[0]['tasks']}" + (f" (left out in every tool: {', '.join(skip)})" if skip else "") + ".")
    add("")
    add("| N | tool | run | wall s | controller CPU s | hosts CPU s | peak ctl mem MiB (PSS sum / largest RSS) "
        "| ctl CPU ms per host·task | hosts CPU ms per host | load1 before | other load, cores | ok |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        per = r["ctl_cpu"] * 1000 / (r["n"] * r["tasks"])
        add(f"| {r['n']} | {r['tool']} | {r['run']} | {fmt(r['wall'])} | {fmt(r['ctl_cpu'])} | {fmt(r['hosts_cpu'])} "
            f"| {fmt(r['peak_pss_mib'], 1)} / {fmt(r['max_rss_mib'], 1)} | {fmt(per, 2) if r['tool'] != 'floor' else '–'} "
            f"| {fmt(r['hosts_cpu'] * 1000 / r['n'], 0)} "
            f"| {r['load1']} | {fmt(r['other_cores'])} | {r.get('ok', '')} |")
    add("")
    add("converge compared (peer ÷ converge; for the floor, converge ÷ floor):")
    add("")
    add("| N | run | vs | wall | controller CPU | controller+hosts CPU | peak ctl mem (PSS) |")
    add("|---|---|---|---|---|---|---|")
    by = {(r["n"], r["tool"], r["run"]): r for r in results}
    for (n, tool, run), c in sorted(by.items()):
        if tool != "converge":
            continue
        for peer in ["floor", "pyinfra", "ansible"]:
            p = by.get((n, peer, run))
            if not p:
                continue
            if peer == "floor":
                add(f"| {n} | {run} | floor | {ratio(p['wall'], c['wall'])} of floor | {ratio(p['ctl_cpu'], c['ctl_cpu'])} "
                    f"| {ratio(p['ctl_cpu'] + p['hosts_cpu'], c['ctl_cpu'] + c['hosts_cpu'])} | {ratio(p['peak_pss_mib'], c['peak_pss_mib'])} |")
            else:
                add(f"| {n} | {run} | {peer} | {ratio(c['wall'], p['wall'])} | {ratio(c['ctl_cpu'], p['ctl_cpu'])} "
                    f"| {ratio(c['ctl_cpu'] + c['hosts_cpu'], p['ctl_cpu'] + p['hosts_cpu'])} | {ratio(c['peak_pss_mib'], p['peak_pss_mib'])} |")
    add("")
    for note in notes:
        add(f"- {note}")
    if goal_lines:
        add("")
        lines.extend(goal_lines)
    text = "\n".join(lines) + "\n"
    (outdir / "results.md").write_text(text)
    (outdir / "results.json").write_text(json.dumps({"skip": skip, "notes": notes, "results": results}, indent=1))
    return text


def goals(results):
    """Every goal of issue #13 against its figure, met or MISSED (no-change run, N = 100,
    unless said otherwise)."""
    by = {(r["n"], r["tool"], r["run"]): r for r in results}
    c, f = by.get((100, "converge", "no-change")), by.get((100, "floor", "no-change"))
    if not c:
        return []
    met = lambda ok: "met" if ok else "MISSED"
    out = ["Goals (no-change run, N = 100 unless said):", ""]
    if f:
        out.append(f"- within 1.5× of the floor: {c['wall'] / f['wall']:.2f}× → {met(c['wall'] <= 1.5 * f['wall'])}")
    for peer, want in [("pyinfra", 5), ("ansible", 50)]:
        p = by.get((100, peer, "no-change"))
        if p:
            x = p["wall"] / c["wall"]
            out.append(f"- ≥ {want}× faster than {peer}: {x:.1f}× → {met(x >= want)}")
    cf, pf = by.get((100, "converge", "first")), by.get((100, "pyinfra", "first"))
    if cf and pf:
        x = cf["wall"] / pf["wall"]
        out.append(f"- first run ≤ 0.4× pyinfra's: {x:.2f}× ({cf['wall']:.2f} s vs {pf['wall']:.2f} s) → {met(x <= 0.4)}")
    if f:
        x = c["hosts_cpu"] / f["hosts_cpu"] if f["hosts_cpu"] > 0 else float("inf")
        out.append(f"- hosts' CPU per host ≤ 2× the floor's: {c['hosts_cpu'] * 10:.1f} ms vs {f['hosts_cpu'] * 10:.1f} ms "
                   f"= {x:.2f}× → {met(x <= 2)}")
    conv = [r for r in results if r["tool"] == "converge" and r["run"] == "no-change"]
    peak = max(max(r["peak_pss_mib"], r["max_rss_mib"]) for r in conv)
    out.append(f"- peak controller memory ≤ 100 MiB at every N (up to N = {max(r['n'] for r in conv)}): "
               f"{peak:.1f} MiB → {met(peak <= 100)}")
    cores = os.cpu_count()
    out.append(f"- converge's CPU (controller {c['ctl_cpu']:.2f} s + hosts {c['hosts_cpu']:.2f} s) on {cores} shared cores "
               f"bounds its wall time from below at {(c['ctl_cpu'] + c['hosts_cpu']) / cores:.2f} s"
               + (f"; the floor's at {(f['ctl_cpu'] + f['hosts_cpu']) / cores:.2f} s" if f else ""))
    walls = sorted((r["n"], r["wall"]) for r in conv)
    fwalls = sorted((r["n"], r["wall"]) for r in results if r["tool"] == "floor")
    if len(walls) > 1:
        out.append("- floor wall per host: " + ", ".join(f"N={n}: {w * 1000 / n:.1f} ms" for n, w in fwalls))
        out.append("- converge no-change wall per host: " + ", ".join(f"N={n}: {w * 1000 / n:.1f} ms" for n, w in walls)
                   + " (linear growth = constant or falling per-host time)")
        (n0, w0), (n1, w1) = walls[0], walls[-1]
        big = [(n, w) for n, w in walls if n >= 100]
        if len(big) > 1:
            (a, wa), (b, wb) = big[0], big[-1]
            x = (wb / b) / (wa / a)
            out.append(f"- linear in N up to {b}: per-host time at N={b} is {x:.2f}× that at N={a} → {met(x <= 1.25)}")
    return out


# ------------------------------------------------------------------ main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", default="10,50,100", help="comma-separated host counts (default 10,50,100)")
    ap.add_argument("--scale-hosts", default="",
                    help="more host counts run for converge and the floor only (e.g. 200, for the linearity goal)")
    ap.add_argument("--scale-tools", default="converge,floor",
                    help="the tools run at the --scale-hosts counts (default converge,floor)")
    ap.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of " + ",".join(TOOLS))
    ap.add_argument("--venv", required=True)
    ap.add_argument("--converge", required=True)
    ap.add_argument("--out", help="results directory (default target/bench/<time>)")
    ap.add_argument("--skip", default="auto",
                    help="task groups (sysctl, ip6tables) to leave out in every tool: 'auto' (default) = those "
                         "whose converge module is not built yet, 'none', or a comma-separated list")
    ap.add_argument("--keep-lab", action="store_true", help="leave the last lab up (debugging)")
    args = ap.parse_args()
    args.venv, args.converge = Path(args.venv).resolve(), Path(args.converge).resolve()
    ns = [int(x) for x in args.hosts.split(",") if x]
    scale = [int(x) for x in args.scale_hosts.split(",") if x]
    if set(args.tools.split(",")) - set(TOOLS):
        sys.exit(f"unknown tool in --tools {args.tools}; choose from {','.join(TOOLS)}")
    outdir = Path(args.out or ROOT / "target/bench" / datetime.datetime.now().strftime("%Y%m%d-%H%M%S")).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    if args.skip == "auto":
        skip = converge_missing(args.converge)
    else:
        skip = [] if args.skip == "none" else args.skip.split(",")
        if set(skip) - {"sysctl", "ip6tables"}:
            sys.exit("--skip takes sysctl, ip6tables, auto or none")
    notes = []
    if skip and args.skip == "auto":
        notes.append(f"converge's {' and '.join(skip)} module(s) print 'not built yet': their tasks are skipped in every tool")
    uptime0 = sh(["uptime"]).strip()
    log(f"uptime before: {uptime0}")
    log(f"results in {outdir}; skipping task groups: {skip or 'none'}")
    tag = f"cvgbench-{os.getpid()}"
    ctl_cg, hosts_cg = Cgroup(f"{tag}-ctl"), Cgroup(f"{tag}-hosts")
    state = Path("/dev/shm") / tag
    results = []
    lab = None
    try:
        for n in ns + scale:
            tools = [t for t in TOOLS if t in args.tools.split(",") and (n not in scale or t in args.scale_tools.split(","))]
            lab_tools = [t for t in TOOLS if t != "floor" and (t in tools or (t == "converge" and "floor" in tools))]
            for tool in lab_tools:
                lab = Lab(state, n, hosts_cg)
                first = measure(tool, "first", lab, n, skip, args, outdir, ctl_cg, hosts_cg) if tool in tools else None
                if first:
                    first["ok"] = verify(lab, skip) or "ok"
                    if first["ok"] != "ok":
                        log(f"  verification: {first['ok']}")
                    results.append(first)
                    results.append(measure(tool, "no-change", lab, n, skip, args, outdir, ctl_cg, hosts_cg))
                if tool == "converge" and "floor" in tools:
                    if not first:  # the floor alone: let converge write the files first, unmeasured
                        measure("converge", "setup", lab, n, skip, args, outdir, ctl_cg, hosts_cg)
                    results.append(measure("floor", "no-change", lab, n, skip, args, outdir, ctl_cg, hosts_cg))
                if not (args.keep_lab and n == (ns + scale)[-1] and tool == lab_tools[-1]):
                    lab.down()
                    hosts_cg_pids = hosts_cg.pids()
                    if hosts_cg_pids:
                        log(f"processes left in the hosts cgroup after down: {hosts_cg_pids}")
                lab = None
    finally:
        if lab and not args.keep_lab:
            lab.down()
        ctl_cg.remove()
        hosts_cg.remove()
    uptime1 = sh(["uptime"]).strip()
    notes.append(f"uptime before: {uptime0}")
    notes.append(f"uptime after:  {uptime1}")
    notes.append(f"machine: {os.cpu_count()} cores, {sh(['uname', '-r']).strip()}; converge {sh([args.converge, '--version']).strip()}, "
                 f"{sh([Path(args.venv) / 'bin/ansible-playbook', '--version']).split(chr(10))[0]}, "
                 f"pyinfra {sh([Path(args.venv) / 'bin/pyinfra', '--version']).strip().split()[-1]}")
    text = report(results, skip, outdir, notes, goals(results))
    print(text)
    log(f"written: {outdir}/results.md, results.json, per-run logs")


if __name__ == "__main__":
    main()
