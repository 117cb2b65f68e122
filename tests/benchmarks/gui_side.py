"""The GUI benchmark's helpers, run with the interpreter of the tree being measured:
`python PATH/gui_side.py seed --db DB --count N` fills a room through that tree's store;
`python PATH/gui_side.py chat --port P --ready F --stop F --seconds S` sends 50 msg/s once
the window says it is ready and prints how many it sent.

Run as a file, not a module: an older checkout (`--gui-before`) has no copy of it, and its
server speaks its own protocol, so the seed and the chatter must use that tree's `pyrtc`
(imported from the venv whose interpreter runs this file). Only APIs both trees have."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

EMOJI = "👍 🎉 😂 ❤️ 🔥 🚀 🙌 😅 🤔 👀 ✅ 🍕 ☕ 🇯🇵 👨‍👩‍👧 💯 🙏 😎 🎂 📌".split()
RATE = 50  # messages per second while the window is measured


def chat_line(i: int, prefix: str) -> str:
    """One message in five holds a colour emoji (issue 22: 20 %), cycling through 20 of them."""
    if i % 5 == 0:
        return f"{prefix} {i}: the quick brown fox {EMOJI[(i // 5) % len(EMOJI)]} jumps over the lazy dog"
    return f"{prefix} {i}: the quick brown fox jumps over the lazy dog"


def seed(db: Path, count: int) -> None:
    from pyrtc.store import Store

    store = Store(db)
    try:
        store.bulk_append("General", ((f"user{i % 12}", chat_line(i, "message")) for i in range(count)))
    finally:
        store.close()


async def chat(port: int, ready: Path, stop: Path, seconds: float, wait_ready: float) -> int:
    from pyrtc.client import ClientSession

    sent = 0
    async with ClientSession("127.0.0.1", port, "chatter", tls=False) as s:
        await s.join("General")
        print("joined", flush=True)
        deadline = time.monotonic() + wait_ready
        while not ready.exists():
            if stop.exists() or time.monotonic() > deadline:
                return -1  # the window never drew the room: the parent reports why
            await asyncio.sleep(0.05)
        t0 = time.monotonic()
        while not stop.exists() and time.monotonic() - t0 < seconds + 30:
            await s.send("General", chat_line(sent, "live"), timeout=None)
            sent += 1
            await asyncio.sleep(max(0.0, t0 + sent / RATE - time.monotonic()))
    return sent


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed")
    s.add_argument("--db", type=Path, required=True)
    s.add_argument("--count", type=int, required=True)
    c = sub.add_parser("chat")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--ready", type=Path, required=True)
    c.add_argument("--stop", type=Path, required=True)
    c.add_argument("--seconds", type=float, required=True)
    c.add_argument("--wait-ready", type=float, default=180.0)
    args = ap.parse_args()
    if args.cmd == "seed":
        seed(args.db, args.count)
    else:
        sent = asyncio.run(chat(args.port, args.ready, args.stop, args.seconds, args.wait_ready))
        print(f"sent {sent}", flush=True)
        sys.exit(0 if sent >= 0 else 3)


if __name__ == "__main__":
    main()
