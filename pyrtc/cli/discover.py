"""`pyrtc servers` and `pyrtc doctor`: which servers the LAN has, and why none is found."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from ..discovery import (
    DiscoveryError,
    KnownServers,
    ServerBrowser,
    ServerEntry,
    by_chat,
    check_addresses,
    diagnose,
    find_servers,
)
from .common import our_addresses, server_row

__all__ = ["cmd_doctor", "cmd_servers"]


async def cmd_servers(args: argparse.Namespace) -> int:
    addrs = our_addresses(args)
    t0 = time.monotonic()
    if args.watch:
        def show(change: str, e: ServerEntry) -> None:
            if args.json:
                print(json.dumps({"event": change, "t": round(time.monotonic() - t0, 3), **e.as_json()},
                                 ensure_ascii=False), flush=True)
            else:
                print(f"{time.monotonic() - t0:7.2f}s {change:<8} {server_row(e)}", flush=True)

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
        for chat in by_chat(found):
            if not chat[0].chat:  # a server alone
                print(server_row(chat[0]))
                continue
            users = sum(e.users for e in chat)  # each server counts its own connections
            many = f"{len(chat)} servers" if len(chat) > 1 else "1 server"
            print(f"chat {chat[0].chat} on {many}, {users} users:")
            for e in chat:
                print("  " + server_row(e))
    if not any(e.source == "mdns" for e in found):
        print(f"pyrtc: no PyRTC server answered mDNS on {', '.join(addrs)}. Why:", file=sys.stderr)
        for line in await diagnose(addrs):
            print(f"  - {line}", file=sys.stderr)
    return 0


async def cmd_doctor(args: argparse.Namespace) -> int:
    """Everything discovery depends on, checked here, in words."""
    from ..discovery import list_interfaces

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
        print(f"  {server_row(e)}")
    if not found:
        print("  none")
    print("Checks:")
    for line in await diagnose(addrs or None, answered=sum(e.source == "mdns" for e in found)):
        print(f"  - {line}")
    return 0
