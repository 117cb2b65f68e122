"""Client errors.

    PyRTCError
    └── ClientError
        ├── ConnectionLost   the server is unreachable or the connection broke
        └── Rejected         the server refused a request (code + message from its Error)
"""

from __future__ import annotations

from ..errors import PyRTCError

__all__ = ["ClientError", "ConnectionLost", "Rejected"]


class ClientError(PyRTCError):
    pass


class ConnectionLost(ClientError):
    pass


class Rejected(ClientError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
