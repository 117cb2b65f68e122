"""The server the window hosts, on a thread and event loop of its own.

Invariants:
- It lives as long as the window, whatever happens to the client sessions: a new name
  replaces the session and the thread it runs on (ClientHandle), never the server.
- `close()` (GUI thread, at exit) closes it, its mDNS goodbye first, also while it is still
  starting: a start under way (registering its name on the network, ~1.5 s, longer on a
  busy machine) is waited for, then the server is closed. Stopped half-way instead, the
  service could come on the air with no goodbye after it, listed by browsers for minutes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading

from pyrtc.discovery import AnnouncedServer, host_server
from pyrtc.server import ServerConfig

__all__ = ["HostThread", "CLOSE_LIMIT"]

log = logging.getLogger(__name__)

#: A safety net for starting (if under way) and closing together; normally under 2 s.
CLOSE_LIMIT = 60.0


class HostThread:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._starting: concurrent.futures.Future[AnnouncedServer] | None = None

    @property
    def hosted(self) -> AnnouncedServer | None:
        """The server once it has started (announced, when announcing)."""
        starting = self._starting
        if starting is None or not starting.done() or starting.exception() is not None:
            return None
        return starting.result()

    async def start(self, config: ServerConfig, addresses: list[str] | None) -> AnnouncedServer:
        """From any event loop (the client thread's): host on this thread; returns when started."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, name="pyrtc-host", daemon=True)
            self._thread.start()
        self._starting = asyncio.run_coroutine_threadsafe(host_server(config, addresses), self._loop)
        return await asyncio.wrap_future(self._starting)

    def hand_over(self, timeout: float = 5.0) -> None:
        """GUI thread, at exit, before `close`: hand the chat to the roster's successor (the
        window's peers move there by themselves); nothing when nobody could take it."""
        hosted, loop = self.hosted, self._loop
        if hosted is None or loop is None:
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
