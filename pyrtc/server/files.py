"""Files: offers, chunks, the finished upload posted as a message; downloads in downloads.py.

Invariants:
- A body (or its thumbnail) is read only by its uploader and by those who may read a room
  it was posted in (members, and watchers let in): to anyone else it does not exist, and
  is refused with the same `no_file` as an id never seen.
- An offer of a body the offerer may not read is answered as for a new file (offset 0):
  every byte must come and match the id's hash. So it proves possession and tells nobody
  what the server holds. An offer of one the offerer may read must name its real size.
- An upload resumes: what arrived stays in the uploader's own `.part` (see store.blobs)
  when a connection breaks, and the same uploader's offer of the same file continues from
  there; an upload that finished before the break is acknowledged, not stored again.
- Unfinished uploads expire `unfinished_ttl` after their last write (housekeeping, and at
  start) and are bounded per user and for the server (`max_unfinished_per_user`,
  `max_unfinished`): an offer over either is refused, after making room by dropping
  uploads nobody is writing.
- Thumbnails are made outside the server process, for PNG, JPEG and GIF and WebP only
  (store.thumbnailer); whatever goes wrong there, the file is posted as a plain one. Every
  finished upload is answered (posted or an error) and frees its slot.
- Hashing runs in a thread; a download is sent chunk by chunk and pauses while the
  connection's buffer is full, so a file never sits whole in memory.
- Quotas: at most `max_uploads` uploads at once per connection and `max_files` files per
  identity and day, whatever names it uses.
- An upload that fails (a full disk, a chunk out of place) is answered with one `Error` for
  its offer's rid; the chunks already on their way after it are dropped without a word.
- An offer of more bytes than the disk has free is refused at once (`disk_full`).
- A body this host lacks but may serve (a file posted before it took the chat over) is
  fetched from a peer that keeps it (bodies.py) before it is sent; one nobody keeps is
  answered `file_gone` ("no longer available"), never as an unknown id.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from .. import protocol as p
from ..filenames import display_name
from ..protocol.codes import ErrorCode
from ..store import PICTURE_TYPES, BlobError, StoredFile, Thumbnailer, picture_mime
from ..store.blobs import MIN_CHARGE, BlobStore, PartWriter
from ..store.errors import StoreError, disk_full
from ..units import human_size
from .bodies import Bodies
from .connection import Connection
from .downloads import Downloads
from .errors import ClusterError, Refused
from .messages import Messages
from .shared import Shared
from .uploads import Upload

if TYPE_CHECKING:
    from .cluster import Cluster

__all__ = ["Files"]

log = logging.getLogger(__name__)

_DAY = 24 * 3600.0
#: Uploads received whole but not posted (their connection broke) remembered for a resume.
_UNPOSTED_KEPT = 1024
#: Failed uploads per connection whose late chunks are dropped quietly.
_FAILED_KEPT = 64


class Files:
    def __init__(self, shared: Shared, messages: Messages, cluster: Cluster | None = None,
                 bodies: Bodies | None = None) -> None:
        self._shared = shared
        self._messages = messages
        self._cluster = cluster  # bodies go to the chat's object store: any server serves them
        self._bodies = bodies  # bodies this host lacks, fetched from the peers that keep them
        self._downloads = Downloads(shared, self._may_read, cluster, bodies)
        cfg = shared.config
        self._thumbs = Thumbnailer(workers=cfg.thumb_workers, timeout=cfg.thumb_timeout,
                                   memory=cfg.thumb_memory, max_pixels=cfg.thumb_max_pixels)
        #: (uploader, file id) of bodies received whole and checked whose post did not happen
        #: (the connection broke meanwhile): the uploader resumes them without sending again.
        self._unposted: dict[tuple[str, str], None] = {}
        #: Per connection, the uploads that failed and were answered: their chunks still on
        #: the way are dropped without an error each (one error per upload).
        self._failed: dict[Connection, dict[str, None]] = {}

    async def close(self) -> None:
        await self._thumbs.close()

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
        self._drop_upload(conn, msg.blob_id)  # offered again on this connection: resumes from what is written
        if msg.mime in PICTURE_TYPES:
            self._thumbs.warm()  # a worker starts while the picture's bytes arrive
        up = self._held(conn, msg, room) or self._receive(conn, msg, room)
        body = self._check_body(up) if up.received == up.size and up.owner is not None else None
        conn.uploads[msg.blob_id] = up
        conn.send(p.encode(p.UploadReady(blob_id=msg.blob_id, offset=up.received, rid=msg.rid)))
        if up.received == up.size:
            up.finishing = True
            conn.spawn(self._finish_upload(conn, up, body))

    def body_offer(self, conn: Connection, msg: p.BodyOffer) -> None:
        """A peer's answer to `WantBody`: it sends the body if it has it and is chosen to."""
        if self._bodies is None or not self._bodies.offer(conn, msg):
            if msg.held:  # another peer sends it, or it is not wanted any more: nothing to send
                conn.send(p.encode(p.UploadReady(blob_id=msg.blob_id, offset=msg.size, rid=msg.rid)))
            return
        try:
            up = self._receive_copy(conn, msg)
        except Refused:
            self._bodies.failed(conn, msg.blob_id)
            raise
        conn.uploads[msg.blob_id] = up
        conn.send(p.encode(p.UploadReady(blob_id=msg.blob_id, offset=up.received, rid=msg.rid)))
        if up.received == up.size:
            up.finishing = True
            conn.spawn(self._finish_copy(conn, up, self._check_body(up)))

    def _receive_copy(self, conn: Connection, msg: p.BodyOffer) -> Upload:
        blobs, cfg = self._shared.blobs, self._shared.config
        if msg.size > cfg.max_file:
            raise Refused(ErrorCode.FILE_TOO_LARGE, f"the file is {human_size(msg.size)}; this server accepts up "
                          f"to {human_size(cfg.max_file)}")
        owner = blobs.owner_tag(conn.uid)
        self._check_space(owner, msg.blob_id, msg.size)
        offset = blobs.begin(msg.blob_id, msg.size, owner)
        up = Upload("", "", msg.blob_id[:16], msg.size, "application/octet-stream", msg.blob_id, msg.rid,
                    offset, None, owner, copy=True)
        if offset < msg.size:
            up.part = _open_part(blobs, msg.blob_id, msg.size, owner)
        return up

    async def _finish_copy(self, conn: Connection, up: Upload, body: asyncio.Future[Path]) -> None:
        """A peer's copy of a body arrived whole: kept once its hash is checked."""
        assert self._bodies is not None
        try:
            await asyncio.shield(body)
        except (StoreError, OSError) as exc:  # BlobError is a StoreError: the bytes were not the body
            log.warning("the body %s from %s was not kept: %s", up.blob_id[:16], conn.name, exc)
            self._bodies.failed(conn, up.blob_id)
        else:
            self._bodies.arrived(up.blob_id)
        finally:
            if conn.uploads.get(up.blob_id) is up:
                del conn.uploads[up.blob_id]

    def _held(self, conn: Connection, msg: p.OfferFile, room: str) -> Upload | None:
        """The upload of a body the server holds and `conn` may read: nothing to send."""
        blobs = self._shared.blobs
        if not blobs.has(msg.blob_id) or not self._may_read(conn, msg.blob_id):
            return None
        real = blobs.size(msg.blob_id)
        if real != msg.size:
            raise Refused(ErrorCode.FILE, f"this file is {human_size(real)}, not {human_size(msg.size)}; "
                          "offer it with its real size")
        return _upload(msg, room, received=msg.size, owner=None)

    def _receive(self, conn: Connection, msg: p.OfferFile, room: str) -> Upload:
        """The upload of a body to receive, from where this uploader's .part ends."""
        assert conn.name is not None
        blobs = self._shared.blobs
        owner = blobs.owner_tag(conn.uid)  # the identity: its unfinished bytes count across its names
        self._check_space(owner, msg.blob_id, msg.size)
        offset = blobs.begin(msg.blob_id, msg.size, owner)
        free = blobs.free_space()
        if msg.size - offset > free:
            raise Refused(ErrorCode.DISK_FULL, f"the server's disk is full ({human_size(free)} free, this file "
                          f"needs {human_size(msg.size - offset)} more); it was not stored, try again later")
        up = _upload(msg, room, received=offset, owner=owner)
        if offset < msg.size:
            up.part = _open_part(blobs, msg.blob_id, msg.size, owner)
        return up

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

    def _check_space(self, owner: str, blob_id: str, size: int) -> None:
        """Refuse a new unfinished upload over the uploader's or the server's limit."""
        cfg, blobs = self._shared.config, self._shared.blobs
        if blobs.has_part(blob_id, size, owner):
            return  # a resume: counted already
        need = max(size, MIN_CHARGE)
        mine, per_user = blobs.unfinished(owner), max(cfg.max_unfinished_per_user, cfg.max_file)
        if mine + need > per_user:
            raise Refused(ErrorCode.UNFINISHED_QUOTA,
                          f"you have {human_size(mine)} of unfinished uploads on this server, and this one "
                          f"would take {human_size(need)} more; it allows {human_size(per_user)} per user "
                          f"(finish or resume those first; unfinished ones expire {cfg.unfinished_ttl / 3600:g} h "
                          "after their last write)")
        total = max(cfg.max_unfinished, cfg.max_file)
        if not blobs.make_room(need, total):
            raise Refused(ErrorCode.UNFINISHED_QUOTA,
                          f"the server holds {human_size(blobs.unfinished())} of unfinished uploads, all of "
                          f"them in progress, and allows {human_size(total)}; try again when some are done")

    def chunk(self, conn: Connection, msg: p.FileChunk) -> None:
        up = conn.uploads.get(msg.blob_id)
        if up is None or up.finishing or up.part is None:
            if msg.blob_id in self._failed.get(conn, ()):
                return  # sent before its upload's error arrived: that error said it all
            raise Refused(ErrorCode.NO_OFFER, "a file chunk came without a file offer; offer it first")
        try:
            up.received = up.part.write(msg.offset, msg.data)
        except (StoreError, OSError) as exc:
            self._drop_upload(conn, msg.blob_id)
            failed = self._failed.setdefault(conn, {})
            failed[msg.blob_id] = None
            while len(failed) > _FAILED_KEPT:
                del failed[next(iter(failed))]
            code, message = _refusal(exc)
            log.warning("upload %s from %s failed: %s", up.name, conn.name, message)
            conn.send(p.encode(p.Error(code=code, message=message, rid=up.rid)))  # where the client waits
            if up.copy and self._bodies is not None:
                self._bodies.failed(conn, up.blob_id)
            return
        if up.received == up.size:
            up.finishing = True
            if up.copy:
                conn.spawn(self._finish_copy(conn, up, self._check_body(up)))
            else:
                conn.spawn(self._finish_upload(conn, up, self._check_body(up)))

    def _check_body(self, up: Upload) -> asyncio.Future[Path]:
        """Start checking the complete .part's hash and moving it into place (in a thread).
        The .part stays pinned until that is done, whatever becomes of the connection."""
        blobs, owner = self._shared.blobs, up.owner
        assert owner is not None
        digest = None
        if up.part is not None:
            digest = up.part.hexdigest()
            up.part.close()
        try:
            blobs.pin(up.blob_id, up.size, owner)
        except BlobError as exc:
            raise Refused(ErrorCode.FILE_BUSY, str(exc)) from exc
        job = asyncio.ensure_future(asyncio.to_thread(blobs.finish, up.blob_id, up.size, owner, digest))

        def done(job: asyncio.Future[Path]) -> None:
            blobs.release(up.blob_id, up.size, owner)
            if not job.cancelled():
                job.exception()  # seen: the upload's task reports it, if it is still there

        job.add_done_callback(done)
        return job

    async def _finish_upload(self, conn: Connection, up: Upload, body: asyncio.Future[Path] | None) -> None:
        try:
            stored = await self._stored_file(conn, up, body)
        except ClusterError as exc:
            log.warning("upload %s from %s failed: %s", up.name, conn.name, exc)
            conn.send(p.encode(p.Error(code=ErrorCode.CHAT_DEGRADED, message=str(exc), rid=up.rid)))
            return
        except (StoreError, OSError) as exc:
            code, message = _refusal(exc)
            log.warning("upload %s from %s failed: %s", up.name, conn.name, message)
            conn.send(p.encode(p.Error(code=code, message=message, rid=up.rid)))
            return
        except Exception:  # a bug: still answered, and the slot is freed below
            log.error("upload %s from %s failed", up.name, conn.name, exc_info=True)
            conn.send(p.encode(p.Error(code=ErrorCode.INTERNAL, message="the server failed to store this file",
                                       rid=up.rid)))
            return
        finally:
            if conn.uploads.get(up.blob_id) is up:
                del conn.uploads[up.blob_id]
        if conn.closed or conn.name is None or up.room not in conn.rooms:
            return  # the body is kept: the client resumes and gets it posted then
        self._messages.post(conn, up.room, up.cid, "", stored)
        self._shared.store.names.use(conn.uid, "file")  # in the post's transaction
        self._unposted.pop((conn.name, up.blob_id), None)

    async def _stored_file(self, conn: Connection, up: Upload, body: asyncio.Future[Path] | None) -> StoredFile:
        """The finished upload as it is posted: its real size and, for a picture of the four
        formats, a thumbnail and the type it really has."""
        blobs = self._shared.blobs
        if body is None:
            path = blobs.path(up.blob_id)  # held already, and the uploader's to read
        else:
            path = await asyncio.shield(body)  # the check goes on if the connection closes
            assert conn.name is not None
            self._remember_unposted(conn.name, up.blob_id)
        kind = picture_mime(blobs.head(up.blob_id))
        thumb = await self._thumbs.make(path) if kind else None
        mime = up.mime
        if thumb is not None and kind is not None:
            mime = kind
        elif mime.startswith("image/"):
            mime = "application/octet-stream"  # claims to be a picture but shows none
        thumb_id = blobs.put(thumb.png) if thumb else None
        if self._cluster is not None:  # before the post: whoever sees it can fetch it anywhere
            await self._cluster.put_file(up.blob_id, path)
            if thumb_id is not None:
                await self._cluster.put_file(thumb_id, blobs.path(thumb_id))
        return StoredFile(
            blob_id=up.blob_id, name=up.name, size=blobs.size(up.blob_id), mime=mime, thumb_id=thumb_id,
            width=thumb.width if thumb else 0, height=thumb.height if thumb else 0,
        )

    def _remember_unposted(self, uploader: str, blob_id: str) -> None:
        self._unposted[(uploader, blob_id)] = None
        while len(self._unposted) > _UNPOSTED_KEPT:
            del self._unposted[next(iter(self._unposted))]

    def _may_read(self, conn: Connection, blob_id: str) -> bool:
        assert conn.name is not None
        return ((conn.name, blob_id) in self._unposted
                or self._shared.store.file_readable(blob_id, conn.name, conn.rooms))

    def _drop_upload(self, conn: Connection, blob_id: str) -> None:
        up = conn.uploads.pop(blob_id, None)
        if up is not None and up.part is not None:
            up.part.close()  # what arrived stays in the .part: a later offer resumes it

    def release(self, conn: Connection) -> None:
        """`conn` closed: its uploads stop where they are."""
        self._failed.pop(conn, None)
        if self._bodies is not None:
            self._bodies.failed(conn)  # a body it was asked for: the next peer that has it
        for up in conn.uploads.values():
            if up.part is not None:
                up.part.close()  # what arrived stays in the .part: a later offer resumes it

    def fetch(self, conn: Connection, msg: p.FetchFile) -> None:
        self._downloads.fetch(conn, msg)


def _open_part(blobs: BlobStore, blob_id: str, size: int, owner: str) -> PartWriter:
    """The .part file the upload's bytes go on to; a refusal the uploader reads when not."""
    try:
        return blobs.open_part(blob_id, size, owner)
    except BlobError as exc:
        raise Refused(ErrorCode.FILE_BUSY, str(exc)) from exc
    except OSError as exc:
        raise Refused(*_refusal(exc)) from exc


def _refusal(exc: StoreError | OSError) -> tuple[ErrorCode, str]:
    """The code and message an upload that failed with `exc` is answered with."""
    if isinstance(exc, StoreError):
        return exc.code, str(exc)
    if disk_full(exc):
        return ErrorCode.DISK_FULL, "the server's disk is full; this file was not stored, try again later"
    return ErrorCode.FILE, str(exc)


def _upload(msg: p.OfferFile, room: str, *, received: int, owner: str | None) -> Upload:
    return Upload(room, msg.cid, display_name(msg.name), msg.size,
                  msg.mime[:127] or "application/octet-stream", msg.blob_id, msg.rid, received, None, owner)
