"""Hypothesis strategies built from msgspec's own type info, so every message type and every
field limit is covered without a hand-written list that could fall behind."""

from __future__ import annotations

from typing import Any

import msgspec.inspect as mi
from hypothesis import strategies as st


def for_type(t: mi.Type) -> st.SearchStrategy[Any]:
    if isinstance(t, mi.StrType):
        lo, hi = t.min_length or 0, min(t.max_length if t.max_length is not None else 40, 40)
        if t.pattern:
            return st.from_regex(t.pattern, fullmatch=True).filter(
                lambda s, lo=lo, hi=t.max_length: lo <= len(s) <= (hi or 10**9))
        return st.text(min_size=lo, max_size=max(lo, hi))
    if isinstance(t, mi.IntType):
        lo = t.ge if t.ge is not None else -(2**63)
        hi = t.le if t.le is not None else 2**63 - 1
        return st.integers(min_value=lo, max_value=hi)
    if isinstance(t, mi.FloatType):
        return st.floats(allow_nan=False)
    if isinstance(t, mi.BoolType):
        return st.booleans()
    if isinstance(t, mi.BytesType):
        lo = t.min_length or 0
        return st.binary(min_size=lo, max_size=max(lo, min(t.max_length or 256, 256)))
    if isinstance(t, mi.LiteralType):
        return st.sampled_from(t.values)
    if isinstance(t, mi.NoneType):
        return st.none()
    if isinstance(t, mi.UnionType):
        return st.one_of([for_type(x) for x in t.types])
    if isinstance(t, mi.ListType):
        lo = t.min_length or 0
        return st.lists(for_type(t.item_type), min_size=lo, max_size=max(lo, min(3, t.max_length if t.max_length is not None else 3)))
    if isinstance(t, mi.TupleType):
        return st.tuples(*(for_type(x) for x in t.item_types))
    if isinstance(t, mi.DictType):
        return st.dictionaries(for_type(t.key_type), for_type(t.value_type), max_size=3)
    if isinstance(t, mi.StructType):
        return st.builds(t.cls, **{f.name: for_type(f.type) for f in t.fields})
    raise NotImplementedError(f"no strategy for {t!r}")


def messages(union: Any) -> st.SearchStrategy[Any]:
    info = mi.type_info(union)
    return for_type(info)
