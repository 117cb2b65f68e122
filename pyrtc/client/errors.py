"""Client errors.

    PyRTCError
    └── ClientError
        ├── ConnectionLost   the server is unreachable or the connection broke
        └── Rejected         the server refused a request (code + message from its Error)
            └── IdentityMismatch   the server's certificate is not the pinned one
"""

from __future__ import annotations

from ..errors import PyRTCError
from ..protocol.codes import ErrorCode

__all__ = ["ClientError", "ConnectionLost", "Rejected", "IdentityMismatch"]


class ClientError(PyRTCError):
    pass


class ConnectionLost(ClientError):
    pass


class Rejected(ClientError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class IdentityMismatch(Rejected):
    """The server's certificate is not the one announced, pinned or remembered."""

    def __init__(self, message: str, *, seen: str, expected: str) -> None:
        super().__init__(ErrorCode.FINGERPRINT_MISMATCH, message)
        self.seen, self.expected = seen, expected
