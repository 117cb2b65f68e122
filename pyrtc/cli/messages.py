"""`pyrtc send` and `pyrtc tail`: messages from a script or pipe, and a room printed (and followed)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time

from .. import protocol as p
from ..client import ChatState
from ..client.state import MessageView
from ..protocol.limits import MAX_TEXT
from ..units import human_size
from .common import UsageError, one_shot_name, open_session

__all__ = ["cmd_send", "cmd_tail"]

log = logging.getLogger(__name__)

#: Without --since, tail prints this many of the newest messages (fetched a page at a time:
#: one join page may hold fewer when the messages are big).
TAIL_RECENT = 100


async def cmd_send(args: argparse.Namespace) -> int:
    if args.text:
        lines = [" ".join(args.text)]
        if not lines[0].strip():
            raise UsageError("nothing to send: the message is empty")
    else:
        if sys.stdin.isatty():
            print("pyrtc: type messages, one per line; Ctrl-D sends them", file=sys.stderr)
        lines = [line.rstrip("\r\n") for line in sys.stdin]
        lines = [line for line in lines if line.strip()]
    if not lines:
        raise UsageError("nothing to send: give TEXT or pipe lines on stdin")
    for n, line in enumerate(lines, 1):
        if len(line) > MAX_TEXT:
            where = f"line {n} is" if len(lines) > 1 else "the message is"
            raise UsageError(f"{where} {len(line)} characters; the limit is {MAX_TEXT}")
    session = await open_session(args, args.name)
    try:
        if args.direct:  # the two are members of their conversation already
            room = (await session.open_direct(args.direct)).name
        else:  # a visit: the script posts without becoming a member (receipts never wait for it)
            room = (await session.join(args.room, visit=True, password=args.room_password)).name
        # Pipelined: every line is written at once; the same stream keeps their order.
        sends = [asyncio.ensure_future(session.send(room, line, timeout=None)) for line in lines]
        async with asyncio.timeout(max(30.0, len(lines) / 500)):
            seqs = await asyncio.gather(*sends)
        log.info("sent %d messages to %s (seq %d..%d)", len(seqs), room, seqs[0], seqs[-1])
    finally:
        await session.close()
    return 0


def _json_line(m: MessageView) -> str:
    file = None
    if m.file is not None:
        f = m.file
        file = {"id": f.blob_id, "name": f.name, "size": f.size, "mime": f.mime,
                "thumb_id": f.thumb_id, "width": f.width, "height": f.height}
    return json.dumps({"seq": m.seq, "room": m.room, "sender": m.sender, "time": m.time,
                       "text": m.text, "file": file,
                       "reactions": {e: sorted(n) for e, n in m.reactions.items()},
                       "reply_to": m.reply_to, "edited": m.edited, "deleted": m.deleted},
                      ensure_ascii=False)


def _human_line(m: MessageView) -> str:
    """One line per message, whatever it holds: a newline or an escape sequence in a text
    would let it print a forged line (or drive the terminal), so they are shown escaped."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m.time))
    body = m.text
    if m.file is not None:
        body = f"[file] {m.file.name} ({human_size(m.file.size)}, {m.file.mime}) id={m.file.blob_id}"
    if m.deleted:
        body = "(message deleted)"
    elif m.edited:
        body += " (edited)"
    if m.reply_to:
        body = f"(reply to #{m.reply_to}) {body}"
    return f"{stamp} #{m.seq} {_escaped(m.sender)}: {_escaped(body)}"


def _escaped(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


async def cmd_tail(args: argparse.Namespace) -> int:
    session = await open_session(args, one_shot_name(args.name))
    fmt = _json_line if args.json else _human_line
    try:
        where = args.room
        if args.direct:
            opened: p.DirectOpened = await session.open_direct_info(args.direct)
            where = opened.direct.room
        room = await session.join(where, since=args.since, watch=True, password=args.room_password)
        if args.since is None:
            while len(room.messages) < TAIL_RECENT and room.more_before:
                if not await session.load_older(room.name, limit=TAIL_RECENT - len(room.messages)):
                    break
        printed = args.since if args.since is not None else 0
        while True:
            for m in list(room.messages):
                if m.seq > printed:
                    print(fmt(m), flush=True)
                    printed = m.seq
            if not args.follow:
                return 0
            def more(s: ChatState, name: str = room.name, seen: int = printed) -> bool:
                return s.rooms[name].last_seq > seen or session.fatal is not None

            await session.wait_for(more, timeout=None)
            if session.fatal is not None:
                raise session.fatal
            room = session.state.rooms[room.name]
    finally:
        await session.close()
