"""Every error code an `Error` frame (or a client-side failure) can carry, in one place.

Both ends compare against these names, never against string literals typed again. The
values are the wire strings: never renamed (an older peer may still send them).
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ErrorCode"]


class ErrorCode(StrEnum):
    # framing and protocol
    PROTOCOL = "protocol"
    FRAME_TOO_LARGE = "frame_too_large"
    BAD_MESSAGE = "bad_message"
    VERSION_MISMATCH = "version_mismatch"
    UNEXPECTED_MESSAGE = "unexpected_message"
    TIMEOUT = "timeout"  # hello or a begun frame did not arrive within the server's deadline
    INTERNAL = "internal"
    SERVER = "server"
    # handshake and identity
    NAME_TAKEN = "name_taken"
    BAD_NAME = "bad_name"
    WRONG_PASSWORD = "wrong_password"
    FINGERPRINT_MISMATCH = "fingerprint_mismatch"
    BAD_IDENTITY = "bad_identity"  # no key, or a proof that does not verify
    REPLACED = "replaced"  # the same identity and name connected again: this session ends
    # connection limits
    SERVER_FULL = "server_full"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    SLOW_DOWN = "slow_down"
    # rooms and messages
    UNKNOWN_ROOM = "unknown_room"
    NOT_JOINED = "not_joined"
    WATCHING = "watching"
    UNKNOWN_MESSAGE = "unknown_message"
    ROOM_LIMIT = "room_limit"  # the server holds as many rooms as it allows
    ROOM_QUOTA = "room_quota"  # this user created as many rooms as allowed per hour
    BAD_EMOJI = "bad_emoji"  # a reaction that is not one emoji
    REACTION_LIMIT = "reaction_limit"  # the message has as many reactions (or kinds) as allowed
    NOT_ALLOWED = "not_allowed"  # a direct conversation of two others
    NOT_YOURS = "not_yours"  # an edit or delete of someone else's message
    UNKNOWN_USER = "unknown_user"  # a direct message to a name nobody holds
    # files
    FILE = "file"
    FILE_TOO_LARGE = "file_too_large"
    FILE_QUOTA = "file_quota"
    FILE_BUSY = "file_busy"
    TOO_MANY_UPLOADS = "too_many_uploads"
    UNFINISHED_QUOTA = "unfinished_quota"
    NO_OFFER = "no_offer"
    NO_FILE = "no_file"
    FILE_GONE = "file_gone"  # its body went with a host that left, and no peer still in the chat keeps it
    BAD_RANGE = "bad_range"
    # store
    STORE = "store"
    DISK_FULL = "disk_full"  # nothing was stored; the same request works once there is space
    CHAT_DEGRADED = "chat_degraded"  # a cluster's server cannot reach its message log: not stored
    # client side only: never on the wire
    CONNECTION_LOST = "connection_lost"
    CORRUPT = "corrupt"
    FILE_CHANGED = "file_changed"
