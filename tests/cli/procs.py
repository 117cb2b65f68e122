"""The `pyrtc` command as a process: one-shot runs, a server on 127.0.0.1 (not announced), and
the terminal client on a real terminal (tmux)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = ["PYRTC", "Server", "Tmux", "last", "run", "tail_json"]

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


class Tmux:
    """A tmux server of our own (its own socket) whose panes run `pyrtc --no-gui`."""

    def __init__(self, tmp: Path) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("needs tmux (apt tmux), installed by scripts/test.sh")
        self.socket = f"pyrtc-test-{os.getpid()}-{time.monotonic_ns()}"
        self.tmp = tmp
        conf = tmp / "tmux.conf"
        conf.write_text("set -g remain-on-exit on\nset -g history-limit 2000\n")
        self.conf = str(conf)

    def tmux(self, *args: str) -> str:
        r = subprocess.run(["tmux", "-L", self.socket, "-f", self.conf, *args], capture_output=True,
                           text=True, timeout=15)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def start(self, name: str, command: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "TMUX"))}
        home = self.tmp / name
        home.mkdir(exist_ok=True)
        env.update(HOME=str(home), PYRTC_LOG_DIR=str(home / "logs"))
        # -e: the pane's environment (the server's own is the first client's, ours).
        extra = [a for k in ("HOME", "PYRTC_LOG_DIR", "PYRTC_SETTINGS") if k in env for a in ("-e", f"{k}={env[k]}")]
        subprocess.run(["tmux", "-L", self.socket, "-f", self.conf, "new-session", "-d", "-s", name,
                        "-x", "110", "-y", "30", *extra, command], env=env, check=True, timeout=15)

    def keys(self, name: str, text: str, enter: bool = False) -> None:
        self.tmux("send-keys", "-t", name, "-l", text)
        if enter:
            self.tmux("send-keys", "-t", name, "Enter")

    def screen(self, name: str) -> list[str]:
        return [line.rstrip() for line in self.tmux("capture-pane", "-p", "-t", name).splitlines()]

    def wait(self, name: str, pred: Callable[[list[str]], bool], what: str, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.screen(name)
            if pred(lines):
                return lines
            if time.monotonic() > deadline:
                raise AssertionError(f"{name}: no {what} on screen:\n" + "\n".join(lines))
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=15)


def last(lines: list[str]) -> str:
    """The line the cursor is on: the last one that is not empty."""
    return next((line for line in reversed(lines) if line.strip()), "")
