"""A chat server plus its mDNS announcement, started and stopped as one.

Invariants:
- Its life: serving → its chat handed on (`leave`: a quit, a yield to another host, the
  window's exit) → closed. The chat is handed on once: `leave` says yes to one caller only,
  whichever thread asks (the window's client thread and GUI thread both may).
- `close` once: a second call waits for the first to end.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from typing import TYPE_CHECKING

from pyrtc.server import ServerConfig

from .announce import Announcer, NameClaim

if TYPE_CHECKING:
    from pyrtc.server import ChatServer

__all__ = ["AnnouncedServer", "preload_server"]

log = logging.getLogger(__name__)


def preload_server() -> None:
    """Load the server's modules (~0.1-0.2 s) on a thread of their own, while a peer that may
    host browses the network: hosting then starts at once."""
    threading.Thread(target=importlib.import_module, args=("pyrtc.server.app",), name="pyrtc-preload",
                     daemon=True).start()


class AnnouncedServer:
    """`addresses=None`: no announcement (--no-announce)."""

    def __init__(self, config: ServerConfig, addresses: list[str] | None, *, claim: NameClaim | None = None) -> None:
        """`claim`: the instance name, probed for already (find_or_host does it while browsing)."""
        self.config = config
        self._claim = claim
        from pyrtc.server.app import ChatServer  # loaded while browsing (launch.py), else here

        self.server: ChatServer = ChatServer(config)
        self._addresses = addresses
        self.announcer: Announcer | None = None
        self._closing: asyncio.Future[None] | None = None
        self._lock = threading.Lock()
        self._left = False
        self._announcing: asyncio.Future[None] | None = None

    @property
    def instance(self) -> str | None:
        return self.announcer.instance if self.announcer else None

    async def start(self, *, announced: bool = True) -> tuple[str, int]:
        """Serve, then announce. `announced=False`: return once serving, and announce in the
        background (a peer taking a chat over serves at once; registering takes ~1.5 s)."""
        host, port = await self.server.start()
        if self._addresses is not None and not announced:
            self._announcing = asyncio.ensure_future(self._announce(port))
        elif self._addresses is not None:
            await self._announce(port)
        return host, port

    async def _announce(self, port: int) -> None:
        assert self._addresses is not None
        self.announcer = Announcer(
            name=self.config.name, server_id=self.server.server_id, port=port,
            addresses=self._addresses, users=self.server.users_online,
            rooms=len(self.server.store.rooms()), fingerprint=self.server.fingerprint,
            epoch=self.server.epoch, host=self.server.node,
            chat=self.server.cluster.chat_id if self.server.cluster else None, claim=self._claim)
        ann = self.announcer
        self.server.on_counts_changed = lambda users, rooms: ann.set_counts(users=users, rooms=rooms)
        try:
            await self.announcer.start()
        except BaseException:
            # Not on the air, so not serving either: a caller that reports the failure
            # (the window: "cannot host here") must not leave a server listening behind it.
            # In the background (a chat taken over) the peers already use it: it serves on.
            if self._announcing is None:
                await self.close()
            else:
                log.warning("hosting this chat without announcing it: mDNS failed", exc_info=True)
            raise

    def leave(self) -> bool:
        """Its chat is about to be handed on (or not at all: the server closes). True for the
        first caller, who does it; False for any later one (done, or under way)."""
        with self._lock:
            first, self._left = not self._left, True
        return first

    @property
    def left(self) -> bool:
        """Its chat was handed on (or is being), or the server closed: nobody adopts it."""
        return self._left

    @property
    def closed(self) -> bool:
        """`close()` began: the server is going or gone (its chat is nobody's to hand over here)."""
        return self._closing is not None

    async def close(self) -> None:
        """Goodbye first (browsers drop us at once), then the server. Once: a second call (the
        window's host thread at exit, after a yield closed it) waits for the first to end, and
        a caller cancelled meanwhile does not stop it half-way."""
        if self._closing is None:
            with self._lock:
                self._left = True  # nothing to hand on from a server that is going
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        if self._announcing is not None and not self._announcing.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._announcing), 10)
            except Exception:
                pass  # logged where it failed; close what there is
        if self.announcer is not None:
            await self.announcer.close()
        await self.server.close()
