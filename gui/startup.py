"""From the first frame to chatting: a name, a server (given, found, picked or hosted here),
a connection.

Invariants:
- While no server is chosen the picker's list is live (finder.LiveServers on the client
  thread); after `browse_time` the window decides what it can: the server `--pick` names,
  the only one found, for a kiosk the one it used last; several leave the choice to the
  user (a kiosk shows the picker too, in its large type); none: host here when allowed,
  else say why. A kiosk decides again at every change of the list until it has a server.
- Every wait says what it waits for, in the picker and in the status line (a kiosk hides
  the picker while it needs no choice).
- A choice stops the live list before it acts (both run on the client thread, in order).
- A name taken (or refused) on the server chosen is asked again (a frame after the picker
  closes); the new name connects to that same server. A server hosted here has a thread of
  its own (hosting.HostThread), probed for while the window browses: no session takes it down,
  each adopts it (hands it on at quit, yields it to another host of the chat that wins).
- A changed server identity is asked about (never while the picker's modal window is open: it
  would close the warning); declined, the window says it is not connected and offers the picker.
- A cluster's server that stops answering: the session moves to another server of the chat
  by itself, and the window says so (server_moves.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Literal

import dearpygui.dearpygui as dpg

from pyrtc import protocol as p
from pyrtc.client import ClientHandle, ClientSession, IdentityMismatch, Rejected, parse_address
from pyrtc.client.state import Event
from pyrtc.discovery import (
    AnnouncedServer,
    DiscoveryError,
    KnownServers,
    ServerEntry,
    check_addresses,
    diagnose,
    identity_check,
    matching,
    note_used,
    used_last,
)
from pyrtc.discovery.continuity import Continuity
from pyrtc.discovery.peers import PeerReport
from pyrtc.protocol.codes import ErrorCode
from pyrtc.server import DEFAULT_PORT, ServerConfig

from .background import Background
from .dialogs import IdentityWarning, NamePrompt
from .finder import LiveServers
from .hosting import HostThread, server_config
from .options import GuiOptions
from .picker import Picker, several_found
from .server_moves import Failover, Moves, Relocate, relocator
from .theme import Theme

__all__ = ["Startup", "Mode"]

Mode = Literal["starting", "picking", "connecting", "chatting"]
Target = tuple[str, int, Relocate | None, Failover | None]
KIOSK_RETRY = 2.0  # seconds between a kiosk's tries of its --server


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
        self._host = HostThread()  # the server hosted here, if any: outlives name changes
        self._addresses: list[str] = []
        self._entries: list[ServerEntry] = []
        self._round = 0  # one per search: a late timer of an earlier one is ignored
        self._decides = False  # the search's time is up: the window decides what it can
        self._asked = False  # the user was asked to choose: nothing is chosen for them any more
        self._host_wanted = False  # Host here was pressed while the search still looked
        self._choosing = False  # ... among the servers found (the count follows the list)
        self._target: Target | None = None  # the server connected to last (or being)
        self._live: asyncio.Task[None] | None = None  # client thread only
        self._mismatch_of = ("", "")  # server id and name of the last identity refused
        self.continuity: Continuity | None = None  # of the current session (client thread)
        self._moves = Moves(self._addresses, opts.browse_time)

    @property
    def hosted(self) -> AnnouncedServer | None:
        return self._host.hosted

    @property
    def lan_addresses(self) -> list[str]:
        """Our addresses that discovery uses (a server hosted here is reached at these)."""
        return list(self._addresses)

    # ------------------------------------------------------------------ GUI thread

    def start(self) -> None:
        if self.opts.kiosk:
            dpg.toggle_viewport_fullscreen()  # a shared screen: its waits, too, in large type
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
        old, self._bg.handle = self._bg.handle, ClientHandle(self._make_session)
        if old is not None:  # its session holds the old name; closing it may wait on the network
            threading.Thread(target=old.close, name="pyrtc-old-session", daemon=True).start()
        if self._target is not None:  # the name was taken there: the same server, the new name
            self._connect(*self._target)
        elif self.opts.server:
            self.connect_to_text(self.opts.server)
        else:
            self._discover()

    def _say(self, text: str) -> None:
        """What the window waits for: in the picker, and in the status line a kiosk shows."""
        self._picker.say(text)
        dpg.set_value("status_text", text)

    def _discover(self, *, ask: bool = False) -> None:
        """Search (again: after a failed connect the user is asked, `ask`)."""
        self.mode = "picking"
        try:
            addrs = check_addresses(self.opts.interfaces)
        except DiscoveryError as exc:
            self._say(f"{exc}. Host here, or type an address.")
            self._picker.show()
            return
        self._addresses[:] = addrs  # in place: the peer report and the failover read this list
        if not self.opts.no_host:  # hosting, if it comes to that, is then as quick as joining
            self._host.claim(server_config(self.opts, addrs), addrs)
        this = self._round = self._round + 1
        self._decides, self._asked, self._choosing, self._host_wanted = False, ask, False, False
        if not ask:
            self._say(f"Looking for PyRTC servers on {', '.join(addrs)}…")
        self._bg.run(self._run_live(addrs))
        self._bg.run(asyncio.sleep(self.opts.browse_time), then=lambda _: self._time_is_up(this))
        if not self.opts.kiosk or ask:
            self._picker.show()

    def _listed(self, entries: list[ServerEntry]) -> None:
        if self.mode != "picking":
            return
        self._entries = entries
        self._picker.list(entries)
        if self._decides and (self.opts.kiosk or not self._asked):
            self._decide()
        elif self._choosing:
            self._say(several_found(entries))

    def _time_is_up(self, this: int) -> None:
        if this == self._round and self.mode == "picking":
            self._decides = True
            if self.opts.kiosk or not self._asked:  # asked again (a connect failed): the user chooses
                self._decide()

    def _decide(self) -> None:
        usable = [e for e in self._entries if e.compatible and e.reachable]
        pick = self.opts.pick
        if pick:
            named = matching(usable, pick)  # as the terminal reads --pick: a unique part of a name
            if len(named) == 1 and not named[0].conflict:
                self.connect_entry(named[0])
                return
            if self.opts.kiosk or not usable:
                found = ", ".join(e.name for e in usable) or "none yet"
                where = ", ".join(self._addresses)
                self._say(f"Waiting for the server {pick!r} on {where} (found: {found})…")
                return
        if len(usable) == 1 and not usable[0].conflict:
            self.connect_entry(usable[0])
        elif usable and self.opts.kiosk and (last := used_last(usable, self.opts.settings)) is not None:
            self.connect_entry(last)
        elif usable:
            self._asked = self._choosing = True
            self._say(several_found(usable))
            self._picker.show()
        elif self.opts.kiosk or self.opts.host_if_none or self._host_wanted:
            self.host_here()
        else:
            self._asked = True
            text = (f"No PyRTC server found on {', '.join(self._addresses)}. Host one here (others on the "
                    "network will find it), or type an address.")
            self._say(text)
            this = self._round
            self._bg.run(diagnose(self._addresses), then=lambda why: self._explain(this, text, why))

    def _explain(self, this: int, text: str, why: list[str]) -> None:
        if this == self._round and self.mode == "picking":
            self._say(text + "\n\nWhy:\n" + "\n".join(f"• {line}" for line in why))

    # The picker's three choices (and the window's own).

    def connect_entry(self, entry: ServerEntry) -> None:
        if self.mode == "picking":
            self._connect(entry.addresses[0], entry.port, relocator(entry, self._addresses, self.opts.browse_time),
                          self._moves.failover_for(entry, lambda: self._bg.session))

    def connect_to_text(self, text: str) -> None:
        try:
            host, port = parse_address(text, DEFAULT_PORT)
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self._connect(host, port)

    def host_here(self) -> None:
        if self.mode not in ("picking", "starting"):
            return
        if self.mode == "picking" and not self._decides and not self._asked:
            # Pressed while still looking: a chat that answers in time is joined, not doubled.
            self._host_wanted = True
            self._say("Still looking: a chat found on the network is joined, else one is hosted here…")
            return
        self._stop_live()
        self.mode = "connecting"
        self._say("Starting a server here…")
        self._bg.run(self._start_hosting(server_config(self.opts, self._addresses), self._addresses or None),
                     then=lambda hosted: self._connect("127.0.0.1", hosted.server.address[1]), failed=self._not_hosted)

    def _not_hosted(self, exc: BaseException) -> None:
        self._show_error(f"cannot host here: {exc}")
        self._discover(ask=not self.opts.kiosk)

    def _stop_live(self) -> None:
        self._round += 1
        self._bg.run(self._cancel_live())

    def _connect(self, host: str, port: int, relocate_fn: Relocate | None = None,
                 failover_fn: Failover | None = None) -> None:
        self._stop_live()
        self._host.unclaim()  # joining: a name probed for is let go (hosting took it already)
        session = self._bg.session
        assert session is not None
        session.host, session.port, session.failover = host, port, failover_fn
        if self.continuity is not None:  # the roster's successor first, then discovery
            self.continuity.relocate_by(relocate_fn)
        else:
            session.relocate = relocate_fn
        self._target = (host, port, relocate_fn, failover_fn)
        self.mode = "connecting"
        self._say(f"Connecting to {host}:{port}…")
        self._bg.run(self._join_first(session), then=self._connected, failed=self._not_connected)

    def _connected(self, server_id: str) -> None:
        self.mode = "chatting"
        note_used(self.opts.settings, server_id)
        self._picker.hide()

    def _not_connected(self, exc: BaseException) -> None:
        if isinstance(exc, IdentityMismatch) and not self.opts.kiosk:
            self._say(f"Not connected: the server at {self._where()} shows another identity. "
                      "Answer the warning.")
            # One modal at a time: shown while the picker's was open, the warning closed with it.
            self._picker.hide()
            self._bg.post(lambda: self._identity.warn(self._theme.palette, exc, lambda: self._trust(exc),
                                                      self._declined))
            return
        if isinstance(exc, Rejected) and exc.code in (ErrorCode.NAME_TAKEN, ErrorCode.BAD_NAME):
            self.mode = "starting"
            self._picker.hide()
            self._say(f"Could not connect: {exc}")
            # Next frame: a modal opened in the frame the picker's modal closes is closed with
            # it (Dear PyGui's popups stack), and the name was never asked.
            self._bg.post(lambda: self._name_prompt.ask(self.me, f"{exc}."))
            return
        self._show_error(f"could not connect: {exc}")
        if self.opts.server and self.opts.kiosk:  # a kiosk never gives up
            self._say(f"Could not connect: {exc}. Trying again…")
            again = self.opts.server
            self._bg.run(asyncio.sleep(KIOSK_RETRY), then=lambda _: self.connect_to_text(again))
            return
        if self.opts.server:
            self.mode = "picking"  # the picker offers another address, or hosting here
            self._say(f"Could not connect: {exc}")
            self._picker.show()
            return
        self._discover(ask=not self.opts.kiosk)  # a kiosk looks again, and again
        if not self.opts.kiosk:
            self._say(f"Could not connect: {exc}")

    def _declined(self) -> None:
        """Not connecting to a changed identity: the window says so and offers the ways on, next
        frame (a picker shown while the warning's modal window closes is closed with it)."""
        self._bg.post(self._not_connecting)

    def _not_connecting(self) -> None:
        text = (f"Not connected: you chose not to connect to {self._where()}, whose identity changed. "
                "Choose another server, type an address (the same one warns again), or host here.")
        if self.opts.server:  # nothing was searched for: the picker offers an address or hosting
            self.mode = "picking"
            self._picker.show()
        else:
            self._discover(ask=True)
        self._say(text)

    def _where(self) -> str:
        session = self._bg.session
        return f"{session.host}:{session.port}" if session is not None else "that address"

    def _trust(self, exc: IdentityMismatch) -> None:
        """The user accepted the server's new identity: pin it and connect again."""
        session = self._bg.session
        if session is None:
            return
        server_id, name = self._mismatch_of
        KnownServers().trust(server_id=server_id, name=name, host=session.host, port=session.port,
                             fingerprint=exc.seen)
        session.fingerprint = exc.seen
        self._connect(session.host, session.port, session.relocate, session.failover)

    # ------------------------------------------------------------------ client thread

    def _make_session(self, sink: Callable[[Event], None]) -> ClientSession:
        # Made on the client thread; connect() points it at a server. A full client: it keeps
        # a replica, may host (not --no-host), and follows the chat from host to host.
        session = ClientSession("127.0.0.1", 0, self.me, client="pyrtc-gui",
                                backoff=(0.2, 5.0), reconnect=True, tls=self.opts.tls,
                                fingerprint=self.opts.fingerprint, trust=self._tofu,
                                follow_directs=not self.opts.kiosk)
        session.keep_replica()
        if not self.opts.no_host:
            session.peer = PeerReport(session.identity.uid, self.me, self._addresses, self.opts.port)
        self.continuity = continuity = Continuity(
            session, name=self.me, can_host=not self.opts.no_host, port=self.opts.port,
            announce=self._addresses, on_line=session.note)
        if (hosted := self._host.hosted) is not None:  # a new name; the server hosted here goes on, ours
            continuity.adopt(hosted, self._host.on_host)

        def on_event(event: Event) -> None:
            continuity.on_event(event)
            sink(event)
            self._moves.on_event(session, event)

        session.on_event = on_event
        return session

    async def _start_hosting(self, config: ServerConfig, addresses: list[str] | None) -> AnnouncedServer:
        """Host on the host thread; the server is then the session's: handed on at quit, yielded
        to another host of the chat that wins over it (a partition healed)."""
        hosted = await self._host.start(config, addresses)
        if self.continuity is not None:
            self.continuity.adopt(hosted, self._host.on_host)
        return hosted

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

    async def _run_live(self, addresses: list[str]) -> None:
        await self._cancel_live()
        self._live = asyncio.current_task()
        await LiveServers(addresses, self.opts.fingerprint,
                          lambda entries: self._bg.post(lambda: self._listed(entries))).run()

    async def _cancel_live(self) -> None:
        task, self._live = self._live, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])

    async def _join_first(self, session: ClientSession) -> str:
        session.fatal = None
        await session.connect()
        KnownServers().remember(server_id=session.state.server_id, name=session.state.server,
                                host=session.host, port=session.port, fingerprint=session.peer_fingerprint or "")
        await session.join(self.opts.room, watch=self.opts.kiosk, password=self.opts.room_password)
        if not self.opts.kiosk:  # the rooms this name was in last time, too
            for other in session.state.joined_rooms:
                if other not in session.state.rooms:
                    await session.join(other)
        return session.state.server_id

    async def shutdown(self) -> None:
        """At exit: end the live list; the chat this window hosts goes to the next host with
        everything its server holds, then the server closes (`close_hosted` does what is left)."""
        await self._cancel_live()
        if self.continuity is not None:
            await self.continuity.quit()

    def close_hosted(self) -> None:
        """GUI thread, at exit, after the session: close the server hosted here, its mDNS
        goodbye first, also one still starting (and hand its chat on, if the session did not)."""
        self._host.hand_over()
        self._host.close()
