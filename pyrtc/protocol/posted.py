"""A chat message as the server numbers, stores and sends it, with its reactions.

Apart from the other server -> client messages because peers carry them too: a `Replicate`
holds a host's `Posted` copies (`continuity`), and both modules need the one shape.
"""

from __future__ import annotations

import msgspec

from .fields import Msg
from .files import FileInfo


class Reaction(msgspec.Struct, frozen=True, kw_only=True):
    emoji: str
    members: list[str]  # at most MAX_REACTION_NAMES of them
    count: int = 0  # everyone who reacted with it (0: as many as `members` lists)


class Posted(Msg, frozen=True, tag="posted", omit_defaults=True):
    """A message. Fields at their defaults are left out of the frame (the decoder fills
    them in): most posts are plain texts, and every byte is written to every listener."""

    room: str
    seq: int
    sender: str
    time: float  # unix seconds, server clock
    text: str = ""
    file: FileInfo | None = None
    cid: str = ""
    reactions: list[Reaction] = []  # at most MAX_REACTION_KINDS, the most used first
    reply_to: int = 0  # the message it answers (0: none) ...
    quote: str = ""  # ... its first line, cut to MAX_QUOTE ("" when that one is deleted)
    quote_sender: str = ""
    edited: float = 0.0  # unix seconds of the last edit (0: never edited)
    deleted: bool = False  # "message deleted": text and file are gone
