"""Who is online through the other servers of the chat.

Each server sends, over plain NATS (a hint, never stored), the members listening to each
room through it: when that changed (checked every `TICK`) and at least every `BEAT` as a
heartbeat, and an empty list when it closes. A server heard from for no longer than
`EXPIRY` counts; one that went silent (killed) stops counting then, so its members go
offline by themselves.

Invariant: `on_change(room, name, online)` is called exactly when the union over the other
servers of a (room, name) being online flips.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import msgspec
from nats.aio.client import Client
from nats.aio.msg import Msg

from ..fanout import RoomBus

__all__ = ["RemotePresence"]

TICK = 0.5
BEAT = 3.0
EXPIRY = 10.0


class PresenceNote(msgspec.Struct, frozen=True):
    origin: str
    online: dict[str, list[str]]  # room -> member names listening through `origin`


_decode = msgspec.msgpack.Decoder(PresenceNote).decode
_encode = msgspec.msgpack.Encoder().encode


class RemotePresence:
    def __init__(self, nc: Client, subject: str, origin: str, bus: RoomBus,
                 on_change: Callable[[str, str, bool], None]) -> None:
        self._nc, self._subject, self._origin, self._bus = nc, subject, origin, bus
        self._on_change = on_change
        self._heard: dict[str, tuple[float, dict[str, set[str]]]] = {}  # origin -> (when, room -> names)
        self._union: set[tuple[str, str]] = set()  # (room, name) online through some other server
        self._sent: dict[str, list[str]] | None = None
        self._sent_at = 0.0
        self._task: asyncio.Task[None] | None = None

    def online(self, room: str, name: str) -> bool:
        return (room, name) in self._union

    def names(self, room: str) -> list[str]:
        return sorted(n for r, n in self._union if r == room)

    async def start(self) -> None:
        await self._nc.subscribe(self._subject, cb=self._heard_note)
        self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        try:  # a clean goodbye: the others mark our members offline at once
            await self._nc.publish(self._subject, _encode(PresenceNote(origin=self._origin, online={})))
            await self._nc.flush(timeout=1)
        except Exception:
            pass

    def _ours(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for live in self._bus.rooms():
            names = sorted(n for n, c in live.listeners.items()
                           if live.name not in c.watching and live.name not in c.visiting)
            if names:
                out[live.name] = names
        return out

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            now = time.monotonic()
            ours = self._ours()
            if ours != self._sent or now - self._sent_at >= BEAT:
                self._sent, self._sent_at = ours, now
                try:
                    await self._nc.publish(self._subject, _encode(PresenceNote(origin=self._origin, online=ours)))
                except Exception:
                    pass  # NATS down: the others expire us, we send again when it is back
            stale = [o for o, (when, _) in self._heard.items() if now - when > EXPIRY]
            if stale:
                for origin in stale:
                    del self._heard[origin]
                self._recount()

    async def _heard_note(self, msg: Msg) -> None:
        try:
            note = _decode(msg.data)
        except msgspec.DecodeError:
            return
        if note.origin == self._origin:
            return
        self._heard[note.origin] = (time.monotonic(), {r: set(ns) for r, ns in note.online.items()})
        self._recount()

    def _recount(self) -> None:
        union = {(r, n) for _, rooms in self._heard.values() for r, ns in rooms.items() for n in ns}
        gone, came = self._union - union, union - self._union
        self._union = union
        for room, name in sorted(came):
            self._on_change(room, name, True)
        for room, name in sorted(gone):
            self._on_change(room, name, False)
