"""Which room the window shows, and whether it follows that room's newest message.

Shared by the views and the commands: the one piece of window state that is not ChatState's."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Focus"]


@dataclass
class Focus:
    room: str | None = None  # the room shown
    follow: bool = True  # keep the newest message in view (False once the user scrolls up)

    def show(self, room: str) -> None:
        self.room = room
        self.follow = True
