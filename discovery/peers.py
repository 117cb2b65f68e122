"""This client as a peer of a chat: what it reports to the host (it could host), and what it
keeps of the host's roster (the certificates vouched for, the election list).

A full client (window, terminal, kiosk; not --no-host, never a one-shot command) reports its
node id (its installation's key id), the addresses and port it would listen on, and the
certificate it would show: the one of its replica folder of that chat, where it would host.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import ssl
from collections.abc import Callable
from pathlib import Path

from pyrtc import protocol as p
from pyrtc.client.replica import default_replica_root
from pyrtc.private import write_private
from pyrtc.server.tls import ensure_certificate

from .known import KnownServers

__all__ = ["PeerReport", "greeting_at", "keep_roster", "last_roster"]

log = logging.getLogger(__name__)

class PeerReport:
    """`session.peer`: called at each greeting, it says what this peer would host with."""

    def __init__(self, node: str, name: str, addresses: list[str], port: int,
                 root: Path | None = None) -> None:
        self.node, self.name, self.addresses, self.port = node, name, addresses, port
        self.root = root or default_replica_root()

    def __call__(self, greeting: p.Greeting) -> p.PeerInfo | None:
        if len(greeting.server_id) != 32 or not greeting.server_id.isalnum():
            return None
        try:
            _, _, fingerprint = ensure_certificate(self.root / greeting.server_id, self.name[:63] or "PyRTC")
        except OSError as exc:
            log.warning("cannot prepare to host this chat: %s", exc)
            return None
        return p.PeerInfo(node=self.node, name=self.name[:64], addresses=self.addresses[:8],
                          port=self.port, fingerprint=fingerprint)

def keep_roster(roster: p.Roster, root: Path | None = None) -> None:
    """The host said who may host this chat: its certificates are vouched for (trusted for
    this chat id, so a successor is accepted without a prompt), the list kept on disk."""
    KnownServers().vouch(roster.chat_id, {i.fingerprint for i in roster.peers if i.fingerprint})
    folder = (root or default_replica_root()) / roster.chat_id
    try:
        folder.mkdir(parents=True, exist_ok=True)
        write_private(folder / "roster.json", json.dumps({
            "chat": roster.chat_id, "epoch": roster.epoch, "host": roster.host,
            "peers": [{"node": i.node, "name": i.name, "addresses": i.addresses, "port": i.port,
                       "fingerprint": i.fingerprint} for i in roster.peers]}).encode())
    except OSError as exc:
        log.warning("cannot keep the roster of the chat: %s", exc)

def last_roster(chat_id: str, root: Path | None = None) -> p.Roster | None:
    """The roster kept on disk for `chat_id`, if any."""
    try:
        data = json.loads(((root or default_replica_root()) / chat_id / "roster.json").read_text())
        return p.Roster(chat_id=str(data["chat"]), epoch=int(data["epoch"]), host=str(data["host"]),
                        peers=[p.PeerInfo(**i) for i in data["peers"]])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if not isinstance(exc, FileNotFoundError):
            log.warning("ignoring the unreadable roster of %s: %s", chat_id, exc)
        return None

RosterSink = Callable[[p.Roster], None]


async def greeting_at(address: str, port: int, timeout: float = 1.0) -> tuple[p.Greeting, str] | None:
    """Who serves at address:port, as its greeting says (and the certificate it shows): the
    way a host finds another host of its chat (a healed partition). None: nobody, or no PyRTC."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(address, port, ssl=ctx)
            try:
                der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
                size = int.from_bytes(await reader.readexactly(4), "big")
                if size > p.limits.MAX_FRAME:
                    return None
                body = await reader.readexactly(size)
            finally:
                writer.close()
        msgs = p.client_decoder().feed(size.to_bytes(4, "big") + body)
    except (OSError, TimeoutError, asyncio.IncompleteReadError, p.ProtocolError, ssl.SSLError):
        return None
    if not msgs or not isinstance(msgs[0], p.Greeting):
        return None
    return msgs[0], hashlib.sha256(der).hexdigest()
