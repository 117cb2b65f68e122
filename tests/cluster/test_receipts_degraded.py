"""A receipt taken while NATS cannot take it reaches the other servers when NATS is back."""

from __future__ import annotations

import asyncio
import logging
import signal

import pytest

from pyrtc.client import ClientSession
from pyrtc.server import ChatServer

from ..conftest import ClientFactory
from .conftest import ServerFactory
from .natsd import NatsServer

GAVE_UP = ("receipts are held", "Receipt in General was not stored")


async def setup(chat_server: ServerFactory, connect: ClientFactory
                ) -> tuple[ChatServer, ClientSession, ClientSession, int]:
    a, b = await chat_server("a"), await chat_server("b")
    ann, bob = await connect("ann", a, auto_delivered=False), await connect("bob", b)
    await ann.join("General")
    await bob.join("General")
    await bob.wait_for(lambda s: "ann" in s.rooms["General"].members, timeout=30)
    seq = await bob.send("General", "read me while NATS is away")
    await ann.wait_for(lambda s: seq in s.rooms["General"].by_seq, timeout=30)
    return a, ann, bob, seq


async def read_on_a(ann: ClientSession, seq: int) -> None:
    """ann reads; server A took it (its flush, which also sends it to NATS, told its own clients)."""
    await ann.mark_read("General", seq)

    def taken(_: object) -> bool:
        member = ann.state.rooms["General"].members.get("ann")
        return member is not None and member.read >= seq

    await ann.wait_for(taken, timeout=30)


async def gave_up(caplog: pytest.LogCaptureFixture) -> None:
    """Server A is done trying to send the receipt now: it held it, or its publish gave up."""
    async with asyncio.timeout(60):
        while not any(s in r.getMessage() for r in caplog.records for s in GAVE_UP):
            await asyncio.sleep(0.05)


async def test_a_read_receipt_taken_while_nats_is_down_reaches_the_sender_on_another_server(
        chat_server: ServerFactory, connect: ClientFactory, nats: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pyrtc.server.cluster")
    a, ann, bob, seq = await setup(chat_server, connect)
    msg = bob.state.rooms["General"].by_seq[seq]
    await nats.kill()
    async with asyncio.timeout(30):
        while not (a.cluster and a.cluster.degraded):
            await asyncio.sleep(0.02)
    await read_on_a(ann, seq)
    await gave_up(caplog)
    assert bob.state.status(msg) == "sent"  # B cannot know yet
    await nats.start()  # the same port and store
    await bob.wait_for(lambda s: s.status(msg) == "read", timeout=60)
    assert bob.state.read_by(msg) == ["ann"]


async def test_a_read_receipt_sent_into_a_stalled_nats_is_sent_again_after_it_restarts(
        chat_server: ServerFactory, connect: ClientFactory, nats: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    """NATS hangs (its socket still open, nobody answers: a frozen host, a dead link), then is
    killed and restarted: what A wrote into the dead connection is gone, and A must send it again."""
    caplog.set_level(logging.INFO, logger="pyrtc.server.cluster")
    _, ann, bob, seq = await setup(chat_server, connect)
    msg = bob.state.rooms["General"].by_seq[seq]
    assert nats.proc is not None
    nats.proc.send_signal(signal.SIGSTOP)
    try:
        await read_on_a(ann, seq)
        await gave_up(caplog)  # the publish had no answer in time
    finally:
        await nats.kill()  # SIGKILL ends a stopped process too; what it had not read is lost
    await nats.start()
    await bob.wait_for(lambda s: s.status(msg) == "read", timeout=60)
    assert bob.state.read_by(msg) == ["ann"]
