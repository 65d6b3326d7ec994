"""The benchmark workload for pyinfra 3.x (bench/run); same tasks as ../converge/site.yml.

Only net.* sysctls: they are per network namespace; kernel.*/vm.*/fs.* would change the machine.
BENCH_SKIP_TAGS (comma-separated: sysctl, ip6tables) drops the same task groups that
bench/run drops for every tool while converge lacks the module.
"""

import os
from pathlib import Path

from pyinfra import host
from pyinfra.operations import files, iptables, server

SKIP = set(filter(None, os.environ.get("BENCH_SKIP_TAGS", "").split(",")))
TEMPLATES = Path(__file__).resolve().parent / "templates"
VARS = dict(
    inventory_hostname=host.name,
    ansible_host=host.data.ssh_hostname,
    lab_ipv4=host.data.lab_ipv4,
    bench_port=8080,
    bench_workers=4,
    bench_limits={"max_body": "1m", "timeout": 30, "keepalive": 75},
    bench_peers=["alpha", "bravo", "charlie", "delta", "echo"],
)

if "sysctl" not in SKIP:
    server.sysctl(
        name="IPv6 forwarding on",
        key="net.ipv6.conf.all.forwarding",
        value=1,
        persist=True,
        persist_file="/etc/sysctl.d/90-bench.conf",
    )
    server.sysctl(
        name="Keep accepting router advertisements while forwarding",
        key="net.ipv6.conf.default.accept_ra",
        value=2,
        persist=True,
        persist_file="/etc/sysctl.d/90-bench.conf",
    )

files.template(
    name="Application config",
    src=str(TEMPLATES / "app.conf.j2"),
    dest="/etc/bench-app.conf",
    mode="644",
    **VARS,
)
files.template(
    name="Peers config",
    src=str(TEMPLATES / "peers.conf.j2"),
    dest="/etc/bench-peers.conf",
    mode="644",
    **VARS,
)

for regexp, line, what in [
    ("^max_connections=.*$", "max_connections=512", "connections"),
    ("^max_open_files=.*$", "max_open_files=65536", "open files"),
    ("^max_rate=.*$", "max_rate=100", "request rate"),
]:
    files.line(name=f"Limit {what}", path="/etc/bench-limits.conf", line=regexp, replace=line)

if "ip6tables" not in SKIP:
    for port, what in [(22, "SSH"), (8080, "the application")]:
        iptables.rule(
            name=f"Allow {what} over IPv6",
            version=6,
            chain="INPUT",
            protocol="tcp",
            destination_port=port,
            jump="ACCEPT",
        )

server.shell(name="Read the host name", commands=["cat /etc/hostname"])
