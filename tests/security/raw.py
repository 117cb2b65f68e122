"""A raw protocol client for staging attacks: frames written by hand, every frame read back
with its size, against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pyrtc.protocol as p
from pyrtc.server import ChatServer

from ..conftest import raw_open

HEADER = 4


class Raw:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.got: list[p.ServerMsg] = []  # every frame read so far
        self.sizes: list[int] = []  # ... and its body's size
        self.closed = False
        self._buf = bytearray()
        self._nonce = 0

    @classmethod
    async def open(cls, server: ChatServer, name: str | None = None, *, join: str | None = None) -> Raw:
        """Connected; with `name`, said hello (and joined `join`) and waited for the answers."""
        raw = cls(*await raw_open(*server.address))
        if name is not None:
            raw.send(p.Hello(version=p.PROTOCOL_VERSION, name=name))
            if join is not None:
                raw.send(p.JoinRoom(room=join))
            await raw.sync()
        return raw

    def send(self, *msgs: p.Msg) -> None:
        self.writer.write(b"".join(p.encode(m) for m in msgs))

    def send_bytes(self, data: bytes) -> None:
        self.writer.write(data)

    async def until(self, pred: Callable[[p.ServerMsg], bool], timeout: float = 30) -> p.ServerMsg:
        """Read frames until one satisfies `pred` (returned); the connection closing fails."""
        seen = 0
        async with asyncio.timeout(timeout):
            while True:
                for m in self.got[seen:]:
                    if pred(m):
                        return m
                seen = len(self.got)
                if not await self._read():
                    raise ConnectionError(f"closed before the frame awaited; got {self.got[-3:]}")

    async def sync(self) -> None:
        """Everything the server had to send us before now has arrived (a ping's pong is
        queued after it)."""
        self._nonce += 1
        nonce = 10**9 + self._nonce
        self.send(p.Ping(nonce=nonce))
        await self.until(lambda m: isinstance(m, p.Pong) and m.nonce == nonce)

    async def drain_to_close(self, timeout: float = 30) -> None:
        """Read until the server closes the connection."""
        async with asyncio.timeout(timeout):
            while await self._read():
                pass

    async def _read(self) -> bool:
        try:
            data = await self.reader.read(1 << 20)
        except ConnectionError:
            data = b""
        if not data:
            self.closed = True
            return False
        self._buf += data
        while len(self._buf) >= HEADER:
            size = int.from_bytes(self._buf[:HEADER], "big")
            if len(self._buf) < HEADER + size:
                break
            frame = bytes(self._buf[: HEADER + size])
            del self._buf[: HEADER + size]
            self.got += p.client_decoder().feed(frame)
            self.sizes.append(size)
        return True

    def of(self, kind: str) -> list[p.ServerMsg]:
        """The frames read of one type, by class name (new types need no import on old code)."""
        return [m for m in self.got if type(m).__name__ == kind]

    def errors(self, code: str | None = None) -> list[p.Error]:
        return [m for m in self.got if isinstance(m, p.Error) and (code is None or m.code == code)]

    def close(self) -> None:
        self.writer.transport.abort()
