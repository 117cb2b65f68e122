"""Thumbnails of pictures: which files get one, and the worker process that makes them.

The server runs this file as a script (`python -I thumbnails.py MEMORY`, see thumbnailer.py):
it reads one request a line (JSON: path, max_side, max_pixels) and answers each with a
12-byte head (width, height, PNG length, big-endian; length 0: no thumbnail) and the PNG.

Invariants:
- Only PNG, JPEG, GIF and WebP are ever decoded: Pillow's other readers (EPS runs
  Ghostscript; QOI, DDS, SPIDER, ICNS and others raise what nobody expects on a broken
  file) are never tried, whatever the file's name or claimed type.
- A picture of more than max_pixels is not decoded. The worker's address space is capped
  (RLIMIT_AS), it may write no file (RLIMIT_FSIZE 0) and it runs without PATH: a decoder,
  however fooled, cannot spend the server's memory, fill its disk or start a program.
- Any failure means "no thumbnail", never a crash of the loop: the next request is served.
- Imports nothing of pyrtc: it runs as a script, outside the package.
"""

from __future__ import annotations

import io
import json
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["Thumbnail", "FORMATS", "PICTURE_TYPES", "THUMB_MAX", "MAX_PIXELS", "picture_mime", "make_thumbnail",
           "serve", "HEAD"]

#: Pillow's names of the formats that get a thumbnail, with their MIME types.
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
PICTURE_TYPES = frozenset(FORMATS.values())
THUMB_MAX = 320
#: Pictures larger than this are not decoded at all (a small file can claim 50,000² pixels).
MAX_PIXELS = 40_000_000
#: An answer's head: width, height and the PNG's length.
HEAD = struct.Struct(">III")


@dataclass(frozen=True, slots=True)
class Thumbnail:
    png: bytes
    width: int  # of the original picture
    height: int


def picture_mime(head: bytes) -> str | None:
    """The MIME type of a file that starts with `head` (16 bytes) if it is one of FORMATS."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FORMATS["PNG"]
    if head.startswith(b"\xff\xd8\xff"):
        return FORMATS["JPEG"]
    if head.startswith((b"GIF87a", b"GIF89a")):
        return FORMATS["GIF"]
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return FORMATS["WEBP"]
    return None


def make_thumbnail(path: Path, max_side: int = THUMB_MAX, max_pixels: int = MAX_PIXELS) -> Thumbnail | None:
    """A PNG at most `max_side` px on its longer side, or None if `path` is not a picture of
    FORMATS that Pillow decodes within `max_pixels`. In-process: the server calls this only
    through the worker."""
    from PIL import Image

    try:
        with Image.open(path, formats=list(FORMATS)) as im:  # reads the header only
            w, h = im.size
            if w * h > max_pixels:
                return None  # a decompression bomb, or just too big to preview: a plain file
            im.thumbnail((max_side, max_side))
            out = io.BytesIO()
            im.convert("RGBA").save(out, "PNG")
    except Exception:  # noqa: BLE001 - decoders raise anything on broken files, MemoryError too
        return None
    return Thumbnail(out.getvalue(), w, h)


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer each request line until `requests` ends (the server closed the pipe or died)."""
    for line in requests:
        thumb = None
        try:
            req = json.loads(line)
            thumb = make_thumbnail(Path(req["path"]), int(req["max_side"]), int(req["max_pixels"]))
        except Exception:  # noqa: BLE001 - a bad request gets "no thumbnail", like a bad picture
            pass
        if thumb is None:
            answers.write(HEAD.pack(0, 0, 0))
        else:
            answers.write(HEAD.pack(thumb.width, thumb.height, len(thumb.png)) + thumb.png)
        answers.flush()


def _limit(memory: int) -> None:
    """Cap this process before it touches a picture (where the platform allows)."""
    try:
        import resource
    except ImportError:  # Windows: no rlimits; the server's time limit still applies
        return
    for which, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_FSIZE, 0), (resource.RLIMIT_CORE, 0)):
        _, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        try:
            resource.setrlimit(which, (value, value))
        except (ValueError, OSError):
            pass  # e.g. not supported here (macOS and RLIMIT_AS)


def main(argv: list[str]) -> int:
    _limit(int(argv[1]))
    from PIL import GifImagePlugin, JpegImagePlugin, PngImagePlugin  # noqa: F401 - the readers used

    try:
        from PIL import WebPImagePlugin  # noqa: F401 - a Pillow built without WebP has none
    except ImportError:
        pass
    serve(sys.stdin.buffer, sys.stdout.buffer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
