"""The `pyrtc` command as a process: one-shot runs, and a server on 127.0.0.1 (not announced)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

__all__ = ["PYRTC", "Server", "run", "tail_json"]

PYRTC = [sys.executable, "-m", "pyrtc"]


def run(*args: str, stdin: str | None = None, timeout: float = 30, log_dir: Path | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYRTC_LOG_DIR=str(log_dir)) if log_dir else None
    return subprocess.run([*PYRTC, *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, env=env)


class Server:
    def __init__(self, tmp: Path, *extra: str) -> None:
        self.logs = tmp / "logs"
        env = dict(os.environ, PYRTC_LOG_DIR=str(self.logs))
        self.proc = subprocess.Popen(
            [*PYRTC, "server", "--host", "127.0.0.1", "--port", "0", "--data-dir", str(tmp / "data"),
             "--name", "CLI test", "--no-announce", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"listening on (127\.0\.0\.1:\d+)", line)
        assert match, f"server did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}"
        self.address = match.group(1)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(sig)
        out, _ = self.proc.communicate(timeout=10)
        return self.proc.returncode, out


def tail_json(server: Server, room: str = "General", *extra: str) -> list[dict[str, object]]:
    r = run("tail", "--server", server.address, "--room", room, "--json", *extra)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()]
