"""The live list of servers behind the picker: what mDNS finds (a ServerBrowser, kept open
while the picker waits) and the servers this user connected to before (probed once over
TCP), merged, with servers that claim one id marked (impostor / ambiguous).

Invariants:
- Runs on the client thread until cancelled; each new version of the list goes to
  `on_list` as copies, so the GUI thread never reads entries the browser still changes.
- A remembered server is listed only where discovery did not find it (same id and
  certificate); one remembered without a certificate pins nothing, so a discovered server
  of its id stands for it.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from pyrtc.discovery import KnownServers, ServerBrowser, ServerEntry, mark_conflicts, one_per_chat, probe
from pyrtc.discovery.browse import remembered_pins, remembered_vouched

__all__ = ["LiveServers"]


class LiveServers:
    def __init__(self, addresses: list[str], fingerprint: str | None,
                 on_list: Callable[[list[ServerEntry]], None]) -> None:
        self._addresses = addresses
        self._fingerprint = fingerprint
        self._on_list = on_list
        self._browser: ServerBrowser | None = None
        self._remembered: list[ServerEntry] = []

    async def run(self) -> None:
        """Browse until cancelled."""
        browser = ServerBrowser(self._addresses, fingerprint=self._fingerprint,
                                on_change=lambda *_: self._publish())
        await browser.start()
        self._browser = browser
        try:
            self._publish()
            self._remembered = list(await asyncio.gather(*(_checked(e) for e in KnownServers().entries())))
            self._publish()
            await asyncio.Event().wait()
        finally:
            self._browser = None
            await browser.close()

    def _publish(self) -> None:
        if self._browser is None:
            return
        found = [dataclasses.replace(e, addresses=list(e.addresses)) for e in self._browser.servers]
        keys, ids = {e.key for e in found}, {e.server_id for e in found}
        others = [dataclasses.replace(k) for k in self._remembered if k.key not in keys and k.addresses
                  and (k.fingerprint or k.server_id not in ids)]
        entries = found + others
        mark_conflicts(entries, remembered_pins(), self._fingerprint, remembered_vouched())
        self._on_list(one_per_chat(entries))


async def _checked(entry: ServerEntry) -> ServerEntry:
    alive = await probe(entry.addresses, entry.port)
    entry.reachable = bool(alive)
    entry.addresses = alive + [a for a in entry.addresses if a not in alive]
    return entry
