"""A LAN of network namespaces for mDNS tests. Nothing is created in the host namespace:
bridges live in namespaces of their own, veths are created there and moved straight into
the node namespaces (the recipe of shared/netns/netns_lab.sh)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

PYRTC = [sys.executable, "-m", "pyrtc"]
T = TypeVar("T")


def until(ok: Callable[[T], bool], attempt: Callable[[], T], timeout: float = 120) -> T:
    """Run a discovery command again until its answer is the one `ok` waits for, or time is
    up; the caller asserts on the answer returned (the last one). Discovery listens for a
    fixed window: on a starved machine an answer may miss one window, not every window for
    two minutes. Only for what must be found: an absence cannot be awaited."""
    deadline = time.monotonic() + timeout
    while True:
        answer = attempt()
        if ok(answer) or time.monotonic() > deadline:
            return answer


def _ip(*args: str) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")


class Lab:
    def __init__(self, tag: str) -> None:
        self.prefix = f"prt{os.getpid() % 100000}{tag}"
        self.namespaces: list[str] = []
        self._veths = 0

    def ns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def _add_ns(self, name: str) -> str:
        full = self.ns(name)
        _ip("netns", "add", full)
        self.namespaces.append(full)
        subprocess.run(["ip", "netns", "exec", full, "sysctl", "-qw",
                        "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"],
                       capture_output=True)
        _ip("-n", full, "link", "set", "lo", "up")
        return full

    def bridge(self, name: str) -> str:
        full = self._add_ns(name)
        _ip("-n", full, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        _ip("-n", full, "link", "set", "br0", "up")
        return full

    def node(self, name: str) -> str:
        return self._add_ns(name)

    def plug(self, node: str, bridge: str, address: str, ifname: str = "veth0") -> None:
        """Connect `node` to `bridge` with `address` (CIDR) on a new interface `ifname`."""
        self._veths += 1
        peer = f"v{self._veths}"
        br, nd = self.ns(bridge), self.ns(node)
        _ip("-n", br, "link", "add", peer, "type", "veth", "peer", "name", ifname, "netns", nd)
        _ip("-n", br, "link", "set", peer, "master", "br0", "up")
        _ip("-n", nd, "addr", "add", address, "dev", ifname)
        _ip("-n", nd, "link", "set", ifname, "up")

    def popen(self, node: str, args: list[str], **kw: object) -> subprocess.Popen[str]:
        return subprocess.Popen(["ip", "netns", "exec", self.ns(node), *args], text=True, **kw)  # type: ignore[call-overload]

    def run(self, node: str, args: list[str], timeout: float = 30, **kw: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", self.ns(node), *args], capture_output=True,
                              text=True, timeout=timeout, **kw)  # type: ignore[call-overload]

    def pyrtc(self, node: str, *args: str, log_dir: Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return self.run(node, [*PYRTC, *args, "--log-dir", str(log_dir)], timeout=timeout)

    def close(self) -> None:
        for full in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", full], capture_output=True)
        self.namespaces.clear()


def make_lab(tag: str) -> Lab:
    """A lab, or a test failure that says why (never a silent pass)."""
    if os.geteuid() != 0:
        pytest.fail("mDNS tests need root to create network namespaces (ip netns); run the suite as root")
    lab = Lab(tag)
    try:
        lab.bridge("br")
    except (RuntimeError, FileNotFoundError) as exc:
        lab.close()
        pytest.fail(f"cannot create network namespaces here: {exc}")
    return lab


@contextlib.contextmanager
def flat_lan(tag: str, nodes: int) -> Iterator[Lab]:
    """Nodes n1..nN on one bridge, 10.77.0.1..N/24; removed afterwards."""
    lab = make_lab(tag)
    try:
        for i in range(1, nodes + 1):
            lab.node(f"n{i}")
            lab.plug(f"n{i}", "br", f"10.77.0.{i}/24")
        yield lab
    finally:
        lab.close()
