"""Content-addressed file bodies on disk, and the unfinished uploads on their way there.

Invariants:
- A path is built only from a file id (BLAKE3 hex, pyrtc.blob_id) that matched
  ^[0-9a-f]{64}$ and an owner tag of 16 hex digits, never from a user's file or user name,
  so nothing is ever written outside the data dir.
- A body is visible under blobs/ only after its hash was checked; until then it is a
  `.part` file under uploads/, which is what lets an upload resume after a break or a crash.
- Each `.part` belongs to one uploader (its owner tag is in its name): only that uploader
  resumes it, so nobody gets a body posted of which they sent only the end, and nobody
  learns that someone else is uploading a file.
- Every `.part` is in `_claims`, charged its announced size (at least MIN_CHARGE): what the
  server's limits on unfinished uploads count.
- A `.part` holds whole chunks only: a chunk the disk could not take is cut off again.
- Every folder is 0700 and every file 0600 (pyrtc.private): bodies of locked rooms' files.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from .. import blob_id as ids
from ..private import open_private, private_dir, write_private
from ..units import human_size
from .errors import BlobError, DiskFull, disk_full

__all__ = ["BlobStore", "PartWriter", "MIN_CHARGE"]

_HEX64 = re.compile(r"[0-9a-f]{64}")
_OWNER = re.compile(r"[0-9a-f]{16}")
_PART = re.compile(r"([0-9a-f]{64})-(\d{1,20})-([0-9a-f]{16})\.part")
#: What an unfinished upload counts at least against the limits, however small it is: so
#: that the limits bound how many `.part` files there are too.
MIN_CHARGE = 64 * 1024


class BlobStore:
    def __init__(self, root: Path, clock: Callable[[], float] = time.time) -> None:
        self.root = root
        self._clock = clock  # wall time, as the files' modification times are
        self._blobs = root / "blobs"
        self._uploads = root / "uploads"
        private_dir(self._blobs)
        private_dir(self._uploads)
        self._busy: set[Path] = set()  # .part files open in a PartWriter, or being finished
        self._claims: dict[Path, tuple[str, int]] = {}  # every .part -> (owner, bytes charged)
        for q in self._uploads.iterdir():
            m = _PART.fullmatch(q.name)
            if m and q.is_file():
                self._claims[q] = (m[3], _charge(int(m[2])))
            elif q.is_file():
                q.unlink()  # not ours to keep: an older version's part, or a torn temp file

    @staticmethod
    def owner_tag(uploader: str) -> str:
        """The tag of an uploader's `.part` files (a hash: names and ids never become paths)."""
        return ids.of_bytes(uploader.encode())[:16]

    def path(self, blob_id: str) -> Path:
        _check(blob_id)
        return self._blobs / blob_id[:2] / blob_id

    def has(self, blob_id: str) -> bool:
        return self.path(blob_id).is_file()

    def size(self, blob_id: str) -> int:
        return self.path(blob_id).stat().st_size

    def head(self, blob_id: str, n: int = 16) -> bytes:
        """The first `n` bytes of a stored body (what kind of file it is)."""
        with open(self.path(blob_id), "rb") as f:
            return f.read(n)

    def begin(self, blob_id: str, size: int, owner: str) -> int:
        """Bytes of this upload that `owner` already sent: the length of its .part, or 0."""
        part = self._part(blob_id, size, owner)
        if part.exists():
            have = part.stat().st_size
            if have <= size:
                return have
            self._drop(part)  # bigger than claimed: cannot be ours
        return 0

    def open_part(self, blob_id: str, size: int, owner: str) -> PartWriter:
        """The upload's .part, kept open for its chunks (see PartWriter). One writer per
        file and owner: the same uploader on two connections would interleave chunks."""
        path = self.pin(blob_id, size, owner)
        try:
            writer = PartWriter(path, size, on_close=lambda: self._busy.discard(path))
        except BaseException:
            self._busy.discard(path)
            raise
        self._claims[path] = (owner, _charge(size))
        return writer

    def pin(self, blob_id: str, size: int, owner: str) -> Path:
        """Mark the .part busy (being written or finished): not swept, not dropped to make
        room, not opened twice. `open_part` pins until its writer closes; else `release`."""
        path = self._part(blob_id, size, owner)
        if path in self._busy:
            raise BlobError("you are uploading this file on another connection right now; "
                            "try again when that is done")
        self._busy.add(path)
        return path

    def release(self, blob_id: str, size: int, owner: str) -> None:
        self._busy.discard(self._part(blob_id, size, owner))

    def finish(self, blob_id: str, size: int, owner: str, digest: str | None = None) -> Path:
        """Check the hash of a complete .part and move it into place (or drop it when the
        body is there already: it was checked all the same). `digest`: the hash computed
        while the chunks came in; without it the file is read again (slow: run off-loop)."""
        target = self.path(blob_id)
        part = self._part(blob_id, size, owner)
        if size == 0:
            os.close(open_private(part))
        if digest is None:
            digest = ids.of_file(part)
        if digest != blob_id:
            self._drop(part)
            raise BlobError("the file's content does not match its id (BLAKE3) in the offer; "
                            "upload discarded")
        if target.is_file():
            self._drop(part)
        else:
            private_dir(target.parent)
            os.replace(part, target)
            self._claims.pop(part, None)
        return target

    def download_path(self, blob_id: str) -> Path:
        """Where a body fetched from elsewhere (a cluster's object store) is written before
        `adopt` checks it (a torn one is removed at the next start, as any stray file there)."""
        _check(blob_id)
        return self._uploads / f"{blob_id}.{os.getpid()}.{time.monotonic_ns()}.fetch"

    def adopt(self, blob_id: str, download: Path) -> Path:
        """Move a fetched body into place once its hash is checked (slow: run off-loop)."""
        target = self.path(blob_id)
        try:
            if ids.of_file(download) != blob_id:
                raise BlobError("the fetched file's content does not match its id; not kept")
            if not target.is_file():
                private_dir(target.parent)
                os.replace(download, target)
        finally:
            download.unlink(missing_ok=True)
        return target

    def put(self, data: bytes) -> str:
        """Store small bytes (thumbnails) directly; returns their id."""
        blob_id = ids.of_bytes(data)
        target = self.path(blob_id)
        if not target.is_file():
            private_dir(target.parent)
            write_private(target, data)
        return blob_id

    def free_space(self) -> int:
        """Bytes the disk of the unfinished uploads has free for us."""
        return shutil.disk_usage(self._uploads).free

    def stored(self) -> list[Path]:
        """Every stored body's path (maintenance: the id upgrade in `rehash`)."""
        return sorted(q for q in self._blobs.glob("??/*") if q.is_file() and _HEX64.fullmatch(q.name))

    # ------------------------------------------------------------ unfinished uploads

    def has_part(self, blob_id: str, size: int, owner: str) -> bool:
        return self._part(blob_id, size, owner) in self._claims

    def unfinished(self, owner: str | None = None) -> int:
        """Bytes charged for unfinished uploads (of `owner`, or of everyone)."""
        return sum(n for who, n in self._claims.values() if owner is None or who == owner)

    def make_room(self, need: int, limit: int) -> bool:
        """Whether `need` more bytes of unfinished uploads fit under `limit`, after dropping
        as many uploads nobody is writing as that takes, least recently written first."""
        total = self.unfinished()
        if total + need <= limit:
            return True
        idle = sorted((_mtime(q), q) for q in self._claims if q not in self._busy)
        for _, q in idle:
            total -= self._claims[q][1]
            self._drop(q)
            if total + need <= limit:
                return True
        return False

    def sweep_parts(self, ttl: float) -> int:
        """Drop the unfinished uploads nobody wrote to for `ttl` seconds; returns how many."""
        cutoff = self._clock() - ttl
        old = [q for q in self._claims if q not in self._busy and _mtime(q) < cutoff]
        for q in old:
            self._drop(q)
        return len(old)

    def drop_parts(self) -> None:
        """Forget every unfinished upload."""
        for q in [*self._claims, *self._uploads.glob("*.part")]:
            self._drop(q)

    def _drop(self, part: Path) -> None:
        part.unlink(missing_ok=True)
        self._claims.pop(part, None)

    def _part(self, blob_id: str, size: int, owner: str) -> Path:
        _check(blob_id)
        if not _OWNER.fullmatch(owner):
            raise BlobError(f"not an owner tag: {owner[:80]!r}")
        return self._uploads / f"{blob_id}-{int(size)}-{owner}.part"


class PartWriter:
    """An upload's .part file, open while its chunks arrive, hashed as it grows (so that
    finishing needs no second read of the whole file). An upload resumed from an earlier
    .part has no hash of that start: `hexdigest()` is then None."""

    def __init__(self, path: Path, size: int, on_close: Callable[[], None] = lambda: None) -> None:
        # Unbuffered: a chunk is on disk (or refused) when `write` returns, never at close.
        self._file = open(open_private(path), "ab", buffering=0)  # noqa: SIM115 - closed by close()
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
        try:
            view, written = memoryview(data), 0
            while written < len(data):  # a write may take less than all: a disk filling up
                written += self._file.write(view[written:])
        except OSError as exc:
            self._cut()
            if disk_full(exc):
                raise DiskFull(f"the server's disk is full; this file was not stored ({human_size(self.length)} "
                               f"of {human_size(self.size)} arrived and are kept: the upload resumes from "
                               "there)") from exc
            raise
        if self._hash is not None:
            self._hash.update(data)
        self.length += len(data)
        return self.length

    def _cut(self) -> None:
        """Cut off what got in of a chunk that failed: the .part ends on a whole chunk."""
        try:
            os.ftruncate(self._file.fileno(), self.length)
        except OSError:
            pass  # then a resume starts from wherever the file ends: still a prefix of the body

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


def _charge(size: int) -> int:
    return max(size, MIN_CHARGE)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("-inf")  # gone already: first to be dropped
