"""Connection: open, handshake, read, and reconnect with backoff — the session's link to the server.

Invariants:
- Nothing of ours is sent before the server's Greeting has been checked: its protocol version,
  and its certificate against the fingerprint given or announced and the ones remembered
  (`trust`). A mismatch ends the connection before a byte of ours is sent, and for good (`fatal`).
- The hello proves this installation's key (`Identity`) over the greeting's nonce and the
  certificate fingerprint we saw: a relay showing another certificate cannot reuse it.
- On reconnect each room is re-joined from `RoomView.synced` (asked again while the server
  says slow_down; a locked room watched or visited, never a member's, with the password it
  was joined with), and any gap the server's page leaves is fetched (`fill_gap`) before the
  room counts as resumed; every pending text is sent again with its cid.
- After failed reconnects `relocate` may say where the server is now (discovery: it may have
  come back on another address or port).
- Welcome brings the first page of rooms; the rest are fetched a page at a time
  (`fill_rooms`) so that `state.available` holds every room.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import re
import secrets
import socket
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from typing import NamedTuple, TypeVar

from .. import protocol as p
from ..protocol import limits as L
from ..protocol.codes import ErrorCode
from ..ratelimit import TokenBucket
from .errors import ConnectionLost, IdentityMismatch, Rejected
from .events import Connected, Connecting, Disconnected
from .identity import Identity
from .routing import Router

__all__ = ["Alternate", "Connection", "parse_address"]

log = logging.getLogger(__name__)

M = TypeVar("M", p.Greeting, p.Welcome)

#: Error codes after which reconnecting cannot help.
_FATAL_HELLO = {ErrorCode.NAME_TAKEN, ErrorCode.VERSION_MISMATCH, ErrorCode.BAD_MESSAGE,
                ErrorCode.UNEXPECTED_MESSAGE, ErrorCode.WRONG_PASSWORD, ErrorCode.BAD_NAME,
                ErrorCode.BAD_IDENTITY}


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """'host', 'host:port' or '[v6]:port' -> (host, port), with a clear error."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.lstrip(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"no host in server address {text!r}")
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise ValueError(f"bad port in server address {text!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range in {text!r}")
    return host, port


class Connection:
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
            raise ConnectionLost(f"cannot reach the server at {self.address}: {_why(exc)}") from exc
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

    async def _resume(self) -> None:
        """After (re)connecting: re-join rooms from where we are, resend what is pending."""
        loop = asyncio.get_running_loop()
        router = self._router
        for room in list(router.state.rooms.values()):
            def rejoin(rid: int, name: str = room.name, since: int = room.synced,
                       changes: int = room.last_change) -> p.JoinRoom:
                return p.JoinRoom(room=name, since=since or None, rid=rid, watch=name in router.watch,
                                  visit=name in router.visit, password=router.passwords.get(name, ""),
                                  changes_after=changes)

            rid = next(router.rids)
            reply = router.replies[rid] = loop.create_future()
            router.write(rejoin(rid))
            self._spawn(self._fill_gap(room.name, room.synced, reply, rejoin))
        for room in router.state.rooms.values():
            for m in room.pending():
                router.write(p.SendText(room=m.room, cid=m.cid, text=m.text, reply_to=m.reply_to))
        if router.status != ("available", ""):
            router.write(p.SetStatus(status=router.status[0], text=router.status[1]))  # type: ignore[arg-type]
        for direct in list(router.state.directs):  # those opened while we were away too
            if direct not in router.state.rooms:
                router.direct_found(direct)

    def spawn(self, coro: Coroutine[object, object, None]) -> None:
        """Run `coro` while the session lasts (closing cancels it)."""
        self._spawn(coro)

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _more_rooms(self) -> None:
        """The pages of rooms after Welcome's first."""
        try:
            await self._fill_rooms()
        except (ConnectionLost, Rejected, TimeoutError) as exc:
            log.info("the list of rooms is not complete yet: %s", exc)

    async def _fill_gap(self, room_name: str, since: int, reply: asyncio.Future[object],
                        rejoin: Callable[[int], p.JoinRoom]) -> None:
        """After a resume, fetch what the server's join page skipped: no gap. A rejoin the
        server refuses for pace (slow_down: its limits per user and address) is asked again,
        with backoff, while this connection lasts: given up, the room would stay silent
        while the session looks connected."""
        router = self._router
        writer = router.writer
        delay = 1.0
        try:
            while True:
                try:
                    await reply
                    break
                except Rejected as exc:
                    if exc.code != ErrorCode.SLOW_DOWN:
                        raise
                    log.info("rejoining %s: %s; asking again in %g s", room_name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(2 * delay, 30.0)
                if router.writer is not writer:
                    return  # connected again meanwhile: that connection's resume rejoins
                rid = next(router.rids)
                reply = router.replies[rid] = asyncio.get_running_loop().create_future()
                if not router.write(rejoin(rid)):
                    router.replies.pop(rid, None)
                    return
            if since:
                await self._fill(room_name, since)
        except (ConnectionLost, Rejected, TimeoutError) as exc:
            log.info("history gap in %s not filled yet: %s", room_name, exc)

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
            router.emit(Disconnected(reason, retry))
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


class Alternate(NamedTuple):
    """Another server of the same chat: where it listens, and the certificate it announced
    (None: the first one seen is pinned, as for a first connect)."""

    host: str
    port: int
    fingerprint: str | None


def _why(exc: BaseException) -> str:
    """Why a connection failed, from its errno (asyncio says "Connect call failed" for every
    kind, and joins the errors of a name's several addresses into one message)."""
    codes = {exc.errno} if isinstance(exc, OSError) and exc.errno else {
        int(n) for n in re.findall(r"\[Errno (\d+)\]", str(exc))}
    if isinstance(exc, socket.gaierror):
        return f"unknown host name ({exc.strerror})"
    if codes == {errno.ECONNREFUSED}:
        return "connection refused (is a PyRTC server running there?)"
    if codes and codes <= {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNREFUSED}:
        return "unreachable: no machine answers at that address (is it switched on, and on this network?)"
    if isinstance(exc, TimeoutError) or codes == {errno.ETIMEDOUT}:
        return "no answer (timed out): no machine there, or a firewall drops the connection"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
