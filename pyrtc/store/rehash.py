"""Stores from before protocol 2 named files by SHA-256; they are renamed to BLAKE3 ids
(pyrtc.blob_id) once, at the first start after the upgrade, so no shared file is lost.

Crash-safe by order: new names are hard links first; the history's ids change in one
transaction; only then go the old names and the unfinished uploads (a .part under an old
id can never be resumed); the marker file is written last. Run again after a crash at any
step, it finds the same files and finishes the job.
"""

from __future__ import annotations

import logging
import os

from .. import blob_id as ids
from ..private import private_dir, write_private
from .blobs import BlobStore
from .db import Store

__all__ = ["adopt_blake3_ids", "MARKER"]

log = logging.getLogger(__name__)

MARKER = "ids-blake3"


def adopt_blake3_ids(blobs: BlobStore, store: Store) -> int:
    """Rename an older store's files to BLAKE3 ids; returns how many were renamed."""
    marker = blobs.root / MARKER
    if marker.exists():
        return 0
    renames: dict[str, str] = {}
    for path in blobs.stored():
        new = ids.of_file(path)
        if new != path.name:
            renames[path.name] = new
            target = blobs.path(new)
            private_dir(target.parent)
            if not target.exists():
                os.link(path, target)
    if renames:
        log.warning("renaming %d stored files to BLAKE3 ids (a one-time upgrade)", len(renames))
        store.rename_blobs(renames)
    for old in renames:
        blobs.path(old).unlink(missing_ok=True)
    blobs.drop_parts()
    write_private(marker, b"files here are named by the BLAKE3 of their content\n")
    return len(renames)

