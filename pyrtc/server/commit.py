"""Group commit: everything stored in one loop iteration shares one transaction.

Invariants:
- A message is acknowledged (`Acked`, ✓ sent) only after its transaction has committed.
- A sender gets its acks and the posts in one write, acks first; each room's new posts go
  to its listeners as one block.
- A commit that fails (a full disk) is rolled back, and each message of it is answered with
  an `Error` for its cid: nothing waits for an ack that will not come, and the next batch
  is stored as usual once the disk takes it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import NamedTuple

from .. import protocol as p
from ..protocol.codes import ErrorCode
from ..store import DiskFull, Store
from . import chatlog
from .connection import Connection
from .fanout import RoomBus

__all__ = ["GroupCommit", "NOT_STORED"]

log = logging.getLogger(__name__)

#: What the sender of a message in a failed commit is told, by the reason.
NOT_STORED = {ErrorCode.DISK_FULL: "the server's disk is full; this message was not stored",
              ErrorCode.STORE: "the server could not store this message; it was not stored, try again"}


class _Post(NamedTuple):
    conn: Connection | None  # None: a post another server of the cluster took (no ack here)
    room: str
    cid: str
    seq: int
    ack: bytes
    posted: bytes  # b"": a resend of a stored message, acknowledged again and posted never


class GroupCommit:
    def __init__(self, store: Store, bus: RoomBus) -> None:
        self._store = store
        self._bus = bus
        self._batch: list[_Post] = []
        self.open = False  # a transaction is open and its commit scheduled
        #: Called when a commit failed (a cluster's cache then replays what it lost).
        self.on_failed: Callable[[], None] | None = None

    def begin(self) -> None:
        """Open the transaction of this loop iteration (once); it commits at the next one."""
        if not self.open:
            self.open = True
            self._store.begin()
            asyncio.get_running_loop().call_soon(self.commit)

    def add(self, conn: Connection | None, room: str, cid: str, seq: int, ack: bytes, posted: bytes) -> None:
        """Send `ack` to `conn` and `posted` (if any) to `room` once the batch is committed."""
        self._batch.append(_Post(conn, room, cid, seq, ack, posted))

    def commit(self) -> None:
        """Commit, then send the acks (✓ sent only for what is on disk) and the posts."""
        self.open = False
        batch, self._batch = self._batch, []
        try:
            self._store.commit()
        except Exception as exc:
            self._failed(batch, exc)
            return
        # Each room's new frames go out as one block: one append per listener per batch
        # instead of one per message (fan-out cost per delivery drops ~30-fold under load).
        # Written now rather than at the end of the next loop iteration (latency); a sender
        # gets its acks and the posts in one write, acks first.
        by_room: dict[str, list[bytes]] = {}
        for post in batch:
            if post.conn is not None:
                post.conn.queue(post.ack)
            if post.posted:
                by_room.setdefault(post.room, []).append(post.posted)
        for room, frames in by_room.items():
            self._bus.publish_now(room, frames[0] if len(frames) == 1 else b"".join(frames))
        for post in batch:
            if post.conn is not None:
                post.conn.flush()  # those whose acks came without a post of theirs (resends)

    def _failed(self, batch: list[_Post], exc: Exception) -> None:
        """Nothing of the batch is stored: roll back, then answer each message (its sender may
        send it again later; the same cid is stored once)."""
        code = ErrorCode.DISK_FULL if isinstance(exc, DiskFull) else ErrorCode.STORE
        try:
            self._store.rollback()
        except Exception:
            log.error("rolling back the failed commit failed", exc_info=True)
        what = f"{len(batch)} messages (their senders told) and this moment's joins, receipts and reactions"
        if code == ErrorCode.DISK_FULL:
            log.warning("commit failed, the disk is full: not stored: %s", what)
        else:
            log.error("commit failed: not stored: %s", what, exc_info=exc)
        if self.on_failed is not None:
            self.on_failed()
        for post in batch:
            if post.conn is None:
                continue
            if not post.posted and self._still_stored(post):
                post.conn.send(post.ack)  # a resend of a message stored before this batch
                continue
            post.conn.send(p.encode(p.Error(code=code, message=NOT_STORED[code], cid=post.cid)))
            if post.posted:  # its chat.log line went out before the commit
                chatlog.line("not stored room=%s seq=%d from=%s reason=%s", post.room, post.seq,
                             post.conn.name, code.value)

    def _still_stored(self, post: _Post) -> bool:
        assert post.conn is not None
        try:
            return post.conn.name is not None and self._store.find_by_cid(post.room, post.conn.name,
                                                                          post.cid) is not None
        except Exception:
            return False  # not known to be stored: the sender is told it is not
