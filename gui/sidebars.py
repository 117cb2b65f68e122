"""The side panels: rooms and direct messages (joined, with unread and mention badges; others to
join; a new one), transfers, search hits on the left; the room's members (status beside their
names; a click starts a direct message) on the right. Redrawn when ChatState's
version or the room shown changes, or a finished transfer's time in view is over; search hits
belong to the room they were found in and go when another is shown."""

from __future__ import annotations

import time
from collections.abc import Callable

import dearpygui.dearpygui as dpg

from pyrtc import protocol as p
from pyrtc.client import ChatState

from .avatar import AvatarColours, draw_avatar
from .badges import draw_badge
from .commands import Commands
from .conversations import Conversations
from .emoji_text import is_cjk
from .focus import Focus
from .theme import Theme

__all__ = ["Sidebars"]

TRANSFERS_SHOWN = 4
TRANSFER_KEPT = 4.0  # seconds a finished transfer stays in view
HITS_SHOWN = 20
ROOM_LABEL_WIDTH = 140


class Sidebars:
    def __init__(self, state: ChatState, focus: Focus, theme: Theme, commands: Commands, avatars: AvatarColours,
                 muted: Callable[[str], bool], jump_to: Callable[[int], None],
                 show_error: Callable[[str], None], conversations: Conversations | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.state = state
        self._conv = conversations  # direct messages and status (None: a window that has none)
        self._avatars = avatars
        self._muted = muted
        self._clock = clock
        self._finished: dict[str, float] = {}  # transfer id -> when it was first seen done
        self._expires = 0.0  # when the next finished transfer leaves the panel
        self._sigs: dict[str, tuple[object, ...]] = {}  # what each part was last built from
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
            if self._conv is not None:
                dpg.add_text("Direct messages", tag="directs_title", color=self._theme.palette.muted)
                dpg.add_group(tag="directs_list")
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
            if self._conv is not None:
                self._conv.build_status()

    def redraw(self) -> None:
        self._drawn = (-1, None)
        self._sigs.clear()

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
        if drawn == self._drawn and not (self._expires and self._clock() >= self._expires):
            return
        if self._hits_room is not None and self._hits_room != self._focus.room:
            self._clear_hits()
        self._drawn = drawn
        # Each part is built again only when what it shows changed (items made anew have no
        # place on screen until the next frame: a part rebuilt every event would never hold still).
        for part, sig in ((self._rooms, self._rooms_sig()), (self._transfers, self._transfers_sig()),
                          (self._members, self._members_sig())):
            if self._sigs.get(part.__name__) != sig:
                self._sigs[part.__name__] = sig
                part()

    def _rooms_sig(self) -> tuple[object, ...]:
        st = self.state
        return (self._focus.room, self._focus.follow, self._theme.palette.name,
                tuple((n, st.unread(n), st.mentions(n), self._muted(n)) for n in st.rooms),
                tuple((r.name, r.locked, r.online) for r in st.available),
                tuple((r, d.peer, st.status_of(d.peer)) for r, d in st.directs.items()))

    def _transfers_sig(self) -> tuple[object, ...]:
        return (self._clock() // 1 if self._expires else 0,
                tuple((t.id, t.state, int(t.fraction * 100), t.error) for t in self.state.transfers.values()))

    def _members_sig(self) -> tuple[object, ...]:
        st = self.state
        room = self.state.rooms.get(self._focus.room) if self._focus.room else None
        return (self._focus.room, self._theme.palette.name,
                tuple((m.name, m.online, st.status_of(m.name)) for m in room.members.values()) if room else ())

    def _rooms(self) -> None:
        st, current, commands = self.state, self._focus.room, self._commands
        dpg.delete_item("rooms_list", children_only=True)
        if self._conv is not None:
            dpg.delete_item("directs_list", children_only=True)
        for name in st.rooms:
            direct = st.directs.get(name)
            if direct is None:
                self._room_line(name, f"# {name}", "rooms_list", lambda room: commands.switch_room(room))
            elif self._conv is not None:  # "@ Alice · busy", under "Direct messages"
                status = st.status_of(direct.peer)
                self._room_line(name, f"@ {direct.peer}" + (f" · {status}" if status else ""), "directs_list",
                                self._focus.show)
        dpg.delete_item("other_rooms", children_only=True)
        for info in st.available:
            if info.name not in st.rooms:
                with dpg.group(horizontal=True, parent="other_rooms", horizontal_spacing=2):
                    if info.locked:  # the lock in Symbola, the label in the UI font
                        dpg.bind_item_font(dpg.add_text("🔒", color=self._theme.palette.muted), self._theme.fonts.emoji)
                    dpg.add_button(label=f"join # {info.name} ({info.online} online)", width=-1,
                                   callback=lambda s, a, u: commands.join_room(u), user_data=info.name)
        if current in st.rooms and current != "General" and current not in st.directs:
            dpg.add_button(label=f"leave # {current}", parent="other_rooms", width=-1,
                           callback=lambda s, a, u: commands.leave_room(u), user_data=current)

    def _room_line(self, name: str, label: str, parent: str, show: Callable[[str], None]) -> None:
        """A room (or direct conversation) to click, with its mention and unread badges."""
        st, pal = self.state, self._theme.palette
        unread, mentions, muted = st.unread(name), st.mentions(name), self._muted(name)
        with dpg.group(horizontal=True, parent=parent, horizontal_spacing=4):
            dpg.add_selectable(label=label, default_value=name == self._focus.room, width=ROOM_LABEL_WIDTH,
                               callback=lambda s, a, u: show(u), user_data=name)
            if mentions:
                draw_badge(f"@{mentions}", pal.badge_mention)
            if unread and not (name == self._focus.room and self._focus.follow):  # shown and being read
                draw_badge(str(unread) if unread < 100 else "99+", pal.badge if not muted else pal.muted)

    def _transfers(self) -> None:
        dpg.delete_item("transfers", children_only=True)
        now = self._clock()
        shown = []
        for t in self.state.transfers.values():
            if t.state == "done":
                done_at = self._finished.setdefault(t.id, now)
                if now - done_at >= TRANSFER_KEPT:
                    continue
            shown.append(t)
        pending = [at + TRANSFER_KEPT for tid, at in self._finished.items() if now - at < TRANSFER_KEPT]
        self._expires = min(pending, default=0.0)
        for t in shown[-TRANSFERS_SHOWN:]:
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
                draw_avatar(m.name, 28, self._avatars(m.name), self._theme.fonts)
                if self._conv is not None and m.name != self.state.me:  # a click: a direct message
                    b = dpg.add_button(label=m.name, small=True, callback=lambda s, a, u: self._open_direct(u),
                                       user_data=m.name)
                    dpg.bind_item_theme(b, self._member_theme(m.online))
                else:
                    dpg.add_text(m.name, color=pal.text if m.online else pal.muted)
                if any(is_cjk(c) for c in m.name):  # DejaVu has no CJK
                    dpg.bind_item_font(dpg.last_item(), self._theme.fonts.cjk)
                if m.online:
                    dpg.add_text("●", color=pal.ok)
                status = self.state.status_of(m.name) if m.online else ""
                if status:
                    dpg.add_text(status[:24], color=pal.muted)

    def _open_direct(self, name: str) -> None:
        if self._conv is not None:
            self._conv.open_direct(name)

    def _member_theme(self, online: bool) -> str:
        """A member's name as a button that looks like the name (panel background)."""
        pal = self._theme.palette
        tag = f"member_theme_{pal.name}_{online}"
        if not dpg.does_item_exist(tag):
            with dpg.theme(tag=tag), dpg.theme_component(dpg.mvButton):
                dpg.add_theme_style(dpg.mvStyleVar_FrameBorderSize, 0, category=dpg.mvThemeCat_Core)
                dpg.add_theme_style(dpg.mvStyleVar_FramePadding, 0, 3, category=dpg.mvThemeCat_Core)  # as the text
                dpg.add_theme_color(dpg.mvThemeCol_Button, pal.panel, category=dpg.mvThemeCat_Core)
                dpg.add_theme_color(dpg.mvThemeCol_Text, pal.text if online else pal.muted,
                                    category=dpg.mvThemeCat_Core)
        return tag
