"""Housekeeping, twice a second: typing that expired, connections gone silent (pinged,
then dropped as half-open), and the store's work kept out of the commits that send ✓."""

from __future__ import annotations

import asyncio
import logging

from .. import protocol as p
from .presence import Presence
from .shared import Shared

__all__ = ["Housekeeping"]

log = logging.getLogger(__name__)


class Housekeeping:
    def __init__(self, shared: Shared, presence: Presence) -> None:
        self._shared = shared
        self._presence = presence

    async def run(self) -> None:
        store = self._shared.store
        while True:
            await asyncio.sleep(0.5)
            try:
                self.sweep()
                store.write_marks()  # both kept out of the commits that send ✓
                store.index_pending()
            except Exception:
                log.error("housekeeping failed", exc_info=True)

    def sweep(self) -> None:
        """Expire typing and drop silent connections (tests call it with a fake clock)."""
        config = self._shared.config
        now = self._shared.clock()
        self._presence.expire_typing(now)
        for conn in list(self._shared.conns):
            idle = now - conn.last_rx
            if idle > config.idle_timeout:
                log.warning("%s (%s) silent for %.0f s; dropping the half-open connection",
                            conn.peer, conn.name, idle)
                conn.abort()
            elif idle > config.heartbeat and conn.last_ping < conn.last_rx:
                conn.last_ping = now
                conn.send(p.encode(p.Ping(nonce=int(now))))
