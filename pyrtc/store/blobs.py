"""Content-addressed file bodies on disk.

Invariants:
- A path is built only from a file id (BLAKE3 hex, pyrtc.blob_id) that matched
  ^[0-9a-f]{64}$, never from a user's file name, so nothing is ever written outside the
  data dir.
- A body is visible under blobs/ only after its hash was checked; until then it is a
  `.part` file under uploads/, which is what lets an upload resume after a break or a crash.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import blob_id as ids
from .errors import BlobError

__all__ = ["BlobStore", "PartWriter", "Thumbnail", "make_thumbnail", "load_image_codecs", "THUMB_MAX",
           "MAX_PIXELS"]

_HEX64 = re.compile(r"[0-9a-f]{64}")
THUMB_MAX = 320
#: Pictures larger than this are not decoded at all (a small file can claim 50,000² pixels).
MAX_PIXELS = 40_000_000


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._uploads.mkdir(parents=True, exist_ok=True)
        self._writing: set[Path] = set()  # .part files open in a PartWriter

    def path(self, blob_id: str) -> Path:
        _check(blob_id)
        return self._blobs / blob_id[:2] / blob_id

    def has(self, blob_id: str) -> bool:
        return self.path(blob_id).is_file()

    def size(self, blob_id: str) -> int:
        return self.path(blob_id).stat().st_size

    def begin(self, blob_id: str, size: int) -> int:
        """Bytes already held for this upload: size if the blob exists, else the .part size."""
        if self.has(blob_id):
            return size
        part = self._part(blob_id, size)
        if part.exists():
            have = part.stat().st_size
            if have <= size:
                return have
            part.unlink()  # bigger than claimed: cannot be ours
        return 0

    def open_part(self, blob_id: str, size: int) -> PartWriter:
        """The upload's .part, kept open for its chunks (see PartWriter). One writer per file:
        two people uploading the same file at once would interleave their chunks."""
        path = self._part(blob_id, size)
        if path in self._writing:
            raise BlobError("this file is being uploaded by someone else right now; try again when "
                            "it is done (it will then be there already)")
        writer = PartWriter(path, size, on_close=lambda: self._writing.discard(path))
        self._writing.add(path)
        return writer

    def finish(self, blob_id: str, size: int, digest: str | None = None) -> Path:
        """Check the hash of a complete .part and move it into place. `digest`: the hash
        already computed while the chunks came in; without it the file is read again (slow:
        run off-loop)."""
        target = self.path(blob_id)
        part = self._part(blob_id, size)
        if target.is_file():
            part.unlink(missing_ok=True)
            return target
        if size == 0:
            part.touch()
        if digest is None:
            digest = ids.of_file(part)
        if digest != blob_id:
            part.unlink()
            raise BlobError("the file's content does not match its id (BLAKE3) in the offer; "
                            "upload discarded")
        target.parent.mkdir(exist_ok=True)
        os.replace(part, target)
        return target

    def put(self, data: bytes) -> str:
        """Store small bytes (thumbnails) directly; returns their id."""
        blob_id = ids.of_bytes(data)
        target = self.path(blob_id)
        if not target.is_file():
            target.parent.mkdir(exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        return blob_id

    def stored(self) -> list[Path]:
        """Every stored body's path (maintenance: the id upgrade in `rehash`)."""
        return sorted(q for q in self._blobs.glob("??/*") if q.is_file() and _HEX64.fullmatch(q.name))

    def drop_parts(self) -> None:
        """Forget every unfinished upload."""
        for part in self._uploads.glob("*.part"):
            part.unlink(missing_ok=True)

    def _part(self, blob_id: str, size: int) -> Path:
        _check(blob_id)
        return self._uploads / f"{blob_id}-{int(size)}.part"


class PartWriter:
    """An upload's .part file, open while its chunks arrive, hashed as it grows (so that
    finishing needs no second read of the whole file). An upload resumed from an earlier
    .part has no hash of that start: `hexdigest()` is then None."""

    def __init__(self, path: Path, size: int, on_close: Callable[[], None] = lambda: None) -> None:
        self._file = open(path, "ab")  # noqa: SIM115 - closed by close()
        self._on_close = on_close
        self.length = self._file.tell()
        self.size = size
        self._hash = ids.hasher() if self.length == 0 else None

    def write(self, offset: int, data: bytes) -> int:
        """Append a chunk at `offset` (must be where the .part ends); returns the new length."""
        if offset != self.length:
            raise BlobError(f"chunk at offset {offset}, but the server has {self.length} bytes; resume there")
        if offset + len(data) > self.size:
            raise BlobError(f"chunk ends at {offset + len(data)}, past the offered size {self.size}")
        self._file.write(data)
        if self._hash is not None:
            self._hash.update(data)
        self.length += len(data)
        return self.length

    def hexdigest(self) -> str | None:
        return self._hash.hexdigest() if self._hash is not None else None

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()
            self._on_close()

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check(blob_id: str) -> None:
    if not _HEX64.fullmatch(blob_id):
        raise BlobError(f"not a file id: {blob_id[:80]!r}")


@dataclass(frozen=True, slots=True)
class Thumbnail:
    png: bytes
    width: int  # of the original picture
    height: int


def load_image_codecs() -> None:
    """Import Pillow and its format plugins now (~40 ms), at start, rather than inside the
    first upload, whose ✓ would wait for it."""
    from PIL import Image

    Image.init()


def make_thumbnail(path: Path, max_side: int = THUMB_MAX) -> Thumbnail | None:
    """A PNG at most `max_side` px on its longer side, or None if `path` is not a picture
    Pillow can decode (a file that only claims to be an image is just a file)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:  # reads the header only
            w, h = im.size
            if w * h > MAX_PIXELS:
                return None  # a decompression bomb, or just too big to preview: a plain file
            im.thumbnail((max_side, max_side))
            out = io.BytesIO()
            im.convert("RGBA").save(out, "PNG")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return Thumbnail(out.getvalue(), w, h)
