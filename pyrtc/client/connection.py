"""Connection: open, handshake, read, and reconnect with backoff — the session's link to the server.

Invariants:
- Nothing of ours is sent before the server's Greeting has been checked: its protocol version,
  and its certificate against the fingerprint given or announced and the ones remembered
  (`trust`). A mismatch ends the connection before a byte of ours is sent, and for good (`fatal`).
- The hello proves this installation's key (`Identity`) over the greeting's nonce and the
  certificate fingerprint we saw: a relay showing another certificate cannot reuse it.
- On reconnect the rooms resume where they were (`resume.Resuming`).
- After failed reconnects `relocate` may say where the server is now (discovery: it may have
  come back on another address or port).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import ssl
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .. import protocol as p
from ..protocol import limits as L
from ..protocol.codes import ErrorCode
from ..ratelimit import TokenBucket
from .addresses import Alternate as Alternate
from .addresses import parse_address as parse_address
from .addresses import why_unreachable
from .errors import ConnectionLost, IdentityMismatch, Rejected
from .events import Connected, Connecting, Disconnected
from .identity import Identity
from .resume import Resuming
from .routing import Router

__all__ = ["Alternate", "Connection", "parse_address"]

log = logging.getLogger(__name__)

M = TypeVar("M", p.Greeting, p.Welcome)

#: Error codes after which reconnecting cannot help.
_FATAL_HELLO = {ErrorCode.NAME_TAKEN, ErrorCode.VERSION_MISMATCH, ErrorCode.BAD_MESSAGE,
                ErrorCode.UNEXPECTED_MESSAGE, ErrorCode.WRONG_PASSWORD, ErrorCode.BAD_NAME,
                ErrorCode.BAD_IDENTITY}


class Connection(Resuming):
    def __init__(
        self,
        router: Router,
        host: str,
        port: int,
        name: str,
        *,
        fill_gap: Callable[[str, int], Awaitable[None]],
        fill_rooms: Callable[[], Awaitable[object]],
        client: str,
        reconnect: bool,
        backoff: tuple[float, float],
        idle_timeout: float,
        connect_timeout: float,
        relocate: Callable[[], Awaitable[tuple[str, int] | None]] | None,
        tls: bool,
        failover: Callable[[], Awaitable[list[Alternate]]] | None = None,
        fingerprint: str | None,
        trust: Callable[[str, p.Greeting], None] | None,
        password: str,
        identity: Identity,
        clock: Callable[[], float],
    ) -> None:
        self.host, self.port, self.name = host, port, name
        self._router = router
        self._fill = fill_gap  # fetches a room's messages after a seq (ClientSession.fill)
        self._fill_rooms = fill_rooms  # fetches every page of rooms (ClientSession.list_rooms)
        self._client = client
        self._reconnect = reconnect
        self._backoff = backoff
        self.idle_timeout = idle_timeout
        self._connect_timeout = connect_timeout
        self.relocate = relocate
        #: The other servers of the server's chat (a cluster): where to go when it is gone.
        self.failover = failover
        self.tls = tls
        #: The certificate we expect (announced, --fingerprint, or seen on the first connect):
        #: checked right after the TLS handshake, before a byte of ours is sent.
        self.fingerprint = fingerprint.lower() if fingerprint else None
        self.peer_fingerprint: str | None = None
        self._trust = trust  # at the Greeting: may raise IdentityMismatch (remembered servers)
        self._password = password  # the server's, sent in every hello
        self.identity = identity
        #: Set by a full client that could host this chat: reported in every hello (the
        #: roster); a callable makes it from the greeting (which chat this is).
        self.peer: p.PeerInfo | Callable[[p.Greeting], p.PeerInfo | None] | None = None
        self._clock = clock  # of the pacing bucket (tests move it by hand)
        if not tls:
            log.warning("TLS is off (--insecure): the server is not authenticated, and your name is not "
                        "protected against anyone who can intercept the traffic")
        self._reader: asyncio.StreamReader | None = None
        self._decoder = p.client_decoder()
        self._early: list[p.ServerMsg] = []  # frames read with the Welcome, after it
        self.bucket = TokenBucket(0.0, 1)  # the server's flood control, learnt from Welcome
        self._runner: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._moved = False  # the host changed: try the new one without waiting

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    async def connect(self) -> None:
        await self._open()
        self._runner = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        self._closing = True
        self._router.receipts.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._runner is not None:
            self._runner.cancel()
            try:
                await self._runner
            except (asyncio.CancelledError, Exception):
                pass
        await self._drop_transport()
        self._router.fail_waiters(ConnectionLost("the session was closed"))

    async def _open(self, attempt: int = 0) -> None:
        router = self._router
        router.emit(Connecting(self.address, attempt))
        ctx = None
        if self.tls:
            # No CA for a LAN server: we pin its certificate's fingerprint instead.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port, limit=L.MAX_FRAME * 2,
                                                               ssl=ctx)
        except ssl.SSLError as exc:
            raise ConnectionLost(f"the server at {self.address} does not speak TLS ({exc.reason or exc}); "
                                 "if it runs with --insecure, connect with --insecure too") from exc
        except (OSError, TimeoutError) as exc:
            raise ConnectionLost(f"cannot reach the server at {self.address}: {why_unreachable(exc)}") from exc
        if self.tls:
            der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
            seen = hashlib.sha256(der).hexdigest()
            if self.fingerprint and seen != self.fingerprint:
                writer.close()
                router.fatal = IdentityMismatch(
                    f"REFUSED: the server at {self.address} is not the one expected: its certificate "
                    f"fingerprint is {seen[:16]}…, expected {self.fingerprint[:16]}…. Someone may be "
                    "impersonating it; nothing was sent.", seen=seen, expected=self.fingerprint)
                raise router.fatal
            self.peer_fingerprint = seen
        self._decoder = p.client_decoder()
        greeting = await self._handshake_step(reader, writer, p.Greeting, "greet us")
        if greeting.version != p.PROTOCOL_VERSION:
            writer.close()
            which = "this client" if greeting.version > p.PROTOCOL_VERSION else "the server"
            router.fatal = Rejected(ErrorCode.VERSION_MISMATCH, (
                f"please update PyRTC on {which}: the server at {self.address} speaks protocol version "
                f"{greeting.version}, this client {p.PROTOCOL_VERSION}"))
            raise router.fatal
        if self.tls and self._trust is not None and self.peer_fingerprint:
            try:
                self._trust(self.peer_fingerprint, greeting)
            except IdentityMismatch as exc:
                writer.close()
                router.fatal = exc
                raise
        seen_fp = self.peer_fingerprint if self.tls and self.peer_fingerprint else ""
        proof = self.identity.sign(p.hello_proof(greeting.nonce, seen_fp, self.name))
        writer.write(p.encode(p.Hello(version=p.PROTOCOL_VERSION, name=self.name, client=self._client,
                                      password=self._password, key=self.identity.public_der,
                                      proof=proof, peer=self.peer(greeting) if callable(self.peer) else self.peer)))
        router.apply(greeting)  # the chat's epoch and host, for the state
        welcome = await self._handshake_step(reader, writer, p.Welcome, "answer the handshake")
        self.fingerprint = self.peer_fingerprint or self.fingerprint  # pinned for reconnects
        self._reader, router.writer = reader, writer
        if welcome.max_rate > 0:
            # A little under the server's rate: the two buckets' clocks differ slightly.
            self.bucket = TokenBucket(welcome.max_rate * 0.9, max(1, int(welcome.burst * 0.9)), self._clock)
        router.apply(welcome)
        router.connected.set()
        router.emit(Connected(self.address))
        early, self._early = self._early, []
        if early:
            router.receive(early)
        await self._resume()
        if welcome.rooms_total > len(welcome.rooms):
            self._spawn(self._more_rooms())

    async def _handshake_step(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                              kind: type[M], what: str) -> M:
        """The server's next handshake frame (Greeting, then Welcome), or a clear error."""
        try:
            async with asyncio.timeout(self._connect_timeout):
                return await self._read_first(reader, kind)
        except TimeoutError as exc:
            writer.close()
            if kind is p.Greeting:
                raise ConnectionLost(
                    f"no greeting from the server at {self.address} within {self._connect_timeout:g} s "
                    "(an older PyRTC server? update it)") from exc
            raise ConnectionLost(f"the server at {self.address} did not {what}: no answer") from exc
        except (OSError, asyncio.IncompleteReadError, p.ProtocolError) as exc:
            writer.close()
            raise ConnectionLost(f"the server at {self.address} did not {what}: "
                                 f"{exc or type(exc).__name__}") from exc
        except (ConnectionLost, Rejected):
            writer.close()
            raise

    async def _read_first(self, reader: asyncio.StreamReader, kind: type[M]) -> M:
        while True:
            data = await reader.read(65536)
            if not data:
                raise ConnectionLost(f"the server at {self.address} closed the connection")
            msgs = self._decoder.feed(data)
            for i, msg in enumerate(msgs):
                if isinstance(msg, kind):
                    # What the server sent right after it (the roster after Welcome) is
                    # handled once the connection is up, not dropped.
                    self._early = msgs[i + 1:]
                    return msg
                if isinstance(msg, p.Error):
                    err = Rejected(msg.code, msg.message)
                    if msg.code in _FATAL_HELLO:
                        self._router.fatal = err
                    raise err

    async def _run(self) -> None:
        router = self._router
        attempt = 0
        while True:
            try:
                await self._read_loop()
                reason = "the server closed the connection"
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                reason = f"connection lost: {exc or type(exc).__name__}"
            except p.ProtocolError as exc:
                reason = f"the server sent something we cannot read: {exc}"
            except Rejected as exc:
                reason = str(exc)
                router.fatal = exc
            await self._drop_transport()
            retry = self._reconnect and not self._closing and router.fatal is None
            moving = self._moved and retry  # move() closed it
            if moving:
                reason = f"following the chat to its new host at {self.address}"
            router.emit(Disconnected(reason, retry, moving))
            router.fail_waiters(ConnectionLost(reason), keep_acks=retry)
            if not retry:
                return
            delay = self._backoff[0]
            while True:
                attempt += 1
                if self._moved:  # moved to a new host: no backoff for the first try
                    self._moved = False
                    delay = min(delay, 0.05)
                await asyncio.sleep(delay * (0.8 + 0.4 * secrets.randbelow(1000) / 1000))
                try:
                    await self._open(attempt)
                    attempt = 0
                    break
                except ConnectionLost as exc:
                    log.info("reconnect to %s failed (%s); retrying", self.address, exc)
                    delay = min(self._backoff[1], delay * 2)
                    if self.failover is not None:
                        # Another server of the chat has it all: going there at once loses nothing
                        # (rooms resume from their last seq, unacknowledged posts are resent).
                        if await self._fail_over():
                            delay = self._backoff[0]
                    elif self.relocate is not None and attempt >= 2:
                        await self._relocate()
                except Rejected as exc:
                    if isinstance(exc, IdentityMismatch) or (exc.code in _FATAL_HELLO and exc.code != ErrorCode.NAME_TAKEN):
                        router.fatal = exc
                        router.emit(Disconnected(str(exc), False))
                        router.fail_waiters(exc)
                        return
                    # name_taken right after a drop: our old session is still half-open there
                    delay = min(self._backoff[1], delay * 2)

    def move(self, host: str, port: int, fingerprint: str | None) -> None:
        """The chat moved (another peer hosts it now): reconnect there, showing `fingerprint`
        (vouched for by the host we leave), from now on."""
        self.host, self.port = host, port
        self.fingerprint = fingerprint.lower() if fingerprint else None
        self._moved = True
        writer = self._router.writer
        if writer is not None:
            writer.close()  # the read loop ends; the reconnect goes to the new host at once

    async def _relocate(self) -> None:
        assert self.relocate is not None
        try:
            where = await self.relocate()
        except Exception:
            log.warning("looking for the server again failed", exc_info=True)
            where = None
        if where is not None and where != (self.host, self.port):
            log.info("the server is now at %s:%d", *where)
            self.host, self.port = where
            self._moved = True

    async def _fail_over(self) -> bool:
        """Move to another server of the chat, with the certificate it announced; True if one
        was found."""
        assert self.failover is not None
        try:
            others = [a for a in await self.failover() if (a.host, a.port) != (self.host, self.port)]
        except Exception:
            log.warning("looking for another server of the chat failed", exc_info=True)
            return False
        if not others:
            return False
        other = others[0]
        log.warning("the server at %s is gone; moving to %s:%d, another server of the chat", self.address,
                    other.host, other.port)
        self.host, self.port, self.fingerprint = other.host, other.port, other.fingerprint
        return True

    async def _read_loop(self) -> None:
        assert self._reader is not None
        reader = self._reader
        while True:
            async with asyncio.timeout(self.idle_timeout):
                data = await reader.read(L.MAX_FRAME)
            if not data:
                return
            self._router.receive(self._decoder.feed(data))

    async def _drop_transport(self) -> None:
        writer = self._router.detach()
        self._reader = None
        if writer is not None:
            writer.close()
            try:
                # A host gone silent (power, cable) never acknowledges the close: not waited for.
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
            except TimeoutError:
                writer.transport.abort()
            except (OSError, asyncio.CancelledError):
                pass


