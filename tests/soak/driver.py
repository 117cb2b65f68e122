"""Soak load: hundreds of real `ClientSession`s chatting while things go wrong.

Run by `test_soak.py` in a subprocess (so the server's process can be measured alone), or by
hand against a running server, with its log on stdin (how the driver learns that a stalled
reader was dropped)::

    pyrtc server --host 127.0.0.1 --no-announce --max-per-address 0 2>&1 \
        | python -m tests.soak --server 127.0.0.1:47474 --clients 1000 --messages 100000 --cuts 1500

(its default backlog limit, 8 MiB, takes a longer flood than the test's 128 KiB)

The run is counted, never timed: it goes on until every target is met, however long that
takes on this machine (the caller holds the only clock, a safety net):
- exactly `messages` texts are acknowledged (each unique), sent by every client now and then;
- exactly `cuts` connections are cut abruptly (no goodbye): the session reconnects, resends;
- exactly `vanish` clients vanish (cut, session dropped) and come back as fresh sessions;
- exactly `uploads` files are uploaded, `cut_uploads` of them cut half way (they resume);
- `slow` clients stop reading while rooms they watch are flooded, until the server has
  dropped every one of them (its "stopped reading" log lines arrive on stdin); then they
  read again and must catch up.
Faults and uploads are spread over the run by message count, not by the clock. Then every
live client must hold its room's history without a gap. The result (JSON) lists every
acknowledged message and file, for the caller to check against the server's store.
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
import re
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import blake3
from cryptography.hazmat.primitives.asymmetric import ec

from pyrtc.client import ChatState, ClientSession, ConnectionLost, Identity, Rejected
from pyrtc.client.errors import ClientError
from pyrtc.client.state import Connected, Event
from pyrtc.protocol.codes import ErrorCode

log = logging.getLogger("soak")

#: How the server says it dropped a reader (pyrtc.server.connection): "PEER (NAME) stopped reading".
DROPPED = re.compile(r"\((?P<name>[^()\s]+)\) stopped reading")
#: Flood texts stay short enough that a page of 500 of them fits in one frame (a rejoin
#: after the drop fetches the flood rooms' history in such pages).
FLOOD_TEXT = 400
#: Flooders, one room each (a flooder receives only its own share of the flood); each may
#: send 50 messages a second (flood control), so together they fill a backlog in seconds.
FLOODERS = 20


@dataclass
class Targets:
    messages: int = 4000
    cuts: int = 60
    vanish: int = 15
    uploads: int = 24
    cut_uploads: int = 8
    slow: int = 5


@dataclass
class Soak:
    host: str
    port: int
    fingerprint: str | None
    clients: int
    rooms: int
    want: Targets
    seed: int
    workdir: Path
    rng: random.Random = field(init=False)
    run_id: str = field(init=False)
    acked: list[tuple[str, str, int]] = field(default_factory=list)  # room, text, seq
    flood: list[tuple[str, str, int]] = field(default_factory=list)  # the same, in flood rooms
    files: list[tuple[str, str, int]] = field(default_factory=list)  # room, file id, seq
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    sessions: dict[str, ClientSession] = field(default_factory=dict)  # name -> live session
    stalled: list[str] = field(default_factory=list)  # names that stop reading
    paused: set[str] = field(default_factory=set)  # ... and have not caught up yet (they do not chat)
    busy: set[str] = field(default_factory=set)  # uploading: no other fault for them
    reported: set[str] = field(default_factory=set)  # names the server said it dropped
    connects: dict[ClientSession, int] = field(default_factory=dict)  # Connected events seen
    cuts_on: dict[ClientSession, int] = field(default_factory=dict)
    started: int = 0  # sends begun and not failed: never more than the target
    all_acked: asyncio.Event = field(default_factory=asyncio.Event)
    all_dropped: asyncio.Event = field(default_factory=asyncio.Event)  # every stalled reader

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.run_id = os.urandom(4).hex()

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def room_of(self, name: str) -> str:
        return f"soak-{int(name[1:]) % self.rooms}"

    def flood_rooms(self) -> list[str]:
        return [f"soak-flood-{i}" for i in range(FLOODERS if self.want.slow else 0)]

    def session(self, name: str) -> ClientSession:
        def seen(event: Event) -> None:
            if isinstance(event, Connected):
                self.connects[s] = self.connects.get(s, 0) + 1

        # Patient reconnects: hundreds of clients come back at once after a cut.
        s = ClientSession(self.host, self.port, name, fingerprint=self.fingerprint, on_event=seen,
                          backoff=(0.05, 1.0), connect_timeout=20, idle_timeout=300,
                          identity=person(name))
        return s

    async def open(self, name: str, room: str | None = None) -> ClientSession:
        # A vanished client's old connection, if the server still holds it, is replaced: the
        # same identity under the same name (protocol 3).
        s = self.session(name)
        await s.connect()
        await s.join(room or self.room_of(name))
        return s

    async def reached(self, n: float) -> None:
        while len(self.acked) < n:
            await asyncio.sleep(0.05)

    def pick(self) -> str | None:
        names = [n for n in self.sessions if n not in self.paused and n not in self.busy]
        return self.rng.choice(names) if names else None

    # ------------------------------------------------------------------ behaviours

    async def chatter(self, name: str) -> None:
        """About one message every 2 s, until the target is acknowledged (then cancelled)."""
        n = 0
        filler = "x" * self.rng.randrange(10, 300)
        while True:
            await asyncio.sleep(self.rng.expovariate(0.5))
            s = self.sessions.get(name)
            if s is None or name in self.paused or self.started >= self.want.messages:
                continue
            room = self.room_of(name)
            text = f"{name}#{n}.{self.run_id} {filler}"  # unique also across runs on one server
            n += 1
            self.started += 1
            try:
                seq = await s.send(room, text, timeout=120)
            except (ClientError, TimeoutError) as exc:
                self.started -= 1  # someone sends another in its place
                if self.sessions.get(name) is s:  # not a vanish: a live session must get its ack
                    self.problems.append(f"{name}: send of {text[:20]!r} failed: {exc!r}")
                continue
            self.acked.append((room, text, seq))
            if len(self.acked) == self.want.messages:
                self.all_acked.set()
            if self.rng.random() < 0.05:
                await s.react(room, seq, "👍")
            if self.rng.random() < 0.1:
                await s.set_typing(room, True)

    async def uploader(self, i: int, cut_midway: bool) -> None:
        await self.reached(i * self.want.messages * 0.8 / max(1, self.want.uploads))
        while (name := self.pick()) is None:
            await asyncio.sleep(0.05)
        self.busy.add(name)
        s = self.sessions[name]
        # Over two chunks (256 KiB each): the cut half way always leaves some to resume.
        path = self.workdir / f"{name}.{i}.bin"
        path.write_bytes(os.urandom(self.rng.randrange(600_000, 2_000_000)))
        cut_done = False

        def progress(done: int, total: int) -> None:
            nonlocal cut_done
            if cut_midway and not cut_done and done > total // 2:
                cut_done = True
                if cut(s):
                    self.count("uploads cut midway")
                else:
                    self.problems.append(f"{name}: upload could not be cut (no connection)")

        try:
            await s.wait_connected(timeout=120)
            seq = await s.upload(self.room_of(name), path, progress=progress)
        except (ClientError, TimeoutError) as exc:
            self.problems.append(f"{name}: upload failed: {exc!r}")
            return
        finally:
            self.busy.discard(name)
        self.files.append((self.room_of(name), blake3.blake3(path.read_bytes()).hexdigest(), seq))

    async def chaos(self) -> None:
        """Exactly `cuts` cuts and `vanish` vanishings, spread evenly over the messages."""
        faults = ["cut"] * self.want.cuts + ["vanish"] * self.want.vanish
        self.rng.shuffle(faults)
        comeback: list[asyncio.Task[None]] = []
        for k, fault in enumerate(faults, 1):
            await self.reached(k * self.want.messages / (len(faults) + 1))
            while True:
                name = self.pick()
                s = self.sessions.get(name) if name else None
                if s is not None and cut(s):  # else reconnecting just now: another one
                    break
                await asyncio.sleep(0.01)
            assert name is not None
            if fault == "cut":  # the session reconnects by itself and resends what is pending
                self.cuts_on[s] = self.cuts_on.get(s, 0) + 1
                self.count("connections cut")
            else:
                del self.sessions[name]
                self.count("clients vanished")
                comeback.append(asyncio.ensure_future(self.vanish_and_return(name, s)))
        await asyncio.gather(*comeback)

    async def vanish_and_return(self, name: str, old: ClientSession) -> None:
        await old.close()
        await asyncio.sleep(self.rng.uniform(0.5, 3.0))
        try:
            self.sessions[name] = await self.open(name)
            self.count("clients returned")
        except (ClientError, TimeoutError) as exc:
            self.problems.append(f"{name}: could not come back: {exc!r}")

    async def listen(self, reports: asyncio.StreamReader) -> None:
        """Read the server's "stopped reading" lines for the whole run (a server piping its
        log here must never block on a full pipe)."""
        while True:
            try:
                line = await reports.readline()
            except ValueError:
                continue  # a line over the limit (dropped): not one of those
            if not line:
                break
            if (m := DROPPED.search(line.decode(errors="replace"))) and m["name"] not in self.reported:
                self.reported.add(m["name"])
                self.count("stalled readers dropped" if m["name"] in self.stalled else "other readers dropped")
                if set(self.stalled) <= self.reported:
                    self.all_dropped.set()
        self.all_dropped.set()  # stdin ended: nobody will tell us any more

    async def stall_until_dropped(self) -> list[asyncio.Task[None]]:
        """The stalled readers watch the flood rooms and keep writing (typing), so that the
        server drops them for their backlog, never for silence; once it has dropped every
        one of them, they read again. Returns their catching up, under way."""
        stop = asyncio.Event()
        flooders = [asyncio.ensure_future(self.flooder(i, room, stop)) for i, room in enumerate(self.flood_rooms())]
        alive = [asyncio.ensure_future(self.keep_typing(name)) for name in self.stalled]
        await self.all_dropped.wait()
        if missing := sorted(set(self.stalled) - self.reported):
            self.problems.append(f"stdin ended before the server dropped {missing}")
        stop.set()
        for task in alive:
            task.cancel()
        await asyncio.gather(*flooders)
        # No fault, no upload and no chatting for them until they have caught up: a send of
        # theirs would wait behind megabytes of history (past its timeout on a loaded machine).
        self.busy.update(self.stalled)
        for name in self.stalled:
            stall(self.sessions[name], False)
        return [asyncio.ensure_future(self.catch_up(name)) for name in self.stalled]

    async def catch_up(self, name: str, timeout: float = 300) -> None:
        """Until the reader holds every flood room to its end: megabytes of history to fetch,
        behind which its requests (an upload's offer) could wait past their own timeouts."""
        newest: dict[str, int] = {}
        for room, _, seq in self.flood:
            newest[room] = max(newest.get(room, 0), seq)

        def holds(st: ChatState) -> bool:
            return all(r in st.rooms and st.rooms[r].synced >= w for r, w in newest.items())

        s = self.sessions[name]
        try:
            await s.wait_for(holds, timeout=timeout)  # a safety net
        except TimeoutError:
            self.problems.append(f"{name}: not caught up with the flood rooms after {timeout:g} s")
        for room in newest:
            seqs = [m.seq for m in s.state.rooms[room].messages if m.seq] if room in s.state.rooms else []
            if seqs != list(range(seqs[0], seqs[-1] + 1) if seqs else []):
                self.problems.append(f"{name}: a gap in {room}")
        self.busy.discard(name)  # now it may vanish too (and come back without the flood rooms)
        self.paused.discard(name)  # and chat

    async def keep_typing(self, name: str) -> None:
        s, room = self.sessions[name], self.room_of(name)
        while True:
            await s.set_typing(room, False)
            await asyncio.sleep(2)

    async def flooder(self, i: int, room: str, stop: asyncio.Event) -> None:
        try:
            s = await self.open(f"flooder{i}", room)
        except (ClientError, TimeoutError) as exc:
            self.problems.append(f"flooder in {room}: {exc!r}")
            return
        n = 0

        async def one() -> None:
            nonlocal n
            while not stop.is_set():
                text = f"{room}#{n}.{self.run_id} ".ljust(FLOOD_TEXT, "f")
                n += 1
                self.flood.append((room, text, await s.send(room, text, timeout=120)))

        try:
            await asyncio.gather(*(one() for _ in range(4)))  # a few in flight: the burst is used
        except (ClientError, TimeoutError) as exc:
            self.problems.append(f"flooder in {room}: {exc!r}")
        await s.close()

    # ------------------------------------------------------------------ the run

    async def run(self, reports: asyncio.StreamReader) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        names = [f"u{i}" for i in range(self.clients)]
        for attempt in range(300):  # a server started alongside (a shell pipe) may not listen yet
            setup = ClientSession(self.host, self.port, "soak-setup", fingerprint=self.fingerprint,
                                  identity=person("soak-setup"))
            try:
                await setup.connect()
                break
            except ConnectionLost:
                if attempt == 299:
                    raise
                await asyncio.sleep(0.1)
        try:
            existing = {r.name for r in await setup.list_rooms()}
        finally:
            await setup.close()
        for room in [f"soak-{i}" for i in range(self.rooms)] + self.flood_rooms():
            if room not in existing:
                # Each by a person of its own: one may create only so many an hour (--rooms-per-hour).
                maker = self.session(f"maker-{room}")
                await maker.connect()
                await maker.create_room(room)
                await maker.close()
        gate = asyncio.Semaphore(64)

        async def first_open(name: str) -> None:
            async with gate:
                self.sessions[name] = await self.open(name)

        await asyncio.gather(*(first_open(n) for n in names))
        joined_s = loop.time() - t0
        self.stalled = self.rng.sample(names, self.want.slow)
        for name in self.stalled:
            s = self.sessions[name]
            for room in self.flood_rooms():
                await watch(s, room)
            self.paused.add(name)
            stall(s, True)
        reporter = asyncio.ensure_future(self.report_progress())
        listener = asyncio.ensure_future(self.listen(reports))
        if self.stalled:
            # First, alone (the flood is most of the work it takes): they stop reading until
            # the server has dropped each; then they read again and catch up while the rest
            # goes on.
            work = await self.stall_until_dropped()
        else:
            work = []
        chatters = [asyncio.ensure_future(self.chatter(n)) for n in names]
        work += [asyncio.ensure_future(self.uploader(i, i < self.want.cut_uploads))
                 for i in range(self.want.uploads)]
        work.append(asyncio.ensure_future(self.chaos()))
        await self.all_acked.wait()
        await asyncio.gather(*work)
        for task in chatters + [reporter, listener]:
            task.cancel()  # each is asleep: every send it began is acknowledged
        gaps = await self.settle()
        # Half leave politely, half vanish.
        live = list(self.sessions.values())
        for i, s in enumerate(live):
            if i % 2:
                cut(s)
        await asyncio.gather(*(s.close() for s in live))
        return {"acked": self.acked, "flood": self.flood, "files": self.files, "stalled": self.stalled,
                "problems": self.problems + gaps, "counts": self.counts, "joined_s": joined_s,
                "elapsed_s": loop.time() - t0}

    async def report_progress(self) -> None:
        """A line now and then, for whoever has to find out why a run does not end."""
        while True:
            await asyncio.sleep(10)
            print(f"soak: {len(self.acked)}/{self.want.messages} acked, {len(self.files)}/"
                  f"{self.want.uploads} files, {len(self.flood)} flood, counts {self.counts}, "
                  f"{len(self.problems)} problems, "
                  f"stalled not yet dropped: {sorted(set(self.stalled) - self.reported)}",
                  file=sys.stderr, flush=True)

    async def settle(self, timeout: float = 300.0) -> list[str]:
        """Every live client connected again after each cut it got, and ends up holding its
        room without a gap, up to the newest seq (the flood rooms: see catch_up)."""
        newest: dict[str, int] = {}
        for room, _, seq in self.acked + self.files + self.flood:
            newest[room] = max(newest.get(room, 0), seq)
        gaps: list[str] = []
        where = "?"
        try:
            async with asyncio.timeout(timeout):  # a safety net: it normally takes seconds
                for name, s in self.sessions.items():
                    where = f"{name}: cut {self.cuts_on.get(s, 0)} times, not connected again as often"
                    while self.connects.get(s, 0) - 1 < self.cuts_on.get(s, 0):
                        await asyncio.sleep(0.05)
                    room = self.room_of(name)
                    want = newest.get(room, 0)
                    where = f"{name}: does not hold {room} up to {want}"

                    def holds(st: ChatState, r: str = room, w: int = want) -> bool:
                        return r in st.rooms and st.rooms[r].synced >= w

                    t0 = asyncio.get_running_loop().time()
                    await s.wait_for(holds, timeout=None)
                    if (waited := asyncio.get_running_loop().time() - t0) > 5:
                        print(f"soak: settling, {where} took {waited:.1f} s", file=sys.stderr, flush=True)
                    seqs = [m.seq for m in s.state.rooms[room].messages if m.seq]
                    if seqs != list(range(seqs[0], seqs[-1] + 1)):
                        gaps.append(f"{name}: a gap in {room}")
        except TimeoutError:
            gaps.append(f"after {timeout:g} s: {where}")
            for name, s in self.sessions.items():  # what each one that is behind holds
                for room, view in s.state.rooms.items():
                    if view.synced < newest.get(room, 0):
                        missing = next(q for q in range(view.synced + 1, view.last_seq + 2) if q not in view.by_seq)
                        gaps.append(f"{name} ({s.state.connection}, connected {self.connects.get(s, 0)} times, "
                                    f"cut {self.cuts_on.get(s, 0)}): {room} synced {view.synced}, first missing "
                                    f"{missing}, holds {len(view.by_seq)} up to {view.last_seq}")
        return gaps


def cut(s: ClientSession) -> bool:
    """Drop the connection with no goodbye, as a pulled cable or a crash would. False when
    there is no connection to cut (the session is reconnecting)."""
    writer = s._router.writer  # noqa: SLF001 - a fault injector reaches inside on purpose
    if writer is None or writer.transport.is_closing():
        return False
    writer.transport.abort()
    return True


async def watch(s: ClientSession, room: str) -> None:
    """Watch `room` within the server's limit on changes per user (a burst of 20, then one a
    second): a stalled reader watches 20 flood rooms, and on a new server its own first join
    was a change too, so whether the last watch fits depends on the time since; refused, it
    is asked again a second later."""
    while True:
        try:
            await s.join(room, watch=True)
            return
        except Rejected as exc:
            if exc.code != ErrorCode.SLOW_DOWN:
                raise
        await asyncio.sleep(1)


def stall(s: ClientSession, paused: bool) -> None:
    writer = s._router.writer  # noqa: SLF001
    if writer is None:
        return
    transport = cast(asyncio.Transport, writer.transport)  # a read-write one, typed as write-only
    sock = transport.get_extra_info("socket")
    if paused:
        # A small receive window: the kernel's buffers fill fast, the server's backlog grows.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        transport.pause_reading()
    else:
        # A normal window again. Left at 4 KiB (less than one loopback segment), the window
        # opens only at TCP's zero-window probes, which back off towards minutes: what the
        # server still had queued trickled in at ~10 messages a second per room, in order,
        # and a timed settle gave up on such a reader ("holds soak-8 up to 339 of 528").
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        transport.resume_reading()


async def _main(args: argparse.Namespace, want: Targets) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    reports = asyncio.StreamReader(limit=1 << 20)  # a log line up to 1 MiB
    protocol = asyncio.StreamReaderProtocol(reports)
    pipe, _ = await loop.connect_read_pipe(lambda: protocol, sys.stdin)
    host, _, port = args.server.rpartition(":")
    try:
        with tempfile.TemporaryDirectory(prefix="pyrtc-soak-") as tmp:
            soak = Soak(host, int(port), args.fingerprint, args.clients, args.rooms, want, args.seed, Path(tmp))
            return await soak.run(reports)
    finally:
        pipe.close()


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
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="write the result here (JSON)")
    for name, default in vars(Targets()).items():
        ap.add_argument(f"--{name.replace('_', '-')}", type=int, default=default, metavar="N")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="soak %(levelname)s %(name)s: %(message)s")
    # Also the sessions' notes on history they could not fetch: the first thing to look at
    # when a client does not catch up (the rest of their INFO lines would drown it).
    logging.getLogger("pyrtc.client").setLevel(logging.INFO)
    logging.getLogger().handlers[0].addFilter(lambda r: r.levelno >= logging.WARNING or "gap" in r.getMessage())
    want = Targets(**{k: getattr(args, k) for k in vars(Targets())})
    # Uploads and stalled readers are clients too; a fault needs someone left to hit.
    if want.uploads + want.slow >= args.clients or want.cut_uploads > want.uploads:
        ap.error("--uploads plus --slow must be below --clients, --cut-uploads at most --uploads")
    result = asyncio.run(_main(args, want))
    text = json.dumps(result)
    if args.out:
        args.out.write_text(text)
    summary = {k: v for k, v in result.items() if k not in ("acked", "flood", "files")}
    for k in ("acked", "flood", "files"):
        summary[k] = len(result[k])
    print(json.dumps(summary, indent=1), file=sys.stderr)
    return 1 if result["problems"] else 0
