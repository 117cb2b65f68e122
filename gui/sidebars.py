"""The side panels: rooms (joined, others to join, a new one), transfers, search hits on the
left; the room's members on the right. Redrawn when ChatState's version or the room shown
changes; search hits belong to the room they were found in and go when another is shown."""

from __future__ import annotations

from collections.abc import Callable

import dearpygui.dearpygui as dpg

from pyrtc import protocol as p
from pyrtc.client import ChatState

from .avatar import draw_avatar
from .commands import Commands
from .emoji_text import is_cjk
from .focus import Focus
from .theme import Theme

__all__ = ["Sidebars"]

TRANSFERS_SHOWN = 4
HITS_SHOWN = 20


class Sidebars:
    def __init__(self, state: ChatState, focus: Focus, theme: Theme, commands: Commands,
                 jump_to: Callable[[int], None], show_error: Callable[[str], None]) -> None:
        self.state = state
        self._focus = focus
        self._theme = theme
        self._commands = commands
        self._jump_to = jump_to
        self._show_error = show_error
        self._drawn: tuple[int, str | None] = (-1, None)  # state version, room shown
        self._hits_room: str | None = None

    def build_rooms(self) -> None:
        create = self._commands.create_room
        with dpg.child_window(tag="rooms_panel", width=210):
            dpg.add_text("Rooms", tag="rooms_title")
            dpg.add_group(tag="rooms_list")
            dpg.add_separator()
            dpg.add_input_text(tag="new_room", hint="new room", width=-1, on_enter=True,
                               callback=lambda s, a: create(a))
            dpg.add_input_text(tag="new_room_password", hint="its password (optional)", width=-1,
                               password=True, on_enter=True, callback=lambda: create(dpg.get_value("new_room")))
            dpg.add_text("Other rooms", color=self._theme.palette.muted, tag="other_title")
            dpg.add_group(tag="other_rooms")
            dpg.add_separator()
            dpg.add_group(tag="transfers")
            dpg.add_group(tag="search_hits")

    def build_members(self) -> None:
        with dpg.child_window(tag="members_panel", width=190):
            dpg.add_text("Members", tag="members_title")
            dpg.add_group(tag="members_list")

    def redraw(self) -> None:
        self._drawn = (-1, None)

    def search(self, query: str) -> None:
        room = self._focus.room
        self._commands.search(query, lambda hits: self._show_hits(room, hits), self._search_failed)

    def _search_failed(self, exc: BaseException) -> None:
        self._clear_hits()
        self._show_error(str(exc))

    def _clear_hits(self) -> None:
        dpg.delete_item("search_hits", children_only=True)
        self._hits_room = None

    def _show_hits(self, room: str | None, hits: list[p.Posted]) -> None:
        if room != self._focus.room:
            return  # found after the user went to another room
        self._clear_hits()
        self._hits_room = room
        dpg.add_text(f"{len(hits)} found", parent="search_hits", color=self._theme.palette.muted)
        for h in hits[:HITS_SHOWN]:
            dpg.add_button(label=f"#{h.seq} {h.sender}: {h.text[:22]}", parent="search_hits", width=-1,
                           callback=lambda s, a, u: self._jump_to(u), user_data=h.seq)

    def render(self) -> None:
        drawn = (self.state.version, self._focus.room)
        if drawn == self._drawn:
            return
        if self._hits_room is not None and self._hits_room != self._focus.room:
            self._clear_hits()
        self._drawn = drawn
        self._rooms()
        self._transfers()
        self._members()

    def _rooms(self) -> None:
        st, current, commands = self.state, self._focus.room, self._commands
        dpg.delete_item("rooms_list", children_only=True)
        for name in st.rooms:
            unread = st.unread(name)
            label = f"# {name}" + (f"  ({unread})" if unread else "")
            dpg.add_selectable(label=label, parent="rooms_list", default_value=name == current,
                               callback=lambda s, a, u: commands.switch_room(u), user_data=name)
        dpg.delete_item("other_rooms", children_only=True)
        for info in st.available:
            if info.name not in st.rooms:
                with dpg.group(horizontal=True, parent="other_rooms", horizontal_spacing=2):
                    if info.locked:  # the lock in Symbola, the label in the UI font
                        dpg.bind_item_font(dpg.add_text("🔒", color=self._theme.palette.muted), self._theme.fonts.emoji)
                    dpg.add_button(label=f"join # {info.name} ({info.online} online)", width=-1,
                                   callback=lambda s, a, u: commands.join_room(u), user_data=info.name)
        if current in st.rooms and current != "General":
            dpg.add_button(label=f"leave # {current}", parent="other_rooms", width=-1,
                           callback=lambda s, a, u: commands.leave_room(u), user_data=current)

    def _transfers(self) -> None:
        dpg.delete_item("transfers", children_only=True)
        for t in list(self.state.transfers.values())[-TRANSFERS_SHOWN:]:
            arrow = "↑" if t.direction == "up" else "↓"
            dpg.add_text(f"{arrow} {t.name[:24]}", parent="transfers")
            overlay = t.error[:30] if t.state == "failed" else f"{int(t.fraction * 100)}%"
            dpg.add_progress_bar(default_value=t.fraction, overlay=overlay, width=-1, parent="transfers")

    def _members(self) -> None:
        pal = self._theme.palette
        dpg.delete_item("members_list", children_only=True)
        room = self.state.rooms.get(self._focus.room) if self._focus.room else None
        if room is None:
            return
        for m in sorted(room.members.values(), key=lambda m: (not m.online, m.name.casefold())):
            with dpg.group(horizontal=True, parent="members_list"):
                draw_avatar(m.name, 24)
                dpg.add_text(m.name, color=pal.text if m.online else pal.muted)
                if any(is_cjk(c) for c in m.name):  # DejaVu has no CJK
                    dpg.bind_item_font(dpg.last_item(), self._theme.fonts.cjk)
                if m.online:
                    dpg.add_text("●", color=pal.ok)
