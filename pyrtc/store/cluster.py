"""What a server of a cluster remembers about the shared stream: the chat it serves and how
far into the stream its cache is (`applied`), written in the same transaction as what was
applied, so a restart resumes exactly after the last message it stored.
"""

from __future__ import annotations

from .groupcommit import GroupCommit

__all__ = ["ClusterMarks", "SCHEMA"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS cluster (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
"""


class ClusterMarks(GroupCommit):
    def cluster_value(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM cluster WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_cluster_value(self, key: str, value: str) -> None:
        """Joins the open transaction if there is one (the applied mark goes with its messages)."""
        self._db.execute("INSERT INTO cluster (key, value) VALUES (?, ?)"
                         " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def has_history(self) -> bool:
        """Any message stored at all (a cache from single-server mode cannot join a cluster)."""
        return any(seq for seq in self._seqs.values())
