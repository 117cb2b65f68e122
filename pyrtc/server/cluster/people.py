"""Names and direct conversations of a cluster's chat: the chat's, not one server's.

Invariants:
- A name key is bound to an identity once for the whole chat: its binding is published with
  expected last subject sequence 0 on the key's own subject, so of two identities claiming a
  name at once through two servers the first in the stream wins and the other is refused;
  every server applies the bindings to its name book (so its own checks, and direct
  conversations with people who came through another server, see them).
- A hello goes on only once this server's cache holds the binding it waits for.
- A direct conversation is opened by a stream entry; every server makes it (both members)
  when applying it and tells its own sessions of the other person; the opener is answered
  when its own server applied it.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import APIError

from ... import protocol as p
from ...protocol.codes import ErrorCode
from ..commit import GroupCommit
from ..connection import Connection
from ..errors import Refused
from ..shared import Shared
from .link import REQUEST_TIMEOUT, why
from .wire import DirectMade, NameBound, Subjects, decode, encode

__all__ = ["Claim", "People", "WRONG_LAST_SEQUENCE", "publish_answered"]

async def publish_answered(js: JetStreamContext, subject: str, data: bytes, conn: Connection, rid: int,
                           failed: str, forget: Callable[[], object]) -> None:
    """Publish an entry whose sender is answered when the stream applies it; one the stream
    did not take is forgotten, and its sender told why (`chat_degraded`)."""
    try:
        await js.publish(subject, data, timeout=REQUEST_TIMEOUT)
    except Exception as exc:
        forget()
        if not conn.closed:
            conn.send(p.encode(p.Error(code=ErrorCode.CHAT_DEGRADED, rid=rid, message=f"{failed} ({why(exc)})")))


APPLY_TIMEOUT = 10.0  # seconds a hello waits for this cache to apply the chat's answer on a name

#: JetStream's error code for a failed Nats-Expected-Last-Subject-Sequence.
WRONG_LAST_SEQUENCE = 10071

_NO_DIRECTS = ("the chat is degraded: this server cannot reach the chat's message log (NATS); a new direct "
               "conversation waits until the chat is back (those open already work)")
_NO_NAMES = ("the chat is degraded: this server cannot reach the chat's message log (NATS), where names "
             "are bound; a name used before through this server still works, a new one waits until the "
             "chat is back")


@dataclass(frozen=True, slots=True)
class Claim:
    """The chat's answer to a name claimed: `taken_by` the name of another identity holding
    one of its keys, or `unanswered` why the chat could not be asked; neither: it is ours.
    (An answer, not an exception: the hello goes on, or is refused, on the event loop.)"""

    taken_by: str = ""
    unanswered: str = ""

    def refusal(self, name: str) -> Refused | None:
        if self.unanswered:
            return Refused(ErrorCode.CHAT_DEGRADED, self.unanswered, fatal=True)
        if self.taken_by:
            like = f" (it looks like {self.taken_by!r})" if self.taken_by != name else ""
            return Refused(ErrorCode.NAME_TAKEN, f"the name {name!r} belongs to someone else in this chat{like}; "
                           "pick another", fatal=True)
        return None


class People:
    """A mixin of `Cluster` (set by its __init__ and start)."""

    _shared: Shared
    _commit: GroupCommit
    _subjects: Subjects | None
    _opening: dict[str, tuple[Connection, int]]  # direct token -> (requester, rid)

    @property
    def degraded(self) -> bool:
        raise NotImplementedError

    def _js(self) -> JetStreamContext:
        raise NotImplementedError

    def until_applied(self, seq: int) -> Awaitable[None]:
        raise NotImplementedError

    def _spawn(self, coro: Awaitable[None]) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ names

    async def claim_name(self, keys: tuple[str, ...], name: str, uid: str) -> Claim:
        """Bind `name`'s keys to `uid` for the whole chat (or find them bound to it before)."""
        if self.degraded:
            return Claim(unanswered=_NO_NAMES)
        assert self._subjects is not None
        js, stream, last, taken = self._js(), self._subjects.stream, 0, ""
        try:
            for key in keys:
                subject = self._subjects.name(key)
                try:
                    ack = await js.publish(subject, encode(NameBound(key=key, name=name, uid=uid)),
                                           headers={"Nats-Expected-Last-Subject-Sequence": "0"},
                                           timeout=REQUEST_TIMEOUT)
                    last = max(last, ack.seq)
                    continue
                except APIError as exc:
                    if exc.err_code != WRONG_LAST_SEQUENCE:
                        raise
                raw = await js.get_last_msg(stream, subject)
                last = max(last, raw.seq or 0)
                held = decode(raw.data or b"")
                if isinstance(held, NameBound) and held.uid != uid:
                    taken = held.name
                    break
            # The cache holds the answer before the hello goes on (bounded: the stream may
            # have gone away since it answered).
            await asyncio.wait_for(self.until_applied(last), APPLY_TIMEOUT)
        except Exception as exc:  # not stored, no answer: nothing is known of the name
            return Claim(unanswered=f"{_NO_NAMES} ({why(exc)})")
        return Claim(taken_by=taken)

    def _apply_name(self, b: NameBound) -> None:
        self._shared.store.names.bind((b.key,), b.name, b.uid)  # the first binding of a key stays

    # ------------------------------------------------------------------ direct conversations

    def open_direct(self, conn: Connection, peer_uid: str, peer: str, rid: int) -> None:
        """Open `conn`'s direct conversation with `peer` on every server; answered
        (`DirectOpened` with `rid`) when this cache applied it."""
        assert conn.name is not None and self._subjects is not None
        if self.degraded:
            raise Refused(ErrorCode.CHAT_DEGRADED, _NO_DIRECTS)
        from ...store.conversations import direct_room

        room = direct_room(conn.uid, peer_uid)
        token = secrets.token_hex(8)
        self._opening[token] = (conn, rid)
        js, subject = self._js(), self._subjects.event(room)
        entry = DirectMade(room=room, uid_a=conn.uid, name_a=conn.name, uid_b=peer_uid, name_b=peer, token=token)

        self._spawn(publish_answered(js, subject, encode(entry), conn, rid, "the direct conversation was not opened",
                                     lambda: self._opening.pop(token, None)))

    def _apply_direct(self, d: DirectMade) -> None:
        store = self._shared.store
        room, new = store.open_direct(d.uid_a, d.name_a, d.uid_b, d.name_b)
        last = store.last_seq(room)
        waiting = self._opening.pop(d.token, None)
        if waiting is not None and not waiting[0].closed:
            conn, rid = waiting
            answer = p.DirectOpened(direct=p.DirectInfo(room=room, peer=d.name_b, peer_uid=d.uid_b, last_seq=last),
                                    rid=rid)
            self._commit.add(conn, room, "", 0, p.encode(answer), b"")
        if new:
            told = p.encode(p.DirectOpened(direct=p.DirectInfo(room=room, peer=d.name_a, peer_uid=d.uid_a,
                                                               last_seq=last)))
            for other in self._shared.sessions.get(d.uid_b, ()):
                self._commit.add(other, room, "", 0, told, b"")
