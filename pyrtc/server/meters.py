"""Rate limits beyond a connection's flood control (`Connection.allow`, posts): every other
request, the changes others see (joins, leaves, watches, typing), and handshakes.

Invariants:
- Limits on changes and handshakes are keyed by who makes them (`user_key`) and by address,
  never by connection: reconnecting does not refill them. A bucket that is full again is
  the same as a new one, so the tables forget those and stay as small as the recent crowd.
- `ServerConfig.max_rate` 0 turns every limit here off; `max_per_address` 0 the ones per
  address (tests and benchmarks run every client on 127.0.0.1).
- A watch or visit that an identity's connection held when it closed is no change when a
  connection of the same identity makes it again within RESUME_WINDOW: that is the client
  resuming after a reconnect (a member's rejoin is free the same way). Counted, a client
  watching more rooms than the burst lost some of them at every reconnect.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from ..protocol.codes import ErrorCode
from ..ratelimit import TokenBucket
from .config import ServerConfig
from .connection import Connection
from .errors import Refused

__all__ = ["Meters", "KeyedBuckets", "user_key", "RESUME_WINDOW"]

K = TypeVar("K", bound=Hashable)

#: Seconds after a connection closes during which its identity resumes its watches and
#: visits for free (a reconnect after a drop, a suspended laptop waking up soon after).
RESUME_WINDOW = 600.0


def user_key(conn: Connection) -> str:
    """Who `conn` is for per-user quotas and limits (rooms per hour, changes, typing): its
    identity (the uid its hello proved), whatever name it uses."""
    assert conn.name is not None and conn.uid
    return conn.uid


class KeyedBuckets(Generic[K]):
    """A token bucket per key, made full on first use and forgotten once full again."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[K, TokenBucket] = {}
        self._sweep_at = 1024

    def take(self, key: K) -> bool:
        if self.rate <= 0:
            return True
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._sweep_at:
                self.sweep()
            bucket = self._buckets[key] = TokenBucket(self.rate, self.burst, self._clock)
        return bucket.take()

    def delay(self, key: K) -> float:
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else bucket.delay()

    def forget(self, key: K) -> None:
        self._buckets.pop(key, None)

    def sweep(self) -> None:
        """Drop the buckets that are full again: a new one would be the same."""
        self._buckets = {k: b for k, b in self._buckets.items() if not b.full()}
        self._sweep_at = max(1024, 2 * len(self._buckets))


class Meters:
    """Every rate limit but flood control, each answering with a clear `slow_down`."""

    def __init__(self, config: ServerConfig, clock: Callable[[], float]) -> None:
        on = config.max_rate > 0
        by_address = on and config.max_per_address > 0
        self._config = config
        self.requests: KeyedBuckets[Connection] = KeyedBuckets(
            config.max_requests if on else 0, config.request_burst, clock)
        self.user_changes: KeyedBuckets[str] = KeyedBuckets(
            config.max_changes if on else 0, config.change_burst, clock)
        self.address_changes: KeyedBuckets[str] = KeyedBuckets(
            config.address_changes if by_address else 0, config.address_change_burst, clock)
        self.typing_starts: KeyedBuckets[str] = KeyedBuckets(
            config.typing_rate if on else 0, config.typing_burst, clock)
        self.hellos: KeyedBuckets[str] = KeyedBuckets(
            config.hello_rate if by_address else 0, config.hello_burst, clock)
        self._clock = clock
        #: (identity, room, "watch" or "visit") -> when a connection holding it closed.
        self._held: dict[tuple[str, str, str], float] = {}
        self._held_sweep_at = 1024

    def request(self, conn: Connection) -> None:
        """Any request that is not a post; refused past `max_requests`."""
        if not self.requests.take(conn):
            b = self.requests
            raise Refused(ErrorCode.SLOW_DOWN, f"slow down: at most {b.rate:g} requests a second "
                          f"(bursts of {b.burst}); this one was not served")

    def change(self, conn: Connection) -> None:
        """A join, leave or watch others see and chat.log records; refused past the limits
        per user and per address."""
        for table, key, whose in ((self.user_changes, user_key(conn), "per user"),
                                  (self.address_changes, conn.ip, f"from {conn.ip}")):
            if not table.take(key):
                raise Refused(ErrorCode.SLOW_DOWN, f"slow down: at most {table.rate:g} joins or leaves a "
                              f"second {whose} (bursts of {table.burst}); try again in "
                              f"{max(1.0, table.delay(key)):.0f} s")

    def typing(self, conn: Connection) -> bool:
        """A typing start may go out (past the limit it is dropped: typing is only a hint)."""
        return self.typing_starts.take(user_key(conn))

    def hello(self, conn: Connection) -> None:
        """A handshake (each one is a chat.log line); refused, and the connection closed,
        past `hello_rate` from one address."""
        if not self.hellos.take(conn.ip):
            b = self.hellos
            raise Refused(ErrorCode.SLOW_DOWN, f"too many connections from {conn.ip} lately: at most "
                          f"{b.rate:g} a second (bursts of {b.burst}); try again in "
                          f"{max(1.0, b.delay(conn.ip)):.0f} s", fatal=True)

    def resumed(self, conn: Connection, room: str, kind: str) -> bool:
        """Whether `conn` watches or visits (`kind`) `room` again as its identity did on a
        connection that closed within RESUME_WINDOW: a resume, no change."""
        closed_at = self._held.get((conn.uid, room, kind))
        return closed_at is not None and self._clock() - closed_at <= RESUME_WINDOW

    def closed(self, conn: Connection) -> None:
        self.requests.forget(conn)
        if not conn.uid or not (conn.watching or conn.visiting):
            return
        now = self._clock()
        if len(self._held) >= self._held_sweep_at:
            # Only changes that were metered (or resumed) add entries: bounded by the rates.
            self._held = {k: t for k, t in self._held.items() if now - t <= RESUME_WINDOW}
            self._held_sweep_at = max(1024, 2 * len(self._held))
        for kind, rooms in (("watch", conn.watching), ("visit", conn.visiting)):
            for room in rooms:
                self._held[(conn.uid, room, kind)] = now
