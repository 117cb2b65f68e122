"""A file uploaded through one server of the chat downloads through another, byte-identical."""

from __future__ import annotations

import os
from pathlib import Path

from ..conftest import ClientFactory
from .conftest import ServerFactory


async def test_a_file_uploaded_via_one_server_downloads_via_another(
        chat_server: ServerFactory, connect: ClientFactory, tmp_path: Path) -> None:
    a, b = await chat_server("a"), await chat_server("b")
    ann, bob = await connect("ann", a), await connect("bob", b)
    await ann.join("General")
    await bob.join("General")
    body = os.urandom(3 * 1024 * 1024 + 17)  # several chunks, and an odd end
    src = tmp_path / "report.bin"
    src.write_bytes(body)
    seq = await ann.upload("General", src)
    await bob.wait_for(lambda s: seq in s.rooms["General"].by_seq, timeout=30)
    info = bob.state.rooms["General"].by_seq[seq].file
    assert info is not None and info.name == "report.bin"
    assert not b.blobs.has(info.blob_id)  # B never received it from a client
    got = await bob.download(info.blob_id, tmp_path / "got.bin")
    assert got.read_bytes() == body
    assert b.blobs.has(info.blob_id)  # kept: the next download is served from B's disk
