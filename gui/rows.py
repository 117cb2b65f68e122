"""One message as a row of widgets: avatar, name, time, ✓ marks, text or file, reactions.

A row is built once and updated in place when its signature (status, reactions, readers)
changes, so a receipt or a reaction never rebuilds the message list. One reaction palette
serves every row: "+" opens it at the pointer for that message, a pick closes it (a popup
per row would outlive its row, and an open one swallows the next click)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dearpygui.dearpygui as dpg

from pyrtc import protocol as p
from pyrtc.client import ChatState, MessageView
from pyrtc.units import human_size

from .avatar import draw_avatar
from .emoji_images import EmojiImages
from .emoji_text import add_line, add_text, needs_runs, segments
from .textures import Pictures
from .theme import Theme

__all__ = ["Row", "RowPainter", "REACTIONS"]

REACTIONS = ["👍", "❤", "😂", "🎉", "😮", "😢"]
MARKS = {"pending": "…", "sent": "✓", "delivered": "✓✓", "read": "✓✓"}
READERS_NAMED = 10  # in the marks' tooltip; the rest are counted


@dataclass
class Row:
    group: int | str
    status: int | str | None = None  # the ✓ marks (own messages only)
    receipts: int | str | None = None  # the text of their tooltip: "delivered to 3 of 4 · read by 2"
    reactions: int | str | None = None
    sig: tuple[Any, ...] = ()


class RowPainter:
    def __init__(self, state: ChatState, theme: Theme, pictures: Pictures, emoji: EmojiImages, *,
                 react: Callable[[int, str], None], download: Callable[[p.FileInfo], None], kiosk: bool) -> None:
        self.state = state
        self._theme = theme
        self._emoji = emoji
        self.text_width = 600.0  # px a message's text wraps at (the message list sets it)
        self.wrapped = False  # a row was wrapped by us (emoji or CJK): a resize redraws the rows
        self._pictures = pictures
        self._react = react
        self._download = download
        self._kiosk = kiosk  # a shared screen shows reactions but takes none
        self._palette_for = 0  # the seq the reaction palette was opened for
        self._accents: dict[str, Any] = {}

    def build_palette(self) -> None:
        with dpg.window(tag="reaction_palette", popup=True, show=False, no_title_bar=True, autosize=True,
                        no_move=True):
            with dpg.group(horizontal=True):
                for emoji in REACTIONS:
                    self._emoji_button(emoji, emoji, lambda s, a, u: self._picked(u), emoji)

    def _open_palette(self, seq: int) -> None:
        self._palette_for = seq
        x, y = dpg.get_mouse_pos(local=False)
        dpg.configure_item("reaction_palette", pos=(int(x), int(y) + 12), show=True)

    def _picked(self, emoji: str) -> None:
        dpg.configure_item("reaction_palette", show=False)
        self._react(self._palette_for, emoji)

    def signature(self, m: MessageView) -> tuple[Any, ...]:
        st = self.state
        return (st.status(m), tuple(sorted((e, m.reaction_count(e), st.me in n) for e, n in m.reactions.items())),
                st.receipt_line(m, READERS_NAMED))

    def build(self, m: MessageView, sig: tuple[Any, ...], before: int | str | None) -> Row:
        pal = self._theme.palette
        own = m.sender == self.state.me
        mention = not own and f"@{self.state.me}".casefold() in m.text.casefold()
        kw: dict[str, Any] = {"parent": "rows"}
        if before is not None:
            kw = {"parent": "rows", "before": before}
        with dpg.group(horizontal=True, **kw) as group:
            draw_avatar(m.sender, round(self._theme.fonts.size * 2.1) if self._kiosk else 36)
            with dpg.group() as body:
                with dpg.group(horizontal=True, horizontal_spacing=self._theme.fonts.size // 2) as header:
                    if needs_runs(m.sender):  # 山田 or 🦊 Sam: in their fonts, emoji in colour
                        add_line(segments(m.sender), parent=header, fonts=self._theme.fonts.names, images=self._emoji,
                                 color=pal.own if own else pal.text)
                    else:
                        dpg.add_text(m.sender, color=pal.own if own else pal.text)
                        dpg.bind_item_font(dpg.last_item(), self._theme.fonts.bold)
                    dpg.add_text(time.strftime("%H:%M", time.localtime(m.time)), color=pal.muted)
                    status = dpg.add_text("", color=pal.sent) if own else None
                    receipts = None
                    if status is not None:  # made once: a tooltip is a child of the group, not
                        with dpg.tooltip(status):  # of the marks, so one per change stacked up
                            receipts = dpg.add_text("")
                if m.file is not None:
                    self._file_body(m.file)
                text = m.text
                if text:  # emoji in colour, CJK in its font, the rest in the text font
                    self.wrapped = self.wrapped or needs_runs(text)
                    add_text(text, parent=body, fonts=self._theme.fonts.body, images=self._emoji,
                             width=self.text_width, color=pal.warn if mention else None)
                with dpg.group(horizontal=True) as reactions:
                    pass
        row = Row(group, status, receipts, reactions)
        self.update(row, m, sig)
        return row

    def update(self, row: Row, m: MessageView, sig: tuple[Any, ...]) -> None:
        """Change what changed: a receipt leaves the reaction buttons alone (rebuilding them
        under a pointer about to click one would swallow the click)."""
        pal = self._theme.palette
        old, row.sig = row.sig, sig
        status, reactions, receipts = sig
        if row.status is not None and (not old or (old[0], old[2]) != (status, receipts)):
            dpg.set_value(row.status, MARKS[status])
            dpg.configure_item(row.status, color=pal.read if status == "read" else pal.sent)
            dpg.set_value(row.receipts, receipts)
        if row.reactions is None or (old and old[1] == reactions):
            return
        dpg.delete_item(row.reactions, children_only=True)
        if m.seq == 0:
            return
        for emoji, count, mine in reactions:
            with dpg.group(horizontal=True, horizontal_spacing=self._theme.fonts.size // 6, parent=row.reactions):
                if self._kiosk:  # a shared screen shows reactions but takes none
                    self._emoji_image(emoji)
                    dpg.add_text(f"{count}  ")
                    continue
                b = self._emoji_button(emoji, f"{emoji} {count}", lambda s, a, u: self._react(*u), (m.seq, emoji))
                if mine:
                    dpg.bind_item_theme(b, self._accent())
                dpg.add_text(str(count))  # digits in the text font
        if self._kiosk:
            return
        dpg.add_button(label="+", parent=row.reactions, callback=lambda s, a, u: self._open_palette(u),
                       user_data=m.seq)

    def _emoji_image(self, emoji: str) -> None:
        px = self._theme.fonts.size
        tag = self._emoji.texture(emoji, px)
        if tag is not None:
            dpg.add_image(tag, width=px, height=px)
        else:
            dpg.bind_item_font(dpg.add_text(emoji), self._theme.fonts.emoji)

    def _emoji_button(self, emoji: str, label: str, callback: Callable[..., None], user_data: Any) -> Any:
        """A button showing `emoji` in colour (its label names it: tests and tooltips read it);
        in the symbol font where no colour emoji font is installed."""
        px = self._theme.fonts.size
        tag = self._emoji.texture(emoji, px)
        if tag is not None:
            return dpg.add_image_button(tag, width=px, height=px, label=label, callback=callback,
                                        user_data=user_data)
        b = dpg.add_button(label=label, callback=callback, user_data=user_data)
        dpg.bind_item_font(b, self._theme.fonts.emoji)
        return b

    def _accent(self) -> Any:
        """The theme of a reaction of yours, made once per palette (not once per button)."""
        name = self._theme.palette.name
        if name not in self._accents:
            self._accents[name] = self._theme.accent_button()
        return self._accents[name]

    def _file_body(self, info: p.FileInfo) -> None:
        if info.thumb_id:
            tag = self._pictures.texture(info.thumb_id)
            if tag is not None:
                img = dpg.add_image(tag, width=dpg.get_item_width(tag), height=dpg.get_item_height(tag))
                with dpg.item_handler_registry() as reg:
                    dpg.add_item_clicked_handler(callback=lambda s, a, u: self._pictures.show(u), user_data=info)
                dpg.bind_item_handler_registry(img, reg)
            else:
                dpg.add_text(f"[picture] {info.name} — loading preview…", color=self._theme.palette.muted)
                self._pictures.want(info.thumb_id)
        else:
            dpg.add_text(f"[file] {info.name}  ({human_size(info.size)}, {info.mime})")
        if self._kiosk:
            return  # nobody presses a wall
        dpg.add_button(label=f"Download {info.name[:40]}", callback=lambda s, a, u: self._download(u),
                       user_data=info)
