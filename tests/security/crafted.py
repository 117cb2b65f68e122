"""Files made to attack the server's picture handling: broken pictures of the formats whose
Pillow decoders raise what nobody catches, PostScript that makes Pillow run Ghostscript, and
a PNG of many pixels in few bytes. Built here byte by byte, so the tests need no samples."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

__all__ = ["BROKEN", "EPS", "write_blank_png", "png_chunk"]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _ihdr(width: int, height: int) -> bytes:
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))


def _png_with_a_garbled_chunk(animated: bool) -> bytes:
    """A valid start, the first bytes of the pixels, then a chunk whose type is not letters:
    Pillow's PNG reader raises SyntaxError while decoding."""
    rows = zlib.compress(b"".join(b"\0" + b"\0" * 48 for _ in range(16)))
    frames = b""
    if animated:  # APNG: two frames announced, the first one's control chunk given
        frames = (png_chunk(b"acTL", struct.pack(">II", 2, 0))
                  + png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", 0, 16, 16, 0, 0, 1, 1, 0, 0)))
    return (PNG_MAGIC + _ihdr(16, 16) + frames + png_chunk(b"IDAT", rows[:10])
            + b"\x00\x00\x00\x05\x00\x01\x02\x03hello" + b"\0" * 40)


def _spider_stack_entry() -> bytes:
    """A SPIDER header for one picture of a stack but without the stack: Pillow's reader asks
    for an attribute it never set (AttributeError)."""
    head = [0.0] * 27
    head[0] = head[1] = head[11] = 64.0  # slices, rows, columns
    head[4] = 1.0  # a 2-D picture
    head[12] = 1.0  # header records
    head[21] = head[22] = 256.0  # header bytes, record bytes
    head[26] = 3.0  # picture 3 of a stack, yet no stack
    return struct.pack(">27f", *head) + b"\0" * (256 - 108 + 64 * 64 * 4)


def _dds_unknown_pixels() -> bytes:
    """A DDS header with a pixel format Pillow does not know (NotImplementedError)."""
    header = struct.pack("<7I", 124, 0x1007, 16, 16, 0, 0, 0) + b"\0" * 44
    pixel_format = struct.pack("<2I", 32, 0x4) + b"XYZW" + b"\0" * 20
    return b"DDS " + header + pixel_format + b"\0" * 276


def _icns_short_channel() -> bytes:
    """An ICNS whose 16x16 icon's run-length data ends early (SyntaxError while decoding)."""
    body = b"\x05" + b"\x01" * 6
    block = b"is32" + struct.pack(">I", 8 + len(body)) + body
    return b"icns" + struct.pack(">I", 8 + len(block)) + block


#: A broken picture per format, by the exception Pillow 12 raises on it.
BROKEN: dict[str, bytes] = {
    "qoi-IndexError": b"qoif" + struct.pack(">II", 64, 64) + bytes([4, 0]) + b"\xff" * 20,
    "png-SyntaxError": _png_with_a_garbled_chunk(animated=False),
    "apng-SyntaxError": _png_with_a_garbled_chunk(animated=True),
    "icns-SyntaxError": _icns_short_channel(),
    "dds-NotImplementedError": _dds_unknown_pixels(),
    "spider-AttributeError": _spider_stack_entry(),
}

#: Encapsulated PostScript: Pillow hands it to Ghostscript (`gs`) to draw.
EPS = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n%%EndComments\n"
       b"newpath 0 0 moveto 100 100 lineto stroke\nshowpage\n%%EOF\n")


def write_blank_png(path: Path, width: int, height: int) -> None:
    """A black RGB PNG of width x height written row by row: a few hundred KiB on disk and
    in memory here, width * height * 3 bytes for whoever decodes it."""
    squeeze = zlib.compressobj(9)
    row = b"\0" * (1 + 3 * width)
    with open(path, "wb") as f:
        f.write(PNG_MAGIC + _ihdr(width, height))
        pixels = b"".join(squeeze.compress(row) for _ in range(height)) + squeeze.flush()
        f.write(png_chunk(b"IDAT", pixels) + png_chunk(b"IEND", b""))
