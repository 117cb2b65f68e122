"""Which interfaces mDNS runs on. The caller chooses; the default is every IPv4 address of
an interface that is up and not loopback (never a guess at "the" LAN)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import ifaddr

from .errors import DiscoveryError

__all__ = ["Interface", "list_interfaces", "default_addresses", "check_addresses"]

_IFF_UP = 0x1
_IFF_LOOPBACK = 0x8


@dataclass(frozen=True, slots=True)
class Interface:
    name: str
    address: str
    prefix: int
    up: bool
    loopback: bool


def _flags(name: str) -> int | None:
    try:
        return int(Path(f"/sys/class/net/{name}/flags").read_text().strip(), 16)
    except (OSError, ValueError):
        return None  # not Linux: trust the adapter list


def list_interfaces() -> list[Interface]:
    out = []
    for adapter in ifaddr.get_adapters():
        flags = _flags(adapter.name)
        for ip in adapter.ips:
            if not isinstance(ip.ip, str):
                continue  # IPv6 tuples: PyRTC announces over IPv4
            loop = ipaddress.ip_address(ip.ip).is_loopback
            up = True if flags is None else bool(flags & _IFF_UP)
            if flags is not None:
                loop = loop or bool(flags & _IFF_LOOPBACK)
            out.append(Interface(adapter.name, ip.ip, ip.network_prefix, up, loop))
    return out


def default_addresses() -> list[str]:
    return [i.address for i in list_interfaces() if i.up and not i.loopback]


def check_addresses(addresses: list[str] | None) -> list[str]:
    """The caller's addresses, each checked to be one of ours, or the default set."""
    if not addresses:
        chosen = default_addresses()
        if not chosen:
            raise DiscoveryError("no network interface is up besides loopback; nothing to "
                                 "announce or browse on (give --interface 127.0.0.1 to test locally)")
        return chosen
    mine = {i.address for i in list_interfaces()}
    for a in addresses:
        try:
            ipaddress.IPv4Address(a)
        except ValueError:
            raise DiscoveryError(f"--interface wants an IPv4 address of this machine, not {a!r}") from None
        if a not in mine:
            raise DiscoveryError(f"{a} is not an address of this machine "
                                 f"(its addresses: {', '.join(sorted(mine)) or 'none'})")
    return list(dict.fromkeys(addresses))
