"""Why nothing was found: facts checked on this machine, in words a user can act on.

Used by `pyrtc doctor`, by `pyrtc servers` when it finds nothing, and by the window's picker."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import struct
from pathlib import Path

from pyrtc.server import DEFAULT_PORT

from .interfaces import Interface, list_interfaces

__all__ = ["diagnose", "multicast_loops_back", "mdns_port_in_use"]

MDNS_GROUP = "224.0.0.251"
MDNS_PORT = 5353


def mdns_port_in_use() -> bool:
    """Another program (Avahi, Bonjour, another PyRTC) has UDP 5353 open (Linux: /proc).
    Our own sockets do not count: a window asks this while it browses on that port itself."""
    try:
        ours = _own_sockets()
        for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{MDNS_PORT:04X}") and fields[9] not in ours:
                return True
    except (OSError, IndexError):
        pass
    return False


def _own_sockets() -> set[str]:
    """The inodes of this process's sockets (what /proc/net/udp names them by)."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _query(label: str) -> bytes:
    """A harmless mDNS question (PTR <label>._pyrtc-check._tcp.local) that nobody answers."""
    name = b"".join(bytes([len(p)]) + p.encode() for p in (label, "_pyrtc-check", "_tcp", "local")) + b"\0"
    return struct.pack("!6H", 0, 0, 1, 0, 0, 0) + name + struct.pack("!2H", 12, 1)


async def multicast_loops_back(address: str, timeout: float = 0.6) -> bool:
    """Send one mDNS question out of `address` and listen for it on the mDNS group: hearing
    our own multicast back means the interface sends and receives multicast here."""
    label = "t" + secrets.token_hex(6)
    packet = _query(label)
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if hasattr(socket, "SO_REUSEPORT"):
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("", MDNS_PORT))
        listener.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                            socket.inet_aton(MDNS_GROUP) + socket.inet_aton(address))
        listener.setblocking(False)
        sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(address))
        sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
        sender.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
        sender.sendto(packet, (MDNS_GROUP, MDNS_PORT))
    except OSError:
        listener.close()
        sender.close()
        return False
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            while True:
                data = await loop.sock_recv(listener, 9000)
                if label.encode() in data:
                    return True
    except (TimeoutError, OSError):
        return False
    finally:
        listener.close()
        sender.close()


async def diagnose(addresses: list[str] | None, *, self_test: bool = True, answered: int = 0) -> list[str]:
    """Lines explaining what was searched and what may stand in the way; `answered`: how many
    servers the caller's search found over mDNS (`pyrtc doctor` lists them)."""
    interfaces = list_interfaces()
    by_addr: dict[str, Interface] = {i.address: i for i in interfaces}
    up = [i for i in interfaces if i.up and not i.loopback]
    lines: list[str] = []
    if not up:
        lines.append("No network interface is up besides loopback: this machine is not on a network.")
    chosen = addresses or [i.address for i in up]
    if chosen:
        shown = ", ".join(f"{by_addr[a].name} {a}/{by_addr[a].prefix}" if a in by_addr else a for a in chosen)
        found = f"{answered} PyRTC server{'' if answered == 1 else 's'} answered" if answered else "No PyRTC server answered"
        lines.append(f"Searched with mDNS on: {shown}. {found}.")
    if mdns_port_in_use():
        lines.append("UDP port 5353 is also open in another program (an mDNS responder such as Avahi, "
                     "or another PyRTC); that is fine, they share it.")
    if self_test:
        for a in chosen:
            if await multicast_loops_back(a):
                lines.append(f"Multicast works on {a} (our own test query was heard back)" + (
                    "." if answered else ", so servers in this subnet would be seen: there is none, or a "
                    "firewall drops mDNS between machines."))
            else:
                lines.append(f"Our own test query was not heard back on {a}: multicast is likely filtered "
                             "there, or the interface has no multicast route.")
    lines.append(f"PyRTC servers listen on TCP port {DEFAULT_PORT} (and mDNS uses UDP port 5353): allow "
                 f"both in the firewall. A server in another subnet or VLAN is reached once with "
                 f"--server HOST:{DEFAULT_PORT} (or an address in the window), and remembered after that.")
    return lines
