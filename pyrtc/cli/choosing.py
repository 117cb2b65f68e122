"""Which of the servers found a command connects to: the only one; else the one `--pick`
names by a unique part of its name; else a person's choice (the terminal client asks; a kiosk
takes the one it used last, discovery.used_last). Never
a guess: several matches, or servers that claim one id with different certificates (nothing
pinned decides between them, discovery/conflicts.py), are refused with the list and the way out."""

from __future__ import annotations

from ..discovery import AMBIGUOUS, IMPOSTOR, ServerEntry, matching
from .errors import UserError

__all__ = ["choose", "describe", "matching", "offered", "refuse_unsure", "several"]

#: Where servers claim one id: the way to say which one is meant.
BY_FINGERPRINT = ("connect to the one you mean with --server HOST:PORT --fingerprint SHA256 "
                  "(their fingerprints are in `pyrtc servers --json`)")


def offered(found: list[ServerEntry]) -> list[ServerEntry]:
    """What may be connected to: our protocol version, no impostor, answering."""
    return [e for e in found if e.compatible and e.reachable]


def describe(entries: list[ServerEntry]) -> str:
    def one(e: ServerEntry) -> str:
        where = f"{e.addresses[0]}:{e.port}" if e.addresses else "?"
        return f"{e.name} ({where})" + (" [same id as another server]" if e.conflict == AMBIGUOUS else "")

    return "; ".join(one(e) for e in entries)


def refuse_unsure(chosen: list[ServerEntry], among: list[ServerEntry]) -> None:
    """Refuse where any of `chosen` shares its id with another of `among` (or is marked so)."""
    ids = {e.server_id for e in chosen if e.server_id}
    claimants = [e for e in among if e.server_id in ids]
    if any(e.conflict for e in chosen) or len(claimants) > len({e.server_id for e in claimants}):
        group = [e for e in among if e.server_id in ids and (e.conflict or e in chosen)]
        raise UserError(f"{len(group)} servers claim the same id with different certificates: "
                        f"{describe(group)}; none is chosen for you: {BY_FINGERPRINT}")


def several(entries: list[ServerEntry], *, kiosk: bool = False) -> UserError:
    """The error for more than one server and nothing to choose by (a kiosk: it has used none
    of them before)."""
    if any(e.conflict == AMBIGUOUS for e in entries):
        return UserError(f"{len(entries)} servers found: {describe(entries)}; some claim the same id, "
                         f"so none is chosen for you: {BY_FINGERPRINT}")
    why = "; a kiosk takes the one it used last, and it has used none of these" if kiosk else ""
    return UserError(f"{len(entries)} servers found: {describe(entries)}; choose one with --pick NAME "
                     f"(a part of its name is enough){why}")


def choose(found: list[ServerEntry], pick: str | None) -> ServerEntry:
    """The one server to use among `found`, or a UserError saying why there is none."""
    usable = offered(found)
    if pick:
        match = matching(usable, pick)
        if not match:
            others = [e for e in matching(found, pick) if e.conflict == IMPOSTOR]
            why = f" ({describe(others)}: an impostor of a known server)" if others else ""
            raise UserError(f"no server matches --pick {pick!r}{why}; found: {describe(usable) or 'none'}")
        refuse_unsure(match, usable)
        if len(match) > 1:
            raise UserError(f"--pick {pick!r} matches {len(match)} servers: {describe(match)}; "
                            "give more of the name")
        return match[0]
    if len(usable) > 1:
        raise several(usable)
    refuse_unsure(usable, usable)
    if not usable:
        raise UserError("no PyRTC server found")
    return usable[0]
