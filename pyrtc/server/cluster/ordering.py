"""A room's seq, decided once for the whole cluster: the chat's stream is the sequencer.

JetStream gives every entry of the stream one sequence number, once, whichever server
published it. Every server applies the stream in that order, from its first entry, with the
same rule (a post gets its room's last seq + 1, unless its (sender, cid) is stored already:
then it is the resend of that one and gets nothing new). The same entries in the same order
through the same rule give the same seqs on every server: no gap, no seq given twice, and
nothing to retry. (The first design, compare-and-set on each room's subject with
Nats-Expected-Last-Subject-Sequence, was as correct but allowed one post per room in flight
per server: docs/cluster.md has the figures of both.)

Invariants:
- Publishing never waits for another post: many are in flight at once on the connection.
- `Nats-Msg-Id` is (room, sender, cid): a resend within the stream's dedup window (a lost ack,
  a client that moved to another server) is not stored again; JetStream answers with the
  first one's stream seq. A resend after the window is stored but skipped when applied.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import APIError

from ..errors import ClusterError
from .link import REQUEST_TIMEOUT, why
from .wire import Post, Subjects, decode, encode, room_token

__all__ = ["Ordering", "Published"]


@dataclass(frozen=True, slots=True)
class Published:
    stream_seq: int
    token: str  # of the entry stored: the first one's when this was a duplicate
    duplicate: bool


class Ordering:
    def __init__(self, js: JetStreamContext, subjects: Subjects) -> None:
        self._js = js
        self._subjects = subjects

    async def publish(self, post: Post) -> Published:
        headers = {}
        if post.cid:
            ident = f"{room_token(post.room)}\x00{post.sender}\x00{post.cid}".encode()
            headers["Nats-Msg-Id"] = hashlib.blake2b(ident, digest_size=16).hexdigest()
        try:
            ack = await self._js.publish(self._subjects.post(post.room), encode(post), headers=headers,
                                         timeout=REQUEST_TIMEOUT)
        except APIError as exc:
            raise ClusterError(f"the chat's stream refused the post: {exc}") from None
        except Exception as exc:
            raise ClusterError(f"NATS did not store the post ({why(exc)})") from None
        if not ack.duplicate:
            return Published(ack.seq, post.token, False)
        try:
            raw = await self._js.get_msg(self._subjects.stream, seq=ack.seq)
        except Exception as exc:
            raise ClusterError(f"NATS did not answer ({why(exc)})") from None
        first = decode(raw.data or b"")
        assert isinstance(first, Post)
        return Published(ack.seq, first.token, True)
