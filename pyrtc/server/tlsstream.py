"""TLS for a socket PyRTC owns: one `ssl.SSLObject` between two `ssl.MemoryBIO`s.

The way trio's `SSLStream` works: nothing here touches a socket. Ciphertext from the peer
goes in, plaintext and the ciphertext to send come out, and the caller (`stream.Stream`)
moves the bytes, so it alone decides when they reach the wire and in which order.

Invariants:
- Every call that can make OpenSSL produce bytes (handshake, read, seal, close) hands them
  back at once: nothing is left in the outgoing BIO between calls, so the records of two
  calls never interleave, and the fan-out may encrypt into the BIO and send the record
  straight to the socket (`Stream.tls_obj` / `Stream.tls_out`).
- Renegotiation is off (`tls.server_context`): after the handshake, a write never waits
  for a read, so sealing application data cannot fail for want of peer bytes.
- No per-connection read buffer: reads take at most READ_SIZE plaintext bytes a call (a TLS
  record holds 16 KiB), so an idle connection holds only OpenSSL's own state.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable

__all__ = ["TlsSession", "READ_SIZE"]

#: Plaintext asked for per SSLObject.read call: one record is at most 16 KiB.
READ_SIZE = 64 * 1024
#: Frames at least this big are sealed on their own instead of being joined first (a file
#: chunk is not copied just to sit next to its small head).
_JOIN_BELOW = 16 * 1024


class TlsSession:
    """The server side of one TLS connection, without I/O."""

    __slots__ = ("obj", "incoming", "outgoing")

    def __init__(self, context: ssl.SSLContext) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = context.wrap_bio(self.incoming, self.outgoing, server_side=True)

    def _take(self) -> bytes:
        return self.outgoing.read() if self.outgoing.pending else b""

    def handshake(self, data: bytes) -> tuple[bool, bytes]:
        """Feed the peer's bytes; returns (handshake finished, bytes to send). Raises
        `ssl.SSLError` when it fails; `alert()` then holds what OpenSSL wants the peer told."""
        if data:
            self.incoming.write(data)
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            return False, self._take()
        return True, self._take()

    def alert(self) -> bytes:
        """What a failed handshake left to send (a TLS alert), if anything."""
        return self._take()

    def read(self, data: bytes) -> tuple[bytes, bool, bytes]:
        """Feed the peer's bytes; returns (plaintext, the peer said close_notify, bytes to
        send). Raises `ssl.SSLError` on a corrupt or forged record."""
        if data:
            self.incoming.write(data)
        read = self.obj.read
        chunks: list[bytes] = []
        eof = False
        try:
            # Until OpenSSL wants more (the ssl module's contract): `SSLObject.pending()` is
            # SSL_pending, the record in hand only, not one OpenSSL may already have taken
            # from the BIO, so neither it nor the BIO's `pending` says all is read.
            while True:
                chunk = read(READ_SIZE)
                if not chunk:  # the peer's close_notify (SSLObject.read returns b"" for it)
                    eof = True
                    break
                chunks.append(chunk)
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLZeroReturnError:
            eof = True
        plain = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return plain, eof, self._take()

    def seal(self, data: bytes) -> bytes:
        """Encrypt application data; returns the records to send."""
        self.obj.write(data)
        return self.outgoing.read()

    def seal_all(self, parts: Iterable[bytes]) -> bytes:
        """`seal` for several frames: small ones share records, big ones are not copied."""
        small: list[bytes] = []
        write = self.obj.write
        for part in parts:
            if len(part) < _JOIN_BELOW:
                small.append(part)
                continue
            if small:
                write(small[0] if len(small) == 1 else b"".join(small))
                small = []
            write(part)
        if small:
            write(small[0] if len(small) == 1 else b"".join(small))
        return self._take()

    def close_notify(self) -> bytes:
        """Our close_notify alert, to send before closing (we do not wait for the peer's)."""
        try:
            self.obj.unwrap()
        except ssl.SSLError:
            pass  # SSLWantReadError: the peer's close_notify is not awaited
        return self._take()
