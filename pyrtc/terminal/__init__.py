"""Chat in a terminal: what bare `pyrtc` and `pyrtc client` run where no window is wanted
(`--no-gui`, or no display). Lines typed are messages, `/help` lists the commands.

Modules: console (where lines come from and go to: a pipe, or editor's line editor on a
terminal), chat (the session's events as lines, the room written to), loop (lines typed:
messages and commands), commands (the slash commands),
transfers (/upload and /download in the background), render (one line per message or event).
"""

from __future__ import annotations

from .chat import TerminalChat as TerminalChat
from .console import Console as Console
from .console import open_console as open_console
from .loop import run_chat as run_chat

__all__ = ["TerminalChat", "Console", "open_console", "run_chat"]
