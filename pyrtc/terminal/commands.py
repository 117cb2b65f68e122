"""The terminal client's slash commands. Each answers in one line: `--` what was done, `!!`
(a `Mistake`, or the server's refusal) why not; /rooms, /search and /help list after it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from .. import protocol as p
from ..client.state import MessageView
from .chat import Mistake, TerminalChat
from .conversing import HELP_LINES, conversation_commands
from .render import message_line, quote, room_list
from .transfers import download, upload

__all__ = ["Commands", "HELP", "REACTIONS"]

INFO_NAMES = 10  # readers named by /info; the rest are counted

HELP = """commands (anything else is sent to the current room):
  /join ROOM · /leave [ROOM] · /switch ROOM · /rooms · /who
  /react SEQ|last [EMOJI]  (👍 ❤ 😂 🎉 😮 😢, also: like heart lol tada wow sad)
  /upload PATH · /download SEQ|last|FILE_ID [PATH] · /search TEXT
  /info SEQ|last (how far yours got) · /quit · a line starting with // is sent with one /
""" + HELP_LINES

#: The window's palette, and words for it where an emoji is hard to type.
REACTIONS = {"like": "👍", "+1": "👍", "heart": "❤", "love": "❤", "lol": "😂", "laugh": "😂",
             "tada": "🎉", "party": "🎉", "wow": "😮", "sad": "😢"}


class Commands:
    def __init__(self, chat: TerminalChat) -> None:
        self.chat = chat
        self.session = chat.session
        self.write = chat.console.write
        self._table: dict[str, Callable[[str], Awaitable[None]]] = {
            "join": self.join, "leave": self.leave, "switch": self.switch, "rooms": self.rooms,
            "who": self.who, "react": self.react, "info": self.info, "search": self.search,
            "help": self.help,
            "upload": self.upload, "download": self.download}
        self._table.update(conversation_commands(self.session, self.write, self.message))

    async def run(self, text: str) -> bool:
        """Do one command (`text` without its slash); False: the user quits."""
        name, _, arg = text.partition(" ")
        name = name.lower()
        if name in ("quit", "exit", "q"):
            return False
        handler = self._table.get(name)
        if handler is None:
            raise Mistake(f"unknown command /{name}; /help lists the commands")
        await handler(arg.strip())
        return True

    # ------------------------------------------------------------------ helpers

    def _room(self) -> str:
        if self.chat.current is None:
            raise Mistake("you are in no room: /join ROOM first")
        return self.chat.current

    def _mine(self, text: str) -> str | None:
        """The room we are in that `text` names: its name in any case, or a unique prefix."""
        state = self.session.state
        if text.startswith("@"):  # a direct conversation, by the other person's name
            return state.direct_with(text[1:])
        want = text.casefold()
        rooms = [r for r in state.rooms if not p.is_direct(r)]
        exact = [r for r in rooms if r.casefold() == want]
        starts = [r for r in rooms if r.casefold().startswith(want)]
        return exact[0] if exact else starts[0] if len(starts) == 1 else None

    def _not_in(self, text: str, hint: str = "") -> Mistake:
        rooms = ", ".join(sorted(self.session.state.rooms)) or "none"
        return Mistake(f"you are not in #{text} (your rooms: {rooms}){hint}")

    async def message(self, ref: str, last: Callable[[MessageView], bool], what: str) -> MessageView:
        """The message `ref` names in the current room: `12`, `#12`, or `last` (the newest that
        `last` accepts); one not held yet is fetched."""
        room = self._room()
        view = self.session.state.rooms[room]
        if ref.lower() == "last":
            found = [m for m in view.messages if m.seq and last(m)]
            if not found:
                raise Mistake(f"there is no {what} in #{room} yet")
            return found[-1]
        number = ref.removeprefix("#")
        if not number.isdigit():
            raise Mistake(f"{ref!r} is not a message number (they stand after the room: [General] #12)")
        seq = int(number)
        if seq not in view.by_seq and 0 < seq <= view.last_seq:
            await self.session.history(room, after=seq - 1, before=seq + 1, limit=1)
        msg = self.session.state.rooms[room].by_seq.get(seq)
        if msg is None:
            raise Mistake(f"there is no message #{seq} in #{room}")
        return msg

    # ------------------------------------------------------------------ rooms

    async def join(self, arg: str) -> None:
        if not arg:
            raise Mistake("usage: /join ROOM")
        p.check_room(arg)
        mine = self._mine(arg)
        if mine is not None and mine.casefold() == arg.casefold():
            self.chat.enter(mine)
            self.write(f"-- already in #{mine}; writing to #{mine}")
            return
        rooms = {r.name.casefold(): r for r in await self.session.list_rooms()}
        info = rooms.get(arg.casefold())
        if info is None:
            view = await self.session.create_room(arg)
            self.chat.enter(view.name)
            self.write(f"-- created #{view.name} and joined it; writing to #{view.name}")
            return
        secret = ""
        if info.locked and info.name not in self.session.state.joined_rooms:
            # Asked first: a try without it would count as a wrong password.
            secret = await self.chat.console.secret(f"-- #{info.name} is locked; its password: ") or ""
        view = await self.session.join(info.name, password=secret)
        self.chat.enter(view.name)
        online = sorted(m.name for m in view.members.values() if m.online)
        self.write(f"-- joined #{view.name} ({len(online)} online: {', '.join(online)}); "
                   f"writing to #{view.name}")

    async def leave(self, arg: str) -> None:
        room = self._mine(arg) if arg else self._room()
        if room is None:
            raise self._not_in(arg)
        await self.session.leave(room)
        was = self.chat.current
        self.chat.left(room)
        now = self.chat.current
        if now is None:
            self.write(f"-- left #{room}; you are in no room now: /join ROOM")
        else:
            self.write(f"-- left #{room}; {'writing' if room == was else 'still writing'} to #{now}")

    async def switch(self, arg: str) -> None:
        if not arg:
            raise Mistake("usage: /switch ROOM (one you are in; /rooms lists them)")
        room = self._mine(arg)
        if room is None:
            raise self._not_in(arg, f"; /join {arg} joins it")
        self.chat.enter(room)
        shown = self.session.state.title(room) if p.is_direct(room) else f"#{room}"
        self.write(f"-- writing to {shown}")

    async def rooms(self, arg: str) -> None:
        listed = await self.session.list_rooms()
        for line in room_list(listed, self.chat.current, set(self.session.state.rooms)):
            self.write(line)

    async def who(self, arg: str) -> None:
        room = self._room()
        view = self.session.state.rooms[room]
        online = sorted(m.name for m in view.members.values() if m.online)
        away = sorted(m.name for m in view.members.values() if not m.online)
        more = view.member_count - len(view.members)
        self.write(f"-- #{room}: {len(online)} online: {', '.join(online) or 'nobody'}"
                   + (f"; away: {', '.join(away)}" if away else "")
                   + (f"; {more} more members" if more > 0 else ""))

    # ------------------------------------------------------------------ messages

    async def react(self, arg: str) -> None:
        ref, _, emoji = arg.partition(" ")
        if not ref:
            raise Mistake("usage: /react SEQ|last [EMOJI]")
        emoji = emoji.strip()
        emoji = REACTIONS.get(emoji.lower(), emoji) if emoji else "👍"
        if " " in emoji or len(emoji) > 16:
            raise Mistake(f"one emoji, please, not {emoji!r}")
        me = self.session.name
        msg = await self.message(ref, lambda m: m.sender != me, "message from someone else")
        on = me not in msg.reactions.get(emoji, set())
        # The server's answer (or refusal) comes back as an event, and is printed from there.
        await self.session.react(msg.room, msg.seq, emoji, on)

    async def info(self, arg: str) -> None:
        if not arg:
            raise Mistake("usage: /info SEQ|last")
        me = self.session.name
        msg = await self.message(arg, lambda m: m.sender == me, "message of yours")
        self.write(f"-- #{msg.seq} ({quote(msg)}): {self.session.state.receipt_line(msg, INFO_NAMES)}")

    async def search(self, arg: str) -> None:
        if not arg:
            raise Mistake("usage: /search TEXT")
        room = self._room()
        hits = sorted(await self.session.search(room, arg), key=lambda m: m.seq)
        if not hits:
            self.write(f"-- no message in #{room} matches {arg!r}")
            return
        one = len(hits) == 1
        self.write(f"-- {len(hits)} message{'' if one else 's'} in #{room} match{'es' if one else ''} {arg!r}:")
        for hit in hits:
            self.write(message_line(hit))

    async def help(self, arg: str) -> None:
        self.write(HELP)

    # ------------------------------------------------------------------ files

    async def upload(self, arg: str) -> None:
        await upload(self.chat, self._room(), arg)

    async def download(self, arg: str) -> None:
        ref, _, path = arg.partition(" ")
        if not ref:
            raise Mistake("usage: /download SEQ|last|FILE_ID [PATH]")
        info = self._file_by_id(ref.lower()) or self._file_elsewhere(ref)
        if info is None:
            msg = await self.message(ref, lambda m: m.file is not None, "file")
            if msg.file is None:
                raise Mistake(f"#{msg.seq} is not a file")
            info = msg.file
        await download(self.chat, info, path.strip())

    def _file_elsewhere(self, ref: str) -> p.FileInfo | None:
        """`/download 4` typed in another room than the file's line said: the file #4 of the
        one other room that has one (several: the current room's answer stands)."""
        number = ref.removeprefix("#")
        if not number.isdigit() or self.chat.current is None:
            return None
        rooms = self.session.state.rooms
        here = rooms[self.chat.current].by_seq.get(int(number)) if self.chat.current in rooms else None
        if here is not None and here.file is not None:
            return None
        files = [m.file for name, view in rooms.items() if name != self.chat.current
                 and (m := view.by_seq.get(int(number))) is not None and m.file is not None]
        return files[0] if len(files) == 1 else None

    def _file_by_id(self, ref: str) -> p.FileInfo | None:
        """A file named by its id (`pyrtc tail` prints it), or 8 or more of its first digits."""
        if len(ref) < 8 or ref.isdigit() or any(c not in "0123456789abcdef" for c in ref):
            return None
        for view in self.session.state.rooms.values():
            for m in view.messages:
                if m.file is not None and m.file.blob_id.startswith(ref):
                    return m.file
        if len(ref) == 64:  # a file of a room we are not in: its name is not known here
            return p.FileInfo(blob_id=ref, name=f"file-{ref[:12]}", size=0)
        raise Mistake(f"no file here has an id starting with {ref} (/download SEQ takes a message number)")
