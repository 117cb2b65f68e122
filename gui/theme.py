"""Fonts and colours: the palette in use (data, see palette.py) made into Dear PyGui themes.

Views read `Theme.palette` when they draw; after a switch the window has them redraw."""

from __future__ import annotations

import math
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

    @property
    def body(self) -> LineFonts:
        return LineFonts(text=self.text, cjk=self.cjk, symbol=self.emoji, px=self.size)

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
                                title_size=round(size * 1.6))
        dpg.bind_font(self._fonts.text)

    def toggle(self) -> None:
        self.palette = PALETTES["light" if self.palette.name == "dark" else "dark"]
        self._settings.set("theme", self.palette.name)

    def apply(self) -> None:
        pal = self.palette
        with dpg.theme() as theme:
            with dpg.theme_component(dpg.mvAll):
                for target, colour in (
                    (dpg.mvThemeCol_WindowBg, pal.bg), (dpg.mvThemeCol_ChildBg, pal.bg),
                    (dpg.mvThemeCol_PopupBg, pal.panel), (dpg.mvThemeCol_Text, pal.text),
                    (dpg.mvThemeCol_FrameBg, pal.panel), (dpg.mvThemeCol_Button, pal.panel),
                    (dpg.mvThemeCol_ButtonHovered, pal.accent), (dpg.mvThemeCol_ButtonActive, pal.accent),
                    (dpg.mvThemeCol_Header, pal.accent), (dpg.mvThemeCol_HeaderHovered, pal.accent),
                    (dpg.mvThemeCol_TitleBg, pal.panel), (dpg.mvThemeCol_TitleBgActive, pal.accent),
                    (dpg.mvThemeCol_Border, pal.panel), (dpg.mvThemeCol_PlotHistogram, pal.accent),
                    (dpg.mvThemeCol_ScrollbarBg, pal.bg), (dpg.mvThemeCol_TextDisabled, pal.muted),
                ):
                    dpg.add_theme_color(target, colour, category=dpg.mvThemeCat_Core)
                dpg.add_theme_style(dpg.mvStyleVar_FrameRounding, 4, category=dpg.mvThemeCat_Core)
                dpg.add_theme_style(dpg.mvStyleVar_ChildRounding, 6, category=dpg.mvThemeCat_Core)
        with dpg.theme() as panel_theme:
            with dpg.theme_component(dpg.mvAll):
                dpg.add_theme_color(dpg.mvThemeCol_ChildBg, pal.panel, category=dpg.mvThemeCat_Core)
        dpg.bind_theme(theme)
        for tag in PANELS:
            dpg.bind_item_theme(tag, panel_theme)

    def accent_button(self) -> Any:
        """A theme for a button that is on (a reaction of yours)."""
        with dpg.theme() as t, dpg.theme_component(dpg.mvAll):  # buttons and emoji (image) buttons
            dpg.add_theme_color(dpg.mvThemeCol_Button, self.palette.accent, category=dpg.mvThemeCat_Core)
        return t
