"""The zero-config launch: find a server on the LAN, else host one here.

Used by bare `pyrtc`, `pyrtc client` and the GUI alike; the questions (which server? host
one?) are callbacks, so a window, a terminal prompt or a kiosk (never asks) can answer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pyrtc.client import Alternate
from pyrtc.client.replica import default_replica_root
from pyrtc.client.settings import Settings
from pyrtc.protocol import PROTOCOL_VERSION
from pyrtc.server import ServerConfig

from .announce import NameClaim
from .browse import browse_once, find_servers, probe
from .conflicts import IMPOSTOR
from .errors import DiscoveryError
from .hosting import AnnouncedServer, preload_server
from .known import KnownServers
from .peers import last_roster
from .records import ServerEntry

__all__ = ["LAST_SERVER", "Launch", "chat_servers", "find_or_host", "host_server", "NoServer", "matching", "note_used",
           "used_last"]

log = logging.getLogger(__name__)

#: The settings key of the server the chat (window or terminal) connected to last: a kiosk
#: that finds several servers and is not told which (--pick) takes that one.
LAST_SERVER = "last_server"

Pick = Callable[[list[ServerEntry]], Awaitable[ServerEntry | None]]
Confirm = Callable[[], Awaitable[bool]]
Found = Callable[[list[ServerEntry]], None]


class NoServer(Exception):
    """Nothing found and hosting declined (or not allowed)."""


@dataclass
class Launch:
    host: str
    port: int
    entry: ServerEntry | None = None  # the discovered server we chose
    hosted: AnnouncedServer | None = None  # the server we started, if we host

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


async def find_or_host(
    *,
    addresses: list[str],
    browse_time: float = 1.5,
    pick: Pick,
    host_if_none: bool | Confirm,
    server_config: ServerConfig,
    on_found: Found | None = None,
) -> Launch:
    """One compatible server -> it; several -> `pick`; none -> host one (if allowed).
    Remembered servers that answer over TCP count too (servers beyond the subnet). An
    impostor (another certificate claiming a pinned server's id) is never offered; servers
    that claim one id with nothing pinned are all offered to `pick`, with a warning logged.
    `on_found` sees everything found before the choice, also what is not offered (a window
    lists those greyed out)."""
    # The name this peer would announce is probed for meanwhile (~1.2 s of registering):
    # hosting is then as quick as joining. Nothing is announced before the browse is over.
    claim = NameClaim(server_config.name, addresses) if host_if_none is not False else None
    if host_if_none is not False:
        preload_server()
    claiming = asyncio.ensure_future(claim.probe()) if claim is not None else None
    try:
        launch = await _find_or_host(addresses, browse_time, pick, host_if_none, server_config, on_found,
                                     claim, claiming)
    finally:
        if claiming is not None:
            claiming.cancel()
        if claim is not None:
            await claim.close()  # not handed to the announcer: nothing but probes went out
    return launch


async def _find_or_host(addresses: list[str], browse_time: float, pick: Pick, host_if_none: bool | Confirm,
                        server_config: ServerConfig, on_found: Found | None, claim: NameClaim | None,
                        claiming: asyncio.Future[None] | None) -> Launch:
    found = await find_servers(addresses, browse_time, KnownServers().entries())
    if on_found is not None:
        on_found(found)
    usable = [e for e in found if e.compatible and e.reachable]
    for e in found:
        if not e.compatible and e.conflict != IMPOSTOR:  # find_servers has warned of impostors
            log.warning("%s speaks protocol version %d; not offered", e.name, e.version)
    chosen: ServerEntry | None = None
    if len(usable) == 1:
        chosen = usable[0]
    elif len(usable) > 1:
        chosen = await pick(usable)
    if chosen is not None:
        return Launch(chosen.addresses[0], chosen.port, entry=chosen)
    # Nothing heard on the network: a chat this peer belongs to may still be hosted by a peer
    # of its last roster (a discovery window missed, a returning host): never a second chat.
    chosen = await roster_host(addresses)
    if chosen is not None:
        return Launch(chosen.addresses[0], chosen.port, entry=chosen)
    allowed = host_if_none if isinstance(host_if_none, bool) else await host_if_none()
    if not allowed:
        raise NoServer("no PyRTC server found on " + ", ".join(addresses))
    if claiming is not None:
        try:
            await claiming
        except (DiscoveryError, OSError) as exc:
            log.info("probing for our name failed (%s); registering probes again", exc)
            claim = None
    hosted = await host_server(server_config, addresses, claim=claim)
    return Launch("127.0.0.1", hosted.server.address[1], hosted=hosted)


async def host_server(server_config: ServerConfig, addresses: list[str] | None, *,
                      claim: NameClaim | None = None) -> AnnouncedServer:
    """A server started here, announced on `addresses` (None: not announced). A busy port
    falls back to a free one, so a second PyRTC on this machine still hosts. `claim`: its
    name, probed for already."""
    hosted = AnnouncedServer(server_config, addresses, claim=claim)
    try:
        await hosted.start()
    except OSError:
        if server_config.port == 0:
            raise
        log.info("port %d is busy; hosting on a free port", server_config.port)
        hosted.server.store.close()
        server_config.port = 0
        hosted = AnnouncedServer(server_config, addresses, claim=claim)
        await hosted.start()
    log.info("hosting %r on port %d", hosted.instance, hosted.server.address[1])
    return hosted


async def roster_host(addresses: list[str]) -> ServerEntry | None:
    """The host of a chat we belong to, found by probing its last roster's peers over TCP."""
    root = default_replica_root()
    try:
        chats = [d.name for d in root.iterdir() if (d / "roster.json").is_file()]
    except OSError:
        return None
    for chat_id in chats:
        roster = last_roster(chat_id, root)
        if roster is None:
            continue
        for info in sorted(roster.peers, key=lambda i: i.node != roster.host):
            alive = await probe(info.addresses, info.port) if info.addresses and info.port else []
            if alive and not set(alive) & set(addresses):  # not ourselves
                return ServerEntry(instance="", name=chat_id[:12], server_id=chat_id, addresses=alive,
                                   port=info.port, version=PROTOCOL_VERSION, source="remembered",
                                   properties={"fp": info.fingerprint} if info.fingerprint else {})
    return None


def matching(entries: list[ServerEntry], pick: str) -> list[ServerEntry]:
    """The entries `pick` names: whole names (any case) first, else names it begins, else
    names it is part of; 6 or more leading digits of a server id count as its name."""
    want = pick.strip().casefold()

    def names(e: ServerEntry) -> set[str]:
        short = e.instance.split("._pyrtc._tcp", 1)[0]
        return {n.casefold() for n in (e.name, short) if n}

    exact = [e for e in entries if want in names(e) or (len(want) >= 6 and e.server_id.startswith(want))]
    if exact:
        return exact
    starts = [e for e in entries if any(n.startswith(want) for n in names(e))]
    return starts or [e for e in entries if any(want in n for n in names(e))]


def used_last(entries: list[ServerEntry], settings: Settings) -> ServerEntry | None:
    """The server among `entries` that the chat used last: by its id (names identify nothing),
    only when exactly one entry is it and none contests its id."""
    last = settings.get(LAST_SERVER)
    mine = [e for e in entries if last and e.server_id == last and not e.conflict]
    return mine[0] if len(mine) == 1 else None


def note_used(settings: Settings, server_id: str) -> None:
    """The chat is connected to the server `server_id`: the one a kiosk takes next time."""
    if server_id:
        settings.set(LAST_SERVER, server_id)


async def chat_servers(entry: ServerEntry, addresses: list[str], browse_time: float = 1.5) -> list[Alternate]:
    """The servers announcing `entry`'s chat (a cluster) now, with the certificates they
    announce; impostors and other protocol versions left out."""
    if not entry.chat:
        return []
    return [Alternate(e.addresses[0], e.port, e.fingerprint) for e in await browse_once(addresses, browse_time)
            if e.chat == entry.chat and e.compatible and not e.conflict and e.addresses]


async def relocate(entry: ServerEntry, addresses: list[str], browse_time: float = 1.5) -> tuple[str, int] | None:
    """Where the server with `entry`'s id and certificate is now (it may have come back on
    another port); never a server that merely claims its id."""
    alive = await probe(entry.addresses, entry.port)
    if alive:
        return alive[0], entry.port
    for e in await browse_once(addresses, browse_time):
        if e.key == entry.key:
            return e.addresses[0], e.port
    return None
