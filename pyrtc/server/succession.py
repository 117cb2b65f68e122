"""A host that took the chat over: collecting what peers hold, merging what another host
took, and handing the chat on at a planned quit.

Invariants:
- Only a peer of the roster (its node id is the key id its hello proved) may push copies.
- While collecting (a new host's first moments after a crash) posts wait: every copy a peer
  holds is placed under the seq its earlier host gave it before any new post takes a seq.
  Collecting ends when every expected peer said `done`, or at its deadline.
- A copy whose seq is free and not past the room's last seq fills a gap under that seq; a
  copy of a message held already (same sender and cid, or same sender, time and text)
  changes nothing; any other copy is merged: appended under a new seq, its sender and time
  kept, and sent to the room as a new post.
- A reaction or receipt a leaving host pushes is taken as it came (never undoing one here):
  a reaction only onto the message it was given to (same sender and time at the seq this
  host holds it under), a receipt only forward and not past the room's last seq.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .. import protocol as p
from ..protocol.codes import ErrorCode
from ..store import StoredFile, StoredMessage
from ..store.conversations import direct_room
from . import chatlog
from .connection import Connection
from .errors import Refused
from .messages import posted
from .roster import Roster
from .shared import Shared

__all__ = ["Succession"]

log = logging.getLogger(__name__)


def _stored(m: p.Posted, room: str, seq: int) -> StoredMessage:
    f = m.file
    file = None if f is None else StoredFile(f.blob_id, f.name, f.size, f.mime, f.thumb_id, f.width, f.height)
    return StoredMessage(room, seq, m.sender, m.time, m.text, m.cid, file)


def _same(a: StoredMessage, b: p.Posted) -> bool:
    if a.sender != b.sender:
        return False
    if a.cid and b.cid:
        return a.cid == b.cid
    return a.time == b.time and a.text == b.text


class Succession:
    def __init__(self, shared: Shared, roster: Roster, *, allowed: set[str], expected: set[str],
                 release: Callable[[list[tuple[Connection, p.ClientMsg]]], None],
                 receipt: Callable[[str, str, int, int], None] = lambda room, name, delivered, read: None) -> None:
        """`allowed`: node ids that may push (the last roster's); `expected`: those whose
        `done` ends collecting early (`start` says for how long at most)."""
        self._shared = shared
        self._roster = roster
        self.allowed = allowed
        self._expected = set(expected)
        self._release = release  # dispatches the posts held while collecting
        self._receipt = receipt  # stores a member's receipts and tells the room (presence)
        self._held: list[tuple[Connection, p.ClientMsg]] = []
        self.collecting = False
        self._deadline: asyncio.TimerHandle | None = None

    def start(self, collect_for: float) -> None:
        """Serving: collect for `collect_for` s at most (0, or nobody expected: not at all)."""
        self.collecting = collect_for > 0 and bool(self._expected)
        if self.collecting:
            self._deadline = asyncio.get_running_loop().call_later(collect_for, self.stop_collecting)

    def hold(self, conn: Connection, msg: p.ClientMsg) -> bool:
        """While collecting: keep a post for later (True)."""
        if not self.collecting:
            return False
        self._held.append((conn, msg))
        return True

    def stop_collecting(self) -> None:
        if not self.collecting:
            return
        self.collecting = False
        if self._deadline is not None:
            self._deadline.cancel()
        held, self._held = self._held, []
        log.info("collected the peers' copies; serving %d waiting posts", len(held))
        self._release([(c, m) for c, m in held if not c.closed])

    def replicate(self, conn: Connection, msg: p.Replicate) -> None:
        if conn.uid not in self.allowed:
            raise Refused(ErrorCode.UNEXPECTED_MESSAGE, "only a peer this chat's host vouched for may push copies")
        store = self._shared.store
        if p.is_direct(msg.room):
            room = self._direct(msg)
        else:
            room = store.find_room(msg.room) or ""
            if not room:
                store.create_room(msg.room, creator=conn.name or "")
                room = msg.room
        stored = renumbered = 0
        for m in sorted(msg.messages, key=lambda m: m.seq):
            if m.cid and store.find_by_cid(room, m.sender, m.cid) is not None:
                continue
            held, _ = store.history(room, after=m.seq - 1, before=m.seq + 1, limit=1)
            if held and _same(held[0], m):
                continue
            last = store.last_seq(room)
            if not held and (self.collecting or m.seq <= last):
                seq = m.seq  # the seq its earlier host gave it
            else:
                seq = last + 1  # merged: after what this host holds
                renumbered += 1
            if store.put_copy(_stored(m, room, seq)):
                stored += 1
                self._shared.bus.publish(room, p.encode(posted(_stored(m, room, seq))))
                chatlog.line("copy room=%s seq=%d from=%s via=%s", room, seq, m.sender, conn.name)
        self._reactions(room, msg.reactions)
        self._receipts(room, msg.receipts)
        conn.send(p.encode(p.Replicated(room=room, stored=stored, renumbered=renumbered, rid=msg.rid)))
        if msg.done:
            self._expected.discard(conn.uid)
            if not self._expected:
                self.stop_collecting()

    def _reactions(self, room: str, reactions: list[p.ReactionCopy]) -> None:
        store = self._shared.store
        for r in reactions:
            target = store.find_copy(room, r.seq, r.sender, r.time)
            if target is None or not store.set_reaction(room, target, r.emoji, r.name, True):
                continue  # not the message it was given to here, or held already
            count = store.reaction_counts(room, target).get(r.emoji, -1)
            self._shared.bus.publish(room, p.encode(p.Reacted(room=room, seq=target, emoji=r.emoji, name=r.name,
                                                              on=True, count=count)))

    def _receipts(self, room: str, receipts: list[p.ReceiptCopy]) -> None:
        store = self._shared.store
        last = store.last_seq(room)
        for r in receipts:
            store.add_member(room, r.name)  # a member there is one here (its identity's once it joins)
            self._receipt(room, r.name, min(r.delivered, last), min(r.read, last))

    def _direct(self, msg: p.Replicate) -> str:
        """A direct conversation's copies: served to its two members alone, as before. Its
        pair comes with it, and must be the one its room's name was made from."""
        store = self._shared.store
        if store.direct_pair(msg.room) is None:
            if len(msg.pair) != 2 or direct_room(msg.pair[0][0], msg.pair[1][0]) != msg.room:
                raise Refused(ErrorCode.NOT_ALLOWED, f"{msg.room!r}: a direct conversation needs its two members")
            (uid_a, name_a), (uid_b, name_b) = msg.pair
            store.open_direct(uid_a, name_a, uid_b, name_b)
            # Its members asked for it before it was here (refused then): say it exists now.
            for uid, peer, peer_uid in ((uid_a, name_b, uid_b), (uid_b, name_a, uid_a)):
                told = p.encode(p.DirectOpened(direct=p.DirectInfo(room=msg.room, peer=peer, peer_uid=peer_uid)))
                for conn in self._shared.sessions.get(uid, ()):
                    conn.send(told)
        return msg.room

    def successor(self) -> p.PeerInfo | None:
        """Who takes the chat at a planned quit: the lowest node id among the connected
        host-capable peers (every peer computes the same from the roster)."""
        peers = [i for i in self._roster.current().peers if i.node != self._roster.host.node]
        return min(peers, key=lambda i: i.node) if peers else None

    async def hand_over(self, wait: float = 2.0, *, pushes: bool = True, to: p.PeerInfo | None = None,
                        epoch: int = 0) -> p.PeerInfo | None:
        """Tell everyone who hosts the chat next (the roster's rule, or `to`: another host of
        the chat that wins over us, at its `epoch`), and wait (up to `wait` s) until that peer
        has left for it. None: nobody could take it."""
        successor = to or self.successor()
        if successor is None:
            return None
        roster = self._roster
        frame = p.encode(p.HandOver(successor=successor.node, epoch=epoch or roster.epoch + 1, pushes=pushes,
                                    host_name=roster.host.name or self._shared.config.name))
        conns = self._shared.conns
        theirs = [c for c in conns if c.uid == successor.node and c.name is not None]
        for conn in list(conns):
            if conn.name is not None and not conn.closed:
                conn.send(frame)
        chatlog.line("hand over to=%s epoch=%d", successor.name or successor.node[:16], epoch or roster.epoch + 1)
        loop = asyncio.get_running_loop()
        until = loop.time() + wait
        while any(not c.closed for c in theirs) and loop.time() < until:
            await asyncio.sleep(0.02)
        return successor
