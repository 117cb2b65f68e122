"""The chat server: its life (start, close) and its connections; the dispatch of each
message to the part that handles it is `Dispatch` (dispatch.py).

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
from pathlib import Path
from typing import TYPE_CHECKING

from .. import protocol as p
from ..private import private_dir, private_file, private_tree, write_private
from ..store import BlobStore, Store
from ..store.rehash import adopt_blake3_ids
from . import chatlog
from .bodies import Bodies
from .commit import GroupCommit
from .config import ServerConfig
from .connection import Connection
from .conversations import Conversations
from .dispatch import Dispatch
from .fanout import RoomBus
from .files import Files
from .handshake import Handshake
from .housekeeping import Housekeeping
from .identities import warm_up
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


class ChatServer(Dispatch):
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
        self._conversations = Conversations(shared, self._commit, self.cluster)
        self._membership = Membership(shared, self._presence, gate, meters, self._passwords,
                                      self._conversations, rooms_changed=self._users_changed,
                                      cluster=self.cluster)
        self._handshake = Handshake(shared, gate, self._passwords, self.server_id,
                                    directs=self._conversations.directs, users_changed=self._users_changed,
                                    drop=self.disconnected, roster=self.roster, cluster=self.cluster)
        self._files = Files(shared, self._messages, self.cluster, Bodies(shared, self.roster))
        self._housekeeping = Housekeeping(shared, self._presence)
        self.succession = Succession(shared, self.roster, allowed=set(config.peers) | set(config.collect),
                                     expected=set(config.collect), release=self._release_held,
                                     receipt=self._presence.apply_receipt)

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
