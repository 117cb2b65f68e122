"""The dispatch of each client message to the part of the server that handles it, with
flood control and metering first, and a refusal or a bug turned into an Error frame.

Invariants (see app.py for the rest):
- A request that waits for work off the loop (`Later`) holds its connection's next messages
  until it is answered; every other connection is served meanwhile.
- Every kind of frame is metered: posts by flood control, every other request by `Meters`;
  only heartbeats and the chunks of an accepted upload are free.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any, assert_never

from .. import protocol as p
from ..protocol.codes import ErrorCode
from ..store import StoreError
from .commit import GroupCommit
from .config import ServerConfig
from .connection import Connection
from .conversations import Conversations
from .errors import Refused
from .files import Files
from .handshake import Handshake
from .later import Later, Step
from .membership import Membership
from .messages import Messages
from .meters import Meters
from .presence import Presence
from .succession import Succession

__all__ = ["Dispatch"]

log = logging.getLogger(__name__)

# What flood control counts: what others see or what costs the server storage.
_METERED = (p.SendText, p.React, p.OfferFile, p.CreateRoom, p.EditText, p.DeleteMessage, p.OpenDirect,
            p.SetStatus)
# Not metered: heartbeats, and chunks (each belongs to an offer flood control counted).
_FREE = (p.Ping, p.Pong, p.FileChunk)


class Dispatch:
    """A mixin of `ChatServer`: how a message is handled, apart from how the parts handling
    it are built and started (app.py)."""

    # The parts, built by ChatServer.__init__.
    config: ServerConfig
    succession: Succession
    _commit: GroupCommit
    _meters: Meters
    _handshake: Handshake
    _presence: Presence
    _messages: Messages
    _conversations: Conversations
    _membership: Membership
    _files: Files

    def dispatch(self, conn: Connection, msg: p.ClientMsg) -> None:
        """Handle one message; refusals become an Error frame, bugs are logged."""
        if not self._commit.open and not isinstance(msg, (p.FileChunk, p.Ping, p.Pong)):
            self._commit.begin()
        self._step(conn, msg, lambda: self._handle(conn, msg) if conn.name is not None
                   else self._hello(conn, msg))

    def _hello(self, conn: Connection, msg: p.ClientMsg) -> Step:
        if not isinstance(msg, p.Hello):
            raise Refused(ErrorCode.UNEXPECTED_MESSAGE,
                          f"the first message must be hello, not {type(msg).__name__}", fatal=True)
        self._meters.hello(conn)
        return self._handshake.hello(conn, msg)

    def _step(self, conn: Connection, msg: p.ClientMsg, step: Callable[[], Step]) -> bool:
        """Run one step of handling `msg`; True if it left work to wait for (see `Later`)."""
        try:
            later = step()
            if later is not None:
                conn.hold()
                conn.spawn(self._after(conn, msg, later))
                return True
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
            conn.send(p.encode(p.Error(code=exc.code, message=str(exc), rid=getattr(msg, "rid", 0),
                                       cid=getattr(msg, "cid", ""))))
        except Exception:
            log.error("bug handling %s from %s", type(msg).__name__, conn.peer, exc_info=True)
            conn.send(p.encode(p.Error(code=ErrorCode.INTERNAL, message="the server failed on this request",
                                       rid=getattr(msg, "rid", 0))))
        return False

    async def _after(self, conn: Connection, msg: p.ClientMsg, later: Later[Any]) -> None:
        """Wait for a step's work (the connection's next messages wait too), then go on. Work
        that refuses (a cluster's NATS gone, say) is answered as any refusal."""
        refused: Refused | None = None
        try:
            result = await later.work
        except Refused as exc:
            refused, result = exc, None
        except Exception:
            log.error("work for %s from %s failed", type(msg).__name__, conn.peer, exc_info=True)
            conn.send(p.encode(p.Error(code=ErrorCode.INTERNAL, message="the server failed on this request",
                                       rid=getattr(msg, "rid", 0))))
            conn.release()
            return
        if conn.closed:
            return
        self._commit.begin()
        if not self._step(conn, msg, partial(_raise, refused) if refused else lambda: later.then(result)):
            conn.release()

    def _handle(self, conn: Connection, msg: p.ClientMsg) -> Step:
        if isinstance(msg, _METERED):
            if not conn.allow():
                raise Refused(ErrorCode.SLOW_DOWN, f"slow down: at most {self.config.max_rate:g} messages a "
                              f"second (bursts of {self.config.burst}); this one was not sent")
        elif not isinstance(msg, _FREE):
            self._meters.request(conn)
        match msg:
            case p.SendText():
                if not self.succession.hold(conn, msg):
                    self._messages.send_text(conn, msg)
            case p.Replicate():
                self.succession.replicate(conn, msg)
            case p.MarkDelivered():
                self._presence.receipt(conn, msg.room, delivered=msg.seq, read=0)
            case p.MarkRead():
                self._presence.receipt(conn, msg.room, delivered=msg.seq, read=msg.seq)
            case p.SetTyping():
                self._presence.typing(conn, msg)
            case p.FileChunk():
                self._files.chunk(conn, msg)
            case p.JoinRoom():
                return self._membership.join(conn, msg)
            case p.LeaveRoom():
                self._membership.leave(conn, msg)
            case p.ListRooms():
                self._membership.list_rooms(conn, msg)
            case p.CreateRoom():
                return self._membership.create_room(conn, msg)
            case p.React():
                self._messages.react(conn, msg)
            case p.OfferFile():
                self._files.offer(conn, msg)
            case p.FetchFile():
                self._files.fetch(conn, msg)
            case p.BodyOffer():
                self._files.body_offer(conn, msg)
            case p.GetHistory():
                self._messages.history(conn, msg)
            case p.Search():
                self._messages.search(conn, msg)
            case p.OpenDirect():
                return self._conversations.open_direct(conn, msg)
            case p.EditText() | p.DeleteMessage():
                self._conversations.edit(conn, msg)
            case p.SetStatus():
                self._conversations.set_status(conn, msg)
            case p.Ping():
                conn.send(p.encode(p.Pong(nonce=msg.nonce)))
            case p.Pong():
                pass  # last_rx already moved
            case p.Hello():
                raise Refused(ErrorCode.UNEXPECTED_MESSAGE, "hello was already received", fatal=True)
            case _:
                assert_never(msg)
        return None

    def _release_held(self, held: list[tuple[Connection, p.ClientMsg]]) -> None:
        """The posts that waited while this new host collected the peers' copies."""
        for conn, msg in held:
            if isinstance(msg, p.SendText):
                self._commit.begin()
                self._step(conn, msg, partial(self._messages.send_text, conn, msg))


def _raise(exc: Exception) -> Step:
    raise exc
