"""The message list of the room shown, with its title, typing line and composer.

Invariants:
- It redraws only what changed: the room's version, a picture arriving, a theme switch.
- It holds the newest FOLLOW_ROWS rows (a screen and more) plus what the user scrolled back
  to, never a whole 10,000-message room: every row built costs each frame, drawn or not.
  Following the newest message drops rows far out of view; scrolling to the top (or "Load
  older messages") builds PAGE more rows from what is held, then asks the server for more,
  and keeps the row that was on top in view.
- Scrolling up stops following; coming back to the bottom follows again.
- Rows are keyed by seq; a pending message (no seq yet) by its cid, a string, so that it
  can never be taken for a seq (a refused text's row goes with it).
- A jump (a search hit) holds until the view has landed on its row: a frame that still
  shows the bottom does not mean the user came back to it.
- Each row is placed after the row above it (timeline.py); a row whose placement changed
  (older history arrived above it) is built again. The "New messages" divider marks what was
  unread when the room was opened, until another room is shown.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from typing import Any

import dearpygui.dearpygui as dpg

from pyrtc.client import ChatState, MessageView, RoomView

from .commands import Commands
from .focus import Focus
from .row_actions import RowActions
from .rows import Row, RowPainter
from .textures import Pictures
from .theme import Theme
from .timeline import placement

__all__ = ["MessagesView", "PAGE", "RowKey", "row_key"]

PAGE = 200  # rows added above when the user scrolls to the top
FOLLOW_ROWS = 60  # rows kept while following the newest message: 700 px hold 30 at most
TRIM_SLACK = 20  # rows let in past FOLLOW_ROWS before the oldest go: a trim every 20 messages, not each
WHEEL_SETTLE = 0.3  # seconds after a wheel turn before reaching the bottom follows again
LANDING_FRAMES = 10  # a jump's scroll shows within a frame or two; past this many the jump is over anyway

RowKey = int | str  # a seq, or a pending message's cid


def row_key(m: MessageView) -> RowKey:
    return m.seq if m.seq else m.cid


class MessagesView:
    def __init__(self, state: ChatState, focus: Focus, theme: Theme, pictures: Pictures, rows: RowPainter,
                 commands: Commands, actions: RowActions, *, kiosk: bool) -> None:
        self.state = state
        self._kiosk = kiosk
        self._actions = actions
        self._opened: str | None = None  # the room shown, since it was opened
        self._unread_after: int | None = None  # the newest seq read when the room was opened
        self.first_unread: int | None = None  # the message under the "New messages" divider
        self._focus = focus
        self._theme = theme
        self._pictures = pictures
        self._painter = rows
        self._commands = commands
        self.rows: dict[RowKey, Row] = {}
        self._drawn_room: str | None = None
        self._drawn_version = -1
        self._drawn_pictures = 0
        self._oldest_built = 0
        self._jump_to: int | None = None  # a seq to show, once its row exists
        self._landing: float | None = None  # the scroll a jump asked for, until the view is there
        self._landing_frames = 0
        self._keep: tuple[float, float] | None = None  # (scroll, its max) before rows came in above
        self._keep_frames = 0
        self._seen_scroll = (0.0, 0.0)  # (scroll, its max) at the end of the last frame
        self._wheel_at = 0.0
        self._want_older = False  # the user asked for older rows (scrolled to the top, or the button)
        self._loading_from: int | None = None  # the first seq held when older history was asked for
        self._drawn_width = 0.0

    def build(self, send: Callable[[], None], attach: Callable[[], None], mute_room: Callable[[], None],
              composer_extras: Callable[[], None] | None = None,
              composer_bar: Callable[[], None] | None = None) -> None:
        """`composer_bar`: built above the composer; `composer_extras`: buttons after Attach."""
        with dpg.group(tag="center"):
            with dpg.group(horizontal=True, tag="title_line"):
                dpg.add_text("", tag="room_title")
                dpg.bind_item_font("room_title", self._theme.fonts.bold)
                dpg.add_button(label="Jump to first unread", tag="jump_unread", show=False,
                               callback=lambda: self.jump_to_unread())
                dpg.add_button(label="Mute room", tag="room_mute", show=False,  # once a room is shown
                               callback=lambda: mute_room())
            with dpg.child_window(tag="messages", height=-78, width=-200, border=False):
                dpg.add_button(label="Load older messages", tag="older", show=False,
                               callback=lambda: self.load_older())
                dpg.add_group(tag="rows")
            dpg.add_text("", tag="typing_line")
            if composer_bar is not None:
                composer_bar()
            with dpg.group(horizontal=True, tag="composer"):
                dpg.add_input_text(tag="input", hint="Write a message…", width=-500 if composer_extras else -350,
                                   on_enter=True, tab_input=True,  # Tab takes a suggestion (composer.py)
                                   callback=lambda s, a: send())
                dpg.add_button(label="Send", callback=lambda: send())
                dpg.add_button(label="Attach", callback=lambda: attach())
                if composer_extras is not None:
                    composer_extras()

    def redraw(self) -> None:
        """Build the rows again next frame (colours changed)."""
        self._drawn_room = None

    # ------------------------------------------------------------------ user actions

    def load_older(self) -> None:
        """PAGE more rows above, from what is held or else from the server (next frames)."""
        if self._focus.room is not None:
            self._want_older = True
            self._drawn_version = -1

    def jump_to_unread(self) -> None:
        if self.first_unread is not None:
            self.jump_to(self.first_unread)

    def jump_to(self, seq: int) -> None:
        """Show message `seq` (a search hit), loading older pages until it is held."""
        if self._focus.room is None:
            return
        self._oldest_built = seq
        self._drawn_version = -1  # held but not built (older than the rows drawn): built next frame
        self._focus.follow = False
        self._jump_to = seq  # after_frame scrolls there once its row exists
        self._commands.load_until(self._focus.room, seq)

    def wheel(self, delta: float) -> None:
        """Scrolling up over the messages stops following the newest one. The hover bar is a
        window of its own over the list, so Dear ImGui gives it the wheel: the list is
        scrolled here then, by Dear ImGui's own step (five lines)."""
        on_bar = self._actions.over_bar()
        if delta > 0 and (on_bar or dpg.is_item_hovered("messages")):
            self._focus.follow = False
            self._wheel_at = time.monotonic()
            self._jump_to = self._landing = None  # the user scrolls: a jump under way gives way
        if on_bar:
            y, y_max = dpg.get_y_scroll("messages"), dpg.get_y_scroll_max("messages")
            dpg.set_y_scroll("messages", max(0.0, min(y_max, y - delta * 5 * self._theme.fonts.size)))

    # ------------------------------------------------------------------ drawing

    def render(self, room: RoomView) -> None:
        dpg.set_value("typing_line", self.state.typing_line(room.name))
        dpg.configure_item("typing_line", color=self._theme.palette.muted)
        width = float(dpg.get_item_rect_size("messages")[0])
        if width > 0 and abs(width - self._drawn_width) > 8:
            # Text with emoji, CJK or formatting is wrapped by us (message_text.py): again at the new width.
            self._drawn_width = width
            self._painter.text_width = width - 80  # the avatar, its gap and the scrollbar
            if self._painter.wrapped:
                self._painter.wrapped = False
                self._drawn_room = None
        if self._pictures.version != self._drawn_pictures:
            self._drawn_pictures = self._pictures.version
            self._drawn_room = None  # rebuild, so a picture replaces its placeholder
        if self._drawn_room != room.name or self._drawn_version != room.version:
            self._render_rows(room)

    def _render_rows(self, room: RoomView) -> None:
        if self._drawn_room != room.name:
            self._clear()
            self._painter.wrapped = False
            self._oldest_built = 0
            self._want_older, self._loading_from, self._keep = False, None, None
            self._jump_to = self._landing = None
            dpg.set_value("room_title", self.state.title(room.name) if room.name in self.state.directs
                          else f"# {room.name}")
            self._focus.follow = True
            if self._opened != room.name:  # opened, not drawn again (a theme, a picture arriving)
                self._opened = room.name
                # A kiosk reads nothing (it reports no reads): no divider there.
                unread = not self._kiosk and self.state.unread(room.name)
                self._unread_after = self.state.read_upto(room.name) if unread else None
        msgs = room.messages
        start = self._start(room)
        first_new = msgs[start].seq if msgs and start < len(msgs) else 0
        drawn_first = min(self._seqs(), default=None)
        if drawn_first is not None and first_new and first_new < drawn_first:
            # Older history arrived (scroll-up): rebuild from the new start, keep the place.
            self._clear()
            self._focus.follow = False
        now = time.time()
        self.first_unread = self._first_after(room, self._unread_after)
        prev = msgs[start - 1] if start > 0 else None  # so the first row built is placed as it will stay
        for m in msgs[start:]:
            key = row_key(m)
            row = self.rows.get(key)
            sig = self._painter.signature(m)
            place = placement(prev, m, now=now, unread_after=self._unread_after, group=not self._kiosk)
            prev = m
            if row is not None and (row.place != place or row.sig[3:] != sig[3:]):
                # Something arrived above it, or it was edited or deleted: built again.
                self._delete(key)
                row = None
            if row is None:
                if m.seq and m.cid in self.rows:  # the pending copy got its seq
                    self._delete(m.cid)
                self.rows[key] = self._painter.build(m, place, sig, self._next_row_after(m.seq) if m.seq else None)
            elif row.sig != sig:
                self._painter.update(row, m, sig)
        pending = {m.cid for m in room.pending()}
        for key in [k for k in self.rows if isinstance(k, str) and k not in pending]:
            self._delete(key)  # acknowledged (drawn again by seq) or refused
        if self._focus.follow and len(self.rows) > FOLLOW_ROWS + TRIM_SLACK:
            # Following the newest messages: drop rows scrolled far out of view, so a long
            # session keeps a small number of items (older ones come back on scroll-up).
            keep = sorted(self._seqs())[-FOLLOW_ROWS:]
            for k in [k for k in self._seqs() if k < keep[0]]:
                self._delete(k)
            first_new = keep[0]
        self._oldest_built = first_new
        dpg.configure_item("older", show=(room.more_before or start > 0) and not self._kiosk)
        self._drawn_room, self._drawn_version = room.name, room.version

    def _start(self, room: RoomView) -> int:
        """The index of the first message to build: the newest FOLLOW_ROWS, down to the oldest
        row built (or a jump's target), and PAGE more above when the user asked for older ones."""
        msgs = room.messages
        start = max(0, len(msgs) - FOLLOW_ROWS)
        if self._oldest_built:
            start = min(start, next((i for i, m in enumerate(msgs) if m.seq >= self._oldest_built), start))
        if not self._want_older:
            return start
        if start > 0:  # held but not built: no need to ask the server
            self._want_older, self._loading_from = False, None
            if not self._focus.follow:
                self._keep, self._keep_frames = self._seen_scroll, LANDING_FRAMES  # the rows in view stay (_scroll)
            return max(0, start - PAGE)
        if not room.more_before:
            self._want_older, self._loading_from = False, None
        elif self._loading_from != room.first_seq and self._focus.room is not None:
            self._loading_from = room.first_seq  # asked once; the page moves first_seq (start > 0 then)
            self._commands.load_older(self._focus.room)
        return start

    @staticmethod
    def _first_after(room: RoomView, seq: int | None) -> int | None:
        """The first message held after `seq` (None: none, or no `seq`)."""
        if seq is None:
            return None
        msgs = room.messages
        held = len(msgs)
        while held and not msgs[held - 1].seq:  # pending ones are last, unsorted
            held -= 1
        i = bisect.bisect_right(msgs, seq, hi=held, key=lambda m: m.seq)
        return msgs[i].seq if i < held else None

    def _clear(self) -> None:
        dpg.delete_item("rows", children_only=True)
        self.rows.clear()
        self._actions.hide()

    def _delete(self, key: RowKey) -> None:
        dpg.delete_item(self.rows.pop(key).group)

    def _may_come(self, seq: int) -> bool:
        """Message `seq` is held (its row comes next frame) or older pages may still bring it."""
        room = self.state.rooms.get(self._focus.room or "")
        if room is None:
            return False
        return seq in room.by_seq or (room.more_before and (room.first_seq or 0) > seq)

    def _held_above(self, room: RoomView) -> bool:
        """Messages are held above the oldest row built."""
        return bool(room.messages) and row_key(room.messages[0]) not in self.rows

    def _seqs(self) -> list[int]:
        return [k for k in self.rows if isinstance(k, int)]

    def _next_row_after(self, seq: int) -> Any:
        if not seq:
            return None
        later = [k for k in self._seqs() if k > seq]
        return self.rows[min(later)].group if later else None

    def after_frame(self) -> None:
        """Scrolling, once the frame has laid the rows out: follow, jump, or fetch older; the
        hover bar; the jump-to-unread button."""
        if not self._kiosk:
            self._hover_row()
        y, y_max = dpg.get_y_scroll("messages"), dpg.get_y_scroll_max("messages")
        self._show_jump(y)
        self._scroll(y, y_max)

    def _hover_row(self) -> None:
        """The hover bar follows the row under the pointer (found by halving the rows in view
        order: a few questions a frame, not one per row)."""
        (x0, y0), (width, height) = dpg.get_item_pos("messages"), dpg.get_item_state("messages").get("rect_size", (0, 0))
        right = x0 + width - 14  # left of the scrollbar
        mx, my = self._actions.pointer
        hit = None
        if x0 <= mx < right and y0 <= my < y0 + height and self.rows and not self._actions.over_bar():
            order = self._order()
            lo, hi = 0, len(order)
            while lo < hi:  # the last row starting at or above the pointer
                mid = (lo + hi) // 2
                if dpg.get_item_rect_min(self.rows[order[mid]].group)[1] <= my:
                    lo = mid + 1
                else:
                    hi = mid
            if lo:
                row = self.rows[order[lo - 1]]
                if my <= dpg.get_item_rect_max(row.group)[1]:
                    hit = row
        if hit is not None:
            self._actions.hovered(hit.msg, (right, dpg.get_item_rect_min(hit.group)[1]))
        self._actions.after_frame(right, y0)

    def _order(self) -> list[RowKey]:
        """The rows' keys top to bottom: seqs, then pending messages in the order sent."""
        seqs = sorted(self._seqs())
        return [*seqs, *(k for k in self.rows if isinstance(k, str))]

    def _show_jump(self, y: float) -> None:
        """"Jump to first unread" while the divider is above the view (or not built yet)."""
        show = False
        if self.first_unread is not None:
            row = self.rows.get(self.first_unread)
            show = row is None or not dpg.does_item_exist(row.group) or dpg.get_item_pos(row.group)[1] < y
        if show != dpg.is_item_shown("jump_unread"):
            dpg.configure_item("jump_unread", show=show)

    def _scroll(self, y: float, y_max: float) -> None:
        self._seen_scroll = (y, y_max)
        if self._keep is not None and y_max != self._keep[1]:
            # Rows came in above: as much further down as the list grew (the rows' own
            # positions are stale until drawn; the list's height is not).
            y0, max0 = self._keep
            self._keep = None
            dpg.set_y_scroll("messages", min(y_max, y0 + y_max - max0))
            return
        if self._keep is not None:
            self._keep_frames -= 1
            if self._keep_frames <= 0:
                self._keep = None  # the list did not grow (nothing came above after all)
            return  # until then the view is at the top only because the list has not grown yet
        if self._jump_to is not None:
            row = self.rows.get(self._jump_to)
            if row is not None and dpg.does_item_exist(row.group):
                # The row's position is in the list's content, as the scroll is.
                self._landing = min(y_max, max(0.0, dpg.get_item_pos(row.group)[1] - 40))
                self._landing_frames = LANDING_FRAMES
                dpg.set_y_scroll("messages", self._landing)
                self._jump_to = None
            elif not self._may_come(self._jump_to):
                self._jump_to = None  # not in this room's history: nothing to show
            return
        if self._landing is not None:
            self._landing_frames -= 1
            if abs(y - min(self._landing, y_max)) > 1 and self._landing_frames > 0:
                return  # the scroll asked for shows in a later frame
            self._landing = None
        if self._focus.follow:
            if y < y_max:
                dpg.set_y_scroll("messages", y_max)  # follow the newest message
        elif y >= y_max - 4 and time.monotonic() - self._wheel_at > WHEEL_SETTLE:
            self._focus.follow = True  # the user came back to the bottom: follow again
        if y <= 0 < y_max and not self._focus.follow and not self._want_older:
            room = self.state.rooms.get(self._focus.room or "")
            if room is not None and (room.more_before or self._held_above(room)):
                self.load_older()
