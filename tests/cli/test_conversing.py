"""Direct messages, replies, edits, deletes and status from the terminal client and the
one-shot commands: real processes, a real server, each person their own installation."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .procs import PYRTC, Server
from .test_terminal import Chatter


def person(home: Path) -> dict[str, str]:
    """The environment of one installation: its own settings, so its own key."""
    return dict(os.environ, PYRTC_SETTINGS=str(home / "settings.json"), HOME=str(home))


def pyrtc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PYRTC, *args], capture_output=True, text=True, timeout=30, env=env)


def chatter(server: Server, name: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Chatter:
    monkeypatch.setenv("PYRTC_SETTINGS", str(home / "settings.json"))  # Chatter copies the environment
    return Chatter(server, name, home)


def test_send_to_and_tail_with_a_person(server: Server, tmp_path: Path) -> None:
    ann, bob, cy = (person(tmp_path / n) for n in ("ann", "bob", "cy"))
    at = ("--server", server.address)
    assert pyrtc(bob, "send", *at, "--room", "General", "--name", "bob", "hi all").returncode == 0
    sent = pyrtc(ann, "send", *at, "--to", "bob", "--name", "ann", "psst, bob")
    assert sent.returncode == 0, sent.stderr
    got = pyrtc(bob, "tail", *at, "--with", "ann", "--json")
    assert got.returncode == 0, got.stderr
    [line] = [json.loads(x) for x in got.stdout.splitlines()]
    assert (line["sender"], line["text"], line["room"].startswith("@")) == ("ann", "psst, bob", True)
    assert (line["reply_to"], line["edited"], line["deleted"]) == (0, 0, False)
    peek = pyrtc(cy, "tail", *at, "--room", line["room"])  # a third installation
    assert peek.returncode != 0 and "is a direct conversation of two other people" in peek.stderr
    assert "psst" not in peek.stdout
    both = pyrtc(ann, "send", *at, "--to", "bob", "--room", "General", "--name", "ann", "x")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


def test_terminal_direct_messages_replies_edits_deletes_and_status(
        server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ann = chatter(server, "ann", tmp_path / "ann", monkeypatch)
    bob = chatter(server, "bob", tmp_path / "bob", monkeypatch)
    try:
        ann.say("/msg bob lunch at 12?")
        ann.expect(r"^-- sent to @bob as #1; /switch @bob writes there$")
        bob.expect(r"^-- ann opened a direct conversation with you: /switch @ann$")
        bob.expect(r"^\d\d:\d\d \[@ann\] #1 ann: lunch at 12\?$")
        bob.say("/switch @ann")
        bob.expect(r"^-- writing to @ann$")
        bob.say("/reply last 12 is fine")
        ann.expect(r'^\d\d:\d\d \[@bob\] #2 bob: ↪ #1 ann: "lunch at 12\?" — 12 is fine$')
        ann.say("/switch @bob")
        ann.say("/edit 1 lunch at 12:30?")
        ann.expect(r"^-- edited #1$")
        bob.expect(r"^-- ann edited #1: \d\d:\d\d \[@ann\] #1 ann: lunch at 12:30\? \(edited\)$")
        bob.say("/edit 1 hijacked")
        bob.expect(r"^!! message 1 is ann's: only its sender may edit or delete it$")
        ann.say("/delete 1")
        ann.expect(r"^-- deleted #1 \(ann: lunch at 12:30\?\)$")
        bob.expect(r"^-- ann deleted #1 in \[@ann\]$")
        ann.say("/status busy in a meeting")
        ann.expect(r"^-- you are busy \(in a meeting\)$")
        bob.expect(r"^-- ann is busy · in a meeting$")
        ann.say("/status")
        bob.expect(r"^-- ann is available$")
    finally:
        assert ann.quit() == 0 and bob.quit() == 0
