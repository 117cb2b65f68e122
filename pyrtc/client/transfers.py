"""Transfers: uploads and downloads that survive a dropped connection.

Invariants:
- An upload resumes from the offset the server reports (`UploadReady`); the server stores the
  file message once (its cid is fixed for the whole upload).
- A download lands in `<target>.part` (resumed from its length) and becomes `target` only once
  its content matches its id (BLAKE3).
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import blob_id as ids
from .. import protocol as p
from ..filenames import display_name
from ..protocol import limits as L
from ..protocol.codes import ErrorCode
from ..store import StoreError
from ..units import human_size
from .errors import ConnectionLost, Rejected
from .events import TransferUpdate
from .routing import Router

__all__ = ["Transfers"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


class Transfers:
    def __init__(self, router: Router, *, reconnect: bool) -> None:
        self._router = router
        self._reconnect = reconnect  # without it a dropped connection ends a transfer
        # Uploads beyond the server's default of 4 at once wait their turn instead of being
        # refused (a user may attach many files at once).
        self._upload_slots = asyncio.Semaphore(4)

    def _interrupted(self, attempt: int, retries: int) -> bool:
        """Whether a transfer cut off at this attempt must give up rather than resume."""
        return attempt == retries or not self._reconnect or self._router.fatal is not None

    # ------------------------------------------------------------------ upload

    async def upload(self, room: str, path: Path, *, name: str | None, mime: str | None,
                     progress: Progress | None, retries: int) -> int:
        router = self._router
        path = Path(path)
        size = path.stat().st_size
        if router.state.max_file and size > router.state.max_file:
            raise Rejected(ErrorCode.FILE_TOO_LARGE, f"{path.name} is {human_size(size)}; the server accepts "
                                                     f"up to {human_size(router.state.max_file)}")
        blob = await asyncio.to_thread(ids.of_file, path)
        display = display_name(name or path.name)
        kind = mime or mimetypes.guess_type(display)[0] or "application/octet-stream"
        cid = "f" + blob[:15] + secrets.token_hex(4)
        tid = f"up-{cid}"
        queue: asyncio.Queue[p.ServerMsg] = asyncio.Queue()
        router.uploads[blob] = queue
        router.emit(TransferUpdate(tid, display, "up", size, 0, path=str(path)))
        try:
            async with self._upload_slots:
                return await self._upload_tries(room, path, size, blob, display, kind, cid, tid, queue,
                                                progress, retries)
        except Exception as exc:
            router.emit(TransferUpdate(tid, display, "up", size, 0, "failed", str(exc), str(path)))
            raise
        finally:
            router.uploads.pop(blob, None)

    async def _upload_tries(self, room: str, path: Path, size: int, blob: str, display: str, kind: str,
                            cid: str, tid: str, queue: asyncio.Queue[p.ServerMsg],
                            progress: Progress | None, retries: int) -> int:
        """Upload, resuming after a dropped connection from where the server is."""
        for attempt in range(retries + 1):
            try:
                return await self._upload_once(room, path, size, blob, display, kind, cid, tid,
                                               queue, progress)
            except ConnectionLost as exc:
                if self._interrupted(attempt, retries):
                    raise
                log.info("upload of %s interrupted (%s); resuming", display, exc)
                await asyncio.sleep(min(2.0, 0.05 * 2 ** attempt))
                await self._router.wait_connected(timeout=60)
        raise AssertionError("unreachable")

    async def _upload_once(self, room: str, path: Path, size: int, blob: str, display: str,
                           kind: str, cid: str, tid: str, queue: asyncio.Queue[p.ServerMsg],
                           progress: Progress | None) -> int:
        router = self._router
        while not queue.empty():
            queue.get_nowait()
        ack = router.expect_ack(cid)
        # A refused offer fails the ack too (the Error names the cid): raised once, by the request.
        ack.add_done_callback(lambda f: f.cancelled() or f.exception())
        offer_rid = 0

        def offer(rid: int) -> p.Msg:
            nonlocal offer_rid
            offer_rid = rid
            return p.OfferFile(room=room, cid=cid, name=display, size=size, blob_id=blob,
                               mime=kind, rid=rid)

        ready = await router.request(offer)
        router.streams[offer_rid] = queue  # later errors about this upload (hash, disk) land here
        try:
            return await self._send_chunks(path, size, blob, display, tid, ready.offset, ack, queue,
                                           progress)
        finally:
            router.streams.pop(offer_rid, None)

    async def _send_chunks(self, path: Path, size: int, blob: str, display: str, tid: str,
                           offset: int, ack: asyncio.Future[int], queue: asyncio.Queue[p.ServerMsg],
                           progress: Progress | None) -> int:
        router = self._router
        with open(path, "rb") as f:
            f.seek(offset)
            while offset < size:
                data = f.read(L.CHUNK_SIZE)
                if not data:
                    raise Rejected(ErrorCode.FILE_CHANGED, f"{path} became shorter while uploading")
                writer = router.writer
                if writer is None:
                    raise ConnectionLost("connection lost during upload")
                writer.write(p.encode_head(p.FileChunk(blob_id=blob, offset=offset, data=b""), len(data)))
                writer.write(data)  # not copied into a frame (p.encode_head)
                offset += len(data)
                try:
                    await writer.drain()
                except OSError as exc:
                    raise ConnectionLost(f"connection lost during upload: {exc}") from exc
                if not queue.empty():
                    _raise_if_error(queue.get_nowait())
                if progress:
                    progress(offset, size)
                router.emit(TransferUpdate(tid, display, "up", size, offset, path=str(path)))
        while True:  # the ack, or an Error about this upload; other queued replies are skipped
            done = asyncio.ensure_future(ack)
            err = asyncio.ensure_future(queue.get())
            either: set[asyncio.Future[Any]] = {done, err}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED, timeout=300)
            if done.done():
                err.cancel()
                seq = done.result()
                await self._keep(blob, path)  # the host may leave: a peer that keeps it can serve it
                router.emit(TransferUpdate(tid, display, "up", size, size, "done", path=str(path)))
                return seq
            if not err.done():
                err.cancel()
                raise ConnectionLost("no answer to the finished upload")
            _raise_if_error(err.result())

    # ------------------------------------------------------------------ download

    async def download(self, blob_id: str, target: Path, *, name: str | None,
                       progress: Progress | None, retries: int, quiet: bool) -> Path:
        router = self._router
        target = Path(target)
        part = target.with_name(target.name + ".part")
        tid = "" if quiet else f"down-{blob_id[:16]}-{target.name}"
        display = name or target.name
        queue: asyncio.Queue[p.ServerMsg] = asyncio.Queue()
        router.downloads[blob_id] = queue
        hashed = _RunningHash()  # hashed as it arrives: no second read of the file at the end
        try:
            for attempt in range(retries + 1):
                offset = part.stat().st_size if part.exists() else 0
                try:
                    await self._download_once(blob_id, part, offset, queue, tid, display, progress, hashed)
                    break
                except ConnectionLost:
                    if self._interrupted(attempt, retries):
                        raise
                    await asyncio.sleep(min(2.0, 0.05 * 2 ** attempt))
                    await router.wait_connected(timeout=60)
            size = part.stat().st_size
            digest = hashed.hexdigest(size) or await asyncio.to_thread(ids.of_file, part)
            if digest != blob_id:
                part.unlink()
                raise Rejected(ErrorCode.CORRUPT, "the downloaded file does not match its id (BLAKE3); try again")
            os.replace(part, target)
            await self._keep(blob_id, target)
        except Exception as exc:
            router.emit(TransferUpdate(tid, display, "down", 0, 0, "failed", str(exc), str(target)))
            raise
        finally:
            router.downloads.pop(blob_id, None)
        size = target.stat().st_size
        router.emit(TransferUpdate(tid, display, "down", size, size, "done", path=str(target)))
        return target

    async def _download_once(self, blob_id: str, part: Path, offset: int,
                             queue: asyncio.Queue[p.ServerMsg], tid: str, display: str,
                             progress: Progress | None, hashed: _RunningHash) -> None:
        router = self._router
        while not queue.empty():
            queue.get_nowait()
        size_hint = 0
        for m in self._known_files():
            if m.blob_id == blob_id or m.thumb_id == blob_id:
                size_hint = m.size if m.blob_id == blob_id else 0
        await router.wait_connected()
        rid = next(router.rids)
        router.streams[rid] = queue
        try:
            if not router.write(p.FetchFile(blob_id=blob_id, offset=offset, rid=rid)):
                raise ConnectionLost("not connected")
            await self._receive_file(part, offset, queue, tid, display, size_hint, progress, hashed)
        finally:
            router.streams.pop(rid, None)

    async def _receive_file(self, part: Path, offset: int, queue: asyncio.Queue[p.ServerMsg],
                            tid: str, display: str, size_hint: int,
                            progress: Progress | None, hashed: _RunningHash) -> None:
        with open(part, "ab") as f:
            while True:
                msg = await queue.get()
                if isinstance(msg, p.FileData):
                    if msg.offset != offset:
                        raise ConnectionLost(f"download out of order at {msg.offset}, expected {offset}")
                    f.write(msg.data)
                    hashed.update(offset, msg.data)
                    offset += len(msg.data)
                    size_hint = msg.total or size_hint or offset
                    if progress:
                        progress(offset, size_hint)
                    self._router.emit(TransferUpdate(tid, display, "down", size_hint, offset))
                elif isinstance(msg, p.FileEnd):
                    return
                else:
                    _raise_if_error(msg)

    async def _keep(self, blob_id: str, path: Path) -> None:
        """A copy in the replica, for a later host that lacks it (a failure costs only that)."""
        replica = self._router.replica
        if replica is None:
            return
        try:
            await asyncio.to_thread(replica.keep_body, blob_id, path)
        except (StoreError, OSError) as exc:
            log.warning("cannot keep a copy of %s in the replica: %s", path.name, exc)

    async def give_body(self, blob_id: str) -> None:
        """The host wants a body it lacks (`WantBody`): send it if the replica keeps it."""
        router = self._router
        path = router.replica.body(blob_id) if router.replica is not None else None
        size = path.stat().st_size if path is not None else 0
        if path is None:
            router.write(p.BodyOffer(blob_id=blob_id, held=False))
            return
        try:
            ready: p.UploadReady = await router.request(
                lambda rid: p.BodyOffer(blob_id=blob_id, held=True, size=size, rid=rid))
            with open(path, "rb") as f:
                f.seek(ready.offset)
                offset = ready.offset
                while offset < size:
                    data = f.read(L.CHUNK_SIZE)
                    writer = router.writer
                    if not data or writer is None:
                        return  # the host asks another peer when this one stops short
                    writer.write(p.encode_head(p.FileChunk(blob_id=blob_id, offset=offset, data=b""), len(data)))
                    writer.write(data)
                    offset += len(data)
                    await writer.drain()
        except (ConnectionLost, Rejected, TimeoutError, OSError) as exc:
            log.info("the host's request for %s ended: %s", blob_id[:16], exc)

    def _known_files(self) -> list[p.FileInfo]:
        return [m.file for r in self._router.state.rooms.values() for m in r.messages if m.file]


def _raise_if_error(msg: p.ServerMsg) -> None:
    if isinstance(msg, p.Error):
        if msg.code == ErrorCode.CONNECTION_LOST:
            raise ConnectionLost(msg.message)
        raise Rejected(msg.code, msg.message)


class _RunningHash:
    """The id (BLAKE3) of a download as its chunks arrive, valid while they come in order from byte 0
    (a download resumed from an older .part is hashed from the file instead)."""

    def __init__(self) -> None:
        self._h = ids.hasher()
        self.length = 0

    def update(self, offset: int, data: bytes) -> None:
        if offset == self.length:
            self._h.update(data)
            self.length += len(data)

    def hexdigest(self, size: int) -> str | None:
        return self._h.hexdigest() if self.length == size else None
