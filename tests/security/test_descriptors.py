"""Running out of file descriptors: `pyrtc server` (a real process, with a low
RLIMIT_NOFILE) says so once, stops accepting for a moment instead of spinning, and keeps
serving the connections it has; at start it raises its own soft limit to the hard one."""

from __future__ import annotations

import asyncio
import re
import resource
import socket
import sys
from pathlib import Path

from pyrtc.client import ClientSession

FLOOD = 300  # connections that never start TLS: several times what the server can hold


class ServerProcess:
    """`pyrtc server` in a child process with the given open-files limits."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.stderr = bytearray()
        assert proc.stderr is not None
        self._drain = asyncio.ensure_future(self._collect(proc.stderr))

    async def _collect(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.stderr += chunk

    @classmethod
    async def start(cls, tmp: Path, soft: int, hard: int, *extra: str) -> ServerProcess:
        def limits() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "pyrtc", "server", "--host", "127.0.0.1", "--port", "0", "--no-announce",
            "--data-dir", str(tmp / "data"), "--log-dir", str(tmp / "logs"), "--name", "fd test", *extra,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, preexec_fn=limits)
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode()
        match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        assert match, f"no server: {line!r}"
        return cls(proc, int(match.group(1)))

    async def stop(self) -> str:
        if self.proc.returncode is None:
            self.proc.terminate()
        async with asyncio.timeout(30):
            await self.proc.wait()
            await self._drain
        return self.stderr.decode(errors="replace")


async def test_out_of_descriptors_is_said_once_and_everyone_connected_keeps_chatting(tmp_path: Path) -> None:
    srv = await ServerProcess.start(tmp_path, 64, 64, "--max-per-address", "0")
    flood: list[socket.socket] = []
    try:
        async with ClientSession("127.0.0.1", srv.port, "ann") as ann, \
                ClientSession("127.0.0.1", srv.port, "bob") as bob:
            await ann.join("General")
            await bob.join("General")
            loop = asyncio.get_running_loop()
            for _ in range(FLOOD):  # the kernel queues what the server cannot accept
                s = socket.socket()
                s.setblocking(False)
                await loop.sock_connect(s, ("127.0.0.1", srv.port))
                flood.append(s)
            async with asyncio.timeout(30):
                while b"too many connections" not in srv.stderr:
                    await asyncio.sleep(0.05)
            # Out of descriptors, and those connected are served as before.
            for i in range(20):
                seq = await ann.send("General", f"still here {i}")
                await bob.wait_for(lambda s, seq=seq: s.rooms["General"].last_seq == seq)  # type: ignore[misc]
            for s in flood:
                s.close()
            flood.clear()
            # The server accepts again once descriptors are free.
            async with ClientSession("127.0.0.1", srv.port, "cat", connect_timeout=30) as cat:
                await cat.join("General")
                seq = await cat.send("General", "made it")
                await ann.wait_for(lambda s: s.rooms["General"].last_seq == seq)
    finally:
        for s in flood:
            s.close()
        stderr = await srv.stop()
    assert stderr.count("too many connections") == 1, stderr[-3000:]
    assert "Traceback" not in stderr, stderr[-3000:]
    assert len(stderr) < 2000, stderr[-3000:]


async def test_the_server_raises_its_soft_open_files_limit(tmp_path: Path) -> None:
    hard = min(4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    srv = await ServerProcess.start(tmp_path, 128, hard)
    try:
        limits = Path(f"/proc/{srv.proc.pid}/limits").read_text()
        row = next(line for line in limits.splitlines() if line.startswith("Max open files"))
        assert row.split()[3:5] == [str(hard), str(hard)], row
    finally:
        await srv.stop()
