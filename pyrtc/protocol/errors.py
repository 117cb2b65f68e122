"""Protocol errors.

    PyRTCError
    └── ProtocolError          (code: the wire code put in the Error frame)
        ├── FrameTooLarge      length prefix over MAX_FRAME
        └── BadMessage         undecodable body, unknown type, a field out of its limits
"""

from __future__ import annotations

from ..errors import PyRTCError

__all__ = ["ProtocolError", "FrameTooLarge", "BadMessage"]


class ProtocolError(PyRTCError):
    code = "protocol"
    #: Messages that decoded from the same feed() before the error: still valid, still served.
    decoded: list[object] = []


class FrameTooLarge(ProtocolError):
    code = "frame_too_large"


class BadMessage(ProtocolError):
    code = "bad_message"
