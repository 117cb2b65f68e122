from __future__ import annotations

import os
from pathlib import Path

import blake3
import pytest

from pyrtc.store import BlobError, BlobStore

ANN = BlobStore.owner_tag("ann")


def content_id(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


@pytest.fixture
def blobs(tmp_path: Path) -> BlobStore:
    return BlobStore(tmp_path / "files")


def test_upload_in_chunks_then_finish(blobs: BlobStore) -> None:
    data = bytes(range(256)) * 1000
    h = content_id(data)
    assert blobs.begin(h, len(data), ANN) == 0
    with blobs.open_part(h, len(data), ANN) as part:
        part.write(0, data[:1000])
    assert blobs.begin(h, len(data), ANN) == 1000  # resume point
    with blobs.open_part(h, len(data), ANN) as part:
        part.write(1000, data[1000:])
    path = blobs.finish(h, len(data), ANN)
    assert path.read_bytes() == data and blobs.has(h)
    assert blobs.unfinished() == 0 and list((blobs.root / "uploads").iterdir()) == []


def test_out_of_order_chunk_is_refused(blobs: BlobStore) -> None:
    with blobs.open_part("a" * 64, 10, ANN) as part, pytest.raises(BlobError, match="resume there"):
        part.write(5, b"x")


def test_chunk_past_the_offered_size_is_refused(blobs: BlobStore) -> None:
    with blobs.open_part("a" * 64, 3, ANN) as part, pytest.raises(BlobError, match="past the offered size"):
        part.write(0, b"xxxx")


def test_wrong_hash_is_discarded_and_never_visible(blobs: BlobStore) -> None:
    h = "c" * 64
    with blobs.open_part(h, 4, ANN) as part:
        part.write(0, b"abcd")
    with pytest.raises(BlobError, match="does not match its id"):
        blobs.finish(h, 4, ANN)
    assert not blobs.has(h)
    assert blobs.begin(h, 4, ANN) == 0


@pytest.mark.parametrize("bad", ["../../etc/passwd", "A" * 64, "a" * 63, "a" * 64 + "\n", ""])
def test_ids_that_are_not_64_hex_digits_never_become_paths(blobs: BlobStore, bad: str) -> None:
    with pytest.raises(BlobError, match="not a file id"):
        blobs.path(bad)
    with pytest.raises(BlobError):
        blobs.open_part(bad, 1, ANN)


def test_everything_stays_under_the_root(blobs: BlobStore, tmp_path: Path) -> None:
    h = blobs.put(b"thumb")
    assert blobs.path(h).resolve().is_relative_to((tmp_path / "files").resolve())


def test_zero_byte_file(blobs: BlobStore) -> None:
    h = content_id(b"")
    assert blobs.begin(h, 0, ANN) == 0
    assert blobs.finish(h, 0, ANN).read_bytes() == b""


def test_each_uploader_has_its_own_part(blobs: BlobStore) -> None:
    data = os.urandom(3000)
    h, bob = content_id(data), BlobStore.owner_tag("bob")
    with blobs.open_part(h, len(data), ANN) as part:
        part.write(0, data[:1000])
    assert blobs.begin(h, len(data), ANN) == 1000 and blobs.begin(h, len(data), bob) == 0
    with blobs.open_part(h, len(data), bob) as part:  # both at once: no "busy"
        part.write(0, data)
    assert blobs.finish(h, len(data), bob).read_bytes() == data
    with blobs.open_part(h, len(data), ANN) as part:
        part.write(1000, b"\0" * 2000)
    with pytest.raises(BlobError, match="does not match"):  # the body is there: checked all the same
        blobs.finish(h, len(data), ANN)
    assert blobs.path(h).read_bytes() == data


def test_owner_tags_that_are_not_16_hex_digits_never_become_paths(blobs: BlobStore) -> None:
    with pytest.raises(BlobError, match="not an owner tag"):
        blobs.open_part("a" * 64, 1, "../../x")


def test_unfinished_uploads_are_counted_and_dropped_least_recently_written_first(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "files", clock=lambda: 10_000.0)
    old, new, busy = "1" * 64, "2" * 64, "3" * 64
    for h in (old, new):
        with blobs.open_part(h, 200_000, ANN) as part:
            part.write(0, b"x")
    os.utime(blobs.root / "uploads" / f"{old}-200000-{ANN}.part", (1000, 1000))
    os.utime(blobs.root / "uploads" / f"{new}-200000-{ANN}.part", (2000, 2000))
    writer = blobs.open_part(busy, 10, BlobStore.owner_tag("bob"))  # charged 64 KiB at least
    assert blobs.unfinished() == 400_000 + 65_536 and blobs.unfinished(ANN) == 400_000
    assert blobs.make_room(200_000, 500_000)
    assert blobs.has_part(new, 200_000, ANN) and not blobs.has_part(old, 200_000, ANN)
    assert not blobs.make_room(500_000, 500_000)  # the open one is never dropped
    assert blobs.unfinished() == 65_536
    writer.close()
    assert blobs.sweep_parts(ttl=10_000.0) == 0  # written "now"
    os.utime(blobs.root / "uploads" / f"{busy}-10-{BlobStore.owner_tag('bob')}.part", (0, 0))
    assert blobs.sweep_parts(ttl=5000.0) == 1 and blobs.unfinished() == 0


def test_parts_are_found_again_and_strays_dropped(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "files")
    with blobs.open_part("a" * 64, 100_000, ANN) as part:
        part.write(0, b"abc")
    (blobs.root / "uploads" / ("b" * 64 + "-10.part")).write_bytes(b"older version")
    again = BlobStore(tmp_path / "files")
    assert again.unfinished(ANN) == 100_000 and again.begin("a" * 64, 100_000, ANN) == 3
    assert [q.name for q in (blobs.root / "uploads").iterdir()] == [f"{'a' * 64}-100000-{ANN}.part"]
