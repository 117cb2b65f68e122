"""File bodies (and thumbnails) of one chat in its JetStream object store.

Why an object store rather than fetching a body from the server that received it: the body
must outlive that server (kill -9 of one server is a case the chat survives), and with the
store no server needs to know which one holds what. A body is put once (ids are content
hashes) before its post is published, so whoever sees the post can fetch it through any
server; a server that fetched one keeps it in its own blobs and serves it from disk after.
Measured on loopback: see docs/cluster.md.
"""

from __future__ import annotations

from pathlib import Path

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from ..errors import ClusterError
from .link import why

__all__ = ["Bodies"]


class Bodies:
    def __init__(self, js: JetStreamContext, bucket: str) -> None:
        self._js = js
        self._bucket = bucket
        self._store: ObjectStore | None = None

    async def _open(self) -> ObjectStore:
        if self._store is None:
            try:
                self._store = await self._js.create_object_store(bucket=self._bucket)
            except Exception as exc:
                raise ClusterError(f"NATS refused the chat's file store: {exc}") from None
        return self._store

    async def put(self, blob_id: str, path: Path) -> None:
        """Store a body once (a second put of the same id finds it there)."""
        store = await self._open()
        try:
            try:
                await store.get_info(blob_id)
                return
            except NotFoundError:
                pass
            with open(path, "rb") as f:
                await store.put(blob_id, f)
        except OSError:
            raise
        except Exception as exc:
            raise ClusterError(f"NATS did not store the file ({why(exc)})") from None

    async def get(self, blob_id: str, into: Path) -> bool:
        """Write a body to `into`; False when the store holds none by that id."""
        store = await self._open()
        try:
            with open(into, "wb") as f:
                await store.get(blob_id, writeinto=f)
        except NotFoundError:
            into.unlink(missing_ok=True)
            return False
        except OSError:
            into.unlink(missing_ok=True)
            raise
        except Exception as exc:
            into.unlink(missing_ok=True)
            raise ClusterError(f"NATS did not send the file ({why(exc)})") from None
        return True
