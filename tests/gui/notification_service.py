"""A tiny desktop notification service (org.freedesktop.Notifications) on a session bus of
the test's own: `dbus-daemon --session` started here, the service in the test's event loop.
It records every notification it is asked to show.

No `from __future__ import annotations` here: dbus-fast reads the D-Bus signatures from the
methods' annotations ('s', 'u', …) and would see them quoted twice."""

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator

import pytest
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method
from dbus_fast.service import signal as dbus_signal

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


class Notifications(ServiceInterface):
    def __init__(self) -> None:
        super().__init__(NAME)
        self.shown: list[tuple[str, str, str]] = []  # (app, summary, body)
        self.changed = asyncio.Event()
        self._next = 0

    @method()
    def Notify(self, app_name: "s", replaces_id: "u", app_icon: "s", summary: "s", body: "s",  # noqa: F821, N802
               actions: "as", hints: "a{sv}", expire_timeout: "i") -> "u":  # noqa: F821, F722
        self.shown.append((app_name, summary, body))
        self.changed.set()
        self._next += 1
        return self._next

    @method()
    def GetCapabilities(self) -> "as":  # noqa: F722, N802
        return ["body"]

    @method()
    def GetServerInformation(self) -> "ssss":  # noqa: F821, N802
        return ["pyrtc-test", "pyrtc", "1", "1.2"]

    @method()
    def CloseNotification(self, id: "u") -> None:  # noqa: F821, N802, A002
        pass

    @dbus_signal()
    def NotificationClosed(self, id: "u", reason: "u") -> "uu":  # noqa: F821, N802, A002
        return [id, reason]

    @dbus_signal()
    def ActionInvoked(self, id: "u", action_key: "s") -> "us":  # noqa: F821, N802, A002
        return [id, action_key]

    async def wait_for(self, pred, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
        async with asyncio.timeout(timeout):
            while not pred(self.shown):
                self.changed.clear()
                await self.changed.wait()


@contextlib.asynccontextmanager
async def notification_service() -> AsyncIterator[tuple[str, Notifications]]:
    """(the bus address, the service) for the length of a `with`."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        pytest.fail("needs dbus-daemon (apt dbus-daemon), installed by scripts/test.sh")
    proc = subprocess.Popen([daemon, "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE,
                            text=True, env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS=""))
    try:
        assert proc.stdout is not None
        address = (await asyncio.to_thread(proc.stdout.readline)).strip()
        assert address, "dbus-daemon printed no address"
        bus = await MessageBus(bus_address=address).connect()
        service = Notifications()
        bus.export(PATH, service)
        await bus.request_name(NAME)
        try:
            yield address, service
        finally:
            bus.disconnect()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
