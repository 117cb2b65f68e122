"""Receipts that mean something in a real room: ✓✓ and blue ✓✓ wait for the members who were
there when a message was posted and still are, never for a script that posted once
(`pyrtc send`, a visit), someone who left, or someone who came later."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from pyrtc.client import ClientSession
from pyrtc.client.state import ChatState, MessageView
from pyrtc.server import ChatServer

from ..conftest import ClientFactory


async def pyrtc_send(srv: ChatServer, tmp: Path, name: str, text: str) -> None:
    """The real `pyrtc send` command, as a script runs it."""
    host, port = srv.address
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyrtc", "send", "--server", f"{host}:{port}", "--room", "General",
        "--name", name, text, env=dict(os.environ, PYRTC_LOG_DIR=str(tmp / "cli-logs")),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()


def newest(s: ChatState) -> MessageView:
    return s.rooms["General"].messages[-1]


async def test_double_ticks_come_in_a_room_a_script_posted_to_and_someone_left(
        server: ChatServer, connect: ClientFactory, tmp_path: Path) -> None:
    ann = await connect("ann")
    bob, cy, eve = [await connect(n, auto_delivered=False) for n in ("bob", "cy", "eve")]
    for s in (ann, bob, cy, eve):
        await s.join("General")
    await pyrtc_send(server, tmp_path, "nightly-build", "build 41 passed")
    await cy.leave("General")
    await ann.wait_for(lambda s: "cy" not in s.rooms["General"].members and s.rooms["General"].last_seq == 1)
    seq = await ann.send("General", "lunch?")
    dan = await connect("dan", auto_delivered=False)  # came after: has it, never says so
    await dan.join("General")
    await ann.wait_for(lambda s: "dan" in s.rooms["General"].members)
    msg = ann.state.rooms["General"].by_seq[seq]
    assert ann.state.status(msg) == "sent"

    for s in (bob, eve):  # every member it went to has it now: ✓✓
        await s.wait_for(lambda st: seq in st.rooms["General"].by_seq)
        await s.mark_delivered("General", seq)
    await ann.wait_for(lambda s: s.status(msg) == "delivered")
    for s in (bob, eve):  # ... and has shown it: blue ✓✓
        await s.mark_read("General", seq)
    await ann.wait_for(lambda s: s.status(msg) == "read")
    assert ann.state.read_by(msg) == ["bob", "eve"]
    assert {m.name for m in server.store.members("General")} == {"ann", "bob", "dan", "eve"}


async def test_the_receipt_line_is_right_at_each_step(connect: ClientFactory) -> None:
    ann = await connect("ann")
    bob, cy, eve = [await connect(n, auto_delivered=False) for n in ("bob", "cy", "eve")]
    for s in (ann, bob, cy, eve):
        await s.join("General")
    await ann.wait_for(lambda s: len(s.rooms["General"].members) == 4)
    seq = await ann.send("General", "lunch?")
    msg = ann.state.rooms["General"].by_seq[seq]

    async def line_becomes(text: str) -> None:
        await ann.wait_for(lambda s: s.receipt_line(msg, names=10) == text)

    await line_becomes("delivered to 0 of 3 · read by 0")
    for s in (bob, cy, eve):
        await s.wait_for(lambda st: seq in st.rooms["General"].by_seq)
    await bob.mark_delivered("General", seq)
    await line_becomes("delivered to 1 of 3 · read by 0")
    await cy.mark_read("General", seq)  # read: delivered too
    await line_becomes("delivered to 2 of 3 · read by 1 (cy)")
    assert ann.state.status(msg) == "sent"
    dan = await connect("dan", auto_delivered=False)
    await dan.join("General")
    await ann.wait_for(lambda s: "dan" in s.rooms["General"].members)
    await line_becomes("delivered to 2 of 3 · read by 1 (cy)")  # dan came after it
    await eve.leave("General")
    await line_becomes("delivered to 2 of 2 · read by 1 (cy)")
    assert ann.state.status(msg) == "delivered"
    await bob.mark_read("General", seq)
    await line_becomes("delivered to 2 of 2 · read by 2 (bob, cy)")
    assert ann.state.status(msg) == "read"


async def test_leaving_ends_the_membership_and_its_receipts(server: ChatServer, connect: ClientFactory) -> None:
    ann, cy = await connect("ann"), await connect("cy")
    await ann.join("General")
    await cy.join("General")
    first = await ann.send("General", "before")
    await cy.wait_for(lambda s: first in s.rooms["General"].by_seq)
    await cy.mark_read("General", first)
    await ann.wait_for(lambda s: s.status(s.rooms["General"].by_seq[first]) == "read")
    await cy.leave("General")
    await ann.wait_for(lambda s: "cy" not in s.rooms["General"].members)
    assert "cy" not in {m.name for m in server.store.members("General")}

    second = await ann.send("General", "while away")
    await cy.join("General")  # anew: from now on, with nothing read
    await ann.wait_for(lambda s: "cy" in s.rooms["General"].members)
    [row] = server.store.members_named("General", ["cy"])
    assert (row.joined_seq, row.read) == (second, 0)
    assert ann.state.rooms["General"].members["cy"].joined_seq == second
    held = ann.state.rooms["General"].by_seq
    assert ann.state.status(held[second]) == "sent"  # nobody it was posted to is left
    assert ann.state.receipt_line(held[first]).startswith("sent · nobody else")
    third = await ann.send("General", "welcome back")
    await ann.wait_for(lambda s: s.status(s.rooms["General"].by_seq[third]) == "delivered")


async def test_a_visit_posts_without_becoming_a_member(server: ChatServer, connect: ClientFactory) -> None:
    ann = await connect("ann")
    await ann.join("General")
    host, port = server.address
    async with ClientSession(host, port, "script") as script:
        await script.join("General", visit=True)
        seq = await script.send("General", "from a script")
        await ann.wait_for(lambda s: seq in s.rooms["General"].by_seq)
        assert "script" not in {m.name for m in server.store.members("General")}
    bob = await connect("bob")  # his join goes out with (or after) anything the visit's end brought
    await bob.join("General")
    await ann.wait_for(lambda s: "bob" in s.rooms["General"].members)
    assert set(ann.state.rooms["General"].members) == {"ann", "bob"}  # the script: never listed, not even offline
    assert ann.state.rooms["General"].member_count == 2
    # A member who visits (a script posts under its name) stays a member.
    await bob.close()
    again = await connect("bob")
    await again.join("General", visit=True)
    await again.send("General", "bob's cron job")
    assert {m.name for m in server.store.members("General")} == {"ann", "bob"}
