"""One chat served by several servers: this server's part of it.

Posts go to the chat's JetStream stream first (`Ordering`: the room seq is decided there,
once, for every server); every server, this one too, applies the stream in order to its
SQLite cache and fans each entry out to its own clients (`Applying`, applying.py). A
sender's ✓ (`Acked`) is sent when this server applies its post: JetStream had stored it, and
the cache (history, search) has it.

Invariants:
- `applied` (the last stream seq in the cache) is written in the transaction of what it
  applied; the subscription starts after it, at start, after a reconnect and after a failed
  commit, so the cache takes every entry once and in order.
- Degraded (NATS unreachable): clients stay connected and read the cache; posts are refused
  with CHAT_DEGRADED, none acknowledged; receipts are held, the newest per member, and sent
  when NATS returns (cluster/held.py). It recovers by itself when NATS returns.
- A data dir is one chat's cache: single-server history, or another chat's, is refused at
  start (their seqs would collide with the stream's).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import APIError

from ... import protocol as p
from ...protocol.codes import ErrorCode
from ...store import StoredFile
from .. import chatlog
from ..commit import GroupCommit
from ..connection import Connection
from ..errors import Refused
from ..shared import Shared
from .applying import Applying
from .bodies import Bodies
from .held import HeldReceipts
from .link import ClusterError, ClusterTLS, Link, why
from .ordering import Ordering
from .people import WRONG_LAST_SEQUENCE, People, publish_answered
from .presence import RemotePresence
from .wire import (
    Change,
    Entry,
    Post,
    Receipt,
    RoomMade,
    Subjects,
    TypingNote,
    decode,
    decode_typing,
    encode,
)

__all__ = ["Cluster", "ClusterError", "DEGRADED"]

log = logging.getLogger(__name__)

DEGRADED = ("the chat is degraded: this server cannot reach the chat's message log (NATS); "
            "this message was not sent, send it again once the chat is back")


class Cluster(Applying, People):
    def __init__(self, shared: Shared, commit: GroupCommit, urls: list[str], chat_id: str | None,
                 server_id: str) -> None:
        self._shared = shared
        self._commit = commit
        config = shared.config
        self.link = Link(urls, chat_id, ClusterTLS(config.cluster_ca, config.cluster_cert, config.cluster_key))
        self._server_id = server_id
        self._subjects: Subjects | None = None
        self.ordering: Ordering | None = None
        self.applied = 0
        self._target = 0  # the stream's last seq at start: serving waits until applied reaches it
        self._caught_up = asyncio.Event()
        self._sub: object | None = None
        self._resubscribing: asyncio.Task[None] | None = None
        self._pending: dict[str, tuple[Connection, str]] = {}  # post token -> (sender, cid)
        self._changing: dict[str, tuple[Connection, int]] = {}  # change token -> (requester, rid)
        self._opening: dict[str, tuple[Connection, int]] = {}  # direct token -> (requester, rid)
        self._tasks: set[asyncio.Task[None]] = set()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []  # (stream seq, until applied)
        self._object_store: Bodies | None = None
        #: Receipts NATS has not taken yet (degraded): the newest per (room, name), sent when it is back.
        self._held = HeldReceipts(self._send_receipt, lambda: self.degraded)
        #: Called with a room this cache just learnt of (members tell their clients).
        self.on_room_made: Callable[[str], None] | None = None
        #: Called with (room, name, delivered, read) when a member's receipts moved.
        self.on_receipt: Callable[[str, str, int, int], None] | None = None
        #: Called with (room, name, uid, joined) when a membership began or ended on some server.
        self.on_member: Callable[[str, str, str, bool], None] | None = None
        #: Called with (room, name, online) when a member went on- or offline through other servers.
        self.on_presence: Callable[[str, str, bool], None] | None = None
        self._presence: RemotePresence | None = None
        commit.on_failed = self._commit_failed

    @property
    def chat_id(self) -> str | None:
        return self.link.chat_id

    @property
    def degraded(self) -> bool:
        return not self.link.up

    # ------------------------------------------------------------------ life

    async def start(self) -> None:
        subjects = self._subjects = await self.link.connect()
        store = self._shared.store
        cached = store.cluster_value("chat")
        if cached is None and store.has_history():
            raise ClusterError(f"the data dir {self._shared.config.data_dir} holds a single-server chat's "
                               "history; a server of a cluster needs a fresh one (--data-dir)")
        if cached is not None and cached != subjects.chat:
            raise ClusterError(f"the data dir {self._shared.config.data_dir} caches chat {cached}, not "
                               f"{subjects.chat}; give that chat's --chat-id or a fresh --data-dir")
        if cached is None:
            store.set_cluster_value("chat", subjects.chat)
        assert self.link.js is not None and self.link.nc is not None
        self.ordering = Ordering(self.link.js, subjects)
        self.applied = int(store.cluster_value("applied") or 0)
        info = await self.link.js.stream_info(subjects.stream)
        self._target = info.state.last_seq
        if self.applied >= self._target:
            self._caught_up.set()
        else:
            log.info("cluster: catching up from stream seq %d to %d", self.applied, self._target)
        await self._subscribe()
        await self.link.nc.subscribe(subjects.typing, cb=self._on_typing)
        self._presence = RemotePresence(self.link.nc, subjects.presence, self._server_id, self._shared.bus,
                                        self._presence_changed)
        await self._presence.start()
        await self._caught_up.wait()
        self.link.on_change = self._link_changed

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._resubscribing is not None:
            self._resubscribing.cancel()
        self._held.close()
        if self._presence is not None and not self.degraded:
            await self._presence.close()
        await self.link.close()

    def _js(self) -> JetStreamContext:
        assert self.link.js is not None
        return self.link.js

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------ posting

    def post(self, conn: Connection, room: str, cid: str, text: str, file: StoredFile | None, *,
             reply_to: int = 0) -> None:
        """Send a member's post to the stream; its ✓ comes when this cache applies it."""
        assert conn.name is not None and self.ordering is not None
        if self.degraded:
            raise Refused(ErrorCode.CHAT_DEGRADED, DEGRADED)
        info = None
        if file is not None:
            info = p.FileInfo(blob_id=file.blob_id, name=file.name, size=file.size, mime=file.mime,
                              thumb_id=file.thumb_id, width=file.width, height=file.height)
        token = secrets.token_hex(8)
        post = Post(room=room, sender=conn.name, time=time.time(), text=text, cid=cid,
                    token=token, file=info, uid=conn.uid, reply_to=reply_to)
        self._pending[token] = (conn, cid)
        self._spawn(self._publish(conn, post))

    async def _publish(self, conn: Connection, post: Post) -> None:
        assert self.ordering is not None
        try:
            published = await self.ordering.publish(post)
        except ClusterError as exc:
            self._pending.pop(post.token, None)
            log.warning("cluster: post from %s in %s not stored: %s", post.sender, post.room, exc)
            if not conn.closed:
                conn.send(p.encode(p.Error(code=ErrorCode.CHAT_DEGRADED, message=f"{DEGRADED} ({exc})",
                                           cid=post.cid)))
            return
        if published.duplicate:  # a resend of a stored post: the first one's ack
            waiting = self._pending.pop(post.token, None)
            if waiting is None:
                return
            if published.stream_seq > self.applied:
                self._pending[published.token] = waiting  # acked when this cache applies the first
                return
            known = self._shared.store.find_by_cid(post.room, post.sender, post.cid)
            if known is not None and not conn.closed:
                conn.send(p.encode(p.Acked(room=post.room, cid=post.cid, seq=known.seq, time=known.time)))
            return
        chatlog.line("message room=%s from=%s (cluster stream seq %d)", post.room, post.sender,
                     published.stream_seq)

    def change(self, conn: Connection, room: str, seq: int, text: str | None, rid: int) -> None:
        """Send an edit (or a delete: `text` None) of `conn`'s post to the stream; its
        requester is answered (`Edited` with `rid`) when this cache applies it."""
        assert conn.name is not None and self._subjects is not None and self.link.js is not None
        self.check_up("change")
        token = secrets.token_hex(8)
        self._changing[token] = (conn, rid)
        js, subject = self.link.js, self._subjects.event(room)
        entry = Change(room=room, seq=seq, text=text, uid=conn.uid, name=conn.name, token=token, time=time.time())

        self._spawn(publish_answered(js, subject, encode(entry), conn, rid, DEGRADED.replace("message", "change"),
                                     lambda: self._changing.pop(token, None)))

    async def create_room(self, room: str, password_hash: str, creator: str, by: str) -> None:
        """Make a room on every server: the first creation on its subject wins (expected last
        subject sequence 0); returns once this cache has it (made by us or by the winner)."""
        assert self._subjects is not None and self.link.js is not None
        if self.degraded:
            raise Refused(ErrorCode.CHAT_DEGRADED, DEGRADED.replace("message", "room"))
        subject = self._subjects.room(room)
        try:
            ack = await self.link.js.publish(subject, encode(RoomMade(room=room, password=password_hash,
                                                                      creator=creator)),
                                             headers={"Nats-Expected-Last-Subject-Sequence": "0"})
            seq = ack.seq
            chatlog.line("create room=%s by=%s", room, by)
        except APIError as exc:
            if exc.err_code != WRONG_LAST_SEQUENCE:
                raise Refused(ErrorCode.CHAT_DEGRADED, f"{DEGRADED.replace('message', 'room')} ({exc})") from None
            seq = (await self.link.js.get_last_msg(self._subjects.stream, subject)).seq or 0
        except Exception as exc:
            raise Refused(ErrorCode.CHAT_DEGRADED, f"{DEGRADED.replace('message', 'room')} ({exc})") from None
        await self.until_applied(seq)

    async def until_current(self) -> None:
        """Once this cache has applied what the stream held when asked (a name bound through
        another server a moment ago, say)."""
        assert self._subjects is not None
        if self.degraded:
            return  # the cache is what there is
        try:
            info = await self._js().stream_info(self._subjects.stream)
        except Exception as exc:
            log.info("cluster: the stream's last seq is unknown (%s)", why(exc))
            return
        await self.until_applied(info.state.last_seq)

    async def until_applied(self, seq: int) -> None:
        """Once this cache has applied stream entry `seq`."""
        if seq <= self.applied:
            return
        done = asyncio.get_running_loop().create_future()
        self._waiters.append((seq, done))
        await done

    # ------------------------------------------------------------------ the stream, in order

    async def _subscribe(self) -> None:
        assert self.link.js is not None and self._subjects is not None
        if self._sub is not None:
            try:
                await self._sub.unsubscribe()  # type: ignore[attr-defined]
            except Exception:
                pass
            self._sub = None
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.applied + 1)
        self._sub = await self.link.js.subscribe(self._subjects.all, cb=self._on_entry, ordered_consumer=True,
                                                 config=config)

    def _resubscribe(self) -> None:
        """From `applied` + 1 again (after a reconnect or a lost commit), until it works."""
        if self._resubscribing is not None and not self._resubscribing.done():
            return

        async def again() -> None:
            delay = 0.2
            while True:
                try:
                    await self._subscribe()
                    return
                except Exception as exc:
                    log.info("cluster: cannot follow the stream yet (%s); again in %.1f s", exc, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)

        self._resubscribing = asyncio.ensure_future(again())

    def _link_changed(self, up: bool) -> None:
        if up:
            self._resubscribe()
            self._held.release()

    def _commit_failed(self) -> None:
        stored = int(self._shared.store.cluster_value("applied") or 0)
        if stored < self.applied:
            log.warning("cluster: the cache lost stream entries %d..%d (commit failed); applying them again",
                        stored + 1, self.applied)
            self.applied = stored
            self._resubscribe()

    async def _on_entry(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        if seq <= self.applied:
            return  # a replay after a resubscribe
        try:
            entry = decode(msg.data)
        except msgspec.DecodeError:
            log.error("cluster: stream entry %d is not one of ours; skipped", seq)
            entry = None
        try:
            self._commit.begin()
            if entry is not None:
                self._apply(entry, seq)
            self._shared.store.set_cluster_value("applied", str(seq))
        except Exception:
            log.error("cluster: applying stream entry %d failed; following the stream again", seq, exc_info=True)
            self._commit_failed()
            return
        self.applied = seq
        if seq >= self._target:
            self._caught_up.set()
        if self._waiters:
            still = []
            for want, done in self._waiters:
                if want > seq:
                    still.append((want, done))
                elif not done.done():
                    done.set_result(None)
            self._waiters = still

    # ------------------------------------------------------------------ file bodies

    async def put_file(self, blob_id: str, path: Path) -> None:
        if self.degraded:
            raise ClusterError(DEGRADED.replace("message", "file"))
        await self._bodies().put(blob_id, path)

    async def get_file(self, blob_id: str, into: Path) -> bool:
        return await self._bodies().get(blob_id, into)

    def _bodies(self) -> Bodies:
        if self._object_store is None:
            assert self.link.js is not None and self._subjects is not None
            self._object_store = Bodies(self.link.js, self._subjects.files)
        return self._object_store

    # ------------------------------------------------------------------ what every server shares

    def check_up(self, what: str = "change") -> None:
        """Refuse a change others must see while the chat is degraded."""
        if self.degraded:
            raise Refused(ErrorCode.CHAT_DEGRADED, DEGRADED.replace("message", what))

    def publish_entry(self, room: str, entry: Entry) -> None:
        """Send a membership, reaction or receipt to the stream (it takes effect on every
        server when applied, this one too); one that NATS did not take is logged."""
        assert self._subjects is not None and self.link.js is not None
        js, subject = self.link.js, self._subjects.event(room)
        if isinstance(entry, Receipt) and self.degraded:
            self._held.hold(entry)
            return

        async def send() -> None:
            try:
                await js.publish(subject, encode(entry))
            except Exception as exc:
                if isinstance(entry, Receipt):
                    self._held.hold(entry)
                    self._held.release()
                else:
                    log.warning("cluster: a %s in %s was not stored: %s", type(entry).__name__, room, exc)

        self._spawn(send())

    async def _send_receipt(self, receipt: Receipt) -> None:
        assert self._subjects is not None
        await self._js().publish(self._subjects.event(receipt.room), encode(receipt))

    def typing(self, room: str, name: str, typing: bool) -> None:
        """Tell the other servers (plain NATS: a hint, never stored)."""
        nc, subjects = self.link.nc, self._subjects
        if nc is None or subjects is None or self.degraded:
            return
        note = TypingNote(room=room, name=name, typing=typing, origin=self._server_id)
        self._spawn(nc.publish(subjects.typing, encode(note)))

    def remote_online(self, room: str, name: str) -> bool:
        """Whether `name` listens to `room` through another server of the chat."""
        return self._presence is not None and self._presence.online(room, name)

    def remote_names(self, room: str) -> list[str]:
        return self._presence.names(room) if self._presence is not None else []

    def _presence_changed(self, room: str, name: str, online: bool) -> None:
        if self.on_presence is not None:
            self.on_presence(room, name, online)

    async def _on_typing(self, msg: Msg) -> None:
        try:
            note = decode_typing(msg.data)
        except msgspec.DecodeError:
            return
        if note.origin != self._server_id:
            self._shared.bus.publish(note.room, p.encode(p.Typing(room=note.room, name=note.name,
                                                                  typing=note.typing)))

