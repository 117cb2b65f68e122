"""Settings of the session that one of its parts keeps, shown on the session itself."""

from __future__ import annotations

from typing import Generic, Never, TypeVar, cast, overload

__all__ = ["Kept", "Shown"]

T = TypeVar("T")


class Shown(Generic[T]):
    """A session setting that one of its parts keeps (`part`: the attribute holding it):
    read on the session, it is the part's attribute of the same name, so the two can never
    disagree."""

    def __init__(self, part: str) -> None:
        self._part = part
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, session: None, owner: type) -> Shown[T]: ...
    @overload
    def __get__(self, session: object, owner: type) -> T: ...
    def __get__(self, session: object | None, owner: type) -> T | Shown[T]:
        if session is None:
            return self
        return cast(T, getattr(getattr(session, self._part), self._name))

    def __set__(self, session: object, value: Never) -> None:
        # Defined (and typed to accept nothing) so that an assignment fails instead of
        # hiding the part's value behind an attribute of the session's own.
        raise AttributeError(f"{self._name} is read-only")


class Kept(Shown[T]):
    """`Shown`, and set on the session it sets the part's."""

    def __set__(self, session: object, value: T) -> None:
        setattr(getattr(session, self._part), self._name, value)
