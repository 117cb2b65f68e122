"""The messages of file transfers: offer and upload in chunks, fetch (resumable), and what
a posted file says of itself.

A chunk's bytes travel as msgpack binary, never base64, and are the struct's last field
(see framing.encode_head).
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from . import limits as L
from .fields import BlobId, ClientId, Msg, Offset, Rid, RoomName

__all__ = ["FileInfo", "OfferFile", "FileChunk", "FetchFile", "UploadReady", "FileData", "FileEnd"]


# ---------------------------------------------------------------- client -> server


class OfferFile(Msg, frozen=True, tag="offer_file"):
    """Start or resume an upload; the server answers UploadReady with the offset it has."""

    room: RoomName
    cid: ClientId
    name: Annotated[str, Meta(max_length=L.MAX_FILE_NAME_WIRE)]
    size: Offset
    blob_id: BlobId
    mime: Annotated[str, Meta(max_length=127)] = "application/octet-stream"
    rid: Rid = 0


class FileChunk(Msg, frozen=True, tag="file_chunk"):
    blob_id: BlobId
    offset: Offset
    data: Annotated[bytes, Meta(max_length=L.CHUNK_SIZE)]  # last: see framing.encode_head


class FetchFile(Msg, frozen=True, tag="fetch_file"):
    """Download `blob_id` from `offset` (a range lets a broken download resume)."""

    blob_id: BlobId
    offset: Offset = 0
    length: Offset | None = None
    rid: Rid = 0


# ---------------------------------------------------------------- shared parts


class FileInfo(msgspec.Struct, frozen=True, kw_only=True):
    blob_id: str  # BLAKE3 of the body, hex (pyrtc.blob_id)
    name: str  # display text only, never a path
    size: int
    mime: str = "application/octet-stream"
    thumb_id: str | None = None  # blob of a PNG thumbnail (images only)
    width: int = 0
    height: int = 0


# ---------------------------------------------------------------- server -> client


class UploadReady(Msg, frozen=True, tag="upload_ready"):
    blob_id: str
    offset: int  # bytes the server already has; send from here
    rid: int = 0


class FileData(Msg, frozen=True, tag="file_data"):
    blob_id: str
    offset: int
    total: int = 0  # the whole file's size, for progress bars
    data: bytes = b""  # last: see framing.encode_head


class FileEnd(Msg, frozen=True, tag="file_end"):
    blob_id: str
    size: int
    rid: int = 0
