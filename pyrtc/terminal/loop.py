"""The terminal client's loop: join the first room, then each line typed is a message to the
room written to or a slash command, until /quit or the end of input."""

from __future__ import annotations

import asyncio

from .. import protocol as p
from ..client import ConnectionLost, Rejected
from .chat import Mistake, TerminalChat
from .commands import Commands

__all__ = ["run_chat"]


async def run_chat(chat: TerminalChat, room: str, password: str = "") -> int:
    session, console = chat.session, chat.console
    view = await session.join(room, watch=chat.kiosk, password=password)
    chat.enter(view.name)
    if chat.kiosk:  # a kiosk reads nothing and runs until it is stopped
        console.write(f"-- kiosk: showing {view.name} on {session.state.server!r}")
        await asyncio.Event().wait()
    console.write(f"-- you are {session.name} on {session.state.server!r}; writing to #{view.name}. "
                  "/help for commands")
    console.on_typing = chat.typing
    chat.chatting = True
    commands = Commands(chat)
    idle = asyncio.ensure_future(_idle_watch(chat))
    try:
        return await _lines(chat, commands)
    finally:
        idle.cancel()


async def _lines(chat: TerminalChat, commands: Commands) -> int:
    session, console = chat.session, chat.console
    while True:
        chat.show_prompt()
        line = await console.readline()
        if line is None:  # stdin closed
            break
        session.note_input()
        if not line.strip():
            continue
        try:
            if line.startswith("/") and not line.startswith("//"):
                if not await commands.run(line[1:]):
                    break
            else:
                await chat.say(line[1:] if line.startswith("//") else line)
        except (Mistake, Rejected, p.ProtocolError, ValueError) as exc:
            console.write(f"!! {exc}")
        except (ConnectionLost, TimeoutError):
            console.write("!! not connected to the server now; try again when it is back")
    await chat.finish_transfers()
    return 0


async def _idle_watch(chat: TerminalChat) -> None:
    """Away after ten minutes without a line typed (checked every few seconds)."""
    while True:
        await asyncio.sleep(5.0)
        chat.session.check_idle()
