"""Housekeeping, twice a second: typing that expired, connections gone silent (pinged,
then dropped as half-open), and the store's work kept out of the commits that send ✓;
once a minute, unfinished uploads that expired."""

from __future__ import annotations

import asyncio
import logging

from .. import protocol as p
from ..store import StoreError
from .presence import Presence
from .shared import Shared

__all__ = ["Housekeeping"]

log = logging.getLogger(__name__)

_PARTS_EVERY = 60.0  # seconds between sweeps of unfinished uploads (each stats every .part)


class Housekeeping:
    def __init__(self, shared: Shared, presence: Presence) -> None:
        self._shared = shared
        self._presence = presence
        self._parts_due = float("-inf")
        self._store_failing = False  # said once, not twice a second for as long as it lasts

    async def run(self) -> None:
        store = self._shared.store
        while True:
            await asyncio.sleep(0.5)
            try:
                self.sweep()
                store.write_marks()  # both kept out of the commits that send ✓
                store.index_pending()
                if self._store_failing:
                    log.info("housekeeping writes the history again")
                    self._store_failing = False
            except StoreError as exc:  # a full disk: kept in memory, written when it can be
                if not self._store_failing:
                    log.warning("housekeeping cannot write the history (%s); trying again twice a second", exc)
                self._store_failing = True
            except Exception:
                log.error("housekeeping failed", exc_info=True)

    def sweep(self) -> None:
        """Expire typing and unfinished uploads and drop silent connections (tests call it
        with a fake clock)."""
        config = self._shared.config
        now = self._shared.clock()
        self._presence.expire_typing(now)
        if now >= self._parts_due:
            self._parts_due = now + _PARTS_EVERY
            if dropped := self._shared.blobs.sweep_parts(config.unfinished_ttl):
                log.info("dropped %d unfinished uploads not written for %g h", dropped,
                         config.unfinished_ttl / 3600)
        for conn in list(self._shared.conns):
            idle = now - conn.last_rx
            if idle > config.idle_timeout:
                log.warning("%s (%s) silent for %.0f s; dropping the half-open connection",
                            conn.peer, conn.name, idle)
                conn.abort()
            elif idle > config.heartbeat and conn.last_ping < conn.last_rx:
                conn.last_ping = now
                conn.send(p.encode(p.Ping(nonce=int(now))))
