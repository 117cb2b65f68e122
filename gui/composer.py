"""The composer's helpers: an emoji picker (a button beside the input, a popup of colour
emoji with a search by name) and completion of `:shortcode:` and `@name` as one types (a list
above the input; Tab or Enter takes the first, a click any; a click in the input goes on). A message's remaining
`:shortcodes:` become their emoji when it is sent.

Each frame reads the input's text only to see whether it changed; the suggestions are
recomputed on a change, never per frame."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dearpygui.dearpygui as dpg

from .completion import Suggestion, emoji_shortcodes, suggest
from .emoji_images import EmojiImages
from .theme import Theme

__all__ = ["Composer", "PICKER_EMOJI"]

INPUT = "input"
PICKER_COLUMNS = 8
PICKER_EMOJI = ("😀 😂 🙂 😉 😍 😘 🤔 😎 😅 😭 😡 😱 🙄 😴 🤗 🤩 👍 👎 👏 🙌 🙏 💪 👋 👀 "
                "❤️ 💔 🔥 ✨ 🎉 🎂 🎁 ☕ 🍕 🍺 ✅ ❌ ⚠️ 💡 📌 📎 🚀 💯 🆗 🆒 ⏰ 📅 🌞 🌧️").split()


class Composer:
    def __init__(self, theme: Theme, images: EmojiImages, members: Callable[[], list[str]]) -> None:
        self._theme = theme
        self._images = images
        self._members = members  # the names of the room shown
        self._seen = ""  # the input's text when the suggestions were made
        self._start = 0
        self._replacing: str | None = None  # the input's new text, set once it let go of the keyboard
        self._replace_in = 0  # frames until then
        self.suggestions: list[Suggestion] = []
        self._listed = False  # the list is on screen

    def build(self, parent: str = "composer") -> None:
        """The picker's button (into the composer), the picker, and the suggestion list (last
        in the main window: drawn over the messages)."""
        self._button("🙂", "Emoji", lambda: self._open_picker(), None, parent=parent, tag="emoji_button")
        with dpg.window(tag="emoji_picker", popup=True, show=False, no_title_bar=True, autosize=True, no_move=True):
            dpg.add_input_text(tag="emoji_search", hint="find an emoji", width=PICKER_COLUMNS * (self._px() + 14),
                               callback=lambda s, a: self._fill_picker(a))
            dpg.add_group(tag="emoji_grid")
        # A child of the main window, laid over the messages (a window of its own would take the
        # keyboard from the input when it appears).
        with dpg.child_window(tag="suggestions", parent="main", show=False, width=360, height=40,
                              border=True, no_scrollbar=True):
            dpg.add_group(tag="suggestion_list")

    def _px(self) -> int:
        return self._theme.fonts.size

    def _button(self, char: str, label: str, callback: Callable[..., None], user_data: Any, **kw: Any) -> Any:
        tag = self._images.texture(char, self._px())
        if tag is not None:
            return dpg.add_image_button(tag, width=self._px(), height=self._px(), label=label, callback=callback,
                                        user_data=user_data, **kw)
        b = dpg.add_button(label=char if label == "Emoji" else label, callback=callback, user_data=user_data, **kw)
        dpg.bind_item_font(b, self._theme.fonts.emoji)
        return b

    # ------------------------------------------------------------------ picker

    def _open_picker(self) -> None:
        dpg.set_value("emoji_search", "")
        self._fill_picker("")
        x, y = dpg.get_item_rect_min("emoji_button")
        rows = -(-len(PICKER_EMOJI) // PICKER_COLUMNS)
        height = rows * (self._px() + 14) + 2 * self._px() + 30
        dpg.configure_item("emoji_picker", pos=(max(0, int(x) - PICKER_COLUMNS * (self._px() + 14)),
                                                max(0, int(y) - height)), show=True)

    def _fill_picker(self, query: str) -> None:
        query = query.strip().casefold().strip(":")
        if query:
            table = emoji_shortcodes()
            chars = list(dict.fromkeys(table[c] for c in sorted(table, key=lambda c: (len(c), c))
                                       if query in c and "_tone" not in c))[:len(PICKER_EMOJI)]
        else:
            chars = list(PICKER_EMOJI)
        dpg.delete_item("emoji_grid", children_only=True)
        for start in range(0, len(chars), PICKER_COLUMNS):
            with dpg.group(horizontal=True, parent="emoji_grid"):
                for char in chars[start:start + PICKER_COLUMNS]:
                    self._button(char, char, lambda s, a, u: self._picked(u), char)

    def _picked(self, char: str) -> None:
        dpg.configure_item("emoji_picker", show=False)
        text = dpg.get_value(INPUT)
        self._set_input(text + char)

    # ------------------------------------------------------------------ completion

    def tick(self) -> None:
        """Once a frame: the suggestions follow what was typed (recomputed only on a change)."""
        if self._replacing is not None:
            self._replace()
            return
        text = dpg.get_value(INPUT) or ""
        if text == self._seen:
            return
        self._seen = text
        if "\t" in text:  # Tab (the input takes it as text): take the first suggestion
            self._seen = text = text.replace("\t", "")
            if self.suggestions:
                self.accept(0)
                return
            self._set_input(text)
        self._start, self.suggestions = suggest(text, self._members())
        self._show_suggestions()

    def _show_suggestions(self) -> None:
        if not self.suggestions:
            if self._listed:
                dpg.configure_item("suggestions", show=False)
                dpg.delete_item("suggestion_list", children_only=True)
                self._listed = False
            return
        self._listed = True
        dpg.delete_item("suggestion_list", children_only=True)
        for i, s in enumerate(self.suggestions):
            with dpg.group(horizontal=True, parent="suggestion_list"):
                if s.emoji and (tag := self._images.texture(s.emoji, self._px())) is not None:
                    dpg.add_image(tag, width=self._px(), height=self._px())
                dpg.add_selectable(label=s.label, default_value=i == 0, width=320,
                                   callback=lambda sender, a, u: self.accept(u), user_data=i)
        x, y = dpg.get_item_rect_min(INPUT)
        height = len(self.suggestions) * (self._px() + 8) + 12
        dpg.configure_item("suggestions", pos=(int(x), max(0, int(y) - height - 4)), height=height, show=True)

    def accept(self, index: int) -> None:
        """Replace the word being completed by suggestion `index`."""
        s = self.suggestions[index]
        text = dpg.get_value(INPUT) or ""
        self._set_input(text[:self._start] + s.insert)

    def take_enter(self) -> bool:
        """Enter while suggestions are shown takes the first (and sends nothing)."""
        if not self.suggestions:
            return False
        self.accept(0)
        return True

    def _set_input(self, text: str) -> None:
        """Replace the input's text. An input being typed in keeps its own copy (Dear PyGui's
        value is not read back until it lets go), so it is made to let go first; it is
        then left for a click to take up again: Dear PyGui can give it the keyboard only with
        all its text selected, which the next key would wipe out."""
        self._replacing, self._replace_in = text, 2
        self._seen = text
        self._start, self.suggestions = len(text), []
        self._show_suggestions()
        dpg.configure_item(INPUT, show=False)

    def _replace(self) -> None:
        """Frame 1: shown again, the input writes back the text it held when it let go (Dear
        ImGui applies an edit deactivated while hidden); frame 2: the new text goes in."""
        self._replace_in -= 1
        if self._replace_in == 1:
            dpg.configure_item(INPUT, show=True)
            return
        dpg.set_value(INPUT, self._replacing)
        self._replacing = None
