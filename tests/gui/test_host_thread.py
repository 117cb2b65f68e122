"""The server the window hosts on its own thread, adopted by the session (Continuity.adopt): the
session hands its chat on and closes it on that thread, once; at exit the window's own
hand-over and close then find nothing to do, and neither raises nor hangs (no window needed:
a real HostThread, a real server on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import pytest

from pyrtc.client import ClientSession, Identity
from pyrtc.discovery import AnnouncedServer
from pyrtc.discovery.continuity import Continuity
from pyrtc.gui.hosting import HostThread
from tests.conftest import server_config


def refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def peer(tmp: Path, name: str) -> Continuity:
    session = ClientSession("127.0.0.1", 0, name, identity=Identity.generate())
    return Continuity(session, name=name, can_host=True, port=0, announce=None, on_line=print, root=tmp / name)


async def test_a_server_the_session_handed_on_is_not_handed_over_or_closed_again_at_exit(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    host = HostThread()
    try:
        hosted = await host.start(server_config(tmp_path / "server"), None)
        port = hosted.server.address[1]
        carol = peer(tmp_path, "carol")
        assert host.hosted is hosted and carol.adopt(hosted, host.on_host)
        await carol.quit()  # its chat handed on (nobody could take it) and closed, on the host thread
        assert hosted.closed and host.hosted is None and refused(port)
        assert not peer(tmp_path, "carol2").adopt(hosted, host.on_host)  # a new name: nothing to adopt
        async with asyncio.timeout(30):  # a safety net: each returns at once
            await asyncio.to_thread(host.hand_over)
            await asyncio.to_thread(host.close)
            await asyncio.to_thread(host.close)
        assert caplog.messages.count("stopped") == 1
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    finally:
        host.close()


async def test_closed_twice_at_once_it_raises_nothing_and_its_chat_is_nobodys_to_hand_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="pyrtc.server.app")
    hosted = AnnouncedServer(server_config(tmp_path / "server"), None)
    await hosted.start()
    port = hosted.server.address[1]
    async with asyncio.timeout(30):  # a safety net: a yield's close and the window's exit, together
        await asyncio.gather(hosted.close(), hosted.close())
    assert refused(port) and caplog.messages.count("stopped") == 1  # closed to the end, once
    assert hosted.closed and hosted.left and not hosted.leave()
