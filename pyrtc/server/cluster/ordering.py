"""A room's seq, decided once for the whole cluster: compare-and-set on the room's subject.

A post is published with `Nats-Expected-Last-Subject-Sequence` = the stream seq of the
room's last post as this server knows it, and room seq = that post's seq + 1. JetStream
stores it only if no other post reached the subject in between, so the n-th post on the
subject is room seq n, whichever server sent it; a server that lost the race learns the
room's new head (`get_last_msg`) and tries again. No gap, no seq given twice.

Invariants:
- One post per room in flight from this server (a per-room lock: two of ours would only
  race each other); other rooms go in parallel.
- `Nats-Msg-Id` is (room, sender, cid): a resend (after a lost ack, through any server) within
  the stream's dedup window is stored once; JetStream checks it before the expected seq, so
  the resend is answered with the first one's stream seq.
- `heads` only moves forward; the replica feeds it too, so races are rare in steady state.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass

import msgspec
from nats.js import JetStreamContext
from nats.js.errors import APIError, NotFoundError

from .link import REQUEST_TIMEOUT, ClusterError
from .wire import Post, Subjects, decode, encode, room_token

__all__ = ["Ordering", "Published"]

#: JetStream's error code for a failed Nats-Expected-Last-Subject-Sequence.
WRONG_LAST_SEQUENCE = 10071
MAX_TRIES = 200


@dataclass(frozen=True, slots=True)
class Published:
    stream_seq: int
    post: Post  # as stored: with its room seq (the first one's when it was a duplicate)
    duplicate: bool


class Ordering:
    def __init__(self, js: JetStreamContext, subjects: Subjects) -> None:
        self._js = js
        self._subjects = subjects
        self.heads: dict[str, tuple[int, int]] = {}  # room key -> (stream seq, room seq) of its last post
        self._locks: dict[str, asyncio.Lock] = {}
        self.conflicts = 0  # lost races (retried), for tests and benchmarks

    def saw(self, room: str, stream_seq: int, room_seq: int) -> None:
        key = room_token(room)
        if stream_seq > self.heads.get(key, (0, 0))[0]:
            self.heads[key] = (stream_seq, room_seq)

    async def publish(self, post: Post) -> Published:
        key = room_token(post.room)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            subject = self._subjects.post(post.room)
            headers = {}
            if post.cid:
                ident = f"{key}\x00{post.sender}\x00{post.cid}".encode()
                headers["Nats-Msg-Id"] = hashlib.blake2b(ident, digest_size=16).hexdigest()
            head = self.heads.get(key) or await self._head(subject)
            for _ in range(MAX_TRIES):
                entry = msgspec.structs.replace(post, seq=head[1] + 1)
                headers["Nats-Expected-Last-Subject-Sequence"] = str(head[0])
                try:
                    ack = await self._js.publish(subject, encode(entry), headers=dict(headers),
                                                 timeout=REQUEST_TIMEOUT)
                except APIError as exc:
                    if exc.err_code != WRONG_LAST_SEQUENCE:
                        raise ClusterError(f"the chat's stream refused the post: {exc}") from None
                    self.conflicts += 1
                    head = await self._head(subject)
                    continue
                except Exception as exc:
                    raise ClusterError(f"NATS did not store the post ({exc or type(exc).__name__})") from None
                if ack.duplicate:
                    return Published(ack.seq, await self._stored(ack.seq), True)
                self.saw(post.room, ack.seq, entry.seq)
                return Published(ack.seq, entry, False)
            raise ClusterError(f"the room was too busy to post in after {MAX_TRIES} tries; try again")

    async def _head(self, subject: str) -> tuple[int, int]:
        try:
            raw = await self._js.get_last_msg(self._subjects.stream, subject)
        except NotFoundError:
            return 0, 0
        except Exception as exc:
            raise ClusterError(f"NATS did not answer ({exc or type(exc).__name__})") from None
        entry = decode(raw.data or b"")
        assert isinstance(entry, Post) and raw.seq is not None
        return raw.seq, entry.seq

    async def _stored(self, stream_seq: int) -> Post:
        try:
            raw = await self._js.get_msg(self._subjects.stream, seq=stream_seq)
        except Exception as exc:
            raise ClusterError(f"NATS did not answer ({exc or type(exc).__name__})") from None
        entry = decode(raw.data or b"")
        assert isinstance(entry, Post)
        return entry
