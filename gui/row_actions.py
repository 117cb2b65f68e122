"""What hovering a message offers: a small bar on its top right edge (React, Reply, Copy; Edit and
Delete on one's own; its full date and time), and the reaction palette React opens.

One bar and one palette serve every row (a popup per row would outlive its row, and an open
one swallows the next click). The bar follows the row the pointer is over; it stays while
the pointer is on the bar itself, and goes once the pointer is on neither."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dearpygui.dearpygui as dpg

from pyrtc.client import MessageView

from .message_text import TextPainter
from .theme import FRAME_PADDING, ITEM_SPACING, Theme
from .timeline import full_time

__all__ = ["RowActions", "REACTIONS"]

REACTIONS = ["👍", "❤", "😂", "🎉", "😮", "😢"]
BAR_WIDTH_GUESS = 470.0  # px, until the bar has been laid out once
BAR_HEIGHT_GUESS = 40.0  # more than it measures, so that a first placement stays off its row
MIN_SIZE = 20  # the bar's window size before its first layout
#: How far the bar reaches down onto its row's top edge: it sits on the row's border, as
#: Slack's does, never over the row's own buttons (a card's Download, a link, a quote).
OVERLAP = 4
BUTTONS = (("action_react", "React"), ("action_reply", "Reply"), ("action_copy", "Copy"), ("action_edit", "Edit"),
           ("action_delete", "Delete"))


class RowActions:
    def __init__(self, theme: Theme, text: TextPainter, own: Callable[[MessageView], bool], *, react: Callable[[int, str], None],
                 reply: Callable[[MessageView], None], edit: Callable[[MessageView], None],
                 delete: Callable[[MessageView], None]) -> None:
        self._theme = theme
        self._text = text  # the palette's emoji, in colour
        self._own = own
        self._react = react
        self._reply = reply
        self._edit = edit
        self._delete = delete
        self._for: MessageView | None = None  # the message the bar is shown for
        self._palette_for = 0  # the seq the reaction palette was opened for
        self._hovered: MessageView | None = None  # reported by a row's hover handler this frame
        self._hovered_rect: tuple[float, float] = (0, 0)
        self.pointer: tuple[float, float] = (-1.0, -1.0)  # in the viewport, from the mouse-move handler
        self._width, self._height = BAR_WIDTH_GUESS, BAR_HEIGHT_GUESS
        self._anchor: tuple[float, float] = (0, 0)  # the top right of the row the bar is for

    def moved(self, pos: Any) -> None:
        """The global mouse-move handler (Dear PyGui's get_mouse_pos is relative to a window)."""
        self.pointer = (float(pos[0]), float(pos[1]))

    @property
    def shown_for(self) -> MessageView | None:
        return self._for

    def build(self) -> None:
        with dpg.window(tag="row_actions", show=False, no_title_bar=True, autosize=True, no_move=True,
                        no_resize=True, no_collapse=True, no_scrollbar=True, no_focus_on_appearing=True,
                        no_saved_settings=True, min_size=(MIN_SIZE, MIN_SIZE)):
            with dpg.group(horizontal=True):
                for tag, label in BUTTONS:  # pressed through clicked(), not a callback of their own
                    dpg.add_button(label=label, tag=tag)
                # In the place of Edit and Delete on others' messages: the bar keeps its width,
                # so React, Reply and Copy stay where they were from one row to the next.
                dpg.add_spacer(tag="action_own_gap", width=1, show=False)
                dpg.add_text("", tag="action_time", color=self._theme.palette.muted)
        with dpg.window(tag="reaction_palette", popup=True, show=False, no_title_bar=True, autosize=True,
                        no_move=True, min_size=(20, 20)):
            with dpg.group(horizontal=True):
                for emoji in REACTIONS:
                    self._text.emoji_button(emoji, emoji, lambda s, a, u: self._picked(u), emoji)

    def hovered(self, m: MessageView, rect: tuple[float, float]) -> None:
        """The pointer is over message `m`, whose row's top right is `rect` (this frame)."""
        self._hovered, self._hovered_rect = m, rect

    def after_frame(self, right_edge: float, top_edge: float) -> None:
        """Once a frame: show the bar above the row hovered (below the list's `top_edge`), keep
        it while it is hovered itself."""
        m, self._hovered = self._hovered, None
        if m is not None:
            self._anchor = self._hovered_rect
            if m is not self._for:
                self._for = m
                dpg.set_value("action_time", full_time(m.time))
                live = bool(m.seq) and not m.deleted  # sent, and still there: it can be answered
                mine = live and self._own(m)
                dpg.configure_item("action_react", show=live)
                dpg.configure_item("action_reply", show=live)
                dpg.configure_item("action_copy", show=not m.deleted)
                dpg.configure_item("action_edit", show=mine and m.file is None)
                dpg.configure_item("action_delete", show=mine)
                gap = self._own_buttons_width() if live and not mine else 0.0
                dpg.configure_item("action_own_gap", show=gap > 0, width=max(1, round(gap)))
        elif self._for is not None and not self._over("row_actions") and not dpg.is_item_shown("reaction_palette"):
            self.hide()
            return
        if self._for is not None:
            # Placed again every frame, also while the pointer rests on it: an autosized window
            # takes a few frames to reach its size, and a bar placed by a guess would stay there.
            measured, height = dpg.get_item_state("row_actions").get("rect_size", (0, 0))
            if measured > BAR_WIDTH_GUESS / 3:
                self._width = measured  # laid out: its width (it changes with the buttons shown)
            if height > MIN_SIZE:
                self._height = height
            x = max(0.0, min(self._anchor[0], right_edge) - self._width)
            y = max(top_edge, self._anchor[1] + OVERLAP - self._height)
            dpg.configure_item("row_actions", show=True, pos=(int(x), int(y)))

    def _own_buttons_width(self) -> float:
        """Edit and Delete side by side, with the spacing after one of them (the spacer stands
        for both): from the font, as Dear ImGui lays a button out (text and frame padding)."""
        pad_x, spacing = FRAME_PADDING[0], ITEM_SPACING[0]
        widths = [dpg.get_text_size(label) for tag, label in BUTTONS if tag in ("action_edit", "action_delete")]
        return sum(float(w[0]) + 2 * pad_x for w in widths if w) + spacing

    def clicked(self) -> None:
        """The global left-click handler: a click on one of the bar's buttons does its action.
        (A button's own callback would need a second click while the composer is being typed
        in: Dear ImGui gives the first to the input, which lets go of the keyboard.)"""
        if self._for is None or not dpg.is_item_shown("row_actions"):
            return
        x, y = self.pointer
        for tag, _ in BUTTONS:
            (x0, y0), (w, h) = dpg.get_item_rect_min(tag), dpg.get_item_rect_size(tag)
            if dpg.is_item_shown(tag) and x0 <= x < x0 + w and y0 <= y < y0 + h:
                actions: dict[str, Callable[[], None]] = {
                    "action_react": self._open_palette, "action_reply": lambda: self._act(self._reply),
                    "action_copy": self._copy, "action_edit": lambda: self._act(self._edit),
                    "action_delete": lambda: self._act(self._delete)}
                actions[tag]()
                return

    def hide(self) -> None:
        self._for = None
        dpg.configure_item("row_actions", show=False)

    def over_bar(self) -> bool:
        return self._over("row_actions")

    def _over(self, tag: str) -> bool:
        """The pointer is on the window `tag` (shown)."""
        if not dpg.is_item_shown(tag):
            return False
        x, y = self.pointer
        (x0, y0), (w, h) = dpg.get_item_pos(tag), dpg.get_item_state(tag).get("rect_size", (0, 0))
        return bool(x0 <= x < x0 + w and y0 <= y < y0 + h)

    def _open_palette(self) -> None:
        if self._for is None or not self._for.seq:
            return
        self._palette_for = self._for.seq
        x, y = self.pointer
        dpg.configure_item("reaction_palette", pos=(int(x), int(y) + 12), show=True)

    def _picked(self, emoji: str) -> None:
        dpg.configure_item("reaction_palette", show=False)
        self.hide()
        if self._palette_for:
            self._react(self._palette_for, emoji)

    def _act(self, action: Callable[[MessageView], None]) -> None:
        if self._for is not None:
            m = self._for
            self.hide()
            action(m)

    def _copy(self) -> None:
        if self._for is not None:
            dpg.set_clipboard_text(self._for.text or (self._for.file.name if self._for.file else ""))
