"""Themes are data: two palettes, and everything that colours the window reads them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Palette", "DARK", "LIGHT", "PALETTES", "RGB"]

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Palette:
    name: str
    bg: RGB  # window background
    panel: RGB  # side panels
    text: RGB
    muted: RGB  # times, typing line, hints
    accent: RGB  # buttons, selection
    own: RGB  # your own name above your messages
    read: RGB  # blue ✓✓
    sent: RGB  # grey ✓ / ✓✓
    ok: RGB  # connected dot
    warn: RGB  # reconnecting dot; the text of a message that mentions you
    error: RGB


DARK = Palette("dark", bg=(24, 26, 31), panel=(32, 35, 42), text=(230, 232, 236), muted=(140, 146, 158),
               accent=(64, 120, 220), own=(120, 200, 255), read=(52, 152, 255),
               sent=(150, 155, 165), ok=(70, 200, 120), warn=(240, 180, 60), error=(240, 90, 90))
LIGHT = Palette("light", bg=(246, 247, 249), panel=(232, 235, 240), text=(28, 30, 36), muted=(110, 116, 128),
                accent=(40, 100, 210), own=(20, 90, 180), read=(10, 120, 240),
                sent=(130, 135, 145), ok=(30, 150, 80), warn=(200, 130, 0), error=(200, 40, 40))
PALETTES = {"dark": DARK, "light": LIGHT}
