"""The handshake: protocol version, server password, the name a connection claims, and the
session token that lets a reconnect take over its own half-open connection.

Invariants:
- One online connection per user name, where names that differ only by case, accents,
  invisible characters or look-alike letters count as the same (`names.name_keys`).
- Only the same name, showing the token of its last session, resumes: a token of a
  look-alike name never evicts its holder.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from .. import protocol as p
from ..protocol import limits as L
from ..protocol.codes import ErrorCode
from . import chatlog
from .connection import Connection
from .errors import Refused
from .names import invisible_in, name_keys
from .passwords import PasswordGate, check_password
from .shared import Shared

__all__ = ["Handshake"]

log = logging.getLogger(__name__)


class Handshake:
    def __init__(self, shared: Shared, gate: PasswordGate, server_id: str, *,
                 users_changed: Callable[[], None],
                 drop: Callable[[Connection, Exception | None], None]) -> None:
        self._shared = shared
        self._gate = gate
        self._server_id = server_id
        self._users_changed = users_changed  # someone came online or went offline
        self._drop = drop  # everything a closed connection leaves behind (a resumed one)
        self.online: dict[str, Connection] = {}  # first name key -> connection
        self._claimed: dict[str, Connection] = {}  # every name key of those online -> connection
        self._tokens: dict[str, str] = {}  # first name key -> token of its last session

    def hello(self, conn: Connection, msg: p.Hello) -> None:
        config = self._shared.config
        if msg.version != p.PROTOCOL_VERSION:
            raise Refused(ErrorCode.VERSION_MISMATCH,
                          f"this server speaks protocol version {p.PROTOCOL_VERSION}, "
                          f"the client {msg.version}; update the older one", fatal=True)
        if config.password_hash and not check_password(msg.password, config.password_hash):
            self._gate.refuse(conn, "this server needs a password, and that one is not it"
                              if msg.password else "this server needs a password (--password)")
            return
        self._gate.passed(conn)
        hidden = invisible_in(msg.name)
        if hidden:
            raise Refused(ErrorCode.BAD_NAME, f"the name {msg.name!r} holds invisible characters "
                          f"({', '.join(hidden)}); pick one without", fatal=True)
        keys = name_keys(msg.name)
        key = keys[0]
        holder = next((self._claimed[k] for k in keys if k in self._claimed), None)
        if holder is not None:
            # Only the same name resumes: a token of a look-alike name must not evict its holder.
            if (holder.name == msg.name and msg.token
                    and secrets.compare_digest(msg.token, self._tokens.get(key, ""))):
                log.info("%s resumes the session of %s from %s", conn.peer, msg.name, holder.peer)
                self._drop(holder, None)
                holder.abort()
            else:
                same = holder.name if holder.name != msg.name else ""
                raise Refused(ErrorCode.NAME_TAKEN,
                              f"the name {msg.name!r} is in use on this server"
                              + (f" (it looks like {same!r})" if same else "") + "; pick another",
                              fatal=True)
        conn.name = msg.name
        token = self._tokens.get(key) if msg.token and msg.token == self._tokens.get(key) else None
        conn.token = token or secrets.token_urlsafe(18)
        self._tokens[key] = conn.token
        self.online[key] = conn
        self._claimed.update(dict.fromkeys(keys, conn))
        self._users_changed()
        chatlog.line("connect name=%s peer=%s client=%s", conn.name, conn.peer, msg.client)
        store = self._shared.store
        conn.send(p.encode(p.Welcome(
            version=p.PROTOCOL_VERSION, server=config.name, name=conn.name, token=conn.token,
            rooms=self._shared.room_page()[0], joined=store.rooms_of(conn.name, L.MAX_ROOM_PAGE),
            max_file=config.max_file, server_id=self._server_id,
            max_rate=config.max_rate, burst=config.burst, rooms_total=store.room_count(),
        )))

    def release(self, conn: Connection) -> bool:
        """Free the name of `conn` (named, closed); True if it was the one online under it."""
        assert conn.name is not None
        keys = name_keys(conn.name)
        for key in keys:
            if self._claimed.get(key) is conn:
                del self._claimed[key]
        if self.online.get(keys[0]) is conn:
            del self.online[keys[0]]
            return True
        return False
