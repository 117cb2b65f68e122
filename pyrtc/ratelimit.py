"""One token bucket, for the server's flood control and the client's own pacing."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; starts full. A rate of 0 or less
    means no limit. The clock is injected so that tests move time by hand."""

    __slots__ = ("rate", "burst", "_tokens", "_at", "_clock")

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._tokens = float(self.burst)
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self, n: float = 1.0) -> bool:
        """Take `n` tokens if there are that many; False (and nothing taken) if not."""
        if self.rate <= 0:
            return True
        self._refill()
        if self._tokens < n:
            return False
        self._tokens -= n
        return True

    def full(self) -> bool:
        """Saved up to `burst` again: the same as a new bucket (a keyed table may forget it)."""
        if self.rate <= 0:
            return True
        self._refill()
        return self._tokens >= self.burst

    def delay(self, n: float = 1.0) -> float:
        """Seconds until `n` tokens are there (0 when they are now)."""
        if self.rate <= 0:
            return 0.0
        self._refill()
        return max(0.0, (n - self._tokens) / self.rate)
