"""Where the terminal client reads its lines and writes its output.

Two kinds, one interface (`Console`):
- `PipedConsole`: stdin is a pipe, a file, or a terminal we do not own the screen of (stdout
  redirected): plain lines in, plain lines out, flushed at once (a script reads them live).
- `TtyConsole` (editor.py): stdin and stdout are the same terminal: a line editor that keeps a
  prompt (the room written to, who is typing) and the line being typed under the output, and
  reports typing as keys are pressed.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from collections.abc import Callable
from typing import Protocol

__all__ = ["Console", "PipedConsole", "open_console"]


class Console(Protocol):
    #: A person answers (prompts may be asked); False for a pipe or a file.
    interactive: bool
    #: The prompt and the line being typed are drawn (a terminal we own); else plain lines.
    has_prompt: bool
    #: Called with True when a line starts being typed (and again every few seconds while it
    #: grows), False when it is emptied or sent. Only a terminal we own reports typing.
    on_typing: Callable[[bool], None] | None

    def write(self, text: str) -> None:
        """Output lines, above the line being typed."""

    def set_prompt(self, prompt: str) -> None:
        """What stands before the line being typed (a pipe shows none)."""

    async def readline(self) -> str | None:
        """The next line typed or piped in; None at the end of input."""

    async def ask(self, prompt: str) -> str | None:
        """A question before the chat starts (your name, which server)."""

    async def secret(self, prompt: str) -> str | None:
        """A line that is not shown as it is typed (a room's password)."""

    def close(self) -> None:
        """Give the terminal back as it was."""


def open_console(*, reads: bool = True) -> Console:
    """The line editor where stdin and stdout are one terminal (and `reads`: a kiosk reads
    nothing), else plain lines."""
    if reads and sys.stdin.isatty() and sys.stdout.isatty():
        try:
            from .editor import TtyConsole

            return TtyConsole()
        except (ImportError, OSError) as exc:  # no termios (Windows), or the terminal refused
            print(f"-- plain line input ({exc})", file=sys.stderr)
    return PipedConsole()


class PipedConsole:
    """Lines from stdin without blocking the event loop; output as plain lines."""

    on_typing: Callable[[bool], None] | None = None
    has_prompt = False

    def __init__(self) -> None:
        self.interactive = sys.stdin.isatty()
        self._reader: asyncio.StreamReader | None = None
        self._pollable: bool | None = None  # decided once: the pipe transport closes stdin at EOF

    def write(self, text: str) -> None:
        print(text, flush=True)

    def set_prompt(self, prompt: str) -> None:
        pass

    async def readline(self) -> str | None:
        if self._pollable is None:
            self._pollable = _pollable(sys.stdin)
        if not self._pollable:  # a regular file or /dev/null: epoll refuses those
            if sys.stdin.closed:
                return None
            line = await asyncio.to_thread(sys.stdin.readline)
            return line.rstrip("\r\n") if line else None
        if self._reader is None:
            loop = asyncio.get_running_loop()
            reader = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
            self._reader = reader
        data = await self._reader.readline()
        return data.decode("utf-8", "replace").rstrip("\r\n") if data else None

    async def ask(self, prompt: str) -> str | None:
        print(prompt, end="", flush=True, file=sys.stderr)
        return await self.readline()

    async def secret(self, prompt: str) -> str | None:
        """The next line, not echoed when stdin is a terminal (like getpass)."""
        self.write(prompt)
        try:
            import termios

            fd = sys.stdin.fileno()  # closed once a pipe is read to its end: ValueError
            saved = termios.tcgetattr(fd) if os.isatty(fd) else None
        except (ImportError, OSError, ValueError):
            fd, saved = -1, None
        if saved is not None:
            quiet = list(saved)
            quiet[3] &= ~termios.ECHO
            termios.tcsetattr(fd, termios.TCSANOW, quiet)
        try:
            return await self.readline()
        finally:
            if saved is not None:
                termios.tcsetattr(fd, termios.TCSANOW, saved)

    def close(self) -> None:
        pass


def _pollable(stream: object) -> bool:
    try:
        mode = os.fstat(stream.fileno()).st_mode  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode) and os.isatty(stream.fileno())  # type: ignore[attr-defined]
