"""Chat in a terminal: what bare `pyrtc` and `pyrtc client` run where no window is wanted
(`--no-gui`, or no display). Reads lines from stdin; `/help` lists the commands."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import time
from collections.abc import Callable

from . import protocol as p
from .client import ClientSession, ConnectionLost, Rejected
from .client.state import Connected, Disconnected, Event

__all__ = ["StdinLines", "run_terminal_chat"]

HELP = """commands:
  /join ROOM     join (or create) a room and switch to it (asks for a locked room's password)
  /leave [ROOM]  leave a room
  /switch ROOM   write into another joined room
  /rooms         rooms on the server      /who      members of this room
  /quit          leave PyRTC
anything else is sent to the current room"""


class StdinLines:
    """Lines from stdin without blocking the event loop."""

    def __init__(self) -> None:
        self._reader: asyncio.StreamReader | None = None
        self._pollable: bool | None = None  # decided once: the pipe transport closes stdin at EOF

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


def _pollable(stream: object) -> bool:
    try:
        mode = os.fstat(stream.fileno()).st_mode  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode) and os.isatty(stream.fileno())  # type: ignore[attr-defined]


def _line(m: p.Posted) -> str:
    stamp = time.strftime("%H:%M", time.localtime(m.time))
    body = m.text if m.file is None else f"[file] {m.file.name} ({m.file.size} bytes) id={m.file.blob_id}"
    body = "".join(c if c.isprintable() else " " for c in body)
    return f"[{m.room}] {stamp} {m.sender}: {body}"


def printer(me: Callable[[], str], out: Callable[[str], None]) -> Callable[[Event], None]:
    """Turns session events into terminal lines."""

    def on_event(ev: Event) -> None:
        match ev:
            case p.Posted() if ev.sender != me():
                out(_line(ev))
            case p.Joined():
                for m in ev.history[-20:]:
                    out(_line(m))
                online = ", ".join(sorted(x.name for x in ev.members if x.online))
                out(f"-- joined {ev.room}; online: {online or 'nobody'}")
            case p.MembersChanged() if any(m.name != me() for m in ev.joined):
                out(f"-- {', '.join(m.name for m in ev.joined if m.name != me())} joined {ev.room}")
            case p.MemberLeft():
                out(f"-- {ev.name} left {ev.room}")
            case p.Typing() if ev.typing and ev.name != me():
                out(f"-- {ev.name} is typing in {ev.room}…")
            case p.Error():
                out(f"!! {ev.message}")
            case Disconnected():
                out(f"!! {ev.reason}" + ("; reconnecting…" if ev.retrying else ""))
            case Connected():
                out(f"-- connected to {ev.address}")
            case _:
                pass

    return on_event


async def _secret(lines: StdinLines, prompt: str, out: Callable[[str], None]) -> str | None:
    """The next line, not echoed when stdin is a terminal (like getpass)."""
    out(prompt)
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
        return await lines.readline()
    finally:
        if saved is not None:
            termios.tcsetattr(fd, termios.TCSANOW, saved)


async def run_terminal_chat(session: ClientSession, room: str, lines: StdinLines, *,
                            kiosk: bool = False, out: Callable[[str], None] = print,
                            password: str = "") -> int:
    current = (await session.join(room, watch=kiosk, password=password)).name
    out(f"-- you are {session.name} on {session.state.server!r}; writing to {current}. /help for commands"
        if not kiosk else f"-- kiosk: showing {current} on {session.state.server!r}")
    if kiosk:  # a kiosk reads nothing and runs until it is stopped
        await asyncio.Event().wait()
    while True:
        line = await lines.readline()
        if line is None:  # stdin closed
            return 0
        if not line.strip():
            continue
        try:
            if line.startswith("/"):
                cmd, _, arg = line[1:].partition(" ")
                arg = arg.strip()
                if cmd in ("quit", "exit", "q"):
                    return 0
                if cmd == "help":
                    out(HELP)
                elif cmd == "join" and arg:
                    p.check_room(arg)
                    info = {r.name.casefold(): r for r in session.state.available}.get(arg.casefold())
                    secret = ""
                    if info is None:
                        await session.create_room(arg)
                    elif info.locked and info.name not in session.state.joined_rooms:
                        # Asked first: a try without it would count as a wrong password.
                        secret = await _secret(lines, f"-- # {info.name} is locked; its password:", out) or ""
                    current = (await session.join(arg, password=secret)).name
                elif cmd == "leave":
                    await session.leave(arg or current)
                    current = next(iter(session.state.rooms), current)
                elif cmd == "switch" and arg in session.state.rooms:
                    current = arg
                elif cmd == "rooms":
                    for r in await session.list_rooms():
                        out(f"  {r.name:<20} {r.online} online, {r.members} members"
                            + (" (locked)" if r.locked else ""))
                elif cmd == "who":
                    view = session.state.rooms.get(current)
                    for m in (view.members.values() if view else []):
                        out(f"  {m.name}{' (online)' if m.online else ''}")
                else:
                    out(HELP)
                continue
            await session.send(current, line)
        except (Rejected, p.ProtocolError, ValueError) as exc:
            out(f"!! {exc}")
        except (ConnectionLost, TimeoutError):
            out("!! not connected; the message will go when the server is back")
