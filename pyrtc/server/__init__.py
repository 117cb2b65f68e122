"""The asyncio chat server."""

from __future__ import annotations

from .app import ChatServer as ChatServer
from .chatlog import escape_log as escape_log
from .config import DEFAULT_PORT as DEFAULT_PORT
from .config import ServerConfig as ServerConfig
from .errors import Refused as Refused
from .errors import ServerError as ServerError

__all__ = ["ChatServer", "escape_log", "DEFAULT_PORT", "ServerConfig", "Refused", "ServerError"]
