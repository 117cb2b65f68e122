"""Fonts and colours: the palette in use (data, see palette.py) made into Dear PyGui themes.

Views read `Theme.palette` when they draw; after a switch the window has them redraw."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from pyrtc.client.settings import Settings

from .emoji_text import LineFonts
from .palette import PALETTES, Palette

__all__ = ["Fonts", "Theme", "has_emoji", "kiosk_text_size"]

ASSETS = Path(str(files("pyrtc.assets")))
PANELS = ("rooms_panel", "members_panel")  # drawn on the panel colour
OVERLAYS = ("suggestions",)  # child windows laid over others: drawn on the window colour

#: The controls' look is data: each Dear PyGui colour slot and the palette field that fills it
#: (palette.py), and the styles that make inputs and buttons read as such (a 1 px frame).
COLOURS: tuple[tuple[int, str], ...] = (
    (dpg.mvThemeCol_WindowBg, "bg"), (dpg.mvThemeCol_PopupBg, "panel"),
    (dpg.mvThemeCol_Text, "text"), (dpg.mvThemeCol_TextDisabled, "muted"),
    (dpg.mvThemeCol_FrameBg, "field"), (dpg.mvThemeCol_FrameBgHovered, "field"),
    (dpg.mvThemeCol_FrameBgActive, "field"),
    (dpg.mvThemeCol_Button, "button"), (dpg.mvThemeCol_ButtonHovered, "button_hover"),
    (dpg.mvThemeCol_ButtonActive, "button_active"),
    (dpg.mvThemeCol_Header, "accent"), (dpg.mvThemeCol_HeaderHovered, "button_hover"),
    (dpg.mvThemeCol_HeaderActive, "button_active"),
    (dpg.mvThemeCol_TitleBg, "panel"), (dpg.mvThemeCol_TitleBgActive, "accent"),
    (dpg.mvThemeCol_Border, "border"), (dpg.mvThemeCol_Separator, "separator"),
    (dpg.mvThemeCol_PlotHistogram, "accent"), (dpg.mvThemeCol_ScrollbarBg, "bg"),
    (dpg.mvThemeCol_CheckMark, "accent"), (dpg.mvThemeCol_TextSelectedBg, "button_active"),
)
ITEM_SPACING = (8, 3)
FRAME_PADDING = (7, 3)  # also the top and bottom of every line of text (Dear PyGui gives text a frame's height)
STYLES: tuple[tuple[int, tuple[float, ...]], ...] = (
    (dpg.mvStyleVar_FrameRounding, (5,)), (dpg.mvStyleVar_ChildRounding, (6,)),
    (dpg.mvStyleVar_FrameBorderSize, (1,)), (dpg.mvStyleVar_FramePadding, FRAME_PADDING),
    (dpg.mvStyleVar_ItemSpacing, ITEM_SPACING),
    (dpg.mvStyleVar_ChildBorderSize, (0,)), (dpg.mvStyleVar_PopupBorderSize, (1,)),
    (dpg.mvStyleVar_PopupRounding, (6,)),
)


WINDOW_TEXT = 17  # px: the window's text size (Dear PyGui's font size: ascent to descent)
CAP_PER_SIZE = 0.626  # DejaVu Sans: cap height 1493 / 2048 em, em = size * 2048 / 2384
KIOSK_CAP = 1 / 45  # of the screen height: readable across a room (signage: ~30-40 pt at 3 m)
RASTER_SLACK = 1.05  # a rasterised capital can come out a pixel short of its outline
CJK_SCALE = 1.08  # Droid Sans Fallback draws its ideographs a little small beside DejaVu


def kiosk_text_size(screen_height: int) -> int:
    """The kiosk's body text size for a screen: its capitals at least 1/45 of the height."""
    return max(WINDOW_TEXT, math.ceil(screen_height * KIOSK_CAP / CAP_PER_SIZE * RASTER_SLACK))


@dataclass(frozen=True)
class Fonts:
    text: Any  # Dear PyGui item ids
    bold: Any
    emoji: Any  # Symbola: monochrome emoji where no colour emoji font is installed
    cjk: Any
    size: int
    title: Any = None  # larger: the kiosk's room title and clock
    title_size: int = 0
    italic: Any = None  # _italic_ and `code` in messages (message_text.py)
    mono: Any = None

    @property
    def body(self) -> LineFonts:
        return LineFonts(text=self.text, cjk=self.cjk, symbol=self.emoji, px=self.size, bold=self.bold,
                         italic=self.italic, mono=self.mono)

    @property
    def names(self) -> LineFonts:
        return LineFonts(text=self.bold, cjk=self.cjk, symbol=self.emoji, px=self.size)


def has_emoji(text: str) -> bool:
    """DejaVu has no emoji; Symbola has both, so a label with any (a button's, drawn in one
    font) can be drawn in Symbola. Message text goes through emoji_text (colour, inline)."""
    return any(ord(c) >= 0x1F000 or 0x2600 <= ord(c) < 0x2700 for c in text)


class Theme:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.palette: Palette = PALETTES.get(settings.get("theme", "dark"), PALETTES["dark"])
        self._fonts: Fonts | None = None
        self._made: dict[str, Any] = {}  # item themes of the current palette

    @property
    def fonts(self) -> Fonts:
        assert self._fonts is not None, "load_fonts() comes first"
        return self._fonts

    def load_fonts(self, kiosk_screen: int | None = None) -> None:
        """DejaVu for text, accents, ✓ ●; Droid Sans Fallback for CJK; Symbola for emoji where
        no colour emoji font is installed (Dear PyGui 2 loads glyphs as they are used).
        `kiosk_screen`: a kiosk's screen height, which its type is sized from."""
        size = kiosk_text_size(kiosk_screen) if kiosk_screen else WINDOW_TEXT
        names = round(size * 1.15) if kiosk_screen else size  # across a room: names stand out
        fonts = ASSETS / "fonts"
        with dpg.font_registry():
            self._fonts = Fonts(text=dpg.add_font(str(fonts / "DejaVuSans.ttf"), size),
                                bold=dpg.add_font(str(fonts / "DejaVuSans-Bold.ttf"), names),
                                emoji=dpg.add_font(str(fonts / "Symbola.ttf"), size + 6),
                                cjk=dpg.add_font(str(fonts / "DroidSansFallback.ttf"), round(size * CJK_SCALE)),
                                size=size,
                                title=dpg.add_font(str(fonts / "DejaVuSans-Bold.ttf"), round(size * 1.6)),
                                title_size=round(size * 1.6),
                                italic=dpg.add_font(str(fonts / "DejaVuSans-Oblique.ttf"), size),
                                mono=dpg.add_font(str(fonts / "DejaVuSansMono.ttf"), size - 1))
        dpg.bind_font(self._fonts.text)

    def toggle(self) -> None:
        self.palette = PALETTES["light" if self.palette.name == "dark" else "dark"]
        self._settings.set("theme", self.palette.name)

    def apply(self) -> None:
        pal = self.palette
        with dpg.theme() as theme:
            with dpg.theme_component(dpg.mvAll):
                for target, field in COLOURS:
                    dpg.add_theme_color(target, getattr(pal, field), category=dpg.mvThemeCat_Core)
                # A child window on the window's colour is left unfilled: the same pixels, and
                # under llvmpipe each filled area costs every frame (the message list's ~7 ms).
                dpg.add_theme_color(dpg.mvThemeCol_ChildBg, (*pal.bg, 0), category=dpg.mvThemeCat_Core)
                for style, value in STYLES:
                    dpg.add_theme_style(style, *value, category=dpg.mvThemeCat_Core)
        with dpg.theme() as panel_theme:
            with dpg.theme_component(dpg.mvAll):
                dpg.add_theme_color(dpg.mvThemeCol_ChildBg, pal.panel, category=dpg.mvThemeCat_Core)
        with dpg.theme() as overlay_theme:
            with dpg.theme_component(dpg.mvAll):
                dpg.add_theme_color(dpg.mvThemeCol_ChildBg, pal.bg, category=dpg.mvThemeCat_Core)
        dpg.bind_theme(theme)
        for tag in PANELS:
            dpg.bind_item_theme(tag, panel_theme)
        for tag in OVERLAYS:
            if dpg.does_item_exist(tag):
                dpg.bind_item_theme(tag, overlay_theme)
        self._made.clear()  # the item themes below are made again in the new colours

    def accent_button(self) -> Any:
        """A theme for a button that is on (a reaction of yours), made once per palette."""
        return self._once("accent", lambda pal: [(dpg.mvThemeCol_Button, pal.accent)],
                          dpg.mvAll)  # buttons and emoji (image) buttons

    def link_button(self) -> Any:
        """A link: text in the link colour, no frame, underlined by the hover colour."""
        return self._once("link", lambda pal: [(dpg.mvThemeCol_Button, (*pal.bg, 0)),
                                               (dpg.mvThemeCol_ButtonHovered, (*pal.button_hover, 255)),
                                               (dpg.mvThemeCol_ButtonActive, (*pal.button_active, 255)),
                                               (dpg.mvThemeCol_Text, pal.link)],
                          dpg.mvButton, styles=[(dpg.mvStyleVar_FrameBorderSize, (0,)),
                                                (dpg.mvStyleVar_FramePadding, (1, FRAME_PADDING[1]))])
        # The text's own padding: the link sits on the baseline of the text around it.

    def quote_button(self) -> Any:
        """A reply's quote of what it answers: muted text, no frame, a click jumps there."""
        return self._once("quote", lambda pal: [(dpg.mvThemeCol_Button, (*pal.bg, 0)), (dpg.mvThemeCol_Text, pal.muted),
                                                (dpg.mvThemeCol_ButtonHovered, (*pal.button_hover, 255))],
                          dpg.mvButton, styles=[(dpg.mvStyleVar_FrameBorderSize, (0,)),
                                                (dpg.mvStyleVar_FramePadding, (1, FRAME_PADDING[1]))])

    def card(self) -> Any:
        """A file's card: the panel colour inside a 1 px frame."""
        return self._once("card", lambda pal: [(dpg.mvThemeCol_ChildBg, pal.panel), (dpg.mvThemeCol_Border, pal.border)],
                          dpg.mvAll, styles=[(dpg.mvStyleVar_ChildBorderSize, (1,)),
                                             (dpg.mvStyleVar_WindowPadding, (8, 8))])

    def divider(self) -> Any:
        """The "New messages" divider: its line and label in the mention badge's red."""
        return self._once("divider", lambda pal: [(dpg.mvThemeCol_Separator, pal.badge_mention),
                                                  (dpg.mvThemeCol_Text, pal.badge_mention)], dpg.mvAll)

    def mention_band(self) -> Any:
        """The band behind a message that mentions you."""
        return self._once("mention", lambda pal: [(dpg.mvThemeCol_ChildBg, pal.mention_bg)], dpg.mvAll,
                          styles=[(dpg.mvStyleVar_WindowPadding, (0, 2))])

    def _once(self, key: str, colours: Callable[[Palette], list[tuple[int, tuple[int, ...]]]], component: int,
              styles: Sequence[tuple[int, tuple[float, ...]]] = ()) -> Any:
        """An item theme of the current palette, made once (until the palette changes)."""
        if key not in self._made:
            with dpg.theme() as t, dpg.theme_component(component):
                for target, colour in colours(self.palette):
                    dpg.add_theme_color(target, colour, category=dpg.mvThemeCat_Core)
                for style, value in styles:
                    dpg.add_theme_style(style, *value, category=dpg.mvThemeCat_Core)
            self._made[key] = t
        return self._made[key]
