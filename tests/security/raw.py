"""A protocol connection driven frame by frame: what an attacker's own client would send.
Every frame read is kept, with its size (frames built from stored data must fit MAX_FRAME)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pyrtc.protocol as p
from pyrtc.client import Identity
from pyrtc.server import ChatServer

from ..conftest import raw_open, signed_hello

__all__ = ["RawClient", "name_free"]

HEADER = 4
_PEOPLE: dict[str, Identity] = {}  # name -> the identity RawClient connects it with


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str) -> None:
        self._reader, self._writer = reader, writer
        self.name = name
        self._buf = bytearray()
        self.got: list[p.ServerMsg] = []  # every frame received so far
        self.sizes: list[int] = []  # ... and the size of its body
        self._taken: set[int] = set()  # indexes in `got` an earlier `until` returned

    @classmethod
    async def connected(cls, address: tuple[str, int], name: str = "") -> RawClient:
        """Connected, nothing said yet."""
        return cls(*await raw_open(*address), name)

    @classmethod
    async def open(cls, address: tuple[str, int], name: str, *rooms: str,
                   identity: Identity | None = None) -> RawClient:
        """Connected as `name`, in `rooms` (open ones) once their Joined came. Each name is
        one person: the same identity every time, unless one is given."""
        raw = await cls.connected(address, name)
        await raw.hello(name, identity)
        await raw.until(lambda m: isinstance(m, p.Welcome))
        for rid, room in enumerate(rooms, 1000):
            raw.send(p.JoinRoom(room=room, rid=rid))
            joined = await raw.answer(rid)
            assert isinstance(joined, p.Joined), joined
        return raw

    async def hello(self, name: str, identity: Identity | None = None) -> None:
        """Read the greeting and say hello as `name`, signed by that name's identity (or the one given)."""
        if identity is None:
            identity = _PEOPLE.setdefault(name, Identity.generate())
        self._writer.write(await signed_hello(self._reader, self._writer, name, identity=identity))

    def send(self, *msgs: p.Msg) -> None:
        self._writer.write(b"".join(p.encode(m) for m in msgs))

    def send_bytes(self, data: bytes) -> None:
        """Bytes no well-behaved encoder would make."""
        self._writer.write(data)

    async def until(self, pred: Callable[[p.ServerMsg], bool], timeout: float = 30) -> p.ServerMsg:
        """The first frame that matches and no earlier call returned (all stay in `got`)."""
        async with asyncio.timeout(timeout):
            while True:
                for i, m in enumerate(self.got):
                    if i not in self._taken and pred(m):
                        self._taken.add(i)
                        return m
                if not await self._read():
                    raise ConnectionError(f"the server closed the connection; got {self.got[-3:]}")

    async def answer(self, rid: int) -> p.ServerMsg:
        """The reply (or error) to request `rid`."""
        return await self.until(lambda m: getattr(m, "rid", None) == rid)

    async def drained(self) -> None:
        """Everything sent so far was handled, and what it made the server send us has
        arrived (a ping is answered in order)."""
        nonce = len(self.got) + 7
        self.send(p.Ping(nonce=nonce))
        await self.until(lambda m: isinstance(m, p.Pong) and m.nonce == nonce)

    async def closed_by_server(self, timeout: float = 30) -> None:
        """Read until the server closes the connection."""
        async with asyncio.timeout(timeout):
            while await self._read():
                pass

    async def _read(self) -> bool:
        try:
            data = await self._reader.read(1 << 20)
        except ConnectionError:
            data = b""
        if not data:
            return False
        self._buf += data
        while len(self._buf) >= HEADER:
            end = HEADER + int.from_bytes(self._buf[:HEADER], "big")
            if len(self._buf) < end:
                break
            self.got += p.client_decoder().feed(bytes(self._buf[:end]))
            self.sizes.append(end - HEADER)
            del self._buf[:end]
        return True

    def of(self, kind: str) -> list[p.ServerMsg]:
        """The frames received of one type, by class name."""
        return [m for m in self.got if type(m).__name__ == kind]

    def errors(self, code: str | None = None) -> list[p.Error]:
        return [m for m in self.got if isinstance(m, p.Error) and (code is None or m.code == code)]

    def abort(self) -> None:
        self._writer.transport.abort()

    async def hang_up(self, server: ChatServer) -> None:
        """Abort, and return once the server has dropped the connection (its name is free)."""
        self.abort()
        await name_free(server, self.name)


async def name_free(server: ChatServer, name: str) -> None:
    """Return once no connection of `server` goes by `name`."""
    async with asyncio.timeout(30):
        while any(c.name == name for c in server.conns):
            await asyncio.sleep(0.01)
