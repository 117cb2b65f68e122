"""Announce a PyRTC server over mDNS / DNS-SD.

Invariants:
- Only on the addresses the caller chose (`interfaces.check_addresses`).
- `close()` always sends a goodbye for what was registered, also when it is called while
  registration is still probing (a Ctrl-C during start-up).
- TXT updates (users online) are coalesced: at most one every `min_update` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket

from zeroconf import IPVersion, NonUniqueNameException
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

from .errors import DiscoveryError
from .records import SERVICE_TYPE, txt_properties

__all__ = ["Announcer"]

log = logging.getLogger(__name__)


def _instance_label(name: str) -> str:
    label = "".join(c for c in name if c.isprintable()).replace(".", " ").strip() or "PyRTC"
    while len(label.encode()) > 63:
        label = label[:-1]
    return label


class Announcer:
    def __init__(self, *, name: str, server_id: str, port: int, addresses: list[str],
                 users: int = 0, rooms: int = 0, min_update: float = 2.0,
                 fingerprint: str | None = None, epoch: int = 0, host: str = "",
                 chat: str | None = None) -> None:
        self.requested = _instance_label(name)
        self._chat = chat
        self._name = name
        self._id = server_id
        self._port = port
        self._addresses = addresses
        self._users, self._rooms = users, rooms
        self._min_update = min_update
        self._fingerprint = fingerprint
        self._epoch, self._node = epoch, host
        # The mDNS host name whose address records the SRV record points at. The id alone is
        # not enough: a process that copied this server's id (an impostor, a cloned data dir)
        # would answer for the same host name, and browsers would mix the two hosts' addresses.
        self._host = f"pyrtc-{server_id[:12]}-{secrets.token_hex(3)}.local."
        self._zc: AsyncZeroconf | None = None
        self._info: AsyncServiceInfo | None = None
        self._registering: asyncio.Task[None] | None = None
        self._registered = False
        self._dirty = False
        # Bumped on every TXT change. zeroconf keeps a superseded TXT record cached for ~1 s,
        # so a value that returns to an earlier one (users 1 -> 0) would look like a mere
        # refresh to browsers and fire no update; the counter makes each record new.
        self._serial = 0
        self._updater: asyncio.Task[None] | None = None

    @property
    def instance(self) -> str:
        """The final instance name (the library renames on a conflict: 'Name (2)')."""
        if self._info is None:
            return self.requested
        return self._info.name.removesuffix("." + SERVICE_TYPE)

    def _make_info(self, full_name: str | None = None) -> AsyncServiceInfo:
        return AsyncServiceInfo(
            SERVICE_TYPE, full_name or f"{self.requested}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(a) for a in self._addresses], port=self._port,
            properties=txt_properties(name=self._name, server_id=self._id, users=self._users,
                                      rooms=self._rooms, serial=self._serial,
                                      fingerprint=self._fingerprint, epoch=self._epoch,
                                      host=self._node, chat=self._chat),
            server=self._host,
        )

    async def start(self) -> None:
        """Register (probing takes ~1.5 s); the final name is in `instance` afterwards."""
        try:
            self._zc = AsyncZeroconf(interfaces=self._addresses, ip_version=IPVersion.V4Only)
        except OSError as exc:
            raise DiscoveryError(f"cannot start mDNS on {', '.join(self._addresses)}: {exc}") from exc
        self._info = self._make_info()
        self._registering = asyncio.get_running_loop().create_task(self._register())
        await asyncio.shield(self._registering)
        self._updater = asyncio.get_running_loop().create_task(self._update_loop())

    async def _register(self) -> None:
        assert self._zc is not None and self._info is not None
        try:
            await (await self._zc.async_register_service(self._info, allow_name_change=True))
        except NonUniqueNameException as exc:
            raise DiscoveryError(f"the name {self.requested!r} is taken on this network") from exc
        self._registered = True
        log.info("announced %r on %s port %d", self.instance, ", ".join(self._addresses), self._port)

    def set_counts(self, *, users: int | None = None, rooms: int | None = None) -> None:
        """Record new TXT values; sent by the update loop, not more often than min_update."""
        if users is not None and users != self._users:
            self._users, self._dirty = users, True
        if rooms is not None and rooms != self._rooms:
            self._rooms, self._dirty = rooms, True

    async def _update_loop(self) -> None:
        while True:
            await asyncio.sleep(self._min_update)
            if self._dirty and self._zc is not None and self._info is not None:
                self._dirty = False
                self._serial += 1
                self._info = self._make_info(self._info.name)  # same (final) name, new TXT
                try:
                    await (await self._zc.async_update_service(self._info))
                except Exception:
                    log.warning("mDNS update failed", exc_info=True)

    async def close(self) -> None:
        """Goodbye and stop. Waits (briefly) for a registration still under way."""
        if self._updater is not None:
            self._updater.cancel()
        if self._registering is not None and not self._registering.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._registering), timeout=5)
            except (TimeoutError, Exception):
                pass
        if self._zc is not None:
            if self._registered and self._info is not None:
                try:
                    await (await self._zc.async_unregister_service(self._info))
                    log.info("mDNS goodbye sent for %r", self.instance)
                except Exception:
                    log.warning("mDNS goodbye failed", exc_info=True)
            await self._zc.async_close()
            self._zc = None
