"""Protocol errors.

    PyRTCError
    └── ProtocolError          (code: the wire code put in the Error frame)
        ├── FrameTooLarge      length prefix over MAX_FRAME
        ├── BadMessage         undecodable body, unknown type, a field out of its limits
        ├── VersionMismatch    peer speaks another protocol version
        └── UnexpectedMessage  a valid message at the wrong time (e.g. before hello)
"""

from __future__ import annotations

from ..errors import PyRTCError

__all__ = ["ProtocolError", "FrameTooLarge", "BadMessage", "VersionMismatch", "UnexpectedMessage"]


class ProtocolError(PyRTCError):
    code = "protocol"
    #: Messages that decoded from the same feed() before the error: still valid, still served.
    decoded: list[object] = []


class FrameTooLarge(ProtocolError):
    code = "frame_too_large"


class BadMessage(ProtocolError):
    code = "bad_message"


class VersionMismatch(ProtocolError):
    code = "version_mismatch"


class UnexpectedMessage(ProtocolError):
    code = "unexpected_message"
