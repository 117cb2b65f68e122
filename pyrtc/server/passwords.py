"""Passwords: stored only as scrypt hashes; failed tries from one address slow down.

Invariant: scrypt (~50 ms, 16 MiB) never runs on the event loop: `PasswordWork` runs it on a
few worker threads (hashlib releases the GIL), so a flood of password requests costs its
senders time, never everyone else's latency.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable

from .. import protocol as p
from ..protocol.codes import ErrorCode
from .connection import Connection
from .later import Later

__all__ = ["hash_password", "check_password", "Backoff", "PasswordGate", "PasswordWork"]

log = logging.getLogger(__name__)

_N, _R, _P = 2**14, 8, 1  # scrypt cost: ~50 ms here, 16 MiB


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                         dklen=len(digest) // 2)
    return hmac.compare_digest(got.hex(), digest)


class Backoff:
    """How long to hold the answer to a wrong password from an address: 0.5 s, doubling per
    failure, at most 30 s; a success (or an hour without failures) forgets the address."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._fails: dict[str, tuple[int, float]] = {}

    def failed(self, address: str) -> float:
        count, last = self._fails.get(address, (0, 0.0))
        if self._clock() - last > 3600:
            count = 0
        count += 1
        self._fails[address] = (count, self._clock())
        return float(min(30.0, 0.5 * 2 ** (count - 1)))

    def succeeded(self, address: str) -> None:
        self._fails.pop(address, None)


class PasswordWork:
    """scrypt on at most `workers` threads at once. Each connection waits for its own
    request (see `Later`), so the queue is never longer than the connections open."""

    def __init__(self, workers: int = min(4, os.cpu_count() or 1)) -> None:
        self._pool = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers),
                                                           thread_name_prefix="pyrtc-scrypt")

    # Futures, not coroutines: the work starts at once, and a connection that closes before
    # its result is read leaves nothing un-awaited behind.
    def hash(self, password: str) -> asyncio.Future[str]:
        return asyncio.get_running_loop().run_in_executor(self._pool, hash_password, password)

    def check(self, password: str, stored: str) -> asyncio.Future[bool]:
        loop = asyncio.get_running_loop()
        if not password:  # nothing is stored for an empty password: no hash needed to say no
            done = loop.create_future()
            done.set_result(False)
            return done
        return loop.run_in_executor(self._pool, check_password, password, stored)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class PasswordGate:
    """Where the server and locked rooms answer passwords: a wrong one only after a delay
    that doubles per failure from that address (guessing gets slow)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._backoff = Backoff(clock)

    def passed(self, conn: Connection) -> None:
        self._backoff.succeeded(conn.ip)

    def refuse(self, conn: Connection, message: str, rid: int = 0, fatal: bool = True) -> Later[None]:
        """Answer `message` after the delay; the connection's next messages wait meanwhile."""
        delay = self._backoff.failed(conn.ip)
        log.warning("%s: wrong password; answering in %.1f s", conn.peer, delay)

        def answer(_: None) -> None:
            if fatal:
                conn.fail(ErrorCode.WRONG_PASSWORD, message, rid)
            else:
                conn.send(p.encode(p.Error(code=ErrorCode.WRONG_PASSWORD, message=message, rid=rid)))

        return Later(_after(delay), answer)


def _after(delay: float) -> asyncio.Future[None]:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()

    def done() -> None:
        if not fut.done():  # not cancelled with its connection meanwhile
            fut.set_result(None)

    loop.call_later(delay, done)
    return fut
