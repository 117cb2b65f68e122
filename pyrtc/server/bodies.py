"""File bodies a host lacks because it took the chat over from a host that held them: fetched
from a peer that keeps them in its replica (the bodies it downloaded or previewed).

Invariants:
- Only peers of the roster are asked (`WantBody`), and only their answers (`BodyOffer`) are
  taken; what one sends is an upload like any other (its `.part`, its quotas) whose hash is
  checked before the body is kept, so a peer can send nothing but the real bytes.
- One fetch per body at a time: whoever asks meanwhile waits for the same one.
- A fetch ends with the body held, or when every peer asked said it has none, left, or failed
  to send it (the next one that said it has it is asked then); a peer that answers nothing
  for `ANSWER_WAIT` counts as one that has none. A body on its way is waited for.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from .. import protocol as p
from .connection import Connection
from .roster import Roster
from .shared import Shared

__all__ = ["Bodies", "ANSWER_WAIT"]

log = logging.getLogger(__name__)

#: How long a fetch waits for a peer that said nothing (an answer comes in a round trip).
ANSWER_WAIT = 30.0


@dataclass(eq=False)
class _Wanted:
    done: asyncio.Future[bool]
    asked: set[Connection]  # peers whose answer is awaited
    sender: Connection | None = None  # sending the body now
    holders: list[Connection] = field(default_factory=list)  # have it too: asked again if the sender fails


class Bodies:
    def __init__(self, shared: Shared, roster: Roster) -> None:
        self._shared = shared
        self._roster = roster
        self._wanted: dict[str, _Wanted] = {}

    async def fetch(self, blob_id: str) -> bool:
        """Bring `blob_id` here from a peer that keeps it; whether it is held now."""
        wanted = self._wanted.get(blob_id)
        if wanted is None:
            peers = {i.node for i in self._roster.current().peers} - {self._roster.host.node}
            asked = {c for c in self._shared.conns if c.uid in peers and c.name is not None and not c.closed}
            if not asked:
                return False
            wanted = self._wanted[blob_id] = _Wanted(asyncio.get_running_loop().create_future(), set())
            for conn in asked:
                self._ask(wanted, conn, blob_id)
            log.info("asking %d peers for the body of %s", len(asked), blob_id[:16])
        while True:
            try:
                async with asyncio.timeout(ANSWER_WAIT):
                    return await asyncio.shield(wanted.done)
            except TimeoutError:
                wanted.asked.clear()  # silent that long: as good as "none here"
                self._check(blob_id, wanted)  # a body on its way is waited for as long as it comes

    def offer(self, conn: Connection, msg: p.BodyOffer) -> bool:
        """A peer's answer: True if it is to send the body now (the caller answers `UploadReady`)."""
        wanted = self._wanted.get(msg.blob_id)
        if wanted is None or conn not in wanted.asked:
            return False  # not wanted (any more), or not asked: nothing to send
        wanted.asked.discard(conn)
        chosen = False
        if msg.held and wanted.sender is None:
            wanted.sender, chosen = conn, True
        elif msg.held:
            wanted.holders.append(conn)
        self._check(msg.blob_id, wanted)
        return chosen

    def arrived(self, blob_id: str) -> None:
        """The body is held now (checked)."""
        self._settle(blob_id, True)

    def failed(self, conn: Connection, blob_id: str | None = None) -> None:
        """`conn` left (every body), or its copy of `blob_id` did not arrive whole and right."""
        for bid, wanted in list(self._wanted.items()):
            if blob_id not in (None, bid):
                continue
            wanted.asked.discard(conn)
            if conn in wanted.holders:
                wanted.holders.remove(conn)
            if wanted.sender is conn:
                wanted.sender = None
                while wanted.holders and not wanted.asked:
                    self._ask(wanted, wanted.holders.pop(0), bid)
            self._check(bid, wanted)

    def sending(self, conn: Connection, blob_id: str) -> bool:
        """Whether `conn` is the peer asked to send `blob_id` now."""
        wanted = self._wanted.get(blob_id)
        return wanted is not None and wanted.sender is conn

    def _ask(self, wanted: _Wanted, conn: Connection, blob_id: str) -> None:
        if not conn.closed:
            wanted.asked.add(conn)
            conn.send(p.encode(p.WantBody(blob_id=blob_id)))

    def _check(self, blob_id: str, wanted: _Wanted) -> None:
        """Nobody sending, nobody left to answer: the fetch failed."""
        if wanted.sender is None and not wanted.asked:
            self._settle(blob_id, False)

    def _settle(self, blob_id: str, held: bool) -> None:
        wanted = self._wanted.pop(blob_id, None)
        if wanted is not None and not wanted.done.done():
            wanted.done.set_result(held)
