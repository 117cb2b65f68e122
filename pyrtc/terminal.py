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
  /join ROOM     join (or create) a room and switch to it
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
            case p.MemberJoined():
                out(f"-- {ev.member.name} joined {ev.room}")
            case p.MembersChanged() if ev.joined:
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


async def run_terminal_chat(session: ClientSession, room: str, lines: StdinLines, *,
                            kiosk: bool = False, out: Callable[[str], None] = print) -> int:
    current = (await session.join(room, watch=kiosk)).name
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
                    if arg.casefold() not in {r.name.casefold() for r in session.state.available}:
                        await session.create_room(arg)
                    current = (await session.join(arg)).name
                elif cmd == "leave":
                    await session.leave(arg or current)
                    current = next(iter(session.state.rooms), current)
                elif cmd == "switch" and arg in session.state.rooms:
                    current = arg
                elif cmd == "rooms":
                    for r in await session.list_rooms():
                        out(f"  {r.name:<20} {r.online} online, {r.members} members")
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
