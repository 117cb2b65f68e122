"""The session's part in keeping a chat alive across hosts: its replica of the chat,
heartbeats to the host, moving to a new host, and pushing copies to one that lacks them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from .. import protocol as p
from .connection import Connection
from .events import Notice, Rebased
from .replica import Replica, default_replica_root
from .routing import Router
from .state import ChatState

__all__ = ["Peering"]


class Peering:
    """A mixin of `ClientSession`: apart because only a peer that could host the chat (the
    window, the terminal) uses it; the one-shot commands never do."""

    # Set or defined by ClientSession.
    state: ChatState
    _router: Router
    _conn: Connection
    fill: Callable[[str, int], Awaitable[None]]
    _joins_as: Callable[[str, bool, bool], None]

    def keep_replica(self, root: Path | None = None, chat_id: str = "", *, watch: bool = False) -> int:
        """Keep a replica of every chat connected to (under `root`, default: the user's data
        dir). With `chat_id` (discovery said which chat this is), its rooms are shown now,
        before connecting, and resumed from where they are (`watch`: as a watcher, a kiosk);
        returns how many rooms."""
        self._router.replica_root = root or default_replica_root()
        if not chat_id:  # connected already: from now on
            if self.state.server_id:
                self._router.open_replica(self.state.server_id)
            return 0
        replica = self._router.open_replica(chat_id)
        if replica is None:
            return 0
        shown = replica.restore()
        for joined in shown:
            self._joins_as(joined.room, watch, False)
            self._router.state.apply(joined)  # not recorded again: the replica holds it
            if self._router.on_event is not None:
                self._router.on_event(joined)
        return len(shown)

    @property
    def replica(self) -> Replica | None:
        return self._router.replica

    def stop_replica(self) -> None:
        """This peer hosts the chat on its replica's folder now: the server's store is the copy."""
        if self._router.replica is not None:
            self._router.replica.close()
        self._router.replica = None
        self._router.replica_root = None

    def heartbeat(self) -> None:
        """A Ping (free: no flood control): the host answers, so a silent host is noticed by
        the read timeout (`idle_timeout`) even when the chat is quiet."""
        self._router.write(p.Ping())

    async def rebase(self, room: str, after: int) -> None:
        """Take the host's numbering of `room` after seq `after`: forget ours, fetch its."""
        self._router.emit(Rebased(room, after))
        await self.fill(room, after)

    def note(self, text: str) -> None:
        """A line for the user (`state.notice`, and the event stream's `Notice`)."""
        self._router.emit(Notice(text))

    def move(self, host: str, port: int, fingerprint: str | None) -> None:
        """Another peer hosts the chat now: reconnect there (its certificate vouched for)."""
        self._conn.move(host, port, fingerprint)

    async def replicate(self, room: str, messages: list[p.Posted], *, done: bool = False,
                        pair: list[tuple[str, str]] | None = None, reactions: list[p.ReactionCopy] | None = None,
                        receipts: list[p.ReceiptCopy] | None = None) -> p.Replicated:
        """Push copies of a room's messages (and a leaving host's reactions and receipts) to a
        host that lacks them (see server/succession.py); `pair`: a direct conversation's two
        members, (uid, name) each."""
        reply: p.Replicated = await self._router.request(
            lambda rid: p.Replicate(room=room, messages=messages, done=done, rid=rid, pair=pair or [],
                                    reactions=reactions or [], receipts=receipts or []))
        return reply
