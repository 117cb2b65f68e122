"""Issue 17: a command never waits silently on a terminal. Before a connection that may take a
while (an address where nobody answers: seconds of ARP), one line on stderr says where it goes:
"connecting to HOST:PORT…". Only on a terminal: stdout, which scripts read, stays exactly the
output, and a redirected stderr gets nothing more. Real `pyrtc` processes, stderr a real pty."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import time
from collections.abc import Callable

from .procs import PYRTC, Server, Tmux, run


class OnTerminal:
    """`pyrtc ARGS` with stderr on a pseudo-terminal (a person's screen) and stdout a pipe."""

    def __init__(self, *args: str) -> None:
        master, slave = pty.openpty()
        self.proc = subprocess.Popen([*PYRTC, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=slave, text=True)
        os.close(slave)
        self._master = master
        self.screen = ""

    def read_until(self, pred: Callable[[str], bool], timeout: float = 30) -> str:
        """What the terminal shows once `pred` holds (or the process has closed it)."""
        deadline = time.monotonic() + timeout
        while not pred(self.screen):
            assert time.monotonic() < deadline, f"the terminal shows only {self.screen!r}"
            ready, _, _ = select.select([self._master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(self._master, 4096)
                except OSError:  # EIO: every end of the terminal is closed
                    data = b""
                if not data:
                    break
                self.screen += data.decode(errors="replace")
        return self.screen

    def finish(self) -> tuple[int, str, str]:
        """Exit status, stdout, and everything the terminal showed."""
        out, _ = self.proc.communicate(timeout=30)
        self.read_until(lambda _: False)
        os.close(self._master)
        return self.proc.returncode, out, self.screen


def test_a_connect_that_waits_says_where_it_goes_first() -> None:
    # A port that takes the connection and never answers it: the wait is the client's.
    silent = socket.create_server(("127.0.0.1", 0), backlog=4)
    port = silent.getsockname()[1]
    term = OnTerminal("tail", "--server", f"127.0.0.1:{port}", "--room", "General", "--json")
    try:
        term.read_until(lambda s: "connecting to" in s)
    finally:
        silent.close()  # now the connection is dropped: the client fails, and says so
    code, out, screen = term.finish()
    assert code == 1 and out == "", (code, out, screen)
    lines = [line for line in screen.replace("\r", "").split("\n") if line]
    assert lines[0] == f"pyrtc: connecting to 127.0.0.1:{port}…", lines
    assert len(lines) == 2 and lines[1].startswith("pyrtc: ") and str(port) in lines[1], lines


def test_the_line_stays_off_stdout_and_off_a_redirected_stderr(server: Server) -> None:
    r = run("send", "--server", server.address, "--room", "General", "--name", "ann", "hello")
    assert r.returncode == 0 and "connecting" not in r.stderr, r.stderr  # a script's stderr: quiet
    term = OnTerminal("tail", "--server", server.address, "--room", "General", "--json")
    code, out, screen = term.finish()
    assert code == 0, screen
    assert screen.replace("\r", "") == f"pyrtc: connecting to {server.address}…\n"
    assert [json.loads(line)["text"] for line in out.splitlines()] == ["hello"]  # stdout: the JSON only


def test_the_terminal_chat_says_where_it_connects(tmux: Tmux) -> None:
    """`pyrtc --no-gui` on a terminal: its line editor writes the line, as its other news."""
    silent = socket.create_server(("127.0.0.1", 0), backlog=4)
    port = silent.getsockname()[1]
    try:
        tmux.start("ann", f"{' '.join(PYRTC)} --no-gui --name ann --server 127.0.0.1:{port}")
        tmux.wait("ann", lambda s: f"-- connecting to 127.0.0.1:{port}…" in s, "the connecting line")
    finally:
        silent.close()
    said = [line for line in tmux.wait("ann", lambda s: any(line.startswith("pyrtc: ") for line in s),
                                       "the refusal") if line]
    refusal = next(i for i, line in enumerate(said) if line.startswith("pyrtc: "))
    assert said.index(f"-- connecting to 127.0.0.1:{port}…") < refusal, said
