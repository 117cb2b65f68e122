"""The chat's identity (id, epoch, host node) and its roster of host-capable peers.

Invariants:
- The chat id is the data dir's server id: a peer that hosts on its replica (which keeps the
  chat's id) serves the same chat. The epoch is kept beside it; a new host serves epoch + 1.
- The roster lists the host itself and every connected peer that reported itself
  host-capable in its hello (a dedicated `pyrtc server` lists itself only: its chat is not
  handed to peers, its clients wait for it to come back, as ever); every named connection receives it after its Welcome and again
  on each change, over the connection it already pinned (that is how the host vouches).
"""

from __future__ import annotations

import logging
from pathlib import Path

from .. import protocol as p
from ..private import write_private
from .connection import Connection

__all__ = ["Roster", "read_epoch", "write_epoch"]

log = logging.getLogger(__name__)


def read_epoch(data_dir: Path) -> int:
    """The epoch kept in `data_dir` (0: none yet)."""
    try:
        return max(0, int((data_dir / "epoch").read_text().strip()))
    except (OSError, ValueError):
        return 0


def write_epoch(data_dir: Path, epoch: int) -> None:
    write_private(data_dir / "epoch", f"{epoch}\n".encode())


class Roster:
    def __init__(self, chat_id: str, epoch: int, host: p.PeerInfo, *, dedicated: bool = False) -> None:
        self.chat_id = chat_id
        self.dedicated = dedicated
        self.epoch = epoch
        self.host = host
        self._peers: dict[Connection, p.PeerInfo] = {}
        self.since: dict[str, int] = {}  # set by a host that took the chat over

    def current(self) -> p.Roster:
        peers = {self.host.node: self.host}
        for info in () if self.dedicated else self._peers.values():
            peers.setdefault(info.node, info)
        return p.Roster(chat_id=self.chat_id, epoch=self.epoch, host=self.host.node,
                        peers=sorted(peers.values(), key=lambda i: i.node)[:p.limits.MAX_PEERS],
                        since=self.since)

    def set_host(self, host: p.PeerInfo) -> None:
        """Where the host listens is known once it has started (its name may be its user's)."""
        self.host = p.PeerInfo(node=host.node, name=self.host.name or host.name, addresses=host.addresses,
                               port=host.port, fingerprint=host.fingerprint)

    def admitted(self, conn: Connection, peer: p.PeerInfo | None, everyone: set[Connection]) -> None:
        """`conn` said hello: it gets the roster; a host-capable one changes it for all."""
        if peer is not None and peer.node == self.host.node and peer.name != self.host.name:
            # The hosting peer's own chat session: the roster names the host as its user.
            self.host = p.PeerInfo(node=self.host.node, name=peer.name, addresses=self.host.addresses,
                                   port=self.host.port, fingerprint=self.host.fingerprint)
            self._push(everyone)
        elif peer is not None and peer.node != self.host.node:
            self._peers[conn] = peer
            self._push(everyone)
        else:
            conn.send(p.encode(self.current()))

    def gone(self, conn: Connection, everyone: set[Connection]) -> None:
        if self._peers.pop(conn, None) is not None:
            self._push(everyone)

    def _push(self, everyone: set[Connection]) -> None:
        frame = p.encode(self.current())
        for conn in everyone:
            if conn.name is not None and not conn.closed:
                conn.send(frame)
