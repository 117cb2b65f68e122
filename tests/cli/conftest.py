"""A `pyrtc server` process on 127.0.0.1 for each test that asks (the root conftest's `server`
is an in-process one: the CLI tests want the real command), and a tmux of the test's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .procs import Server, Tmux


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path)
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = Tmux(tmp_path)
    yield t
    t.close()
