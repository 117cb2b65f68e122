"""Files survive a host change, in one process on 127.0.0.1: the new host fetches a body it
lacks from a peer that keeps it (it downloaded it), and says of a body nobody kept that it
is no longer available."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyrtc.client import Rejected
from pyrtc.protocol.codes import ErrorCode
from tests.continuity.test_handover import Peer, chat

__all__ = ["chat"]  # the fixture, shared with test_handover


async def _upload(peer: Peer, tmp: Path, name: str, data: bytes) -> str:
    path = tmp / name
    path.write_bytes(data)
    seq = await peer.session.upload("General", path)
    msg = peer.session.state.rooms["General"].by_seq[seq]
    assert msg.file is not None
    return msg.file.blob_id


async def test_a_body_the_new_host_lacks_comes_from_a_peer_that_kept_it(chat: list[Peer], tmp_path: Path) -> None:
    ann, bob, cy = chat
    kept = os.urandom(300_000)  # several chunks
    lost = os.urandom(1000)
    kept_id = await _upload(ann, tmp_path, "kept.bin", kept)
    lost_id = await _upload(ann, tmp_path, "lost.bin", lost)
    got = await cy.session.download(kept_id, tmp_path / "cy-kept.bin")  # cy keeps a copy: only of this one
    assert got.read_bytes() == kept
    for p in (bob, cy):
        await p.session.wait_for(lambda s: len(s.rooms["General"].messages) == 2, timeout=10)
    await ann.continuity.quit()
    await ann.session.close()
    assert bob.continuity.hosted is not None  # the successor by the rule; it never downloaded either
    await cy.session.wait_for(lambda s: s.host == bob.session.identity.uid and s.connection == "connected",
                              timeout=10)
    blobs = bob.continuity.hosted.server.blobs
    assert not blobs.has(kept_id) and not blobs.has(lost_id)  # the bodies left with ann
    got = await bob.session.download(kept_id, tmp_path / "bob-kept.bin")
    assert got.read_bytes() == kept  # fetched from cy, checked, served
    assert blobs.has(kept_id)
    for p in (bob, cy):
        with pytest.raises(Rejected) as gone:
            await p.session.download(lost_id, tmp_path / f"{p.name}-lost.bin")
        assert gone.value.code == ErrorCode.FILE_GONE
        assert "no longer available" in str(gone.value)
    # The chat goes on, and a body fetched once is served from the new host from now on.
    got = await cy.session.download(kept_id, tmp_path / "cy-kept-again.bin")
    assert got.read_bytes() == kept
