"""What the attack tests share: chat.log's lines as `pyrtc server` writes them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pyrtc.server import chatlog


@pytest.fixture
def chat_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    chatlog.attach(lines.append)
    yield lines
    chatlog.attach(None)
