"""TtyConsole: the terminal client's line editor, on a terminal it owns (stdin and stdout).

The terminal is put in cbreak mode (no line discipline, no echo; Ctrl-C and Ctrl-Z still
signal) so that the editor sees each key: it keeps the prompt and the line being typed on the
last row, writes output above them and draws them again, and reports typing from the first
key of a line. The terminal's modes are given back on `close()` and taken again after a
suspend (SIGCONT). Keys: editing (Backspace, Delete, ←/→, Home/End, Ctrl-A/E/U/K/W), ↑/↓ for
earlier lines, Enter, Ctrl-D on an empty line to end, Ctrl-L to clear the screen.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import sys
import termios
import time
import unicodedata
from collections.abc import Callable
from typing import TextIO

__all__ = ["TtyConsole", "TYPING_EVERY", "width"]

TYPING_EVERY = 3.0  # seconds between "typing" reports; the server forgets one after 5 s

_HOME = {"\x01", "\x1b[H", "\x1bOH", "\x1b[1~", "\x1b[7~"}
_END = {"\x05", "\x1b[F", "\x1bOF", "\x1b[4~", "\x1b[8~"}
_LEFT = {"\x02", "\x1b[D", "\x1bOD"}
_RIGHT = {"\x06", "\x1b[C", "\x1bOC"}
_UP = {"\x10", "\x1b[A", "\x1bOA"}
_DOWN = {"\x0e", "\x1b[B", "\x1bOB"}


def width(text: str) -> int:
    """Columns `text` takes on a terminal: wide (CJK, emoji) 2, combining marks 0."""
    n = 0
    for c in text:
        if unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"):
            continue
        n += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return n


class TtyConsole:
    interactive = True
    has_prompt = True

    def __init__(self, fd: int | None = None, out: TextIO | None = None) -> None:
        self.on_typing: Callable[[bool], None] | None = None
        self._fd = sys.stdin.fileno() if fd is None else fd
        self._out = out or sys.stdout
        self._saved = termios.tcgetattr(self._fd)  # raises where stdin is no terminal
        self._prompt = ""
        self._text: list[str] = []
        self._cursor = 0
        self._hidden = False  # a password: nothing typed is shown
        self._asking = False  # a question: the answer stays on screen, no typing reported
        self._lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._history: list[str] = []
        self._browse = 0  # where ↑/↓ are in the history (its length: the line being typed)
        self._draft = ""
        self._escape = ""  # an escape sequence read in part
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._typing = False
        self._typing_sent = 0.0
        self._closed = False
        self._loop = asyncio.get_running_loop()
        self._cbreak()
        self._loop.add_reader(self._fd, self._on_input)
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            self._loop.add_signal_handler(signal.SIGCONT, self._resumed)

    # ------------------------------------------------------------------ Console

    def write(self, text: str) -> None:
        self._out.write("\r\x1b[K" + text + "\n")
        self._redraw()

    def set_prompt(self, prompt: str) -> None:
        if prompt != self._prompt:
            self._prompt = prompt
            self._redraw()

    async def readline(self) -> str | None:
        return await self._lines.get()

    async def ask(self, prompt: str) -> str | None:
        return await self._question(prompt, hidden=False)

    async def secret(self, prompt: str) -> str | None:
        return await self._question(prompt, hidden=True)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._loop.remove_reader(self._fd)
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
            self._loop.remove_signal_handler(signal.SIGCONT)
        self._out.write("\r\x1b[K")
        self._out.flush()
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)

    # ------------------------------------------------------------------ the terminal

    def _cbreak(self) -> None:
        mode = termios.tcgetattr(self._fd)
        mode[3] &= ~(termios.ICANON | termios.ECHO | termios.IEXTEN)
        mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
        termios.tcsetattr(self._fd, termios.TCSANOW, mode)

    def _resumed(self) -> None:
        """Back from Ctrl-Z: the shell has set its own modes meanwhile."""
        if not self._closed:
            self._cbreak()
            self._redraw()

    def _columns(self) -> int:
        try:
            return max(20, os.get_terminal_size(self._out.fileno()).columns)
        except (OSError, ValueError):
            return 80

    def _redraw(self) -> None:
        """The prompt and the line being typed on the cursor's row, scrolled sideways so
        that the cursor stays in view."""
        if self._closed:
            self._out.flush()
            return
        columns = self._columns()
        prompt = self._prompt
        while width(prompt) > columns // 2 and len(prompt) > 1:
            prompt = prompt[:-2] + "…"
        text = [] if self._hidden else self._text
        cursor = 0 if self._hidden else self._cursor
        room = columns - width(prompt) - 1
        start = 0
        while width("".join(text[start:cursor])) > room:
            start += 1
        end = cursor
        while end < len(text) and width("".join(text[start:end + 1])) <= room:
            end += 1
        back = width("".join(text[cursor:end]))
        self._out.write("\r\x1b[K" + prompt + "".join(text[start:end]) + (f"\x1b[{back}D" if back else ""))
        self._out.flush()

    # ------------------------------------------------------------------ keys

    def _on_input(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # the terminal hung up
            self._loop.remove_reader(self._fd)
            self._lines.put_nowait(None)
            return
        for ch in self._decoder.decode(data):
            if self._escape:
                self._escape += ch
                if _complete(self._escape):
                    key, self._escape = self._escape, ""
                    self._key(key)
            elif ch == "\x1b":
                self._escape = ch
            else:
                self._key(ch)
        self._redraw()
        self._report_typing()

    def _key(self, key: str) -> None:  # noqa: C901 - one flat table of keys reads best
        text, cursor = self._text, self._cursor
        if key in ("\r", "\n"):
            self._submit()
        elif key in ("\x7f", "\x08"):
            if cursor:
                del text[cursor - 1]
                self._cursor -= 1
        elif key in ("\x04", "\x1b[3~"):
            if key == "\x04" and not text:
                self._lines.put_nowait(None)  # Ctrl-D on an empty line: the end
            elif cursor < len(text):
                del text[cursor]
        elif key in _HOME:
            self._cursor = 0
        elif key in _END:
            self._cursor = len(text)
        elif key in _LEFT:
            self._cursor = max(0, cursor - 1)
        elif key in _RIGHT:
            self._cursor = min(len(text), cursor + 1)
        elif key == "\x15":
            del text[:cursor]
            self._cursor = 0
        elif key == "\x0b":
            del text[cursor:]
        elif key == "\x17":
            start = cursor
            while start and text[start - 1] == " ":
                start -= 1
            while start and text[start - 1] != " ":
                start -= 1
            del text[start:cursor]
            self._cursor = start
        elif key in _UP or key in _DOWN:
            self._recall(-1 if key in _UP else 1)
        elif key == "\x0c":
            self._out.write("\x1b[H\x1b[2J")
        elif len(key) == 1 and key.isprintable():
            text.insert(cursor, key)
            self._cursor += 1

    def _recall(self, step: int) -> None:
        if self._hidden:
            return
        if self._browse == len(self._history):
            self._draft = "".join(self._text)
        self._browse = min(len(self._history), max(0, self._browse + step))
        line = self._history[self._browse] if self._browse < len(self._history) else self._draft
        self._text[:] = line
        self._cursor = len(line)

    def _submit(self) -> None:
        line = "".join(self._text)
        self._text.clear()
        self._cursor = 0
        if line and not self._hidden and (not self._history or self._history[-1] != line):
            self._history.append(line)
        self._browse = len(self._history)
        # A command and an answer stay on screen as typed (what follows answers them); a
        # message is shown once the server has stored it, with its number.
        if self._hidden:
            self.write(self._prompt)
        elif self._asking or (line.startswith("/") and not line.startswith("//")):
            self.write(self._prompt + line)
        self._lines.put_nowait(line)

    def _report_typing(self) -> None:
        typing = bool(self._text) and not (self._hidden or self._asking) and self._text[0] != "/"
        now = time.monotonic()
        if typing == self._typing and not (typing and now - self._typing_sent >= TYPING_EVERY):
            return
        self._typing = typing
        if typing:
            self._typing_sent = now
        if self.on_typing is not None:
            self.on_typing(typing)

    async def _question(self, prompt: str, *, hidden: bool) -> str | None:
        before = self._prompt
        self._asking, self._hidden = True, hidden
        self.set_prompt(prompt)
        try:
            return await self.readline()
        finally:
            self._asking = self._hidden = False
            self.set_prompt(before)


def _complete(seq: str) -> bool:
    """Whether an escape sequence read so far is whole (CSI ends in @..~, SS3 after one key)."""
    if len(seq) < 2:
        return False
    if seq[1] == "[":
        return len(seq) > 2 and "@" <= seq[-1] <= "~"
    if seq[1] == "O":
        return len(seq) > 2
    return True  # Alt+key: passed on whole, and ignored
