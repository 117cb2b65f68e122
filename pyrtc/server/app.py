"""The chat server: its life (start, close), its connections, and the dispatch of each
message to the part that handles it.

The parts (handshake, membership, messages, presence, files, housekeeping) are built here
and share state only through what they are given: the `Shared` settings, store and rooms,
and each other where one needs another (a finished upload is posted as a message).

Invariants:
- Every message is handled on the event loop thread, one at a time, so room state needs no
  locks; SQLite calls are short and synchronous, hashing and passwords (scrypt) go to
  threads and thumbnails to worker processes. A request that waits for such work (`Later`)
  holds its connection's next messages until it is answered; every other connection is
  served meanwhile.
- A message is acknowledged (`Acked`, ✓ sent) only after its transaction has committed
  (`GroupCommit`: one transaction per loop iteration).
- Each chat activity goes to the `pyrtc.chat` logger, control characters escaped, so no
  user text can forge a log line.
- Every kind of frame is metered: posts by flood control, every other request by `Meters`
  (and the changes others see per user and address); only heartbeats and the chunks of an
  accepted upload are free.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, assert_never

from .. import protocol as p
from ..private import private_dir, private_file, private_tree, write_private
from ..protocol.codes import ErrorCode
from ..store import BlobStore, Store, StoreError
from ..store.rehash import adopt_blake3_ids
from . import chatlog
from .commit import GroupCommit
from .config import ServerConfig
from .connection import Connection
from .conversations import Conversations
from .errors import Refused
from .fanout import RoomBus
from .files import Files
from .handshake import Handshake
from .housekeeping import Housekeeping
from .identities import warm_up
from .later import Later, Step
from .membership import Membership
from .messages import Messages
from .meters import Meters
from .passwords import PasswordGate, PasswordWork
from .presence import Presence
from .roster import Roster, read_epoch, write_epoch
from .shared import Shared
from .sockets import Listener, Refusal, raise_fd_limit
from .stream import Stream
from .succession import Succession
from .tls import ensure_certificate, server_context

if TYPE_CHECKING:
    from .cluster import Cluster

__all__ = ["ChatServer"]

log = logging.getLogger(__name__)

# What flood control counts: what others see or what costs the server storage.
_METERED = (p.SendText, p.React, p.OfferFile, p.CreateRoom, p.EditText, p.DeleteMessage, p.OpenDirect,
            p.SetStatus)
# Not metered: heartbeats, and chunks (each belongs to an offer flood control counted).
_FREE = (p.Ping, p.Pong, p.FileChunk)


class ChatServer:
    def __init__(
        self,
        config: ServerConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._clock = clock
        if tightened := _private_data_dir(config.data_dir):
            log.info("made %d files and folders in %s readable by this user only (they were readable "
                     "by others)", tightened, config.data_dir)
        store = Store(config.data_dir / "history.db", clock=wall)
        blobs = BlobStore(config.data_dir / "files", clock=wall)
        adopt_blake3_ids(blobs, store)  # files of a store from before protocol 2
        blobs.sweep_parts(config.unfinished_ttl)  # uploads that expired while the server was down
        self._shared = shared = Shared(config, clock, store, blobs)
        self.server_id = _server_id(config.data_dir)
        self._listener: Listener | None = None
        self._housekeeping_task: asyncio.Task[None] | None = None
        #: Called with (users online, rooms) whenever either changes (for the mDNS TXT record).
        self.on_counts_changed: Callable[[int, int], None] | None = None
        self.server_id = _server_id(config.data_dir)  # the chat's id
        #: Which host of this chat we are: one more than any before us that this data dir saw.
        self.epoch = config.epoch or read_epoch(config.data_dir) or 1
        write_epoch(config.data_dir, self.epoch)
        self.node = config.node or self.server_id
        # A dedicated server (no hosting peer's node id) keeps its chat: no peer takes it over.
        self.roster = Roster(self.server_id, self.epoch, p.PeerInfo(node=self.node, name=config.name),
                             dedicated=not config.node)
        self.fingerprint: str | None = None  # SHA-256 of our TLS certificate, once started
        self._closing = False
        gate = PasswordGate(clock)
        self._passwords = PasswordWork()
        self._meters = meters = Meters(config, clock)
        self._commit = GroupCommit(store, shared.bus)
        self.cluster: Cluster | None = None
        if config.cluster:
            from .cluster import Cluster  # nats-py: only a cluster's server needs it
            self.cluster = Cluster(shared, self._commit, config.cluster, config.chat_id, self.server_id)
        self._presence = Presence(shared, meters, self.cluster)
        self._messages = Messages(shared, self._commit, self._presence, self.cluster)
        self._conversations = Conversations(shared, self._commit)
        self._membership = Membership(shared, self._presence, gate, meters, self._passwords,
                                      self._conversations, rooms_changed=self._users_changed,
                                      cluster=self.cluster)
        self._handshake = Handshake(shared, gate, self._passwords, self.server_id,
                                    directs=self._conversations.directs, users_changed=self._users_changed,
                                    drop=self.disconnected, roster=self.roster)
        self._files = Files(shared, self._messages, self.cluster)
        self._housekeeping = Housekeeping(shared, self._presence)
        self.succession = Succession(shared, self.roster, allowed=set(config.peers) | set(config.collect),
                                     expected=set(config.collect), release=self._release_held)

    # What tests, the CLI and the hosting code read; the parts share the same objects.
    @property
    def store(self) -> Store:
        return self._shared.store

    @property
    def blobs(self) -> BlobStore:
        return self._shared.blobs

    @property
    def bus(self) -> RoomBus:
        return self._shared.bus

    @property
    def conns(self) -> set[Connection]:
        return self._shared.conns

    @property
    def online(self) -> dict[str, Connection]:
        """First name key -> the connection online under that name."""
        return self._handshake.online

    @property
    def users_online(self) -> int:
        return len(self.online)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        ctx = None
        if self.config.tls:
            cert, key, self.fingerprint = ensure_certificate(self.config.data_dir, self.config.name)
            self._handshake.fingerprint = self.fingerprint
            ctx = server_context(cert, key)
        else:
            log.warning("TLS is off (--insecure): messages cross the network in clear text, and names "
                        "are not protected against anyone who can intercept the traffic")
        raise_fd_limit()  # each connection is a descriptor
        warm_up()
        cfg = self.config
        if self.cluster is not None:
            await self.cluster.start()  # the chat's id, and the cache caught up, before any client

        def connection(sock: socket.socket, peer: tuple[str, int], refusal: Refusal | None,
                       on_finish: Callable[[Stream], None]) -> Connection:
            return Connection(self, sock, peer, tls=ctx, refusal=refusal, on_finish=on_finish,
                              quiet=listener.quiet, clock=self._clock)

        # Accepted sockets count towards both limits from the start (the listener refuses).
        listener = Listener(connection, max_per_address=cfg.max_per_address,
                            max_connections=cfg.max_connections)
        await listener.open(cfg.host, cfg.port)
        self._listener = listener
        self._housekeeping_task = loop.create_task(self._housekeeping.run())
        self.succession.start(cfg.collect_for)
        if cfg.peers or cfg.collect:  # taken over: where each room stood when we did
            self.roster.since = {name: last for name, last, _, _ in self.store.rooms()}
        self.store.start_checkpointer()
        host, port = self.address
        self.roster.set_host(p.PeerInfo(node=self.node, name=cfg.name, addresses=cfg.addresses[:8],
                                        port=port, fingerprint=self.fingerprint or ""))
        log.info("listening on %s:%d as %r (data in %s)", host, port, self.config.name,
                 self.config.data_dir)
        return host, port

    @property
    def address(self) -> tuple[str, int]:
        assert self._listener is not None and self._listener.sockets
        return self._listener.address

    async def close(self) -> None:
        if self._closing:
            return  # closed already (a test's teardown after the test closed it)
        self._closing = True
        if self._listener is not None:
            self._listener.close()  # stops accepting; aborts those still in their handshake
        if self._housekeeping_task is not None:
            self._housekeeping_task.cancel()
        if self._commit.open:
            self._commit.commit()
        self._presence.flush()
        for conn in list(self.conns):
            conn.abort()
        self._passwords.close()
        if self.cluster is not None:
            await self.cluster.close()
        await self._files.close()  # its thumbnail workers
        self.store.close()
        log.info("stopped")

    async def __aenter__(self) -> ChatServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def sweep(self) -> None:
        """Expire typing and drop silent connections; called twice a second (tests call it
        directly with a fake clock)."""
        self._housekeeping.sweep()

    def _release_held(self, held: list[tuple[Connection, p.ClientMsg]]) -> None:
        """The posts that waited while this new host collected the peers' copies."""
        for conn, msg in held:
            if isinstance(msg, p.SendText):
                self._commit.begin()
                self._step(conn, msg, partial(self._messages.send_text, conn, msg))

    async def hand_over(self, wait: float = 2.0, *, pushes: bool = True, to: p.PeerInfo | None = None,
                        epoch: int = 0) -> p.PeerInfo | None:
        """A planned quit (or a winning other host, `to`): see Succession.hand_over."""
        return await self.succession.hand_over(wait, pushes=pushes, to=to, epoch=epoch)

    # ------------------------------------------------------------------ connections

    def connected(self, conn: Connection) -> None:
        # Over --max-per-address or max_connections, the listener refused it already.
        self.conns.add(conn)
        log.debug("connect %s", conn.peer)  # probes connect too; hello is logged at INFO
        self._handshake.greet(conn)

    def disconnected(self, conn: Connection, exc: Exception | None) -> None:
        self.conns.discard(conn)
        self._files.release(conn)
        self._meters.closed(conn)
        if conn.name is None:
            return
        if not self._closing:
            self.roster.gone(conn, self.conns)
        self._conversations.went_offline(conn)  # while its rooms still list it
        self._presence.went_offline(conn)
        if self._handshake.release(conn):
            self._users_changed()
        if exc:
            chatlog.line("disconnect name=%s peer=%s reason=%s", conn.name, conn.peer, str(exc))
        else:
            chatlog.line("disconnect name=%s peer=%s", conn.name, conn.peer)

    def _users_changed(self) -> None:
        # Not while closing: the disconnects of `close()` arrive after the store is closed.
        if self.on_counts_changed is not None and not self._closing:
            self.on_counts_changed(len(self.online), self.store.room_count())

    # ------------------------------------------------------------------ dispatch

    def dispatch(self, conn: Connection, msg: p.ClientMsg) -> None:
        """Handle one message; refusals become an Error frame, bugs are logged."""
        if not self._commit.open and not isinstance(msg, (p.FileChunk, p.Ping, p.Pong)):
            self._commit.begin()
        self._step(conn, msg, lambda: self._handle(conn, msg) if conn.name is not None
                   else self._hello(conn, msg))

    def _hello(self, conn: Connection, msg: p.ClientMsg) -> Step:
        if not isinstance(msg, p.Hello):
            raise Refused(ErrorCode.UNEXPECTED_MESSAGE,
                          f"the first message must be hello, not {type(msg).__name__}", fatal=True)
        self._meters.hello(conn)
        return self._handshake.hello(conn, msg)

    def _step(self, conn: Connection, msg: p.ClientMsg, step: Callable[[], Step]) -> bool:
        """Run one step of handling `msg`; True if it left work to wait for (see `Later`)."""
        try:
            later = step()
            if later is not None:
                conn.hold()
                conn.spawn(self._after(conn, msg, later))
                return True
        except Refused as exc:
            rid = getattr(msg, "rid", 0)
            if exc.fatal:
                log.warning("%s (%s): %s; closing", conn.peer, conn.name, exc)
                conn.fail(exc.code, str(exc), rid)
            else:
                conn.send(p.encode(p.Error(code=exc.code, message=str(exc), rid=rid,
                                           cid=getattr(msg, "cid", ""))))
        except StoreError as exc:
            log.warning("%s (%s): %s", conn.peer, conn.name, exc)
            conn.send(p.encode(p.Error(code=exc.code, message=str(exc), rid=getattr(msg, "rid", 0),
                                       cid=getattr(msg, "cid", ""))))
        except Exception:
            log.error("bug handling %s from %s", type(msg).__name__, conn.peer, exc_info=True)
            conn.send(p.encode(p.Error(code=ErrorCode.INTERNAL, message="the server failed on this request",
                                       rid=getattr(msg, "rid", 0))))
        return False

    async def _after(self, conn: Connection, msg: p.ClientMsg, later: Later[Any]) -> None:
        """Wait for a step's work (the connection's next messages wait too), then go on."""
        try:
            result = await later.work
        except Exception:
            log.error("work for %s from %s failed", type(msg).__name__, conn.peer, exc_info=True)
            conn.send(p.encode(p.Error(code=ErrorCode.INTERNAL, message="the server failed on this request",
                                       rid=getattr(msg, "rid", 0))))
            conn.release()
            return
        if conn.closed:
            return
        self._commit.begin()
        if not self._step(conn, msg, lambda: later.then(result)):
            conn.release()

    def _handle(self, conn: Connection, msg: p.ClientMsg) -> Step:
        if isinstance(msg, _METERED):
            if not conn.allow():
                raise Refused(ErrorCode.SLOW_DOWN, f"slow down: at most {self.config.max_rate:g} messages a "
                              f"second (bursts of {self.config.burst}); this one was not sent")
        elif not isinstance(msg, _FREE):
            self._meters.request(conn)
        match msg:
            case p.SendText():
                if not self.succession.hold(conn, msg):
                    self._messages.send_text(conn, msg)
            case p.Replicate():
                self.succession.replicate(conn, msg)
            case p.MarkDelivered():
                self._presence.receipt(conn, msg.room, delivered=msg.seq, read=0)
            case p.MarkRead():
                self._presence.receipt(conn, msg.room, delivered=msg.seq, read=msg.seq)
            case p.SetTyping():
                self._presence.typing(conn, msg)
            case p.FileChunk():
                self._files.chunk(conn, msg)
            case p.JoinRoom():
                return self._membership.join(conn, msg)
            case p.LeaveRoom():
                self._membership.leave(conn, msg)
            case p.ListRooms():
                self._membership.list_rooms(conn, msg)
            case p.CreateRoom():
                return self._membership.create_room(conn, msg)
            case p.React():
                self._messages.react(conn, msg)
            case p.OfferFile():
                self._files.offer(conn, msg)
            case p.FetchFile():
                self._files.fetch(conn, msg)
            case p.GetHistory():
                self._messages.history(conn, msg)
            case p.Search():
                self._messages.search(conn, msg)
            case p.OpenDirect():
                self._conversations.open_direct(conn, msg)
            case p.EditText() | p.DeleteMessage():
                self._conversations.edit(conn, msg)
            case p.SetStatus():
                self._conversations.set_status(conn, msg)
            case p.Ping():
                conn.send(p.encode(p.Pong(nonce=msg.nonce)))
            case p.Pong():
                pass  # last_rx already moved
            case p.Hello():
                raise Refused(ErrorCode.UNEXPECTED_MESSAGE, "hello was already received", fatal=True)
            case _:
                assert_never(msg)
        return None


def _private_data_dir(data_dir: Path) -> int:
    """The data dir 0700 and what the server keeps in it private, also what a version before
    this one left readable by others; how many had to be tightened. Only our own names: the
    folder may be one a user named, holding files of theirs."""
    changed = private_dir(data_dir) + private_tree(data_dir / "files")  # blobs, unfinished uploads
    for name in ("history.db", "history.db-wal", "history.db-shm", "server-id", "epoch", "tls-key.pem", "tls-cert.pem"):
        changed += private_file(data_dir / name)
    return changed


def _server_id(data_dir: Path) -> str:
    """A stable id made at first start and kept in the data dir (one entry per server in
    browsers, whatever its addresses or instance name)."""
    path = data_dir / "server-id"
    try:
        text = path.read_text().strip()
        if len(text) == 32 and all(c in "0123456789abcdef" for c in text):
            return text
    except OSError:
        pass
    sid = secrets.token_hex(16)
    write_private(path, (sid + "\n").encode())
    return sid
