"""The PyRTC window: Dear PyGui on the main thread, the client session on its own thread.

Invariants:
- The frame loop never waits on the network or the disk: commands go to the client thread
  through `ClientHandle.submit`, events come back through its queue and are applied to
  this window's own ChatState once per frame.
- Views redraw only what changed (room/state versions); the message list holds at most
  the newest `PAGE` rows plus what the user scrolled back to, never a whole 10,000-row room.
- Colours come from the palette (themes are data).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
import platformdirs

from pyrtc import protocol as p
from pyrtc.client import ChatState, ClientHandle, ClientSession, IdentityMismatch, MessageView, Rejected
from pyrtc.client.settings import Settings
from pyrtc.client.state import Connected, Disconnected, Event
from pyrtc.discovery import (
    AnnouncedServer,
    DiscoveryError,
    KnownServers,
    ServerBrowser,
    ServerEntry,
    check_addresses,
    diagnose,
    identity_check,
    probe,
    relocate,
)
from pyrtc.filenames import free_path
from pyrtc.protocol.codes import ErrorCode
from pyrtc.server import DEFAULT_PORT, ServerConfig
from pyrtc.units import human_size

from .avatar import avatar_color, initials
from .images import rgba_texture
from .palette import PALETTES, Palette
from .tones import TonePlayer

__all__ = ["ChatWindow", "GuiOptions", "run_gui", "ASSETS"]

log = logging.getLogger(__name__)

ASSETS = Path(str(files("pyrtc.assets")))
PAGE = 200  # rows built when a room is shown; older ones come as the user scrolls up
REACTIONS = ["👍", "❤", "😂", "🎉", "😮", "😢"]


@dataclass
class GuiOptions:
    server: str | None = None
    name: str | None = None
    room: str = "General"
    room_password: str = ""  # for `room`, if it is locked
    kiosk: bool = False
    interfaces: list[str] | None = None
    browse_time: float = 1.5
    host_if_none: bool = False
    data_dir: Path | None = None
    port: int = DEFAULT_PORT
    settings: Settings = field(default_factory=Settings)
    width: int = 1100
    height: int = 720
    on_frame: Callable[[ChatWindow], None] | None = None  # tests drive the window through this
    tls: bool = True
    fingerprint: str | None = None


@dataclass
class _Row:
    seq: int
    group: int | str
    status: int | str | None = None
    reactions: int | str | None = None
    sig: tuple[Any, ...] = ()


class ChatWindow:
    def __init__(self, opts: GuiOptions) -> None:
        self.opts = opts
        self.state = ChatState()
        self.handle: ClientHandle | None = None
        self.hosted: AnnouncedServer | None = None
        self.browser: ServerBrowser | None = None
        self.palette: Palette = PALETTES.get(opts.settings.get("theme", "dark"), PALETTES["dark"])
        self.tones = TonePlayer(muted=bool(opts.settings.get("muted", False)))
        self.current: str | None = None
        self.frame = 0
        self.frame_times: list[float] = []
        self._rows: dict[int, _Row] = {}
        self._drawn_room: str | None = None
        self._drawn_version = -1
        self._oldest_built = 0
        self._sidebar_version = -1
        self._textures: dict[str, str] = {}  # blob id -> texture tag
        self._thumbs_wanted: set[str] = set()
        self._pending: list[concurrent.futures.Future[Any]] = []
        self._read_sent: dict[str, int] = {}
        self._typing_sent = 0.0
        self._stick_bottom = True
        self.mode = "starting"  # starting -> picking -> connecting -> chatting
        self.picker_entries: list[ServerEntry] = []
        self.notice = ""
        self.me = ""
        self.addresses: list[str] = []
        self.browse_started = 0.0
        self._picked = False
        # Results that arrive on the client thread, taken over by the frame loop.
        self._after_host: concurrent.futures.Future[tuple[str, int]] | None = None
        self._connect_done: concurrent.futures.Future[None] | None = None
        self._late_error: str | None = None
        self._joining: tuple[str, concurrent.futures.Future[Any]] | None = None  # room, join
        self._password_room: str | None = None  # the room the password prompt is for
        self._hits: concurrent.futures.Future[list[p.Posted]] | None = None
        self._thumb_queue: list[tuple[str, bytes]] = []
        self._wheel_at = 0.0
        self._loading_older = False
        self._remembered_future: concurrent.futures.Future[list[ServerEntry]] | None = None
        self._mismatch_of = ("", "")
        self._jump_to: int | None = None
        self._reasons_future: concurrent.futures.Future[list[str]] | None = None

    # ------------------------------------------------------------------ setup

    def build(self) -> None:
        dpg.create_context()
        dpg.configure_app(manual_callback_management=True)
        with dpg.font_registry():
            size = 26 if self.opts.kiosk else 17
            # DejaVu: text, accents, ✓ ●; Symbola: emoji (Dear PyGui 2 loads glyph ranges itself).
            self.font = dpg.add_font(str(ASSETS / "fonts" / "DejaVuSans.ttf"), size)
            self.bold = dpg.add_font(str(ASSETS / "fonts" / "DejaVuSans-Bold.ttf"), size)
            self.emoji = dpg.add_font(str(ASSETS / "fonts" / "Symbola.ttf"), size + 6)
        dpg.bind_font(self.font)
        with dpg.texture_registry(tag="textures"):
            pass
        dpg.create_viewport(title="PyRTC", width=self.opts.width, height=self.opts.height,
                            min_width=800, min_height=600)
        self._build_main()
        self._build_picker()
        self._build_name_prompt()
        self.apply_theme()
        dpg.setup_dearpygui()

    def _build_main(self) -> None:
        with dpg.window(tag="main", no_scrollbar=True):
            with dpg.group(horizontal=True, tag="topbar"):
                dpg.add_text("●", tag="status_dot")
                dpg.add_text("starting…", tag="status_text")
                dpg.add_spacer(width=20)
                dpg.add_input_text(tag="search", hint="search this room", width=220, on_enter=True,
                                   callback=lambda s, a: self.search(a))
                dpg.add_button(label="Light", tag="theme_button", callback=lambda: self.toggle_theme())
                dpg.add_button(label="Mute", tag="mute_button", callback=lambda: self.toggle_mute())
            with dpg.group(horizontal=True, tag="body"):
                with dpg.child_window(tag="rooms_panel", width=210):
                    dpg.add_text("Rooms", tag="rooms_title")
                    dpg.add_group(tag="rooms_list")
                    dpg.add_separator()
                    dpg.add_input_text(tag="new_room", hint="new room", width=-1, on_enter=True,
                                       callback=lambda s, a: self.create_room(a))
                    dpg.add_input_text(tag="new_room_password", hint="its password (optional)", width=-1,
                                       password=True, on_enter=True,
                                       callback=lambda: self.create_room(dpg.get_value("new_room")))
                    dpg.add_text("Other rooms", color=self.palette.muted, tag="other_title")
                    dpg.add_group(tag="other_rooms")
                    dpg.add_separator()
                    dpg.add_group(tag="transfers")
                    dpg.add_group(tag="search_hits")
                with dpg.group(tag="center"):
                    dpg.add_text("", tag="room_title")
                    with dpg.child_window(tag="messages", height=-78, width=-200, border=False):
                        dpg.add_button(label="Load older messages", tag="older", show=False,
                                       callback=lambda: self.load_older())
                        dpg.add_group(tag="rows")
                    dpg.add_text("", tag="typing_line")
                    with dpg.group(horizontal=True, tag="composer"):
                        dpg.add_input_text(tag="input", hint="Write a message…", width=-350, on_enter=True,
                                           callback=lambda s, a: self.send_input())
                        dpg.add_button(label="Send", callback=lambda: self.send_input())
                        dpg.add_button(label="Attach", callback=lambda: dpg.show_item("file_dialog"))
                with dpg.child_window(tag="members_panel", width=190):
                    dpg.add_text("Members", tag="members_title")
                    dpg.add_group(tag="members_list")
        with dpg.handler_registry():
            dpg.add_mouse_wheel_handler(callback=lambda s, a: self._wheel(a))
        with dpg.file_dialog(tag="file_dialog", show=False, width=640, height=420,
                             callback=lambda s, a: self.attach(a.get("file_path_name", ""))):
            dpg.add_file_extension(".*")
        with dpg.window(tag="viewer", label="Picture", show=False, modal=True, width=700, height=560):
            dpg.add_group(tag="viewer_body")
        dpg.set_primary_window("main", True)
        if self.opts.kiosk:
            for tag in ("rooms_panel", "members_panel", "composer", "search", "theme_button", "mute_button"):
                dpg.hide_item(tag)
            dpg.configure_item("messages", height=-40, width=-1)

    def _build_picker(self) -> None:
        with dpg.window(tag="picker", label="Choose a PyRTC server", show=False, modal=True,
                        no_close=True, width=560, height=380, pos=(260, 140)):
            dpg.add_text("Looking for PyRTC servers on this network…", tag="picker_status", wrap=520)
            dpg.add_group(tag="picker_list")
            dpg.add_separator()
            dpg.add_button(label="Host here", tag="host_button", callback=lambda: self.host_here())
            dpg.add_text("or type an address:", color=self.palette.muted)
            with dpg.group(horizontal=True):
                dpg.add_input_text(tag="manual_address", hint="host:port", width=300, on_enter=True,
                                   callback=lambda s, a: self.connect_to_text(a))
                dpg.add_button(label="Connect", callback=lambda: self.connect_to_text(dpg.get_value("manual_address")))

    def _identity_warning(self, exc: IdentityMismatch) -> None:
        """The user must accept a changed server identity explicitly; nothing was sent."""
        session = self.handle.session if self.handle else None
        dpg.delete_item("identity_body", children_only=True)
        dpg.add_text("WARNING: this server's identity changed", parent="identity_body", color=self.palette.error)
        dpg.add_text(str(exc), parent="identity_body", wrap=560)

        def accept() -> None:
            dpg.hide_item("identity")
            if session is not None:
                server_id, name = self._mismatch_of
                KnownServers().trust(server_id=server_id, name=name,
                                     host=session.host, port=session.port, fingerprint=exc.seen)
                session.fingerprint = exc.seen
                self._connect(session.host, session.port, session.relocate)

        with dpg.group(horizontal=True, parent="identity_body"):
            dpg.add_button(label="Do not connect", callback=lambda: dpg.hide_item("identity"))
            dpg.add_button(label="I trust the new identity", callback=accept)
        dpg.show_item("identity")

    def _build_name_prompt(self) -> None:
        with dpg.window(tag="room_password", label="Room password", show=False, modal=True,
                        width=420, height=170, pos=(340, 200)):
            dpg.add_text("", tag="room_password_text")
            dpg.add_input_text(tag="room_password_input", width=-1, password=True, on_enter=True,
                               callback=lambda: self.join_with_password())
            dpg.add_text("", tag="room_password_error", color=self.palette.error)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Join", callback=lambda: self.join_with_password())
                dpg.add_button(label="Cancel", callback=lambda: dpg.hide_item("room_password"))
        with dpg.window(tag="identity", label="Server identity changed", show=False, modal=True,
                        no_close=True, width=600, height=300, pos=(240, 160)):
            dpg.add_group(tag="identity_body")
        with dpg.window(tag="name_prompt", label="Welcome to PyRTC", show=False, modal=True, no_close=True,
                        width=420, height=170, pos=(340, 200)):
            dpg.add_text("What name should others see?")
            dpg.add_input_text(tag="name_input", width=-1, on_enter=True,
                               callback=lambda s, a: self.name_chosen(a))
            dpg.add_text("", tag="name_error", color=self.palette.error)
            dpg.add_button(label="Start", callback=lambda: self.name_chosen(dpg.get_value("name_input")))

    # ------------------------------------------------------------------ theme

    def apply_theme(self) -> None:
        pal = self.palette
        with dpg.theme() as theme:
            with dpg.theme_component(dpg.mvAll):
                for target, colour in (
                    (dpg.mvThemeCol_WindowBg, pal.bg), (dpg.mvThemeCol_ChildBg, pal.bg),
                    (dpg.mvThemeCol_PopupBg, pal.panel), (dpg.mvThemeCol_Text, pal.text),
                    (dpg.mvThemeCol_FrameBg, pal.panel), (dpg.mvThemeCol_Button, pal.panel),
                    (dpg.mvThemeCol_ButtonHovered, pal.accent), (dpg.mvThemeCol_ButtonActive, pal.accent),
                    (dpg.mvThemeCol_Header, pal.accent), (dpg.mvThemeCol_HeaderHovered, pal.accent),
                    (dpg.mvThemeCol_TitleBg, pal.panel), (dpg.mvThemeCol_TitleBgActive, pal.accent),
                    (dpg.mvThemeCol_Border, pal.panel), (dpg.mvThemeCol_PlotHistogram, pal.accent),
                    (dpg.mvThemeCol_ScrollbarBg, pal.bg), (dpg.mvThemeCol_TextDisabled, pal.muted),
                ):
                    dpg.add_theme_color(target, colour, category=dpg.mvThemeCat_Core)
                dpg.add_theme_style(dpg.mvStyleVar_FrameRounding, 4, category=dpg.mvThemeCat_Core)
                dpg.add_theme_style(dpg.mvStyleVar_ChildRounding, 6, category=dpg.mvThemeCat_Core)
        with dpg.theme() as panel_theme:
            with dpg.theme_component(dpg.mvAll):
                dpg.add_theme_color(dpg.mvThemeCol_ChildBg, pal.panel, category=dpg.mvThemeCat_Core)
        dpg.bind_theme(theme)
        for tag in ("rooms_panel", "members_panel"):
            dpg.bind_item_theme(tag, panel_theme)
        dpg.configure_item("theme_button", label="Dark" if pal.name == "light" else "Light")
        self._drawn_version = -1  # names and marks take palette colours: redraw
        self._drawn_room = None
        self._sidebar_version = -1

    def toggle_theme(self) -> None:
        self.palette = PALETTES["light" if self.palette.name == "dark" else "dark"]
        self.opts.settings.set("theme", self.palette.name)
        self.apply_theme()

    def toggle_mute(self) -> None:
        self.tones.muted = not self.tones.muted
        self.opts.settings.set("muted", self.tones.muted)
        dpg.configure_item("mute_button", label="Unmute" if self.tones.muted else "Mute")

    # ------------------------------------------------------------------ launch flow

    def start(self) -> None:
        name = self.opts.name or self.opts.settings.get("name")
        if self.opts.kiosk and not name:
            name = "kiosk"
        if not name:
            dpg.show_item("name_prompt")
            dpg.focus_item("name_input")
            return
        self.name_chosen(name)

    def name_chosen(self, name: str) -> None:
        try:
            self.me = p.check_name(name.strip())
        except p.ProtocolError as exc:
            dpg.set_value("name_error", str(exc))
            return
        dpg.hide_item("name_prompt")
        self.opts.settings.set("name", self.me)
        self.handle = ClientHandle(self._make_session)
        if self.opts.server:
            self.connect_to_text(self.opts.server)
        else:
            self.begin_discovery()

    def _make_session(self, sink: Callable[[Event], None]) -> ClientSession:
        # The session is made on the client thread; it is re-pointed at a server by connect().
        return ClientSession("127.0.0.1", 0, self.me, client="pyrtc-gui", on_event=sink,
                             backoff=(0.2, 5.0), reconnect=True, tls=self.opts.tls,
                             fingerprint=self.opts.fingerprint, trust=self._tofu)

    def _tofu(self, seen: str, welcome: p.Greeting) -> None:
        """Runs on the client thread: a known server must show the identity it showed before."""
        session = self.handle.session if self.handle else None
        host, port = (session.host, session.port) if session else ("", 0)
        if self.hosted is not None and seen == self.hosted.server.fingerprint:
            KnownServers().trust(server_id=welcome.server_id, name=welcome.server, host=host, port=port,
                                 fingerprint=seen)  # our own server: known first-hand
            return
        self._mismatch_of = (welcome.server_id, welcome.server)  # for "trust the new identity"
        identity_check(host, port)(seen, welcome)

    def begin_discovery(self) -> None:
        assert self.handle is not None
        try:
            addrs = check_addresses(self.opts.interfaces)
        except DiscoveryError as exc:
            self.mode = "picking"
            dpg.set_value("picker_status", f"{exc}. Host here, or type an address.")
            dpg.show_item("picker")
            return
        self.addresses = addrs
        self.mode = "picking"
        self.browse_started = time.monotonic()

        async def start_browser() -> ServerBrowser:
            browser = ServerBrowser(addrs)
            await browser.start()
            return browser

        async def check_remembered() -> list[ServerEntry]:
            entries = KnownServers().entries()
            for e in entries:
                alive = await probe(e.addresses, e.port)
                e.reachable = bool(alive)
                e.addresses = alive + [a for a in e.addresses if a not in alive]
            return entries

        async def reasons() -> list[str]:
            await asyncio.sleep(self.opts.browse_time)
            return await diagnose(addrs)

        self._pending.append(self.handle.submit(start_browser()))
        self._remembered_future = self.handle.submit(check_remembered())
        self._reasons_future = self.handle.submit(reasons())
        if not self.opts.kiosk:
            dpg.show_item("picker")

    def _picker_tick(self) -> None:
        for fut in list(self._pending):
            if fut.done():
                self._pending.remove(fut)
                result = fut.exception() or fut.result()
                if isinstance(result, ServerBrowser):
                    self.browser = result
                elif isinstance(result, BaseException):
                    self.show_error(f"{result}")
        if self.mode != "picking" or self.browser is None:
            return
        entries = [e for e in self.browser.servers]
        remembered = self._remembered_future
        if remembered is not None and remembered.done() and remembered.exception() is None:
            keys = {e.key for e in entries}
            entries += [e for e in remembered.result() if e.key not in keys]  # never twice
        usable = [e for e in entries if e.compatible]
        waited = time.monotonic() - self.browse_started
        if [e.as_json() for e in entries] != [e.as_json() for e in self.picker_entries]:
            self.picker_entries = entries
            dpg.delete_item("picker_list", children_only=True)
            for e in entries:
                label = f"{e.name}  —  {e.users} online, {e.rooms} rooms, {e.addresses[0]}:{e.port}"
                if e.source == "remembered":
                    label = f"{e.name}  —  {e.addresses[0]}:{e.port}, remembered, " + (
                        "reachable" if e.reachable else "unreachable")
                if not e.reachable:
                    dpg.add_text(label, parent="picker_list", color=self.palette.muted)
                elif not e.compatible:
                    dpg.add_text(label + f"  (protocol {e.version}: incompatible)", parent="picker_list",
                                 color=self.palette.muted)
                else:
                    dpg.add_button(label=label, parent="picker_list", width=-1,
                                   callback=lambda s, a, u: self.connect_entry(u), user_data=e)
        if waited >= self.opts.browse_time:
            if len(usable) == 1 and not self._picked:
                self.connect_entry(usable[0])
            elif not usable:
                where = ", ".join(self.addresses)
                text = (f"No PyRTC server found on {where}. Host one here (others on the network "
                        "will find it), or type an address.")
                why = self._reasons_future
                if why is not None and why.done() and why.exception() is None:
                    text += "\n\nWhy:\n" + "\n".join(f"• {line}" for line in why.result())
                dpg.set_value("picker_status", text)
                if self.opts.kiosk or self.opts.host_if_none:
                    self.host_here()
            else:
                dpg.set_value("picker_status", f"{len(usable)} servers found. Choose one:")

    def connect_entry(self, entry: ServerEntry) -> None:
        self._picked = True
        addrs = self.addresses

        async def where() -> tuple[str, int] | None:
            return await relocate(entry, addrs, self.opts.browse_time)

        self._connect(entry.addresses[0], entry.port, relocate_fn=where)

    def connect_to_text(self, text: str) -> None:
        from pyrtc.client import parse_address

        try:
            host, port = parse_address(text, DEFAULT_PORT)
        except ValueError as exc:
            self.show_error(str(exc))
            return
        self._connect(host, port)

    def host_here(self) -> None:
        assert self.handle is not None
        self._picked = True
        cfg = ServerConfig(port=self.opts.port)
        if self.opts.data_dir is not None:
            cfg.data_dir = self.opts.data_dir
        addrs = self.addresses or None

        async def host() -> tuple[str, int]:
            hosted = AnnouncedServer(cfg, addrs)
            try:
                _, port = await hosted.start()
            except OSError:
                hosted.server.store.close()
                cfg.port = 0
                hosted = AnnouncedServer(cfg, addrs)
                _, port = await hosted.start()
            self.hosted = hosted
            return "127.0.0.1", port

        self._after_host = self.handle.submit(host())  # the frame loop connects when it is up
        self.mode = "connecting"
        dpg.set_value("picker_status", "Starting a server here…")

    def _connect(self, host: str, port: int, relocate_fn: Any = None) -> None:
        assert self.handle is not None
        session = self.handle.session
        session.host, session.port = host, port
        session.relocate = relocate_fn
        self.mode = "connecting"
        dpg.set_value("status_text", f"connecting to {host}:{port}…")
        room = self.opts.room

        async def go() -> None:
            if self.browser is not None:
                await self.browser.close()
            session.fatal = None
            await session.connect()
            KnownServers().remember(server_id=session.state.server_id, name=session.state.server,
                                    host=session.host, port=session.port,
                                    fingerprint=session.peer_fingerprint or "")
            await session.join(room, watch=self.opts.kiosk, password=self.opts.room_password)
            if not self.opts.kiosk:  # the rooms this name was in last time, too
                for other in session.state.joined_rooms:
                    if other not in session.state.rooms:
                        await session.join(other)

        self._connect_done = self.handle.submit(go())  # the frame loop looks at it

    # ------------------------------------------------------------------ commands (never block)

    def submit(self, coro: Any) -> None:
        if self.handle is None:
            coro.close()
            return
        fut = self.handle.submit(coro)
        fut.add_done_callback(self._report)

    def _report(self, fut: concurrent.futures.Future[Any]) -> None:
        exc = fut.exception()
        if exc is not None:
            self._late_error = str(exc)

    def send_input(self) -> None:
        text = dpg.get_value("input").strip()
        if not text or self.current is None or self.handle is None:
            return
        dpg.set_value("input", "")
        self._stick_bottom = True
        self.submit(self.handle.session.send(self.current, text, timeout=None))
        dpg.focus_item("input")

    def create_room(self, name: str) -> None:
        name = name.strip()
        if not name or self.handle is None:
            return
        try:
            p.check_room(name)
        except p.ProtocolError as exc:
            self.show_error(str(exc))
            return
        password = dpg.get_value("new_room_password")
        dpg.set_value("new_room", "")
        dpg.set_value("new_room_password", "")
        self.submit(self.handle.session.create_room(name, password=password))
        self.current = name

    def join_room(self, name: str) -> None:
        if self.handle is None:
            return
        info = next((r for r in self.state.available if r.name == name), None)
        if info is not None and info.locked and name not in self.state.joined_rooms:
            # Ask first: a try without the password would count as a wrong one (and slow the next).
            self._ask_room_password(name, "")
            return
        self._join(name, "")

    def _join(self, name: str, password: str) -> None:
        assert self.handle is not None
        self._joining = (name, self.handle.submit(self.handle.session.join(name, password=password)))

    def _ask_room_password(self, name: str, error: str) -> None:
        self._password_room = name
        dpg.set_value("room_password_text", f"# {name} needs its password.")
        dpg.set_value("room_password_error", error)
        dpg.set_value("room_password_input", "")
        dpg.show_item("room_password")
        dpg.focus_item("room_password_input")

    def join_with_password(self) -> None:
        if self._password_room is None or self.handle is None:
            return
        dpg.set_value("room_password_error", "checking…")
        self._join(self._password_room, dpg.get_value("room_password_input"))

    def _joined(self, name: str, fut: concurrent.futures.Future[Any]) -> None:
        """A join finished: show the room, or ask (again) for its password."""
        exc = fut.exception()
        if exc is None:
            self.current = name
            self._stick_bottom = True
            if self._password_room == name:
                self._password_room = None
                dpg.hide_item("room_password")
        elif isinstance(exc, Rejected) and exc.code == ErrorCode.WRONG_PASSWORD:
            self._ask_room_password(name, "That is not its password." if self._password_room == name
                                    and dpg.get_value("room_password_input") else "")
        else:
            self.show_error(str(exc))

    def leave_room(self, name: str) -> None:
        if self.handle is not None:
            self.submit(self.handle.session.leave(name))
            if self.current == name:
                self.current = None

    def _wheel(self, delta: float) -> None:
        """Scrolling up over the messages stops following the newest one."""
        if delta > 0 and dpg.is_item_hovered("messages"):
            self._stick_bottom = False
            self._wheel_at = time.monotonic()

    def switch_room(self, name: str) -> None:
        self.current = name
        self._stick_bottom = True

    def react(self, seq: int, emoji: str) -> None:
        if self.handle is None or self.current is None:
            return
        view = self.state.rooms.get(self.current)
        msg = view.by_seq.get(seq) if view else None
        on = not (msg and self.state.me in msg.reactions.get(emoji, set()))
        self.submit(self.handle.session.react(self.current, seq, emoji, on))

    def attach(self, path: str) -> None:
        if path and self.handle is not None and self.current is not None and Path(path).is_file():
            self.submit(self.handle.session.upload(self.current, Path(path)))

    def download(self, info: p.FileInfo) -> None:
        if self.handle is None:
            return
        folder = Path(platformdirs.user_downloads_dir())
        folder.mkdir(parents=True, exist_ok=True)
        target = free_path(folder, info.name)
        self.submit(self.handle.session.download(info.blob_id, target, name=info.name))

    def load_older(self) -> None:
        if self.handle is not None and self.current is not None:
            self._oldest_built = 0
            self.submit(self.handle.session.load_older(self.current))

    def search(self, query: str) -> None:
        if not query.strip() or self.handle is None or self.current is None:
            return
        self._hits = self.handle.submit(self.handle.session.search(self.current, query.strip()))

    def show_error(self, text: str) -> None:
        self.notice = text
        dpg.set_value("status_text", text)

    # ------------------------------------------------------------------ per frame

    def tick(self) -> None:
        """Everything one frame does besides drawing: events in, views updated."""
        if self.handle is not None:
            for event in self.handle.drain_events():
                self._on_event(event)
        if self.mode == "picking":
            self._picker_tick()
        after_host = self._after_host
        if after_host is not None and after_host.done():
            self._after_host = None
            if after_host.exception() is not None:
                self.show_error(f"cannot host here: {after_host.exception()}")
            else:
                self._connect(*after_host.result())
        done = self._connect_done
        if done is not None and done.done():
            self._connect_done = None
            result = done.exception()
            if result is None:
                self.mode = "chatting"
                dpg.hide_item("picker")
                if self.opts.kiosk:
                    dpg.toggle_viewport_fullscreen()
            elif isinstance(result, IdentityMismatch) and not self.opts.kiosk:
                self._identity_warning(result)
            else:
                self.show_error(f"could not connect: {result}")
                if not self.opts.kiosk:
                    self.mode = "picking"
                    self.browse_started = time.monotonic() - self.opts.browse_time
                    dpg.set_value("picker_status", f"Could not connect: {result}")
                    dpg.show_item("picker")
        late = self._late_error
        if late:
            self._late_error = None
            self.show_error(late)
        joining = self._joining
        if joining is not None and joining[1].done():
            self._joining = None
            self._joined(*joining)
        hits = self._hits
        if hits is not None and hits.done():
            self._hits = None
            self._show_hits(hits)
        if self.mode == "chatting":
            self._render()

    def _on_event(self, event: Event) -> None:
        self.state.apply(event)
        match event:
            case p.Posted() if event.sender != self.state.me:
                mention = f"@{self.state.me}".casefold() in event.text.casefold()
                if mention:
                    self.tones.play("mention")
                elif event.room != self.current:
                    self.tones.play("message")
            case p.MembersChanged() if any(m.name != self.state.me for m in event.joined):
                self.tones.play("join")
            case p.Joined() if self.current is None or self.current == event.room:
                self.current = event.room
            case Disconnected() | Connected():
                self._sidebar_version = -1
            case _:
                pass

    # ------------------------------------------------------------------ drawing

    def _render(self) -> None:
        pal = self.palette
        st = self.state
        dot = {"connected": pal.ok, "reconnecting": pal.warn, "connecting": pal.warn}.get(st.connection, pal.error)
        dpg.configure_item("status_dot", color=dot)
        mode = "host mode" if self.hosted is not None else st.connection
        where = f"{st.server} ({st.address})" if st.server else st.address
        status = f"{mode} — {where} — you are {st.me}"
        if st.notice:
            status += f" — {st.notice}"
        dpg.set_value("status_text", status)
        if self.current not in st.rooms and st.rooms:
            self.current = next(iter(st.rooms))
        if st.version != self._sidebar_version:
            self._sidebar_version = st.version
            self._render_sidebars()
        room = st.rooms.get(self.current) if self.current else None
        if room is None:
            return
        dpg.set_value("typing_line", st.typing_line(room.name))
        dpg.configure_item("typing_line", color=pal.muted)
        if self._drawn_room != room.name or self._drawn_version != room.version:
            self._render_messages(room.name)
        self._report_read(room.name)
        self._keep_typing_state()

    def _render_sidebars(self) -> None:
        st, pal = self.state, self.palette
        dpg.delete_item("rooms_list", children_only=True)
        for name in st.rooms:
            unread = st.unread(name)
            label = f"# {name}" + (f"  ({unread})" if unread else "")
            dpg.add_selectable(label=label, parent="rooms_list", default_value=name == self.current,
                               callback=lambda s, a, u: self.switch_room(u), user_data=name)
        dpg.delete_item("other_rooms", children_only=True)
        for info in st.available:
            if info.name not in st.rooms:
                with dpg.group(horizontal=True, parent="other_rooms", horizontal_spacing=2):
                    if info.locked:  # the lock in Symbola, the label in the UI font
                        dpg.bind_item_font(dpg.add_text("🔒", color=pal.muted), self.emoji)
                    dpg.add_button(label=f"join # {info.name} ({info.online} online)", width=-1,
                                   callback=lambda s, a, u: self.join_room(u), user_data=info.name)
        if self.current in st.rooms and self.current != "General":
            dpg.add_button(label=f"leave # {self.current}", parent="other_rooms", width=-1,
                           callback=lambda s, a, u: self.leave_room(u), user_data=self.current)
        dpg.delete_item("transfers", children_only=True)
        for t in list(st.transfers.values())[-4:]:
            arrow = "↑" if t.direction == "up" else "↓"
            dpg.add_text(f"{arrow} {t.name[:24]}", parent="transfers")
            overlay = t.error[:30] if t.state == "failed" else f"{int(t.fraction * 100)}%"
            dpg.add_progress_bar(default_value=t.fraction, overlay=overlay, width=-1, parent="transfers")
        dpg.delete_item("members_list", children_only=True)
        room = st.rooms.get(self.current) if self.current else None
        if room is None:
            return
        for m in sorted(room.members.values(), key=lambda m: (not m.online, m.name.casefold())):
            with dpg.group(horizontal=True, parent="members_list"):
                self._avatar(m.name, 24)
                dpg.add_text(m.name, color=pal.text if m.online else pal.muted)
                if m.online:
                    dpg.add_text("●", color=pal.ok)

    def _avatar(self, name: str, size: int, parent: int | str = 0) -> int | str:
        colour = avatar_color(name)
        kw = {"parent": parent} if parent else {}
        with dpg.drawlist(size, size, **kw) as d:
            r = size / 2
            dpg.draw_circle((r, r), r - 1, fill=colour, color=colour)
            text = initials(name)
            fs = size * 0.42
            dpg.draw_text((r - fs * 0.34 * len(text), r - fs * 0.6), text, color=(255, 255, 255), size=fs)
        return d  # type: ignore[no-any-return]

    def _render_messages(self, name: str) -> None:
        room = self.state.rooms[name]
        switched = self._drawn_room != name
        if switched:
            dpg.delete_item("rows", children_only=True)
            self._rows.clear()
            self._oldest_built = 0
            dpg.set_value("room_title", f"# {name}")
            self._stick_bottom = True
        msgs = room.messages
        start = max(0, len(msgs) - PAGE)
        if self._oldest_built and self._oldest_built < (msgs[start].seq if msgs and msgs[start].seq else 0):
            start = next((i for i, m in enumerate(msgs) if m.seq >= self._oldest_built), start)
        first_new = msgs[start].seq if msgs and start < len(msgs) else 0
        drawn_first = min((s for s in self._rows if s > 0), default=None)
        if drawn_first is not None and first_new and first_new < drawn_first:
            # Older history arrived (scroll-up): rebuild from the new start, keep the place.
            dpg.delete_item("rows", children_only=True)
            self._rows.clear()
            self._stick_bottom = False
        for m in msgs[start:]:
            key = m.seq if m.seq else -hash(m.cid)
            row = self._rows.get(key)
            sig = (self.state.status(m), tuple(sorted((e, len(n), self.state.me in n) for e, n in m.reactions.items())),
                   tuple(self.state.read_by(m)))
            if row is None:
                if m.seq and -hash(m.cid) in self._rows:  # the pending copy got its seq
                    old = self._rows.pop(-hash(m.cid))
                    dpg.delete_item(old.group)
                self._rows[key] = self._build_row(m, sig)
            elif row.sig != sig:
                self._update_row(row, m, sig)
        for key in [k for k in self._rows if k < 0 and not any(-hash(m.cid) == k for m in room.pending())]:
            dpg.delete_item(self._rows.pop(key).group)
        if self._stick_bottom and len(self._rows) > 2 * PAGE:
            # Following the newest messages: drop rows scrolled far out of view, so a long
            # session keeps a bounded number of items (older ones come back on scroll-up).
            keep = sorted(k for k in self._rows if k > 0)[-PAGE:]
            for k in [k for k in self._rows if 0 < k < keep[0]]:
                dpg.delete_item(self._rows.pop(k).group)
            first_new = keep[0]
        self._oldest_built = first_new
        dpg.configure_item("older", show=room.more_before or start > 0)
        self._drawn_room, self._drawn_version = name, room.version
        self._loading_older = False

    def _build_row(self, m: MessageView, sig: tuple[Any, ...]) -> _Row:
        pal = self.palette
        own = m.sender == self.state.me
        mention = not own and f"@{self.state.me}".casefold() in m.text.casefold()
        before = self._next_row_after(m.seq)
        kw: dict[str, Any] = {"parent": "rows"}
        if before is not None:
            kw = {"parent": "rows", "before": before}
        with dpg.group(horizontal=True, **kw) as group:
            self._avatar(m.sender, 36)
            with dpg.group() as body:
                with dpg.group(horizontal=True):
                    dpg.add_text(m.sender, color=pal.own if own else pal.text)
                    dpg.bind_item_font(dpg.last_item(), self.bold)
                    dpg.add_text(time.strftime("%H:%M", time.localtime(m.time)), color=pal.muted)
                    status = dpg.add_text("", color=pal.sent) if own else None
                if m.file is not None:
                    self._file_body(m.file)
                text = m.text
                if text:
                    t = dpg.add_text(text, wrap=0)  # 0: at the window's edge, also after a resize
                    if any(ord(c) >= 0x1F000 or 0x2600 <= ord(c) < 0x2700 for c in text):
                        dpg.bind_item_font(t, self.emoji)  # DejaVu has no emoji; Symbola has both
                    if mention:
                        dpg.configure_item(t, color=pal.warn)
                with dpg.group(horizontal=True) as reactions:
                    pass
        row = _Row(m.seq, group, status, reactions)
        dpg.set_item_user_data(group, {"seq": m.seq, "body": body})
        self._update_row(row, m, sig)
        return row

    def _next_row_after(self, seq: int) -> int | str | None:
        if not seq:
            return None
        later = [k for k in self._rows if k > seq]
        return self._rows[min(later)].group if later else None

    def _update_row(self, row: _Row, m: MessageView, sig: tuple[Any, ...]) -> None:
        pal = self.palette
        row.sig = sig
        status, reactions, readers = sig
        if row.status is not None:
            mark = {"pending": "…", "sent": "✓", "delivered": "✓✓", "read": "✓✓"}[status]
            dpg.set_value(row.status, mark)
            dpg.configure_item(row.status, color=pal.read if status == "read" else pal.sent)
            for child in dpg.get_item_children(row.status, 1) or []:
                dpg.delete_item(child)
            if readers:
                with dpg.tooltip(row.status):
                    dpg.add_text("Read by " + ", ".join(readers))
        if row.reactions is None:
            return
        dpg.delete_item(row.reactions, children_only=True)
        if m.seq == 0:
            return
        if self.opts.kiosk:  # a shared screen shows reactions but takes none
            for emoji, count, _ in reactions:
                dpg.bind_item_font(dpg.add_text(f"{emoji} {count}", parent=row.reactions), self.emoji)
            return
        for emoji, count, mine in reactions:
            b = dpg.add_button(label=f"{emoji} {count}", parent=row.reactions,
                               callback=lambda s, a, u: self.react(*u), user_data=(m.seq, emoji))
            dpg.bind_item_font(b, self.emoji)
            if mine:
                with dpg.theme() as t, dpg.theme_component(dpg.mvButton):
                    dpg.add_theme_color(dpg.mvThemeCol_Button, pal.accent, category=dpg.mvThemeCat_Core)
                dpg.bind_item_theme(b, t)
        plus = dpg.add_button(label="+", parent=row.reactions)
        with dpg.popup(plus, mousebutton=dpg.mvMouseButton_Left):
            with dpg.group(horizontal=True):
                for emoji in REACTIONS:
                    b = dpg.add_button(label=emoji, callback=lambda s, a, u: self.react(*u),
                                       user_data=(m.seq, emoji))
                    dpg.bind_item_font(b, self.emoji)

    def _file_body(self, info: p.FileInfo) -> None:
        pal = self.palette
        if info.thumb_id:
            tag = self._textures.get(info.thumb_id)
            if tag is not None and dpg.does_item_exist(tag):
                w, h = dpg.get_item_width(tag), dpg.get_item_height(tag)
                img = dpg.add_image(tag, width=w, height=h)
                dpg.set_item_user_data(img, info.thumb_id)
                with dpg.item_handler_registry() as reg:
                    dpg.add_item_clicked_handler(callback=lambda s, a, u: self.open_picture(u), user_data=info)
                dpg.bind_item_handler_registry(img, reg)
            else:
                dpg.add_text(f"[picture] {info.name} — loading preview…", color=pal.muted)
                self._want_thumb(info.thumb_id)
        else:
            dpg.add_text(f"[file] {info.name}  ({human_size(info.size)}, {info.mime})")
        dpg.add_button(label=f"Download {info.name[:40]}", callback=lambda s, a, u: self.download(u),
                       user_data=info)

    def _want_thumb(self, blob_id: str) -> None:
        if blob_id in self._thumbs_wanted or self.handle is None:
            return
        self._thumbs_wanted.add(blob_id)
        cache = Path(platformdirs.user_cache_dir("pyrtc", appauthor=False)) / "thumbs"
        cache.mkdir(parents=True, exist_ok=True)
        target = cache / f"{blob_id}.png"
        session = self.handle.session

        async def fetch() -> tuple[str, bytes]:
            if not target.exists():
                await session.download(blob_id, target, name="preview", quiet=True)
            return blob_id, target.read_bytes()

        fut = self.handle.submit(fetch())
        fut.add_done_callback(self._thumb_arrived)

    def _thumb_arrived(self, fut: concurrent.futures.Future[tuple[str, bytes]]) -> None:
        if fut.exception() is None:
            self._thumb_queue.append(fut.result())  # list.append is atomic across threads

    def _make_textures(self) -> None:
        queue, self._thumb_queue = self._thumb_queue, []
        for blob_id, data in queue:
            try:
                w, h, pixels = rgba_texture(data)
            except Exception as exc:
                log.warning("preview %s unreadable: %s", blob_id[:12], exc)
                continue
            tag = f"tex-{blob_id}"
            dpg.add_static_texture(w, h, pixels, tag=tag, parent="textures")
            self._textures[blob_id] = tag
            self._drawn_room = None  # rebuild rows so the picture replaces its placeholder

    def open_picture(self, info: p.FileInfo) -> None:
        tag = self._textures.get(info.thumb_id or "")
        if tag is None:
            return
        dpg.delete_item("viewer_body", children_only=True)
        dpg.add_text(f"{info.name} — {info.width}×{info.height}, {human_size(info.size)}", parent="viewer_body")
        scale = min(660 / max(1, dpg.get_item_width(tag)), 460 / max(1, dpg.get_item_height(tag)))
        dpg.add_image(tag, width=int(dpg.get_item_width(tag) * scale), height=int(dpg.get_item_height(tag) * scale),
                      parent="viewer_body")
        dpg.add_button(label="Download full picture", parent="viewer_body",
                       callback=lambda s, a, u: self.download(u), user_data=info)
        dpg.show_item("viewer")

    def _show_hits(self, fut: concurrent.futures.Future[list[p.Posted]]) -> None:
        dpg.delete_item("search_hits", children_only=True)
        if fut.exception() is not None:
            self.show_error(str(fut.exception()))
            return
        hits = fut.result()
        dpg.add_text(f"{len(hits)} found", parent="search_hits", color=self.palette.muted)
        for h in hits[:20]:
            dpg.add_button(label=f"#{h.seq} {h.sender}: {h.text[:22]}", parent="search_hits", width=-1,
                           callback=lambda s, a, u: self.jump_to(u), user_data=h.seq)

    def jump_to(self, seq: int) -> None:
        if self.handle is None or self.current is None:
            return
        room = self.current

        async def load_until() -> None:
            session = self.handle.session  # type: ignore[union-attr]
            view = session.state.rooms[room]
            while view.first_seq and view.first_seq > seq and view.more_before:
                if not await session.load_older(room, limit=500):
                    break

        self._oldest_built = seq
        self._stick_bottom = False
        self._jump_to = seq  # after_frame scrolls there once its row exists
        self.submit(load_until())

    def _report_read(self, room: str) -> None:
        """Rows shown in the window are read: report up to the newest shown seq."""
        view = self.state.rooms[room]
        if self.handle is None or self.opts.kiosk or not view.last_seq:
            return
        newest = max((m.seq for m in view.messages[-1:] if m.seq), default=0)
        if newest > self._read_sent.get(room, 0) and self._stick_bottom:
            self._read_sent[room] = newest
            self.submit(self.handle.session.mark_read(room, newest))

    def _keep_typing_state(self) -> None:
        if self.handle is None or self.current is None or self.opts.kiosk:
            return
        typing = bool(dpg.get_value("input"))
        now = time.monotonic()
        if typing and now - self._typing_sent > 3.0:  # throttled; the server expires it after 5 s
            self._typing_sent = now
            self.submit(self.handle.session.set_typing(self.current, True))
        elif not typing and self._typing_sent:
            self._typing_sent = 0.0
            self.submit(self.handle.session.set_typing(self.current, False))

    def after_frame(self) -> None:
        self._make_textures()
        if self.mode != "chatting" or not dpg.does_item_exist("messages"):
            return
        y, y_max = dpg.get_y_scroll("messages"), dpg.get_y_scroll_max("messages")
        if self._jump_to is not None:
            row = self._rows.get(self._jump_to)
            if row is not None and dpg.does_item_exist(row.group):
                dpg.set_y_scroll("messages", max(0.0, dpg.get_item_pos(row.group)[1] - 40))
                self._jump_to = None
                return
        if self._stick_bottom:
            if y < y_max:
                dpg.set_y_scroll("messages", y_max)  # follow the newest message
        elif y >= y_max - 4 and time.monotonic() - self._wheel_at > 0.3:
            self._stick_bottom = True  # the user came back to the bottom: follow again
        if y <= 0 < y_max and not self._stick_bottom:
            room = self.state.rooms.get(self.current or "")
            if room is not None and room.more_before and not self._loading_older:
                self._loading_older = True  # cleared when the page arrives
                self.load_older()

    # ------------------------------------------------------------------ loop

    def run(self) -> int:
        self.build()
        if not os.environ.get("DISPLAY") and sys.platform.startswith("linux"):
            raise RuntimeError("no display (DISPLAY is not set)")
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (a kiosk stopped by its service manager) ends the loop as closing the
            # window does: a hosted server says its mDNS goodbye, the logs are written.
            signal.signal(signal.SIGTERM, lambda *_: dpg.stop_dearpygui())
        dpg.show_viewport()
        self.start()
        logs_at = time.perf_counter()
        try:
            while dpg.is_dearpygui_running():
                t0 = time.perf_counter()
                if t0 - logs_at >= 0.5:  # batched log lines (a hosted server's chat.log too)
                    logs_at = t0
                    # pyrtc.cli.flush_logs's loop: the window may not import the CLI layer.
                    for handler in logging.getLogger("pyrtc").handlers:
                        handler.flush()
                self.tick()
                dpg.run_callbacks(dpg.get_callback_queue())
                if self.opts.on_frame is not None:
                    self.opts.on_frame(self)
                dpg.render_dearpygui_frame()
                self.after_frame()
                self.frame += 1
                self.frame_times.append(time.perf_counter() - t0)
                if len(self.frame_times) > 5000:
                    del self.frame_times[:2500]
        finally:
            self.close()
        return 0

    def close(self) -> None:
        if self.handle is not None:
            handle = self.handle
            if self.hosted is not None:
                try:
                    handle.submit(self.hosted.close()).result(5)
                except Exception:
                    pass
            if self.browser is not None:
                try:
                    handle.submit(self.browser.close()).result(5)
                except Exception:
                    pass
            handle.close()
            self.handle = None
        try:
            dpg.destroy_context()
        except Exception:
            pass


def run_gui(opts: GuiOptions) -> int:
    return ChatWindow(opts).run()
