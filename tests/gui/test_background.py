"""Background: results come back to their callbacks on the thread that calls deliver(), and
only there (no window needed: a real ClientHandle, its real client thread)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest

from pyrtc.client import ClientHandle, ClientSession
from pyrtc.gui.background import Background


@pytest.fixture
def bg() -> Iterator[tuple[Background, list[BaseException]]]:
    shown: list[BaseException] = []
    bg = Background(on_error=shown.append)
    bg.handle = ClientHandle(lambda sink: ClientSession("127.0.0.1", 0, "bg", on_event=sink))
    try:
        yield bg, shown
    finally:
        bg.handle.close()


def deliver_until(bg: Background, done: Callable[[], bool]) -> None:
    """The frame loop's part, repeated until `done` (a generous bound, not a timing)."""
    for _ in range(10_000):
        bg.deliver()
        if done():
            return
        bg.wait(asyncio.sleep(0), 5)  # let the client thread run
    raise AssertionError("nothing came back")


async def answer() -> int:
    return 42


async def fail() -> int:
    raise ValueError("no such room")


def test_a_result_reaches_its_callback_in_deliver_on_the_callers_thread(
        bg: tuple[Background, list[BaseException]]) -> None:
    background, shown = bg
    got: list[tuple[int, threading.Thread]] = []
    background.run(answer(), then=lambda v: got.append((v, threading.current_thread())))
    background.wait(asyncio.sleep(0), 5)  # the coroutine has run on the client thread by now…
    background.wait(asyncio.sleep(0), 5)
    assert got == []  # …but its result waits for the frame loop
    deliver_until(background, lambda: bool(got))
    assert got == [(42, threading.current_thread())] and shown == []


def test_a_failure_goes_to_its_own_callback_else_to_the_user(bg: tuple[Background, list[BaseException]]) -> None:
    background, shown = bg
    own: list[BaseException] = []
    background.run(fail(), then=lambda v: pytest.fail("no result"), failed=own.append)
    deliver_until(background, lambda: bool(own))
    assert [str(e) for e in own] == ["no such room"] and shown == []
    background.run(fail())
    deliver_until(background, lambda: bool(shown))
    assert [str(e) for e in shown] == ["no such room"]


def test_a_cancelled_run_calls_nothing(bg: tuple[Background, list[BaseException]]) -> None:
    background, shown = bg
    started: list[asyncio.Task[object]] = []

    async def forever() -> int:
        started.append(asyncio.current_task())  # type: ignore[arg-type]
        await asyncio.Event().wait()
        return 0

    async def cancel() -> None:
        started[0].cancel()
        await asyncio.wait([started[0]])  # its outcome is posted (if it were) before this returns

    called: list[object] = []
    background.run(forever(), then=called.append, failed=called.append)
    background.wait(asyncio.sleep(0), 5)
    background.wait(cancel(), 5)
    background.run(answer(), then=called.append)  # after the cancelled one, in order
    deliver_until(background, lambda: bool(called))
    assert called == [42] and shown == []


def test_without_a_client_nothing_runs() -> None:
    ran: list[int] = []

    async def work() -> int:
        ran.append(1)
        return 1

    background = Background(on_error=lambda e: pytest.fail(str(e)))
    background.run(work(), then=ran.append)
    background.deliver()
    assert ran == []
