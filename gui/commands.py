"""What the user asks for, as commands to the session on the client thread.

None of these waits: each hands a coroutine to Background and returns; what comes back
(a join refused, a failure) is dealt with in a later frame."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import dearpygui.dearpygui as dpg
import platformdirs

from pyrtc import protocol as p
from pyrtc.client import ChatState, Rejected
from pyrtc.filenames import free_path
from pyrtc.protocol.codes import ErrorCode

from .background import Background
from .completion import emojize
from .dialogs import RoomPassword
from .file_card import mark_gone
from .focus import Focus

__all__ = ["Commands"]

TYPING_EVERY = 3.0  # seconds between "typing" signals; the server expires one after 5 s


class Commands:
    def __init__(self, state: ChatState, bg: Background, focus: Focus, password: RoomPassword,
                 show_error: Callable[[str], None], *, kiosk: bool) -> None:
        self.state = state
        self._bg = bg
        self._focus = focus
        self._password = password
        self._show_error = show_error
        self._kiosk = kiosk
        self._read_sent: dict[str, int] = {}
        self._typing_sent = 0.0
        #: Replies and edits (conversations.py): (handled there, the seq a plain send answers).
        self.compose: Callable[[str, str], tuple[bool, int]] | None = None

    # ------------------------------------------------------------------ messages

    def send_input(self) -> None:
        text = emojize(dpg.get_value("input").strip())  # :tada: → 🎉, an edit's too
        session, room = self._bg.session, self._focus.room
        if not text or room is None or session is None:
            return
        dpg.set_value("input", "")
        self._focus.follow = True
        handled, reply_to = self.compose(room, text) if self.compose is not None else (False, 0)
        if not handled:
            self._bg.run(session.send(room, text, reply_to=reply_to, timeout=None))
        dpg.focus_item("input")

    def react(self, seq: int, emoji: str) -> None:
        session, room = self._bg.session, self._focus.room
        if session is None or room is None:
            return
        view = self.state.rooms.get(room)
        msg = view.by_seq.get(seq) if view else None
        on = not (msg and self.state.me in msg.reactions.get(emoji, set()))
        self._bg.run(session.react(room, seq, emoji, on))

    def attach(self, path: Path) -> None:
        session, room = self._bg.session, self._focus.room
        if session is None or room is None:
            self._show_error(f"{path.name} not sent: join a room first")
            return
        self._bg.run(session.upload(room, path))

    def download(self, info: p.FileInfo) -> None:
        session = self._bg.session
        if session is None:
            return
        folder = Path(platformdirs.user_downloads_dir())
        folder.mkdir(parents=True, exist_ok=True)
        target = free_path(folder, info.name)
        self._bg.run(session.download(info.blob_id, target, name=info.name),
                     failed=lambda exc: self._not_downloaded(info, exc))

    def _not_downloaded(self, info: p.FileInfo, exc: BaseException) -> None:
        """A body that left with a host and that no peer kept: its card says so (no error)."""
        if isinstance(exc, Rejected) and exc.code == ErrorCode.FILE_GONE:
            mark_gone(info.blob_id)
        else:
            self._show_error(str(exc))

    def load_older(self, room: str) -> None:
        if self._bg.session is not None:
            self._bg.run(self._bg.session.load_older(room))

    def load_until(self, room: str, seq: int) -> None:
        """Older pages of `room` until `seq` is held (a search hit far back)."""
        session = self._bg.session
        if session is None:
            return

        async def load() -> None:
            view = session.state.rooms[room]
            while view.first_seq and view.first_seq > seq and view.more_before:
                if not await session.load_older(room, limit=500):
                    break

        self._bg.run(load())

    def search(self, query: str, show: Callable[[list[p.Posted]], None],
               failed: Callable[[BaseException], None]) -> None:
        session, room = self._bg.session, self._focus.room
        if not query.strip() or session is None or room is None:
            return
        self._bg.run(session.search(room, query.strip()), then=show, failed=failed)

    # ------------------------------------------------------------------ rooms

    def switch_room(self, name: str) -> None:
        self._focus.show(name)

    def create_room(self, name: str) -> None:
        name = name.strip()
        session = self._bg.session
        if not name or session is None:
            return
        try:
            p.check_room(name)
        except p.ProtocolError as exc:
            self._show_error(str(exc))
            return
        password = dpg.get_value("new_room_password")
        dpg.set_value("new_room", "")
        dpg.set_value("new_room_password", "")
        # Shown once the server has made it: until then the room is not in the state, and the
        # next frame would fall back to the first room and stay there.
        self._bg.run(session.create_room(name, password=password), then=lambda _: self._joined(name))

    def join_room(self, name: str) -> None:
        if self._bg.session is None:
            return
        info = next((r for r in self.state.available if r.name == name), None)
        if info is not None and info.locked and name not in self.state.joined_rooms:
            self._password.ask(name, "")
            return
        self._join(name, "")

    def join_with_password(self) -> None:
        room = self._password.room
        if room is None or self._bg.session is None:
            return
        self._password.checking()
        self._join(room, self._password.typed())

    def _join(self, name: str, password: str) -> None:
        session = self._bg.session
        assert session is not None
        self._bg.run(session.join(name, password=password), then=lambda _: self._joined(name),
                     failed=lambda exc: self._not_joined(name, exc))

    def _joined(self, name: str) -> None:
        self._focus.show(name)
        if self._password.room == name:
            self._password.close()

    def _not_joined(self, name: str, exc: BaseException) -> None:
        """A wrong (or missing) password asks again; anything else is shown."""
        if isinstance(exc, Rejected) and exc.code == ErrorCode.WRONG_PASSWORD:
            wrong = self._password.room == name and self._password.typed()
            self._password.ask(name, "That is not its password." if wrong else "")
        else:
            self._show_error(str(exc))

    def leave_room(self, name: str) -> None:
        if self._bg.session is not None:
            self._bg.run(self._bg.session.leave(name))
            if self._focus.room == name:
                self._focus.room = None

    # ------------------------------------------------------------------ each frame

    def report_read(self, room: str) -> None:
        """Rows shown in the window are read: report up to the newest shown seq."""
        view = self.state.rooms[room]
        session = self._bg.session
        if session is None or self._kiosk or not view.last_seq:
            return
        newest = max((m.seq for m in view.messages[-1:] if m.seq), default=0)
        if newest > self._read_sent.get(room, 0) and self._focus.follow:
            self._read_sent[room] = newest
            self._bg.run(session.mark_read(room, newest))

    def keep_typing_state(self) -> None:
        session, room = self._bg.session, self._focus.room
        if session is None or room is None or self._kiosk:
            return
        typing = bool(dpg.get_value("input"))
        now = time.monotonic()
        if typing and now - self._typing_sent > TYPING_EVERY:
            self._typing_sent = now
            self._bg.run(session.set_typing(room, True))
        elif not typing and self._typing_sent:
            self._typing_sent = 0.0
            self._bg.run(session.set_typing(room, False))
