"""`pyrtc server --cluster` as real processes: kill -9 of one server during a burst; its client
moves to another server of the chat by itself, resumes, resends what was not acknowledged,
and nothing is lost or doubled; the killed server catches up when it comes back."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from pyrtc.client import Alternate, ClientSession, Identity

from ..cli.procs import Server
from .natsd import NatsServer


async def start(tmp: Path, nats: NatsServer, started: list[Server]) -> Server:
    srv = await asyncio.to_thread(Server, tmp, "--cluster", nats.url, "--chat-id", "killtest", "--max-rate", "0")
    started.append(srv)
    return srv


async def session(server: Server, name: str, identity: Identity, **opts: object) -> ClientSession:
    host, port = server.address.rsplit(":", 1)
    s = ClientSession(host, int(port), name, identity=identity, **opts)  # type: ignore[arg-type]
    await s.connect()
    await s.join("General")
    return s


def where(server: Server) -> Alternate:
    host, port = server.address.rsplit(":", 1)
    return Alternate(host, int(port), None)


async def test_kill_9_of_a_server_during_a_burst_its_clients_continue_on_another_and_lose_nothing(
        tmp_path: Path, nats: NatsServer, started: list[Server]) -> None:
    a, b = await start(tmp_path / "a", nats, started), await start(tmp_path / "b", nats, started)

    async def other_servers() -> list[Alternate]:  # what mDNS says of the chat in the product
        return [where(a), where(b)]

    ann = await session(a, "ann", Identity.generate(), failover=other_servers, backoff=(0.05, 0.5))
    acked: dict[str, int] = {}  # text -> seq, as acknowledged (through A, then B)
    enough = asyncio.Event()
    total = 400

    async def post(i: int) -> None:
        text = f"burst {i}"
        acked[text] = await ann.send("General", text, timeout=None)
        if len(acked) >= 100:
            enough.set()

    burst: list[asyncio.Future[None]] = []

    async def feed() -> None:  # a steady stream of posts: some before the kill, some during, some after
        for i in range(total):
            burst.append(asyncio.ensure_future(post(i)))
            await asyncio.sleep(0.002)

    feeding = asyncio.ensure_future(feed())
    await enough.wait()
    a.proc.send_signal(signal.SIGKILL)  # mid-burst: some posts acknowledged, some in flight
    await asyncio.to_thread(a.proc.wait)
    await feeding
    await asyncio.wait_for(asyncio.gather(*burst), 120)  # every one acknowledged, through B
    assert ann.address == b.address

    page = await ann.history("General", limit=500)
    got = [(m.seq, m.text) for m in page.messages]
    assert [seq for seq, _ in got] == list(range(1, total + 1))  # no gap, no seq twice
    assert sorted(got) == sorted((seq, text) for text, seq in acked.items())  # each once, at its seq
    after = await ann.send("General", "after the crash")
    assert after == total + 1
    await ann.close()

    a_again = await start(tmp_path / "a", nats, started)  # the same data dir: it catches up from the stream
    bob = await session(a_again, "bob", Identity.generate())
    page = await bob.history("General", limit=500)
    assert [(m.seq, m.text) for m in page.messages] == [*sorted(got), (after, "after the crash")]
    await bob.close()
    for srv in (a_again, b):
        assert srv.stop()[0] == 0
