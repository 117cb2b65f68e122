from __future__ import annotations

import io
from pathlib import Path

import blake3
import pytest
from PIL import Image

from pyrtc.store import BlobError, BlobStore, make_thumbnail


def content_id(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "files")


def test_upload_in_chunks_then_finish(blobs: BlobStore) -> None:
    data = bytes(range(256)) * 1000
    h = content_id(data)
    assert blobs.begin(h, len(data)) == 0
    with blobs.open_part(h, len(data)) as part:
        part.write(0, data[:1000])
    assert blobs.begin(h, len(data)) == 1000  # resume point
    with blobs.open_part(h, len(data)) as part:
        part.write(1000, data[1000:])
    path = blobs.finish(h, len(data))
    assert path.read_bytes() == data and blobs.has(h)
    assert blobs.begin(h, len(data)) == len(data)  # known: nothing to send


def test_out_of_order_chunk_is_refused(blobs: BlobStore) -> None:
    with blobs.open_part("a" * 64, 10) as part, pytest.raises(BlobError, match="resume there"):
        part.write(5, b"x")


def test_chunk_past_the_offered_size_is_refused(blobs: BlobStore) -> None:
    with blobs.open_part("a" * 64, 3) as part, pytest.raises(BlobError, match="past the offered size"):
        part.write(0, b"xxxx")


def test_wrong_hash_is_discarded_and_never_visible(blobs: BlobStore) -> None:
    h = "c" * 64
    with blobs.open_part(h, 4) as part:
        part.write(0, b"abcd")
    with pytest.raises(BlobError, match="does not match its id"):
        blobs.finish(h, 4)
    assert not blobs.has(h)
    assert blobs.begin(h, 4) == 0


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "a" * 63, "a" * 64 + "\n", ""])
def test_ids_that_are_not_64_hex_digits_never_become_paths(blobs: BlobStore, bad: str) -> None:
    with pytest.raises(BlobError, match="not a file id"):
        blobs.path(bad)
    with pytest.raises(BlobError):
        blobs.open_part(bad, 1)


def test_everything_stays_under_the_root(blobs: BlobStore, tmp_path: Path) -> None:
    h = blobs.put(b"thumb")
    assert blobs.path(h).resolve().is_relative_to((tmp_path / "files").resolve())


def test_zero_byte_file(blobs: BlobStore) -> None:
    h = content_id(b"")
    assert blobs.begin(h, 0) == 0
    assert blobs.finish(h, 0).read_bytes() == b""


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
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = tmp_path / "bomb.png"  # 50,000 × 50,000 claimed in a 100-byte file
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
    assert make_thumbnail(bomb) is None
