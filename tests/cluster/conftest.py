"""Fixtures of the cluster tests: a real nats-server with JetStream, and PyRTC servers of one chat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from pyrtc.server import ChatServer

from ..cli.procs import Server
from ..conftest import server_config
from .natsd import NatsServer

ServerFactory = Callable[..., Awaitable[ChatServer]]


@pytest.fixture
def started() -> Iterator[list[Server]]:
    """The server processes a test started: none outlives it, whatever it ended with."""
    procs: list[Server] = []
    yield procs
    for srv in procs:
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


@pytest.fixture
async def nats(tmp_path: Path) -> AsyncIterator[NatsServer]:
    srv = NatsServer(tmp_path / "jetstream")
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def chat_server(tmp_path: Path, nats: NatsServer) -> AsyncIterator[ServerFactory]:
    """chat_server(name) -> a started ChatServer of the chat (data in its own dir, kept across
    a restart of the same name)."""
    started: list[ChatServer] = []

    async def make(name: str, **kw: object) -> ChatServer:
        srv = ChatServer(server_config(tmp_path / name, cluster=[nats.url], chat_id="testchat", **kw))
        await srv.start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        await srv.close()
