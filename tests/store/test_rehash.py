"""A store from before protocol 2 (files named by SHA-256) is renamed to BLAKE3 ids at
start, crash-safely, and nothing shared is lost."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import blake3
import pytest

from pyrtc.client import ClientSession
from pyrtc.server import ChatServer
from pyrtc.store import BlobStore, Store, StoredFile
from pyrtc.store.rehash import MARKER, adopt_blake3_ids

from ..conftest import server_config


def old_store(root: Path) -> tuple[bytes, bytes]:
    """What a protocol-1 server left: a file and its thumbnail under SHA-256 names, a message
    pointing at both, and an unfinished upload."""
    body, thumb = os.urandom(300_000), b"\x89PNG not really"
    ids = []
    for data in (body, thumb):
        sha = hashlib.sha256(data).hexdigest()
        path = root / "files" / "blobs" / sha[:2] / sha
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        ids.append(sha)
    (root / "files" / "uploads").mkdir()
    (root / "files" / "uploads" / f"{'e' * 64}-99.part").write_bytes(b"half")
    store = Store(root / "history.db")
    store.append("General", "ann", "", cid="f1", file=StoredFile(ids[0], "report.pdf", len(body),
                                                                 "application/pdf", ids[1], 0, 0))
    store.close()
    return body, thumb


def b3(data: bytes) -> str:
    return blake3.blake3(data).hexdigest()


def test_old_files_are_renamed_and_the_history_follows(tmp_path: Path) -> None:
    body, thumb = old_store(tmp_path)
    blobs, store = BlobStore(tmp_path / "files"), Store(tmp_path / "history.db")
    assert adopt_blake3_ids(blobs, store) == 2
    (msg,), _ = store.history("General", limit=10)
    assert msg.file is not None
    assert (msg.file.blob_id, msg.file.thumb_id) == (b3(body), b3(thumb))
    assert blobs.path(b3(body)).read_bytes() == body and blobs.path(b3(thumb)).read_bytes() == thumb
    assert store.file_readable(b3(body), "ann", []) and store.file_readable(b3(thumb), "ann", [])
    assert not store.file_readable(hashlib.sha256(body).hexdigest(), "ann", [])
    left = {q.name for q in (tmp_path / "files").rglob("*") if q.is_file()}
    assert left == {b3(body), b3(thumb), MARKER}  # old names and the stale .part are gone
    assert adopt_blake3_ids(blobs, store) == 0  # once only


def test_a_crash_in_the_middle_is_finished_by_the_next_start(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    body, _ = old_store(tmp_path)
    blobs, store = BlobStore(tmp_path / "files"), Store(tmp_path / "history.db")

    def crash(renames: dict[str, str]) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(store, "rename_blobs", crash)
    with pytest.raises(OSError):
        adopt_blake3_ids(blobs, store)
    monkeypatch.undo()
    assert blobs.path(hashlib.sha256(body).hexdigest()).read_bytes() == body  # still reachable
    assert not (tmp_path / "files" / MARKER).exists()
    store.close()
    store = Store(tmp_path / "history.db")
    assert adopt_blake3_ids(blobs, store) == 2
    (msg,), _ = store.history("General", limit=10)
    assert msg.file is not None and blobs.path(msg.file.blob_id).read_bytes() == body


async def test_an_upgraded_server_serves_the_old_file(tmp_path: Path) -> None:
    body, _ = old_store(tmp_path / "d")
    async with ChatServer(server_config(tmp_path / "d")) as srv:
        async with ClientSession(*srv.address, "bob") as bob:
            await bob.join("General")
            (view,) = bob.state.rooms["General"].messages
            assert view.file is not None and view.file.blob_id == b3(body)
            out = await bob.download(view.file.blob_id, tmp_path / "got.pdf")
            assert out.read_bytes() == body
