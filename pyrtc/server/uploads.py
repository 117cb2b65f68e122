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
    #: Tag of the uploader's .part (see BlobStore.owner_tag); None when the server holds the
    #: body already and the uploader may read it: nothing to receive or check.
    owner: str | None
    finishing: bool = False
    #: A body a peer sends because this host asked for it (server/bodies.py): kept, not posted.
    copy: bool = False
