"""Announce a PyRTC server over mDNS / DNS-SD.

Invariants:
- Only on the addresses the caller chose (`interfaces.check_addresses`).
- `close()` always sends a goodbye for what was registered, also when it is called while
  registration is still probing (a Ctrl-C during start-up).
- TXT updates (users online) are coalesced: at most one every `min_update` seconds.
- A name may be claimed (`NameClaim`: probed for, ~1.2 s) before anything is announced, while
  the launch still browses for a chat to join: probes are questions, browsers list nothing
  from them. Announcing on a claimed name then skips the probing; nothing is announced at
  all when the launch joins a chat instead (the claim is closed).
- `start()` returns once the service answers queries and its first announcement is sent;
  the two repeats follow in the background (~0.45 s).
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

__all__ = ["Announcer", "NameClaim"]

log = logging.getLogger(__name__)


def _instance_label(name: str) -> str:
    label = "".join(c for c in name if c.isprintable()).replace(".", " ").strip() or "PyRTC"
    while len(label.encode()) > 63:
        label = label[:-1]
    return label


def _zeroconf(addresses: list[str]) -> AsyncZeroconf:
    try:
        return AsyncZeroconf(interfaces=addresses, ip_version=IPVersion.V4Only)
    except OSError as exc:
        raise DiscoveryError(f"cannot start mDNS on {', '.join(addresses)}: {exc}") from exc


class NameClaim:
    """An instance name probed for on the network (renamed on a conflict) before anything is
    announced: what registering spends most of its time on, done while the launch browses."""

    def __init__(self, name: str, addresses: list[str]) -> None:
        self.requested = _instance_label(name)
        self.name = f"{self.requested}.{SERVICE_TYPE}"  # the final one once `probe` returned
        self._addresses = addresses
        self.zc: AsyncZeroconf | None = None

    async def probe(self) -> None:
        self.zc = _zeroconf(self._addresses)
        info = AsyncServiceInfo(SERVICE_TYPE, self.name, port=0)
        try:
            await self.zc.zeroconf.async_check_service(info, allow_name_change=True)
        except NonUniqueNameException as exc:
            raise DiscoveryError(f"the name {self.requested!r} is taken on this network") from exc
        self.name = info.name

    def take(self) -> tuple[AsyncZeroconf | None, str]:
        """The claim's mDNS instance and name, handed to the `Announcer` that announces them."""
        zc, self.zc = self.zc, None
        return zc, self.name

    async def close(self) -> None:
        """Not announcing after all (a chat was found): nothing was on the air but probes."""
        if self.zc is not None:
            zc, self.zc = self.zc, None
            await zc.async_close()


class Announcer:
    def __init__(self, *, name: str, server_id: str, port: int, addresses: list[str],
                 users: int = 0, rooms: int = 0, min_update: float = 2.0,
                 fingerprint: str | None = None, epoch: int = 0, host: str = "",
                 chat: str | None = None, claim: NameClaim | None = None) -> None:
        self.requested = _instance_label(name)
        self._claim = claim  # probed for already (and its zeroconf instance), if given
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
        self._repeats: asyncio.Future[None] | None = None  # the announcement's two repeats
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
        """Register (probing takes ~1.2 s, none for a claimed name); the final name is in
        `instance` afterwards."""
        name = None
        if self._claim is not None:
            self._zc, name = self._claim.take()
        if self._zc is None:
            self._zc, name, self._claim = _zeroconf(self._addresses), None, None
        self._info = self._make_info(name)
        self._registering = asyncio.get_running_loop().create_task(self._register())
        await asyncio.shield(self._registering)
        self._updater = asyncio.get_running_loop().create_task(self._update_loop())

    async def _register(self) -> None:
        assert self._zc is not None and self._info is not None
        try:
            # A claimed name was probed for: it is announced at once.
            repeats = await self._zc.async_register_service(self._info, allow_name_change=True,
                                                            cooperating_responders=self._claim is not None)
        except NonUniqueNameException as exc:
            raise DiscoveryError(f"the name {self.requested!r} is taken on this network") from exc
        self._registered = True
        self._repeats = asyncio.ensure_future(repeats)
        await asyncio.sleep(0)  # the first announcement goes out
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
        if self._repeats is not None and not self._repeats.done():
            try:
                await asyncio.wait_for(asyncio.shield(self._repeats), timeout=2)
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
