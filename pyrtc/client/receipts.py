"""Receipts, paced: at most one "delivered" or "read" per room every RECEIPT_GAP seconds.

A client in a busy room would otherwise report each read from the socket (hundreds a second)
and each frame the window draws; the server meters requests, and receipts only say "up to
seq", so the newest one in a gap says everything the others would have. The last one is
always sent, at the end of its gap.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .. import protocol as p

__all__ = ["ReceiptPacer", "RECEIPT_GAP"]

RECEIPT_GAP = 0.2  # seconds


class ReceiptPacer:
    def __init__(self, write: Callable[[p.Msg], object]) -> None:
        self._write = write
        self._sent_at: dict[str, float] = {}  # room -> loop time of its last receipt
        self._due: dict[str, tuple[int, int]] = {}  # room -> (delivered, read) waiting for its turn
        self._timer: asyncio.TimerHandle | None = None

    def report(self, room: str, *, delivered: int, read: int = 0) -> None:
        """Say that the messages of `room` up to `delivered` arrived (and up to `read` were shown)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        if room not in self._due and now - self._sent_at.get(room, -RECEIPT_GAP) >= RECEIPT_GAP:
            self._send(room, delivered, read, now)
            return
        d, r = self._due.get(room, (0, 0))
        self._due[room] = (max(d, delivered), max(r, read))
        if self._timer is None:
            self._timer = loop.call_later(RECEIPT_GAP, self._flush)

    def _flush(self) -> None:
        self._timer = None
        due, self._due = self._due, {}
        now = asyncio.get_running_loop().time()
        for room, (delivered, read) in due.items():
            self._send(room, delivered, read, now)

    def _send(self, room: str, delivered: int, read: int, now: float) -> None:
        self._sent_at[room] = now
        if read:  # read up to a seq means delivered up to it too
            self._write(p.MarkRead(room=room, seq=read))
        if delivered > read:
            self._write(p.MarkDelivered(room=room, seq=delivered))

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._due.clear()
