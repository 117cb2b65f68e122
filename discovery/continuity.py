"""A full client as a peer of its chat: it follows the chat from host to host, and takes it
over when the rule says so (docs/peer-assisted.md).

Invariants:
- One rule picks the next host, the same on every peer: the lowest node id among the last
  roster's host-capable peers, the leaving (or vanished) host and peers found dead left out.
- A planned quit (`HandOver`) moves every client to the successor at once; the successor
  serves epoch + 1 on its replica and waits (briefly) for the leaving host's copies.
- A vanished host: the successor serves epoch + 1 and holds posts until the other peers
  pushed what it lacks (or a deadline); every other peer reconnects there and pushes.
- After connecting to a host of a new epoch, a peer pushes what its replica holds beyond
  the host's last seq per room; the host merges it (server/succession.py).
- Users see one line per host change, `on_line`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from pathlib import Path
from typing import Any

from pyrtc import protocol as p
from pyrtc.client import ClientSession, ConnectionLost, Rejected
from pyrtc.client.events import Connected, Event
from pyrtc.client.replica import as_posted, default_replica_root
from pyrtc.server import ServerConfig

from .hosting import AnnouncedServer
from .peers import keep_roster, last_roster
from .two_hosts import OnHost, TwoHosts, here

__all__ = ["Continuity", "successor_of", "COLLECT_FOR", "HEARTBEAT", "HOST_SILENT"]

log = logging.getLogger(__name__)

#: How long a new host waits at most for the peers' copies before it serves posts (s).
COLLECT_FOR = 2.0
#: A peer pings its host this often (s); with a read timeout of HOST_SILENT it notices a
#: host that vanished without a reset (power, cable) within that time.
HEARTBEAT = 1.0
HOST_SILENT = 3.0
#: Failed tries to reach a successor before it counts as gone too and the next is asked.
TRIES_PER_SUCCESSOR = 3
#: A leaving host hands on the reactions on each room's latest this many messages (a bound on
#: how long a quit takes; the successor saw the older ones happen, if it was in the room).
REACTIONS_HANDED = 1000


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """`fn(*args)` as a coroutine: a store read, run on the store's own thread by `OnHost`."""
    return fn(*args)


def successor_of(roster: p.Roster, leaving: set[str]) -> p.PeerInfo | None:
    """The next host: the lowest node id of the roster, those in `leaving` left out."""
    peers = [i for i in roster.peers if i.node not in leaving]
    return min(peers, key=lambda i: i.node) if peers else None


class Continuity(TwoHosts):
    def __init__(self, session: ClientSession, *, name: str, can_host: bool, port: int,
                 announce: list[str] | None, on_line: Callable[[str], None],
                 hosted: AnnouncedServer | None = None, root: Path | None = None,
                 server_name: str = "") -> None:
        """`hosted`: the server this peer hosts already (it started the chat), on this loop;
        one on a loop of its own is `adopt`ed."""
        self.session = session
        self.node = session.identity.uid
        self.name = name
        self.can_host = can_host
        self.port = port
        self._announce = announce
        self._on_line = on_line
        self.hosted = hosted
        self._on_host: OnHost = here  # where `hosted` lives: runs a coroutine on its loop
        self._root = root or default_replica_root()
        self._server_name = server_name
        self.roster: p.Roster | None = None
        self._host = ""  # the node id of the host we are connected to
        self._epoch = 0
        self._names: dict[str, str] = {}  # node id -> the user's name, from every roster seen
        self._known: dict[str, p.PeerInfo] = {}  # node id -> the peer, from every roster seen
        self._watcher: asyncio.Future[None] | None = None
        self._gone: set[str] = set()  # hosts that left or vanished, never tried again
        self._tries: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._planned = False
        self._yielding = False  # handing our chat to another host that wins over us
        self.closing = False
        self._pinger: asyncio.Future[None] | None = None
        self._idle = session.idle_timeout  # a dedicated server's clients keep theirs
        self._fallback = session.relocate  # where a server without peers went (discovery)
        session.relocate = self.where
        if hosted is not None:
            self._watch_hosts()

    def adopt(self, hosted: AnnouncedServer, on_host: OnHost) -> bool:
        """Client loop: the server this peer hosts on a loop of its own (the window's host
        thread), and how to run a coroutine there (`HostThread.on_host`). From now on it is
        ours as if we had started it: handed over at `quit`, yielded to a host that wins over
        it. False: we are quitting, or its chat was handed on (or it closed) already."""
        if self.closing or hosted.left:
            return False
        self.hosted, self._on_host = hosted, on_host
        self._watch_hosts()
        return True

    # ------------------------------------------------------------------ events (client loop)

    def on_event(self, event: Event) -> None:
        match event:
            case p.Greeting():
                self._greeted(event)
            case p.Roster():
                self.roster = event
                self._names.update((i.node, i.name) for i in event.peers if i.name)
                self._known.update((i.node, i) for i in event.peers)
                # Another peer could take over: a silent host is given up on quickly.
                others = any(i.node != event.host for i in event.peers)
                self.session.idle_timeout = HOST_SILENT if others else self._idle
                keep_roster(event, self._root)
            case p.HandOver():
                self._spawn(self._handed_over(event))
            case Connected():
                self._spawn(self._push())
                if self._pinger is None:
                    self._pinger = asyncio.ensure_future(self._beat())
            case _:
                pass

    def _greeted(self, g: p.Greeting) -> None:
        before, self._host, self._epoch = self._host, g.host, g.epoch
        self._planned = False
        self._tries.clear()
        if before and before != g.host:
            old = self._names.get(before) or "the host"
            new = "you are" if g.host == self.node else f"{self._names.get(g.host) or 'another peer'} is"
            if before == self.node and self._yielding:  # our own server lost to another host
                self._on_line(f"{new} hosting this chat now; your side's messages are merged in")
            elif before == self.node and self.closing:  # our own planned quit
                self._on_line(f"you left; {new} hosting this chat now")
            else:
                self._on_line(f"{old} left; {new} hosting this chat now")

    # ------------------------------------------------------------------ a planned quit

    async def quit(self) -> None:
        """We are leaving. Hosting: hand the chat to the successor, push it what it lacks
        (from our server's store), then close our server (its mDNS goodbye first), each on
        the loop the server lives on. A yield under way is waited for (bounded: a hand-over
        and our pushes): the chat is handed on once, the server closed once."""
        self.closing = True
        if self._pinger is not None:
            self._pinger.cancel()
        watcher = self._watcher
        if watcher is not None and self._yielding:
            await asyncio.wait([watcher])
        elif watcher is not None:
            watcher.cancel()
        hosted, self.hosted = self.hosted, None
        if hosted is None:
            return
        run = self._on_host
        try:
            successor = await run(hosted.server.hand_over()) if hosted.leave() else None
            if successor is not None:
                await self._push_from(hosted, successor, run)
        except Exception:
            log.warning("handing the chat over failed", exc_info=True)
        finally:
            await run(hosted.close())

    async def _push_from(self, hosted: AnnouncedServer, successor: p.PeerInfo, run: OnHost) -> None:
        """Our own session follows the chat to the successor; it gets our server's copies of
        every room (what it lacks: after its last seq, or after where it took over), then
        `done`; our replica then takes its numbering."""
        try:
            await self.session.wait_for(lambda s: s.host == successor.node and s.connection == "connected"
                                        and s.roster is not None and s.roster.host == successor.node, timeout=5.0)
        except TimeoutError:
            log.warning("the next host did not answer; its peers will fill what it lacks")
            return
        state = self.session.state
        since = state.roster.since if state.roster is not None else {}
        theirs = {r.name: r.last_seq for r in state.available}
        store = hosted.server.store
        for room, _, _, _ in await run(_call(store.rooms)):
            after = since.get(room, theirs.get(room, 0))
            pair = await run(_call(store.direct_members, room))
            pages: list[list[p.Posted]] = []  # newest first: the store pages back from the newest
            before: int | None = None
            while True:
                held, more = await run(_call(partial(store.history, room, after=after, before=before, limit=100)))
                if held:
                    pages.append([as_posted(m) for m in held])
                if not held or not more:
                    break
                before = held[0].seq
            for page in reversed(pages):  # oldest first, as a host numbered them
                await self.session.replicate(room, page, pair=pair)
        await self.session.replicate("General", [], done=True)
        await self._push_marks(hosted, run)  # after `done`: new posts need not wait for them
        for room in list(state.rooms):
            if room in since:
                await self.session.rebase(room, since[room])

    async def _push_marks(self, hosted: AnnouncedServer, run: OnHost) -> None:
        """Our server's reactions (on each room's latest REACTIONS_HANDED messages) and every
        member's receipts, to the successor: those it did not see happen (it was not in the
        room, or they came at the last moment)."""
        store = hosted.server.store
        for room, last, _, _ in await run(_call(store.rooms)):
            pair = await run(_call(store.direct_members, room))
            after = max(0, last - REACTIONS_HANDED)
            while True:
                page = await run(_call(store.reactions_after, room, after, p.limits.MAX_HISTORY_PAGE))
                if not page:
                    break
                # Whole messages per frame: the next page starts after the last one's seq.
                cut = [r for r in page if r[0] != page[-1][0]] if len(page) == p.limits.MAX_HISTORY_PAGE else page
                cut = cut or page
                await self.session.replicate(room, [], pair=pair, reactions=[p.ReactionCopy(*r) for r in cut])
                after = cut[-1][0]
            members = await run(_call(store.members, room))
            for i in range(0, len(members), p.limits.MAX_JOIN_MEMBERS):
                receipts = [p.ReceiptCopy(m.name, m.delivered, m.read) for m in members[i:i + p.limits.MAX_JOIN_MEMBERS]
                            if m.delivered or m.read]
                if receipts:
                    await self.session.replicate(room, [], pair=pair, receipts=receipts)

    async def _handed_over(self, h: p.HandOver) -> None:
        self._planned = True
        leaving = self._host
        self._gone.add(leaving)
        roster = self.roster
        info = self._known.get(h.successor)
        if info is None:
            return
        if h.successor == self.node:
            await self._take_over(h.epoch, collect={leaving} if h.pushes else set(), peers=roster)
        else:
            self._move_to(info)

    # ------------------------------------------------------------------ a vanished host

    def relocate_by(self, fallback: Callable[[], Awaitable[tuple[str, int] | None]] | None) -> None:
        """Where the server went when the roster names no successor (a dedicated server on a
        new port: discovery); the roster is asked first."""
        self._fallback = fallback
        self.session.relocate = self.where

    async def where(self) -> tuple[str, int] | None:
        """Asked by the reconnect loop after failed tries (the host vanished, or the next
        one is not up yet): the successor's address; a chat without peers: discovery's."""
        roster = self.roster or last_roster(self.session.state.server_id, self._root)
        if roster is None or not [i for i in roster.peers if i.node != self._host]:
            return await self._fallback() if self._fallback is not None else None
        if self._host and self._host not in self._gone:
            self._gone.add(self._host)
        while True:
            nxt = successor_of(roster, self._gone)
            if nxt is None:
                return None
            if nxt.node == self.node:
                if not self.can_host:
                    self._gone.add(nxt.node)
                    continue
                return await self._take_over(roster.epoch + 1, collect={i.node for i in roster.peers}
                                             - self._gone - {self.node}, peers=roster)
            self._tries[nxt.node] = self._tries.get(nxt.node, 0) + 1
            if self._tries[nxt.node] > TRIES_PER_SUCCESSOR:
                self._gone.add(nxt.node)
                continue
            self.session.fingerprint = nxt.fingerprint or None
            return (nxt.addresses[0] if nxt.addresses else "127.0.0.1"), nxt.port

    def _move_to(self, info: p.PeerInfo) -> None:
        self.session.move(info.addresses[0] if info.addresses else "127.0.0.1", info.port, info.fingerprint or None)

    # ------------------------------------------------------------------ hosting

    async def _take_over(self, epoch: int, *, collect: set[str], peers: p.Roster | None) -> tuple[str, int] | None:
        if self.hosted is not None:
            return "127.0.0.1", self.hosted.server.address[1]
        replica = self.session.replica
        folder = replica.folder if replica is not None else self._root / self.session.state.server_id
        self.session.stop_replica()  # the server's store is the copy from now on
        config = ServerConfig(port=self.port, data_dir=folder, name=self._server_name or self.session.state.server,
                              node=self.node, epoch=epoch, addresses=list(self._announce or []),
                              peers=[i.node for i in peers.peers] if peers else [],
                              collect=sorted(collect), collect_for=COLLECT_FOR if collect else 0.0)
        hosted = AnnouncedServer(config, list(self._announce) if self._announce else None)
        try:
            await hosted.start(announced=False)
        except OSError as exc:
            log.warning("cannot host the chat here: %s", exc)
            self._gone.add(self.node)
            return None
        self.hosted, self._on_host = hosted, here
        self._watch_hosts()
        log.info("hosting the chat now (epoch %d) on port %d", epoch, hosted.server.address[1])
        port = hosted.server.address[1]
        self.session.move("127.0.0.1", port, hosted.server.fingerprint)
        return "127.0.0.1", port

    # ------------------------------------------------------------------ pushing copies

    async def _push(self) -> None:
        """Connected to a host: push what our replica holds beyond where it took the chat
        over (or its last seq), then done; what we pushed is then taken as it numbers it."""
        replica = self.session.replica
        if replica is None or self.hosted is not None or self.closing or self._epoch < 2:
            return  # the first host of a chat has nothing to collect
        try:
            await self.session.wait_for(lambda s: s.roster is not None and s.roster.epoch == s.epoch, timeout=3.0)
        except TimeoutError:
            pass
        state = self.session.state
        since = state.roster.since if state.roster is not None else {}
        theirs = {r.name: r.last_seq for r in state.available}
        try:
            for room in replica.rooms:
                after = first = since.get(room, theirs.get(room, 0))
                pushed = False
                while True:
                    copies = replica.copies(room, after)
                    if not copies:
                        break
                    await self.session.replicate(room, copies, pair=self._pair(room))
                    after, pushed = copies[-1].seq, True
                if pushed and room in since and room in state.rooms:
                    await self.session.rebase(room, first)
            await self.session.replicate("General", [], done=True)
        except (ConnectionLost, Rejected, TimeoutError) as exc:
            log.info("pushing our copies to the host: %s", exc)

    def _pair(self, room: str) -> list[tuple[str, str]]:
        """A direct conversation's two members, (uid, name) each, as this peer knows them."""
        direct = self.session.state.directs.get(room)
        if direct is None:
            return []
        return [(self.session.identity.uid, self.session.state.me), (direct.peer_uid, direct.peer)]

    async def _beat(self) -> None:
        while not self.closing:
            await asyncio.sleep(HEARTBEAT)
            if self.session.idle_timeout <= HOST_SILENT:  # a chat peers could take over
                self.session.heartbeat()

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
