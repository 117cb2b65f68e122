"""The systems under test (PyRTC, the thread-per-client baseline, ngircd) as processes, and
one asyncio client adapter per wire protocol for the load generator."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

import msgspec

import pyrtc.protocol as p
from pyrtc.client import Identity

ROOM = "General"


# ---------------------------------------------------------------- server processes


class ServerProc:
    def __init__(self, name: str, argv: list[str], ready: str, cwd: Path | None = None) -> None:
        self.name = name
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     cwd=cwd, start_new_session=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        self.port = 0
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError(f"{name} exited before it was ready")
            m = re.search(ready, line)
            if m:
                self.port = int(m.group(1))
                break
        if not self.port:
            raise RuntimeError(f"{name} did not start")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_kb(self, field: str = "VmRSS") -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        return 0

    def peak_rss_kb(self) -> int:
        return self.rss_kb("VmHWM")

    def pin(self, cpus: frozenset[int]) -> None:
        """Keep the server (every thread it has; later ones inherit) on these CPUs."""
        for tid in os.listdir(f"/proc/{self.pid}/task"):
            os.sched_setaffinity(int(tid), cpus)

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_pyrtc(tmp: Path, *extra: str, tls: bool = False) -> ServerProc:
    """PyRTC without TLS compares like for like with the plain-TCP baselines; "PyRTC (TLS)"
    shows what encryption costs."""
    extra = (*extra, "--max-rate", "0", "--max-per-address", "0")  # load from one address, flat out
    extra = extra if tls else (*extra, "--insecure")
    return ServerProc("PyRTC (TLS)" if tls else "PyRTC", [sys.executable, "-m", "pyrtc", "server", "--host", "127.0.0.1",
                                "--port", "0", "--no-announce", "--data-dir", str(tmp / "pyrtc-data"),
                                "--log-dir", str(tmp / "pyrtc-logs"), "--no-log-text", *extra],
                      r"listening on 127\.0\.0\.1:(\d+)")


def start_baseline(tmp: Path) -> ServerProc:
    (tmp / "baseline-data").mkdir(exist_ok=True)
    return ServerProc("thread-per-client", [sys.executable, "-m", "tests.benchmarks.baseline_chat",
                                            "--data-dir", str(tmp / "baseline-data")],
                      r"listening on 127\.0\.0\.1:(\d+)", cwd=Path(__file__).resolve().parents[2])


def ngircd_path() -> str | None:
    found = shutil.which("ngircd") or ("/usr/sbin/ngircd" if Path("/usr/sbin/ngircd").exists() else None)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "ngircd"], capture_output=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), timeout=300)
        found = "/usr/sbin/ngircd" if Path("/usr/sbin/ngircd").exists() else None
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(proc: ServerProc, what: str) -> ServerProc:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", proc.port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.stop()
    raise RuntimeError(f"{what} did not start")


def start_ngircd(tmp: Path, binary: str) -> ServerProc:
    port = _free_port()
    conf = tmp / "ngircd.conf"
    conf.write_text(f"""[Global]
Name = bench.local
Info = PyRTC benchmark
Listen = 127.0.0.1
Ports = {port}
PidFile = {tmp}/ngircd.pid
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 30
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
OperCanUseMode = yes
DefaultUserModes = F
""")
    proc = ServerProc.__new__(ServerProc)
    proc.name = "ngircd (C IRC)"
    proc.proc = subprocess.Popen([binary, "-n", "-f", str(conf)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
    proc.port = port
    return _wait_listening(proc, "ngircd")


def redis_path() -> str | None:
    """The Redis server binary. Debian's redis-tools ships it (as redis-check-rdb, which
    serves when called as redis-server) without the system service redis-server adds."""
    def found() -> str | None:
        return shutil.which("redis-server") or shutil.which("redis-check-rdb")
    if found() is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "redis-tools"], capture_output=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"), timeout=300)
    return found()


def start_redis(tmp: Path, binary: str) -> ServerProc:
    """Redis pub/sub: the C broker of the issue's targets. Nothing is stored (no history, no
    persistence), so it shows what relaying alone costs on this machine."""
    port = _free_port()
    proc = ServerProc.__new__(ServerProc)
    proc.name = "Redis (C pub/sub)"
    # No snapshots, no client limit, no output-buffer cut-off for slow subscribers: a relay only.
    proc.proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--maxclients", "20000", "--dir", str(tmp),
                                  "--client-output-buffer-limit", "pubsub 0 0 0"],
                                 executable=binary, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
    proc.port = port
    return _wait_listening(proc, "redis-server")


# ---------------------------------------------------------------- client adapters


OnChat = Callable[[int], None]  # called with the send timestamp (ns) of a received message


def stamp() -> str:
    return f"{time.monotonic_ns()} " + "x" * 40  # ~60-byte chat lines in every system


def parse_stamp(text: str | bytes) -> int:
    head = text.split(b" " if isinstance(text, bytes) else " ", 1)[0]
    return int(head)


class Adapter(asyncio.Protocol):
    """One connected client. `sample`: decode every n-th chat frame for latency (all counted)."""

    def __init__(self, on_chat: OnChat, sample: int = 1) -> None:
        self.on_chat = on_chat
        self.sample = sample
        self.received = 0
        self.transport: asyncio.Transport | None = None
        self.ready = asyncio.get_running_loop().create_future()
        self.outstanding = 0  # own messages not yet confirmed (flow control)
        self.confirmed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not subclasses

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError(str(exc)))

    def _confirm(self, n: int = 1) -> None:
        self.outstanding -= n
        self.confirmed.set()

    def _sampled(self) -> bool:
        self.received += 1
        return self.received % self.sample == 0


_FRAME_LEN = struct.Struct(">I").unpack_from


@functools.lru_cache(maxsize=1)
def _identity() -> Identity:
    """One identity per load-generator process; each client has its own name."""
    return Identity.generate()


class PyrtcAdapter(Adapter):
    def __init__(self, name: str, on_chat: OnChat, sample: int = 1) -> None:
        super().__init__(on_chat, sample)
        self.name = name
        self.run = os.urandom(6).hex()  # this client in this run: fresh message ids
        self.buf = bytearray()
        self.dec = msgspec.msgpack.Decoder(p.ServerMsg)

    def _hello(self, greeting: p.Greeting) -> None:
        """Answer the server's greeting as a client does: a hello signed by our key."""
        assert self.transport is not None
        me = _identity()
        tls = self.transport.get_extra_info("ssl_object")
        fp = hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest() if tls else ""
        self.transport.write(p.encode(p.Hello(version=p.PROTOCOL_VERSION, name=self.name, key=me.public_der,
                                              proof=me.sign(p.hello_proof(greeting.nonce, fp, self.name))))
                             + p.encode(p.JoinRoom(room=ROOM, since=10**12)))

    def data_received(self, data: bytes) -> None:
        # As lean per frame as the IRC adapter is per line: the length prefix and the tag
        # (the map's first value, at a fixed offset) classify a frame; only samples are decoded.
        buf = self.buf
        buf += data
        pos, n, length = 0, len(buf), _FRAME_LEN
        while n - pos >= 4:
            end = pos + 4 + length(buf, pos)[0]
            if end > n:
                break
            if buf.startswith(b"\xa8greeting", pos + 7):
                msg = self.dec.decode(bytes(buf[pos + 4:end]))
                assert isinstance(msg, p.Greeting)
                self._hello(msg)
            elif buf.startswith(b"\xa6posted", pos + 7):
                self.received += 1
                if self.received % self.sample == 0:
                    msg = self.dec.decode(bytes(buf[pos + 4:end]))
                    self.on_chat(parse_stamp(msg.text))  # type: ignore[union-attr]
            elif buf.startswith(b"\xa5acked", pos + 7):
                self.outstanding -= 1
                self.confirmed.set()
            elif buf.startswith(b"\xa4ping", pos + 7):
                self.transport.write(p.encode(p.Pong()))  # type: ignore[union-attr]
            elif not self.ready.done() and buf.startswith(b"\xa6joined", pos + 7):
                self.ready.set_result(None)
            pos = end
        del buf[:pos]

    def send_chat(self, seq: int) -> None:
        self.outstanding += 1
        # cids unique per run: a store reused by a later run would take equal ones for resends
        self.transport.write(p.encode(p.SendText(room=ROOM, cid=f"{self.run}-{seq}", text=stamp())))  # type: ignore[union-attr]


class BaselineAdapter(Adapter):
    def __init__(self, name: str, on_chat: OnChat, sample: int = 1) -> None:
        super().__init__(on_chat, sample)
        self.name = name
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport.write(msgspec.json.encode({"cmd": "join", "room": ROOM, "name": self.name}) + b"\n")  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        lines = (self.buf + data).split(b"\n")
        self.buf = lines.pop()
        me = f'"from": "{self.name}"'.encode()
        for line in lines:
            if line.startswith(b'{"from"'):
                if me in line:
                    self._confirm()
                if self._sampled():
                    self.on_chat(parse_stamp(msgspec.json.decode(line)["text"]))
            elif not self.ready.done():
                self.ready.set_result(None)

    def send_chat(self, seq: int) -> None:
        self.outstanding += 1
        self.transport.write(msgspec.json.encode({"cmd": "msg", "text": stamp()}) + b"\n")  # type: ignore[union-attr]


class IrcAdapter(Adapter):
    """IRC does not echo a PRIVMSG to its sender: flow control by PING/PONG every 10 lines."""

    def __init__(self, name: str, on_chat: OnChat, sample: int = 1) -> None:
        super().__init__(on_chat, sample)
        self.name = name[:30]
        self.buf = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport.write(f"NICK {self.name}\r\nUSER {self.name} 0 * :{self.name}\r\n".encode())  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        lines = (self.buf + data).split(b"\r\n")
        self.buf = lines.pop()
        for line in lines:
            # As lean per line as the PyRTC adapter is per frame: one search classifies it.
            if b" PRIVMSG " in line:
                self.received += 1
                if self.received % self.sample == 0:
                    self.on_chat(parse_stamp(line.split(b" ", 3)[3][1:]))
                continue
            parts = line.split(b" ", 3)
            if parts[0] == b"PING":
                self.transport.write(b"PONG " + line[5:] + b"\r\n")  # type: ignore[union-attr]
            elif len(parts) >= 2 and parts[1] == b"PONG":
                self._confirm(10)
            elif len(parts) >= 2 and parts[1] == b"001":
                self.transport.write(b"JOIN #general\r\n")  # type: ignore[union-attr]
            elif len(parts) >= 2 and parts[1] == b"366" and not self.ready.done():  # end of NAMES
                self.ready.set_result(None)

    def send_chat(self, seq: int) -> None:
        self.outstanding += 1
        out = f"PRIVMSG #general :{stamp()}\r\n"
        if seq % 10 == 9:
            out += f"PING :{seq}\r\n"
        self.transport.write(out.encode())  # type: ignore[union-attr]


class RedisAdapter(Adapter):
    """RESP3, so that one connection both subscribes and publishes. PUBLISH's integer reply
    is the confirmation; a delivery is a push whose payload is the fourth line after
    `message`."""

    def __init__(self, name: str, on_chat: OnChat, sample: int = 1) -> None:
        super().__init__(on_chat, sample)
        self.buf = b""
        self.payload_in = 0  # lines until the payload of the push being read

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.transport.write(b"HELLO 3\r\nSUBSCRIBE " + ROOM.encode() + b"\r\n")  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        lines = (self.buf + data).split(b"\r\n")
        self.buf = lines.pop()
        for line in lines:
            if self.payload_in:
                self.payload_in -= 1
                if not self.payload_in:
                    self.received += 1
                    if self.received % self.sample == 0:
                        self.on_chat(parse_stamp(line))
            elif line == b"message":
                self.payload_in = 4
            elif line[:1] == b":" and self.outstanding:  # integers before the first PUBLISH are handshake
                self._confirm()
            elif line == b"subscribe" and not self.ready.done():
                self.ready.set_result(None)

    def send_chat(self, seq: int) -> None:
        self.outstanding += 1
        text = stamp().encode()
        self.transport.write(b"*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"  # type: ignore[union-attr]
                             % (len(ROOM), ROOM.encode(), len(text), text))


ADAPTERS: dict[str, type[Adapter]] = {"PyRTC": PyrtcAdapter, "PyRTC (TLS)": PyrtcAdapter,
                                      "thread-per-client": BaselineAdapter, "ngircd (C IRC)": IrcAdapter,
                                      "Redis (C pub/sub)": RedisAdapter}


def client_ssl(system: str) -> ssl.SSLContext | None:
    if not system.endswith("(TLS)"):
        return None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
