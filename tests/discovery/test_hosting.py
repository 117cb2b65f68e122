"""host_server (the window's Host here, find_or_host's hosting): a busy port is no reason not
to host. No announcement (addresses None), so no mDNS and no namespace needed."""

from __future__ import annotations

import socket
from pathlib import Path

from pyrtc.client import ClientSession
from pyrtc.discovery import host_server

from ..conftest import server_config


async def test_a_busy_port_hosts_on_a_free_one(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        cfg = server_config(tmp_path / "data", port=taken)
        hosted = await host_server(cfg, None)
        try:
            port = hosted.server.address[1]
            assert port != taken and hosted.instance is None  # not announced
            async with ClientSession("127.0.0.1", port, "amy") as amy:
                await amy.join("General")
                assert amy.state.server == "test server"
        finally:
            await hosted.close()
