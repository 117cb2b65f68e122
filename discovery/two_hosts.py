"""Two hosts of one chat at once (a partition healed, two peers took it over at the same
moment): the one that loses by the rule hands its chat to the other (docs/peer-assisted.md, 7).

Invariants:
- The rule is the same on both hosts: the higher epoch wins, a tie the lower node id; only a
  peer our rosters vouched for (its node id and fingerprint) can win over us.
- Watched while this peer hosts, wherever its server lives: on this loop (a terminal, a chat
  taken over) or on a loop of its own (the window's host thread, reached through `OnHost`).
- Yielding: everyone to the winner (HandOver), our server's copies pushed there, our server
  closed; each on the server's own loop, once (`quit` waits for a yield under way).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from pyrtc import protocol as p

from .hosting import AnnouncedServer
from .peers import greeting_at

__all__ = ["TwoHosts", "OnHost", "here", "WATCH_EVERY"]

log = logging.getLogger(__name__)

#: How often a host asks the peers it knows whether they host this chat too (s).
WATCH_EVERY = 1.0

#: Runs a coroutine where the hosted server lives (its own loop, for the window) and returns
#: its result here.
OnHost = Callable[[Coroutine[Any, Any, Any]], Awaitable[Any]]


async def here(work: Coroutine[Any, Any, Any]) -> Any:
    """`OnHost` for a server on this loop."""
    return await work


class TwoHosts:
    """A mixin of `Continuity`: apart because only a host runs it."""

    # Set or defined by Continuity.
    node: str
    hosted: AnnouncedServer | None
    closing: bool
    _on_host: OnHost
    _known: dict[str, p.PeerInfo]
    _watcher: asyncio.Future[None] | None
    _yielding: bool
    _push_from: Callable[[AnnouncedServer, p.PeerInfo, OnHost], Awaitable[None]]

    def _watch_hosts(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        """While we host: is another host of this chat serving? We yield to a winner."""
        while not self.closing and self.hosted is not None:
            await asyncio.sleep(WATCH_EVERY)
            hosted = self.hosted
            if hosted is None or self.closing:
                return
            epoch = hosted.server.epoch
            for info in list(self._known.values()):
                if info.node == self.node or not info.port or not info.addresses:
                    continue
                seen = await greeting_at(info.addresses[0], info.port)
                if seen is None:
                    continue
                g, fingerprint = seen
                if g.server_id != hosted.server.server_id or g.host != info.node or fingerprint != info.fingerprint:
                    continue  # another chat, or not the peer our roster vouched for
                if g.epoch > epoch or (g.epoch == epoch and g.host < self.node):
                    if hosted.leave():  # else it is handed on already (the window closing)
                        log.info("another host of this chat wins (epoch %d, %s); handing over", g.epoch, info.name)
                        await self._yield_to(hosted, info, g.epoch)
                    return

    async def _yield_to(self, hosted: AnnouncedServer, winner: p.PeerInfo, epoch: int) -> None:
        """Everyone to the winner, our server's copies pushed there, our server closed: on the
        loop our server lives on. Ours to do: `hosted.leave()` said so."""
        run, self.hosted, self._yielding = self._on_host, None, True
        try:
            await run(hosted.server.hand_over(to=winner, epoch=epoch))
            await self._push_from(hosted, winner, run)
        except Exception:
            log.warning("handing the chat to its other host failed", exc_info=True)
        finally:
            try:
                await run(hosted.close())
            finally:
                self._yielding = False
