"""The server the window hosts, on a thread and event loop of its own.

Invariants:
- It lives as long as the window, whatever happens to the client sessions: a new name
  replaces the session and the thread it runs on (ClientHandle), never the server. Once
  started it is the session's (Continuity.adopt): handed on at quit, or yielded to another
  host of the chat that wins over it (then closed, and `hosted` is None from then on).
- Its chat is handed on once (AnnouncedServer.leave): at exit `hand_over` does it only when
  no session did (or does), and `close` after a close (a yield's) waits for it and is done.
- `close()` (GUI thread, at exit) closes it, its mDNS goodbye first, also while it is still
  starting: a start under way (registering its name on the network, ~1.5 s, longer on a
  busy machine) is waited for, then the server is closed. Stopped half-way instead, the
  service could come on the air with no goodbye after it, listed by browsers for minutes.
- While the window browses, the name a server here would announce is probed for (`claim`,
  ~1.2 s of registering: questions only, nobody lists it); a start then announces at once.
  A chat joined instead drops the claim (`unclaim`): nothing of it was ever on the air.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine
from typing import Any

from pyrtc.client import Identity
from pyrtc.discovery import AnnouncedServer, DiscoveryError, NameClaim, host_server
from pyrtc.discovery.hosting import preload_server
from pyrtc.server import ServerConfig

from .options import GuiOptions

__all__ = ["HostThread", "CLOSE_LIMIT", "server_config"]

log = logging.getLogger(__name__)

def server_config(opts: GuiOptions, addresses: list[str]) -> ServerConfig:
    """The server the window would host. The chat's first host is a peer like the others (its
    node id is its key's): without one it was a dedicated server, whose chat nobody could take
    over when the window closed."""
    cfg = ServerConfig(port=opts.port, tls=opts.tls, node=Identity.load_or_create().uid)
    cfg.data_dir, cfg.addresses = opts.data_dir or cfg.data_dir, list(addresses)
    return cfg


#: A safety net for starting (if under way) and closing together; normally under 2 s.
CLOSE_LIMIT = 60.0


class HostThread:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._starting: concurrent.futures.Future[AnnouncedServer] | None = None
        self._claim: NameClaim | None = None
        self._claiming: concurrent.futures.Future[None] | None = None

    @property
    def hosted(self) -> AnnouncedServer | None:
        """The server once it has started (announced, when announcing), until its chat left it
        (handed on, yielded to another host) or it closed."""
        starting = self._starting
        if starting is None or not starting.done() or starting.exception() is not None:
            return None
        server = starting.result()
        return None if server.left else server

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="pyrtc-host", daemon=True)
            self._thread.start()
        return self._loop

    def claim(self, config: ServerConfig, addresses: list[str]) -> None:
        """Probe for the name `config` would announce on `addresses` (once; kept until used)."""
        if self._claim is None and self._starting is None:
            preload_server()
            self._claim = NameClaim(config.name, addresses)
            self._claiming = asyncio.run_coroutine_threadsafe(self._claim.probe(), self._running_loop())

    def unclaim(self) -> None:
        """A chat was joined instead: the probed name is let go (it was never announced)."""
        claim, self._claim, self._claiming = self._claim, None, None
        if claim is not None and self._loop is not None:
            asyncio.run_coroutine_threadsafe(claim.close(), self._loop)

    async def start(self, config: ServerConfig, addresses: list[str] | None) -> AnnouncedServer:
        """From any event loop (the client thread's): host on this thread; returns when started."""
        self._starting = asyncio.run_coroutine_threadsafe(self._host(config, addresses), self._running_loop())
        return await asyncio.wrap_future(self._starting)

    async def _host(self, config: ServerConfig, addresses: list[str] | None) -> AnnouncedServer:
        """On this thread: the claim's name announced at once when it was probed for in time."""
        claim, claiming, self._claim, self._claiming = self._claim, self._claiming, None, None
        if claim is not None and claiming is not None:
            try:
                await asyncio.wrap_future(claiming)
            except (DiscoveryError, OSError) as exc:
                log.info("probing for our name failed (%s); registering probes again", exc)
                await claim.close()
                claim = None
        if claim is not None and addresses is None:
            await claim.close()  # hosting without announcing after all
            claim = None
        return await host_server(config, addresses, claim=claim)

    async def on_host(self, work: Coroutine[Any, Any, Any]) -> Any:
        """From the client thread: `work` run on this thread's loop (where the server and its
        store live), its result returned there."""
        assert self._loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    def hand_over(self, timeout: float = 5.0) -> None:
        """GUI thread, at exit, before `close`: hand the chat to the roster's successor (the
        window's peers move there by themselves), unless a session handed it on (its quit,
        with its pushes, or a yield); nothing when nobody could take it."""
        hosted, loop = self.hosted, self._loop
        if hosted is None or loop is None or not hosted.leave():
            return
        try:
            asyncio.run_coroutine_threadsafe(hosted.server.hand_over(pushes=False), loop).result(timeout)
        except Exception:
            log.warning("handing the chat over failed", exc_info=True)

    def close(self, timeout: float = CLOSE_LIMIT) -> None:
        """GUI thread, at exit: wait for a start under way, close the server, stop the thread."""
        loop, starting = self._loop, self._starting
        if loop is None:
            return
        self.unclaim()
        try:
            # A failed start was reported when it failed; it left nothing to close.
            if starting is not None and starting.exception(timeout) is None:
                asyncio.run_coroutine_threadsafe(starting.result().close(), loop).result(timeout)
        except Exception:
            log.warning("the server hosted here did not close cleanly", exc_info=True)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout)
                if not self._thread.is_alive():
                    loop.close()
            self._loop = self._thread = None
