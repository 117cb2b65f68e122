"""ClientSession: one user's connection to a server, headless or under the GUI.

The session is the commands; three parts do the rest: `Connection` (connection.py) opens,
handshakes and reconnects, `Router` (routing.py) hands each frame from the server to whoever
waits for it, `Transfers` (transfers.py) moves files with resume. `Peering` (peering.py) holds
its part in keeping the chat alive across hosts.

Invariants:
- `state` changes only through `ChatState.apply`, and every event applied is also handed to
  `on_event` (the GUI's queue) in the same order.
- A text is kept as pending until the server acknowledges its `cid`; after a reconnect every
  pending text is sent again with the same cid, and the server stores it once. Nothing
  acknowledged is lost, nothing is shown twice.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from .. import protocol as p
from ..protocol import limits as L
from ..protocol.codes import ErrorCode
from .connection import Alternate, Connection, parse_address
from .errors import ConnectionLost, Rejected
from .events import Event, PendingText
from .identity import Identity
from .idle import IdleAway
from .kept import Kept, Shown
from .peering import Peering
from .routing import Router
from .state import ChatState
from .transfers import Transfers
from .views import MessageView, RoomView

__all__ = ["Alternate", "ClientSession", "parse_address"]


class ClientSession(Peering):
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
        failover: Callable[[], Awaitable[list[Alternate]]] | None = None,
        tls: bool = True,
        fingerprint: str | None = None,
        trust: Callable[[str, p.Greeting], None] | None = None,
        password: str = "",
        identity: Identity | None = None,
        clock: Callable[[], float] = time.monotonic,
        follow_directs: bool = False,
        idle_clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`identity`: whose key proves the name (default: this installation's, kept beside
        the settings and made at first use). `trust(fingerprint, greeting)` is asked before
        anything is sent and may raise IdentityMismatch. `clock`: what the pacing under the
        server's flood control counts time by (tests pass the server's fake one).
        `follow_directs`: join every direct conversation of ours, also those opened while we
        were away (the window, the terminal). `idle_clock`: what away-after-idle counts by."""
        self.name = p.check_name(name)
        self.identity = identity if identity is not None else Identity.load_or_create()
        self.state = ChatState()
        self._router = Router(self.state, self.name, on_event=on_event, auto_delivered=auto_delivered)
        self._conn = Connection(self._router, host, port, self.name, fill_gap=self.fill,
                                fill_rooms=self.list_rooms, client=client,
                                reconnect=reconnect, backoff=backoff, idle_timeout=idle_timeout,
                                connect_timeout=connect_timeout, relocate=relocate, failover=failover, tls=tls,
                                fingerprint=fingerprint, trust=trust, password=password,
                                identity=self.identity, clock=clock)
        self._transfers = Transfers(self._router, reconnect=reconnect)
        self._pace_lock = asyncio.Lock()
        self.idle = IdleAway(idle_clock)
        self.status: tuple[str, str] = ("available", "")  # what the user chose
        if follow_directs:
            self._router.direct_found = lambda room: self._conn.spawn(self._follow(room))
        self._router.body_wanted = lambda blob_id: self._conn.spawn(self._transfers.give_body(blob_id))

    # ------------------------------------------------------------------ settings kept by the parts

    address = Shown[str]("_conn")
    host = Kept[str]("_conn")
    port = Kept[int]("_conn")
    #: Asked where the server is now after failed reconnects.
    relocate = Kept[Callable[[], Awaitable[tuple[str, int] | None]] | None]("_conn")
    #: Asked for the other servers of the chat (a cluster) when the server is gone.
    failover = Kept[Callable[[], Awaitable[list[Alternate]]] | None]("_conn")
    tls = Kept[bool]("_conn")
    #: The certificate fingerprint insisted on (announced, given, or seen on the first connect).
    fingerprint = Kept[str | None]("_conn")
    #: The certificate fingerprint the server showed on the last connect.
    peer_fingerprint = Kept[str | None]("_conn")
    #: Seconds of silence from the server after which the connection counts as dead.
    idle_timeout = Kept[float]("_conn")
    #: This peer as a possible host of the chat (None: it never hosts), sent in every hello.
    peer = Kept[p.PeerInfo | Callable[[p.Greeting], p.PeerInfo | None] | None]("_conn")
    #: Why the server will not have us; set, the session neither reconnects nor requests.
    fatal = Kept[Rejected | None]("_router")
    #: Called with every event applied to `state`, in order (the GUI's queue).
    on_event = Kept[Callable[[Event], None] | None]("_router")

    # ------------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        """Connect and say hello; raises ConnectionLost or Rejected on the first try."""
        await self._conn.connect()

    async def close(self) -> None:
        await self._conn.close()
        if self._router.replica is not None:
            self._router.replica.close()
            self._router.replica = None

    async def __aenter__(self) -> ClientSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_for(self, pred: Callable[[ChatState], bool], timeout: float | None = 5.0) -> None:
        """Wait until `pred(state)` holds (checked after every batch of frames)."""
        await self._router.wait_for(pred, timeout)

    async def wait_connected(self, timeout: float = 10.0) -> None:
        await self._router.wait_connected(timeout)

    # ------------------------------------------------------------------ commands

    async def join(self, room: str, *, since: int | None = None, watch: bool = False,
                   visit: bool = False, password: str = "") -> RoomView:
        """Join a room (its history and members arrive with it). `since`: also every message
        after this seq. `watch`: receive without becoming a member (for `pyrtc tail`).
        `visit`: post too while connected, never a member (`pyrtc send`, `upload`)."""
        self._joins_as(room, watch, visit)
        joined: p.Joined = await self._router.request(
            lambda rid: p.JoinRoom(room=room, since=since, rid=rid, watch=watch, visit=visit,
                                   password=password))
        self._joins_as(joined.room, watch, visit)
        if not (watch or visit):
            self._router.passwords.pop(joined.room, None)  # a member: the server remembers it
        elif password:  # never a member: its resume is asked the password again
            self._router.passwords[joined.room] = password
        if since is not None:
            await self.fill(joined.room, since)
        return self.state.rooms[joined.room]

    def _joins_as(self, room: str, watch: bool, visit: bool) -> None:
        """Remember how `room` is joined (a resume joins it the same way)."""
        router = self._router
        router.watch.discard(room)
        router.visit.discard(room)
        if watch:
            router.watch.add(room)
        elif visit:
            router.visit.add(room)

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
        await self._router.request(lambda rid: p.LeaveRoom(room=room, rid=rid))
        self._router.passwords.pop(room, None)

    async def create_room(self, room: str, *, password: str = "") -> RoomView:
        """Create a room (with a password, joining it needs that password) and join it."""
        await self._router.request(lambda rid: p.CreateRoom(room=room, rid=rid, password=password))
        return await self.join(room, password=password)

    async def list_rooms(self) -> list[p.RoomInfo]:
        """Every room on the server, fetched a page at a time (each page lands in
        `state.available` too)."""
        rooms: list[p.RoomInfo] = []
        after = ""
        while True:
            def page(rid: int, after: str = after) -> p.Msg:
                return p.ListRooms(rid=rid, after=after, limit=L.MAX_ROOM_PAGE)

            reply: p.RoomList = await self._router.request(page)
            rooms += reply.rooms
            if not reply.more or not reply.rooms:
                return rooms
            after = reply.rooms[-1].name

    async def _follow(self, room: str) -> None:
        if room in self.state.rooms:
            return
        try:
            await self.join(room)
        except (Rejected, ConnectionLost, TimeoutError) as exc:
            self.state.notice = f"could not open a direct conversation: {exc}"

    async def open_direct(self, name: str) -> RoomView:
        """The direct conversation with `name` (opened now if new), joined."""
        return await self.join((await self.open_direct_info(name)).direct.room)

    async def open_direct_info(self, name: str) -> p.DirectOpened:
        """The direct conversation with `name` (opened now if new), not joined (`pyrtc tail
        --with` watches it)."""
        reply: p.DirectOpened = await self._router.request(lambda rid: p.OpenDirect(name=name, rid=rid))
        return reply

    async def edit(self, room: str, seq: int, text: str) -> None:
        """Change the text of one of our messages; returns once the server stored it."""
        if not text or len(text) > L.MAX_TEXT:
            raise ValueError(f"a message has 1 to {L.MAX_TEXT} characters")
        await self._router.request(lambda rid: p.EditText(room=room, seq=seq, text=text, rid=rid))

    async def delete(self, room: str, seq: int) -> None:
        """Delete one of our messages ("message deleted" stays in its place)."""
        await self._router.request(lambda rid: p.DeleteMessage(room=room, seq=seq, rid=rid))

    async def set_status(self, status: str, text: str = "") -> None:
        """available / away / busy, and a short text ("at lunch")."""
        if status not in p.STATUSES:
            raise ValueError(f"a status is one of {', '.join(p.STATUSES)}, not {status!r}")
        if len(text) > L.MAX_STATUS_TEXT:
            raise ValueError(f"a status text has at most {L.MAX_STATUS_TEXT} characters")
        self.status = (status, text)
        self.idle.auto_away = False
        self._send_status(status, text)

    def _send_status(self, status: str, text: str) -> None:
        self._router.status = (status, text)
        self._router.write(p.SetStatus(status=status, text=text))  # type: ignore[arg-type]

    def note_input(self) -> None:
        """The user typed or clicked: an automatic away ends."""
        if self.idle.input():
            self._send_status(*self.status)

    def check_idle(self) -> None:
        """Called often by whoever has a loop: away after ten minutes without input."""
        if self.idle.check(self.status[0]):
            self._send_status("away", self.status[1])

    async def send(self, room: str, text: str, *, reply_to: int = 0, timeout: float | None = 10.0) -> int:
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
        fut = self._router.expect_ack(cid)
        self._router.emit(PendingText(room, cid, self.name, text, time.time(), reply_to))
        self._router.write(p.SendText(room=room, cid=cid, text=text, reply_to=reply_to))
        if timeout is None:
            return await fut
        async with asyncio.timeout(timeout):
            return await fut

    async def _pace(self) -> None:
        """Stay under the server's flood control (its rate comes with Welcome), so a script
        piping a thousand lines is slowed down here instead of refused there."""
        async with self._pace_lock:  # one sender at a time takes tokens, in call order
            while not self._conn.bucket.take():
                await asyncio.sleep(self._conn.bucket.delay())

    async def set_typing(self, room: str, typing: bool) -> None:
        self._router.write(p.SetTyping(room=room, typing=typing))

    async def mark_delivered(self, room: str, seq: int) -> None:
        self._router.receipts.report(room, delivered=seq)

    async def mark_read(self, room: str, seq: int) -> None:
        self._router.receipts.report(room, delivered=seq, read=seq)

    async def react(self, room: str, seq: int, emoji: str, on: bool = True) -> None:
        self._router.write(p.React(room=room, seq=seq, emoji=emoji, on=on))

    async def history(self, room: str, *, before: int | None = None, after: int = 0,
                      limit: int = 100) -> p.HistoryPage:
        page: p.HistoryPage = await self._router.request(
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
        reply: p.SearchHits = await self._router.request(
            lambda rid: p.Search(room=room, query=query, limit=limit, rid=rid))
        return reply.hits

    async def ping(self) -> float:
        start = time.perf_counter()
        await self._router.request(lambda rid: p.ListRooms(rid=rid, limit=1))
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
        return await self._transfers.upload(room, path, name=name, mime=mime, progress=progress,
                                            retries=retries)

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
        return await self._transfers.download(blob_id, target, name=name, progress=progress,
                                              retries=retries, quiet=quiet)

    def find_message(self, room: str, pred: Callable[[MessageView], bool]) -> MessageView | None:
        view = self.state.rooms.get(room)
        return next((m for m in reversed(view.messages) if pred(m)), None) if view else None
