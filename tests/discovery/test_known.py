"""Remembered servers are trusted by server id, never by display name (issue 17): clones and
default host names share names, not identities. Real server processes on 127.0.0.1 (no
mDNS: --no-announce, --server), real CLI processes, a real servers.json."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from pyrtc.discovery import KnownServers

from ..cli.test_cli import PYRTC, Server


def cli(settings: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI of one user: their own settings and remembered servers."""
    env = dict(os.environ, PYRTC_SETTINGS=str(settings), PYRTC_LOG_DIR=str(settings.parent / "logs"))
    return subprocess.run([*PYRTC, *args], capture_output=True, text=True, timeout=30, env=env)


def texts(settings: Path, server: Server) -> list[str]:
    r = cli(settings, "tail", "--server", server.address, "--room", "General", "--json")
    assert r.returncode == 0, r.stderr
    return [json.loads(line)["text"] for line in r.stdout.splitlines()]


def server_in(tmp: Path, *, copy_id_of: Path | None = None) -> Server:
    """A server named "Clone" with its own data dir (its own certificate); with `copy_id_of`,
    that server's id file is copied in first, so it claims the other one's id."""
    if copy_id_of is not None:
        (tmp / "data").mkdir(parents=True)
        shutil.copy(copy_id_of / "data" / "server-id", tmp / "data" / "server-id")
    return Server(tmp, "--name", "Clone")


def test_same_name_other_id_is_not_an_impersonation(tmp_path: Path) -> None:
    me = tmp_path / "me" / "settings.json"
    checker = tmp_path / "checker" / "settings.json"
    a = server_in(tmp_path / "a")
    b = server_in(tmp_path / "b")
    c = server_in(tmp_path / "c", copy_id_of=tmp_path / "a")  # a's id, another certificate
    try:
        r = cli(me, "send", "--server", a.address, "--room", "General", "--name", "ann", "to a")
        assert r.returncode == 0, r.stderr
        # Another server that merely shares the display name: no alarm, it just works.
        r = cli(me, "send", "--server", b.address, "--room", "General", "--name", "ann", "to b")
        assert r.returncode == 0, r.stderr
        assert "DIFFERENT" not in r.stderr and "impersonat" not in r.stderr
        # The id we know, with a different certificate: refused loudly, nothing sent.
        r = cli(me, "send", "--server", c.address, "--room", "General", "--name", "ann", "to c")
        assert r.returncode == 1
        assert "DIFFERENT identity" in r.stderr and "impersonating" in r.stderr, r.stderr
        # ... and the refusal did not unsettle what we trust: a and b still work.
        for server, text in ((a, "again a"), (b, "again b")):
            r = cli(me, "send", "--server", server.address, "--room", "General", "--name", "ann", text)
            assert r.returncode == 0, r.stderr
        assert texts(checker, a) == ["to a", "again a"]
        assert texts(checker, b) == ["to b", "again b"]
        # (its own settings: the checker has pinned a's id)
        assert texts(tmp_path / "checker-c" / "settings.json", c) == []
        known = {e.server_id: e for e in KnownServers(me.with_name("servers.json")).entries()}
        assert len(known) == 2 and {e.name for e in known.values()} == {"Clone"}
    finally:
        for s in (a, b, c):
            if s.proc.poll() is None:
                s.stop()


def test_trusting_a_new_identity_forgets_only_that_server_id(tmp_path: Path) -> None:
    path = tmp_path / "servers.json"
    known = KnownServers(path)
    known.remember(server_id="a" * 32, name="Clone", host="10.0.0.1", port=47474, fingerprint="1" * 64)
    known.remember(server_id="b" * 32, name="Clone", host="10.0.0.2", port=47474, fingerprint="2" * 64)
    # The user accepts b's new certificate (the window's "I trust the new identity").
    known.trust(server_id="b" * 32, name="Clone", host="10.0.0.2", port=47474, fingerprint="3" * 64)
    again = KnownServers(path)  # from the file
    assert again.pinned(server_id="a" * 32, name="Clone") == "1" * 64
    assert again.pinned(server_id="b" * 32, name="Clone") == "3" * 64
    # A server never seen: the shared name pins nothing, nor does a known server's address.
    assert again.pinned(server_id="c" * 32, name="Clone", host="10.0.0.1", port=47474) is None


def test_address_is_a_hint_only_for_a_server_remembered_without_an_id(tmp_path: Path) -> None:
    known = KnownServers(tmp_path / "servers.json")
    known.remember(server_id="", name="Old", host="10.0.0.9", port=47474, fingerprint="9" * 64)
    assert known.pinned(server_id="d" * 32, host="10.0.0.9", port=47474) == "9" * 64
    assert known.pinned(server_id="d" * 32, host="10.0.0.9", port=1) is None
    # Identified at last: the id-less entry is replaced by the server's own.
    known.remember(server_id="d" * 32, name="Old", host="10.0.0.9", port=47474, fingerprint="9" * 64)
    assert [(e.server_id, e.fingerprint) for e in known.entries()] == [("d" * 32, "9" * 64)]
