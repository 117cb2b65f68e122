"""A `pyrtc server` process on 127.0.0.1 for each test that asks (the root conftest's `server`
is an in-process one: the CLI tests want the real command)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .procs import Server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path)
    yield srv
    if srv.proc.poll() is None:
        srv.stop()
