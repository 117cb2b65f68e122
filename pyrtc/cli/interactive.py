"""`pyrtc` and `pyrtc client`: the interactive chat (or a kiosk), in the window or the terminal.

Finds a server on the LAN or hosts one here (asking first unless told), then chats.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable

from .. import __version__
from ..client import Alternate, ClientSession, ConnectionLost, Identity
from ..client.events import Event
from ..client.settings import Settings
from ..discovery import (
    Launch,
    NoServer,
    ServerEntry,
    chat_servers,
    find_or_host,
    identity_check,
    note_used,
    relocate,
    used_last,
)
from ..discovery.continuity import Continuity
from ..discovery.peers import PeerReport
from ..logsetup import flush_logs, flush_logs_forever
from ..protocol import check_name
from ..server import ServerConfig
from ..terminal import Console, TerminalChat, open_console, run_chat
from .choosing import choose, describe, matching, refuse_unsure, several
from .common import (
    UserError,
    connecting_to,
    our_addresses,
    remember,
    say_connecting,
    server_address,
    server_row,
)

__all__ = ["cmd_client", "run_window", "want_gui"]

log = logging.getLogger(__name__)


async def cmd_client(args: argparse.Namespace) -> int:
    """The terminal client. SIGTERM (a kiosk stopped by its service manager, say) ends it as
    /quit does: a server it hosts says its mDNS goodbye, and the logs are written out."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    terminated = False

    def terminate() -> None:
        nonlocal terminated
        terminated = True
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, terminate)
    flusher = asyncio.ensure_future(flush_logs_forever())  # a hosted server logs here too
    try:
        return await _client(args)
    except asyncio.CancelledError:
        if terminated:
            return 0
        raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
        flusher.cancel()
        flush_logs()


async def _client(args: argparse.Namespace) -> int:
    console = open_console(reads=not args.kiosk)
    try:
        return await _chat(args, console)
    finally:
        console.close()  # the terminal as it was, whatever happened


async def _chat(args: argparse.Namespace, console: Console) -> int:
    settings = Settings()
    interactive = console.interactive and not args.kiosk
    name = args.name or settings.get("name")
    if not name:
        default = _default_name(args.kiosk)
        name = ((await console.ask(f"Your name [{default}]: ") or "").strip() or default) if interactive else default
    check_name(name)
    launch: Launch | None = None
    relocate_fn = None
    failover_fn: Callable[[], Awaitable[list[Alternate]]] | None = None
    if args.server:
        host, port = server_address(args.server)
    else:
        # The chat's first host is a peer like the others: its node id is its key's.
        config = ServerConfig(port=args.port, tls=not args.insecure, node=Identity.load_or_create().uid)
        if args.data_dir is not None:
            config.data_dir = args.data_dir
        addrs = our_addresses(args)
        config.addresses = addrs

        async def pick(entries: list[ServerEntry]) -> ServerEntry | None:
            return await _pick(entries, args, console, interactive)

        async def confirm() -> bool:
            if args.pick:  # a server was named: hosting another is not what was asked
                return False
            if args.kiosk or args.host_if_none:
                return True
            if not interactive:
                return False
            answer = await console.ask(f"No PyRTC server found on {', '.join(addrs)}. Host one here? [Y/n]: ")
            return (answer or "y").strip().lower() in ("", "y", "yes")

        try:
            launch = await find_or_host(addresses=addrs, browse_time=args.browse_time, pick=pick,
                                        host_if_none=confirm, server_config=config)
        except NoServer as exc:
            if args.pick:
                raise UserError(f"no server matches --pick {args.pick!r} ({exc})") from None
            raise UserError(f"{exc}; start one with `pyrtc server`, or run `pyrtc --host-if-none`") from None
        host, port = launch.host, launch.port
        if launch.hosted is not None:
            print(f"-- hosting {launch.hosted.instance!r} on port {port}", file=sys.stderr)
        entry = launch.entry
        if entry is not None:
            if args.pick and not matching([entry], args.pick):  # the only server found is another
                raise UserError(f"no server matches --pick {args.pick!r}; found: {describe([entry])}")
            if not args.fingerprint:
                refuse_unsure([entry], [entry])

            async def relocate_fn() -> tuple[str, int] | None:
                return await relocate(entry, addrs, args.browse_time)

            if entry.chat:  # a cluster's server: when it is gone, another server of the chat
                async def failover_fn() -> list[Alternate]:
                    return await chat_servers(entry, addrs, args.browse_time)

    fingerprint = args.fingerprint
    # Our own hosted server: its certificate is known first-hand, no trust-on-first-use needed.
    first_hand = launch is not None and launch.hosted is not None
    if fingerprint is None and launch is not None:
        fingerprint = launch.entry.fingerprint if launch.entry else (
            launch.hosted.server.fingerprint if launch.hosted else None)
    vouched = bool(args.fingerprint) or first_hand
    session = ClientSession(host, port, name, client=f"pyrtc-terminal/{__version__}",
                            backoff=(0.2, 5.0), relocate=relocate_fn, failover=failover_fn,
                            tls=not args.insecure,
                            fingerprint=fingerprint, trust=None if vouched else identity_check(host, port),
                            password=args.password, follow_directs=not args.kiosk)
    chat = TerminalChat(session, console, kiosk=args.kiosk)
    session.on_event = chat.on_event
    continuity = _as_peer(session, args, name, launch, console)
    if console.has_prompt:  # the line editor owns the terminal: it writes the line
        console.write(f"-- {connecting_to(host, port)}")
    else:
        say_connecting(host, port)
    try:
        if args.kiosk:
            while True:  # a kiosk never gives up
                try:
                    await session.connect()
                    break
                except ConnectionLost as exc:
                    print(f"!! {exc}; retrying", file=sys.stderr)
                    await asyncio.sleep(2)
        else:
            await session.connect()
        settings.set("name", name)
        note_used(settings, session.state.server_id)
        remember(session, explicit=vouched)
        return await run_chat(chat, args.room, args.room_password)
    finally:
        chat.leaving = True
        await continuity.quit()  # hosting: the chat goes on at the next host, then goodbye
        await session.close()


def _as_peer(session: ClientSession, args: argparse.Namespace, name: str, launch: Launch | None,
             console: Console) -> Continuity:
    """A full client keeps a replica of the chat (shown at once when discovery said which chat
    this is), reports itself as a possible host unless --no-host, and follows the chat from
    host to host (taking it over when the rule says so)."""
    chat_id = ""
    if launch is not None:
        chat_id = launch.entry.server_id if launch.entry else (launch.hosted.server.server_id if launch.hosted else "")
    session.keep_replica(chat_id=chat_id, watch=args.kiosk)
    try:
        addrs: list[str] | None = our_addresses(args)
    except UserError:
        addrs = None  # nowhere to announce: it can still host for those who know the address
    if not args.no_host:
        session.peer = PeerReport(session.identity.uid, name, addrs or [], args.port)
    show = console.write if console.has_prompt else (lambda line: print(line, file=sys.stderr, flush=True))
    continuity = Continuity(session, name=name, can_host=not args.no_host, port=args.port, announce=addrs,
                            on_line=lambda line: show(f"-- {line}"),
                            hosted=launch.hosted if launch is not None else None)
    shown = session.on_event

    def on_event(event: Event) -> None:
        continuity.on_event(event)
        if shown is not None:
            shown(event)

    session.on_event = on_event
    return continuity


async def _pick(entries: list[ServerEntry], args: argparse.Namespace, console: Console,
                interactive: bool) -> ServerEntry:
    """Several servers found: --fingerprint or --pick says which; else a kiosk takes the one it
    used last; else a person chooses (servers that claim one id are shown so, and may be chosen
    knowingly); else none is guessed."""
    if args.fingerprint:
        same = [e for e in entries if e.fingerprint == args.fingerprint.lower()]
        if len(same) == 1:
            return same[0]
    if args.pick:
        return choose(entries, args.pick)
    if args.kiosk and (last := used_last(entries, Settings())) is not None:
        return last
    if not interactive:
        raise several(entries, kiosk=args.kiosk)
    show = console.write if console.has_prompt else (lambda line: print(line, file=sys.stderr))
    for i, e in enumerate(entries, 1):
        show(f"  {i}. {server_row(e)}")
    while True:
        answer = await console.ask(f"Which server? [1-{len(entries)}, or a part of its name]: ")
        if answer is None:
            raise UserError("no server chosen")
        answer = answer.strip()
        if answer.isdigit() and 1 <= int(answer) <= len(entries):
            return entries[int(answer) - 1]
        found = matching(entries, answer) if answer else []
        if len(found) == 1:
            return found[0]
        show(f"-- {answer!r} matches {len(found)} of them" if found else f"-- no server matches {answer!r}")


def _default_name(kiosk: bool) -> str:
    import getpass
    import socket

    if kiosk:
        base = f"kiosk-{socket.gethostname()}"
    else:
        try:
            base = getpass.getuser()
        except Exception:
            base = "guest"
    clean = "".join(c for c in base if c.isprintable()).strip()[:32]
    return clean or "guest"


def want_gui(args: argparse.Namespace) -> bool:
    """The window unless --no-gui, or there is no display, or Dear PyGui is missing."""
    if args.no_gui:
        return False
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        log.info("no display: chatting in the terminal")
        return False
    try:
        import dearpygui  # noqa: F401
    except ImportError:
        log.warning("Dear PyGui is not installed: chatting in the terminal")
        return False
    return True


def run_window(args: argparse.Namespace) -> int:
    from ..gui import GuiOptions, run_gui

    if args.interface:
        our_addresses(args)  # a bad --interface is a one-line error here, not a dialog
    return run_gui(GuiOptions(server=args.server, pick=args.pick, name=args.name, room=args.room,
                              kiosk=args.kiosk,
                              interfaces=args.interface, browse_time=args.browse_time,
                              host_if_none=args.host_if_none, no_host=args.no_host,
                              data_dir=args.data_dir, port=args.port,
                              tls=not args.insecure, fingerprint=args.fingerprint,
                              room_password=args.room_password))
