"""Protocol errors.

    PyRTCError
    └── ProtocolError          (code: the wire code put in the Error frame)
        ├── FrameTooLarge      length prefix over MAX_FRAME
        └── BadMessage         undecodable body, unknown type, a field out of its limits
"""

from __future__ import annotations

from ..errors import PyRTCError
from .codes import ErrorCode

__all__ = ["ProtocolError", "FrameTooLarge", "BadMessage"]


class ProtocolError(PyRTCError):
    code = ErrorCode.PROTOCOL
    #: Messages that decoded from the same feed() before the error: still valid, still served.
    decoded: list[object] = []


class FrameTooLarge(ProtocolError):
    code = ErrorCode.FRAME_TOO_LARGE


class BadMessage(ProtocolError):
    code = ErrorCode.BAD_MESSAGE
