"""The handshake: the greeting, then the hello's protocol version, server password, proof
of the client's key, and the name it claims.

Invariants:
- The server speaks first (`Greeting` with a fresh nonce), so a client can check the
  server's certificate before it sends anything.
- A name belongs to the identity that first used it (`identities`); one online connection
  per name, where names that differ only by case, accents, invisible characters or
  look-alike letters count as the same (`names.name_keys`).
- Only the same identity under the same name replaces an online connection (a half-open
  one, typically); the replaced one is told so and ends.
- The server password is checked off the event loop (`PasswordWork`); the connection's
  next messages wait for it.
- A cluster's server binds a name new to it for the whole chat first (cluster/people.py):
  a name is one identity's through every server of the chat.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import protocol as p
from ..protocol import limits as L
from ..protocol.codes import ErrorCode
from . import chatlog
from .connection import Connection
from .errors import Refused
from .identities import bind_name, check_owner, verify_proof
from .later import Later, Step
from .names import name_keys, unfit_in
from .passwords import PasswordGate, PasswordWork
from .roster import Roster
from .shared import Shared

if TYPE_CHECKING:
    from .cluster import Cluster
    from .cluster.people import Claim

__all__ = ["Handshake"]

log = logging.getLogger(__name__)


class Handshake:
    def __init__(self, shared: Shared, gate: PasswordGate, work: PasswordWork, server_id: str, *,
                 directs: Callable[[str, int], list[p.DirectInfo]],
                 users_changed: Callable[[], None],
                 drop: Callable[[Connection, Exception | None], None], roster: Roster,
                 cluster: Cluster | None = None) -> None:
        self._shared = shared
        self._gate = gate
        self._work = work
        self._server_id = server_id
        self._directs = directs  # (uid, limit) -> its direct conversations
        self._users_changed = users_changed  # someone came online or went offline
        self._drop = drop  # everything a closed connection leaves behind (a replaced one)
        self._roster = roster
        self._cluster = cluster
        #: Our certificate's fingerprint ('' without TLS): what the clients' proofs are bound to.
        self.fingerprint = ""
        self.online: dict[str, Connection] = {}  # first name key -> connection
        self._claimed: dict[str, Connection] = {}  # every name key of those online -> connection

    def greet(self, conn: Connection) -> None:
        conn.nonce = os.urandom(L.NONCE_SIZE)
        conn.send(p.encode(p.Greeting(version=p.PROTOCOL_VERSION, server_id=self._server_id,
                                      server=self._shared.config.name, nonce=conn.nonce,
                                      epoch=self._roster.epoch, host=self._roster.host.node)))

    def hello(self, conn: Connection, msg: p.Hello) -> Step:
        if msg.version != p.PROTOCOL_VERSION:
            which = "the client" if msg.version < p.PROTOCOL_VERSION else "the server"
            raise Refused(ErrorCode.VERSION_MISMATCH,
                          f"please update PyRTC on {which}: the server speaks protocol version "
                          f"{p.PROTOCOL_VERSION}, the client {msg.version}", fatal=True)
        stored = self._shared.config.password_hash
        if stored:
            return Later(self._work.check(msg.password, stored),
                         lambda ok: self._password_checked(conn, msg, ok))
        return self._admit(conn, msg)

    def _password_checked(self, conn: Connection, msg: p.Hello, ok: bool) -> Step:
        if not ok:
            return self._gate.refuse(conn, "this server needs a password, and that one is not it"
                                     if msg.password else "this server needs a password (--password)")
        self._gate.passed(conn)
        return self._admit(conn, msg)

    def _admit(self, conn: Connection, msg: p.Hello) -> Step:
        uid = verify_proof(msg.key, msg.proof, p.hello_proof(conn.nonce, self.fingerprint, msg.name))
        conn.nonce = b""  # one hello per greeting
        unfit = unfit_in(msg.name)
        if unfit:
            raise Refused(ErrorCode.BAD_NAME, f"the name {msg.name!r} holds invisible characters "
                          f"({', '.join(unfit)}): a name may not hold what shows nothing, blank letters or "
                          "line breaks; pick one without", fatal=True)
        keys = self._check_name(msg.name, uid)
        cluster = self._cluster
        if cluster is not None and not any(b.name == msg.name and b.uid == uid
                                           for b in self._shared.store.names.holders(keys)):
            return Later(cluster.claim_name(keys, msg.name, uid),
                         lambda claim: self._claimed_in_chat(conn, msg, uid, claim))
        self._enter(conn, msg, uid, keys)
        return None

    def _claimed_in_chat(self, conn: Connection, msg: p.Hello, uid: str, claim: Claim) -> Step:
        """The chat's answer to a new name: taken by another identity, unknown (NATS down), or
        ours (checked here again: someone may have come online under it meanwhile)."""
        refused = claim.refusal(msg.name)
        if refused is not None:
            raise refused
        self._enter(conn, msg, uid, self._check_name(msg.name, uid))
        return None

    def _check_name(self, name: str, uid: str) -> tuple[str, ...]:
        """`name`'s keys, which `uid` may use now: refused when another connection uses it,
        or another identity owns it."""
        keys = name_keys(name)
        holder = next((self._claimed[k] for k in keys if k in self._claimed), None)
        if holder is not None and (holder.uid != uid or holder.name != name):
            same = holder.name if holder.name != name else ""
            raise Refused(ErrorCode.NAME_TAKEN,
                          f"the name {name!r} is in use on this server"
                          + (f" (it looks like {same!r})" if same else "") + "; pick another",
                          fatal=True)
        check_owner(self._shared.store, name, uid)  # offline, it may still be someone else's
        return keys

    def _enter(self, conn: Connection, msg: p.Hello, uid: str, keys: tuple[str, ...]) -> None:
        store = self._shared.store
        holder = next((self._claimed[k] for k in keys if k in self._claimed), None)
        if holder is not None:
            self._replace(holder, conn)
        if bind_name(store, keys, msg.name, uid):
            chatlog.line("bind name=%s uid=%s", msg.name, uid)
        conn.name, conn.uid = msg.name, uid
        self.online[keys[0]] = conn
        self._claimed.update(dict.fromkeys(keys, conn))
        self._shared.sessions.setdefault(uid, set()).add(conn)
        self._users_changed()
        chatlog.line("connect name=%s uid=%s peer=%s client=%s", conn.name, uid[:16], conn.peer, msg.client)
        config = self._shared.config
        conn.send(p.encode(p.Welcome(
            version=p.PROTOCOL_VERSION, server=config.name, name=msg.name, uid=uid,
            rooms=self._shared.room_page()[0], joined=store.rooms_of(msg.name, uid, L.MAX_ROOM_PAGE),
            max_file=config.max_file, server_id=self._server_id,
            max_rate=config.max_rate, burst=config.burst, rooms_total=store.room_count(),
            directs=self._directs(uid, L.MAX_ROOM_PAGE),
        )))
        self._roster.admitted(conn, msg.peer, self._shared.conns)

    def _replace(self, old: Connection, new: Connection) -> None:
        """The same identity under the same name is back: its old connection (half-open, or
        another window of the same installation) ends, told why, so it does not come back."""
        log.info("%s replaces the session of %s from %s", new.peer, old.name, old.peer)
        old.send_now(p.encode(p.Error(code=ErrorCode.REPLACED, fatal=True, message=(
            f"the name {old.name!r} connected again with this identity from {new.peer}; "
            "this session ends"))))
        self._drop(old, None)
        old.abort()

    def release(self, conn: Connection) -> bool:
        """Free the name of `conn` (named, closed); True if it was the one online under it."""
        assert conn.name is not None
        sessions = self._shared.sessions.get(conn.uid)
        if sessions is not None:
            sessions.discard(conn)
            if not sessions:
                del self._shared.sessions[conn.uid]
        keys = name_keys(conn.name)
        for key in keys:
            if self._claimed.get(key) is conn:
                del self._claimed[key]
        if self.online.get(keys[0]) is conn:
            del self.online[keys[0]]
            return True
        return False
