"""Router: frames from the server, handed to whoever waits for them.

Replies are matched by `rid`, acknowledgements of texts and files by `cid`, a transfer's
frames by blob id (and its errors by the rid of its request); `wait_for` predicates are
checked after every applied event.

Invariants:
- `state` changes only through `apply`, and every event applied is also handed to
  `on_event` (the GUI's queue) in the same order.
- When the connection drops every reply fails; acks fail too unless the session reconnects
  (their texts are then resent with the same cid, and the server stores each once).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import protocol as p
from ..protocol.codes import ErrorCode
from ..store import StoreError
from .errors import ConnectionLost, Rejected
from .events import Event, TransferUpdate
from .receipts import ReceiptPacer
from .replica import Replica
from .state import ChatState

__all__ = ["Router"]

log = logging.getLogger(__name__)


class Router:
    def __init__(self, state: ChatState, name: str, *, on_event: Callable[[Event], None] | None,
                 auto_delivered: bool) -> None:
        self.state = state
        self.name = name
        self.on_event = on_event
        self.auto_delivered = auto_delivered  # report "delivered" as messages arrive
        #: The current connection's writer; None between connections.
        self.writer: asyncio.StreamWriter | None = None
        self.connected = asyncio.Event()
        #: Why the server will not have us (reconnecting cannot help); requests raise it.
        self.fatal: Rejected | None = None
        self.watch: set[str] = set()  # rooms joined as a watcher (tail)
        self.visit: set[str] = set()  # rooms joined as a visitor (send, upload)
        #: The password each locked room watched or visited was joined with: never a member,
        #: its resume needs it again. In memory only, for this session; never written anywhere.
        self.passwords: dict[str, str] = {}
        self.rids = itertools.count(1)
        self.replies: dict[int, asyncio.Future[Any]] = {}
        self.acks: dict[str, asyncio.Future[int]] = {}
        self.uploads: dict[str, asyncio.Queue[p.ServerMsg]] = {}
        self.downloads: dict[str, asyncio.Queue[p.ServerMsg]] = {}
        self.streams: dict[int, asyncio.Queue[p.ServerMsg]] = {}  # rid -> a transfer's queue
        self._waiters: list[asyncio.Future[None]] = []  # woken after every applied event
        self.receipts = ReceiptPacer(self.write)  # "delivered" and "read", paced per room
        #: Called with the room of each direct conversation we are not in yet (the session
        #: joins it when it follows direct messages).
        self.direct_found: Callable[[str], None] = lambda room: None
        #: Called with the id of a body the host wants from the peers (the session sends it
        #: if its replica keeps it).
        self.body_wanted: Callable[[str], None] = lambda blob_id: None
        self.status = ("available", "")  # sent again after a reconnect unless it is this
        #: Where this client keeps its replicas of chats (None: it keeps none, e.g. one-shot
        #: commands); `replica` is the open one, of the chat connected to (or last shown).
        self.replica_root: Path | None = None
        self.replica: Replica | None = None

    # ------------------------------------------------------------------ out

    def write(self, msg: p.Msg) -> bool:
        if self.writer is None or self.writer.is_closing():
            # Cut, and the read loop has not noticed yet: callers that wait for the
            # connection must wait for the next one, not spin on this dead one.
            self.connected.clear()
            return False
        self.writer.write(p.encode(msg))
        return True

    async def request(self, make: Callable[[int], p.Msg], timeout: float = 10.0) -> Any:
        if self.fatal is not None:
            raise self.fatal
        async with asyncio.timeout(timeout):
            await self.connected.wait()
            rid = next(self.rids)
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self.replies[rid] = fut
            if not self.write(make(rid)):
                self.replies.pop(rid, None)
                raise ConnectionLost("not connected")
            return await fut

    def expect_ack(self, cid: str) -> asyncio.Future[int]:
        """The future the server's `Acked` (or `Error`) for this cid resolves."""
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.acks[cid] = fut
        return fut

    # ------------------------------------------------------------------ in

    def receive(self, msgs: list[p.ServerMsg]) -> None:
        """One batch of frames, as one read returned them; then "delivered" once per room."""
        delivered: dict[str, int] = {}
        for msg in msgs:
            self._receive(msg, delivered)
        if self.auto_delivered:
            for room, seq in delivered.items():
                self.receipts.report(room, delivered=seq)

    def _receive(self, msg: p.ServerMsg, delivered: dict[str, int]) -> None:
        answered = False  # an Error that a waiter reports: not logged as well
        match msg:
            case p.FileData() | p.FileEnd():
                q = self.downloads.get(msg.blob_id)
                if q is not None:
                    q.put_nowait(msg)
                if isinstance(msg, p.FileData):
                    return
            case p.UploadReady():
                q = self.uploads.get(msg.blob_id)
                if q is not None:
                    q.put_nowait(msg)
            case p.Ping():
                self.write(p.Pong(nonce=msg.nonce))
                return
            case p.WantBody():
                self.body_wanted(msg.blob_id)
                return
            case p.Acked():
                fut = self.acks.pop(msg.cid, None)
                if fut is not None and not fut.done():
                    fut.set_result(msg.seq)
            case p.Error() if msg.fatal:
                self.apply(msg)
                raise Rejected(msg.code, msg.message)
            case p.Error() if msg.cid:
                fut = self.acks.pop(msg.cid, None)
                if fut is not None and not fut.done():
                    fut.set_exception(Rejected(msg.code, msg.message))
                    answered = True
            case p.Posted():
                room = self.state.rooms.get(msg.room)
                if msg.sender != self.name and room is not None and self.member_of(msg.room):
                    delivered[msg.room] = max(delivered.get(msg.room, 0), msg.seq)
            case p.DirectOpened() if not msg.rid and msg.direct.room not in self.state.rooms:
                self.apply(msg)
                self.direct_found(msg.direct.room)
                return
            case p.Joined():
                if self.member_of(msg.room):
                    last = max((m.seq for m in msg.history), default=0)
                    if last:
                        delivered[msg.room] = max(delivered.get(msg.room, 0), last)
        rid = getattr(msg, "rid", 0)
        self.apply(msg)
        stream = self.streams.get(rid) if rid else None
        if stream is not None and isinstance(msg, (p.Error, p.FileEnd)):
            if not isinstance(msg, p.FileEnd):  # FileEnd already went to the blob's queue
                stream.put_nowait(msg)
            return
        if rid:
            reply = self.replies.pop(rid, None)
            if reply is not None and not reply.done():
                if isinstance(msg, p.Error):
                    reply.set_exception(Rejected(msg.code, msg.message))
                else:
                    reply.set_result(msg)
        elif isinstance(msg, p.Error) and not answered:
            log.warning("server: %s", msg.message)

    def member_of(self, room: str) -> bool:
        """Whether we joined `room` as a member: watchers and visitors send no receipts (the
        server keeps none of theirs)."""
        return room not in self.watch and room not in self.visit

    # ------------------------------------------------------------------ connection changes

    def detach(self) -> asyncio.StreamWriter | None:
        """The connection is gone: nothing more is written to it. Returns its writer."""
        self.connected.clear()
        writer, self.writer = self.writer, None
        return writer

    def fail_waiters(self, exc: Exception, keep_acks: bool = False) -> None:
        replies, self.replies = self.replies, {}
        for fut in replies.values():
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # a waiter may be gone (cancelled): no "never retrieved" noise
        for q in (*self.uploads.values(), *self.downloads.values()):
            q.put_nowait(p.Error(code=ErrorCode.CONNECTION_LOST, message=str(exc)))
        if not keep_acks:
            acks, self.acks = self.acks, {}
            for ack in acks.values():
                if not ack.done():
                    ack.set_exception(exc)
                    ack.exception()

    # ------------------------------------------------------------------ events and waiting

    def apply(self, event: Event) -> None:
        if isinstance(event, p.Greeting) and self.replica_root is not None and event.server_id:
            self.open_replica(event.server_id)
        self.state.apply(event)
        if self.replica is not None:
            self.replica.record(event)
        if self.on_event is not None:
            self.on_event(event)
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    def open_replica(self, chat_id: str) -> Replica | None:
        """The replica of `chat_id` (opened, the one of another chat closed)."""
        if self.replica is not None and self.replica.chat_id == chat_id:
            return self.replica
        if self.replica is not None:
            self.replica.close()
            self.replica = None
        if self.replica_root is None or len(chat_id) != 32 or not chat_id.isalnum():
            return None
        try:
            self.replica = Replica.open(chat_id, self.replica_root)
        except (OSError, StoreError) as exc:
            log.warning("cannot keep a copy of the chat here: %s", exc)
        return self.replica

    def emit(self, event: Event) -> None:
        if isinstance(event, TransferUpdate) and not event.id:
            return  # a quiet transfer
        self.apply(event)

    async def wait_for(self, pred: Callable[[ChatState], bool], timeout: float | None = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not pred(self.state):
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._waiters.append(fut)
                await fut

    async def wait_connected(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            await self.connected.wait()
