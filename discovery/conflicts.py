"""Servers that announce one id with different certificates.

A server's id is public (it is in the TXT record), so anyone can announce it; the certificate
cannot be copied. Entries are therefore one per (id, certificate), and where an id is claimed
by several certificates:
- the one this client pins (`--fingerprint`, else the one remembered for that id) is the
  server; every other one is an impostor, listed so but never offered (`compatible` is False);
- with nothing pinned, all are listed as ambiguous, with a warning: a one-shot command then
  finds several servers and refuses to guess, a person picks one.
"""

from __future__ import annotations

from collections.abc import Callable

from .records import ServerEntry

__all__ = ["IMPOSTOR", "AMBIGUOUS", "Pins", "Vouched", "mark_conflicts", "one_per_chat"]

IMPOSTOR = "impostor"
AMBIGUOUS = "ambiguous"

Pins = Callable[[str], "str | None"]  # server id -> the certificate fingerprint trusted for it
#: chat id -> the certificates its host vouched for (successors); they are the chat too.
Vouched = Callable[[str], "set[str]"]


def _at(entry: ServerEntry) -> str:
    where = f"{entry.addresses[0]}:{entry.port}" if entry.addresses else "an unknown address"
    return f"{entry.name!r} at {where}"


def _short(fingerprint: str) -> str:
    return f"certificate {fingerprint[:16]}…" if fingerprint else "no certificate"


def mark_conflicts(entries: list[ServerEntry], pinned: Pins, explicit: str | None = None,
                   vouched: Vouched | None = None) -> list[str]:
    """Set `conflict` and `warning` on every entry whose id another entry claims with another
    certificate (and clear them on the rest); return the warnings, one per entry marked.
    `explicit` is a fingerprint the user gave: where it is one of the contenders, it wins."""
    by_id: dict[str, list[ServerEntry]] = {}
    for e in entries:
        e.conflict = e.warning = ""
        if e.server_id:
            by_id.setdefault(e.server_id, []).append(e)
    warnings: list[str] = []
    for server_id, group in by_id.items():
        prints = {e.fingerprint or "" for e in group}
        if len(prints) < 2:
            continue
        pin = explicit.lower() if explicit and explicit.lower() in prints else pinned(server_id)
        ok = {pin} | (vouched(server_id) if vouched is not None and pin else set())
        if pin:
            for e in group:
                if (e.fingerprint or "") not in ok:
                    e.conflict = IMPOSTOR
                    e.warning = (f"{_at(e)} claims the id {server_id[:12]}… of a server known here, but "
                                 f"shows another {_short(e.fingerprint or '')} than the known one "
                                 f"({pin[:16]}…): an impostor, never connected to on its own")
                    warnings.append(e.warning)
            continue
        count = "two" if len(group) == 2 else str(len(group))
        contenders = "; ".join(f"{_at(e)} ({_short(e.fingerprint or '')})" for e in group)
        warning = (f"{count} servers claim the id {server_id[:12]}…: {contenders}. None of them is "
                   "known here, so none is chosen for you: connect to the one you mean with --server "
                   "HOST:PORT --fingerprint SHA256 (the full fingerprints are in `pyrtc servers --json`)")
        for e in group:
            e.conflict, e.warning = AMBIGUOUS, warning
        warnings.append(warning)
    return warnings


def one_per_chat(entries: list[ServerEntry]) -> list[ServerEntry]:
    """One entry per chat: hosts of one chat id that are not in conflict (vouched successors,
    a remembered address of an earlier host) are one chat, shown as its current host: the
    one heard on the network first, then the higher epoch, then (a tie: two hosts at once)
    the lower node id. Contested ids are left as they are (conflicts stay visible)."""
    by_id: dict[str, list[ServerEntry]] = {}
    out: list[ServerEntry] = []
    for e in entries:
        if e.server_id and not e.conflict:
            by_id.setdefault(e.server_id, []).append(e)
        else:
            out.append(e)
    for group in by_id.values():
        live = [e for e in group if e.reachable] or group
        out.append(min(live, key=lambda e: (e.source != "mdns", -e.epoch, e.host)))
    keep = {id(e) for e in out}
    return [e for e in entries if id(e) in keep]
