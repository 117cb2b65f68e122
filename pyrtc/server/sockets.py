"""The listening sockets PyRTC owns: accept, count, admit or refuse, and survive running
out of file descriptors.

Invariants:
- Every accepted socket counts towards `max_per_address` and `max_connections` from the
  moment it is accepted until it is closed, whether or not it ever starts TLS or says
  hello: sockets that never start TLS cannot crowd others out.
- Over a limit, a connection is refused with its clear error (after the handshake, as a
  fatal `Error` frame), but only the first REFUSE_SLACK beyond it; the rest are closed at
  once, so a flood costs a descriptor for no longer than its `accept`.
- Out of descriptors (EMFILE, ENFILE) or kernel memory, the listener says so once (then
  at most once a minute), stops accepting for ACCEPT_PAUSE seconds instead of spinning,
  and every open connection is served meanwhile.
- Each stream is in `streams` from accept to close, so shutdown reaches the ones still in
  their handshake too.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from collections.abc import Callable

from ..protocol.codes import ErrorCode
from .stream import Stream

try:
    import resource
except ImportError:  # not on every platform
    resource = None  # type: ignore[assignment]

__all__ = ["Listener", "Refusal", "QuietLog", "raise_fd_limit", "ACCEPT_PAUSE", "REFUSE_SLACK"]

log = logging.getLogger(__name__)

Refusal = tuple[ErrorCode, str]
#: (accepted socket, peer address, refusal or None, call when closed) -> the stream that
#: serves it, not started yet.
MakeStream = Callable[[socket.socket, tuple[str, int], "Refusal | None", Callable[[Stream], None]], Stream]

#: Seconds without accepting after the process ran out of descriptors.
ACCEPT_PAUSE = 0.5
#: Connections beyond a limit that still get told why, before the rest are just closed.
REFUSE_SLACK = 8
#: Connections accepted per wake-up before others get a turn.
_ACCEPT_BATCH = 512
_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


class QuietLog:
    """A warning that repeats under attack: the first at WARNING, then at most one per
    `every` seconds, with a count of the ones in between (those go to DEBUG)."""

    def __init__(self, every: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._next: dict[str, float] = {}
        self._hidden: dict[str, int] = {}

    def warning(self, kind: str, msg: str, *args: object) -> None:
        now = self._clock()
        if now < self._next.get(kind, float("-inf")):
            self._hidden[kind] = self._hidden.get(kind, 0) + 1
            log.debug(msg, *args)
            return
        self._next[kind] = now + self._every
        hidden = self._hidden.pop(kind, 0)
        if hidden:
            log.warning(msg + " (and %d more like it before)", *args, hidden)
        else:
            log.warning(msg, *args)


def raise_fd_limit() -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit where allowed (a server's
    connections are descriptors; 1,024 is a common soft default). Returns (soft, hard)."""
    if resource is None:
        return -1, -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.debug("cannot raise the open-files limit from %d to %d: %s", soft, hard, exc)
    return soft, hard


class Listener:
    def __init__(self, make: MakeStream, *, max_per_address: int, max_connections: int,
                 quiet: QuietLog | None = None) -> None:
        self._make = make
        self.max_per_address = max_per_address
        self.max_connections = max_connections
        self.quiet = quiet or QuietLog()
        self.sockets: list[socket.socket] = []
        self.streams: set[Stream] = set()  # every accepted socket not closed yet
        self._per_address: dict[str, int] = {}
        self._address_of: dict[Stream, str] = {}
        self._accepting = False
        self._resume: asyncio.TimerHandle | None = None
        self._closed = False

    async def open(self, host: str, port: int, backlog: int = 4096) -> None:
        """Bind every address `host` names (as asyncio's create_server would) and accept."""
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        try:
            for family, kind, proto, _, address in dict.fromkeys(infos):
                sock = socket.socket(family, kind, proto)
                self.sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # v4 has its own
                sock.bind(address)
                sock.listen(backlog)
                sock.setblocking(False)
                if port == 0:  # every family on the one port the first got
                    port = sock.getsockname()[1]
        except OSError:
            self.close()
            raise
        self._start_accepting()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sockets[0].getsockname()[:2]
        return str(host), int(port)

    def count(self, ip: str) -> int:
        """Open sockets from `ip`: handshaking, refused or served."""
        return self._per_address.get(ip, 0)

    def close(self) -> None:
        """Stop accepting, close the listening sockets and abort every stream."""
        self._closed = True
        self._stop_accepting()
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        for sock in self.sockets:
            sock.close()
        for stream in list(self.streams):
            stream.abort()

    # ------------------------------------------------------------------ accepting

    def _start_accepting(self) -> None:
        self._resume = None
        if self._accepting or self._closed:
            return
        loop = asyncio.get_running_loop()
        for sock in self.sockets:
            loop.add_reader(sock.fileno(), self._on_acceptable, sock)
        self._accepting = True

    def _stop_accepting(self) -> None:
        if self._accepting:
            loop = asyncio.get_running_loop()
            for sock in self.sockets:
                loop.remove_reader(sock.fileno())
            self._accepting = False

    def _on_acceptable(self, listening: socket.socket) -> None:
        for _ in range(_ACCEPT_BATCH):
            try:
                sock, peer = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in _OUT_OF_RESOURCES:
                    self._out_of_resources(exc)
                    return
                if exc.errno == errno.ECONNABORTED:
                    continue  # gave up while in the queue
                self.quiet.warning("accept", "accepting a connection failed: %s", exc)
                return
            self._admit(sock, peer)

    def _out_of_resources(self, exc: OSError) -> None:
        self.quiet.warning("resources", "too many connections: %s; not accepting for %g s, "
                           "%d open connections are served meanwhile", exc.strerror or exc,
                           ACCEPT_PAUSE, len(self.streams))
        self._stop_accepting()
        self._resume = asyncio.get_running_loop().call_later(ACCEPT_PAUSE, self._start_accepting)

    def _admit(self, sock: socket.socket, peer: tuple[str, int]) -> None:
        ip = str(peer[0])
        from_ip, total = self._per_address.get(ip, 0), len(self.streams)
        per, most = self.max_per_address, self.max_connections
        over_total, over_ip = bool(most) and total >= most, bool(per) and from_ip >= per
        refusal: Refusal | None = None
        if over_total or over_ip:
            if (over_total and total >= most + REFUSE_SLACK) or (over_ip and from_ip >= per + REFUSE_SLACK):
                self.quiet.warning("dropped", "closing a connection from %s at once: %d open from it, "
                                   "%d in all", ip, from_ip, total)
                sock.close()  # beyond the slack: no handshake, no descriptor held
                return
            if over_total:
                refusal = (ErrorCode.SERVER_FULL, f"the server is full ({most} connections); try later")
                self.quiet.warning("full", "refusing %s: %d connections is the limit", ip, most)
            else:
                refusal = (ErrorCode.TOO_MANY_CONNECTIONS,
                           f"{per} connections from {ip} are open already; close some first")
                self.quiet.warning("per-address", "refusing %s: %d connections from it is the limit",
                                   ip, per)
        try:
            sock.setblocking(False)
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # reset before we got to it
            sock.close()
            return
        try:
            stream = self._make(sock, peer, refusal, self.release)
        except Exception:  # a bug: this connection goes, accepting goes on
            log.error("serving a connection from %s failed", ip, exc_info=True)
            sock.close()
            return
        self._per_address[ip] = from_ip + 1
        self.streams.add(stream)
        self._address_of[stream] = ip
        try:
            stream.start()
        except Exception as exc:  # a bug: this connection goes, accepting goes on
            log.error("starting a connection from %s failed", ip, exc_info=True)
            stream.abort(exc)

    def release(self, stream: Stream) -> None:
        """A stream closed its socket (its `on_finish`)."""
        self.streams.discard(stream)
        ip = self._address_of.pop(stream, None)
        if ip is not None:
            left = self._per_address[ip] - 1
            if left:
                self._per_address[ip] = left
            else:
                del self._per_address[ip]
