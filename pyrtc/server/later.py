"""Work a request waits for off the event loop (a password hash, a refusal's delay).

A handler that needs such work returns `Later(work, then)` instead of answering: the server
holds that connection's next messages (in order) until `work` is done, then runs `then`
with its result on the loop, where it may answer or return another `Later`. Everyone
else is served meanwhile.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = ["Later", "Step"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Later(Generic[T]):
    work: Awaitable[T]
    then: Callable[[T], Later[Any] | None]


#: What a handler returns: nothing (it answered) or the work it waits for.
Step = Later[Any] | None
