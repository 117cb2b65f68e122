"""One client socket PyRTC owns: non-blocking, driven by the loop's public `add_reader` /
`add_writer`, with a write buffer of its own and, over TLS, its own `TlsSession`.

States (`ConnState`), each gating what may move:

    HANDSHAKING -> OPEN -> CLOSING -> CLOSED      (plain TCP starts OPEN;
         \\__________\\________________/^           abort() goes to CLOSED from anywhere)

    HANDSHAKING  TLS handshake bytes only, within `handshake_timeout`
    OPEN         application bytes both ways
    CLOSING      nothing is read and nothing new accepted; what is buffered drains
                 (at most LINGER seconds), then CLOSED
    CLOSED       the socket is closed; nothing is read or written, ever again

Invariants:
- Every write checks the state first, and the socket is closed in one place (`_finish`):
  after the state is CLOSED and the loop no longer watches it. So a closed connection is
  never written to, and a descriptor number the kernel hands to a newer connection is
  never touched by an older one. Nothing depends on the event loop's internals or order.
- Bytes leave in the order they were written: straight to the socket only while nothing
  is buffered, else behind the buffer, which the writer drains first.
- More than `max_backlog` bytes buffered means the peer stopped reading: the connection is
  reset at once (`_overflowed`, `reset`: what the kernel still queues is dropped too); no
  one waits for it and memory stays bounded.
- Loss is reported once, from a loop callback of its own (`call_soon`), never from inside
  the call that closed: code that closes connections while iterating over them never
  sees its collections change under it.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import socket
import ssl
import struct
from collections.abc import Callable

from .tlsstream import TlsSession

__all__ = ["ConnState", "Stream", "HIGH_WATER", "LINGER"]

log = logging.getLogger(__name__)


class ConnState(enum.Enum):
    HANDSHAKING = "handshaking"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


_HANDSHAKING, _OPEN, _CLOSING, _CLOSED = ConnState

#: Bytes asked of the kernel per read (asyncio's own size: big uploads in few calls).
_RECV_SIZE = 256 * 1024
#: Above this much buffered, `_pause_writing` (downloads wait); below a quarter, resume.
HIGH_WATER = 1024 * 1024
_LOW_WATER = HIGH_WATER // 4
#: How long a closing connection may take to drain its buffer before it is cut.
LINGER = 10.0
#: At most this many buffers per sendmsg (Linux's IOV_MAX is 1024).
_MAX_IOV = 512
#: struct linger {on, 0 s}: close() resets the connection and discards the unsent bytes.
_LINGER_ZERO = struct.pack("ii", 1, 0)


class Stream:
    """The byte level of a connection. Subclasses receive through `_received`, `_opened`,
    `_lost`, `_pause_writing`, `_resume_writing` and `_overflowed`."""

    # Slots: one object per client, and an instance dict of 40-odd keys costs ~1.6 KiB.
    __slots__ = ("_loop", "sock", "fd", "tls", "tls_obj", "tls_out", "state", "wbuf", "max_backlog",
                 "_handshake_timeout", "_on_finish", "_reading", "_writing", "_write_paused", "_timer",
                 "opened")

    def __init__(self, sock: socket.socket, tls: ssl.SSLContext | None, *, max_backlog: int,
                 handshake_timeout: float, on_finish: Callable[[Stream], None] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        self.sock = sock
        self.fd = sock.fileno()
        self.tls = TlsSession(tls) if tls is not None else None
        # The fan-out's direct path reads these two without a call (connection.send_to_all).
        self.tls_obj = self.tls.obj if self.tls is not None else None
        self.tls_out = self.tls.outgoing if self.tls is not None else None
        self.state = _HANDSHAKING if tls is not None else _OPEN
        self.wbuf = bytearray()  # bytes the socket did not take yet, in order
        self.max_backlog = max_backlog
        self._handshake_timeout = handshake_timeout
        self._on_finish = on_finish
        self._reading = False  # the loop watches the socket for reading
        self._writing = False  # ... for writing (only while wbuf holds bytes)
        self._write_paused = False
        self._timer: asyncio.TimerHandle | None = None  # handshake deadline, then linger
        self.opened = False  # `_opened` was called (so `_lost` will be)

    # ------------------------------------------------------------------ hooks

    def _opened(self) -> None:
        """Application data may flow (after the TLS handshake, or at once over plain TCP)."""

    def _received(self, data: bytes) -> None:
        """Application bytes from the peer."""

    def _lost(self, exc: BaseException | None) -> None:
        """Called once, from its own loop callback, after the socket is closed."""

    def _pause_writing(self) -> None:
        """More than HIGH_WATER bytes are buffered."""

    def _resume_writing(self) -> None:
        """The buffer is down to a quarter of HIGH_WATER again."""

    def _overflowed(self) -> None:
        """More than max_backlog bytes are buffered: the peer stopped reading."""
        self.reset()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Start reading; over TLS, the handshake must finish within `handshake_timeout`."""
        self._reading = True
        self._loop.add_reader(self.fd, self._on_readable)
        if self.state is _HANDSHAKING:
            self._timer = self._loop.call_later(self._handshake_timeout, self._handshake_overdue)
        else:
            self.opened = True
            self._opened()

    @property
    def closed(self) -> bool:
        """CLOSING or CLOSED: nothing more may be written."""
        return self.state is _CLOSING or self.state is _CLOSED

    @property
    def buffered(self) -> int:
        return len(self.wbuf)

    def close(self) -> None:
        """Stop reading, send what is buffered (and over TLS a close_notify), then close."""
        if self.state is _CLOSING or self.state is _CLOSED:
            return
        was_open = self.state is _OPEN
        self.state = _CLOSING
        self._stop_reading()
        if self.tls is not None and was_open:
            self._push(self.tls.close_notify())
        if self.state is _CLOSED:  # the push found the socket broken
            return
        if not self.wbuf:
            self._finish(None)
            return
        self._cancel_timer()
        self._timer = self._loop.call_later(LINGER, self._finish, None)

    def abort(self, exc: BaseException | None = None) -> None:
        """Close now; what is buffered is dropped."""
        self._finish(exc)

    def reset(self, exc: BaseException | None = None) -> None:
        """Abort, and have the kernel drop what it still holds to send: SO_LINGER 0 makes
        the close a reset (RST), so a peer that stopped reading gets nothing more, not the
        megabytes its socket's send buffer holds, and those are freed at once."""
        if self.state is not _CLOSED:
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_ZERO)
            except OSError:
                pass  # already broken: nothing left to discard
        self._finish(exc)

    def pause_reading(self) -> None:
        if self._reading:
            self._stop_reading()

    def resume_reading(self) -> None:
        if not self._reading and (self.state is _OPEN or self.state is _HANDSHAKING):
            self._reading = True
            self._loop.add_reader(self.fd, self._on_readable)

    @property
    def reading(self) -> bool:
        return self._reading

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self.fd)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _finish(self, exc: BaseException | None) -> None:
        """The one place the socket is closed: after the state says CLOSED and the loop
        no longer watches it."""
        if self.state is _CLOSED:
            return
        self.state = _CLOSED
        self._cancel_timer()
        self._stop_reading()
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self.fd)
        self.wbuf = bytearray()
        self.sock.close()
        if self._on_finish is not None:
            self._on_finish(self)
        if self.opened:  # one that never opened was never announced
            self._loop.call_soon(self._lost, exc)

    def _handshake_overdue(self) -> None:
        self._timer = None
        if self.state is _HANDSHAKING:
            self._deadline_missed("TLS handshake", self._handshake_timeout)
            self.abort(TimeoutError(f"no TLS handshake within {self._handshake_timeout:g} s"))

    def _deadline_missed(self, what: str, seconds: float) -> None:
        """Told before a deadline cuts the connection (for the log)."""

    # ------------------------------------------------------------------ reading

    def _on_readable(self) -> None:
        try:
            data = self.sock.recv(_RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.abort(exc)
            return
        if not data:
            self.close()  # the peer is done: ours goes too, after what is buffered
            return
        try:
            if self.tls is None:
                self._received(data)
            elif self.state is _OPEN:
                self._read_tls(data)
            else:
                self._handshake(data)
        except Exception as exc:  # a bug: this connection goes, the server stays
            log.error("reading from a connection failed; closing it", exc_info=True)
            self.abort(exc)

    def _handshake(self, data: bytes) -> None:
        assert self.tls is not None
        try:
            done, out = self.tls.handshake(data)
        except ssl.SSLError as exc:
            self._push(self.tls.alert())  # e.g. "protocol version": the peer learns why
            self.abort(exc)
            return
        if out:
            self._push(out)
        if not done or self.state is not _HANDSHAKING:
            return
        self._cancel_timer()
        self.state = _OPEN
        self.opened = True
        self._opened()
        if self.state is _OPEN:
            self._read_tls(b"")  # application data that came with the handshake's end

    def _read_tls(self, data: bytes) -> None:
        assert self.tls is not None
        try:
            plain, eof, out = self.tls.read(data)
        except ssl.SSLError as exc:
            self.abort(exc)
            return
        if out:
            self._push(out)
        if plain and self.state is _OPEN:
            self._received(plain)
        if eof:
            self.close()

    # ------------------------------------------------------------------ writing

    def write(self, data: bytes) -> None:
        """Application data; dropped unless OPEN."""
        if self.state is not _OPEN or not data:
            return
        if self.tls is not None:
            data = self.tls.seal(data)
        self._push(data)

    def writelines(self, parts: list[bytes]) -> None:
        """Several frames, in order, with as few system calls as possible."""
        if self.state is not _OPEN or not parts:
            return
        if self.tls is not None:
            self._push(self.tls.seal_all(parts))
        elif len(parts) == 1:
            self._push(parts[0])
        elif self.wbuf or len(parts) > _MAX_IOV:
            self._push(b"".join(parts))
        else:
            self._push_parts(parts)

    def push_rest(self, data: bytes, sent: int) -> None:
        """Buffer what a direct `send` of `data` left (the fan-out's path): nothing was
        buffered before it, so it goes first."""
        self._buffer(memoryview(data)[sent:] if sent else data)

    def _push(self, data: bytes) -> None:
        """Bytes for the wire (already encrypted over TLS): straight to the socket while
        nothing is buffered, else behind the buffer. Never once CLOSED."""
        if self.state is _CLOSED or not data:
            return
        if self.wbuf:
            self._buffer(data)
            return
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self.abort(exc)
            return
        if sent != len(data):
            self._buffer(memoryview(data)[sent:] if sent else data)

    def _push_parts(self, parts: list[bytes]) -> None:
        try:
            sent = self.sock.sendmsg(parts)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:
            self.abort(exc)
            return
        for i, part in enumerate(parts):
            if sent < len(part):
                self._buffer(b"".join([memoryview(part)[sent:], *parts[i + 1:]]))
                return
            sent -= len(part)

    def _buffer(self, data: bytes | memoryview) -> None:
        if self.state is _CLOSED:
            return
        self.wbuf += data
        if not self._writing:
            self._writing = True
            self._loop.add_writer(self.fd, self._on_writable)
        self._check_buffer()

    def _check_buffer(self) -> None:
        size = len(self.wbuf)
        if size > self.max_backlog and self.state is _OPEN:
            self._overflowed()
        elif size > HIGH_WATER and not self._write_paused:
            self._write_paused = True
            self._pause_writing()

    def _on_writable(self) -> None:
        buf = self.wbuf
        try:
            sent = self.sock.send(buf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self.abort(exc)
            return
        del buf[:sent]
        if buf:
            if self._write_paused and len(buf) <= _LOW_WATER:
                self._write_paused = False
                self._resume_writing()
            return
        self.wbuf = bytearray()  # let a big buffer's memory go
        self._writing = False
        self._loop.remove_writer(self.fd)
        if self.state is _CLOSING:
            self._finish(None)
        elif self._write_paused:
            self._write_paused = False
            self._resume_writing()
