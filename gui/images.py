"""Pictures -> Dear PyGui textures: Pillow decodes, numpy makes the flat RGBA float array."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

__all__ = ["rgba_texture"]


def rgba_texture(data: bytes, max_side: int = 320) -> tuple[int, int, np.ndarray]:
    """(width, height, flat float32 RGBA in 0..1) of a picture, at most max_side px."""
    with Image.open(io.BytesIO(data)) as im:
        im.thumbnail((max_side, max_side))
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
    h, w = rgba.shape[:2]
    return w, h, rgba.ravel()
