"""Store errors: anything the history database or the blob directory refuses."""

from __future__ import annotations

from ..errors import PyRTCError
from ..protocol.codes import ErrorCode

__all__ = ["StoreError", "BlobError"]


class StoreError(PyRTCError):
    code = ErrorCode.STORE


class BlobError(StoreError):
    """An upload that does not fit: wrong offset, wrong hash, over the size limit."""

    code = ErrorCode.FILE
