"""The token bucket and the file-name cleaner that server, client and window share."""

from __future__ import annotations

from pathlib import Path

from pyrtc.filenames import display_name, free_path
from pyrtc.ratelimit import TokenBucket

from .conftest import FakeClock


def test_bucket_allows_a_burst_then_the_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, 5, clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    assert bucket.delay() == 0.1
    clock.advance(0.1)
    assert bucket.take() and not bucket.take()
    clock.advance(60)  # never more than the burst saved up
    assert sum(bucket.take() for _ in range(10)) == 5


def test_bucket_without_a_rate_never_refuses() -> None:
    bucket = TokenBucket(0.0, 1, FakeClock())
    assert all(bucket.take() for _ in range(1000)) and bucket.delay() == 0.0


def test_display_name_is_never_a_path() -> None:
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("C:\\Users\\x\\evil.exe") == "evil.exe"
    assert display_name(".bashrc") == "bashrc"
    assert display_name("a\x1b[31mred\n.txt") == "a[31mred.txt"
    assert display_name("...") == "file"
    long = display_name("x" * 400 + ".pdf")
    assert len(long) == 255 and long.endswith("….pdf")


def test_free_path_never_overwrites_and_fits_the_file_system(tmp_path: Path) -> None:
    first = free_path(tmp_path, "photo.jpg")
    first.write_bytes(b"1")
    second = free_path(tmp_path, "photo.jpg")
    assert second.name == "photo (1).jpg"
    second.with_name(second.name + ".part").write_bytes(b"")  # a download under way
    assert free_path(tmp_path, "photo.jpg").name == "photo (2).jpg"
    # 250 characters of 3 bytes each: 750 bytes, over any file system's 255 a name
    wide = free_path(tmp_path, "写" * 250 + ".txt")
    wide.write_bytes(b"ok")  # would raise ENAMETOOLONG without the cut
    assert wide.suffix == ".txt" and len(wide.name.encode()) <= 240
