"""What the window is started with (the CLI fills it from its arguments; tests add on_frame)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyrtc.client.settings import Settings
from pyrtc.server import DEFAULT_PORT

__all__ = ["GuiOptions"]


@dataclass
class GuiOptions:
    server: str | None = None
    pick: str | None = None  # the discovered server to take when several are found (by name)
    name: str | None = None
    room: str = "General"
    room_password: str = ""  # for `room`, if it is locked
    kiosk: bool = False
    interfaces: list[str] | None = None
    browse_time: float = 1.5
    host_if_none: bool = False
    no_host: bool = False  # never host this chat (it still keeps its history)
    data_dir: Path | None = None
    port: int = DEFAULT_PORT
    settings: Settings = field(default_factory=Settings)
    width: int = 1100
    height: int = 720
    # Tests drive the window through this; it gets the ChatWindow (Any: the options module
    # may not import the window that imports it).
    on_frame: Callable[[Any], None] | None = None
    tls: bool = True
    fingerprint: str | None = None
    clock: Callable[[], float] = time.time  # the kiosk's clock and drift (a test moves it on)
