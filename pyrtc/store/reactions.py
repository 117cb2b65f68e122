"""The reactions part of the history store: who reacted to which message with which emoji.

Invariant: what is read back for the wire is bounded whatever is stored: a message brings
at most MAX_REACTION_KINDS emoji with MAX_REACTION_NAMES names each (and the counts), so
data stored before a limit existed cannot make a frame too big.
"""

from __future__ import annotations

import sqlite3

from ..protocol.limits import MAX_REACTION_KINDS, MAX_REACTION_NAMES
from .groupcommit import GroupCommit
from .records import StoredMessage

__all__ = ["Reactions", "with_reactions"]


class Reactions(GroupCommit):
    def set_reaction(self, room: str, seq: int, emoji: str, name: str, on: bool) -> bool:
        """True if this changed anything."""
        if on:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO reactions (room, seq, emoji, name) VALUES (?, ?, ?, ?)",
                (room, seq, emoji, name),
            )
        else:
            cur = self._db.execute(
                "DELETE FROM reactions WHERE room = ? AND seq = ? AND emoji = ? AND name = ?",
                (room, seq, emoji, name),
            )
        return cur.rowcount == 1

    def reactions_after(self, room: str, after: int, limit: int) -> list[tuple[int, str, str, str, float]]:
        """(seq, emoji, name, the message's sender, its time) of the reactions on messages
        after seq `after`, in seq order, at most `limit` (what a leaving host hands on)."""
        return [(int(q), str(e), str(n), str(s), float(t)) for q, e, n, s, t in self._db.execute(
            "SELECT r.seq, r.emoji, r.name, m.sender, m.time FROM reactions r JOIN messages m"
            " ON m.room = r.room AND m.seq = r.seq WHERE r.room = ? AND r.seq > ?"
            " ORDER BY r.seq, r.emoji, r.name LIMIT ?", (room, after, limit))]

    def reaction_counts(self, room: str, seq: int) -> dict[str, int]:
        """emoji -> how many reacted with it, for one message."""
        return {str(e): int(n) for e, n in self._db.execute(
            "SELECT emoji, count(*) FROM reactions WHERE room = ? AND seq = ? GROUP BY emoji", (room, seq))}


def with_reactions(db: sqlite3.Connection, room: str, msgs: list[StoredMessage]) -> list[StoredMessage]:
    """Each message's most used MAX_REACTION_KINDS emoji, with their counts and the first
    MAX_REACTION_NAMES names (by name): bounded however many were stored."""
    if not msgs:
        return msgs
    span = (room, min(m.seq for m in msgs), max(m.seq for m in msgs))
    counts: dict[int, dict[str, int]] = {}
    for seq, emoji, n in db.execute(
            "SELECT seq, emoji, count(*) FROM reactions WHERE room = ? AND seq BETWEEN ? AND ?"
            " GROUP BY seq, emoji", span):
        counts.setdefault(seq, {})[emoji] = n
    if not counts:
        return msgs
    top = {seq: dict(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_REACTION_KINDS])
           for seq, kinds in counts.items()}
    names: dict[tuple[int, str], list[str]] = {}
    for seq, emoji, name in db.execute(
            "SELECT seq, emoji, name FROM (SELECT seq, emoji, name, row_number() OVER"
            " (PARTITION BY seq, emoji ORDER BY name) AS n FROM reactions"
            " WHERE room = ? AND seq BETWEEN ? AND ?) WHERE n <= ? ORDER BY seq, emoji, name",
            (*span, MAX_REACTION_NAMES)):
        if emoji in top[seq]:
            names.setdefault((seq, emoji), []).append(name)
    for m in msgs:
        for emoji, n in top.get(m.seq, {}).items():
            m.reactions[emoji] = names.get((m.seq, emoji), [])
            m.reaction_counts[emoji] = n
    return msgs
