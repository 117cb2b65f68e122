"""Away by itself: after `after` seconds without input an available user shows as away, and
the next input makes them available again. A status the user chose (busy, away, a text) is
theirs: the idle timer never changes it.

The clock is given (tests move a fake one); `check` is called by whoever has a loop (the
window each frame, the terminal twice a second): no timer of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["IdleAway", "AWAY_AFTER"]

AWAY_AFTER = 600.0  # ten minutes


class IdleAway:
    def __init__(self, clock: Callable[[], float] = time.monotonic, after: float = AWAY_AFTER) -> None:
        self._clock = clock
        self.after = after
        self.last_input = clock()
        self.auto_away = False  # away was set by the timer, not by the user

    def input(self) -> bool:
        """The user did something; True if that ends an automatic away."""
        self.last_input = self._clock()
        if self.auto_away:
            self.auto_away = False
            return True
        return False

    def check(self, chosen: str) -> bool:
        """True if the user (whose own status is `chosen`) goes away now."""
        if self.auto_away or chosen != "available":
            return False
        if self._clock() - self.last_input >= self.after:
            self.auto_away = True
            return True
        return False
