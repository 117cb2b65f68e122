"""The files part of the history store: which messages post which file body, and so who
may read it.

Invariant: a file name is display text only; file bodies live in `BlobStore`, keyed by
their BLAKE3 (pyrtc.blob_id), and a body is readable only through a message that posts it.
"""

from __future__ import annotations

from collections.abc import Iterable

from .groupcommit import GroupCommit

__all__ = ["Files"]


class Files(GroupCommit):
    def file_readable(self, blob_id: str, name: str, rooms: Iterable[str]) -> bool:
        """Whether `name` may read the body `blob_id` (a file or its thumbnail): it posted
        it, or it is posted in an open room (anyone may watch those), in a room `name` is a
        member of, or in one of `rooms` (those its connection receives: watched locked rooms
        were let in by their password)."""
        rooms = list(rooms)
        watched = f" OR m.room IN ({','.join('?' * len(rooms))})" if rooms else ""
        # messages.file_id is a TEXT column: compared as text, its index is used.
        return self._db.execute(
            "SELECT 1 FROM files f JOIN messages m ON m.file_id = CAST(f.id AS TEXT)"
            " WHERE (f.blob_id = ? OR f.thumb_id = ?) AND (m.sender = ?"
            " OR m.room IN (SELECT name FROM rooms WHERE password = '' AND name NOT LIKE '@%')"
            " OR m.room IN (SELECT room FROM members WHERE name = ?)" + watched + ") LIMIT 1",
            (blob_id, blob_id, name, name, *rooms),
        ).fetchone() is not None

    def rename_blobs(self, renames: dict[str, str]) -> None:
        """Point every file message at new ids (old -> new), in one transaction."""
        self.commit()
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for old, new in renames.items():
                self._db.execute("UPDATE files SET blob_id = ? WHERE blob_id = ?", (new, old))
                self._db.execute("UPDATE files SET thumb_id = ? WHERE thumb_id = ?", (new, old))
