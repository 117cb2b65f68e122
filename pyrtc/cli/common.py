"""What the commands share: the user's one-line errors, finding the server, opening a session."""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from ..client import ClientSession, Identity, parse_address
from ..client.settings import Settings
from ..discovery import (
    AMBIGUOUS,
    IMPOSTOR,
    DiscoveryError,
    KnownServers,
    ServerEntry,
    check_addresses,
    find_servers,
    identity_check,
)
from ..protocol import BadMessage, check_name, check_room
from ..protocol.limits import MAX_NAME
from ..server import DEFAULT_PORT
from .choosing import choose, describe, offered
from .errors import EXIT_FAIL, EXIT_USAGE, UsageError, UserError

__all__ = ["EXIT_FAIL", "EXIT_USAGE", "UsageError", "UserError", "connecting_to", "one_shot_name", "open_session",
           "our_addresses", "remember", "say_connecting", "server_address", "server_row"]

CLI_SUFFIX = "-cli"


def server_address(text: str) -> tuple[str, int]:
    try:
        return parse_address(text, DEFAULT_PORT)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def our_addresses(args: argparse.Namespace) -> list[str]:
    try:
        return check_addresses(args.interface)
    except DiscoveryError as exc:
        raise UserError(str(exc)) from None


async def _find_server(args: argparse.Namespace) -> tuple[str, int, str | None]:
    """--server, else the one server discovery finds (or the one --pick names); with the
    fingerprint to insist on (given, else announced)."""
    if args.server:
        return (*server_address(args.server), args.fingerprint)
    addrs = our_addresses(args)
    found = await find_servers(addrs, args.browse_time, KnownServers().entries(), fingerprint=args.fingerprint)
    if not offered(found):
        odd = [e for e in found if not e.compatible and e.conflict != IMPOSTOR]
        extra = f" ({describe(odd)} speak another protocol version)" if odd else ""
        raise UserError(f"no PyRTC server found on {', '.join(addrs)} within {args.browse_time:g} s"
                        f"{extra}; give --server HOST:PORT, start one with `pyrtc server`, or see "
                        "why with `pyrtc doctor`")
    chosen = choose(found, args.pick)
    return chosen.addresses[0], chosen.port, args.fingerprint or chosen.fingerprint


def one_shot_name(given: str | None) -> str:
    """The name `tail` and `download` connect as: the one given, else this installation's
    own, the same every run (a new one each run bound one more name to its key on every
    server): its display name with "-cli" (the display name itself would replace a window
    open under it: one connection per name), else "cli-" and the start of its uid."""
    if given:
        return given
    display = Settings().get("name")
    if isinstance(display, str):
        try:
            return check_name(display.strip()[: MAX_NAME - len(CLI_SUFFIX)].strip() + CLI_SUFFIX)
        except BadMessage:
            pass  # an odd name in the settings file: the uid's is always fine
    return f"cli-{Identity.load_or_create().uid[:10]}"


async def open_session(args: argparse.Namespace, name: str) -> ClientSession:
    if getattr(args, "room", None) is not None:
        check_room(args.room)
    host, port, fingerprint = await _find_server(args)
    session = ClientSession(host, port, name, client=f"pyrtc-cli/{__version__}", reconnect=True,
                            tls=not args.insecure, fingerprint=fingerprint,
                            trust=None if args.fingerprint else identity_check(host, port),
                            password=args.password)
    say_connecting(host, port)
    await session.connect()
    remember(session, explicit=bool(args.fingerprint))
    return session


def say_connecting(host: str, port: int) -> None:
    """One line before a connect, which may wait (an address where nobody answers: seconds of
    ARP): on a terminal only, on stderr; stdout (what scripts read) and a redirected stderr
    (a script's log) get nothing more."""
    if sys.stderr.isatty():
        print(f"pyrtc: {connecting_to(host, port)}", file=sys.stderr, flush=True)


def connecting_to(host: str, port: int) -> str:
    return f"connecting to {f'[{host}]' if ':' in host else host}:{port}…"


def remember(session: ClientSession, explicit: bool = False) -> None:
    """Every server connected to is remembered: reachable later where mDNS does not go.
    With an explicit --fingerprint, the user vouched for a new identity: it replaces the old."""
    known = KnownServers()
    how = known.trust if explicit and session.peer_fingerprint else known.remember
    how(server_id=session.state.server_id, name=session.state.server, host=session.host,
        port=session.port, fingerprint=session.peer_fingerprint or "")


def server_row(e: ServerEntry) -> str:
    if e.conflict == IMPOSTOR:
        version = f"{e.version}  IMPOSTOR: a known server's id, another certificate; never used"
    else:
        version = "?" if e.version < 0 else str(e.version) + ("" if e.compatible else " (incompatible)")
    if e.conflict == AMBIGUOUS:
        version += "  same id as another server: --fingerprint says which"
    if e.source == "remembered":
        version += "  remembered, " + ("reachable" if e.reachable else "UNREACHABLE")
    more = f" +{len(e.addresses) - 1}" if len(e.addresses) > 1 else ""
    return f"{e.name[:28]:<28} {e.addresses[0] + ':' + str(e.port) + more:<22} {e.users:>5} {e.rooms:>5}  {version}"
