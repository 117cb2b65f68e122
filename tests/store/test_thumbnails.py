"""Which files get a thumbnail and how it is made (what the worker process runs)."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from pyrtc.store import make_thumbnail, picture_mime
from pyrtc.store.thumbnails import HEAD, serve

from ..security.crafted import png_chunk


def test_thumbnail_of_a_real_picture(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    Image.new("RGB", (1000, 500), (200, 30, 40)).save(path)
    thumb = make_thumbnail(path)
    assert thumb is not None and (thumb.width, thumb.height) == (1000, 500)
    im = Image.open(io.BytesIO(thumb.png))
    assert im.size == (320, 160) and im.getpixel((10, 10))[:3] == (200, 30, 40)


def test_a_file_that_only_claims_to_be_a_picture(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really" * 100)
    assert make_thumbnail(path) is None


def test_picture_claiming_huge_dimensions_is_not_decoded(tmp_path: Path) -> None:
    chunk = png_chunk
    bomb = tmp_path / "bomb.png"  # 50,000 × 50,000 claimed in a 100-byte file
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
    assert make_thumbnail(bomb) is None


@pytest.mark.parametrize("fmt,mime", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"),
                                      ("WEBP", "image/webp"), ("BMP", None), ("TIFF", None), ("ICO", None)])
def test_only_four_formats_are_pictures(tmp_path: Path, fmt: str, mime: str | None) -> None:
    path = tmp_path / "pic"
    Image.new("RGB", (40, 30), (1, 2, 3)).save(path, fmt)
    assert picture_mime(path.read_bytes()[:16]) == mime
    assert (make_thumbnail(path) is not None) is (mime is not None)  # whatever the name says


def test_the_worker_answers_each_request_even_a_bad_one(tmp_path: Path) -> None:
    pic = tmp_path / "pic.png"
    Image.new("RGB", (640, 480), (9, 8, 7)).save(pic)
    requests = b"".join(json.dumps(r).encode() + b"\n" for r in (
        {"path": str(pic), "max_side": 320, "max_pixels": 10**6},
        {"path": str(tmp_path / "missing"), "max_side": 320, "max_pixels": 10**6},
        {"path": str(pic), "max_side": 320, "max_pixels": 1000},  # over the pixel limit
    )) + b"not json\n"
    out = io.BytesIO()
    serve(io.BytesIO(requests), out)
    answers = io.BytesIO(out.getvalue())
    width, height, length = HEAD.unpack(answers.read(HEAD.size))
    assert (width, height) == (640, 480)
    assert Image.open(io.BytesIO(answers.read(length))).size == (320, 240)
    for _ in range(3):
        assert HEAD.unpack(answers.read(HEAD.size)) == (0, 0, 0)
    assert answers.read() == b""
