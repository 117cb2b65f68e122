"""Fonts and colours: the palette in use (data, see palette.py) made into Dear PyGui themes.

Views read `Theme.palette` when they draw; after a switch the window has them redraw."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from pyrtc.client.settings import Settings

from .palette import PALETTES, Palette

__all__ = ["Fonts", "Theme", "has_emoji"]

ASSETS = Path(str(files("pyrtc.assets")))
PANELS = ("rooms_panel", "members_panel")  # drawn on the panel colour


@dataclass(frozen=True)
class Fonts:
    text: Any  # Dear PyGui item ids
    bold: Any
    emoji: Any
    italic: Any = None  # _italic_ and `code` in messages (formatting.py)
    mono: Any = None


def has_emoji(text: str) -> bool:
    """DejaVu has no emoji; Symbola has both, so a text with any is drawn in Symbola."""
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

    def load_fonts(self, kiosk: bool) -> None:
        """DejaVu for text, accents, ✓ ●; Symbola for emoji (Dear PyGui 2 loads glyph ranges itself)."""
        size = 26 if kiosk else 17
        with dpg.font_registry():
            self._fonts = Fonts(text=dpg.add_font(str(ASSETS / "fonts" / "DejaVuSans.ttf"), size),
                                bold=dpg.add_font(str(ASSETS / "fonts" / "DejaVuSans-Bold.ttf"), size),
                                emoji=dpg.add_font(str(ASSETS / "fonts" / "Symbola.ttf"), size + 6),
                                italic=dpg.add_font(str(ASSETS / "fonts" / "DejaVuSans-Oblique.ttf"), size),
                                mono=dpg.add_font(str(ASSETS / "fonts" / "DejaVuSansMono.ttf"), size - 1))
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
        with dpg.theme() as t, dpg.theme_component(dpg.mvButton):
            dpg.add_theme_color(dpg.mvThemeCol_Button, self.palette.accent, category=dpg.mvThemeCat_Core)
        return t
