"""Browse for PyRTC servers: a live list, added / updated / removed.

Invariants:
- An entry is listed only after a TCP connection to one of its addresses succeeded, and is
  dropped as soon as probes to all of them fail. mDNS alone cannot do this: after a crash a
  browser keeps the PTR record for ~19 minutes (see shared/FACTS.md).
- Entries are merged by the server's id (TXT `id`) and certificate fingerprint (TXT `fp`),
  so a server heard on two interfaces or under two instance names is one entry with all its
  addresses, while another process announcing the same id with its own certificate stays a
  separate entry, marked as a conflict (conflicts.py) instead of hiding the real server.
- A TLS entry lists only addresses that showed its announced certificate when resolved: an
  address record can be spoofed, a certificate cannot.
- zeroconf calls the handler on the event loop; it only schedules work, never blocks.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import ssl
from collections.abc import Callable
from typing import Literal

from zeroconf import IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from .conflicts import Pins, Vouched, mark_conflicts, one_per_chat
from .errors import DiscoveryError
from .interfaces import list_interfaces
from .known import KnownServers
from .records import SERVICE_TYPE, ServerEntry, entry_from_txt

__all__ = ["ServerBrowser", "browse_once", "probe", "showing_certificate", "Change", "find_servers",
           "same_subnet_first", "remembered_pins"]

log = logging.getLogger(__name__)

Change = Literal["added", "updated", "removed"]


def same_subnet_first(addresses: list[str]) -> list[str]:
    """Addresses in one of our interfaces' subnets first (stable otherwise)."""
    nets = []
    for i in list_interfaces():
        try:
            nets.append(ipaddress.ip_network(f"{i.address}/{i.prefix}", strict=False))
        except ValueError:
            pass

    def local(a: str) -> bool:
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            return False
        return any(ip in n for n in nets if not n.is_loopback)

    return sorted(addresses, key=lambda a: not local(a))


async def probe(addresses: list[str], port: int, timeout: float = 1.0) -> list[str]:
    """The addresses that accept a TCP connection on `port` (tried in parallel), those in
    our own subnets first, then in the order they answered."""
    answered: list[str] = []

    async def one(addr: str) -> None:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(addr, port), timeout)
        except (TimeoutError, OSError):
            return
        answered.append(addr)
        writer.close()

    await asyncio.gather(*(one(a) for a in addresses))
    return same_subnet_first(answered)


async def showing_certificate(addresses: list[str], port: int, fingerprint: str,
                              timeout: float = 1.0) -> list[str]:
    """Those of `addresses` (order kept) whose TLS certificate on `port` has this SHA-256
    `fingerprint`, tried in parallel. The handshake alone: nothing is sent to the server."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # no CA on a LAN: the fingerprint is the check

    async def one(addr: str) -> bool:
        try:
            async with asyncio.timeout(timeout):
                _, writer = await asyncio.open_connection(addr, port, ssl=ctx)
        except (TimeoutError, OSError):  # ssl.SSLError is an OSError
            return False
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
        writer.close()
        return der is not None and hashlib.sha256(der).hexdigest() == fingerprint.lower()

    shown = await asyncio.gather(*(one(a) for a in addresses))
    return [a for a, ok in zip(addresses, shown, strict=True) if ok]


def remembered_pins() -> Pins:
    """The fingerprints this user's remembered servers pin, read when asked (they change as
    the user connects)."""
    return lambda server_id: KnownServers().pinned(server_id=server_id)


def remembered_vouched() -> Vouched:
    """The certificates the remembered chats' hosts vouched for (their possible successors)."""
    return lambda server_id: KnownServers().trusted(server_id)


class ServerBrowser:
    def __init__(
        self,
        addresses: list[str],
        *,
        on_change: Callable[[Change, ServerEntry], None] | None = None,
        probe_interval: float = 2.0,
        probe_timeout: float = 1.0,
        pins: Pins | None = None,
        fingerprint: str | None = None,
        warn: bool = True,
    ) -> None:
        """`pins` says which certificate this client trusts for a server id (default: the
        remembered servers'); `fingerprint` is one the user gave (--fingerprint). Both decide
        only between servers claiming one id. `warn` logs each new conflict."""
        self._addresses = addresses
        self.on_change = on_change
        self._pins = pins or remembered_pins()
        self._fingerprint = fingerprint
        self._warn = warn
        self._warned: set[str] = set()
        self._probe_interval = probe_interval
        self._probe_timeout = probe_timeout
        self._zc: AsyncZeroconf | None = None
        self._browser: AsyncServiceBrowser | None = None
        self._instances: dict[str, ServerEntry] = {}  # instance name -> last resolved entry
        self._view: dict[str, ServerEntry] = {}  # server key -> merged entry (what we show)
        self._tasks: set[asyncio.Task[None]] = set()
        self._prober: asyncio.Task[None] | None = None

    @property
    def servers(self) -> list[ServerEntry]:
        return sorted(self._view.values(), key=lambda e: (e.name.casefold(), e.key))

    async def start(self) -> None:
        try:
            self._zc = AsyncZeroconf(interfaces=self._addresses, ip_version=IPVersion.V4Only)
        except OSError as exc:
            raise DiscoveryError(f"cannot browse on {', '.join(self._addresses)}: {exc}") from exc
        self._browser = AsyncServiceBrowser(self._zc.zeroconf, SERVICE_TYPE, handlers=[self._on_state])
        self._prober = asyncio.get_running_loop().create_task(self._probe_loop())

    async def close(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self._browser is not None:
            await self._browser.async_cancel()
        if self._zc is not None:
            await self._zc.async_close()
            self._zc = None

    async def __aenter__(self) -> ServerBrowser:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ zeroconf side

    def _on_state(self, zeroconf: Zeroconf, service_type: str, name: str,
                  state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            if self._instances.pop(name, None) is not None:
                self._publish()
            return
        self._spawn(self._resolve(name))

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _resolve(self, name: str) -> None:
        assert self._zc is not None
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        if not await info.async_request(self._zc.zeroconf, 3000):
            log.debug("could not resolve %s", name)
            return
        addresses = info.parsed_addresses(IPVersion.V4Only)
        if not addresses or info.port is None:
            return
        entry = entry_from_txt(name, addresses, info.port, dict(info.properties))
        alive = await probe(addresses, entry.port, self._probe_timeout)
        if not alive:
            log.info("%s is announced but does not answer on port %d", name, entry.port)
            if self._instances.pop(name, None) is not None:
                self._publish()
            return
        silent = [a for a in addresses if a not in alive]
        if entry.fingerprint:
            shown = await showing_certificate(alive, entry.port, entry.fingerprint, self._probe_timeout)
            if not shown:
                log.warning("%s announces certificate %s… but %s on port %d show another one; not listed",
                            name, entry.fingerprint[:16], ", ".join(alive), entry.port)
                if self._instances.pop(name, None) is not None:
                    self._publish()
                return
            alive = shown  # an address showing another certificate is someone else's
        entry.addresses = alive + silent
        self._instances[name] = entry
        self._publish()

    async def _probe_loop(self) -> None:
        while True:
            await asyncio.sleep(self._probe_interval)
            gone = []
            for name, entry in list(self._instances.items()):
                if not await probe(entry.addresses, entry.port, self._probe_timeout):
                    gone.append(name)
            if gone:
                for name in gone:
                    self._instances.pop(name, None)
                    log.info("%s stopped answering; removed", name)
                self._publish()

    # ------------------------------------------------------------------ merged view

    def _publish(self) -> None:
        merged: dict[str, ServerEntry] = {}
        for entry in self._instances.values():
            have = merged.get(entry.key)
            if have is None:
                merged[entry.key] = ServerEntry(**{**entry.__dict__, "addresses": list(entry.addresses)})
            else:
                have.addresses += [a for a in entry.addresses if a not in have.addresses]
                have.users, have.rooms = entry.users, entry.rooms
        warnings = mark_conflicts(list(merged.values()), self._pins, self._fingerprint, remembered_vouched())
        shown = {id(e) for e in one_per_chat(list(merged.values()))}
        merged = {k: e for k, e in merged.items() if id(e) in shown}
        if self._warn:
            for warning in warnings:
                if warning not in self._warned:
                    log.warning("%s", warning)
        self._warned = set(warnings)
        old, self._view = self._view, merged
        for key, entry in merged.items():
            before = old.get(key)
            if before is None:
                self._emit("added", entry)
            elif before.as_json() != entry.as_json():
                self._emit("updated", entry)
        for key, entry in old.items():
            if key not in merged:
                self._emit("removed", entry)

    def _emit(self, change: Change, entry: ServerEntry) -> None:
        if self.on_change is not None:
            try:
                self.on_change(change, entry)
            except Exception:
                log.error("browse callback failed", exc_info=True)


async def browse_once(addresses: list[str], timeout: float = 1.5, *, pins: Pins | None = None,
                      warn: bool = False) -> list[ServerEntry]:
    """Everything that answers within `timeout` seconds (conflicts marked, see ServerBrowser;
    not logged unless `warn`: callers that list the result say it their own way)."""
    async with ServerBrowser(addresses, pins=pins, warn=warn) as browser:
        await asyncio.sleep(timeout)
        # Resolutions still running get a last short moment (they include a TCP probe).
        if browser._tasks:
            await asyncio.wait(list(browser._tasks), timeout=0.5)
        return browser.servers


async def find_servers(addresses: list[str], timeout: float = 1.5,
                       known: list[ServerEntry] | None = None, *,
                       fingerprint: str | None = None) -> list[ServerEntry]:
    """Discovered servers, then remembered ones that were not discovered (merged by server
    id and certificate, never listed twice), each remembered one probed over TCP for
    `reachable`. Servers claiming one id are marked (conflicts.py), with a warning logged:
    the remembered certificate (or `fingerprint`, the user's --fingerprint) decides which is
    the server."""
    if known is None:
        pins = remembered_pins()
    else:
        pinned = {k.server_id: k.fingerprint for k in known if k.server_id and k.fingerprint}
        pins = pinned.get
    found = await browse_once(addresses, timeout, pins=pins)
    keys = {e.key for e in found}
    ids = {e.server_id for e in found}
    # A remembered entry without a certificate (an --insecure connection) pins nothing: it is
    # the discovered server of its id, not a contender.
    others = [k for k in (known or []) if k.key not in keys and k.addresses
              and (k.fingerprint or k.server_id not in ids)]

    async def check(entry: ServerEntry) -> ServerEntry:
        alive = await probe(entry.addresses, entry.port)
        entry.reachable = bool(alive)
        entry.addresses = alive + [a for a in entry.addresses if a not in alive]
        return entry

    everything = found + list(await asyncio.gather(*(check(e) for e in others)))
    for warning in mark_conflicts(everything, pins, fingerprint, remembered_vouched()):
        log.warning("%s", warning)
    return one_per_chat(everything)
