"""How the terminal client writes messages and events: one line each, with what a command
needs to point at them (a message's number for /react and /download)."""

from __future__ import annotations

import time

from .. import protocol as p
from ..client.state import MessageView
from ..units import human_size

__all__ = ["clean", "message_line", "quote", "room_list"]


def clean(text: str) -> str:
    """Safe to print on a terminal: control characters (escape sequences that could move the
    cursor or clear the screen) become spaces; a message's own line breaks are indented."""
    lines = ("".join(c if c.isprintable() else " " for c in part) for part in text.split("\n"))
    return "\n    ".join(lines)


def message_line(m: MessageView | p.Posted, title: str = "") -> str:
    """`21:03 [General] #12 ann: hello  [👍 2]`; a file says how to fetch it; a reply
    starts with the line it answers, an edited message ends "(edited)". `title`: what the
    room is called here (`@bob` for a direct conversation)."""
    stamp = time.strftime("%H:%M", time.localtime(m.time))
    if m.deleted:
        body = "(message deleted)"
    elif m.file is not None:
        body = f"[file] {clean(m.file.name)} ({human_size(m.file.size)}) — /download {m.seq}"
    else:
        body = clean(m.text)
    if isinstance(m, MessageView):  # the names may be only some of them: the counts are all
        counts = [(e, m.reaction_count(e)) for e in m.reactions if m.reaction_count(e)]
    else:
        counts = [(r.emoji, max(r.count, len(r.members))) for r in m.reactions if r.members or r.count]
    marks = "  [" + " ".join(f"{clean(e)} {n}" for e, n in counts) + "]" if counts else ""
    if m.edited and not m.deleted:
        marks += " (edited)"
    if m.reply_to:
        answered = f'{m.quote_sender}: "{clean(m.quote)}"' if m.quote else "a deleted message"
        body = f"↪ #{m.reply_to} {answered} — {body}"
    return f"{stamp} [{title or m.room}] #{m.seq} {m.sender}: {body}{marks}"


def quote(m: MessageView) -> str:
    """A message in a few words, for lines that refer to it."""
    text = f"[file] {m.file.name}" if m.file is not None else m.text
    text = clean(text).replace("\n    ", " ")
    return f"{m.sender}: {text[:40] + '…' if len(text) > 41 else text}"


def room_list(rooms: list[p.RoomInfo], current: str | None, joined: set[str]) -> list[str]:
    lines = ["-- rooms (* the one you write to, + the others you are in):"]
    for r in rooms:
        mark = "*" if r.name == current else "+" if r.name in joined else " "
        members = f"{r.members} member{'' if r.members == 1 else 's'}"
        lines.append(f" {mark} {r.name:<20} {r.online} online, {members}" + (" (locked)" if r.locked else ""))
    return lines
