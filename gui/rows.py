"""One message as a row of widgets, placed in its conversation (timeline.py): a day separator
or the "New messages" divider above it when due, then either a header (avatar, name, time,
✓ marks) or nothing but the text under the header of the same sender's message above.

A row is built once and updated in place when its signature (status, reactions, readers)
changes, so a receipt or a reaction never rebuilds the message list; a change of placement
(a message inserted above it) rebuilds that row only. Reactions take room only when there
are some; reacting, replying, copying, editing and deleting are offered by the bar hovering
shows (row_actions.py). A reply starts with a one-line quote of what it answers, an edited
message says "(edited)", a deleted one leaves "message deleted" in its place; a change of
text, edit or delete rebuilds that row. A message that mentions you sits on a band with a bar
in the warning colour."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dearpygui.dearpygui as dpg

from pyrtc import protocol as p
from pyrtc.client import ChatState, MessageView, mentions_me

from .avatar import AvatarColours, draw_avatar
from .conversations import Conversations
from .emoji_text import needs_runs
from .file_card import draw_file
from .message_text import TextPainter
from .palette import RGB
from .textures import Pictures
from .theme import Theme
from .timeline import Placement, full_time, short_time

__all__ = ["Row", "RowPainter", "AVATAR_SIZE"]

MARKS = {"pending": "…", "sent": "✓", "delivered": "✓✓", "read": "✓✓"}
READERS_NAMED = 10  # in the marks' tooltip; the rest are counted
AVATAR_SIZE = 40
BAR_GAP = 8  # Dear PyGui's item spacing after the mention bar: the avatar shrinks by bar + gap


@dataclass
class Row:
    group: int | str
    msg: MessageView
    place: Placement
    status: int | str | None = None  # the ✓ marks (own messages only)
    receipts: int | str | None = None  # the text of their tooltip: "delivered to 3 of 4 · read by 2"
    reactions: int | str | None = None
    header: int | str | None = None  # the name/time line, if this row has one
    sig: tuple[Any, ...] = ()


class RowPainter:
    def __init__(self, state: ChatState, theme: Theme, pictures: Pictures, avatars: AvatarColours,
                 text: TextPainter, *, react: Callable[[int, str], None],
                 download: Callable[[p.FileInfo], None], kiosk: bool,
                 conversations: Conversations | None = None) -> None:
        self.state = state
        self._conv = conversations  # replies, edits, deletes (None: a window that takes none)
        self._theme = theme
        self.text_width = 600.0  # px a message's text wraps at (the message list sets it)
        self.wrapped = False  # a row was wrapped by us (emoji, CJK, formatting): a resize redraws the rows
        self._pictures = pictures
        self._avatars = avatars
        self._react = react
        self._download = download
        self._text = text
        self._kiosk = kiosk  # a shared screen shows reactions but takes none

    @property
    def _avatar_size(self) -> int:
        return round(self._theme.fonts.size * 2.1) if self._kiosk else AVATAR_SIZE  # a wall's is larger

    def signature(self, m: MessageView) -> tuple[Any, ...]:
        """What a row shows that may change. Asked of every row built each time the room
        changes: the ✓ marks and their receipts only for one's own messages (others' rows
        have none, and working them out walks the room's members)."""
        st = self.state
        own = m.sender == st.me
        reactions = tuple(sorted((e, m.reaction_count(e), st.me in n) for e, n in m.reactions.items())) \
            if m.reactions else ()
        return (st.status(m) if own else "", reactions, st.receipt_line(m, READERS_NAMED) if own else "",
                (m.text, m.edited, m.deleted, m.quote))

    def build(self, m: MessageView, place: Placement, sig: tuple[Any, ...], before: int | str | None) -> Row:
        pal, fonts = self._theme.palette, self._theme.fonts
        own = m.sender == self.state.me
        mention = not own and mentions_me(m.text, self.state.me)
        kw: dict[str, Any] = {"parent": "rows"}
        if before is not None:
            kw["before"] = before
        with dpg.group(**kw) as group:
            if place.day:  # in a group of its own: a separator reports no rectangle, a group does
                with dpg.group(label=place.day):
                    dpg.add_spacer(height=2)
                    dpg.add_separator(label=place.day)
            if place.unread:
                with dpg.group(label="New messages") as divider:
                    dpg.add_separator(label="New messages")
                dpg.bind_item_theme(divider, self._theme.divider())
            outer: Any = group
            if mention:
                outer = dpg.add_child_window(auto_resize_y=True, border=False, width=-1, no_scrollbar=True)
                dpg.bind_item_theme(outer, self._theme.mention_band())
            status = receipts = header = None
            with dpg.group(horizontal=True, parent=outer):
                if mention:
                    bar = self._avatar_size if place.header else 22
                    with dpg.drawlist(4, bar):
                        dpg.draw_rectangle((0, 0), (4, bar), fill=pal.warn, color=pal.warn)
                if place.header:
                    draw_avatar(m.sender, self._avatar_size - (4 + BAR_GAP if mention else 0), self._avatars(m.sender),
                                fonts)
                else:
                    with dpg.group():  # the gutter under the avatar above: an own message's ✓ marks
                        dpg.add_spacer(width=self._avatar_size - (4 + BAR_GAP if mention else 0))
                        if own:
                            status, receipts = self._marks()
                with dpg.group():
                    if place.header:
                        with dpg.group(horizontal=True, horizontal_spacing=fonts.size // 2) as header:
                            self._name(m.sender, pal.own if own else pal.text)
                            when = dpg.add_text(short_time(m.time), color=pal.muted)
                            with dpg.tooltip(when):
                                dpg.add_text(full_time(m.time))
                            if own:
                                status, receipts = self._marks()
                            if self._conv is not None:
                                self._conv.edited_mark(m)
                    if m.reply_to and self._conv is not None:
                        self._conv.quote_line(m, pressable=not self._kiosk)
                    if m.deleted:
                        if self._conv is not None:
                            self._conv.deleted_body()
                    elif m.file is not None:
                        draw_file(m.file, self._theme, self._pictures, None if self._kiosk else self._download)
                    # No header to carry "(edited)": it ends the text (or stands under a file).
                    note = "(edited)" if not place.header and self._conv is not None and m.edited \
                        and not m.deleted else ""
                    if m.text and not m.deleted:  # formatting, links, emoji in colour, CJK in its font
                        self.wrapped = self.wrapped or not self._text.is_plain(m.text) or bool(note)
                        self._text.message(m.text, width=self.text_width, note=note)
                    elif note and self._conv is not None:
                        self._conv.edited_mark(m)
                    reactions = dpg.add_group(horizontal=True, show=False)
        row = Row(group, m, place, status, receipts, reactions, header)
        self.update(row, m, sig)
        return row

    def _marks(self) -> tuple[Any, Any]:
        """The ✓ marks and their tooltip (made once: a tooltip is a child of the group, not of
        the marks, so one per change would stack up)."""
        status = dpg.add_text("", color=self._theme.palette.sent)
        with dpg.tooltip(status):
            receipts = dpg.add_text("")
        return status, receipts

    def update(self, row: Row, m: MessageView, sig: tuple[Any, ...]) -> None:
        """Change what changed: a receipt leaves the reaction buttons alone (rebuilding them
        under a pointer about to click one would swallow the click)."""
        pal = self._theme.palette
        old, row.sig = row.sig, sig
        status, reactions, receipts, _ = sig
        if row.status is not None and (not old or (old[0], old[2]) != (status, receipts)):
            dpg.set_value(row.status, MARKS[status])
            dpg.configure_item(row.status, color=pal.read if status == "read" else pal.sent)
            dpg.set_value(row.receipts, receipts)
        if row.reactions is None or (old and old[1] == reactions):
            return
        dpg.delete_item(row.reactions, children_only=True)
        dpg.configure_item(row.reactions, show=bool(reactions) and m.seq != 0 and not m.deleted)
        if m.seq == 0 or m.deleted:
            return
        for emoji, count, mine in reactions:  # the emoji in colour, its count in the text font
            with dpg.group(horizontal=True, horizontal_spacing=self._theme.fonts.size // 6, parent=row.reactions):
                if self._kiosk:  # a shared screen shows reactions but takes none
                    self._text.emoji_image(emoji)
                    dpg.add_text(f"{count}  ")
                    continue
                b = self._text.emoji_button(emoji, f"{emoji} {count}", lambda s, a, u: self._react(*u), (m.seq, emoji))
                if mine:
                    dpg.bind_item_theme(b, self._theme.accent_button())
                dpg.add_text(str(count))

    def _name(self, name: str, colour: RGB) -> None:
        """A sender's name in bold; 山田 or 🦊 Sam in their fonts, emoji in colour."""
        if needs_runs(name):
            self._text.name(name, fonts=self._theme.fonts.names, color=colour)
        else:
            dpg.bind_item_font(dpg.add_text(name, color=colour), self._theme.fonts.bold)
