"""What the window is started with (the CLI fills it from its arguments; tests add on_frame)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pyrtc.client.settings import Settings
from pyrtc.server import DEFAULT_PORT

if TYPE_CHECKING:
    from .app import ChatWindow

__all__ = ["GuiOptions"]


@dataclass
class GuiOptions:
    server: str | None = None
    name: str | None = None
    room: str = "General"
    room_password: str = ""  # for `room`, if it is locked
    kiosk: bool = False
    interfaces: list[str] | None = None
    browse_time: float = 1.5
    host_if_none: bool = False
    data_dir: Path | None = None
    port: int = DEFAULT_PORT
    settings: Settings = field(default_factory=Settings)
    width: int = 1100
    height: int = 720
    on_frame: Callable[[ChatWindow], None] | None = None  # tests drive the window through this
    tls: bool = True
    fingerprint: str | None = None
