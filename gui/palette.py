"""Themes are data: two palettes, and everything that colours the window reads them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Palette", "DARK", "LIGHT", "PALETTES", "RGB", "AVATAR_COLOURS"]

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
    warn: RGB  # reconnecting dot; the bar beside a message that mentions you
    error: RGB
    # Controls: inputs and buttons drawn as such (a border, a field colour, hover/active states).
    field: RGB  # the inside of an input
    border: RGB  # the frame of inputs and buttons
    button: RGB
    button_hover: RGB
    button_active: RGB
    link: RGB  # links in messages
    mention_bg: RGB  # the band behind a message that mentions you
    badge: RGB  # unread count of a room
    badge_mention: RGB  # mentions of you in a room
    separator: RGB  # day separators and the "New messages" divider's line


DARK = Palette("dark", bg=(24, 26, 31), panel=(32, 35, 42), text=(230, 232, 236), muted=(140, 146, 158),
               accent=(64, 120, 220), own=(120, 200, 255), read=(52, 152, 255),
               sent=(150, 155, 165), ok=(70, 200, 120), warn=(240, 180, 60), error=(240, 90, 90),
               field=(17, 19, 23), border=(78, 84, 98), button=(48, 53, 64), button_hover=(64, 72, 88),
               button_active=(64, 120, 220), link=(110, 170, 255), mention_bg=(58, 50, 30),
               badge=(90, 98, 116), badge_mention=(225, 70, 70), separator=(60, 65, 76))
LIGHT = Palette("light", bg=(246, 247, 249), panel=(232, 235, 240), text=(28, 30, 36), muted=(110, 116, 128),
                accent=(40, 100, 210), own=(20, 90, 180), read=(10, 120, 240),
                sent=(130, 135, 145), ok=(30, 150, 80), warn=(200, 130, 0), error=(200, 40, 40),
                field=(255, 255, 255), border=(160, 166, 178), button=(222, 226, 233),
                button_hover=(204, 212, 226), button_active=(40, 100, 210), link=(20, 90, 200),
                mention_bg=(253, 240, 205), badge=(120, 128, 144), badge_mention=(210, 40, 40),
                separator=(200, 204, 212))
PALETTES = {"dark": DARK, "light": LIGHT}

#: Avatar discs: twelve hues at least 20° apart, dark enough for white initials (contrast ≥ 3.6:1).
AVATAR_COLOURS: tuple[RGB, ...] = (
    (174, 41, 41), (174, 94, 41), (157, 125, 37), (90, 140, 33), (33, 140, 51), (33, 140, 114),
    (37, 137, 157), (41, 103, 174), (41, 45, 174), (103, 41, 174), (162, 41, 174), (174, 41, 118),
)
