"""chat.log lines: straight to the attached file, or through logging when none is."""

from __future__ import annotations

import logging
import re
import time

import pytest

from pyrtc.server import chatlog


def test_lines_go_to_the_sink_with_the_logging_timestamp_format() -> None:
    got: list[str] = []
    chatlog.attach(got.append)
    try:
        before = time.time()
        chatlog.line("join room=%s name=%s", "General", "ann")
        chatlog.line("leave room=%s name=%s", "General", "ann")
        after = time.time()
    finally:
        chatlog.attach(None)
    assert len(got) == 2
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} join room=General name=ann\n", got[0])
    # Local time, to the second: between the clock read before and after, however long that took.
    stamp = time.mktime(time.strptime(got[1][:19], "%Y-%m-%d %H:%M:%S"))
    assert int(before) <= stamp <= after


def test_without_a_sink_lines_are_log_records(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "pyrtc.chat")
    chatlog.line("message room=%s seq=%d from=%s", "General", 7, "bob")
    assert [(r.name, r.getMessage()) for r in caplog.records] == [("pyrtc.chat", "message room=General seq=7 from=bob")]
