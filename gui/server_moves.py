"""Where the window's session goes when its server stops answering, and what the window says
about it.

- A server alone, found by discovery: the same server again, wherever it came back
  (`relocator`: its id and certificate, never a server that merely claims its id).
- A server of a cluster's chat (docs/cluster.md; its mDNS TXT names the chat): another server
  of the same chat at once (`Moves.failover_for`); the session re-joins every room from its
  last seq and resends what was unacknowledged (pyrtc/client/connection.py). Once there, the
  window says which server stopped answering and which one it uses now.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pyrtc.client import Alternate, ClientSession
from pyrtc.client.state import Connected, Event
from pyrtc.discovery import ServerEntry, chat_servers, relocate

__all__ = ["Failover", "Moves", "Relocate", "relocator"]

Relocate = Callable[[], Awaitable[tuple[str, int] | None]]
Failover = Callable[[], Awaitable[list[Alternate]]]


def relocator(entry: ServerEntry, addresses: list[str], browse_time: float) -> Relocate:
    """Where the server `entry` is now (discovery; `addresses` is read when asked)."""

    async def where() -> tuple[str, int] | None:
        return await relocate(entry, addresses, browse_time)

    return where


class Moves:
    """The failover of a cluster's chat, for the window's sessions (client thread only)."""

    def __init__(self, addresses: list[str], browse_time: float) -> None:
        self._addresses = addresses  # the window's list, filled in place by each search
        self._browse_time = browse_time
        self._left = ""  # host:port of the server the session is moving away from

    def failover_for(self, entry: ServerEntry | None, session: Callable[[], ClientSession | None]) -> Failover | None:
        """The servers of `entry`'s chat, for `ClientSession.failover` (None: a server alone,
        or an address typed, where no chat is known)."""
        if entry is None or not entry.chat:
            return None

        async def others() -> list[Alternate]:
            current = session()
            if current is not None and not self._left:
                self._left = f"{current.host}:{current.port}"
            return await chat_servers(entry, self._addresses, self._browse_time)

        return others

    def on_event(self, session: ClientSession, event: Event) -> None:
        """After the window took `event` in: a connection made elsewhere than the server that
        stopped answering is said (a `Notice`, after the Connected that clears the last one)."""
        if isinstance(event, Connected) and self._left:
            left, self._left = self._left, ""
            if event.address != left:
                # Short: the window shows it before the status line, in one line of the top bar.
                session.note(f"{left} stopped answering: moved to {event.address}, another server of this chat")
