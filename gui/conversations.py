"""The window's part of protocol 4: a direct conversation started from a click on a member
(the sidebar lists them), replies (a one-line quote that jumps to the original), editing and
deleting one's own messages (offered by the hover bar, row_actions.py), one's own status,
away after ten idle minutes.

Rows call the small functions here for what they add (`edited_mark`, `quote_line`,
`deleted_body`), so the row layout stays in rows.py. Nothing here waits: every request goes
to the client thread through Background."""

from __future__ import annotations

import time
from collections.abc import Callable

import dearpygui.dearpygui as dpg

from pyrtc import protocol as p
from pyrtc.client import ChatState, MessageView

from .background import Background
from .focus import Focus
from .formatting import plain
from .theme import Theme

__all__ = ["Conversations"]

INPUT_EVERY = 1.0  # seconds: input is reported to the session at most this often
IDLE_CHECK_EVERY = 5.0


class Conversations:
    def __init__(self, state: ChatState, bg: Background, focus: Focus, theme: Theme,
                 show_error: Callable[[str], None]) -> None:
        self.state = state
        self._bg = bg
        self._focus = focus
        self._theme = theme
        self._show_error = show_error
        self.jump_to: Callable[[int], None] = lambda seq: None  # set once the message view exists
        self.reply_to = 0  # the message the composer answers (0: none)
        self.editing = 0  # the message of ours the composer edits (0: none)
        self._input_at = 0.0
        self._idle_at = 0.0
        self._drawn = -1

    # ------------------------------------------------------------------ composer

    def build_bar(self) -> None:
        """Above the composer: "Replying to …" / "Editing …", with a way out."""
        with dpg.group(horizontal=True, tag="compose_bar", show=False):
            dpg.add_text("", tag="compose_note", color=self._theme.palette.muted)
            dpg.add_button(label="Cancel", tag="compose_cancel", small=True, callback=lambda: self.cancel())

    def start_reply(self, m: MessageView) -> None:
        self.reply_to, self.editing = m.seq, 0
        self._note(f"Replying to {m.sender}: {_first_line(m)}")
        dpg.focus_item("input")

    def start_edit(self, m: MessageView) -> None:
        self.editing, self.reply_to = m.seq, 0
        dpg.set_value("input", m.text)
        self._note(f"Editing your message #{m.seq} (Enter saves)")
        dpg.focus_item("input")

    def cancel(self) -> None:
        if self.editing:
            dpg.set_value("input", "")
        self.reply_to = self.editing = 0
        dpg.configure_item("compose_bar", show=False)

    def _note(self, text: str) -> None:
        dpg.set_value("compose_note", text[:90])
        dpg.configure_item("compose_bar", show=True)

    def compose(self, room: str, text: str) -> tuple[bool, int]:
        """The composer's Enter: (done here, the reply's seq for a plain send)."""
        session = self._bg.session
        if self.editing and session is not None:
            seq = self.editing
            self.cancel()
            self._bg.run(session.edit(room, seq, text))
            return True, 0
        reply, self.reply_to = self.reply_to, 0
        dpg.configure_item("compose_bar", show=False)
        return False, reply

    def delete(self, m: MessageView) -> None:
        session = self._bg.session
        if session is not None:
            self._bg.run(session.delete(m.room, m.seq))

    # ------------------------------------------------------------------ rows

    def edited_mark(self, m: MessageView) -> None:
        """After the name and time (or the text of a message under another's header): "(edited)"."""
        if m.edited and not m.deleted:
            dpg.add_text("(edited)", color=self._theme.palette.muted)

    def quote_line(self, m: MessageView, *, pressable: bool = True) -> None:
        """The one-line quote of the message answered; a click shows it (loading history if needed)."""
        quoted = f"↪ {m.quote_sender}: {plain(m.quote)}" if m.quote else "↪ a deleted message"
        if not pressable:  # a kiosk: nobody presses a wall
            dpg.add_text(quoted[:80], color=self._theme.palette.muted)
            return
        b = dpg.add_button(label=quoted[:80], small=True, callback=lambda s, a, u: self.jump_to(u),
                           user_data=m.reply_to)
        dpg.bind_item_theme(b, self._theme.quote_button())

    def deleted_body(self) -> None:
        dpg.add_text("message deleted", color=self._theme.palette.muted)

    # ------------------------------------------------------------------ direct conversations

    def open_direct(self, name: str) -> None:
        """A click on a member: their conversation with us, shown."""
        session = self._bg.session
        if session is None or name == self.state.me:
            return
        known = self.state.direct_with(name)
        if known is not None and known in self.state.rooms:
            self._focus.show(known)
            return
        self._bg.run(session.open_direct(name), then=lambda view: self._focus.show(view.name),
                     failed=lambda exc: self._show_error(str(exc)))

    # ------------------------------------------------------------------ status

    def build_status(self) -> None:
        dpg.add_separator()
        dpg.add_text("Your status", color=self._theme.palette.muted)
        dpg.add_combo(list(p.STATUSES), default_value="available", tag="my_status", width=-1,
                      callback=lambda: self._set_status())
        dpg.add_input_text(tag="my_status_text", hint="say more (Enter)", width=-1, on_enter=True,
                           callback=lambda: self._set_status())

    def _set_status(self) -> None:
        session = self._bg.session
        if session is not None:
            self._bg.run(session.set_status(dpg.get_value("my_status"), dpg.get_value("my_status_text").strip()))

    def build_handlers(self) -> None:
        """Any key or click counts as input (ends an automatic away)."""
        with dpg.handler_registry(tag="input_seen"):
            dpg.add_key_press_handler(callback=lambda: self.input_seen())
            dpg.add_mouse_click_handler(callback=lambda: self.input_seen())

    def input_seen(self) -> None:
        now = time.monotonic()
        session = self._bg.session
        if session is None or now - self._input_at < INPUT_EVERY:
            return
        self._input_at = now

        async def seen() -> None:
            session.note_input()

        self._bg.run(seen())

    def tick(self) -> None:
        """Each frame: away after ten idle minutes (the session's clock decides), the sidebar."""
        now = time.monotonic()
        session = self._bg.session
        if session is not None and now - self._idle_at >= IDLE_CHECK_EVERY:
            self._idle_at = now

            async def check() -> None:
                session.check_idle()

            self._bg.run(check())


def _first_line(m: MessageView) -> str:
    if m.file is not None and not m.text:
        return m.file.name
    return (m.text.strip().splitlines() or [""])[0][:60]
