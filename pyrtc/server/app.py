"""The chat server: handshake, rooms, messages, receipts, typing, reactions, files.

Invariants:
- Every message is handled on the event loop thread, one at a time, so room state needs no
  locks; SQLite calls are short and synchronous, hashing and thumbnails go to a thread.
- A message is acknowledged (`Acked`, ✓ sent) only after its transaction has committed.
- One online connection per user name (compared NFKC + casefold); a reconnect that shows
  the session token of a half-open connection replaces it.
- Each chat activity goes to the `pyrtc.chat` logger, control characters escaped, so no
  user text can forge a log line.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import assert_never

from .. import protocol as p
from ..filenames import display_name
from ..protocol import limits as L
from ..protocol.codes import ErrorCode
from ..store import (
    BlobError,
    BlobStore,
    Duplicate,
    Store,
    StoredFile,
    StoredMessage,
    StoreError,
    load_image_codecs,
    make_thumbnail,
)
from ..store.blobs import PartWriter
from ..store.rehash import adopt_blake3_ids
from ..units import human_size
from . import chatlog
from .config import ServerConfig
from .connection import Connection
from .errors import Refused
from .names import invisible_in, name_keys
from .passwords import Backoff, check_password, hash_password
from .rooms import RoomBus
from .sockets import Listener, Refusal, raise_fd_limit
from .stream import Stream
from .tls import ensure_certificate, server_context

__all__ = ["ChatServer", "escape_log"]

log = logging.getLogger(__name__)

# What flood control counts: what others see or what costs the server storage.
_METERED = (p.SendText, p.React, p.OfferFile, p.CreateRoom)

_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp")
_DAY = 24 * 3600.0


def escape_log(text: str, limit: int = 2000) -> str:
    """One log-safe line: control and other non-printable characters escaped."""
    if len(text) > limit:
        text = text[:limit] + "…"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


@dataclass
class _Upload:
    room: str
    cid: str
    name: str
    size: int
    mime: str
    blob_id: str
    rid: int
    received: int
    part: PartWriter | None  # open while chunks come in
    finishing: bool = False


class ChatServer:
    def __init__(
        self,
        config: ServerConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(config.data_dir / "history.db", clock=wall)
        self.blobs = BlobStore(config.data_dir / "files")
        adopt_blake3_ids(self.blobs, self.store)  # files of a store from before protocol 2
        self.bus = RoomBus()
        self.conns: set[Connection] = set()
        self.online: dict[str, Connection] = {}  # first name key -> connection
        self._claimed: dict[str, Connection] = {}  # every name key of those online -> connection
        self._tokens: dict[str, str] = {}  # first name key -> token of its last session
        self._listener: Listener | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._receipt_timer: asyncio.TimerHandle | None = None
        # Group commit: what this loop iteration stored, answered once it is committed.
        self._batch: list[tuple[Connection, bytes, str, bytes]] = []  # conn, ack, room, posted
        self._batch_open = False
        self._dirty_rooms: set[str] = set()
        #: Called with (users online, rooms) whenever either changes (for the mDNS TXT record).
        self.on_counts_changed: Callable[[int, int], None] | None = None
        self.server_id = _server_id(config.data_dir)
        self._backoff = Backoff(clock)
        self.fingerprint: str | None = None  # SHA-256 of our TLS certificate, once started
        self._closing = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        cfg = self.config
        ctx = None
        if cfg.tls:
            cert, key, self.fingerprint = ensure_certificate(cfg.data_dir, cfg.name)
            ctx = server_context(cert, key)
        else:
            log.warning("TLS is off (--insecure): messages cross the network in clear text")
        await asyncio.to_thread(load_image_codecs)
        raise_fd_limit()  # each connection is a descriptor

        def connection(sock: socket.socket, peer: tuple[str, int], refusal: Refusal | None,
                       on_finish: Callable[[Stream], None]) -> Connection:
            return Connection(self, sock, peer, tls=ctx, refusal=refusal, on_finish=on_finish,
                              quiet=listener.quiet, clock=self._clock)

        listener = Listener(connection, max_per_address=cfg.max_per_address,
                            max_connections=cfg.max_connections)
        await listener.open(cfg.host, cfg.port)
        self._listener = listener
        self._housekeeping = loop.create_task(self._housekeep())
        self.store.start_checkpointer()
        host, port = self.address
        log.info("listening on %s:%d as %r (data in %s)", host, port, self.config.name,
                 self.config.data_dir)
        return host, port

    @property
    def address(self) -> tuple[str, int]:
        assert self._listener is not None and self._listener.sockets
        return self._listener.address

    async def close(self) -> None:
        self._closing = True
        if self._listener is not None:
            self._listener.close()  # stops accepting; aborts those still in their handshake
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        if self._batch_open:
            self._commit_batch()
        self._flush_receipts()
        for conn in list(self.conns):
            conn.abort()
        self.store.close()
        log.info("stopped")

    async def __aenter__(self) -> ChatServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def users_online(self) -> int:
        return len(self.online)

    # ------------------------------------------------------------------ connections

    def connected(self, conn: Connection) -> None:
        # Over --max-per-address or max_connections, the listener refused it already.
        self.conns.add(conn)
        log.debug("connect %s", conn.peer)  # probes connect too; hello is logged at INFO

    def disconnected(self, conn: Connection, exc: Exception | None) -> None:
        self.conns.discard(conn)
        for up in conn.uploads.values():
            if isinstance(up, _Upload) and up.part is not None:
                up.part.close()  # what arrived stays in the .part: a later offer resumes it
        if conn.name is None:
            return
        keys = name_keys(conn.name)
        for room in list(conn.rooms):
            live = self.bus.room(room)
            self.bus.unsubscribe(room, conn)
            if live.listeners.get(conn.name) is None and room not in conn.watching:
                self._stop_typing(room, conn.name)
                live.presence[conn.name] = False
                self._room_dirty(room)
        for key in keys:
            if self._claimed.get(key) is conn:
                del self._claimed[key]
        if self.online.get(keys[0]) is conn:
            del self.online[keys[0]]
            self._users_changed()
        chatlog.line("disconnect name=%s peer=%s%s", conn.name, conn.peer,
                      f" reason={escape_log(str(exc))}" if exc else "")

    def _users_changed(self) -> None:
        # Not while closing: the disconnects of `close()` arrive after the store is closed.
        if self.on_counts_changed is not None and not self._closing:
            self.on_counts_changed(len(self.online), len(self.store.rooms()))

    def _begin_batch(self) -> None:
        if not self._batch_open:
            self._batch_open = True
            self.store.begin()
            asyncio.get_running_loop().call_soon(self._commit_batch)

    def _commit_batch(self) -> None:
        """Commit, then send the acks (✓ sent only for what is on disk) and the posts."""
        self._batch_open = False
        batch, self._batch = self._batch, []
        try:
            self.store.commit()
        except Exception:
            # Nothing of the batch was acknowledged: dropping its senders makes their clients
            # reconnect and resend the same cids, so nothing is lost and nothing doubled.
            log.error("commit failed; %d messages not stored", len(batch), exc_info=True)
            self.store.rollback()
            for conn in {c for c, _, _, _ in batch}:
                conn.abort()
            return
        # Each room's new frames go out as one block: one append per listener per batch
        # instead of one per message (fan-out cost per delivery drops ~30-fold under load).
        # Written now rather than at the end of the next loop iteration (latency); a sender
        # gets its acks and the posts in one write, acks first.
        by_room: dict[str, list[bytes]] = {}
        for conn, ack, room, posted in batch:
            conn.queue(ack)
            if posted:
                by_room.setdefault(room, []).append(posted)
        for room, frames in by_room.items():
            self.bus.publish_now(room, frames[0] if len(frames) == 1 else b"".join(frames))
        for conn, _, _, _ in batch:
            conn.flush()  # those whose acks came without a post of theirs (resends)

    def dispatch(self, conn: Connection, msg: p.ClientMsg) -> None:
        """Handle one message; refusals become an Error frame, bugs are logged."""
        if not self._batch_open and not isinstance(msg, (p.FileChunk, p.Ping, p.Pong)):
            self._begin_batch()
        try:
            if conn.name is None:
                if not isinstance(msg, p.Hello):
                    raise Refused(ErrorCode.UNEXPECTED_MESSAGE,
                                  f"the first message must be hello, not {type(msg).__name__}",
                                  fatal=True)
                self._hello(conn, msg)
            else:
                self._handle(conn, msg)
        except Refused as exc:
            rid = getattr(msg, "rid", 0)
            if exc.fatal:
                log.warning("%s (%s): %s; closing", conn.peer, conn.name, exc)
                conn.fail(exc.code, str(exc), rid)
            else:
                conn.send(p.encode(p.Error(code=exc.code, message=str(exc), rid=rid,
                                           cid=getattr(msg, "cid", ""))))
        except StoreError as exc:
            log.warning("%s (%s): %s", conn.peer, conn.name, exc)
            conn.send(p.encode(p.Error(code=exc.code, message=str(exc), rid=getattr(msg, "rid", 0))))
        except Exception:
            log.error("bug handling %s from %s", type(msg).__name__, conn.peer, exc_info=True)
            conn.send(p.encode(p.Error(code=ErrorCode.INTERNAL, message="the server failed on this request",
                                       rid=getattr(msg, "rid", 0))))

    def _handle(self, conn: Connection, msg: p.ClientMsg) -> None:
        if isinstance(msg, _METERED) and not conn.allow():
            raise Refused(ErrorCode.SLOW_DOWN, f"slow down: at most {self.config.max_rate:g} messages a second "
                          f"(bursts of {self.config.burst}); this one was not sent")
        match msg:
            case p.SendText():
                self._send_text(conn, msg)
            case p.MarkDelivered():
                self._receipt(conn, msg.room, delivered=msg.seq, read=0)
            case p.MarkRead():
                self._receipt(conn, msg.room, delivered=msg.seq, read=msg.seq)
            case p.SetTyping():
                self._typing(conn, msg)
            case p.FileChunk():
                self._file_chunk(conn, msg)
            case p.JoinRoom():
                self._join(conn, msg)
            case p.LeaveRoom():
                self._leave(conn, msg)
            case p.ListRooms():
                conn.send(p.encode(p.RoomList(rooms=self._room_infos(), rid=msg.rid)))
            case p.CreateRoom():
                self._create_room(conn, msg)
            case p.React():
                self._react(conn, msg)
            case p.OfferFile():
                self._offer_file(conn, msg)
            case p.FetchFile():
                self._fetch_file(conn, msg)
            case p.GetHistory():
                self._get_history(conn, msg)
            case p.Search():
                self._search(conn, msg)
            case p.Ping():
                conn.send(p.encode(p.Pong(nonce=msg.nonce)))
            case p.Pong():
                pass  # last_rx already moved
            case p.Hello():
                raise Refused(ErrorCode.UNEXPECTED_MESSAGE, "hello was already received", fatal=True)
            case _:
                assert_never(msg)

    # ------------------------------------------------------------------ handshake

    def _wrong_password(self, conn: Connection, message: str, rid: int = 0, fatal: bool = True) -> None:
        """Answer a wrong password only after a delay that doubles per failure from that
        address (guessing gets slow); the connection reads nothing more meanwhile."""
        delay = self._backoff.failed(conn.ip)
        log.warning("%s: wrong password; answering in %.1f s", conn.peer, delay)
        conn.pause_reading()

        def answer() -> None:
            if fatal:
                conn.fail(ErrorCode.WRONG_PASSWORD, message, rid)
            else:
                conn.send(p.encode(p.Error(code=ErrorCode.WRONG_PASSWORD, message=message, rid=rid)))
                conn.resume_reading()

        asyncio.get_running_loop().call_later(delay, answer)

    def _hello(self, conn: Connection, msg: p.Hello) -> None:
        if msg.version != p.PROTOCOL_VERSION:
            raise Refused(ErrorCode.VERSION_MISMATCH,
                          f"this server speaks protocol version {p.PROTOCOL_VERSION}, "
                          f"the client {msg.version}; update the older one", fatal=True)
        if self.config.password_hash and not check_password(msg.password, self.config.password_hash):
            self._wrong_password(conn, "this server needs a password, and that one is not it"
                                 if msg.password else "this server needs a password (--password)")
            return
        self._backoff.succeeded(conn.ip)
        hidden = invisible_in(msg.name)
        if hidden:
            raise Refused(ErrorCode.BAD_NAME, f"the name {msg.name!r} holds invisible characters "
                          f"({', '.join(hidden)}); pick one without", fatal=True)
        keys = name_keys(msg.name)
        key = keys[0]
        holder = next((self._claimed[k] for k in keys if k in self._claimed), None)
        if holder is not None:
            # Only the same name resumes: a token of a look-alike name must not evict its holder.
            if (holder.name == msg.name and msg.token
                    and secrets.compare_digest(msg.token, self._tokens.get(key, ""))):
                log.info("%s resumes the session of %s from %s", conn.peer, msg.name, holder.peer)
                self.disconnected(holder, None)
                holder.abort()
            else:
                same = holder.name if holder.name != msg.name else ""
                raise Refused(ErrorCode.NAME_TAKEN,
                              f"the name {msg.name!r} is in use on this server"
                              + (f" (it looks like {same!r})" if same else "") + "; pick another",
                              fatal=True)
        conn.name = msg.name
        token = self._tokens.get(key) if msg.token and msg.token == self._tokens.get(key) else None
        conn.token = token or secrets.token_urlsafe(18)
        self._tokens[key] = conn.token
        self.online[key] = conn
        self._claimed.update(dict.fromkeys(keys, conn))
        self._users_changed()
        chatlog.line("connect name=%s peer=%s client=%s", conn.name, conn.peer, escape_log(msg.client))
        conn.send(p.encode(p.Welcome(
            version=p.PROTOCOL_VERSION, server=self.config.name, name=conn.name, token=conn.token,
            rooms=self._room_infos(), joined=self.store.rooms_of(conn.name),
            max_file=self.config.max_file, server_id=self.server_id,
            max_rate=self.config.max_rate, burst=self.config.burst,
        )))

    # ------------------------------------------------------------------ rooms

    def _room_infos(self) -> list[p.RoomInfo]:
        return [p.RoomInfo(name=n, members=m, online=self.bus.online(n), last_seq=s, locked=locked)
                for n, s, m, locked in self.store.rooms()]

    def _joined_room(self, conn: Connection, room: str) -> str:
        if room in conn.rooms:
            return room
        found = self.store.find_room(room)
        if found is not None and found in conn.rooms:
            return found
        if found is None:
            raise Refused(ErrorCode.UNKNOWN_ROOM, f"there is no room named {room!r}")
        raise Refused(ErrorCode.NOT_JOINED, f"join {found!r} first")

    def _member_room(self, conn: Connection, room: str) -> str:
        room = self._joined_room(conn, room)
        if room in conn.watching:
            raise Refused(ErrorCode.WATCHING, f"you watch {room!r} without being a member; join it to post")
        return room

    def _create_room(self, conn: Connection, msg: p.CreateRoom) -> None:
        if self.store.find_room(msg.room) is None and self.store.create_room(
                msg.room, hash_password(msg.password) if msg.password else ""):
            chatlog.line("create room=%s by=%s", msg.room, conn.name)
            self._users_changed()
            frame = p.encode(p.RoomList(rooms=self._room_infos()))
            for other in self.conns:
                if other is not conn and other.name is not None:
                    other.send(frame)
        conn.send(p.encode(p.RoomList(rooms=self._room_infos(), rid=msg.rid)))

    def _join(self, conn: Connection, msg: p.JoinRoom) -> None:
        assert conn.name is not None
        room = self.store.find_room(msg.room)
        if room is None:
            names = ", ".join(n for n, *_ in self.store.rooms())
            raise Refused(ErrorCode.UNKNOWN_ROOM, f"there is no room named {msg.room!r} (rooms: {names})")
        live = self.bus.room(room)
        locked = self.store.room_password(room)
        if locked and room not in conn.rooms and not self.store.members_named(room, [conn.name]):
            if not check_password(msg.password, locked):
                self._wrong_password(conn, f"the room {room!r} needs its password"
                                     + (", and that one is not it" if msg.password else ""),
                                     rid=msg.rid, fatal=False)
                return
            self._backoff.succeeded(conn.ip)
        if msg.watch and not self.store.members_named(room, [conn.name]):
            conn.watching.add(room)
            self.bus.subscribe(room, conn)
            chatlog.line("watch room=%s name=%s", room, conn.name)
        else:
            conn.watching.discard(room)
            member, new = self.store.add_member(room, conn.name)
            self.bus.subscribe(room, conn)
            if new:
                live.joined[conn.name] = (member.delivered, member.read)
                if live.members is not None:
                    live.members += 1
                chatlog.line("join room=%s name=%s", room, conn.name)
            else:
                live.presence[conn.name] = True
            self._room_dirty(room)
        if msg.since is None:
            history, more = self.store.history(room, limit=self.config.history_page)
        else:
            history, more = self.store.history(room, after=msg.since, limit=L.MAX_HISTORY_PAGE)
        if live.page is None:
            live.page = self._member_page(room)
        if live.members is None:
            live.members = self.store.member_count(room)
        conn.send(p.encode(p.Joined(room=room, members=live.page,
                                    history=[_posted(m) for m in history],
                                    last_seq=self.store.last_seq(room), more=more, rid=msg.rid,
                                    member_count=live.members)))
        for name in live.typing:
            conn.send(p.encode(p.Typing(room=room, name=name, typing=True)))

    def _member_page(self, room: str) -> list[p.MemberInfo]:
        """Up to MAX_JOIN_MEMBERS members, online ones first: bounded work per join, whatever
        the room's size (joins of n people would otherwise cost n²)."""
        live = self.bus.room(room)
        cap = L.MAX_JOIN_MEMBERS
        online = [n for n, c in itertools.islice(live.listeners.items(), 4 * cap)
                  if room not in c.watching][:cap]
        page = [p.MemberInfo(name=m.name, online=True, delivered=m.delivered, read=m.read)
                for m in self.store.members_named(room, online)]
        if len(page) < cap:
            seen = set(online)
            page += [p.MemberInfo(name=m.name, online=False, delivered=m.delivered, read=m.read)
                     for m in self.store.members(room, limit=2 * cap) if m.name not in seen][: cap - len(page)]
        return page

    def _room_dirty(self, room: str) -> None:
        self._dirty_rooms.add(room)
        if self._receipt_timer is None:
            # Coalesced: in a room of n people each message brings n receipts, and n joins
            # bring n member changes: sending each to everyone would be n² frames. With
            # thousands online the window widens (up to 10×), so that the frames stay few.
            window = self.config.receipt_flush * min(10.0, max(1.0, len(self.conns) / 500))
            self._receipt_timer = asyncio.get_running_loop().call_later(window, self._flush_receipts)

    def _leave(self, conn: Connection, msg: p.LeaveRoom) -> None:
        assert conn.name is not None
        room = self._joined_room(conn, msg.room)
        if room in conn.watching:
            conn.watching.discard(room)
            self.bus.unsubscribe(room, conn)
            conn.send(p.encode(p.Left(room=room, rid=msg.rid)))
            return
        self._stop_typing(room, conn.name)
        self.bus.unsubscribe(room, conn)
        self.store.remove_member(room, conn.name)
        live = self.bus.room(room)
        live.page = None  # the leave goes out now, not with the next flush
        if live.members is not None:
            live.members -= 1
        # Nor may the next flush bring the leaver back (joined, then left, inside one window).
        for pending in (live.joined, live.presence, live.receipts):
            pending.pop(conn.name, None)
        self.bus.publish(room, p.encode(p.MemberLeft(room=room, name=conn.name)))
        conn.send(p.encode(p.Left(room=room, rid=msg.rid)))
        chatlog.line("leave room=%s name=%s", room, conn.name)

    # ------------------------------------------------------------------ messages

    def _send_text(self, conn: Connection, msg: p.SendText) -> None:
        assert conn.name is not None
        room = self._member_room(conn, msg.room)
        self._post(conn, room, msg.cid, msg.text, None)

    def _post(self, conn: Connection, room: str, cid: str, text: str, file: StoredFile | None) -> None:
        assert conn.name is not None
        self._begin_batch()
        try:
            stored = self.store.append(room, conn.name, text, cid, file)
        except Duplicate as dup:  # a resend after a reconnect: ack again, post nothing
            m = dup.message
            self._batch.append((conn, p.encode(p.Acked(room=room, cid=cid, seq=m.seq, time=m.time)),
                                room, b""))
            return
        self._stop_typing(room, conn.name)
        self._batch.append((conn, p.encode(p.Acked(room=room, cid=cid, seq=stored.seq, time=stored.time)),
                            room, p.encode(_posted(stored))))
        if self.config.log_text or file is not None:
            what = f"file={escape_log(file.name)} size={file.size}" if file else ""
            chatlog.line("message room=%s seq=%d from=%s %s%s", room, stored.seq, conn.name, what,
                          f'text="{escape_log(text)}"' if self.config.log_text and text else "")
        else:
            chatlog.line("message room=%s seq=%d from=%s", room, stored.seq, conn.name)

    def _get_history(self, conn: Connection, msg: p.GetHistory) -> None:
        room = self._joined_room(conn, msg.room)
        messages, more = self.store.history(room, after=msg.after, before=msg.before, limit=msg.limit)
        conn.send(p.encode(p.HistoryPage(room=room, messages=[_posted(m) for m in messages],
                                         more=more, rid=msg.rid)))

    def _search(self, conn: Connection, msg: p.Search) -> None:
        room = self._joined_room(conn, msg.room)
        hits = self.store.search(room, msg.query, msg.limit)
        conn.send(p.encode(p.SearchHits(room=room, query=msg.query,
                                        hits=[_posted(m) for m in hits], rid=msg.rid)))

    # ------------------------------------------------------------------ typing, receipts, reactions

    def _typing(self, conn: Connection, msg: p.SetTyping) -> None:
        assert conn.name is not None
        room = self._member_room(conn, msg.room)
        live = self.bus.room(room)
        if msg.typing:
            was = conn.name in live.typing
            live.typing[conn.name] = self._clock() + self.config.typing_ttl
            if not was:
                self.bus.publish(room, p.encode(p.Typing(room=room, name=conn.name, typing=True)),
                                 skip=conn)
        else:
            self._stop_typing(room, conn.name)

    def _stop_typing(self, room: str, name: str) -> None:
        live = self.bus.room(room)
        if live.typing.pop(name, None) is not None:
            self.bus.publish(room, p.encode(p.Typing(room=room, name=name, typing=False)))

    def _receipt(self, conn: Connection, room: str, *, delivered: int, read: int) -> None:
        assert conn.name is not None
        room = self._joined_room(conn, room)
        last = self.store.last_seq(room)
        changed = self.store.set_receipt(room, conn.name, min(delivered, last), min(read, last))
        if changed is not None:
            self.bus.room(room).receipts[conn.name] = (changed.delivered, changed.read)
            self._room_dirty(room)

    def _flush_receipts(self) -> None:
        """Send what changed in each dirty room since the last flush: members, presence,
        receipts."""
        self._receipt_timer = None
        for room in self._dirty_rooms:
            live = self.bus.room(room)
            live.page = None
            if live.joined or live.presence:
                joined = [p.MemberInfo(name=n, online=n in live.listeners, delivered=d, read=r)
                          for n, (d, r) in live.joined.items()]
                online = [n for n, on in live.presence.items() if on and n not in live.joined]
                offline = [n for n, on in live.presence.items() if not on]
                self.bus.publish(room, p.encode(p.MembersChanged(room=room, joined=joined, online=online,
                                                                 offline=offline)))
                live.joined.clear()
                live.presence.clear()
            for name, (delivered, read) in live.receipts.items():
                self.bus.publish(room, p.encode(p.Receipt(room=room, name=name,
                                                          delivered=delivered, read=read)))
            live.receipts.clear()
        self._dirty_rooms.clear()

    def _react(self, conn: Connection, msg: p.React) -> None:
        assert conn.name is not None
        room = self._member_room(conn, msg.room)
        if not self.store.message_exists(room, msg.seq):
            raise Refused(ErrorCode.UNKNOWN_MESSAGE, f"there is no message {msg.seq} in {room!r}")
        if self.store.set_reaction(room, msg.seq, msg.emoji, conn.name, msg.on):
            self.bus.publish(room, p.encode(p.Reacted(room=room, seq=msg.seq, emoji=msg.emoji,
                                                      name=conn.name, on=msg.on)))
            chatlog.line("reaction room=%s seq=%d from=%s emoji=%s %s", room, msg.seq, conn.name,
                          escape_log(msg.emoji), "add" if msg.on else "remove")

    # ------------------------------------------------------------------ files

    def _offer_file(self, conn: Connection, msg: p.OfferFile) -> None:
        assert conn.name is not None
        room = self._member_room(conn, msg.room)
        if msg.size > self.config.max_file:
            raise Refused(ErrorCode.FILE_TOO_LARGE,
                          f"the file is {human_size(msg.size)}; this server accepts up to "
                          f"{human_size(self.config.max_file)} (server --max-file)")
        done = self.store.find_by_cid(room, conn.name, msg.cid)
        if done is not None:  # the upload finished before the connection broke
            conn.send(p.encode(p.UploadReady(blob_id=msg.blob_id, offset=msg.size, rid=msg.rid)))
            conn.send(p.encode(p.Acked(room=room, cid=msg.cid, seq=done.seq, time=done.time)))
            return
        self._check_file_quota(conn, msg.blob_id)
        old = conn.uploads.pop(msg.blob_id, None)
        if isinstance(old, _Upload) and old.part is not None:
            old.part.close()  # offered again on this connection: resumes from what is written
        offset = self.blobs.begin(msg.blob_id, msg.size)
        try:
            part = self.blobs.open_part(msg.blob_id, msg.size) if offset < msg.size else None
        except (BlobError, OSError) as exc:
            raise Refused(ErrorCode.FILE_BUSY if isinstance(exc, BlobError) else ErrorCode.FILE, str(exc)) from exc
        up = _Upload(room, msg.cid, display_name(msg.name), msg.size, msg.mime[:127] or
                     "application/octet-stream", msg.blob_id, msg.rid, offset, part)
        conn.uploads[msg.blob_id] = up
        conn.send(p.encode(p.UploadReady(blob_id=msg.blob_id, offset=offset, rid=msg.rid)))
        if offset == msg.size:
            up.finishing = True
            conn.spawn(self._finish_upload(conn, up))

    def _check_file_quota(self, conn: Connection, blob_id: str) -> None:
        assert conn.name is not None
        cfg = self.config
        if blob_id in conn.uploads:
            return  # the same upload offered again (resume): it was counted when first offered
        if len(conn.uploads) >= cfg.max_uploads:
            raise Refused(ErrorCode.TOO_MANY_UPLOADS, f"{len(conn.uploads)} uploads are in progress on this "
                          f"connection; this server allows {cfg.max_uploads} at once, finish one first")
        if cfg.max_files:
            shared = self.store.files_shared(conn.name, _DAY) + len(conn.uploads)
            if shared >= cfg.max_files:
                raise Refused(ErrorCode.FILE_QUOTA, f"you shared {shared} files in the last 24 hours; this "
                              f"server allows {cfg.max_files} per user (server --max-files)")

    def _file_chunk(self, conn: Connection, msg: p.FileChunk) -> None:
        up = conn.uploads.get(msg.blob_id)
        if not isinstance(up, _Upload) or up.finishing:
            raise Refused(ErrorCode.NO_OFFER, "a file chunk came without a file offer; offer it first")
        assert up.part is not None
        try:
            up.received = up.part.write(msg.offset, msg.data)
        except (BlobError, OSError) as exc:
            up.part.close()
            del conn.uploads[msg.blob_id]
            raise Refused(exc.code if isinstance(exc, BlobError) else ErrorCode.FILE, str(exc)) from exc
        if up.received == up.size:
            up.finishing = True
            up.part.close()
            conn.spawn(self._finish_upload(conn, up))

    async def _finish_upload(self, conn: Connection, up: _Upload) -> None:
        try:
            digest = up.part.hexdigest() if up.part is not None else None
            path = await asyncio.to_thread(self.blobs.finish, up.blob_id, up.size, digest)
            thumb = await asyncio.to_thread(make_thumbnail, path)
        except (BlobError, OSError) as exc:
            conn.uploads.pop(up.blob_id, None)
            log.warning("upload %s from %s failed: %s", up.name, conn.name, exc)
            conn.send(p.encode(p.Error(code=ErrorCode.FILE, message=str(exc), rid=up.rid)))
            return
        conn.uploads.pop(up.blob_id, None)
        mime = up.mime
        if thumb is None and mime.startswith("image/"):
            mime = "application/octet-stream"  # claims to be a picture but does not decode
        elif thumb is not None and mime not in _IMAGE_TYPES:
            mime = "image/png" if not mime.startswith("image/") else mime
        stored = StoredFile(
            blob_id=up.blob_id, name=up.name, size=up.size, mime=mime,
            thumb_id=self.blobs.put(thumb.png) if thumb else None,
            width=thumb.width if thumb else 0, height=thumb.height if thumb else 0,
        )
        if conn.closed or conn.name is None or up.room not in conn.rooms:
            return  # the body is kept: the client resumes and gets it posted then
        self._post(conn, up.room, up.cid, "", stored)

    def _fetch_file(self, conn: Connection, msg: p.FetchFile) -> None:
        if not self.store.file_known(msg.blob_id) or not self.blobs.has(msg.blob_id):
            raise Refused(ErrorCode.NO_FILE, f"no file with id {msg.blob_id}")
        size = self.blobs.size(msg.blob_id)
        if msg.offset > size:
            raise Refused(ErrorCode.BAD_RANGE, f"offset {msg.offset} is past the end of the file ({size})")
        end = size if msg.length is None else min(size, msg.offset + msg.length)
        conn.spawn(self._send_file(conn, msg.blob_id, msg.offset, end, msg.rid))

    async def _send_file(self, conn: Connection, blob_id: str, offset: int, end: int, rid: int) -> None:
        path: Path = self.blobs.path(blob_id)
        total = path.stat().st_size
        with open(path, "rb") as f:
            f.seek(offset)
            pos = offset
            while pos < end and not conn.closed:
                data = f.read(min(L.CHUNK_SIZE, end - pos))
                if not data:
                    break
                conn.send(p.encode_head(p.FileData(blob_id=blob_id, offset=pos, total=total), len(data)))
                conn.send(data)  # the chunk's bytes follow its head, uncopied
                pos += len(data)
                await asyncio.sleep(0)  # let the batch go out and others be served
                await conn.writable()  # paused above the high-water mark: no whole-file buffering
        if not conn.closed:
            conn.send(p.encode(p.FileEnd(blob_id=blob_id, size=pos, rid=rid)))

    # ------------------------------------------------------------------ housekeeping

    async def _housekeep(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            try:
                self.sweep()
                self.store.write_marks()  # both kept out of the commits that send ✓
                self.store.index_pending()
            except Exception:
                log.error("housekeeping failed", exc_info=True)

    def sweep(self) -> None:
        """Expire typing and drop silent connections; called twice a second (tests call it
        directly with a fake clock)."""
        now = self._clock()
        for live in self.bus.rooms():
            for name, until in list(live.typing.items()):
                if until <= now:
                    self._stop_typing(live.name, name)
        for conn in list(self.conns):
            idle = now - conn.last_rx
            if idle > self.config.idle_timeout:
                log.warning("%s (%s) silent for %.0f s; dropping the half-open connection",
                            conn.peer, conn.name, idle)
                conn.abort()
            elif idle > self.config.heartbeat and conn.last_ping < conn.last_rx:
                conn.last_ping = now
                conn.send(p.encode(p.Ping(nonce=int(now))))


def _server_id(data_dir: Path) -> str:
    """A stable id made at first start and kept in the data dir (one entry per server in
    browsers, whatever its addresses or instance name)."""
    path = data_dir / "server-id"
    try:
        text = path.read_text().strip()
        if len(text) == 32 and all(c in "0123456789abcdef" for c in text):
            return text
    except OSError:
        pass
    sid = secrets.token_hex(16)
    path.write_text(sid + "\n")
    return sid


def _posted(m: StoredMessage) -> p.Posted:
    file = None
    if m.file is not None:
        f = m.file
        file = p.FileInfo(blob_id=f.blob_id, name=f.name, size=f.size, mime=f.mime,
                          thumb_id=f.thumb_id, width=f.width, height=f.height)
    return p.Posted(room=m.room, seq=m.seq, sender=m.sender, time=m.time, text=m.text, file=file,
                    cid=m.cid, reactions=[p.Reaction(emoji=e, members=n) for e, n in m.reactions.items()])
