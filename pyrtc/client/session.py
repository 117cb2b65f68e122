"""ClientSession: one user's connection to a server, headless or under the GUI.

Invariants:
- `state` changes only through `ChatState.apply`, and every event applied is also handed to
  `on_event` (the GUI's queue) in the same order.
- A text is kept as pending until the server acknowledges its `cid`; after a reconnect every
  pending text is sent again with the same cid, and the server stores it once. Nothing
  acknowledged is lost, nothing is shown twice.
- On reconnect each room is re-joined from `RoomView.synced`, and any gap the server's page
  leaves is fetched before the room counts as resumed.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import mimetypes
import os
import secrets
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from .. import blob_id as ids
from .. import protocol as p
from ..filenames import display_name
from ..protocol import limits as L
from ..protocol.codes import ErrorCode
from ..ratelimit import TokenBucket
from .errors import ConnectionLost, IdentityMismatch, Rejected
from .state import (
    ChatState,
    Connected,
    Connecting,
    Disconnected,
    Event,
    MessageView,
    PendingText,
    RoomView,
    TransferUpdate,
)

__all__ = ["ClientSession", "parse_address"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Error codes after which reconnecting cannot help.
_FATAL_HELLO = {ErrorCode.NAME_TAKEN, ErrorCode.VERSION_MISMATCH, ErrorCode.BAD_MESSAGE,
                ErrorCode.UNEXPECTED_MESSAGE, ErrorCode.WRONG_PASSWORD}


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """'host', 'host:port' or '[v6]:port' -> (host, port), with a clear error."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.lstrip(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"no host in server address {text!r}")
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise ValueError(f"bad port in server address {text!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range in {text!r}")
    return host, port


class ClientSession:
    def __init__(
        self,
        host: str,
        port: int,
        name: str,
        *,
        client: str = "pyrtc",
        reconnect: bool = True,
        backoff: tuple[float, float] = (0.1, 5.0),
        idle_timeout: float = 60.0,
        on_event: Callable[[Event], None] | None = None,
        connect_timeout: float = 5.0,
        auto_delivered: bool = True,
        relocate: Callable[[], Awaitable[tuple[str, int] | None]] | None = None,
        tls: bool = True,
        fingerprint: str | None = None,
        trust: Callable[[str, p.Welcome], None] | None = None,
        password: str = "",
    ) -> None:
        self.host, self.port, self.name = host, port, p.check_name(name)
        self.state = ChatState()
        self.on_event = on_event
        self._client = client
        self._reconnect = reconnect
        self._backoff = backoff
        self._idle_timeout = idle_timeout
        self._connect_timeout = connect_timeout
        self._auto_delivered = auto_delivered  # report "delivered" as messages arrive
        #: Asked where the server is now after failed reconnects (discovery: it may have
        #: come back on another address or port).
        self.relocate = relocate
        self.tls = tls
        #: The certificate we expect (announced, --fingerprint, or seen on the first connect):
        #: checked right after the TLS handshake, before a byte of ours is sent.
        self.fingerprint = fingerprint.lower() if fingerprint else None
        self.peer_fingerprint: str | None = None
        self._trust = trust  # after Welcome: may raise IdentityMismatch (trust on first use)
        self._password = password  # the server's, sent in every hello
        self._token = ""
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._decoder = p.client_decoder()
        self._rids = itertools.count(1)
        self._replies: dict[int, asyncio.Future[Any]] = {}
        self._acks: dict[str, asyncio.Future[int]] = {}
        self._uploads: dict[str, asyncio.Queue[p.ServerMsg]] = {}
        self._downloads: dict[str, asyncio.Queue[p.ServerMsg]] = {}
        self._streams: dict[int, asyncio.Queue[p.ServerMsg]] = {}  # rid -> a transfer's queue
        self._watch: set[str] = set()  # rooms joined as a watcher (tail)
        self._connected = asyncio.Event()
        self._waiters: list[asyncio.Future[None]] = []  # woken after every applied event
        self._bucket = TokenBucket(0.0, 1)  # the server's flood control, learnt from Welcome
        self._pace_lock = asyncio.Lock()
        # Uploads beyond the server's default of 4 at once wait their turn instead of being
        # refused (a user may attach many files at once).
        self._upload_slots = asyncio.Semaphore(4)
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self.fatal: Rejected | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        """Connect and say hello; raises ConnectionLost or Rejected on the first try."""
        await self._open()
        self._runner = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        self._closing = True
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            self._runner.cancel()
            try:
                await self._runner
            except (asyncio.CancelledError, Exception):
                pass
        await self._drop_transport()
        self._fail_waiters(ConnectionLost("the session was closed"))

    async def __aenter__(self) -> ClientSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _open(self, attempt: int = 0) -> None:
        self._emit(Connecting(self.address, attempt))
        ctx = None
        if self.tls:
            # No CA for a LAN server: we pin its certificate's fingerprint instead.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port, limit=L.MAX_FRAME * 2,
                                                               ssl=ctx)
        except ssl.SSLError as exc:
            raise ConnectionLost(f"the server at {self.address} does not speak TLS ({exc.reason or exc}); "
                                 "if it runs with --insecure, connect with --insecure too") from exc
        except (OSError, TimeoutError) as exc:
            raise ConnectionLost(f"cannot reach the server at {self.address}: {_why(exc)}") from exc
        if self.tls:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            seen = hashlib.sha256(der).hexdigest()
            if self.fingerprint and seen != self.fingerprint:
                writer.close()
                self.fatal = IdentityMismatch(
                    f"REFUSED: the server at {self.address} is not the one expected: its certificate "
                    f"fingerprint is {seen[:16]}…, expected {self.fingerprint[:16]}…. Someone may be "
                    "impersonating it; nothing was sent.", seen=seen, expected=self.fingerprint)
                raise self.fatal
            self.peer_fingerprint = seen
        self._decoder = p.client_decoder()
        writer.write(p.encode(p.Hello(version=p.PROTOCOL_VERSION, name=self.name,
                                      token=self._token, client=self._client, password=self._password)))
        try:
            async with asyncio.timeout(self._connect_timeout):
                welcome = await self._read_welcome(reader)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, p.ProtocolError) as exc:
            writer.close()
            raise ConnectionLost(f"the server at {self.address} did not answer the handshake: "
                                 f"{exc or type(exc).__name__}") from exc
        except Rejected:
            writer.close()
            raise
        if self.tls and self._trust is not None and self.peer_fingerprint:
            try:
                self._trust(self.peer_fingerprint, welcome)
            except IdentityMismatch as exc:
                writer.close()
                self.fatal = exc
                raise
        self.fingerprint = self.peer_fingerprint or self.fingerprint  # pinned for reconnects
        self._reader, self._writer = reader, writer
        self._token = welcome.token
        if welcome.max_rate > 0:
            # A little under the server's rate: the two buckets' clocks differ slightly.
            self._bucket = TokenBucket(welcome.max_rate * 0.9, max(1, int(welcome.burst * 0.9)))
        self._apply(welcome)
        self._connected.set()
        self._emit(Connected(self.address))
        await self._resume()

    async def _read_welcome(self, reader: asyncio.StreamReader) -> p.Welcome:
        while True:
            data = await reader.read(65536)
            if not data:
                raise ConnectionLost(f"the server at {self.address} closed the connection")
            for msg in self._decoder.feed(data):
                if isinstance(msg, p.Welcome):
                    return msg
                if isinstance(msg, p.Error):
                    err = Rejected(msg.code, msg.message)
                    if msg.code in _FATAL_HELLO:
                        self.fatal = err
                    raise err

    async def _resume(self) -> None:
        """After (re)connecting: re-join rooms from where we are, resend what is pending."""
        loop = asyncio.get_running_loop()
        for room in list(self.state.rooms.values()):
            rid = next(self._rids)
            self._replies[rid] = loop.create_future()
            since = room.synced
            self._write(p.JoinRoom(room=room.name, since=since or None, rid=rid,
                                   watch=room.name in self._watch))
            task = loop.create_task(self._fill_gap(room.name, since, rid))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        for room in self.state.rooms.values():
            for m in room.pending():
                self._write(p.SendText(room=m.room, cid=m.cid, text=m.text))

    async def _fill_gap(self, room_name: str, since: int, rid: int) -> None:
        """After a resume, fetch what the server's join page skipped: no gap."""
        try:
            fut = self._replies.get(rid)
            if fut is not None:
                await fut
            if since:
                await self.fill(room_name, since)
        except (ConnectionLost, Rejected, TimeoutError) as exc:
            log.info("history gap in %s not filled yet: %s", room_name, exc)

    async def _run(self) -> None:
        attempt = 0
        while True:
            try:
                await self._read_loop()
                reason = "the server closed the connection"
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                reason = f"connection lost: {exc or type(exc).__name__}"
            except p.ProtocolError as exc:
                reason = f"the server sent something we cannot read: {exc}"
            except Rejected as exc:
                reason = str(exc)
                self.fatal = exc
            await self._drop_transport()
            retry = self._reconnect and not self._closing and self.fatal is None
            self._emit(Disconnected(reason, retry))
            self._fail_waiters(ConnectionLost(reason), keep_acks=retry)
            if not retry:
                return
            delay = self._backoff[0]
            while True:
                attempt += 1
                await asyncio.sleep(delay * (0.8 + 0.4 * secrets.randbelow(1000) / 1000))
                try:
                    await self._open(attempt)
                    attempt = 0
                    break
                except ConnectionLost as exc:
                    log.info("reconnect to %s failed (%s); retrying", self.address, exc)
                    delay = min(self._backoff[1], delay * 2)
                    if self.relocate is not None and attempt >= 2:
                        try:
                            where = await self.relocate()
                        except Exception:
                            log.warning("looking for the server again failed", exc_info=True)
                            where = None
                        if where is not None and where != (self.host, self.port):
                            log.info("the server is now at %s:%d", *where)
                            self.host, self.port = where
                except Rejected as exc:
                    if isinstance(exc, IdentityMismatch) or (exc.code in _FATAL_HELLO and exc.code != ErrorCode.NAME_TAKEN):
                        self.fatal = exc
                        self._emit(Disconnected(str(exc), False))
                        self._fail_waiters(exc)
                        return
                    # name_taken right after a drop: our old session is still half-open there
                    delay = min(self._backoff[1], delay * 2)

    async def _read_loop(self) -> None:
        assert self._reader is not None
        reader = self._reader
        while True:
            async with asyncio.timeout(self._idle_timeout):
                data = await reader.read(L.MAX_FRAME)
            if not data:
                return
            delivered: dict[str, int] = {}
            for msg in self._decoder.feed(data):
                self._receive(msg, delivered)
            if self._auto_delivered:
                for room, seq in delivered.items():
                    self._write(p.MarkDelivered(room=room, seq=seq))

    def _receive(self, msg: p.ServerMsg, delivered: dict[str, int]) -> None:
        match msg:
            case p.FileData() | p.FileEnd():
                q = self._downloads.get(msg.blob_id)
                if q is not None:
                    q.put_nowait(msg)
                if isinstance(msg, p.FileData):
                    return
            case p.UploadReady():
                q = self._uploads.get(msg.blob_id)
                if q is not None:
                    q.put_nowait(msg)
            case p.Ping():
                self._write(p.Pong(nonce=msg.nonce))
                return
            case p.Acked():
                fut = self._acks.pop(msg.cid, None)
                if fut is not None and not fut.done():
                    fut.set_result(msg.seq)
            case p.Error() if msg.fatal:
                self._apply(msg)
                raise Rejected(msg.code, msg.message)
            case p.Error() if msg.cid:
                fut = self._acks.pop(msg.cid, None)
                if fut is not None and not fut.done():
                    fut.set_exception(Rejected(msg.code, msg.message))
            case p.Posted():
                room = self.state.rooms.get(msg.room)
                if msg.sender != self.name and room is not None and msg.room not in self._watch:
                    delivered[msg.room] = max(delivered.get(msg.room, 0), msg.seq)
            case p.Joined():
                if msg.room not in self._watch:
                    last = max((m.seq for m in msg.history), default=0)
                    if last:
                        delivered[msg.room] = max(delivered.get(msg.room, 0), last)
        rid = getattr(msg, "rid", 0)
        self._apply(msg)
        stream = self._streams.get(rid) if rid else None
        if stream is not None and isinstance(msg, (p.Error, p.FileEnd)):
            if not isinstance(msg, p.FileEnd):  # FileEnd already went to the blob's queue
                stream.put_nowait(msg)
            return
        if rid:
            reply = self._replies.pop(rid, None)
            if reply is not None and not reply.done():
                if isinstance(msg, p.Error):
                    reply.set_exception(Rejected(msg.code, msg.message))
                else:
                    reply.set_result(msg)
        elif isinstance(msg, p.Error):
            log.warning("server: %s", msg.message)

    async def _drop_transport(self) -> None:
        self._connected.clear()
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (OSError, asyncio.CancelledError):
                pass

    def _fail_waiters(self, exc: Exception, keep_acks: bool = False) -> None:
        replies, self._replies = self._replies, {}
        for fut in replies.values():
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # a waiter may be gone (cancelled): no "never retrieved" noise
        for q in (*self._uploads.values(), *self._downloads.values()):
            q.put_nowait(p.Error(code=ErrorCode.CONNECTION_LOST, message=str(exc)))
        if not keep_acks:
            acks, self._acks = self._acks, {}
            for ack in acks.values():
                if not ack.done():
                    ack.set_exception(exc)
                    ack.exception()

    # ------------------------------------------------------------------ plumbing

    def _apply(self, event: Event) -> None:
        self.state.apply(event)
        if self.on_event is not None:
            self.on_event(event)
        if self._waiters:
            waiters, self._waiters = self._waiters, []
            for w in waiters:
                if not w.done():
                    w.set_result(None)

    def _emit(self, event: Event) -> None:
        if isinstance(event, TransferUpdate) and not event.id:
            return  # a quiet transfer
        self._apply(event)

    def _write(self, msg: p.Msg) -> bool:
        if self._writer is None or self._writer.is_closing():
            # Cut, and the read loop has not noticed yet: callers that wait for the
            # connection must wait for the next one, not spin on this dead one.
            self._connected.clear()
            return False
        self._writer.write(p.encode(msg))
        return True

    async def _request(self, make: Callable[[int], p.Msg], timeout: float = 10.0) -> Any:
        if self.fatal is not None:
            raise self.fatal
        async with asyncio.timeout(timeout):
            await self._connected.wait()
            rid = next(self._rids)
            fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._replies[rid] = fut
            if not self._write(make(rid)):
                self._replies.pop(rid, None)
                raise ConnectionLost("not connected")
            return await fut

    async def wait_for(self, pred: Callable[[ChatState], bool], timeout: float | None = 5.0) -> None:
        """Wait until `pred(state)` holds (checked after every batch of frames)."""
        async with asyncio.timeout(timeout):
            while not pred(self.state):
                fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
                self._waiters.append(fut)
                await fut

    async def wait_connected(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            await self._connected.wait()

    # ------------------------------------------------------------------ commands

    async def join(self, room: str, *, since: int | None = None, watch: bool = False,
                   password: str = "") -> RoomView:
        """Join a room (its history and members arrive with it). `since`: also every message
        after this seq. `watch`: receive without becoming a member (for `pyrtc tail`)."""
        if watch:
            self._watch.add(room)
        joined: p.Joined = await self._request(
            lambda rid: p.JoinRoom(room=room, since=since, rid=rid, watch=watch, password=password))
        if watch:
            self._watch.add(joined.room)
        if since is not None:
            await self.fill(joined.room, since)
        return self.state.rooms[joined.room]

    async def fill(self, room_name: str, after: int) -> None:
        """Fetch every message of the room with seq > `after` that we do not hold yet."""
        while True:
            room = self.state.rooms.get(room_name)
            if room is None:
                return
            s = after + 1
            while s in room.by_seq:
                s += 1
            if s > room.last_seq:
                return
            nxt = min((q for q in room.by_seq if q > s), default=room.last_seq + 1)
            page = await self.history(room_name, after=s - 1, before=nxt, limit=L.MAX_HISTORY_PAGE)
            if not page.messages:
                return

    async def leave(self, room: str) -> None:
        await self._request(lambda rid: p.LeaveRoom(room=room, rid=rid))

    async def create_room(self, room: str, *, password: str = "") -> RoomView:
        """Create a room (with a password, joining it needs that password) and join it."""
        await self._request(lambda rid: p.CreateRoom(room=room, rid=rid, password=password))
        return await self.join(room, password=password)

    async def list_rooms(self) -> list[p.RoomInfo]:
        reply: p.RoomList = await self._request(lambda rid: p.ListRooms(rid=rid))
        return reply.rooms

    async def send(self, room: str, text: str, *, timeout: float | None = 10.0) -> int:
        """Send a text; returns its seq once the server has stored it (✓ sent). Survives a
        reconnect: the same cid is resent and the server stores it once."""
        if not text:
            raise ValueError("empty message")
        if len(text) > L.MAX_TEXT:
            raise ValueError(f"message is {len(text)} characters; the limit is {L.MAX_TEXT}")
        if room not in self.state.rooms:
            raise Rejected(ErrorCode.NOT_JOINED, f"join {room!r} first")
        await self._pace()
        cid = secrets.token_hex(8)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._acks[cid] = fut
        self._emit(PendingText(room, cid, self.name, text, time.time()))
        self._write(p.SendText(room=room, cid=cid, text=text))
        if timeout is None:
            return await fut
        async with asyncio.timeout(timeout):
            return await fut

    async def _pace(self) -> None:
        """Stay under the server's flood control (its rate comes with Welcome), so a script
        piping a thousand lines is slowed down here instead of refused there."""
        async with self._pace_lock:  # one sender at a time takes tokens, in call order
            while not self._bucket.take():
                await asyncio.sleep(self._bucket.delay())

    async def set_typing(self, room: str, typing: bool) -> None:
        self._write(p.SetTyping(room=room, typing=typing))

    async def mark_delivered(self, room: str, seq: int) -> None:
        self._write(p.MarkDelivered(room=room, seq=seq))

    async def mark_read(self, room: str, seq: int) -> None:
        self._write(p.MarkRead(room=room, seq=seq))

    async def react(self, room: str, seq: int, emoji: str, on: bool = True) -> None:
        self._write(p.React(room=room, seq=seq, emoji=emoji, on=on))

    async def history(self, room: str, *, before: int | None = None, after: int = 0,
                      limit: int = 100) -> p.HistoryPage:
        page: p.HistoryPage = await self._request(
            lambda rid: p.GetHistory(room=room, before=before, after=after, limit=limit, rid=rid))
        return page

    async def load_older(self, room: str, limit: int = 100) -> int:
        """Fetch the page before the oldest message held; returns how many came."""
        view = self.state.rooms[room]
        if not view.more_before:
            return 0
        page = await self.history(room, before=view.first_seq or None, limit=limit)
        return len(page.messages)

    async def search(self, room: str, query: str, limit: int = 50) -> list[p.Posted]:
        reply: p.SearchHits = await self._request(
            lambda rid: p.Search(room=room, query=query, limit=limit, rid=rid))
        return reply.hits

    async def ping(self) -> float:
        start = time.perf_counter()
        await self._request(lambda rid: p.ListRooms(rid=rid))
        return time.perf_counter() - start

    # ------------------------------------------------------------------ files

    async def upload(
        self,
        room: str,
        path: Path,
        *,
        name: str | None = None,
        mime: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        retries: int = 20,
    ) -> int:
        """Upload a file into `room`; resumes after a dropped connection from where the
        server is. Returns the seq of the file message."""
        path = Path(path)
        size = path.stat().st_size
        if self.state.max_file and size > self.state.max_file:
            raise Rejected(ErrorCode.FILE_TOO_LARGE, f"{path.name} is {size} bytes; the server accepts up "
                                             f"to {self.state.max_file}")
        blob = await asyncio.to_thread(ids.of_file, path)
        display = display_name(name or path.name)
        kind = mime or mimetypes.guess_type(display)[0] or "application/octet-stream"
        cid = "f" + blob[:15] + secrets.token_hex(4)
        tid = f"up-{cid}"
        queue: asyncio.Queue[p.ServerMsg] = asyncio.Queue()
        self._uploads[blob] = queue
        self._emit(TransferUpdate(tid, display, "up", size, 0, path=str(path)))
        try:
            async with self._upload_slots:
                return await self._upload_tries(room, path, size, blob, display, kind, cid, tid, queue,
                                                progress, retries)
        except Exception as exc:
            self._emit(TransferUpdate(tid, display, "up", size, 0, "failed", str(exc), str(path)))
            raise
        finally:
            self._uploads.pop(blob, None)

    async def _upload_tries(self, room: str, path: Path, size: int, blob: str, display: str, kind: str,
                            cid: str, tid: str, queue: asyncio.Queue[p.ServerMsg],
                            progress: Callable[[int, int], None] | None, retries: int) -> int:
        """Upload, resuming after a dropped connection from where the server is."""
        for attempt in range(retries + 1):
            try:
                return await self._upload_once(room, path, size, blob, display, kind, cid, tid,
                                               queue, progress)
            except ConnectionLost as exc:
                if attempt == retries or not self._reconnect or self.fatal:
                    raise
                log.info("upload of %s interrupted (%s); resuming", display, exc)
                await asyncio.sleep(min(2.0, 0.05 * 2 ** attempt))
                await self.wait_connected(timeout=60)
        raise AssertionError("unreachable")

    async def _upload_once(self, room: str, path: Path, size: int, blob: str, display: str,
                           kind: str, cid: str, tid: str, queue: asyncio.Queue[p.ServerMsg],
                           progress: Callable[[int, int], None] | None) -> int:
        while not queue.empty():
            queue.get_nowait()
        ack: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._acks[cid] = ack
        offer_rid = 0

        def offer(rid: int) -> p.Msg:
            nonlocal offer_rid
            offer_rid = rid
            return p.OfferFile(room=room, cid=cid, name=display, size=size, blob_id=blob,
                               mime=kind, rid=rid)

        ready = await self._request(offer)
        self._streams[offer_rid] = queue  # later errors about this upload (hash, disk) land here
        try:
            return await self._send_chunks(path, size, blob, display, tid, ready.offset, ack, queue,
                                           progress)
        finally:
            self._streams.pop(offer_rid, None)

    async def _send_chunks(self, path: Path, size: int, blob: str, display: str, tid: str,
                           offset: int, ack: asyncio.Future[int], queue: asyncio.Queue[p.ServerMsg],
                           progress: Callable[[int, int], None] | None) -> int:
        with open(path, "rb") as f:
            f.seek(offset)
            while offset < size:
                data = f.read(L.CHUNK_SIZE)
                if not data:
                    raise Rejected(ErrorCode.FILE_CHANGED, f"{path} became shorter while uploading")
                writer = self._writer
                if writer is None:
                    raise ConnectionLost("connection lost during upload")
                writer.write(p.encode_head(p.FileChunk(blob_id=blob, offset=offset, data=b""), len(data)))
                writer.write(data)  # not copied into a frame (p.encode_head)
                offset += len(data)
                try:
                    await writer.drain()
                except OSError as exc:
                    raise ConnectionLost(f"connection lost during upload: {exc}") from exc
                if not queue.empty():
                    _raise_if_error(queue.get_nowait())
                if progress:
                    progress(offset, size)
                self._emit(TransferUpdate(tid, display, "up", size, offset, path=str(path)))
        while True:  # the ack, or an Error about this upload; other queued replies are skipped
            done = asyncio.ensure_future(ack)
            err = asyncio.ensure_future(queue.get())
            either: set[asyncio.Future[Any]] = {done, err}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED, timeout=300)
            if done.done():
                err.cancel()
                seq = done.result()
                self._emit(TransferUpdate(tid, display, "up", size, size, "done", path=str(path)))
                return seq
            if not err.done():
                err.cancel()
                raise ConnectionLost("no answer to the finished upload")
            _raise_if_error(err.result())

    async def download(
        self,
        blob_id: str,
        target: Path,
        *,
        name: str | None = None,
        progress: Callable[[int, int], None] | None = None,
        retries: int = 20,
        quiet: bool = False,
    ) -> Path:
        """Download a file to `target`. Bytes land in `target.part` first; an existing
        .part is resumed from its length. The finished file's content is checked against its id.
        `quiet`: not listed among the transfers (picture previews)."""
        target = Path(target)
        part = target.with_name(target.name + ".part")
        tid = "" if quiet else f"down-{blob_id[:16]}-{target.name}"
        display = name or target.name
        queue: asyncio.Queue[p.ServerMsg] = asyncio.Queue()
        self._downloads[blob_id] = queue
        hashed = _RunningHash()  # hashed as it arrives: no second read of the file at the end
        try:
            for attempt in range(retries + 1):
                offset = part.stat().st_size if part.exists() else 0
                try:
                    await self._download_once(blob_id, part, offset, queue, tid, display, progress, hashed)
                    break
                except ConnectionLost:
                    if attempt == retries or not self._reconnect or self.fatal:
                        raise
                    await asyncio.sleep(min(2.0, 0.05 * 2 ** attempt))
                    await self.wait_connected(timeout=60)
            size = part.stat().st_size
            digest = hashed.hexdigest(size) or await asyncio.to_thread(ids.of_file, part)
            if digest != blob_id:
                part.unlink()
                raise Rejected(ErrorCode.CORRUPT, "the downloaded file does not match its id (BLAKE3); try again")
            os.replace(part, target)
        except Exception as exc:
            self._emit(TransferUpdate(tid, display, "down", 0, 0, "failed", str(exc), str(target)))
            raise
        finally:
            self._downloads.pop(blob_id, None)
        size = target.stat().st_size
        self._emit(TransferUpdate(tid, display, "down", size, size, "done", path=str(target)))
        return target

    async def _download_once(self, blob_id: str, part: Path, offset: int,
                             queue: asyncio.Queue[p.ServerMsg], tid: str, display: str,
                             progress: Callable[[int, int], None] | None, hashed: _RunningHash) -> None:
        while not queue.empty():
            queue.get_nowait()
        size_hint = 0
        for m in self._known_files():
            if m.blob_id == blob_id or m.thumb_id == blob_id:
                size_hint = m.size if m.blob_id == blob_id else 0
        await self.wait_connected()
        rid = next(self._rids)
        self._streams[rid] = queue
        try:
            if not self._write(p.FetchFile(blob_id=blob_id, offset=offset, rid=rid)):
                raise ConnectionLost("not connected")
            await self._receive_file(part, offset, queue, tid, display, size_hint, progress, hashed)
        finally:
            self._streams.pop(rid, None)

    async def _receive_file(self, part: Path, offset: int, queue: asyncio.Queue[p.ServerMsg],
                            tid: str, display: str, size_hint: int,
                            progress: Callable[[int, int], None] | None, hashed: _RunningHash) -> None:
        with open(part, "ab") as f:
            while True:
                msg = await queue.get()
                if isinstance(msg, p.FileData):
                    if msg.offset != offset:
                        raise ConnectionLost(f"download out of order at {msg.offset}, expected {offset}")
                    f.write(msg.data)
                    hashed.update(offset, msg.data)
                    offset += len(msg.data)
                    size_hint = msg.total or size_hint or offset
                    if progress:
                        progress(offset, size_hint)
                    self._emit(TransferUpdate(tid, display, "down", size_hint, offset))
                elif isinstance(msg, p.FileEnd):
                    return
                else:
                    _raise_if_error(msg)

    def _known_files(self) -> list[p.FileInfo]:
        return [m.file for r in self.state.rooms.values() for m in r.messages if m.file]

    def find_message(self, room: str, pred: Callable[[MessageView], bool]) -> MessageView | None:
        view = self.state.rooms.get(room)
        return next((m for m in reversed(view.messages) if pred(m)), None) if view else None


def _why(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError) or "Connect call failed" in str(exc):
        return "connection refused (is a PyRTC server running there?)"
    if isinstance(exc, TimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def _raise_if_error(msg: p.ServerMsg) -> None:
    if isinstance(msg, p.Error):
        if msg.code == ErrorCode.CONNECTION_LOST:
            raise ConnectionLost(msg.message)
        raise Rejected(msg.code, msg.message)


class _RunningHash:
    """The id (BLAKE3) of a download as its chunks arrive, valid while they come in order from byte 0
    (a download resumed from an older .part is hashed from the file instead)."""

    def __init__(self) -> None:
        self._h = ids.hasher()
        self.length = 0

    def update(self, offset: int, data: bytes) -> None:
        if offset == self.length:
            self._h.update(data)
            self.length += len(data)

    def hexdigest(self, size: int) -> str | None:
        return self._h.hexdigest() if self.length == size else None
