"""Downloads: a body sent chunk by chunk to who may read it; one this server lacks is first
brought from the chat's object store (a cluster) or from a peer that keeps it (a host that
took the chat over). See files.py for the rules of who may read what.

Invariants:
- A body nobody may read, or that does not exist, is refused with the same `no_file`.
- A download pauses while the connection's buffer is full: a file never sits whole in memory.
- A body no peer keeps any more is answered `file_gone` ("no longer available").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import protocol as p
from ..protocol import limits as L
from ..protocol.codes import ErrorCode
from ..store.errors import StoreError
from .bodies import Bodies
from .connection import Connection
from .errors import ClusterError, Refused
from .shared import Shared

if TYPE_CHECKING:
    from .cluster import Cluster

__all__ = ["Downloads"]

log = logging.getLogger(__name__)


class Downloads:
    def __init__(self, shared: Shared, may_read: Callable[[Connection, str], bool], cluster: Cluster | None,
                 bodies: Bodies | None) -> None:
        self._shared = shared
        self._may_read = may_read
        self._cluster = cluster
        self._bodies = bodies

    def fetch(self, conn: Connection, msg: p.FetchFile) -> None:
        blobs = self._shared.blobs
        if (self._cluster is not None and not blobs.has(msg.blob_id) and self._may_read(conn, msg.blob_id)):
            conn.spawn(self._fetch_from_cluster(self._cluster, conn, msg))  # uploaded through another server
            return
        if self._bodies is not None and not blobs.has(msg.blob_id) and self._may_read(conn, msg.blob_id):
            conn.spawn(self._fetch_from_peers(self._bodies, conn, msg))  # posted before this host took over
            return
        if not blobs.has(msg.blob_id) or not self._may_read(conn, msg.blob_id):
            raise Refused(ErrorCode.NO_FILE, f"no file with id {msg.blob_id}")  # the same for both
        size = blobs.size(msg.blob_id)
        if msg.offset > size:
            raise Refused(ErrorCode.BAD_RANGE, f"offset {msg.offset} is past the end of the file ({size})")
        end = size if msg.length is None else min(size, msg.offset + msg.length)
        conn.spawn(self._send_file(conn, msg.blob_id, msg.offset, end, msg.rid))

    async def _fetch_from_cluster(self, cluster: Cluster, conn: Connection, msg: p.FetchFile) -> None:
        """Bring a body from the chat's object store into this server's blobs, then send it."""
        blobs = self._shared.blobs
        download = blobs.download_path(msg.blob_id)
        try:
            if await cluster.get_file(msg.blob_id, download):
                await asyncio.to_thread(blobs.adopt, msg.blob_id, download)
        except (ClusterError, StoreError, OSError) as exc:
            log.warning("fetching %s from the chat's file store failed: %s", msg.blob_id, exc)
            conn.send(p.encode(p.Error(code=ErrorCode.CHAT_DEGRADED, message=f"the file could not be fetched "
                                       f"from the chat's file store: {exc}", rid=msg.rid)))
            return
        if conn.closed:
            return
        try:
            if not blobs.has(msg.blob_id):
                raise Refused(ErrorCode.NO_FILE, f"no file with id {msg.blob_id}")
            self.fetch(conn, msg)
        except Refused as exc:
            conn.send(p.encode(p.Error(code=exc.code, message=str(exc), rid=msg.rid)))

    async def _fetch_from_peers(self, bodies: Bodies, conn: Connection, msg: p.FetchFile) -> None:
        """Bring a body from a peer that keeps it, then send it; or say nobody has it."""
        held = await bodies.fetch(msg.blob_id)
        if conn.closed:
            return
        try:
            if not held or not self._shared.blobs.has(msg.blob_id):
                raise Refused(ErrorCode.FILE_GONE, "that file is no longer available: nobody still in the chat has it")
            self.fetch(conn, msg)
        except Refused as exc:
            conn.send(p.encode(p.Error(code=exc.code, message=str(exc), rid=msg.rid)))

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
