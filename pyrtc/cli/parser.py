"""The `pyrtc` command line: every command's arguments, and one-line usage errors."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import __version__
from ..client import parse_address
from ..client.links import is_link, make_link, parse_link
from ..errors import PyRTCError
from ..protocol import check_name, check_room
from ..server import DEFAULT_PORT
from .errors import EXIT_USAGE

__all__ = ["build_parser", "take_link"]


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


def _chat_id(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a chat id (1-64 letters, digits, _ or -)")
    return text


def _server(text: str) -> str:
    """HOST[:PORT] (or [IPv6]:PORT, or a pyrtc://HOST:PORT?fp=… link), checked here so that a
    typo is a usage error."""
    try:
        if is_link(text):
            parse_link(text)
            return text.strip()
        parse_address(text, DEFAULT_PORT)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _checked(check: Callable[[str], str]) -> Callable[[str], str]:
    """A name or room name as the server will take it, else a usage error saying why."""
    def parse(text: str) -> str:
        try:
            return check(text)
        except PyRTCError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _file_id(text: str) -> str:
    file_id = text.strip().lower()
    if len(file_id) != 64 or any(c not in "0123456789abcdef" for c in file_id):
        raise argparse.ArgumentTypeError(f"not a file id: {text!r} (64 hex digits, from `pyrtc tail`)")
    return file_id


def _limit(text: str) -> int:
    """A count limit: 0 or more (0 means no limit)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0 (0 means no limit)")
    return value


def take_link(args: argparse.Namespace) -> str | None:
    """A pyrtc:// link given as --server becomes --server HOST:PORT and --fingerprint; the
    usage error when it contradicts a --fingerprint also given, else None."""
    server = getattr(args, "server", None)
    if not server or not is_link(server):
        return None
    host, port, fp = parse_link(server)
    args.server = make_link(host, port, None).removeprefix("pyrtc://")
    given = getattr(args, "fingerprint", None)
    if fp and given and given.strip().lower() != fp:
        return "--fingerprint differs from the fingerprint in the pyrtc:// link"
    if fp and hasattr(args, "fingerprint"):
        args.fingerprint = fp
    return None


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


def _client_opts(p: argparse.ArgumentParser, *, room: bool, name: bool, direct: str = "") -> None:
    """`direct`: the option naming the other person of a direct conversation, which may
    stand instead of --room (`--to`, `--with`)."""
    _tls_opts(p)
    p.add_argument("--server", type=_server, default=None, metavar="HOST:PORT",
                   help="server address, or a pyrtc://HOST:PORT?fp=… link (default: find one on the LAN)")
    p.add_argument("--pick", default=None, metavar="NAME",
                   help="which discovered server, if several (a unique part of its name)")
    _discovery(p)
    if room and direct:
        where = p.add_mutually_exclusive_group(required=True)
        where.add_argument("--room", type=_checked(check_room), help="room name")
        where.add_argument(direct, type=_checked(check_name), metavar="NAME", dest="direct",
                           help="instead of a room: the direct conversation with NAME")
    elif room:
        p.add_argument("--room", type=_checked(check_room), required=True, help="room name")
    if room:
        p.add_argument("--room-password", default="", metavar="PASSWORD",
                       help="the room's password, if it has one")
    if name:
        p.add_argument("--name", type=_checked(check_name), required=True, help="your display name")


def _chat_opts(add_argument: Callable[..., Any], shown_only: bool = False) -> None:
    """The chat's own options (`pyrtc client`), given to a parser's or a group's add_argument.
    `shown_only`: listed in `pyrtc --help`, where they are never parsed (main() hands bare
    `pyrtc [options]` to the client)."""
    def add(*names: str, default: Any = None, **kw: Any) -> None:
        add_argument(*names, default=argparse.SUPPRESS if shown_only else default, **kw)

    add("--name", type=_checked(check_name), help="your display name (remembered)")
    add("--room", type=_checked(check_room), default="General", help="room to start in (default General)")
    add("--room-password", default="", metavar="PASSWORD", help="that room's password, if it is locked")
    add("--server", type=_server, metavar="HOST:PORT", help="skip discovery (or a pyrtc://HOST:PORT?fp=… link)")
    add("--pick", metavar="NAME", help="which discovered server, if several (a unique part of its name)")
    add("--host-if-none", action="store_true", default=False,
        help="host a server here when none is found, without asking")
    add("--kiosk", action="store_true", default=False,
        help="unattended: find or host, show one room, reconnect forever, never ask")
    add("--no-gui", action="store_true", default=False, help="chat in the terminal, not in a window")
    add("--data-dir", type=Path, metavar="DIR", help="data dir if we host")
    add("--port", type=_port, default=DEFAULT_PORT, help="port if we host")
    add("--no-host", action="store_true", default=False,
        help="never host this chat, also when its host leaves (this peer still keeps its history)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="pyrtc", usage="pyrtc [chat options] | pyrtc COMMAND [options]",
                     description="Zero-configuration LAN chat. Without a command: find a server on "
                     "the LAN (or host one) and chat, in a window or (--no-gui) in the terminal.",
                     epilog="`pyrtc COMMAND --help` tells each command's options; `pyrtc client --help` "
                     "all the chat's (TLS, discovery, logging).")
    parser.add_argument("--version", action="version", version=f"pyrtc {__version__}")
    chat = parser.add_argument_group("chat options (pyrtc [options] = pyrtc client [options])")
    _chat_opts(chat.add_argument, shown_only=True)
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    cli = sub.add_parser("client", help="chat (the default command): find a server or host one")
    _common(cli)
    _chat_opts(cli.add_argument)
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
                     help="messages a second one connection may send (bursts of 4×; 0: no limit, and none of "
                          "the other rate limits either: see docs/security.md)")
    srv.add_argument("--max-per-address", type=_limit, default=64, metavar="N",
                     help="connections from one address (default 64; 0: no limit)")
    srv.add_argument("--max-rooms", type=_limit, default=1000, metavar="N",
                     help="rooms on the server (default 1000; 0: no limit)")
    srv.add_argument("--rooms-per-hour", type=_limit, default=10, metavar="N",
                     help="rooms one user may create per hour (default 10; 0: no limit)")
    srv.add_argument("--password", default=os.environ.get("PYRTC_SERVER_PASSWORD", ""),
                     help="clients must give this password (or set PYRTC_SERVER_PASSWORD)")
    srv.add_argument("--insecure", action="store_true",
                     help="no TLS: anyone on the network can read the chat, and names are not protected "
                          "(for tests)")
    srv.add_argument("--release-name", default=None, metavar="NAME",
                     help="free NAME (each name belongs to the installation that used it first) and its "
                          "memberships of locked rooms, in --data-dir, then exit; a running server sees it "
                          "at the next hello")
    srv.add_argument("--interface", action="append", default=None, metavar="IP",
                     help="announce only on this address (repeatable; default: every interface "
                          "that is up, except loopback)")
    srv.add_argument("--cluster", action="append", default=None, metavar="tls://HOST:PORT",
                     help="serve one chat with every server given the same NATS JetStream (repeatable; or "
                          "PYRTC_CLUSTER, comma-separated; tls:// encrypts, nats:// does not; see docs/cluster.md)")
    srv.add_argument("--cluster-ca", default=os.environ.get("PYRTC_CLUSTER_CA", ""), metavar="FILE",
                     help="with --cluster tls://: the PEM CA (or self-signed certificate) NATS's certificate must "
                          "verify against (default: the system's CAs)")
    srv.add_argument("--cluster-cert", default="", metavar="FILE",
                     help="with --cluster tls://: a PEM client certificate, for a NATS that requires one")
    srv.add_argument("--cluster-key", default="", metavar="FILE", help="the private key of --cluster-cert")
    srv.add_argument("--chat-id", type=_chat_id, default=os.environ.get("PYRTC_CHAT_ID") or None,
                     help="with --cluster: the chat's id (default: the one stored in NATS, made by the first "
                          "server)")

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
    _client_opts(snd, room=True, name=True, direct="--to")
    snd.add_argument("text", nargs="*", metavar="TEXT")

    tail = sub.add_parser("tail", help="print a room's history, and follow it")
    _common(tail)
    _client_opts(tail, room=True, name=False, direct="--with")
    tail.add_argument("--since", type=int, default=None, metavar="SEQ",
                      help="every message after this sequence number")
    tail.add_argument("--json", action="store_true", help="one JSON object per line")
    tail.add_argument("--follow", "-f", action="store_true", help="keep printing new messages")
    tail.add_argument("--name", type=_checked(check_name), default=None,
                      help="name to connect as (default: your display name and -cli, the same each time)")

    up = sub.add_parser("upload", help="share a file in a room")
    _common(up)
    _client_opts(up, room=True, name=True)
    up.add_argument("path", type=Path, metavar="PATH")

    down = sub.add_parser("download", help="download a shared file by its id")
    _common(down)
    _client_opts(down, room=False, name=False)
    down.add_argument("file_id", type=_file_id, metavar="FILE_ID")
    down.add_argument("-o", "--output", type=Path, required=True, metavar="PATH")
    down.add_argument("--name", type=_checked(check_name), default=None,
                      help="name to connect as (default: your display name and -cli, the same each time)")
    down.add_argument("--room", default=None, help="the locked room the file is in (with --room-password)")
    down.add_argument("--room-password", default="", help="that room's password")
    return parser
