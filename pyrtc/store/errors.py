"""Store errors: anything the history database or the blob directory refuses."""

from __future__ import annotations

import errno
import sqlite3

from ..errors import PyRTCError
from ..protocol.codes import ErrorCode

__all__ = ["StoreError", "BlobError", "DiskFull", "disk_full"]


class StoreError(PyRTCError):
    code = ErrorCode.STORE


class BlobError(StoreError):
    """An upload that does not fit: wrong offset, wrong hash, over the size limit."""

    code = ErrorCode.FILE


class DiskFull(StoreError):
    """The disk of the data dir is full (or the user's quota on it): nothing was written.
    Not a fault of the request; the same request works once there is space again."""

    code = ErrorCode.DISK_FULL


def disk_full(exc: BaseException) -> bool:
    """Whether `exc` says the disk (or the quota) is full: ENOSPC, EDQUOT, SQLITE_FULL."""
    if isinstance(exc, sqlite3.Error):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
