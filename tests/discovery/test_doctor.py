"""The reasons' wording for cases a namespace cannot stage here (no packet filter installed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pyrtc.discovery import doctor
from pyrtc.discovery.interfaces import Interface


async def test_filtered_multicast_and_no_lan_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    async def deaf(address: str, timeout: float = 0.6) -> bool:
        return False

    monkeypatch.setattr(doctor, "multicast_loops_back", deaf)
    monkeypatch.setattr(doctor, "list_interfaces", lambda: [
        Interface("lo", "127.0.0.1", 8, True, True), Interface("eth9", "192.0.2.7", 24, True, False)])
    monkeypatch.setattr(doctor, "mdns_port_in_use", lambda: True)
    lines = await doctor.diagnose(["192.0.2.7"])
    text = "\n".join(lines)
    assert "Searched with mDNS on: eth9 192.0.2.7/24" in text
    assert "not heard back on 192.0.2.7: multicast is likely filtered" in text
    assert "UDP port 5353 is also open in another program" in text and "share it" in text
    assert "TCP port 47474" in text

    monkeypatch.setattr(doctor, "list_interfaces", lambda: [Interface("lo", "127.0.0.1", 8, True, True)])
    lines = await doctor.diagnose(None, self_test=False)
    assert lines[0].startswith("No network interface is up besides loopback")


def test_the_self_test_query_is_a_valid_dns_question() -> None:
    packet = doctor._query("tabc")
    assert packet[:12] == b"\0\0\0\0\0\1\0\0\0\0\0\0"  # id 0, one question
    assert b"\x04tabc\x0c_pyrtc-check\x04_tcp\x05local\x00" in packet
    assert packet.endswith(b"\x00\x0c\x00\x01")  # PTR, IN


HOLDS_5353 = """
import socket, subprocess, sys
from pyrtc.discovery.doctor import mdns_port_in_use
print(mdns_port_in_use())
own = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
own.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
own.bind(("", 5353))
print(mdns_port_in_use())
other = subprocess.Popen([sys.executable, "-c", "import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                          "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
                          "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1); s.bind(('', 5353)); "
                          "print('bound', flush=True); sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
assert other.stdout.readline().strip() == "bound"
print(mdns_port_in_use())
other.stdin.close()
other.wait()
"""


def test_the_port_check_counts_other_programs_not_our_own_sockets() -> None:
    """A window browsing holds 5353 itself; "also open in another program" must mean another.
    Run in a network namespace of its own (binding only; nothing is sent)."""
    out = subprocess.run(["unshare", "-n", sys.executable, "-c", HOLDS_5353], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "True"]  # nobody, only us, another program
