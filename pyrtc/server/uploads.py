"""An upload in progress on one connection (kept in `Connection.uploads` by file id)."""

from __future__ import annotations

from dataclasses import dataclass

from ..store.blobs import PartWriter

__all__ = ["Upload"]


@dataclass
class Upload:
    room: str
    cid: str
    name: str
    size: int
    mime: str
    blob_id: str
    rid: int
    received: int
    part: PartWriter | None  # open while chunks come in
    finishing: bool = False
