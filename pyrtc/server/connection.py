"""One client connection: bytes in -> messages to the server; frames out, batched, bounded.

Invariants:
- Frames queued in one loop iteration go out in one `writelines` (fewer syscalls under
  fan-out), and a frame is the same `bytes` object for every recipient (encode once).
- Posts written at once after a commit (`send_to_all`) go straight to the socket only
  while nothing is queued or buffered for it: a connection's frames never change order.
  Over TLS they are encrypted with the connection's own TLS object first, and only while
  asyncio's TLS layer is open (WRAPPED) with nothing pending: the bytes on the wire are
  what asyncio would have written, in the same order.
- A connection whose unsent backlog passes `max_backlog` is aborted at once: a reader
  that stopped reading never makes anyone else wait or the server grow without bound.
- Any protocol error is answered with one fatal `Error` frame, then the connection closes.
- While `hold()` is in force (a request waits for work off the loop) the connection's later
  messages wait, in order, and its socket is not read; `release()` serves them.
"""

from __future__ import annotations

import asyncio
import asyncio.selector_events
import asyncio.sslproto
import logging
import os
import ssl
from collections.abc import Callable, Iterable, Sized
from typing import Protocol, cast

from ..protocol import ClientMsg, Error, ProtocolError, encode, server_decoder
from ..ratelimit import TokenBucket
from .uploads import Upload

__all__ = ["Connection", "Handler", "Settings", "send_to_all"]

log = logging.getLogger(__name__)

#: Downloads pause above this much queued data, so a file never sits whole in memory.
_HIGH_WATER = 1024 * 1024
#: asyncio's plain TCP transport (private, so looked up; None would only turn the fast path off).
_PLAIN_TCP = getattr(asyncio.selector_events, "_SelectorSocketTransport", None)
#: asyncio's TLS transport and the state in which its TLS layer carries application data.
_TLS_APP = getattr(asyncio.sslproto, "_SSLProtocolTransport", None)
_WRAPPED = getattr(getattr(asyncio.sslproto, "SSLProtocolState", None), "WRAPPED", None)
_TLS_PARTS = ("_sslobj", "_outgoing", "_state", "_write_backlog", "_ssl_writing_paused", "_transport")


class _TlsLayer(Protocol):
    """The parts of asyncio's `SSLProtocol` (Python >= 3.11) that the direct fan-out uses."""

    _sslobj: ssl.SSLObject
    _outgoing: ssl.MemoryBIO
    _state: object
    _write_backlog: Sized
    _ssl_writing_paused: bool
    _transport: asyncio.Transport


def _tls_layer(transport: asyncio.BaseTransport) -> _TlsLayer | None:
    """asyncio's TLS protocol under `transport` when it runs over plain TCP and has every
    part the direct fan-out uses (private: checked here once, else the fast path is off)."""
    if _TLS_APP is None or _WRAPPED is None or type(transport) is not _TLS_APP:
        return None
    layer = getattr(transport, "_ssl_protocol", None)
    if layer is None or not all(hasattr(layer, a) for a in _TLS_PARTS):
        return None
    if type(layer._transport) is not _PLAIN_TCP or layer._sslobj is None:
        return None
    return cast(_TlsLayer, layer)


class Settings(Protocol):
    """The server settings a connection reads (`ServerConfig` has them)."""

    max_backlog: int
    max_rate: float
    burst: int


class Handler(Protocol):
    """What a connection needs of the server: told when it opens and closes, given each
    message it decodes. Nothing else: the connection knows no rooms, names or store."""

    @property
    def config(self) -> Settings: ...

    def connected(self, conn: Connection) -> None: ...

    def disconnected(self, conn: Connection, exc: Exception | None) -> None: ...

    def dispatch(self, conn: Connection, msg: ClientMsg) -> None: ...


class Connection(asyncio.Protocol):
    def __init__(self, server: Handler, clock: Callable[[], float]) -> None:
        self.server = server
        self._clock = clock
        self._max_backlog = server.config.max_backlog
        self.transport: asyncio.Transport | None = None
        #: The socket, for the fan-out's direct writes (plain TCP or TLS over it), -1 once closing.
        self.fd = -1
        self.buffered: Callable[[], int] = lambda: 0  # bytes asyncio's socket transport holds unsent
        self.tls: _TlsLayer | None = None  # asyncio's TLS layer, for direct writes
        self.peer = "?"
        self.name: str | None = None  # set by a successful hello
        self.uid = ""  # the identity (SHA-256 of its key) that proved itself in the hello
        self.nonce = b""  # this connection's greeting nonce, signed in the hello
        self.rooms: set[str] = set()  # rooms this connection receives
        self.watching: set[str] = set()  # ... of which it is not a member
        self.visiting: set[str] = set()  # ... nor is it, though it may post there (JoinRoom.visit)
        self.uploads: dict[str, Upload] = {}  # blob id -> upload in progress
        self.last_rx = clock()
        self.last_ping = 0.0
        self.bucket = TokenBucket(server.config.max_rate, server.config.burst, clock)  # flood control
        self.closed = False
        self._decoder = server_decoder()
        self._held: list[ClientMsg] | None = None  # messages waiting while a request waits (hold)
        self._held_error: ProtocolError | None = None
        self.out: list[bytes] = []  # frames queued this loop iteration (flush scheduled when non-empty)
        self._flush_scheduled = False
        self._writable = asyncio.Event()
        self._writable.set()
        self.tasks: set[asyncio.Task[None]] = set()

    # -------------------------------------------------------------- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A cast, not an isinstance check: uvloop's transports are not asyncio subclasses.
        self.transport = transport = cast(asyncio.Transport, transport)
        transport.set_write_buffer_limits(high=_HIGH_WATER)
        self.buffered = transport.get_write_buffer_size
        if type(transport) is _PLAIN_TCP:  # not another loop's transport
            self.fd = transport.get_extra_info("socket").fileno()
        elif (tls := _tls_layer(transport)) is not None:
            raw = tls._transport
            self.tls = tls
            self.fd = raw.get_extra_info("socket").fileno()
            self.buffered = raw.get_write_buffer_size
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.ip = str(peer[0]) if isinstance(peer, tuple) else self.peer
        self.server.connected(self)

    def data_received(self, data: bytes) -> None:
        self.last_rx = self._clock()
        try:
            messages = self._decoder.feed(data)
        except ProtocolError as exc:
            self._serve(cast("list[ClientMsg]", exc.decoded), exc)
            return
        self._serve(messages, None)

    def _serve(self, messages: list[ClientMsg], exc: ProtocolError | None) -> None:
        # Frames that decoded before a broken one are still served: nothing valid is lost.
        for i, msg in enumerate(messages):
            if self.closed:
                return
            if self._held is not None:  # a request waits: the rest waits behind it, in order
                self._held += messages[i:]
                self._held_error = self._held_error or exc
                return
            self.server.dispatch(self, msg)
        if self._held is not None and exc is not None:
            self._held_error = self._held_error or exc
            return
        if exc is not None and not self.closed:
            log.warning("%s (%s): %s; closing", self.peer, self.name or "before hello", exc)
            self.fail(exc.code, str(exc))

    def hold(self) -> None:
        """Serve nothing more of this connection until `release()` (read nothing meanwhile)."""
        if self._held is None:
            self._held = []
            if self.transport is not None and not self.closed:
                self.transport.pause_reading()

    def release(self) -> None:
        """Serve what waited, then read again (unless what waited holds it once more)."""
        held, exc = self._held or [], self._held_error
        self._held, self._held_error = None, None
        self._serve(held, exc)
        if self._held is None and self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.fd = -1
        self._writable.set()  # wake a paused download so it can see `closed` and stop
        for task in self.tasks:
            task.cancel()
        self.server.disconnected(self, exc)

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # -------------------------------------------------------------- output

    def send(self, frame: bytes) -> None:
        """Queue one encoded frame; written at the end of this loop iteration."""
        if self.closed:
            return
        self.out.append(frame)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def queue(self, frame: bytes) -> None:
        """Queue a frame for a `flush()` the caller makes before returning to the loop."""
        if not self.closed:
            self.out.append(frame)

    def send_now(self, frame: bytes) -> None:
        """Write one frame at once, after anything queued (no flush to schedule)."""
        transport = self.transport
        if self.out or self.closed or transport is None:
            self.queue(frame)
            self.flush()
            return
        transport.write(frame)
        if transport.get_write_buffer_size() > self._max_backlog:
            self._overflowed()

    def send_sealed(self, data: bytes) -> None:
        """Write bytes already encrypted by `tls` (the rest of a direct write) to the socket's
        transport, under the TLS layer: they go out before anything written after them."""
        if self.tls is None or self.closed:
            return
        raw = self.tls._transport
        raw.write(data)
        if raw.get_write_buffer_size() > self._max_backlog:
            self._overflowed()

    def flush(self) -> None:
        """Write what is queued now (normally at the end of the loop iteration)."""
        self._flush_scheduled = False
        out, self.out = self.out, []
        if self.closed or self.transport is None or not out:
            return
        self.transport.writelines(out)
        if self.transport.get_write_buffer_size() > self._max_backlog:
            self._overflowed()

    def _overflowed(self) -> None:
        assert self.transport is not None
        log.warning("%s (%s) stopped reading: %d bytes queued, over the limit of %d; dropped",
                    self.peer, self.name, self.transport.get_write_buffer_size()
                    + (self.buffered() if self.tls is not None else 0), self._max_backlog)
        self.abort()

    async def writable(self) -> None:
        """Wait until the transport's buffer has room (used by downloads)."""
        await self._writable.wait()

    def fail(self, code: str, message: str, rid: int = 0) -> None:
        """Send a fatal error and close once it is written."""
        self.send(encode(Error(code=code, message=message, rid=rid, fatal=True)))
        self.flush()
        self.close()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.closed = True
            self.fd = -1
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.closed = True
            self.fd = -1
            self.transport.abort()

    def allow(self) -> bool:
        """Take one token from the flood-control bucket (refilled at max_rate per second)."""
        return self.bucket.take()

    def spawn(self, coro: object) -> None:
        """Run a per-connection task that dies with the connection."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self.tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task for %s failed", self.peer, exc_info=task.exception())


def send_to_all(conns: Iterable[Connection], frame: bytes) -> None:
    """`send_now` to each: the fan-out's hot loop, once per recipient of every post.

    Where asyncio holds nothing unsent, the frame goes straight to the socket: asyncio's
    write and the call per recipient cost 0.6 us on top of the ~4 us of the send itself,
    60 us for the last of 100 recipients. `fd` is -1 from the moment a connection closes,
    and asyncio closes the socket only after that, so the descriptor is still this
    connection's. What does not fit goes through asyncio, in order.

    Over TLS, asyncio's layer costs ~10 Python calls per write (~2 us per recipient): the
    frame is encrypted here with the connection's TLS object into its memory BIO and the
    record written the same way. Only in state WRAPPED (asyncio leaves it before it lets
    the socket close) and with nothing in its backlog, its BIO or under it.
    """
    write = os.write
    for conn in conns:
        fd = conn.fd
        if fd < 0 or conn.out or conn.buffered():
            conn.send_now(frame)
            continue
        tls = conn.tls
        if tls is None:
            data = frame
        else:
            if (tls._state is not _WRAPPED or tls._write_backlog or tls._ssl_writing_paused
                    or tls._outgoing.pending):
                conn.send_now(frame)
                continue
            try:
                tls._sslobj.write(frame)  # all of it or nothing: a memory BIO never blocks
            except ssl.SSLError:  # e.g. wants a read first: asyncio's layer handles that
                conn.send_now(frame)
                continue
            data = tls._outgoing.read()
        try:
            sent = write(fd, data)
        except OSError:  # full (EAGAIN) or broken: asyncio's write buffers or reports it
            sent = 0
        if sent != len(data):
            rest = data[sent:]
            if tls is None:
                conn.send_now(rest)
            else:
                conn.send_sealed(rest)  # already encrypted: under the TLS layer
