"""Soak load: hundreds of real `ClientSession`s chatting while things go wrong.

Run by `test_soak.py` in a subprocess (so the server's process can be measured alone), or by
hand for a longer run::

    python -m tests.soak --server 127.0.0.1:47474 --fingerprint SHA256 --clients 500 --seconds 600

What happens, all at once, until the deadline:
- every client joins one of the rooms and sends a message now and then (each text unique);
- a few clients upload files; some uploads are cut half way and must resume;
- connections are cut abruptly (no goodbye) at random: the session reconnects and resends;
- some clients vanish (cut, session dropped) and come back later as a fresh session;
- a few clients stop reading: the server may drop them; at the end they read again and must
  catch up.
Then every live client must hold its room's history without a gap. The result (JSON) lists
every acknowledged message and file, for the caller to check against the server's store.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import logging
import os
import random
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import blake3
from cryptography.hazmat.primitives.asymmetric import ec

from pyrtc.client import ClientSession, Identity
from pyrtc.client.errors import ClientError

log = logging.getLogger("soak")


@dataclass
class Soak:
    host: str
    port: int
    fingerprint: str | None
    clients: int
    rooms: int
    seconds: float
    uploads: int
    slow: int
    seed: int
    workdir: Path
    rng: random.Random = field(init=False)
    run_id: str = field(init=False)
    acked: list[tuple[str, str, int]] = field(default_factory=list)  # room, text, seq
    files: list[tuple[str, str, int]] = field(default_factory=list)  # room, file id, seq
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    sessions: dict[str, ClientSession] = field(default_factory=dict)  # name -> live session
    paused: set[str] = field(default_factory=set)  # names that stopped reading

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.run_id = os.urandom(4).hex()

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def room_of(self, name: str) -> str:
        return f"soak-{int(name[1:]) % self.rooms}"

    async def open(self, name: str) -> ClientSession:
        # Patient reconnects: hundreds of clients come back at once after a cut.
        s = ClientSession(self.host, self.port, name, fingerprint=self.fingerprint,
                          backoff=(0.05, 1.0), connect_timeout=20, idle_timeout=300,
                          identity=person(name))
        await s.connect()
        await s.join(self.room_of(name))
        self.sessions[name] = s
        return s

    # ------------------------------------------------------------------ behaviours

    async def chatter(self, name: str, deadline: float) -> None:
        n = 0
        filler = "x" * self.rng.randrange(10, 300)
        while time.monotonic() < deadline:
            # About one message every 2 s per client, as a busy office chat would not reach.
            await asyncio.sleep(min(self.rng.expovariate(0.5), max(0.0, deadline - time.monotonic())))
            s = self.sessions.get(name)
            if s is None or name in self.paused or time.monotonic() >= deadline:
                continue
            room = self.room_of(name)
            text = f"{name}#{n}.{self.run_id} {filler}"  # unique also across runs on one server
            n += 1
            try:
                seq = await s.send(room, text, timeout=60)
            except (ClientError, TimeoutError) as exc:
                if self.sessions.get(name) is s:  # not a vanish: a live session must get its ack
                    self.problems.append(f"{name}: send of {text[:20]!r} failed: {exc}")
                continue
            self.acked.append((room, text, seq))
            if self.rng.random() < 0.05:
                await s.react(room, seq, "👍")
            if self.rng.random() < 0.1:
                await s.set_typing(room, True)

    async def uploader(self, name: str, deadline: float, cut_midway: bool) -> None:
        await asyncio.sleep(self.rng.uniform(0, max(0.1, (deadline - time.monotonic()) / 2)))
        size = self.rng.randrange(100_000, 2_000_000)
        path = self.workdir / f"{name}.bin"
        path.write_bytes(os.urandom(size))
        s = self.sessions.get(name)
        if s is None:
            return
        cut_done = False

        def progress(done: int, total: int) -> None:
            nonlocal cut_done
            if cut_midway and not cut_done and done > total // 2:
                cut_done = True
                self.count("uploads cut midway")
                cut(s)

        try:
            seq = await s.upload(self.room_of(name), path, progress=progress)
        except (ClientError, TimeoutError) as exc:
            if self.sessions.get(name) is s:
                self.problems.append(f"{name}: upload failed: {exc}")
            return
        self.files.append((self.room_of(name), blake3.blake3(path.read_bytes()).hexdigest(), seq))

    async def chaos(self, deadline: float) -> None:
        """Cut, vanish, stall: about ten faults a second."""
        comeback: list[asyncio.Task[None]] = []
        while time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            names = [n for n in self.sessions if n not in self.paused]
            if not names:
                continue
            name = self.rng.choice(names)
            s = self.sessions[name]
            roll = self.rng.random()
            if roll < 0.7:
                cut(s)  # the session reconnects by itself and resends what is pending
                self.count("connections cut")
            else:
                del self.sessions[name]
                cut(s)
                comeback.append(asyncio.ensure_future(self.vanish_and_return(name, s)))
                self.count("clients vanished")
        await asyncio.gather(*comeback)

    async def vanish_and_return(self, name: str, old: ClientSession) -> None:
        await old.close()
        await asyncio.sleep(self.rng.uniform(0.5, 3.0))
        try:
            await self.open(name)
            self.count("clients returned")
        except (ClientError, TimeoutError) as exc:
            self.problems.append(f"{name}: could not come back: {exc}")

    # ------------------------------------------------------------------ the run

    async def run(self) -> dict[str, Any]:
        t0 = time.monotonic()
        names = [f"u{i}" for i in range(self.clients)]
        setup = ClientSession(self.host, self.port, "soak-setup", fingerprint=self.fingerprint)
        async with setup:
            existing = {r.name for r in await setup.list_rooms()}
            for i in range(self.rooms):
                if f"soak-{i}" not in existing:
                    await setup.create_room(f"soak-{i}")
        gate = asyncio.Semaphore(64)

        async def first_open(name: str) -> None:
            async with gate:
                await self.open(name)

        await asyncio.gather(*(first_open(n) for n in names))
        joined_s = time.monotonic() - t0
        deadline = time.monotonic() + self.seconds
        for name in self.rng.sample(names, self.slow):
            # A stalled reader that watches every room, so that its backlog passes the limit.
            s = self.sessions[name]
            for i in range(self.rooms):
                if f"soak-{i}" != self.room_of(name):
                    await s.join(f"soak-{i}", watch=True)
            self.paused.add(name)
            stall(s, True)
        work = [asyncio.ensure_future(self.chatter(n, deadline)) for n in names]
        up = self.rng.sample([n for n in names if n not in self.paused], self.uploads)
        work += [asyncio.ensure_future(self.uploader(n, deadline, i % 3 == 0)) for i, n in enumerate(up)]
        work.append(asyncio.ensure_future(self.chaos(deadline)))
        await asyncio.gather(*work)
        # Those who stopped reading read again: dropped or not, they must catch up.
        for name in self.paused:
            stall(self.sessions[name], False)
        self.paused.clear()
        gaps = await self.settle()
        # Half leave politely, half vanish.
        live = list(self.sessions.values())
        for i, s in enumerate(live):
            if i % 2:
                cut(s)
        await asyncio.gather(*(s.close() for s in live))
        return {"acked": self.acked, "files": self.files, "problems": self.problems + gaps,
                "counts": self.counts, "joined_s": joined_s, "elapsed_s": time.monotonic() - t0}

    async def settle(self, timeout: float = 60.0) -> list[str]:
        """Every live client ends up holding its room without a gap, up to the newest seq."""
        newest: dict[str, int] = {}
        for room, _, seq in self.acked + self.files:
            newest[room] = max(newest.get(room, 0), seq)
        end = time.monotonic() + timeout
        gaps: list[str] = []
        for name, s in self.sessions.items():
            room = self.room_of(name)
            want = newest.get(room, 0)
            try:
                await s.wait_for(lambda st, r=room, w=want: r in st.rooms and st.rooms[r].synced >= w,
                                 timeout=max(0.1, end - time.monotonic()))
            except (ClientError, TimeoutError):
                view = s.state.rooms.get(room)
                gaps.append(f"{name}: holds {room} up to {view.synced if view else 0} of {want}")
                continue
            view = s.state.rooms[room]
            seqs = [m.seq for m in view.messages if m.seq]
            if seqs != list(range(seqs[0], seqs[-1] + 1)):
                gaps.append(f"{name}: a gap in {room}")
        return gaps


def cut(s: ClientSession) -> None:
    """Drop the connection with no goodbye, as a pulled cable or a crash would."""
    writer = s._router.writer  # noqa: SLF001 - a fault injector reaches inside on purpose
    if writer is not None:
        writer.transport.abort()


def stall(s: ClientSession, paused: bool) -> None:
    writer = s._router.writer  # noqa: SLF001
    if writer is None:
        return
    if paused:
        # A small receive window: the kernel's buffers fill fast, the server's backlog grows.
        writer.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        writer.transport.pause_reading()
    else:
        writer.transport.resume_reading()


@functools.cache
def person(name: str) -> Identity:
    """Each name is its own person, with the same key in every driver run (the warm-up round
    and the measured one bind their names on one server)."""
    seed = int.from_bytes(hashlib.sha256(b"pyrtc soak " + name.encode()).digest(), "big")
    return Identity(ec.derive_private_key(seed % (_P256_ORDER - 1) + 1, ec.SECP256R1()))


_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.soak", description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True, help="HOST:PORT")
    ap.add_argument("--fingerprint", default=None)
    ap.add_argument("--clients", type=int, default=500)
    ap.add_argument("--rooms", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--uploads", type=int, default=24)
    ap.add_argument("--slow", type=int, default=5, help="clients that stop reading")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="write the result here (JSON)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="soak %(levelname)s %(name)s: %(message)s")
    host, _, port = args.server.rpartition(":")
    with tempfile.TemporaryDirectory(prefix="pyrtc-soak-") as tmp:
        soak = Soak(host, int(port), args.fingerprint, args.clients, args.rooms, args.seconds,
                    min(args.uploads, args.clients), min(args.slow, args.clients), args.seed, Path(tmp))
        result = asyncio.run(soak.run())
    text = json.dumps(result)
    if args.out:
        args.out.write_text(text)
    summary = {k: v for k, v in result.items() if k not in ("acked", "files")}
    summary["acked"], summary["files"] = len(result["acked"]), len(result["files"])
    print(json.dumps(summary, indent=1), file=sys.stderr)
    return 1 if result["problems"] else 0
