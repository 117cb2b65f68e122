"""A message's text on screen: the one place the window draws it.

Formatting (formatting.py: *bold*, _italic_, `code`, fenced blocks, links) and scripts
(emoji_text.py: colour emoji, CJK) are both runs of one line: each formatted span is cut into
text/CJK/emoji runs that keep the span's style, the line is wrapped here to the width given,
and each run is drawn as a text item in its font, a colour emoji picture, or a link (a
frameless button that opens it). A text with none of these stays one text item that Dear
PyGui wraps itself at the window's edge (the fast, common case: 10,000-message rooms).

Invariants:
- Emoji textures come from EmojiImages (made once per emoji and size); nothing is rendered
  per frame.
- Before the first frame Dear PyGui cannot measure text: a wide guess wraps early, never late.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dearpygui.dearpygui as dpg

from .emoji_images import EmojiImages
from .emoji_text import Kind, LineFonts, Segment, needs_runs, segments, wrap_styled
from .formatting import Span, has_markup, parse
from .palette import RGB
from .theme import Theme

__all__ = ["TextPainter", "Style", "PLAIN"]

Style = tuple[str, str]  # a span's kind ("plain", "bold", "italic", "code", "link") and a link's target
PLAIN: Style = ("plain", "")
NOTE: Style = ("note", "")  # "(edited)" after the text: muted
LINK_SHOWN = 70  # characters of a long link shown on its button
LINK_PADDING = 2.0  # px: a link button's frame padding, left and right


@dataclass
class TextPainter:
    """Draws message text (and names) in the container being built."""
    theme: Theme
    images: EmojiImages
    open_link: Callable[[str], None] | None  # None: links are drawn, not pressed (a kiosk)

    def is_plain(self, text: str) -> bool:
        """Drawn as one text item (no emoji, CJK, formatting or link)."""
        return not needs_runs(text) and not has_markup(text)

    def message(self, text: str, *, width: float, fonts: LineFonts | None = None,
                color: RGB | None = None, note: str = "") -> Any:
        """A message's text wrapped to `width`; the id of the item or group made. `note`
        ("(edited)"): muted, at the end of the last line (then wrapped here, not by Dear PyGui)."""
        fonts = fonts or self.theme.fonts.body
        if self.is_plain(text) and not note:
            kw: dict[str, Any] = {"color": color} if color is not None else {}
            return dpg.add_text(text, wrap=0, **kw)  # 0: at the window's edge, also after a resize
        paragraphs = parse(text)
        if note and (not paragraphs or (paragraphs[-1] and paragraphs[-1][0].kind == "block")):
            paragraphs.append([])  # after a code block: on a line of its own
        with dpg.group() as group:
            for i, spans in enumerate(paragraphs):
                if spans and spans[0].kind == "block":
                    self._block(spans[0].text, fonts)
                    continue
                runs = self._runs(spans)
                if note and i == len(paragraphs) - 1:
                    runs += [(("text", " "), PLAIN), (("text", note), NOTE)]
                for line in wrap_styled(runs, max(40.0, width), self._measure(fonts)):
                    self.line(line, fonts=fonts, color=color)
        return group

    def name(self, text: str, *, fonts: LineFonts, color: RGB | None = None) -> Any:
        """One line, unwrapped, no formatting (a sender's name: 山田, 🦊 Sam)."""
        return self.line([(seg, PLAIN) for seg in segments(text)], fonts=fonts, color=color)

    def line(self, line: list[tuple[Segment, Style]], *, fonts: LineFonts, color: RGB | None = None) -> Any:
        """One line of runs side by side; the group's id."""
        if not line:  # an empty line of a paragraph keeps its height
            return dpg.add_text("")
        with dpg.group(horizontal=True, horizontal_spacing=0) as group:
            for (kind, text), style in line:
                if kind == "emoji":
                    tag = self.images.texture(text, fonts.px)
                    if tag is not None:
                        dpg.add_image(tag, width=fonts.px, height=fonts.px)
                        dpg.add_spacer(width=1)
                        continue
                if style[0] == "link":
                    self._link(text, style[1])
                    continue
                self._text(kind, text, style, fonts, color)
        return group

    def emoji_image(self, emoji: str) -> None:
        """An emoji at the text's size, in colour (in the symbol font where there is no colour font)."""
        px = self.theme.fonts.size
        tag = self.images.texture(emoji, px)
        if tag is not None:
            dpg.add_image(tag, width=px, height=px)
        else:
            dpg.bind_item_font(dpg.add_text(emoji), self.theme.fonts.emoji)

    def emoji_button(self, emoji: str, label: str, callback: Callable[..., None], user_data: Any) -> Any:
        """A button showing `emoji` in colour (its label names it: tests and tooltips read it);
        in the symbol font where no colour emoji font is installed."""
        px = self.theme.fonts.size
        tag = self.images.texture(emoji, px)
        if tag is not None:
            return dpg.add_image_button(tag, width=px, height=px, label=label, callback=callback,
                                        user_data=user_data)
        b = dpg.add_button(label=label, callback=callback, user_data=user_data)
        dpg.bind_item_font(b, self.theme.fonts.emoji)
        return b

    # ------------------------------------------------------------------ parts

    @staticmethod
    def _runs(spans: list[Span]) -> list[tuple[Segment, Style]]:
        runs: list[tuple[Segment, Style]] = []
        for span in spans:
            style: Style = (span.kind, span.text if span.kind == "link" else "")
            if span.kind == "link":
                runs.append((("text", span.text), style))  # one piece: a link is never cut
            else:
                runs += [(seg, style) for seg in segments(span.text)]
        return runs

    def _font(self, kind: Kind, style: Style, fonts: LineFonts) -> Any:
        if kind == "cjk":
            return fonts.cjk
        if kind == "emoji":
            return fonts.symbol
        return {"bold": fonts.bold, "italic": fonts.italic, "code": fonts.mono}.get(style[0]) or fonts.text

    def _measure(self, fonts: LineFonts) -> Callable[[Kind, str, Style], float]:
        colour = self.images.available

        def measure(kind: Kind, text: str, style: Style) -> float:
            if kind == "emoji" and colour:
                return fonts.px + 1
            size = dpg.get_text_size(text, font=self._font(kind, style, fonts))
            pad = 2 * LINK_PADDING if style[0] == "link" else 0.0
            return (float(size[0]) if size else len(text) * fonts.px * (1.0 if kind == "cjk" else 0.62)) + pad

        return measure

    def _text(self, kind: Kind, text: str, style: Style, fonts: LineFonts, color: RGB | None) -> None:
        code = style[0] == "code" and kind == "text"
        shown = self.theme.palette.own if code else self.theme.palette.muted if style == NOTE else color
        item = dpg.add_text(text, **({"color": shown} if shown is not None else {}))
        font = self._font(kind, style, fonts)
        if font is not None and font != self.theme.fonts.text:  # that one is bound to the window
            dpg.bind_item_font(item, font)

    def _link(self, text: str, target: str) -> None:
        label = text if len(text) <= LINK_SHOWN else text[:LINK_SHOWN - 1] + "…"
        opener = self.open_link
        if opener is None:
            dpg.add_text(label, color=self.theme.palette.link)
            return
        b = dpg.add_button(label=label, callback=lambda s, a, u: opener(u), user_data=target)
        dpg.bind_item_theme(b, self.theme.link_button())
        with dpg.tooltip(b):
            dpg.add_text(f"open {target}")

    def _block(self, body: str, fonts: LineFonts) -> None:
        """A fenced code block: monospaced, in a frame, as typed (no wrapping, no emoji)."""
        with dpg.child_window(height=0, auto_resize_y=True, border=True, width=-1, no_scrollbar=True):
            t = dpg.add_text(body, color=self.theme.palette.own)
            if fonts.mono is not None:
                dpg.bind_item_font(t, fonts.mono)
