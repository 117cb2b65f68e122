"""Servers this user connected to before, remembered so that they can be reached where mDNS
does not go (another subnet, a VLAN, a VPN): shown with their reachability, probed over TCP.

Invariant: one entry per server id, holding the certificate fingerprint pinned for it; an
entry is never listed twice when the same server (same id and certificate) is also discovered
(callers merge by `ServerEntry.key`)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

from pyrtc.client import IdentityMismatch
from pyrtc.client.settings import default_settings_path, load_private, save_private
from pyrtc.protocol import Greeting

from .records import ServerEntry

__all__ = ["KnownServers", "default_known_path", "identity_check"]

log = logging.getLogger(__name__)


def default_known_path() -> Path:
    return default_settings_path().with_name("servers.json")


class KnownServers:
    """Trust is keyed by server id, never by display name (clones and default host names share
    names, not identities). An address is only a hint, for a server remembered before it said
    its id; it is dropped once that server is identified."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_known_path()
        self._entries: dict[str, dict[str, object]] = {}
        try:
            data = json.loads(load_private(self.path))
            for item in data if isinstance(data, list) else []:
                if isinstance(item, dict) and item.get("key"):
                    self._entries[str(item["key"])] = item
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)

    def remember(self, *, server_id: str, name: str, host: str, port: int, fingerprint: str = "") -> None:
        key = server_id or f"{host}:{port}"
        old = self._entries.get(key, {})
        if server_id:  # identified now: an id-less entry for this address was this server
            hint = self._entries.pop(f"{host}:{port}", {})
            old = old or hint
        addresses = [host] + [a for a in old.get("addresses", []) if a != host]  # type: ignore[attr-defined]
        self._entries[key] = {"key": key, "id": server_id, "name": name, "addresses": addresses[:8],
                              "port": port, "fingerprint": old.get("fingerprint") or fingerprint,
                              "vouched": old.get("vouched", []), "last_connected": time.time()}
        self._save()

    def vouch(self, server_id: str, fingerprints: set[str]) -> None:
        """The chat's host (over the connection pinned to it) vouched for these certificates:
        its possible successors. Kept per chat id, never per name. Told during the first
        connect, before the chat is remembered: kept, and remembered with it then."""
        if not server_id:
            return
        item = self._entries.setdefault(server_id, {"key": server_id, "id": server_id, "name": server_id,
                                                    "addresses": [], "port": 0, "fingerprint": ""})
        have = [str(f) for f in item.get("vouched", [])]  # type: ignore[attr-defined]
        new = sorted(f.lower() for f in fingerprints if f and f.lower() not in have)
        if new:
            item["vouched"] = (have + new)[-64:]
            self._save()

    def trusted(self, server_id: str) -> set[str]:
        """Every certificate that may host the chat `server_id`: the pinned one and the vouched."""
        item = self._entries.get(server_id) if server_id else None
        if item is None:
            return set()
        out = {str(f) for f in item.get("vouched", [])}  # type: ignore[attr-defined]
        if item.get("fingerprint"):
            out.add(str(item["fingerprint"]))
        return out

    def entries(self) -> list[ServerEntry]:
        out = []
        for item in self._entries.values():
            if not item.get("addresses"):
                continue  # only vouched for so far, never connected to: nowhere to list
            fp = str(item.get("fingerprint") or "")
            out.append(ServerEntry(instance="", name=str(item.get("name") or item["key"]),
                                   server_id=str(item.get("id", "")),
                                   addresses=[str(a) for a in item.get("addresses", [])],  # type: ignore[attr-defined]
                                   port=int(item.get("port", 0)), version=-1,  # type: ignore[call-overload]
                                   source="remembered", properties={"fp": fp} if fp else {}))
        return out

    def pinned(self, *, server_id: str = "", name: str = "", host: str = "", port: int = 0) -> str | None:
        """The fingerprint remembered for the server with this id; for a server remembered
        without an id, the one remembered at host:port. `name` is not used (kept for callers):
        a display name identifies nothing."""
        item = self._entries.get(server_id) if server_id else None
        if item is None and host:
            # Only id-less entries are keyed by address: an identified server's old address
            # may belong to another server now, and pins nothing.
            item = self._entries.get(f"{host}:{port}")
        return str(item["fingerprint"]) if item is not None and item.get("fingerprint") else None

    def fingerprints_at(self, host: str, port: int) -> set[str]:
        """The certificates of every server remembered at host:port (what a server that is new
        to us but answers there must be explained against: another one may now sit there, or
        someone in the middle)."""
        return {str(item["fingerprint"]) for item in self._entries.values()
                if item.get("fingerprint") and item.get("port") == port
                and host in item.get("addresses", [])}  # type: ignore[operator]

    def trust(self, *, server_id: str, name: str, host: str, port: int, fingerprint: str) -> None:
        """The user accepted a new identity for the server with this id (only that one)."""
        self._entries.pop(server_id or f"{host}:{port}", None)  # remember() drops an id-less one too
        self.remember(server_id=server_id, name=name, host=host, port=port, fingerprint=fingerprint)

    def _save(self) -> None:
        try:
            save_private(self.path, json.dumps(list(self._entries.values()), indent=1))
        except OSError as exc:
            log.warning("cannot remember servers in %s: %s", self.path, exc)


def identity_check(host: str, port: int) -> Callable[[str, Greeting], None]:
    """Trust on first use: a server id seen before must show the same certificate, and a
    server new to us must not answer where we remember another one. Used as
    ClientSession(trust=...), asked at the server's greeting, before anything of ours is
    sent; raises IdentityMismatch."""

    def check(seen: str, greeting: Greeting) -> None:
        known = KnownServers()
        pinned = known.pinned(server_id=greeting.server_id, name=greeting.server, host=host, port=port)
        if pinned is None:
            there = known.fingerprints_at(host, port)
            if there and seen not in there:
                raise IdentityMismatch(
                    f"REFUSED: the server at {host}:{port} is not the one remembered there: it says it is "
                    f"{greeting.server!r}, a server new to us, with certificate {seen[:16]}…, where we knew "
                    f"{sorted(there)[0][:16]}…. Someone may be impersonating it; nothing was sent. If "
                    f"another server really runs there now, connect once with --fingerprint {seen}.",
                    seen=seen, expected=sorted(there)[0])
            return
        if pinned != seen and seen not in known.trusted(greeting.server_id):
            raise IdentityMismatch(
                f"REFUSED: the server {greeting.server!r} at {host}:{port} shows a DIFFERENT identity "
                f"(certificate {seen[:16]}…) than the one remembered ({pinned[:16]}…). Someone may be "
                f"impersonating it; nothing was sent. If it was really reinstalled, connect once with "
                f"--fingerprint {seen}.", seen=seen, expected=pinned)

    return check
