"""Colour emoji as textures: each emoji is rendered once per pixel size from Noto Color Emoji
(Pillow draws its CBDT bitmaps in colour, only at size 109; the picture is scaled down) and
kept as a static texture for as long as the window lives. Nothing is rendered per frame.

The font is looked for in the bundled assets, then where the system's package puts it (the
file is 11 MB: scripts/setup.sh installs Debian's fonts-noto-color-emoji rather than the
repository carrying it). Without it, `texture` answers None and callers draw the emoji as
text in the symbol font (monochrome, as before)."""

from __future__ import annotations

import logging
import os
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["EmojiImages", "color_emoji_font", "render_emoji"]

log = logging.getLogger(__name__)

FONT_NAME = "NotoColorEmoji.ttf"
PLACES = (Path(str(files("pyrtc.assets"))) / "fonts", Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/noto"),
          Path("/usr/local/share/fonts"), Path.home() / ".local/share/fonts")
BITMAP_SIZE = 109  # the one size at which the CBDT strikes are drawn


def color_emoji_font() -> Path | None:
    """Where the colour emoji font is ($PYRTC_EMOJI_FONT first), or None."""
    given = os.environ.get("PYRTC_EMOJI_FONT")
    if given:
        return Path(given) if Path(given).is_file() else None
    return next((d / FONT_NAME for d in PLACES if (d / FONT_NAME).is_file()), None)


@cache
def _font(path: Path) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(path), BITMAP_SIZE)


def render_emoji(emoji: str, px: int, font: Path) -> Image.Image | None:
    """`emoji` (one grapheme: a ZWJ sequence, a flag, a keycap) as an RGBA picture px×px,
    or None where the font draws nothing for it."""
    f = _font(font)
    left, top, right, bottom = (int(v) for v in f.getbbox(emoji))
    im = Image.new("RGBA", (max(1, right - left) + 8, max(1, bottom - top) + 8), (0, 0, 0, 0))
    ImageDraw.Draw(im).text((4 - left, 4 - top), emoji, font=f, embedded_color=True)
    box = im.getbbox()
    if box is None:
        return None
    im = im.crop(box)
    side = max(im.width, im.height)  # square, centred: wide glyphs keep their proportions
    square = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    square.paste(im, ((side - im.width) // 2, (side - im.height) // 2))
    return square.resize((px, px), Image.Resampling.LANCZOS)


class EmojiImages:
    """Texture tags of rendered emoji, made on the GUI thread on first use and kept."""

    def __init__(self, font: Path | None = None, registry: str = "emoji_textures") -> None:
        self._font = font if font is not None else color_emoji_font()
        self._registry = registry
        self._tags: dict[tuple[str, int], str | None] = {}
        if self._font is None:
            log.warning("no colour emoji font (%s) found: emoji are drawn in monochrome; "
                        "install fonts-noto-color-emoji", FONT_NAME)

    @property
    def available(self) -> bool:
        return self._font is not None

    def build_registry(self) -> None:
        with dpg.texture_registry(tag=self._registry):
            pass

    def texture(self, emoji: str, px: int) -> str | None:
        """The texture of `emoji` at px×px, rendered the first time it is asked for."""
        key = (emoji, px)
        if key in self._tags:
            return self._tags[key]
        tag: str | None = None
        if self._font is not None:
            try:
                im = render_emoji(emoji, px, self._font)
            except OSError as exc:  # a broken font file: said once per emoji, drawn as text
                log.warning("emoji %r not rendered: %s", emoji, exc)
                im = None
            if im is not None:
                tag = f"emoji-{len(self._tags)}-{px}"
                pixels: Any = (np.asarray(im, dtype=np.float32) / 255.0).ravel()
                dpg.add_static_texture(px, px, pixels, tag=tag, parent=self._registry)
        self._tags[key] = tag
        return tag

    def rendered(self) -> int:
        """How many emoji textures exist (a test checks they are not made again)."""
        return sum(1 for t in self._tags.values() if t is not None)
