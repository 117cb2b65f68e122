"""Zero-config LAN, for real: zeroconf in processes inside network namespaces the test makes.
pytest itself never creates a Zeroconf, and nothing is sent on the host's interfaces."""

from __future__ import annotations

import json
import queue
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pyrtc.protocol import PROTOCOL_VERSION

from .netlab import PYRTC, Lab, flat_lan, make_lab, until

pytestmark = pytest.mark.mdns


@pytest.fixture
def lan() -> Iterator[Lab]:
    """Nodes n1..n4 on one bridge, 10.77.0.1-4/24."""
    with flat_lan("a", 4) as lab:
        yield lab


class Proc:
    """A process in a namespace whose stdout lines are collected by a thread."""

    def __init__(self, lab: Lab, node: str, args: list[str], *, stdin: bool = False) -> None:
        self.proc = lab.popen(node, args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1,
                              stdin=subprocess.PIPE if stdin else subprocess.DEVNULL)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self._pumping = threading.Thread(target=self._pump, daemon=True)
        self._pumping.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def expect(self, pred: Callable[[str], bool], timeout: float = 60) -> str:
        """The first line from now on that matches (the timeout is a safety net)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching line in {timeout} s; saw: {self.seen[-10:]}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line)
            if pred(line):
                return line

    def rest(self, timeout: float = 60) -> list[str]:
        """Every line not read yet, once the process has ended and its output is closed."""
        self.proc.wait(timeout)
        self._pumping.join(timeout)
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get_nowait())
        self.seen += rest
        return rest

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.proc.wait(timeout)


def start_server(lab: Lab, node: str, name: str, tmp: Path, *extra: str) -> tuple[Proc, int]:
    p = Proc(lab, node, [*PYRTC, "server", "--port", "0", "--name", name, "--data-dir",
                         str(tmp / f"data-{node}-{name}"), "--log-dir", str(tmp / f"logs-{node}"), *extra])
    # "pyrtc: …" is an error that stops the start, except the warning of a cluster's server on
    # a plain nats:// URL to another host (these tests' NATS is on a namespace's veth).
    line = p.expect(lambda s: "listening on" in s or ("pyrtc:" in s and "not encrypted" not in s))
    m = re.search(r"listening on [\d.]+:(\d+)", line)
    assert m, line
    return p, int(m.group(1))


def start_claimant(lab: Lab, node: str, name: str, tmp: Path, *, id_of: Path) -> tuple[Proc, int]:
    """A server with a certificate of its own and the id of the server whose data dir is
    `id_of`: an impostor, or a clone nobody can tell from the original by its id."""
    data = tmp / f"data-{node}-{name}"
    data.mkdir()
    shutil.copy(id_of / "server-id", data / "server-id")
    return start_server(lab, node, name, tmp)


def watcher(lab: Lab, node: str, tmp: Path, *extra: str) -> Proc:
    return Proc(lab, node, [*PYRTC, "servers", "--watch", "--json", "--log-dir", str(tmp / "wlogs"), *extra])


def event(kind: str, name: str, **fields: object) -> Callable[[str], bool]:
    def pred(line: str) -> bool:
        try:
            ev = json.loads(line)
        except ValueError:
            return False
        return ev.get("event") == kind and ev.get("name") == name and all(
            ev.get(k) == v for k, v in fields.items())
    return pred


def servers_json(lab: Lab, node: str, tmp: Path, *extra: str) -> list[dict[str, object]]:
    """What one `pyrtc servers` (a 2 s window) lists: for what must NOT be seen."""
    r = lab.pyrtc(node, "servers", "--json", "--timeout", "2", *extra, log_dir=tmp / "clogs")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]


def servers_seen(lab: Lab, node: str, tmp: Path, ok: Callable[[list[dict[str, object]]], bool],
                 *extra: str) -> list[dict[str, object]]:
    """The first `pyrtc servers` listing that `ok` accepts (listed again while it does not)."""
    return until(ok, lambda: servers_json(lab, node, tmp, *extra))


def named(*names: str) -> Callable[[list[dict[str, object]]], bool]:
    """A listing that holds (at least) these servers."""
    return lambda entries: set(names) <= {str(e["name"]) for e in entries}


def test_announced_server_resolves_with_address_port_and_txt(lan: Lab, tmp_path: Path) -> None:
    srv, port = start_server(lan, "n1", "Office", tmp_path)
    try:
        [entry] = servers_seen(lan, "n2", tmp_path, named("Office"))
        assert entry["name"] == "Office" and entry["addresses"] == ["10.77.0.1"]
        assert entry["port"] == port and entry["version"] == PROTOCOL_VERSION and entry["compatible"] is True
        assert entry["users"] == 0 and entry["rooms"] == 3
        assert re.fullmatch(r"[0-9a-f]{32}", str(entry["id"]))
    finally:
        assert srv.stop() == 0


def test_users_online_follows_joins_and_leaves(lan: Lab, tmp_path: Path) -> None:
    w = watcher(lan, "n2", tmp_path)
    srv, port = start_server(lan, "n1", "Office", tmp_path)
    try:
        w.expect(event("added", "Office", users=0))
        tail = lan.popen("n3", [*PYRTC, "tail", "--server", f"10.77.0.1:{port}", "--room", "General",
                                "--follow", "--name", "u1", "--log-dir", str(tmp_path / "t")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        w.expect(event("updated", "Office", users=1))
        tail.terminate()
        tail.wait(5)
        w.expect(event("updated", "Office", users=0))
    finally:
        srv.stop()
        w.stop()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_goodbye_on_clean_shutdown_removes_it(lan: Lab, tmp_path: Path, sig: int) -> None:
    # The watcher's TCP probe is made too slow to matter: only the goodbye can remove it.
    w = watcher(lan, "n2", tmp_path, "--probe-interval", "600")
    srv, _ = start_server(lan, "n1", "Office", tmp_path)
    try:
        w.expect(event("added", "Office"))
        assert srv.stop(sig) == 0
        w.expect(event("removed", "Office"))  # the probe, every 600 s, cannot be it
        assert "mDNS goodbye sent" in (tmp_path / "logs-n1" / "pyrtc-server.log").read_text()
    finally:
        w.stop()


PROBE_SNIFFER = textwrap.dedent("""
    import socket, struct, sys
    label = bytes([len(sys.argv[1])]) + sys.argv[1].encode()  # the instance name, as DNS writes it
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("", 5353))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                 socket.inet_aton("224.0.0.251") + socket.inet_aton(sys.argv[2]))
    print("listening", flush=True)
    while True:
        data = s.recv(9000)
        flags, _, _, authority = struct.unpack("!HHHH", data[2:10])
        if not flags & 0x8000 and authority and label in data:  # a query proposing the name
            print("probe", flush=True)
""")


def test_sigterm_during_start_up_still_says_goodbye(lan: Lab, tmp_path: Path) -> None:
    """SIGTERM while the server probes for its name (mDNS registration, ~1.5 s): it still
    exits cleanly, and if it got on the air, it says goodbye. The first probe, heard on the
    LAN, is the sign that the server is inside registration (its handlers are set before)."""
    w = watcher(lan, "n2", tmp_path, "--probe-interval", "600")
    sniffer = Proc(lan, "n4", [sys.executable, "-c", PROBE_SNIFFER, "Hasty", "10.77.0.4"])
    try:
        sniffer.expect(lambda s: s == "listening")
        p = Proc(lan, "n1", [*PYRTC, "server", "--port", "0", "--name", "Hasty", "--data-dir",
                             str(tmp_path / "d"), "--log-dir", str(tmp_path / "logs")])
        sniffer.expect(lambda s: s == "probe")
        assert p.stop(signal.SIGTERM) == 0
        log = (tmp_path / "logs" / "pyrtc-server.log").read_text()
        if "announced" in log:  # it got on the air: then the goodbye must have followed
            assert "mDNS goodbye sent" in log
            w.expect(event("removed", "Hasty"))
        assert servers_json(lan, "n3", tmp_path) == []
    finally:
        sniffer.stop()
        w.stop()


def test_killed_server_is_dropped_by_the_watchers_probe(lan: Lab, tmp_path: Path) -> None:
    """No goodbye: the watcher's TCP probe (every 2 s) finds it gone; the mDNS records alone
    would keep it listed for ~19 minutes."""
    w = watcher(lan, "n2", tmp_path)  # default probing
    srv, _ = start_server(lan, "n1", "Crashy", tmp_path)
    try:
        w.expect(event("added", "Crashy"))
        srv.stop(signal.SIGKILL)
        w.expect(event("removed", "Crashy"), timeout=120)
    finally:
        w.stop()


def test_three_servers_are_all_listed(lan: Lab, tmp_path: Path) -> None:
    procs = [start_server(lan, node, name, tmp_path)[0]
             for node, name in (("n1", "Alpha"), ("n3", "Beta"), ("n4", "Gamma"))]
    try:
        entries = servers_seen(lan, "n2", tmp_path, named("Alpha", "Beta", "Gamma"))
        assert sorted(e["name"] for e in entries) == ["Alpha", "Beta", "Gamma"]  # type: ignore[type-var]
        assert sorted(a for e in entries for a in e["addresses"]) == ["10.77.0.1", "10.77.0.3", "10.77.0.4"]  # type: ignore[attr-defined]
        human = until(lambda r: all(n in r.stdout for n in ("Alpha", "Beta", "Gamma")),
                      lambda: lan.pyrtc("n2", "servers", "--timeout", "2", log_dir=tmp_path / "h"))
        assert all(n in human.stdout for n in ("Alpha", "Beta", "Gamma"))
        # Without --pick, the send finds three and refuses to guess (a window that saw fewer
        # is tried again: that one may even have sent; no matter here).
        r = until(lambda r: "3 servers found" in r.stderr,
                  lambda: lan.pyrtc("n2", "send", "--room", "General", "--name", "x", "hi",
                                    "--browse-time", "2", log_dir=tmp_path / "s"))
        assert r.returncode == 1 and "3 servers found" in r.stderr and "--pick" in r.stderr
        r = until(lambda r: r.returncode == 0,
                  lambda: lan.pyrtc("n2", "send", "--room", "General", "--name", "x", "hi", "--pick", "beta",
                                    "--browse-time", "2", log_dir=tmp_path / "s"))
        assert r.returncode == 0, r.stderr
    finally:
        for p in procs:
            p.stop()


def test_same_name_twice_both_stay_reachable(lan: Lab, tmp_path: Path) -> None:
    a, _ = start_server(lan, "n1", "Twin", tmp_path)
    b, _ = start_server(lan, "n3", "Twin", tmp_path)
    try:
        entries = servers_seen(lan, "n2", tmp_path, lambda es: len(es) >= 2)
        assert len(entries) == 2 and {e["name"] for e in entries} == {"Twin"}
        instances = sorted(str(e["instance"]) for e in entries)
        assert instances[0] == "Twin" and instances[1] != "Twin" and instances[1].startswith("Twin")
        # The renamed one says so when it starts.
        assert any(f"announced as '{instances[1]}'" in line for line in a.seen + b.seen)
    finally:
        a.stop()
        b.stop()


LAUNCH = textwrap.dedent("""
    import asyncio, sys
    from pathlib import Path
    from pyrtc.discovery import find_or_host
    from pyrtc.server import ServerConfig

    async def never(entries):
        raise SystemExit("unexpected picker")

    async def main():
        cfg = ServerConfig(port=0, data_dir=Path(sys.argv[2]), name=sys.argv[3])
        launch = await find_or_host(addresses=[sys.argv[1]], pick=never, host_if_none=True,
                                    server_config=cfg)
        print("HOSTED" if launch.hosted else "FOUND", launch.address, flush=True)
        if launch.hosted and sys.argv[4] == "stay":
            await asyncio.sleep(3600)
        elif launch.hosted:
            await launch.hosted.close()  # with a goodbye: nobody else finds it afterwards
    asyncio.run(main())
""")


def test_zero_config_launch_hosts_and_others_find_it(lan: Lab, tmp_path: Path) -> None:
    first = Proc(lan, "n1", [sys.executable, "-c", LAUNCH, "10.77.0.1", str(tmp_path / "h1"), "Hosted", "stay"])
    try:
        assert first.expect(lambda s: s.startswith(("HOSTED", "FOUND", "Traceback"))).startswith("HOSTED")
        # Each of these browses for 1.5 s; one that heard nothing in its window goes again.
        second = until(lambda r: not r.stdout.startswith("HOSTED"), lambda: lan.run(
            "n4", [sys.executable, "-c", LAUNCH, "10.77.0.4", str(tmp_path / "h2"), "Other", "leave"]))
        assert second.stdout.startswith("FOUND 10.77.0.1:"), second.stdout + second.stderr
        r = until(lambda r: r.returncode == 0, lambda: lan.pyrtc(
            "n2", "send", "--room", "General", "--name", "bob", "through discovery", log_dir=tmp_path / "l"))
        assert r.returncode == 0, r.stderr
        r = until(lambda r: r.returncode == 0, lambda: lan.pyrtc(
            "n3", "tail", "--room", "General", "--json", log_dir=tmp_path / "l"))
        assert r.returncode == 0, r.stderr
        assert [json.loads(x)["text"] for x in r.stdout.splitlines()] == ["through discovery"]
    finally:
        first.stop()


def test_interface_choice_limits_announce_and_browse(tmp_path: Path) -> None:
    lab = make_lab("b")
    try:
        lab.bridge("br2")
        for node in ("multi", "left", "right"):
            lab.node(node)
        lab.plug("multi", "br", "10.77.0.10/24", "veth0")
        lab.plug("multi", "br2", "10.78.0.10/24", "veth1")
        lab.plug("left", "br", "10.77.0.2/24")
        lab.plug("right", "br2", "10.78.0.5/24")
        srv, _ = start_server(lab, "multi", "OnlyRight", tmp_path, "--interface", "10.78.0.10")
        try:
            right = servers_seen(lab, "right", tmp_path, named("OnlyRight"))
            assert [e["name"] for e in right] == ["OnlyRight"]
            assert servers_json(lab, "left", tmp_path) == []
        finally:
            srv.stop()
        far, _ = start_server(lab, "right", "FarSide", tmp_path)
        try:
            found = servers_seen(lab, "multi", tmp_path, named("FarSide"), "--interface", "10.78.0.10")
            assert [e["name"] for e in found] == ["FarSide"]
            # On the air, as just seen: yet not through the other interface.
            assert servers_json(lab, "multi", tmp_path, "--interface", "10.77.0.10") == []
        finally:
            far.stop()
    finally:
        lab.close()


def test_not_one_of_our_addresses_is_a_clear_error(lan: Lab, tmp_path: Path) -> None:
    r = lan.pyrtc("n1", "server", "--port", "0", "--interface", "10.99.0.1",
                  "--data-dir", str(tmp_path / "d"), log_dir=tmp_path / "l")
    assert r.returncode == 1 and "not an address of this machine" in r.stderr
    r = lan.pyrtc("n1", "servers", "--interface", "banana", log_dir=tmp_path / "l")
    assert r.returncode == 1 and "IPv4 address" in r.stderr
