"""Desktop notifications for mentions of you, through the desktop's notification service
(desktop-notifier: D-Bus org.freedesktop.Notifications on Linux).

Invariants:
- Nothing is raised while the window has the keyboard focus, nor for a room muted here
  (muted rooms are a setting, kept across starts).
- No service (no session bus, or the call fails): silent, with one log line; the chat goes on.
- Sending runs on the client thread's event loop (Background): the frame never waits.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pyrtc import protocol as p
from pyrtc.client.settings import Settings

from .background import Background

__all__ = ["Notifier", "session_bus_known"]

log = logging.getLogger(__name__)

BODY_SHOWN = 200  # characters of the message in the notification


def session_bus_known() -> bool:
    """Linux: a session bus to reach (its address in the environment, or the user's socket)."""
    if not sys.platform.startswith("linux"):
        return True  # other systems' services need no bus
    if os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return True
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return runtime is not None and Path(runtime, "bus").exists()


class Notifier:
    def __init__(self, bg: Background, settings: Settings, focused: Callable[[], bool]) -> None:
        self._bg = bg
        self._settings = settings
        self._focused = focused
        self._notifier: Any = None  # made on the client thread's loop, at the first notification
        self._broken = False
        self.sent: list[str] = []  # titles asked for (the status line, tests)

    # ------------------------------------------------------------------ muting

    def muted(self, room: str) -> bool:
        return room in self._settings.get("muted_rooms", [])

    def toggle_muted(self, room: str) -> bool:
        rooms = [r for r in self._settings.get("muted_rooms", []) if r != room]
        if len(rooms) == len(self._settings.get("muted_rooms", [])):
            rooms.append(room)
        self._settings.set("muted_rooms", rooms)
        return self.muted(room)

    # ------------------------------------------------------------------ raising

    def mentioned(self, post: p.Posted, *, direct: bool = False) -> None:
        """`post` mentions you (or is a direct message to you): raise a notification unless
        muted or looked at."""
        if self._broken or self.muted(post.room) or self._focused():
            return
        if not session_bus_known():
            self._give_up("no session bus (DBUS_SESSION_BUS_ADDRESS is not set)")
            return
        title = f"{post.sender} (direct message)" if direct else f"{post.sender} in #{post.room}"
        body = post.text if len(post.text) <= BODY_SHOWN else post.text[:BODY_SHOWN - 1] + "…"
        self.sent.append(title)
        self._bg.run(self._send(title, body), then=self._settled, failed=lambda exc: self._give_up(str(exc)))

    async def _send(self, title: str, body: str) -> bool:
        from desktop_notifier import DesktopNotifier  # the backend picks its platform at import

        if self._notifier is None:
            self._notifier = DesktopNotifier(app_name="PyRTC")
        dispatched: list[bool] = []
        # desktop-notifier logs a failure instead of raising it; `on_dispatched` tells them apart.
        await self._notifier.send(title=title, message=body, on_dispatched=lambda: dispatched.append(True))
        return bool(dispatched)

    def _settled(self, dispatched: bool) -> None:
        if not dispatched:
            self._give_up("the notification service did not take it")

    def _give_up(self, why: str) -> None:
        if not self._broken:
            self._broken = True
            log.warning("no desktop notifications (%s); mentions are still highlighted", why)
