"""The terminal's commands for direct messages, replies, edits, deletes and status:
`/msg NAME TEXT`, `/reply SEQ|last TEXT`, `/edit SEQ|last TEXT`, `/delete SEQ|last`,
`/status available|away|busy [TEXT]`. Each answers in one line like every command."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .. import protocol as p
from ..client import ClientSession
from ..client.state import MessageView
from .chat import Mistake
from .render import quote

#: Commands.message: the message a reference (`12`, `#12`, `last`) names in the current room.
Find = Callable[[str, Callable[[MessageView], bool], str], Awaitable[MessageView]]

__all__ = ["conversation_commands", "HELP_LINES"]

HELP_LINES = """  /msg NAME TEXT (a direct message; /switch @NAME writes there) · /reply SEQ|last TEXT
  /edit SEQ|last TEXT · /delete SEQ|last (your own messages) · /status available|away|busy [TEXT]"""


def conversation_commands(session: ClientSession, write: Callable[[str], None],
                          find: Find) -> dict[str, Callable[[str], Awaitable[None]]]:
    me = session.name

    async def msg(arg: str) -> None:
        name, _, text = arg.partition(" ")
        if not name or not text.strip():
            raise Mistake("usage: /msg NAME TEXT")
        room = (await session.open_direct(name.removeprefix("@"))).name
        seq = await session.send(room, text.strip())
        write(f"-- sent to @{session.state.title(room).removeprefix('@')} as #{seq}; /switch @{name.removeprefix('@')} "
              "writes there")

    async def reply(arg: str) -> None:
        ref, _, text = arg.partition(" ")
        if not ref or not text.strip():
            raise Mistake("usage: /reply SEQ|last TEXT")
        to = await find(ref, lambda m: m.sender != me and not m.deleted, "message from someone else")
        await session.send(to.room, text.strip(), reply_to=to.seq)

    async def edit(arg: str) -> None:
        ref, _, text = arg.partition(" ")
        if not ref or not text.strip():
            raise Mistake("usage: /edit SEQ|last TEXT")
        mine = await find(ref, lambda m: m.sender == me and not m.deleted, "message of yours")
        await session.edit(mine.room, mine.seq, text.strip())
        write(f"-- edited #{mine.seq}")

    async def delete(arg: str) -> None:
        if not arg:
            raise Mistake("usage: /delete SEQ|last")
        mine = await find(arg, lambda m: m.sender == me and not m.deleted, "message of yours")
        was = quote(mine)
        await session.delete(mine.room, mine.seq)
        write(f"-- deleted #{mine.seq} ({was})")

    async def status(arg: str) -> None:
        word, _, text = arg.partition(" ")
        word = word.lower() or "available"
        if word not in p.STATUSES:
            raise Mistake(f"usage: /status {'|'.join(p.STATUSES)} [TEXT]")
        await session.set_status(word, text.strip())
        write(f"-- you are {word}" + (f" ({text.strip()})" if text.strip() else ""))

    return {"msg": msg, "reply": reply, "edit": edit, "delete": delete, "status": status}
