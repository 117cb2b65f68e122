"""ClientHandle: a ClientSession on its own thread, for callers that must never block
(the Dear PyGui frame loop).

Exactly two crossings: commands go in through `submit()` (run_coroutine_threadsafe);
events come out through a SimpleQueue that the caller drains, e.g. once per frame.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .events import Event
from .session import ClientSession

__all__ = ["ClientHandle"]

T = TypeVar("T")


class ClientHandle:
    def __init__(self, make_session: Callable[[Callable[[Event], None]], ClientSession]) -> None:
        self._events: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pyrtc-client", daemon=True)
        self._thread.start()
        self.session: ClientSession = self.call(lambda: make_session(self._events.put))

    def call(self, fn: Callable[[], T]) -> T:
        """Run a plain function on the client thread and wait for it (setup only)."""
        fut: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                fut.set_result(fn())
            except BaseException as exc:  # handed to the caller
                fut.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return fut.result()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a session coroutine on the client thread; never blocks the caller."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def drain_events(self, limit: int = 10_000) -> list[Event]:
        out: list[Event] = []
        while len(out) < limit:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                break
        return out

    def close(self, timeout: float = 5.0) -> None:
        try:
            self.submit(self.session.close()).result(timeout)
        except Exception:
            pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
