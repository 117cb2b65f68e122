"""What a PyRTC server puts in its DNS-SD TXT record, and how a browser reads it back."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyrtc.protocol import PROTOCOL_VERSION

__all__ = ["SERVICE_TYPE", "ServerEntry", "by_chat", "txt_properties", "entry_from_txt"]

SERVICE_TYPE = "_pyrtc._tcp.local."


def txt_properties(*, name: str, server_id: str, users: int, rooms: int, serial: int = 0,
                   fingerprint: str | None = None, epoch: int = 0, host: str = "",
                   chat: str | None = None) -> dict[str, str]:
    """`server_id` is the chat's id; `epoch` and `host` (the serving peer's node id) say which
    of its hosts this is (a chat outlives its first host: docs/peer-assisted.md). `chat`:
    a cluster's chat id, the same on each of its servers (docs/cluster.md)."""
    props = {"v": str(PROTOCOL_VERSION), "name": name[:100], "id": server_id, "users": str(users),
             "rooms": str(rooms), "c": str(serial), "tls": "1" if fingerprint else "0",
             "epoch": str(epoch), "host": host[:64]}
    if fingerprint:
        props["fp"] = fingerprint  # SHA-256 of the server's certificate: clients pin it
    if chat:
        props["chat"] = chat  # a cluster's chat id: every server of the chat announces the same
    return props


@dataclass
class ServerEntry:
    """One server as a browser sees it: merged over every address it was heard on. A server
    is its id *and* its certificate: another process announcing the same id with another
    certificate is another entry (see `conflicts.py`), never merged into this one."""

    instance: str  # the DNS-SD instance name (after any conflict rename)
    name: str  # the server's display name
    server_id: str
    addresses: list[str]
    port: int
    version: int
    users: int = 0
    rooms: int = 0
    properties: dict[str, str] = field(default_factory=dict)
    source: str = "mdns"  # or "remembered": connected to before, probed over TCP
    reachable: bool = True
    conflict: str = ""  # "" | "impostor" | "ambiguous": shares its id with another certificate
    warning: str = ""  # why, in words, when `conflict` is set

    @property
    def compatible(self) -> bool:
        """May be offered for connecting: speaks our protocol version and is no impostor.
        (Front ends offer `compatible and reachable` entries, so an impostor is never chosen.)"""
        if self.conflict == "impostor":
            return False
        # A remembered server's version is unknown until we connect (the handshake says).
        return self.version == PROTOCOL_VERSION or (self.source == "remembered" and self.version == -1)

    @property
    def fingerprint(self) -> str | None:
        return self.properties.get("fp") or None

    @property
    def epoch(self) -> int:
        """Which host of the chat this is (0: not said, a remembered or older server)."""
        return _int(self.properties.get("epoch"))

    @property
    def host(self) -> str:
        """The node id of the peer hosting the chat now ('' : not said)."""
        return self.properties.get("host", "")

    @property
    def chat(self) -> str:
        """The chat id of a cluster's server ('' for a server alone)."""
        return self.properties.get("chat", "")

    @property
    def key(self) -> str:
        """One entry per (server id, certificate fingerprint)."""
        if not self.server_id:
            return self.instance
        return f"{self.server_id}/{self.fingerprint}" if self.fingerprint else self.server_id

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "instance": self.instance.removesuffix("." + SERVICE_TYPE),
                "id": self.server_id, "chat": self.chat or self.server_id, "epoch": self.epoch, "host": self.host or None,
                "addresses": self.addresses, "port": self.port, "version": self.version,
                "compatible": self.compatible, "users": self.users, "rooms": self.rooms,
                "source": self.source, "reachable": self.reachable,
                "tls": self.properties.get("tls", "1" if self.fingerprint else "?"),
                "fingerprint": self.fingerprint, "conflict": self.conflict or None,
                "warning": self.warning or None}


def by_chat(entries: list[ServerEntry]) -> list[list[ServerEntry]]:
    """The entries as chats: the servers of one cluster's chat together (in the order their
    first one came), each server alone as a chat of its own."""
    groups: dict[str, list[ServerEntry]] = {}
    for e in entries:
        groups.setdefault(f"chat:{e.chat}" if e.chat else f"server:{e.key}:{id(e)}", []).append(e)
    return list(groups.values())


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def entry_from_txt(instance: str, addresses: list[str], port: int,
                   props: dict[bytes, bytes | None]) -> ServerEntry:
    text = {k.decode("utf-8", "replace"): (v or b"").decode("utf-8", "replace") for k, v in props.items()}
    short = instance.removesuffix("." + SERVICE_TYPE)
    return ServerEntry(instance=instance, name=text.get("name") or short, server_id=text.get("id", ""),
                       addresses=addresses, port=port, version=_int(text.get("v"), -1),
                       users=_int(text.get("users")), rooms=_int(text.get("rooms")), properties=text)
