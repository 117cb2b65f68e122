"""A file's id, on the wire and on disk: the BLAKE3 hash of its bytes, as 64 hex digits.

BLAKE3 rather than SHA-256 because each transfer is hashed on both ends, and here BLAKE3
runs at about 10 GB/s against SHA-256's 2 GB/s: SHA-256 alone took a third of a 200 MiB
upload's time. Stores from before (SHA-256 ids) are renamed at start: `pyrtc.store.rehash`.
"""

from __future__ import annotations

from pathlib import Path

import blake3

__all__ = ["hasher", "of_bytes", "of_file"]


def hasher() -> blake3.blake3:
    """A running hash: `.update(chunk)` as bytes arrive, `.hexdigest()` for the id."""
    return blake3.blake3()


def of_bytes(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def of_file(path: Path) -> str:
    """The id of a file's current content (reads it all: run it off the event loop)."""
    h = blake3.blake3()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()
