"""Receipts NATS could not take (the chat degraded): the newest per (room, name), sent when
NATS is back.

A receipt only moves forward (every server keeps the highest marks it has seen), so the newest
marks of a member are all the other servers need, in any order, and holding them costs one
entry per member and room however long NATS is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .wire import Receipt

__all__ = ["HeldReceipts"]

log = logging.getLogger(__name__)


class HeldReceipts:
    def __init__(self, send: Callable[[Receipt], Awaitable[None]], degraded: Callable[[], bool]) -> None:
        self._send = send  # publish one receipt to the stream; raises if NATS did not take it
        self._degraded = degraded
        self._held: dict[tuple[str, str], Receipt] = {}
        self._releasing: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._held)

    def hold(self, receipt: Receipt) -> None:
        key = (receipt.room, receipt.name)
        if not self._held:
            log.info("cluster: receipts are held until NATS takes them (the newest per member)")
        old = self._held.get(key)
        if old is not None:
            receipt = Receipt(room=receipt.room, name=receipt.name, delivered=max(old.delivered, receipt.delivered),
                              read=max(old.read, receipt.read))
        self._held[key] = receipt

    def release(self) -> None:
        """Send the held receipts while NATS is up; those it refuses are held and tried again."""
        if self._releasing is None or self._releasing.done():
            self._releasing = asyncio.ensure_future(self._release())

    async def _release(self) -> None:
        delay = 0.5
        while self._held and not self._degraded():
            held, self._held = self._held, {}
            for receipt in held.values():
                try:
                    await self._send(receipt)
                except Exception as exc:
                    log.info("cluster: a held receipt in %s was not stored yet: %s", receipt.room, exc)
                    self.hold(receipt)
            if self._held:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def close(self) -> None:
        if self._releasing is not None:
            self._releasing.cancel()
