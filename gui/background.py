"""Background work for the window: a coroutine runs on the client thread (through
ClientHandle), and what it returns is handed to a callback on the GUI thread, in the frame loop.

Invariants:
- Callbacks run only inside `deliver()`, which the frame loop calls once a frame: views and
  Dear PyGui are touched from the GUI thread alone.
- `run` hands the coroutine over and returns; nothing here waits, except `wait` at shutdown.
- A failure that no `failed` callback takes is shown to the user, never dropped; a cancelled
  run is silent (someone chose to stop it).
"""

from __future__ import annotations

import concurrent.futures
import queue
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from pyrtc.client import ClientHandle, ClientSession

__all__ = ["Background"]

T = TypeVar("T")
Failed = Callable[[BaseException], None]


class Background:
    def __init__(self, on_error: Failed) -> None:
        self.handle: ClientHandle | None = None  # set once the user has a name
        self._on_error = on_error
        self._done: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()

    @property
    def session(self) -> ClientSession | None:
        return self.handle.session if self.handle is not None else None

    def run(self, coro: Coroutine[Any, Any, T], then: Callable[[T], None] | None = None,
            failed: Failed | None = None) -> None:
        """Start `coro` on the client thread; `then(result)` or `failed(error)` runs in a later frame."""
        if self.handle is None:
            coro.close()
            return
        future = self.handle.submit(coro)
        on_error = failed or self._on_error
        future.add_done_callback(lambda f: self.post(lambda: _settle(f, then, on_error)))

    def post(self, fn: Callable[[], None]) -> None:
        """From any thread: run `fn` on the GUI thread in the next frame."""
        self._done.put(fn)

    def deliver(self) -> None:
        """GUI thread, once a frame: run what has come back (what that posts waits a frame)."""
        for _ in range(self._done.qsize()):
            self._done.get_nowait()()

    def wait(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        """Run `coro` and wait for it: shutdown only, when no frame is drawn any more."""
        assert self.handle is not None
        return self.handle.submit(coro).result(timeout)


def _settle(future: concurrent.futures.Future[T], then: Callable[[T], None] | None, failed: Failed) -> None:
    if future.cancelled():
        return
    error = future.exception()
    if error is not None:
        failed(error)
    elif then is not None:
        then(future.result())
