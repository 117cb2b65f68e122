"""`pyrtc server --cluster` as real processes: kill -9 of one server during a burst loses no
acknowledged message, and the killed server catches up when it comes back."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from pyrtc.client import ClientSession, Identity

from ..cli.procs import Server
from .natsd import NatsServer


async def start(tmp: Path, nats: NatsServer) -> Server:
    return await asyncio.to_thread(Server, tmp, "--cluster", nats.url, "--chat-id", "killtest", "--max-rate", "0")


async def session(server: Server, name: str, identity: Identity) -> ClientSession:
    host, port = server.address.rsplit(":", 1)
    s = ClientSession(host, int(port), name, identity=identity, reconnect=False)
    await s.connect()
    await s.join("General")
    return s


async def test_kill_9_of_a_server_during_a_burst_loses_no_acknowledged_message(tmp_path: Path,
                                                                              nats: NatsServer) -> None:
    a, b = await start(tmp_path / "a", nats), await start(tmp_path / "b", nats)
    me = Identity.generate()
    ann = await session(a, "ann", me)
    acked: dict[str, int] = {}  # text -> seq, as acknowledged through A
    enough = asyncio.Event()

    async def post(i: int) -> None:
        text = f"burst {i}"
        acked[text] = await ann.send("General", text, timeout=None)
        if len(acked) >= 100:
            enough.set()

    burst = [asyncio.ensure_future(post(i)) for i in range(400)]
    await enough.wait()
    a.proc.send_signal(signal.SIGKILL)  # mid-burst: some posts acknowledged, some in flight
    await asyncio.to_thread(a.proc.wait)
    await ann.close()
    await asyncio.gather(*burst, return_exceptions=True)
    assert len(acked) >= 100

    ann_on_b = await session(b, "ann", me)  # the same person continues on B
    page = await ann_on_b.history("General", limit=500)
    got = [(m.seq, m.text) for m in page.messages]
    assert [seq for seq, _ in got] == list(range(1, len(got) + 1))  # no gap, no seq twice
    texts = [t for _, t in got]
    for text, seq in acked.items():
        assert texts.count(text) == 1 and (seq, text) in got  # each ✓ message once, at its seq
    after = await ann_on_b.send("General", "after the crash")
    assert after == len(got) + 1
    await ann_on_b.close()

    a_again = await start(tmp_path / "a", nats)  # the same data dir: it catches up from the stream
    bob = await session(a_again, "bob", Identity.generate())
    page = await bob.history("General", limit=500)
    assert [(m.seq, m.text) for m in page.messages] == [*got, (after, "after the crash")]
    await bob.close()
    for srv in (a_again, b):
        assert srv.stop()[0] == 0
