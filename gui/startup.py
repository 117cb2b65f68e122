"""From the first frame to chatting: a name, a server (given, found, picked or hosted here),
a connection.

Invariants:
- Finding and hosting are pyrtc.discovery's `find_or_host` and `host_server`; this class
  answers find_or_host's questions with the picker, on the client thread, and hears back
  through Background.
- A choice made in the picker ends a search still running (its task is cancelled on the
  client thread), except once it has begun to host: cancelling then would leave half a
  server behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Literal, NoReturn

import dearpygui.dearpygui as dpg

from pyrtc import protocol as p
from pyrtc.client import ClientHandle, ClientSession, IdentityMismatch, parse_address
from pyrtc.client.state import Event
from pyrtc.discovery import (
    AnnouncedServer,
    DiscoveryError,
    KnownServers,
    Launch,
    ServerEntry,
    check_addresses,
    diagnose,
    find_or_host,
    host_server,
    identity_check,
    relocate,
)
from pyrtc.server import DEFAULT_PORT, ServerConfig

from .background import Background
from .dialogs import IdentityWarning, NamePrompt
from .options import GuiOptions
from .picker import Picker
from .theme import Theme

__all__ = ["Startup", "Mode"]

Mode = Literal["starting", "picking", "connecting", "chatting"]
Relocate = Callable[[], Awaitable[tuple[str, int] | None]]


class Startup:
    def __init__(self, opts: GuiOptions, bg: Background, theme: Theme, picker: Picker, name_prompt: NamePrompt,
                 identity: IdentityWarning, show_error: Callable[[str], None]) -> None:
        self.opts = opts
        self._bg = bg
        self._theme = theme
        self._picker = picker
        self._name_prompt = name_prompt
        self._identity = identity
        self._show_error = show_error
        self.mode: Mode = "starting"
        self.me = ""
        self.hosted: AnnouncedServer | None = None
        self._addresses: list[str] = []
        self._search: asyncio.Task[Launch] | None = None  # client thread only
        self._hosting = False  # client thread only
        self._mismatch_of = ("", "")  # server id and name of the last identity refused

    # ------------------------------------------------------------------ GUI thread

    def start(self) -> None:
        name = self.opts.name or self.opts.settings.get("name")
        if self.opts.kiosk and not name:
            name = "kiosk"
        if not name:
            self._name_prompt.ask()
            return
        self.name_chosen(name)

    def name_chosen(self, name: str) -> None:
        try:
            self.me = p.check_name(name.strip())
        except p.ProtocolError as exc:
            self._name_prompt.refuse(str(exc))
            return
        self._name_prompt.close()
        self.opts.settings.set("name", self.me)
        self._bg.handle = ClientHandle(self._make_session)
        if self.opts.server:
            self.connect_to_text(self.opts.server)
        else:
            self._discover()

    def _discover(self) -> None:
        try:
            addrs = check_addresses(self.opts.interfaces)
        except DiscoveryError as exc:
            self.mode = "picking"
            self._picker.say(f"{exc}. Host here, or type an address.")
            self._picker.show()
            return
        self._addresses = addrs
        self.mode = "picking"
        self._bg.run(self._find(addrs), then=self._found, failed=self._not_found)
        if not self.opts.kiosk:
            self._picker.show()

    # The picker's three choices.

    def connect_entry(self, entry: ServerEntry) -> None:
        self._take_over(lambda: self._connect(entry.addresses[0], entry.port, self._relocator(entry)))

    def connect_to_text(self, text: str) -> None:
        try:
            host, port = parse_address(text, DEFAULT_PORT)
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self._take_over(lambda: self._connect(host, port))

    def host_here(self) -> None:
        self._take_over(self._host)

    def _take_over(self, choice: Callable[[], None]) -> None:
        """The user's choice, once a search still running is stopped (ignored while it hosts)."""
        self._bg.run(self._stop_search(), then=lambda stopped: choice() if stopped else None)

    def _host(self) -> None:
        self.mode = "connecting"
        self._picker.say("Starting a server here…")
        self._bg.run(self._start_server(), then=lambda port: self._connect("127.0.0.1", port),
                     failed=lambda exc: self._show_error(f"cannot host here: {exc}"))

    def _found(self, launch: Launch) -> None:
        entry = launch.entry
        self._connect(launch.host, launch.port, self._relocator(entry) if entry is not None else None)

    def _not_found(self, exc: BaseException) -> None:
        self._show_error(f"cannot host here: {exc}" if self._hosting else str(exc))

    def _hosting_started(self) -> None:
        self.mode = "connecting"
        self._picker.say("Starting a server here…")

    def _connect(self, host: str, port: int, relocate_fn: Relocate | None = None) -> None:
        session = self._bg.session
        assert session is not None
        session.host, session.port = host, port
        session.relocate = relocate_fn
        self.mode = "connecting"
        dpg.set_value("status_text", f"connecting to {host}:{port}…")
        self._bg.run(self._join_first(session), then=lambda _: self._connected(),
                     failed=self._not_connected)

    def _connected(self) -> None:
        self.mode = "chatting"
        self._picker.hide()
        if self.opts.kiosk:
            dpg.toggle_viewport_fullscreen()

    def _not_connected(self, exc: BaseException) -> None:
        if isinstance(exc, IdentityMismatch) and not self.opts.kiosk:
            self._identity.warn(self._theme.palette, exc, lambda: self._trust(exc))
            return
        self._show_error(f"could not connect: {exc}")
        if not self.opts.kiosk:
            self.mode = "picking"
            self._picker.say(f"Could not connect: {exc}")
            self._picker.show()

    def _trust(self, exc: IdentityMismatch) -> None:
        """The user accepted the server's new identity: pin it and connect again."""
        session = self._bg.session
        if session is None:
            return
        server_id, name = self._mismatch_of
        KnownServers().trust(server_id=server_id, name=name, host=session.host, port=session.port,
                             fingerprint=exc.seen)
        session.fingerprint = exc.seen
        self._connect(session.host, session.port, session.relocate)

    def _server_config(self) -> ServerConfig:
        cfg = ServerConfig(port=self.opts.port)
        if self.opts.data_dir is not None:
            cfg.data_dir = self.opts.data_dir
        return cfg

    def _relocator(self, entry: ServerEntry) -> Relocate:
        addrs, browse_time = self._addresses, self.opts.browse_time

        async def where() -> tuple[str, int] | None:
            return await relocate(entry, addrs, browse_time)

        return where

    # ------------------------------------------------------------------ client thread

    def _make_session(self, sink: Callable[[Event], None]) -> ClientSession:
        # Made on the client thread; connect() points it at a server.
        return ClientSession("127.0.0.1", 0, self.me, client="pyrtc-gui", on_event=sink,
                             backoff=(0.2, 5.0), reconnect=True, tls=self.opts.tls,
                             fingerprint=self.opts.fingerprint, trust=self._tofu)

    def _tofu(self, seen: str, welcome: p.Greeting) -> None:
        """A known server must show the identity it showed before."""
        session = self._bg.session
        host, port = (session.host, session.port) if session else ("", 0)
        if self.hosted is not None and seen == self.hosted.server.fingerprint:
            KnownServers().trust(server_id=welcome.server_id, name=welcome.server, host=host, port=port,
                                 fingerprint=seen)  # our own server: known first-hand
            return
        self._mismatch_of = (welcome.server_id, welcome.server)  # for "trust the new identity"
        identity_check(host, port)(seen, welcome)

    async def _join_first(self, session: ClientSession) -> None:
        session.fatal = None
        await session.connect()
        KnownServers().remember(server_id=session.state.server_id, name=session.state.server,
                                host=session.host, port=session.port, fingerprint=session.peer_fingerprint or "")
        await session.join(self.opts.room, watch=self.opts.kiosk, password=self.opts.room_password)
        if not self.opts.kiosk:  # the rooms this name was in last time, too
            for other in session.state.joined_rooms:
                if other not in session.state.rooms:
                    await session.join(other)

    async def _start_server(self) -> int:
        self.hosted = await host_server(self._server_config(), self._addresses or None)
        return self.hosted.server.address[1]

    async def _find(self, addrs: list[str]) -> Launch:
        self._search = asyncio.current_task()
        self._hosting = False

        def found(entries: list[ServerEntry]) -> None:
            self._bg.post(lambda: self._picker.list(entries))

        launch = await find_or_host(addresses=addrs, browse_time=self.opts.browse_time, pick=self._pick,
                                    host_if_none=self._confirm, server_config=self._server_config(),
                                    on_found=found)
        self.hosted = launch.hosted or self.hosted  # here, so shutdown closes it even before a frame sees it
        return launch

    async def _pick(self, usable: list[ServerEntry]) -> ServerEntry | None:
        if self.opts.kiosk:
            return usable[0]  # a shared screen never asks (as the terminal's kiosk)
        self._bg.post(lambda: self._picker.say(f"{len(usable)} servers found. Choose one:"))
        await _until_chosen()

    async def _confirm(self) -> bool:
        text = (f"No PyRTC server found on {', '.join(self._addresses)}. Host one here (others on the "
                "network will find it), or type an address.")
        self._bg.post(lambda: self._picker.say(text))
        if self.opts.kiosk or self.opts.host_if_none:
            self._hosting = True
            self._bg.post(self._hosting_started)
            return True
        why = await diagnose(self._addresses)
        self._bg.post(lambda: self._picker.say(text + "\n\nWhy:\n" + "\n".join(f"• {line}" for line in why)))
        await _until_chosen()

    async def _stop_search(self) -> bool:
        """False while the search hosts; else the search is over (or cancelled now)."""
        task = self._search
        if task is None or task.done():
            return True
        if self._hosting:
            return False
        task.cancel()
        return True

    async def shutdown(self) -> None:
        """At exit: end a search, close the server hosted here (its mDNS goodbye)."""
        task = self._search
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=5)
        if self.hosted is not None:
            await self.hosted.close()


async def _until_chosen() -> NoReturn:
    """A question only the picker answers: its choices cancel the search that waits here."""
    await asyncio.Event().wait()
    raise AssertionError("the picker's choice cancels this wait")
