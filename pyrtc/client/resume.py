"""What a connection does once (re)connected, to pick up where the session was.

Invariants:
- Each room is re-joined from `RoomView.synced` (asked again while the server says
  slow_down; a locked room watched or visited, never a member's, with the password it was
  joined with), and any gap the server's page leaves is fetched (`fill_gap`) before the room
  counts as resumed; every pending text is sent again with its cid.
- Welcome brings the first page of rooms; the rest are fetched a page at a time
  (`fill_rooms`) so that `state.available` holds every room.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine

from .. import protocol as p
from ..protocol.codes import ErrorCode
from .errors import ConnectionLost, Rejected
from .routing import Router

__all__ = ["Resuming"]

log = logging.getLogger(__name__)


class Resuming:
    """The resume half of `Connection` (a mixin): apart from the socket and reconnect loop
    because it only speaks through the router, never to the transport."""

    # Set by Connection.__init__.
    _router: Router
    _fill: Callable[[str, int], Awaitable[None]]
    _fill_rooms: Callable[[], Awaitable[object]]
    _tasks: set[asyncio.Task[None]]

    async def _resume(self) -> None:
        """After (re)connecting: re-join rooms from where we are, resend what is pending."""
        loop = asyncio.get_running_loop()
        router = self._router
        for room in list(router.state.rooms.values()):
            def rejoin(rid: int, name: str = room.name, since: int = room.synced,
                       changes: int = room.last_change) -> p.JoinRoom:
                return p.JoinRoom(room=name, since=since or None, rid=rid, watch=name in router.watch,
                                  visit=name in router.visit, password=router.passwords.get(name, ""),
                                  changes_after=changes)

            rid = next(router.rids)
            reply = router.replies[rid] = loop.create_future()
            router.write(rejoin(rid))
            self._spawn(self._fill_gap(room.name, room.synced, reply, rejoin))
        for room in router.state.rooms.values():
            for m in room.pending():
                router.write(p.SendText(room=m.room, cid=m.cid, text=m.text, reply_to=m.reply_to))
        if router.status != ("available", ""):
            router.write(p.SetStatus(status=router.status[0], text=router.status[1]))  # type: ignore[arg-type]
        for direct in list(router.state.directs):  # those opened while we were away too
            if direct not in router.state.rooms:
                router.direct_found(direct)

    def spawn(self, coro: Coroutine[object, object, None]) -> None:
        """Run `coro` while the session lasts (closing cancels it)."""
        self._spawn(coro)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _more_rooms(self) -> None:
        """The pages of rooms after Welcome's first."""
        try:
            await self._fill_rooms()
        except (ConnectionLost, Rejected, TimeoutError) as exc:
            log.info("the list of rooms is not complete yet: %s", exc)

    async def _fill_gap(self, room_name: str, since: int, reply: asyncio.Future[object],
                        rejoin: Callable[[int], p.JoinRoom]) -> None:
        """After a resume, fetch what the server's join page skipped: no gap. A rejoin the
        server refuses for pace (slow_down: its limits per user and address) is asked again,
        with backoff, while this connection lasts: given up, the room would stay silent
        while the session looks connected."""
        router = self._router
        writer = router.writer
        delay = 1.0
        try:
            while True:
                try:
                    await reply
                    break
                except Rejected as exc:
                    if exc.code != ErrorCode.SLOW_DOWN:
                        raise
                    log.info("rejoining %s: %s; asking again in %g s", room_name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(2 * delay, 30.0)
                if router.writer is not writer:
                    return  # connected again meanwhile: that connection's resume rejoins
                rid = next(router.rids)
                reply = router.replies[rid] = asyncio.get_running_loop().create_future()
                if not router.write(rejoin(rid)):
                    router.replies.pop(rid, None)
                    return
            if since:
                await self._fill(room_name, since)
        except (ConnectionLost, Rejected, TimeoutError) as exc:
            log.info("history gap in %s not filled yet: %s", room_name, exc)
