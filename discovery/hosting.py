"""A chat server plus its mDNS announcement, started and stopped as one."""

from __future__ import annotations

import logging

from pyrtc.server import ChatServer, ServerConfig

from .announce import Announcer

__all__ = ["AnnouncedServer"]

log = logging.getLogger(__name__)


class AnnouncedServer:
    """`addresses=None`: no announcement (--no-announce)."""

    def __init__(self, config: ServerConfig, addresses: list[str] | None) -> None:
        self.config = config
        self.server = ChatServer(config)
        self._addresses = addresses
        self.announcer: Announcer | None = None
        self._closed = False

    @property
    def instance(self) -> str | None:
        return self.announcer.instance if self.announcer else None

    async def start(self) -> tuple[str, int]:
        host, port = await self.server.start()
        if self._addresses is not None:
            self.announcer = Announcer(
                name=self.config.name, server_id=self.server.server_id, port=port,
                addresses=self._addresses, users=self.server.users_online,
                rooms=len(self.server.store.rooms()), fingerprint=self.server.fingerprint,
                chat=self.server.cluster.chat_id if self.server.cluster else None)
            ann = self.announcer
            self.server.on_counts_changed = lambda users, rooms: ann.set_counts(users=users, rooms=rooms)
            try:
                await self.announcer.start()
            except BaseException:
                # Not on the air, so not serving either: a caller that reports the failure
                # (the window: "cannot host here") must not leave a server listening behind it.
                await self.close()
                raise
        return host, port

    async def close(self) -> None:
        """Goodbye first (browsers drop us at once), then the server. Once: again is nothing."""
        if self._closed:
            return
        self._closed = True
        if self.announcer is not None:
            await self.announcer.close()
        await self.server.close()
