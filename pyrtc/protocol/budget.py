"""Frames built from stored data, fitted to MAX_FRAME by their encoded size.

A page of messages (a join, a history page, search hits) is cut by bytes, not only by count:
counts alone let a few big messages (8,000 four-byte characters each) make a frame no one
can receive. The newest items are kept, so a page always shows the latest, and the frame
says `more` when items were left out. One item always fits (see MAX_POSTED_SIZE in the
tests): the caller still gets at least one when there is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import msgspec

from .limits import MAX_FRAME

__all__ = ["encoded_size", "fit_newest", "fit_first", "room_for", "chunks"]

T = TypeVar("T")

_encoder = msgspec.msgpack.Encoder()
#: A msgpack array header takes at most 5 bytes.
_LIST_HEADER = 5


def encoded_size(obj: object) -> int:
    """Bytes `obj` takes in a msgpack body."""
    return len(_encoder.encode(obj))


def room_for(envelope: msgspec.Struct) -> int:
    """Bytes left in a frame for one list field, given the frame with that list empty."""
    return MAX_FRAME - encoded_size(envelope) - _LIST_HEADER


def fit_newest(items: Sequence[T], budget: int) -> tuple[list[T], bool]:
    """The last items (oldest first, as given) whose encodings add up to at most `budget`
    bytes, and whether some were left out at the front. The last item is kept in any case."""
    used = 0
    start = len(items)
    while start > 0:
        size = encoded_size(items[start - 1])
        if used + size > budget and start < len(items):
            break
        used += size
        start -= 1
    return list(items[start:]), start > 0


def fit_first(items: Sequence[T], budget: int) -> tuple[list[T], bool]:
    """The first items (newest first, as search hits are) that fit in `budget` bytes, and
    whether some were left out at the end. The first item is kept in any case."""
    kept, cut = fit_newest(items[::-1], budget)
    return kept[::-1], cut


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    """`items` in lists of at most `size` (none when there are no items)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
