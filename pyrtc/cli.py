"""The `pyrtc` command. The only place that configures logging.

Every failure a user can cause (unreachable server, name taken, unknown room, bad
arguments) ends as one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import logging.handlers
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

import platformdirs

from . import __version__
from .client import ChatState, ClientSession, ConnectionLost, IdentityMismatch, Rejected, parse_address
from .client.settings import Settings
from .client.state import MessageView
from .discovery import (
    AnnouncedServer,
    DiscoveryError,
    KnownServers,
    Launch,
    NoServer,
    ServerBrowser,
    ServerEntry,
    check_addresses,
    diagnose,
    find_or_host,
    find_servers,
    identity_check,
    relocate,
)
from .errors import PyRTCError
from .protocol import check_name, check_room
from .protocol.limits import MAX_TEXT
from .server import DEFAULT_PORT, ServerConfig, chatlog
from .server.passwords import hash_password
from .terminal import StdinLines, printer, run_terminal_chat
from .units import human_size

__all__ = ["main", "setup_logging", "default_log_dir"]

log = logging.getLogger("pyrtc.cli")

EXIT_FAIL = 1
EXIT_USAGE = 2


class UserError(Exception):
    """A one-line message for the user."""


# ---------------------------------------------------------------- logging


def default_log_dir() -> Path:
    """`logs/` of the source checkout when run from one (the product's layout), else the
    platform's log folder."""
    env = os.environ.get("PYRTC_LOG_DIR")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent / "logs"
    if checkout.is_dir() and os.access(checkout, os.W_OK):
        return checkout
    return Path(platformdirs.user_log_dir("pyrtc", appauthor=False))


class _OneLine(logging.Formatter):
    """Console lines without tracebacks: those belong in the log file."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return super().format(record).replace("\n", " ")


class _ChatOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == "pyrtc.chat"


class _NoChat(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "pyrtc.chat"


class _Stamped(logging.Formatter):
    """asctime as chat.log writes it, from its per-second cache (strftime for every line
    was a tenth of the server's time under load)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return chatlog.timestamp(record.created)


class BatchedFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file written in batches. Each record is formatted when it is logged (a few
    µs, spread evenly); `flush()` writes all pending lines with one call. Formatting a whole
    batch at flush time instead stalled the event loop for milliseconds under load."""

    def __init__(self, path: Path, *, limit: int = 5000) -> None:
        super().__init__(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8", delay=True)
        self._lines: list[str] = []
        self._limit = limit

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + "\n")
        except Exception:
            self.handleError(record)
        if len(self._lines) >= self._limit or record.levelno >= logging.WARNING:
            self.flush()

    def add_line(self, text: str) -> None:
        """A line formatted elsewhere (chat lines, see pyrtc.server.chatlog). Under the
        handler's lock, as `emit` is: the window flushes from its own thread."""
        with self.lock:  # type: ignore[union-attr]
            self._lines.append(text)
            full = len(self._lines) >= self._limit
        if full:
            self.flush()

    def flush(self) -> None:
        if not self._lines:
            return
        with self.lock:  # type: ignore[union-attr]
            lines, self._lines = self._lines, []
            try:
                if self.stream is None:
                    self.stream = self._reopen()
                if self.maxBytes and self.stream.tell() + sum(map(len, lines)) >= self.maxBytes:
                    self.doRollover()
                    if self.stream is None:  # with delay=True the rollover leaves it closed
                        self.stream = self._reopen()
                self.stream.write("".join(lines))
                self.stream.flush()
            except OSError:
                # Out of descriptors (a flood) or of disk: the lines wait for the next flush,
                # as many as a batch holds. Raising here would turn every log call into a
                # traceback on stderr, which is how a flood once wrote 331 MB there.
                self._lines = (lines + self._lines)[-self._limit:]

    def _reopen(self) -> io.TextIOWrapper:
        return open(self.baseFilename, "a", encoding="utf-8")

    def close(self) -> None:
        self.flush()
        super().close()


def setup_logging(role: str, log_dir: Path, *, verbose: bool = False) -> None:
    """Rotating files under `log_dir`: pyrtc-<role>.log (everything but chat lines), chat.log
    (the chat activity of a server this process runs: `pyrtc server`, or the one a client
    hosts; made at the first line); WARNING and up also on stderr.

    Lines are written in batches (`flush_logs`, twice a second, and at exit): a file write per
    chat message cost the server ~12% of its time, and a writer thread would take the GIL
    from the event loop (milliseconds of latency)."""
    # The logging HOWTO's optimisations that have public switches: no thread or process
    # names per record. (Turning off its caller lookup takes a private name: not done.)
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    log_dir.mkdir(parents=True, exist_ok=True)
    main_file = BatchedFileHandler(log_dir / f"pyrtc-{role}.log")
    main_file.setFormatter(_Stamped("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("pyrtc")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    root.addHandler(main_file)
    chat_file = BatchedFileHandler(log_dir / "chat.log")
    chat_file.setFormatter(_Stamped("%(asctime)s %(message)s"))
    chat_file.addFilter(_ChatOnly())
    root.addHandler(chat_file)
    chatlog.attach(chat_file.add_line)
    main_file.addFilter(_NoChat())  # chat lines once, in chat.log
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(_OneLine("pyrtc: %(message)s"))
    root.addHandler(console)


def flush_logs() -> None:
    for h in logging.getLogger("pyrtc").handlers:
        h.flush()


async def _flush_logs_forever(every: float = 0.5) -> None:
    while True:
        await asyncio.sleep(every)
        flush_logs()


# ---------------------------------------------------------------- arguments


def _size(text: str) -> int:
    units = {"": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}
    t = text.strip().lower().replace("ib", "b")
    num = t.rstrip("kmgb")
    unit = t[len(num):]
    try:
        value = float(num)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 100M)") from None
    if unit not in units or value < 0:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 100M)")
    return int(value * units[unit])


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port < 65536:
        raise argparse.ArgumentTypeError(f"port {port} is out of range (0-65535)")
    return port


def _limit(text: str) -> int:
    """A count limit: 0 or more (0 means no limit)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0 (0 means no limit)")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # one line, exit 2 (argparse prints usage too)
        self.print_usage(sys.stderr)
        print(f"pyrtc: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    p.add_argument("--log-dir", type=Path, default=None, help="where log files go")


def _discovery(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interface", action="append", default=None, metavar="IP",
                   help="browse/announce only on this address of ours (repeatable; default: "
                        "every interface that is up, except loopback)")
    p.add_argument("--browse-time", type=float, default=1.5, metavar="S",
                   help="how long to look for servers (default 1.5 s)")


def _tls_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--password", default=os.environ.get("PYRTC_PASSWORD", ""),
                   help="the server's password, if it has one (or set PYRTC_PASSWORD)")
    p.add_argument("--fingerprint", default=None, metavar="SHA256",
                   help="the server certificate's SHA-256 (hex) to insist on")
    p.add_argument("--insecure", action="store_true", help="connect without TLS (the server must be --insecure)")


def _client_opts(p: argparse.ArgumentParser, *, room: bool, name: bool) -> None:
    _tls_opts(p)
    p.add_argument("--server", default=None, metavar="HOST:PORT",
                   help="server address (default: find one on the LAN)")
    p.add_argument("--pick", default=None, metavar="NAME", help="which discovered server, if several")
    _discovery(p)
    if room:
        p.add_argument("--room", required=True, help="room name")
        p.add_argument("--room-password", default="", help="the room's password, if it has one")
    if name:
        p.add_argument("--name", required=True, help="your display name")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pyrtc", description="Zero-configuration LAN chat. Without a command: "
                     "find a server on the LAN (or host one) and chat.")
    parser.add_argument("--version", action="version", version=f"pyrtc {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    cli = sub.add_parser("client", help="chat (the default command): find a server or host one")
    _common(cli)
    cli.add_argument("--server", default=None, metavar="HOST:PORT", help="skip discovery")
    cli.add_argument("--name", default=None, help="your display name (remembered)")
    cli.add_argument("--room", default="General", help="room to start in (default General)")
    cli.add_argument("--room-password", default="", help="that room's password, if it is locked")
    cli.add_argument("--host-if-none", action="store_true",
                     help="host a server here when none is found, without asking")
    cli.add_argument("--kiosk", action="store_true",
                     help="unattended: find or host, show one room, reconnect forever, never ask")
    cli.add_argument("--data-dir", type=Path, default=None, help="data dir if we host")
    cli.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port if we host")
    cli.add_argument("--no-gui", action="store_true", help="chat in the terminal, not in a window")
    _tls_opts(cli)
    _discovery(cli)

    srv = sub.add_parser("server", help="run a chat server")
    _common(srv)
    srv.add_argument("--host", default="0.0.0.0", help="address to listen on (default all)")
    srv.add_argument("--port", type=_port, default=DEFAULT_PORT,
                     help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)")
    srv.add_argument("--data-dir", type=Path, default=None, help="history and files")
    srv.add_argument("--name", default=None, help="the server's name shown to users")
    srv.add_argument("--max-file", type=_size, default=100 * 1024**2,
                     help="largest file accepted (default 100M)")
    srv.add_argument("--max-files", type=_limit, default=500, metavar="N",
                     help="files one user may share per 24 hours (default 500; 0: no limit)")
    srv.add_argument("--no-log-text", action="store_true", help="keep message text out of chat.log")
    srv.add_argument("--no-announce", action="store_true", help="do not announce over mDNS")
    srv.add_argument("--max-rate", type=float, default=50.0, metavar="N",
                     help="messages a second one connection may send (bursts of 4×; 0: no limit)")
    srv.add_argument("--max-per-address", type=_limit, default=64, metavar="N",
                     help="connections from one address (default 64; 0: no limit)")
    srv.add_argument("--password", default=os.environ.get("PYRTC_SERVER_PASSWORD", ""),
                     help="clients must give this password (or set PYRTC_SERVER_PASSWORD)")
    srv.add_argument("--insecure", action="store_true",
                     help="no TLS: anyone on the network can read the chat (for tests and old clients)")
    srv.add_argument("--interface", action="append", default=None, metavar="IP",
                     help="announce only on this address (repeatable; default: every interface "
                          "that is up, except loopback)")

    doc = sub.add_parser("doctor", help="check what discovery needs here, and say why nothing is found")
    _common(doc)
    doc.add_argument("--interface", action="append", default=None, metavar="IP",
                     help="check only this address of ours (repeatable)")
    doc.add_argument("--timeout", type=float, default=1.5, metavar="S", help="how long to listen")

    lst = sub.add_parser("servers", help="list the PyRTC servers on the LAN")
    _common(lst)
    lst.add_argument("--timeout", type=float, default=None, metavar="S",
                     help="how long to listen (default 1.5 s; with --watch: forever)")
    lst.add_argument("--json", action="store_true", help="one JSON object per server")
    lst.add_argument("--watch", action="store_true", help="print servers as they come and go")
    lst.add_argument("--interface", action="append", default=None, metavar="IP",
                     help="browse only on this address of ours (repeatable)")
    lst.add_argument("--probe-interval", type=float, default=2.0, metavar="S",
                     help="with --watch: how often listed servers are checked over TCP (default 2)")

    snd = sub.add_parser("send", help="send a message (TEXT, or each line of stdin)")
    _common(snd)
    _client_opts(snd, room=True, name=True)
    snd.add_argument("text", nargs="*", metavar="TEXT")

    tail = sub.add_parser("tail", help="print a room's history, and follow it")
    _common(tail)
    _client_opts(tail, room=True, name=False)
    tail.add_argument("--since", type=int, default=None, metavar="SEQ",
                      help="every message after this sequence number")
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new messages")
    tail.add_argument("--name", default=None, help="name to connect as (default: tail-XXXX)")

    up = sub.add_parser("upload", help="share a file in a room")
    _common(up)
    _client_opts(up, room=True, name=True)
    up.add_argument("path", type=Path, metavar="PATH")

    down = sub.add_parser("download", help="download a shared file by its id")
    _common(down)
    _client_opts(down, room=False, name=False)
    down.add_argument("file_id", metavar="FILE_ID")
    down.add_argument("-o", "--output", type=Path, required=True, metavar="PATH")
    down.add_argument("--name", default=None, help="name to connect as")
    return parser


# ---------------------------------------------------------------- commands


def _address(text: str) -> tuple[str, int]:
    try:
        return parse_address(text, DEFAULT_PORT)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _addresses(args: argparse.Namespace) -> list[str]:
    try:
        return check_addresses(args.interface)
    except DiscoveryError as exc:
        raise UserError(str(exc)) from None


def _describe(entries: list[ServerEntry]) -> str:
    return "; ".join(f"{e.name} ({e.addresses[0]}:{e.port})" for e in entries)


async def _find_server(args: argparse.Namespace) -> tuple[str, int, str | None]:
    """--server, else the one server discovery finds (or the one --pick names); with the
    fingerprint to insist on (given, else announced)."""
    if args.server:
        return (*_address(args.server), args.fingerprint)
    addrs = _addresses(args)
    found = await find_servers(addrs, args.browse_time, KnownServers().entries())
    usable = [e for e in found if e.compatible and e.reachable]
    if args.pick:
        want = args.pick.casefold()
        match = [e for e in usable if want in (e.name.casefold(), e.instance.casefold())
                 or (len(want) >= 6 and e.server_id.startswith(want))]
        if not match:
            raise UserError(f"no server named {args.pick!r} found; found: {_describe(usable) or 'none'}")
        usable = match[:1]
    if not usable:
        odd = [e for e in found if not e.compatible]
        extra = f" ({_describe(odd)} speak another protocol version)" if odd else ""
        raise UserError(f"no PyRTC server found on {', '.join(addrs)} within {args.browse_time:g} s"
                        f"{extra}; give --server HOST:PORT, start one with `pyrtc server`, or see "
                        "why with `pyrtc doctor`")
    if len(usable) > 1:
        raise UserError(f"{len(usable)} servers found: {_describe(usable)}; choose one with --pick NAME")
    return usable[0].addresses[0], usable[0].port, args.fingerprint or usable[0].fingerprint


async def _session(args: argparse.Namespace, name: str) -> ClientSession:
    if getattr(args, "room", None) is not None:
        check_room(args.room)
    host, port, fingerprint = await _find_server(args)
    session = ClientSession(host, port, name, client=f"pyrtc-cli/{__version__}", reconnect=True,
                            tls=not args.insecure, fingerprint=fingerprint,
                            trust=None if args.fingerprint else identity_check(host, port),
                            password=args.password)
    await session.connect()
    _remember(session, explicit=bool(args.fingerprint))
    return session


def _remember(session: ClientSession, explicit: bool = False) -> None:
    """Every server connected to is remembered: reachable later where mDNS does not go.
    With an explicit --fingerprint, the user vouched for a new identity: it replaces the old."""
    known = KnownServers()
    how = known.trust if explicit and session.peer_fingerprint else known.remember
    how(server_id=session.state.server_id, name=session.state.server, host=session.host,
        port=session.port, fingerprint=session.peer_fingerprint or "")


async def cmd_server(args: argparse.Namespace) -> int:
    config = ServerConfig(host=args.host, port=args.port, max_file=args.max_file,
                          max_files=args.max_files,
                          log_text=not args.no_log_text, tls=not args.insecure,
                          max_rate=args.max_rate, burst=max(1, int(args.max_rate * 4)),
                          max_per_address=args.max_per_address,
                          password_hash=hash_password(args.password) if args.password else "")
    if args.data_dir is not None:
        config.data_dir = args.data_dir
    if args.name:
        config.name = args.name
    # Signal handlers first: a Ctrl-C during mDNS registration must still say goodbye.
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    announce: list[str] | None = None
    if not args.no_announce:
        interface = args.interface
        if interface is None and args.host not in ("0.0.0.0", "", "::"):
            interface = [args.host]
        try:
            announce = check_addresses(interface)
        except DiscoveryError as exc:
            raise UserError(f"{exc} (or run with --no-announce)") from None
    hosted = AnnouncedServer(config, announce)
    flusher = asyncio.ensure_future(_flush_logs_forever())
    starting = asyncio.ensure_future(hosted.start())
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            try:
                host, port = starting.result()
            except OSError as exc:
                raise UserError(f"cannot listen on {config.host}:{config.port}: "
                                f"{exc.strerror or exc}") from None
            except DiscoveryError as exc:
                raise UserError(str(exc)) from None
            where = f" (announced as {hosted.instance!r} on {', '.join(announce)})" if announce else ""
            print(f"PyRTC server {config.name!r} listening on {host}:{port}{where}", flush=True)
            await stopping
    finally:
        stopping.cancel()
        if not starting.done():
            await asyncio.wait({starting}, timeout=10)
        await hosted.close()
        flusher.cancel()
        flush_logs()
    print("PyRTC server stopped", flush=True)
    return 0


async def cmd_servers(args: argparse.Namespace) -> int:
    addrs = _addresses(args)
    t0 = time.monotonic()
    if args.watch:
        def show(change: str, e: ServerEntry) -> None:
            if args.json:
                print(json.dumps({"event": change, "t": round(time.monotonic() - t0, 3), **e.as_json()},
                                 ensure_ascii=False), flush=True)
            else:
                print(f"{time.monotonic() - t0:7.2f}s {change:<8} {_server_row(e)}", flush=True)

        async with ServerBrowser(addrs, on_change=show, probe_interval=args.probe_interval):
            await asyncio.sleep(args.timeout if args.timeout is not None else 10**9)
        return 0
    found = await find_servers(addrs, args.timeout if args.timeout is not None else 1.5,
                               KnownServers().entries())
    if args.json:
        for e in found:
            print(json.dumps(e.as_json(), ensure_ascii=False))
    elif found:
        print(f"{'NAME':<28} {'ADDRESS':<22} {'USERS':>5} {'ROOMS':>5}  VERSION")
        for e in found:
            print(_server_row(e))
    if not any(e.source == "mdns" for e in found):
        print(f"pyrtc: no PyRTC server answered mDNS on {', '.join(addrs)}. Why:", file=sys.stderr)
        for line in await diagnose(addrs):
            print(f"  - {line}", file=sys.stderr)
    return 0


async def cmd_doctor(args: argparse.Namespace) -> int:
    """Everything discovery depends on, checked here, in words."""
    from .discovery import list_interfaces

    print("Interfaces:")
    for i in list_interfaces():
        state = "up" if i.up else "down"
        print(f"  {i.name:<12} {i.address}/{i.prefix:<3} {state}{' (loopback)' if i.loopback else ''}")
    try:
        addrs = check_addresses(args.interface)
    except DiscoveryError as exc:
        print(f"  {exc}")
        addrs = []
    found = await find_servers(addrs, args.timeout, KnownServers().entries()) if addrs else []
    print("Servers:")
    for e in found:
        print(f"  {_server_row(e)}")
    if not found:
        print("  none")
    print("Checks:")
    for line in await diagnose(addrs or None):
        print(f"  - {line}")
    return 0


def _server_row(e: ServerEntry) -> str:
    version = "?" if e.version < 0 else str(e.version) + ("" if e.compatible else " (incompatible)")
    if e.source == "remembered":
        version += "  remembered, " + ("reachable" if e.reachable else "UNREACHABLE")
    more = f" +{len(e.addresses) - 1}" if len(e.addresses) > 1 else ""
    return f"{e.name[:28]:<28} {e.addresses[0] + ':' + str(e.port) + more:<22} {e.users:>5} {e.rooms:>5}  {version}"


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
    flusher = asyncio.ensure_future(_flush_logs_forever())  # a hosted server logs here too
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
    settings = Settings()
    lines = StdinLines()
    interactive = sys.stdin.isatty() and not args.kiosk
    name = args.name or settings.get("name")
    if not name:
        default = _default_name(args.kiosk)
        if interactive:
            print(f"Your name [{default}]: ", end="", flush=True, file=sys.stderr)
            name = (await lines.readline() or "").strip() or default
        else:
            name = default
    check_name(name)
    launch: Launch | None = None
    relocate_fn = None
    if args.server:
        host, port = _address(args.server)
    else:
        config = ServerConfig(port=args.port, tls=not args.insecure)
        if args.data_dir is not None:
            config.data_dir = args.data_dir
        addrs = _addresses(args)

        async def pick(entries: list[ServerEntry]) -> ServerEntry | None:
            if args.kiosk or not interactive:
                return entries[0]
            for i, e in enumerate(entries, 1):
                print(f"  {i}. {_server_row(e)}", file=sys.stderr)
            while True:
                print(f"Which server? [1-{len(entries)}]: ", end="", flush=True, file=sys.stderr)
                answer = (await lines.readline() or "1").strip() or "1"
                if answer.isdigit() and 1 <= int(answer) <= len(entries):
                    return entries[int(answer) - 1]

        async def confirm() -> bool:
            if args.kiosk or args.host_if_none:
                return True
            if not interactive:
                return False
            print(f"No PyRTC server found on {', '.join(addrs)}. Host one here? [Y/n]: ",
                  end="", flush=True, file=sys.stderr)
            return (await lines.readline() or "y").strip().lower() in ("", "y", "yes")

        try:
            launch = await find_or_host(addresses=addrs, browse_time=args.browse_time, pick=pick,
                                        host_if_none=confirm, server_config=config)
        except NoServer as exc:
            raise UserError(f"{exc}; start one with `pyrtc server`, or run `pyrtc --host-if-none`") from None
        host, port = launch.host, launch.port
        if launch.hosted is not None:
            print(f"-- hosting {launch.hosted.instance!r} on port {port}", file=sys.stderr)
        entry = launch.entry
        if entry is not None:
            async def relocate_fn() -> tuple[str, int] | None:
                return await relocate(entry, addrs, args.browse_time)

    fingerprint = args.fingerprint
    # Our own hosted server: its certificate is known first-hand, no trust-on-first-use needed.
    first_hand = launch is not None and launch.hosted is not None
    if fingerprint is None and launch is not None:
        fingerprint = launch.entry.fingerprint if launch.entry else (
            launch.hosted.server.fingerprint if launch.hosted else None)
    vouched = bool(args.fingerprint) or first_hand
    session = ClientSession(host, port, name, client=f"pyrtc-terminal/{__version__}",
                            backoff=(0.2, 5.0), relocate=relocate_fn, tls=not args.insecure,
                            fingerprint=fingerprint, trust=None if vouched else identity_check(host, port),
                            password=args.password)
    session.on_event = printer(lambda: session.name, print)
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
        _remember(session, explicit=vouched)
        return await run_terminal_chat(session, args.room, lines, kiosk=args.kiosk,
                                       password=args.room_password)
    finally:
        await session.close()
        if launch is not None and launch.hosted is not None:
            await launch.hosted.close()


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


async def cmd_send(args: argparse.Namespace) -> int:
    if args.text:
        lines = [" ".join(args.text)]
    else:
        if sys.stdin.isatty():
            print("pyrtc: type messages, one per line; Ctrl-D sends them", file=sys.stderr)
        lines = [line.rstrip("\r\n") for line in sys.stdin]
        lines = [line for line in lines if line.strip()]
    if not lines:
        raise UserError("nothing to send: give TEXT or pipe lines on stdin")
    for n, line in enumerate(lines, 1):
        if len(line) > MAX_TEXT:
            where = f"line {n} is" if len(lines) > 1 else "the message is"
            raise UserError(f"{where} {len(line)} characters; the limit is {MAX_TEXT}")
    session = await _session(args, args.name)
    try:
        room = (await session.join(args.room, password=args.room_password)).name
        # Pipelined: every line is written at once; the same stream keeps their order.
        sends = [asyncio.ensure_future(session.send(room, line, timeout=None)) for line in lines]
        async with asyncio.timeout(max(30.0, len(lines) / 500)):
            seqs = await asyncio.gather(*sends)
        log.info("sent %d messages to %s (seq %d..%d)", len(seqs), room, seqs[0], seqs[-1])
    finally:
        await session.close()
    return 0


def _json_line(m: MessageView) -> str:
    file = None
    if m.file is not None:
        f = m.file
        file = {"id": f.blob_id, "name": f.name, "size": f.size, "mime": f.mime,
                "thumb_id": f.thumb_id, "width": f.width, "height": f.height}
    return json.dumps({"seq": m.seq, "room": m.room, "sender": m.sender, "time": m.time,
                       "text": m.text, "file": file,
                       "reactions": {e: sorted(n) for e, n in m.reactions.items()}},
                      ensure_ascii=False)


def _human_line(m: MessageView) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m.time))
    body = m.text
    if m.file is not None:
        body = f"[file] {m.file.name} ({human_size(m.file.size)}, {m.file.mime}) id={m.file.blob_id}"
    body = "".join(c if c.isprintable() or c == "\n" else "\ufffd" for c in body)
    return f"{stamp} #{m.seq} {m.sender}: {body}"


async def cmd_tail(args: argparse.Namespace) -> int:
    session = await _session(args, args.name or f"tail-{secrets.token_hex(2)}")
    fmt = _json_line if args.json else _human_line
    try:
        room = await session.join(args.room, since=args.since, watch=True, password=args.room_password)
        printed = args.since if args.since is not None else 0
        while True:
            for m in list(room.messages):
                if m.seq > printed:
                    print(fmt(m), flush=True)
                    printed = m.seq
            if not args.follow:
                return 0
            def more(s: ChatState, name: str = room.name, seen: int = printed) -> bool:
                return s.rooms[name].last_seq > seen or session.fatal is not None

            await session.wait_for(more, timeout=None)
            if session.fatal is not None:
                raise session.fatal
            room = session.state.rooms[room.name]
    finally:
        await session.close()


def _progress(total: int, label: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A tqdm bar on a terminal; silent otherwise."""
    if not sys.stderr.isatty():
        return (lambda done, size: None), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
               file=sys.stderr, leave=True)

    def update(done: int, size: int) -> None:
        if size and bar.total != size:
            bar.total = size
        bar.update(done - bar.n)

    return update, bar.close


async def cmd_upload(args: argparse.Namespace) -> int:
    path: Path = args.path
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    session = await _session(args, args.name)
    update, done = _progress(path.stat().st_size, path.name[:30])
    try:
        room = (await session.join(args.room, password=args.room_password)).name
        seq = await session.upload(room, path, progress=update)
    finally:
        done()
        await session.close()
    msg = session.state.rooms[room].by_seq.get(seq)
    file_id = msg.file.blob_id if msg and msg.file else "?"
    print(f"uploaded {path.name} to {room} as message #{seq}; file id {file_id}")
    return 0


async def cmd_download(args: argparse.Namespace) -> int:
    file_id = args.file_id.strip().lower()
    if len(file_id) != 64 or any(c not in "0123456789abcdef" for c in file_id):
        raise UserError(f"not a file id: {args.file_id!r} (64 hex digits, from `pyrtc tail`)")
    out: Path = args.output
    if out.is_dir():
        raise UserError(f"{out} is a folder; give the file name to save as")
    if out.exists():
        raise UserError(f"{out} exists; not overwriting it")
    if not out.parent.exists():
        raise UserError(f"no such folder: {out.parent}")
    session = await _session(args, args.name or f"dl-{secrets.token_hex(2)}")
    update, done = _progress(0, out.name[:30])
    try:
        await session.download(file_id, out, progress=update)
    finally:
        done()
        await session.close()
    print(f"saved {out} ({human_size(out.stat().st_size)})")
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "client": cmd_client,
    "servers": cmd_servers,
    "doctor": cmd_doctor,
    "server": cmd_server,
    "send": cmd_send,
    "tail": cmd_tail,
    "upload": cmd_upload,
    "download": cmd_download,
}


def _want_gui(args: argparse.Namespace) -> bool:
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


def _run_gui(args: argparse.Namespace) -> int:
    from .gui import GuiOptions, run_gui

    if args.interface:
        _addresses(args)  # a bad --interface is a one-line error here, not a dialog
    return run_gui(GuiOptions(server=args.server, name=args.name, room=args.room, kiosk=args.kiosk,
                              interfaces=args.interface, browse_time=args.browse_time,
                              host_if_none=args.host_if_none, data_dir=args.data_dir, port=args.port,
                              tls=not args.insecure, fingerprint=args.fingerprint,
                              room_password=args.room_password))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["client", *argv]  # bare `pyrtc [options]` is the zero-config client
    args = parser.parse_args(argv)
    try:
        setup_logging("server" if args.command == "server" else "client",
                      args.log_dir or default_log_dir(), verbose=args.verbose)
    except OSError as exc:
        print(f"pyrtc: cannot write logs to {args.log_dir or default_log_dir()}: {exc}", file=sys.stderr)
        return EXIT_FAIL
    try:
        if args.command == "client" and _want_gui(args):
            return _run_gui(args)
        return asyncio.run(COMMANDS[args.command](args))
    except KeyboardInterrupt:
        return 130
    except (UserError, ConnectionLost) as exc:
        print(f"pyrtc: {exc}", file=sys.stderr)
    except IdentityMismatch as exc:
        print(f"pyrtc: {exc}", file=sys.stderr)
    except Rejected as exc:
        print(f"pyrtc: the server refused: {exc}", file=sys.stderr)
    except TimeoutError:
        print("pyrtc: timed out waiting for the server", file=sys.stderr)
    except PyRTCError as exc:
        print(f"pyrtc: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"pyrtc: {exc}", file=sys.stderr)
    except Exception as exc:  # a bug of ours: details in the log, one line for the user
        # One line on the console (its formatter drops tracebacks), the details in the file.
        log.error("unexpected error (%s: %s); details in %s", type(exc).__name__, exc,
                  args.log_dir or default_log_dir(), exc_info=True)
    return EXIT_FAIL
