"""Hosting is as quick as joining, and never a second chat: a bare `pyrtc` probes for the name
it would announce while it still browses for a chat to join (probes are questions: browsers
list nothing from them), and announces only once the browse found nothing. Real processes in
network namespaces on one bridge; what goes on the air is read by a sniffer on another node.
Every wait is for an event; the long browse window only makes room for the steps in it."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.discovery.netlab import PYRTC, Lab, flat_lan
from tests.discovery.test_mdns import Proc, start_server

pytestmark = pytest.mark.mdns

#: Prints "probe SRC" for a query proposing a PyRTC name (it carries records in its authority
#: section) and "announce SRC" for a response carrying PyRTC records.
SNIFFER = textwrap.dedent("""
    import socket, struct, sys
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind(("", 5353))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                 socket.inet_aton("224.0.0.251") + socket.inet_aton(sys.argv[1]))
    print("listening", flush=True)
    while True:
        data, (src, _) = s.recvfrom(9000)
        flags, _, answers, authority = struct.unpack("!HHHH", data[2:10])
        if b"_pyrtc" not in data:
            continue
        if not flags & 0x8000 and authority:
            print("probe", src, flush=True)
        elif flags & 0x8000 and answers:
            print("announce", src, flush=True)
""")

#: Long enough for the steps the test takes inside it on a starved machine (the default is 1.5 s).
BROWSE = "20"


@pytest.fixture
def lan() -> Iterator[Lab]:
    with flat_lan("q", 3) as lab:
        yield lab


def test_the_name_is_probed_for_while_browsing_and_a_chat_found_meanwhile_is_joined(
        lan: Lab, tmp_path: Path) -> None:
    sniffer = Proc(lan, "n3", [sys.executable, "-c", SNIFFER, "10.77.0.3"])
    procs = [sniffer]
    try:
        sniffer.expect(lambda s: s == "listening")
        lee = Proc(lan, "n1", ["env", f"PYRTC_SETTINGS={tmp_path}/n1/settings.json", *PYRTC, "--no-gui",
                               "--host-if-none", "--name", "Lee", "--browse-time", BROWSE,
                               "--data-dir", str(tmp_path / "n1" / "server"), "--log-dir", str(tmp_path / "n1" / "logs")],
                   stdin=True)
        procs.append(lee)
        for _ in range(3):  # mDNS probes three times: all of it while Lee is still browsing
            sniffer.expect(lambda s: s == "probe 10.77.0.1")
        # A chat appears now, inside Lee's browse window: Lee joins it, and never announces.
        srv, _ = start_server(lan, "n2", "Existing", tmp_path)
        procs.append(srv)
        lee.expect(lambda s: "you are Lee on 'Existing'" in s)
        assert not any("-- hosting" in s for s in lee.seen)
        lee.stop()
        procs.remove(lee)
        srv.stop()
        procs.remove(srv)
        sniffer.stop()
        while not sniffer.lines.empty():
            sniffer.seen.append(sniffer.lines.get_nowait())
        assert "announce 10.77.0.1" not in sniffer.seen  # no second chat, not even for a moment
        assert "announce 10.77.0.2" in sniffer.seen  # (the sniffer hears announcements)
    finally:
        for p in procs:
            p.stop()


def test_alone_it_hosts_and_announces_without_probing_again(lan: Lab, tmp_path: Path) -> None:
    sniffer = Proc(lan, "n3", [sys.executable, "-c", SNIFFER, "10.77.0.3"])
    ann = None
    try:
        sniffer.expect(lambda s: s == "listening")
        ann = Proc(lan, "n1", ["env", f"PYRTC_SETTINGS={tmp_path}/n1/settings.json", *PYRTC, "--no-gui",
                               "--host-if-none", "--name", "Ann", "--data-dir", str(tmp_path / "n1" / "server"),
                               "--log-dir", str(tmp_path / "n1" / "logs")], stdin=True)
        ann.expect(lambda s: "you are Ann" in s)
        heard = [sniffer.expect(lambda s: s.endswith("10.77.0.1")) for _ in range(4)]
        assert heard == ["probe 10.77.0.1"] * 3 + ["announce 10.77.0.1"]  # one round of probes, then on the air
    finally:
        if ann is not None:
            ann.stop()
        sniffer.stop()
