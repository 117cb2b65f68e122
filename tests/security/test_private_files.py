"""What PyRTC keeps on disk is for its user alone (issue 16, item 16): history.db and chat.log
(which holds the text of locked rooms) used to be 0644, readable by every account on the
machine. Now each folder is 0700 and each file 0600, whatever the umask, after a real run
with chat, uploads, an unfinished upload and a rotated chat.log; folders from before are
tightened at start, and the log says so once."""

from __future__ import annotations

import asyncio
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import blake3
import pytest
from PIL import Image

import pyrtc.protocol as p
from pyrtc.protocol import limits as L
from pyrtc.server import ChatServer

from ..cli.procs import Server, run
from ..conftest import server_config
from .raw import RawClient


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask (files 0644 unless made private): the processes started inherit it."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def modes(root: Path) -> dict[str, int]:
    """Every folder and file under `root` (and root itself, as "."): its permission bits."""
    out = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        out[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return out


def not_private(root: Path) -> dict[str, str]:
    return {name: oct(mode) for name, mode in modes(root).items()
            if mode != (0o700 if (root / name).is_dir() else 0o600)}


def a_picture() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


async def leave_an_unfinished_upload(address: str) -> None:
    host, port = address.split(":")
    data = os.urandom(2 * L.CHUNK_SIZE)
    raw = await RawClient.open((host, int(port)), "eve", "General")
    blob = blake3.blake3(data).hexdigest()
    raw.send(p.OfferFile(room="General", cid="half", name="half.bin", size=len(data), blob_id=blob, rid=1))
    assert isinstance(await raw.answer(1), p.UploadReady)
    raw.send(p.FileChunk(blob_id=blob, offset=0, data=data[:L.CHUNK_SIZE]))
    await raw.drained()
    raw.abort()


async def test_every_file_and_folder_of_a_real_run_is_private(tmp_path: Path, umask_022: None) -> None:
    settings = Path(os.environ["PYRTC_SETTINGS"]).parent  # the test's own (tests/conftest.py)
    srv = Server(tmp_path, "--max-rate", "0")
    client_logs = tmp_path / "client-logs"
    where = ("--server", srv.address, "--room", "General")
    try:
        # chat.log rotates at 5 MB: 2,600 lines of 2,000 characters (as much text as a line keeps).
        lines = "".join(f"{i} {'s' * 2000}\n" for i in range(2600))
        r = run("send", *where, "--name", "ann", stdin=lines, timeout=120, log_dir=client_logs)
        assert r.returncode == 0, r.stderr
        picture = tmp_path / "red.png"
        picture.write_bytes(a_picture())
        r = run("upload", *where, "--name", "ann", str(picture), log_dir=client_logs)
        assert r.returncode == 0, r.stderr
        await leave_an_unfinished_upload(srv.address)
        r = await asyncio.to_thread(run, "--no-gui", "--server", srv.address, "--name", "bob", stdin="hi\n/quit\n",
                                    log_dir=client_logs)  # the terminal client saves its name
        assert r.returncode == 0, r.stderr

        data, logs = tmp_path / "data", srv.logs
        running = modes(data)
        for name in ("history.db", "history.db-wal", "history.db-shm", "server-id", "tls-key.pem", "tls-cert.pem",
                     "files", "files/blobs", "files/uploads"):
            assert name in running, sorted(running)
        assert sum(n.startswith("files/blobs/") for n in running) >= 4  # picture and thumbnail, their folders
        assert any(n.endswith(".part") for n in running)
        assert not_private(data) == {}
        assert {"chat.log", "chat.log.1", "pyrtc-server.log"} <= set(modes(logs))
        assert not_private(logs) == {}
    finally:
        status, _ = srv.stop()
    assert status == 0
    assert not_private(data) == {}
    assert not_private(logs) == {}
    assert {"pyrtc-client.log"} <= set(modes(client_logs))
    assert not_private(client_logs) == {}
    assert {"settings.json", "servers.json", "identity-key.pem", "identity-cert.pem"} <= set(modes(settings))
    assert not_private(settings) == {}


def test_a_data_dir_and_logs_from_before_are_tightened_at_start_once(tmp_path: Path, umask_022: None) -> None:
    Server(tmp_path).stop()
    data, logs = tmp_path / "data", tmp_path / "logs"
    for root in (data, logs):
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)  # as a version before this one left them
    srv = Server(tmp_path)
    try:
        assert not_private(data) == {}
        assert not_private(logs) == {}
    finally:
        srv.stop()
    Server(tmp_path).stop()  # nothing left to tighten: nothing said
    said = [line for line in (logs / "pyrtc-server.log").read_text().splitlines() if "readable by others" in line]
    assert len(said) == 2, said  # the data dir and the log folder, once each
    assert any(str(data) in line for line in said) and any(str(logs) in line for line in said)


async def test_a_server_hosted_in_process_leaves_the_umask_alone(tmp_path: Path, umask_022: None) -> None:
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        assert not_private(srv.config.data_dir) == {}
        assert os.umask(0o022) == 0o022  # how a client's downloads are created is not ours to change
        (tmp_path / "download").write_bytes(b"x")
        assert stat.S_IMODE((tmp_path / "download").stat().st_mode) == 0o644


async def test_a_folder_a_user_names_keeps_what_is_not_ours(tmp_path: Path, umask_022: None) -> None:
    """`--data-dir /tmp` must not close /tmp, nor `--data-dir ~` take the x bit from the user's
    programs: in a folder the user names, only what PyRTC keeps there is made private."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # what /tmp is
    script = shared / "theirs.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    (shared / "folder").mkdir()
    async with ChatServer(server_config(shared)):
        pass
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    assert stat.S_IMODE(script.stat().st_mode) == 0o755
    assert stat.S_IMODE((shared / "folder").stat().st_mode) == 0o755
    assert {n: oct(m) for n, m in modes(shared).items() if n.startswith(("history", "files", "tls", "server"))
            and m != (0o700 if (shared / n).is_dir() else 0o600)} == {}
    assert (shared / "history.db").exists() and (shared / "files" / "blobs").is_dir()
