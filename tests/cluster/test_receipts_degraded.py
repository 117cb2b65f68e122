"""A receipt taken while the chat is degraded (NATS down) reaches the other servers when NATS
is back."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ..conftest import ClientFactory
from .conftest import ServerFactory
from .natsd import NatsServer


async def test_a_read_receipt_taken_while_nats_is_down_reaches_the_sender_on_another_server(
        chat_server: ServerFactory, connect: ClientFactory, nats: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pyrtc.server.cluster")
    a, b = await chat_server("a"), await chat_server("b")
    ann, bob = await connect("ann", a, auto_delivered=False), await connect("bob", b)
    await ann.join("General")
    await bob.join("General")
    await bob.wait_for(lambda s: "ann" in s.rooms["General"].members, timeout=30)
    seq = await bob.send("General", "read me while NATS is down")
    msg = bob.state.rooms["General"].by_seq[seq]
    await ann.wait_for(lambda s: seq in s.rooms["General"].by_seq, timeout=30)
    assert bob.state.status(msg) == "sent"
    await nats.kill()
    async with asyncio.timeout(30):
        while not (a.cluster and a.cluster.degraded):
            await asyncio.sleep(0.02)
    await ann.mark_read("General", seq)

    def ann_read(_: object) -> bool:  # server A took it: its flush told its own clients
        member = ann.state.rooms["General"].members.get("ann")
        return member is not None and member.read >= seq

    await ann.wait_for(ann_read, timeout=30)
    # NATS stays down until A is done trying: it held the receipt, or (before receipts were
    # held) its publish gave up after the request timeout and the receipt was lost.
    async with asyncio.timeout(60):
        while not any("receipts are held" in r.getMessage() or "Receipt in General was not stored" in r.getMessage()
                      for r in caplog.records):
            await asyncio.sleep(0.05)
    assert bob.state.status(msg) == "sent"  # B cannot know yet
    await nats.start()  # the same port and store
    await bob.wait_for(lambda s: s.status(msg) == "read", timeout=60)
    assert bob.state.read_by(msg) == ["ann"]
    assert [m.read for m in b.store.members_named("General", ["ann"])] == [seq]  # B's cache keeps it
