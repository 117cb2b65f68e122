"""Shared fixtures: a real server on 127.0.0.1 with a real SQLite file, real client sessions."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

import pyrtc.protocol as p
from pyrtc.client import ClientSession, Identity
from pyrtc.server import ChatServer, ServerConfig


@pytest.fixture(autouse=True)
def _own_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test (and every process it starts) gets its own settings and remembered servers,
    never the user's real ones."""
    monkeypatch.setenv("PYRTC_SETTINGS", str(tmp_path_factory.mktemp("settings") / "settings.json"))


class FakeClock:
    """Monotonic time the test moves by hand (typing expiry, heartbeats)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def server_config(data_dir: Path, **kw: object) -> ServerConfig:
    # No flood control unless a test asks (tests fire bursts on purpose); see test_limits.py.
    cfg = ServerConfig(host="127.0.0.1", port=0, data_dir=data_dir, name="test server", max_rate=0,
                       max_per_address=0)
    for k, v in kw.items():
        setattr(cfg, k, v)
    return cfg


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ChatServer]:
    srv = ChatServer(server_config(tmp_path / "data"))
    await srv.start()
    yield srv
    await srv.close()


ClientFactory = Callable[..., Awaitable[ClientSession]]


@pytest.fixture
async def connect(server: ChatServer) -> AsyncIterator[ClientFactory]:
    """connect(name, **opts) -> a connected ClientSession to `server`, closed at teardown.
    Each name is its own person: its own identity (the same one each time that name
    connects), unless the test passes `identity=`."""
    sessions: list[ClientSession] = []
    people: dict[str, Identity] = {}

    async def make(name: str, srv: ChatServer | None = None, **opts: object) -> ClientSession:
        host, port = (srv or server).address
        if "identity" not in opts:
            if name not in people:
                people[name] = Identity.generate()
            opts["identity"] = people[name]
        s = ClientSession(host, port, name, **opts)  # type: ignore[arg-type]
        await s.connect()
        sessions.append(s)
        return s

    yield make
    await asyncio.gather(*(s.close() for s in sessions))


def client_tls() -> ssl.SSLContext:
    """What a PyRTC client does: TLS without a CA (the fingerprint is checked separately)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def raw_open(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw protocol connection (for tests that speak frames by hand), over TLS."""
    return await asyncio.open_connection(host, port, ssl=client_tls())


async def read_greeting(reader: asyncio.StreamReader) -> p.Greeting:
    """The server's first frame, read exactly (what follows stays in `reader`)."""
    size = int.from_bytes(await reader.readexactly(4), "big")
    [greeting] = p.client_decoder().feed(size.to_bytes(4, "big") + await reader.readexactly(size))
    assert isinstance(greeting, p.Greeting), greeting
    return greeting


async def signed_hello(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str, *,
                       identity: Identity | None = None, **fields: object) -> bytes:
    """Read the greeting of a raw connection and return the hello frame that answers it, as
    a client would sign it (the name's own identity unless one is given)."""
    greeting = await read_greeting(reader)
    ssl_object = writer.get_extra_info("ssl_object")
    fingerprint = hashlib.sha256(ssl_object.getpeercert(binary_form=True)).hexdigest() if ssl_object else ""
    me = identity or Identity.generate()
    return p.encode(p.Hello(version=p.PROTOCOL_VERSION, name=name, key=me.public_der,
                            proof=me.sign(p.hello_proof(greeting.nonce, fingerprint, name)),
                            **fields))  # type: ignore[arg-type]


def texts(session: ClientSession, room: str) -> list[str]:
    return [m.text for m in session.state.rooms[room].messages if m.seq]
