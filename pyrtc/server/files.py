"""Files: offers, chunks, the finished upload posted as a message, and downloads.

Invariants:
- An upload resumes: what arrived stays in its `.part` (see store.blobs) when a connection
  breaks, and an offer of the same file continues from there; an upload that finished
  before the break is acknowledged, not stored again.
- Hashing and thumbnails run in a thread; a download is sent chunk by chunk and pauses
  while the connection's buffer is full, so a file never sits whole in memory.
- Quotas: at most `max_uploads` uploads at once per connection and `max_files` files per
  identity and day, whatever names it uses.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from .. import protocol as p
from ..filenames import display_name
from ..protocol import limits as L
from ..protocol.codes import ErrorCode
from ..store import BlobError, StoredFile, make_thumbnail
from ..units import human_size
from .connection import Connection
from .errors import Refused
from .messages import Messages
from .shared import Shared
from .uploads import Upload

__all__ = ["Files"]

log = logging.getLogger(__name__)

_IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp")
_DAY = 24 * 3600.0


class Files:
    def __init__(self, shared: Shared, messages: Messages) -> None:
        self._shared = shared
        self._messages = messages

    def offer(self, conn: Connection, msg: p.OfferFile) -> None:
        assert conn.name is not None
        shared = self._shared
        room = shared.member_room(conn, msg.room)
        if msg.size > shared.config.max_file:
            raise Refused(ErrorCode.FILE_TOO_LARGE,
                          f"the file is {human_size(msg.size)}; this server accepts up to "
                          f"{human_size(shared.config.max_file)} (server --max-file)")
        done = shared.store.find_by_cid(room, conn.name, msg.cid)
        if done is not None:  # the upload finished before the connection broke
            conn.send(p.encode(p.UploadReady(blob_id=msg.blob_id, offset=msg.size, rid=msg.rid)))
            conn.send(p.encode(p.Acked(room=room, cid=msg.cid, seq=done.seq, time=done.time)))
            return
        self._check_quota(conn, msg.blob_id)
        old = conn.uploads.pop(msg.blob_id, None)
        if old is not None and old.part is not None:
            old.part.close()  # offered again on this connection: resumes from what is written
        offset = shared.blobs.begin(msg.blob_id, msg.size)
        try:
            part = shared.blobs.open_part(msg.blob_id, msg.size) if offset < msg.size else None
        except (BlobError, OSError) as exc:
            raise Refused(ErrorCode.FILE_BUSY if isinstance(exc, BlobError) else ErrorCode.FILE, str(exc)) from exc
        up = Upload(room, msg.cid, display_name(msg.name), msg.size, msg.mime[:127] or
                    "application/octet-stream", msg.blob_id, msg.rid, offset, part)
        conn.uploads[msg.blob_id] = up
        conn.send(p.encode(p.UploadReady(blob_id=msg.blob_id, offset=offset, rid=msg.rid)))
        if offset == msg.size:
            up.finishing = True
            conn.spawn(self._finish_upload(conn, up))

    def _check_quota(self, conn: Connection, blob_id: str) -> None:
        assert conn.name is not None
        cfg = self._shared.config
        if blob_id in conn.uploads:
            return  # the same upload offered again (resume): it was counted when first offered
        if len(conn.uploads) >= cfg.max_uploads:
            raise Refused(ErrorCode.TOO_MANY_UPLOADS, f"{len(conn.uploads)} uploads are in progress on this "
                          f"connection; this server allows {cfg.max_uploads} at once, finish one first")
        if cfg.max_files:
            uploading = sum(len(c.uploads) for c in self._shared.sessions.get(conn.uid, ()))
            recent = self._shared.store.names.used(conn.uid, "file", _DAY) + uploading
            if recent >= cfg.max_files:
                raise Refused(ErrorCode.FILE_QUOTA, f"you shared {recent} files in the last 24 hours; this "
                              f"server allows {cfg.max_files} per user (server --max-files)")

    def chunk(self, conn: Connection, msg: p.FileChunk) -> None:
        up = conn.uploads.get(msg.blob_id)
        if up is None or up.finishing:
            raise Refused(ErrorCode.NO_OFFER, "a file chunk came without a file offer; offer it first")
        assert up.part is not None
        try:
            up.received = up.part.write(msg.offset, msg.data)
        except (BlobError, OSError) as exc:
            up.part.close()
            del conn.uploads[msg.blob_id]
            raise Refused(exc.code if isinstance(exc, BlobError) else ErrorCode.FILE, str(exc)) from exc
        if up.received == up.size:
            up.finishing = True
            up.part.close()
            conn.spawn(self._finish_upload(conn, up))

    async def _finish_upload(self, conn: Connection, up: Upload) -> None:
        blobs = self._shared.blobs
        try:
            digest = up.part.hexdigest() if up.part is not None else None
            path = await asyncio.to_thread(blobs.finish, up.blob_id, up.size, digest)
            thumb = await asyncio.to_thread(make_thumbnail, path)
        except (BlobError, OSError) as exc:
            conn.uploads.pop(up.blob_id, None)
            log.warning("upload %s from %s failed: %s", up.name, conn.name, exc)
            conn.send(p.encode(p.Error(code=ErrorCode.FILE, message=str(exc), rid=up.rid)))
            return
        conn.uploads.pop(up.blob_id, None)
        mime = up.mime
        if thumb is None and mime.startswith("image/"):
            mime = "application/octet-stream"  # claims to be a picture but does not decode
        elif thumb is not None and mime not in _IMAGE_TYPES:
            mime = "image/png" if not mime.startswith("image/") else mime
        stored = StoredFile(
            blob_id=up.blob_id, name=up.name, size=up.size, mime=mime,
            thumb_id=blobs.put(thumb.png) if thumb else None,
            width=thumb.width if thumb else 0, height=thumb.height if thumb else 0,
        )
        if conn.closed or conn.name is None or up.room not in conn.rooms:
            return  # the body is kept: the client resumes and gets it posted then
        self._messages.post(conn, up.room, up.cid, "", stored)
        self._shared.store.names.use(conn.uid, "file")  # in the post's transaction

    def release(self, conn: Connection) -> None:
        """`conn` closed: its uploads stop where they are."""
        for up in conn.uploads.values():
            if up.part is not None:
                up.part.close()  # what arrived stays in the .part: a later offer resumes it

    def fetch(self, conn: Connection, msg: p.FetchFile) -> None:
        store, blobs = self._shared.store, self._shared.blobs
        if not store.file_known(msg.blob_id) or not blobs.has(msg.blob_id):
            raise Refused(ErrorCode.NO_FILE, f"no file with id {msg.blob_id}")
        size = blobs.size(msg.blob_id)
        if msg.offset > size:
            raise Refused(ErrorCode.BAD_RANGE, f"offset {msg.offset} is past the end of the file ({size})")
        end = size if msg.length is None else min(size, msg.offset + msg.length)
        conn.spawn(self._send_file(conn, msg.blob_id, msg.offset, end, msg.rid))

    async def _send_file(self, conn: Connection, blob_id: str, offset: int, end: int, rid: int) -> None:
        path: Path = self._shared.blobs.path(blob_id)
        total = path.stat().st_size
        with open(path, "rb") as f:
            f.seek(offset)
            pos = offset
            while pos < end and not conn.closed:
                data = f.read(min(L.CHUNK_SIZE, end - pos))
                if not data:
                    break
                conn.send(p.encode_head(p.FileData(blob_id=blob_id, offset=pos, total=total), len(data)))
                conn.send(data)  # the chunk's bytes follow its head, uncopied
                pos += len(data)
                await asyncio.sleep(0)  # let the batch go out and others be served
                await conn.writable()  # paused above the high-water mark: no whole-file buffering
        if not conn.closed:
            conn.send(p.encode(p.FileEnd(blob_id=blob_id, size=pos, rid=rid)))
