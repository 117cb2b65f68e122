"""Identity from the command line, as users run it: real server and CLI processes, each
user with their own settings folder (so their own key)."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
from pathlib import Path

from pyrtc.client import ClientSession, Identity
from pyrtc.client.identity import KEY_FILE

from ..cli.procs import PYRTC, Server


def as_user(settings: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYRTC_SETTINGS=str(settings / "settings.json"), PYRTC_LOG_DIR=str(settings / "logs"))
    return subprocess.run([*PYRTC, *args], input=stdin, capture_output=True, text=True, timeout=30, env=env)


def send(settings: Path, server: Server, name: str, text: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return as_user(settings, "send", "--server", server.address, "--room", "General", "--name", name, *extra, text)


def test_one_shot_commands_use_the_installations_key_and_names_stay_theirs(tmp_path: Path) -> None:
    alice, mallory = tmp_path / "alice", tmp_path / "mallory"
    server = Server(tmp_path / "srv")
    try:
        assert send(alice, server, "Alice", "hi").returncode == 0
        assert stat.S_IMODE((alice / KEY_FILE).stat().st_mode) == 0o600
        assert stat.S_IMODE(alice.stat().st_mode) == 0o700
        r = send(mallory, server, "Alice", "it's me, Alice")  # another installation: another key
        assert r.returncode == 1 and "the name 'Alice' belongs to someone else" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert send(alice, server, "Alice", "me again").returncode == 0  # one-shot, same key
        r = as_user(mallory, "tail", "--server", server.address, "--room", "General", "--json")
        assert [json.loads(line)["text"] for line in r.stdout.splitlines()] == ["hi", "me again"]
    finally:
        server.stop()


async def _lock_a_room(server: Server, alice: Identity) -> None:
    host, port = server.address.rsplit(":", 1)
    async with ClientSession(host, int(port), "Alice", identity=alice) as s:
        await s.create_room("Vault", password="sesame")
        await s.send("Vault", "the code is 1234")


def test_release_name_frees_it_and_its_locked_rooms(tmp_path: Path) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    server = Server(tmp_path / "srv")
    data = tmp_path / "srv" / "data"
    try:
        asyncio.run(_lock_a_room(server, Identity.load_or_create(alice)))  # Alice's installation
        r = as_user(alice, "server", "--data-dir", str(data), "--release-name", "alice")  # server running
        assert r.returncode == 0, r.stderr
        assert "freed the name 'Alice'" in r.stdout and "locked rooms Vault" in r.stdout
        assert send(bob, server, "Alice", "mine now").returncode == 0  # the running server sees it
        r = as_user(bob, "tail", "--server", server.address, "--room", "Vault", "--name", "Alice")
        assert r.returncode == 1 and "'Vault' needs its password" in r.stderr and "1234" not in r.stdout
        r = send(alice, server, "Alice", "hey")  # ... and it is Bob's now
        assert r.returncode == 1 and "belongs to someone else" in r.stderr
        r = as_user(alice, "server", "--data-dir", str(data), "--release-name", "Nobody")
        assert r.returncode == 1 and "no one holds the name 'Nobody'" in r.stderr
        r = as_user(alice, "server", "--data-dir", str(tmp_path / "nothing"), "--release-name", "Alice")
        assert r.returncode == 1 and "no server data in" in r.stderr
    finally:
        server.stop()


def test_insecure_says_on_both_sides_that_names_are_not_protected(tmp_path: Path) -> None:
    server = Server(tmp_path / "srv", "--insecure")
    try:
        r = send(tmp_path / "ann", server, "ann", "hi", "--insecure")
        assert r.returncode == 0, r.stderr
        assert "TLS is off" in r.stderr and "name is not protected" in r.stderr
    finally:
        _, _ = server.stop()
    log = (tmp_path / "srv" / "logs" / "pyrtc-server.log").read_text()
    assert "TLS is off" in log and "names are not protected" in log
