"""A stored message as it goes on the wire (history pages, joins, fan-out, a cluster's cache)."""

from __future__ import annotations

from .. import protocol as p
from ..store import StoredMessage

__all__ = ["posted"]


def posted(m: StoredMessage) -> p.Posted:
    """A stored message as it goes on the wire."""
    file = None
    if m.file is not None:
        f = m.file
        file = p.FileInfo(blob_id=f.blob_id, name=f.name, size=f.size, mime=f.mime,
                          thumb_id=f.thumb_id, width=f.width, height=f.height)
    return p.Posted(room=m.room, seq=m.seq, sender=m.sender, time=m.time, text=m.text, file=file,
                    cid=m.cid, reactions=[p.Reaction(emoji=e, members=n, count=m.reaction_counts.get(e, len(n)))
                                          for e, n in m.reactions.items()],
                    reply_to=m.reply_to, quote=m.quote, quote_sender=m.quote_sender, edited=m.edited,
                    deleted=m.deleted)
