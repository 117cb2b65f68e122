"""Server errors: refusals that go back to one client as an `Error` frame."""

from __future__ import annotations

from ..errors import PyRTCError
from ..protocol.codes import ErrorCode

__all__ = ["ClusterError", "ServerError", "Refused"]


class ServerError(PyRTCError):
    code = ErrorCode.SERVER


class Refused(ServerError):
    """A request we turn down; the connection stays open unless `fatal`."""

    def __init__(self, code: ErrorCode, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.fatal = fatal


class ClusterError(Exception):
    """A cluster's server cannot reach NATS, or NATS refused what the chat needs; says which."""
