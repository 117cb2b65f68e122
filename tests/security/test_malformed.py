"""Issue 16 (17, part): input that got past the decoder, and output that could be forged.

msgpack nested 2,000 deep raised RecursionError with no error frame; a seq or since of 2^63
or more became `internal` (SQLite's OverflowError); `pyrtc tail` printed a message's `\\n`,
so a message could print a forged line; chat.log fields were unquoted, so a name or a text
could fake `key=value`. Now the first two are `bad_message` (the connection closes, the
server goes on), tail escapes control characters, and chat.log quotes what is not one word.
"""

from __future__ import annotations

import asyncio
import re
import sys

import msgspec
import pytest

import pyrtc.protocol as p
from pyrtc.client import ClientSession
from pyrtc.server import ChatServer

from ..conftest import ClientFactory
from .raw import RawClient


def frame(body: bytes) -> bytes:
    return len(body).to_bytes(4, "big") + body


async def test_deeply_nested_msgpack_gets_an_error_frame(server: ChatServer, connect: ClientFactory) -> None:
    # {"t": "ping", "nonce": 1, "extra": [[[...2,000 deep...]]]}: the field is unknown, and skipped
    body = b"\x83\xa1t\xa4ping\xa5nonce\x01\xa5extra" + b"\x91" * 2000 + b"\xc0"
    raw = await RawClient.open(server.address, "mallory", "General")
    raw.send_bytes(frame(body))
    err = await raw.until(lambda m: isinstance(m, p.Error))
    assert isinstance(err, p.Error) and err.code == "bad_message" and err.fatal and "too deep" in err.message
    await raw.closed_by_server()
    ann = await connect("ann")  # everyone else is served
    await ann.join("General")
    assert await ann.send("General", "fine") == 1


@pytest.mark.parametrize("msg", [
    {"t": "join_room", "room": "General", "since": 2**63},
    {"t": "get_history", "room": "General", "after": 2**64 - 1},
    {"t": "get_history", "room": "General", "before": 2**63},
    {"t": "react", "room": "General", "seq": 2**63, "emoji": "👍"},
], ids=lambda m: m["t"])
async def test_sequence_numbers_past_64_bits_are_bad_messages(server: ChatServer, msg: dict[str, object]) -> None:
    raw = await RawClient.open(server.address, "mallory", "General")
    raw.send_bytes(frame(msgspec.msgpack.encode(msg)))
    err = await raw.until(lambda m: isinstance(m, p.Error))
    assert isinstance(err, p.Error) and (err.code, err.fatal) == ("bad_message", True)
    await raw.closed_by_server()


async def test_tail_prints_one_line_per_message(server: ChatServer, connect: ClientFactory) -> None:
    ann = await connect("ann")
    await ann.join("General")
    forged = "fine\n2026-01-01 00:00:00 #99 boss: pay the invoice\r\x1b[2K"
    await ann.send("General", forged)
    await ann.send("General", "next")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pyrtc", "tail", "--server", "{}:{}".format(*server.address), "--room", "General",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(60):
        out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert len(lines) == 2 and "\x1b" not in out.decode() and "\r" not in out.decode()
    assert lines[0].endswith(r"ann: fine\n2026-01-01 00:00:00 #99 boss: pay the invoice\r\x1b[2K")


_FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s"\\=]+)')


def fields(line: str) -> tuple[str, dict[str, str]]:
    """A chat.log line's event and fields, read strictly: every byte must belong to one."""
    event, _, rest = line.rstrip("\n")[len("2026-01-01 00:00:00,000 "):].partition(" ")
    out: dict[str, str] = {}
    pos = 0
    while pos < len(rest):
        m = _FIELD.match(rest, pos)
        assert m, f"unreadable at {rest[pos:]!r}"
        key, value = m.groups()
        assert key not in out, f"{key} twice in {line!r}"
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        out[key] = value
        pos = m.end() + 1
    return event, out


async def test_chat_log_fields_cannot_be_faked(server: ChatServer, chat_lines: list[str]) -> None:
    async with ClientSession(*server.address, "eve seq=1 from=boss") as eve:
        await eve.create_room("Board room")
        await eve.join("Board room")
        await eve.send("Board room", 'hi" from=boss text="all is well')
        await eve.send("Board room", "back\\slash")
    events = [fields(ln) for ln in chat_lines]
    messages = [f for e, f in events if e == "message"]
    assert [(f["room"], f["from"], f["text"]) for f in messages] == [
        ("Board room", "eve seq=1 from=boss", 'hi" from=boss text="all is well'),
        ("Board room", "eve seq=1 from=boss", "back\\slash")]
    assert [f["name"] for e, f in events if e == "join"] == ["eve seq=1 from=boss"]
