"""Desktop notifications, against a notification service of the test's own on a session bus
of its own: one for a mention while the window is not focused, none while it is focused or
the room is muted. Under Xvfb there is no window manager: the test gives the X keyboard focus
to "the pointer root" (it follows the pointer: off the window is not focused) or to the window."""

from __future__ import annotations

import ctypes
import ctypes.util
from pathlib import Path

import pytest

from pyrtc.client import ClientSession
from pyrtc.server import ChatServer

from ..conftest import server_config
from .driver import Window, row, virtual_screen
from .notification_service import notification_service
from .test_window import chat

OFF_WINDOW = (1200, 780)  # on the 1280×800 screen, outside the 1100×720 window


def focus_to_pointer_root(display: str) -> None:
    """XSetInputFocus(PointerRoot), as a window manager does when no window has the focus."""
    x = ctypes.CDLL(ctypes.util.find_library("X11"))
    x.XOpenDisplay.restype = ctypes.c_void_p
    x.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x.XSetInputFocus.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_ulong]
    x.XCloseDisplay.argtypes = [ctypes.c_void_p]
    d = x.XOpenDisplay(display.encode())
    assert d, f"cannot open {display}"
    x.XSetInputFocus(d, 1, 1, 0)  # PointerRoot, RevertToPointerRoot, CurrentTime
    x.XCloseDisplay(d)  # flushes the request


async def unfocus(w: Window) -> None:
    await w.xdotool("mousemove", *map(str, OFF_WINDOW))
    focus_to_pointer_root(w.display)


async def test_a_mention_notifies_only_when_unfocused_and_unmuted(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    async with notification_service() as (address, service):
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        with virtual_screen() as display:
            async with ChatServer(server_config(tmp_path / "data")) as srv:
                host, port = srv.address
                async with ClientSession(host, port, "Alice") as alice, \
                        chat(srv, display, tmp_path / "carol") as w:
                    await alice.join("General")

                    async def say(text: str) -> None:
                        await alice.send("General", text)
                        await w.wait(text, lambda s: row(s, text) is not None)

                    # Muted (the room's button, clicked), unfocused: nothing.
                    await w.click((await w.state())["room_mute"])
                    await w.wait("muted", lambda s: s["room_mute"]["label"] == "Unmute room")
                    await unfocus(w)
                    await say("@Carol muted")
                    await w.click((await w.state())["room_mute"])
                    await w.wait("unmuted", lambda s: s["room_mute"]["label"] == "Mute room")
                    # Focused (the window has the keyboard focus): nothing.
                    await w.xdotool("windowfocus", "--sync", w.xid)
                    await say("@Carol focused")
                    await say("no mention")
                    # Unfocused, unmuted: one notification, from Alice, with the text.
                    await unfocus(w)
                    await alice.send("General", "@Carol are you there?")
                    await service.wait_for(lambda shown: len(shown) >= 1)
                    await w.wait("the last message", lambda s: row(s, "@Carol are you there?") is not None)
                    assert service.shown == [("PyRTC", "Alice in #General", "@Carol are you there?")]
