"""`pyrtc server`: run a chat server until Ctrl-C or SIGTERM, announced over mDNS unless told not to."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import time
from pathlib import Path

from ..discovery import AnnouncedServer, DiscoveryError, check_addresses
from ..logsetup import flush_logs, flush_logs_forever
from ..server.config import ServerConfig, default_data_dir
from ..server.errors import ClusterError
from ..server.identities import release_in_data_dir
from ..server.passwords import hash_password
from .common import UserError

__all__ = ["cmd_server", "release"]


async def cmd_server(args: argparse.Namespace) -> int:
    if args.release_name is not None:
        return release(args.data_dir or default_data_dir(), args.release_name)
    config = ServerConfig(host=args.host, port=args.port, max_file=args.max_file,
                          max_files=args.max_files,
                          log_text=not args.no_log_text, tls=not args.insecure,
                          max_rate=args.max_rate, burst=max(1, int(args.max_rate * 4)),
                          max_per_address=args.max_per_address, max_rooms=args.max_rooms,
                          rooms_per_hour=args.rooms_per_hour,
                          password_hash=hash_password(args.password) if args.password else "")
    config.cluster = args.cluster or [u.strip() for u in os.environ.get("PYRTC_CLUSTER", "").split(",")
                                       if u.strip()]
    config.chat_id = args.chat_id
    config.cluster_ca, config.cluster_cert, config.cluster_key = args.cluster_ca, args.cluster_cert, args.cluster_key
    if bool(args.cluster_cert) != bool(args.cluster_key):
        raise UserError("--cluster-cert and --cluster-key go together")
    if args.chat_id and not config.cluster:
        raise UserError("--chat-id names a cluster's chat: give --cluster nats://HOST:PORT too")
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
    flusher = asyncio.ensure_future(flush_logs_forever())
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
            except (DiscoveryError, ClusterError) as exc:
                raise UserError(str(exc)) from None
            where = f" (announced as {hosted.instance!r} on {', '.join(announce)})" if announce else ""
            chat = f", chat {hosted.server.cluster.chat_id} through NATS" if hosted.server.cluster else ""
            print(f"PyRTC server {config.name!r} listening on {host}:{port}{where}{chat}", flush=True)
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


def release(data_dir: Path, name: str) -> int:
    """`--release-name`: free a name in a server's data dir, say what was freed."""
    if not (data_dir / "history.db").is_file():
        raise UserError(f"no server data in {data_dir} (give the server's --data-dir)")
    released = release_in_data_dir(data_dir, name)
    if not released.bindings:
        raise UserError(f"no one holds the name {name!r} (or one like it) on the server in {data_dir}; "
                        "nothing was freed")
    for b in released.bindings:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(b.bound))
        print(f"freed the name {b.name!r} (held by identity {b.uid[:16]}… since {when})")
    rooms = ", ".join(released.locked_rooms)
    print(f"removed its membership of the locked rooms {rooms}" if rooms
          else "it was a member of no locked room")
    print("whoever connects with that name next is a newcomer: locked rooms ask them for their password")
    return 0
