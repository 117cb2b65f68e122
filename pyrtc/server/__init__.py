"""The asyncio chat server.

`ChatServer` is imported when first asked for (PEP 562): a client that may host later (the
terminal, the window) starts without the server's ~0.2 s of imports, and loads them while
it browses the network (pyrtc.discovery.launch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .chatlog import escape_log as escape_log
from .config import DEFAULT_PORT as DEFAULT_PORT
from .config import ServerConfig as ServerConfig
from .errors import Refused as Refused
from .errors import ServerError as ServerError

if TYPE_CHECKING:
    from .app import ChatServer as ChatServer

__all__ = ["ChatServer", "escape_log", "DEFAULT_PORT", "ServerConfig", "Refused", "ServerError"]


def __getattr__(name: str) -> Any:
    if name == "ChatServer":
        from .app import ChatServer

        return ChatServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
