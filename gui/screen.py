"""The screen's height before the window exists (a kiosk sizes its type from it): X11's own
answer through libX11, which the window needs anyway; elsewhere, or without a display, None."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os

__all__ = ["screen_height"]

log = logging.getLogger(__name__)


def screen_height() -> int | None:
    """The default screen's height in pixels ($PYRTC_SCREEN_HEIGHT overrides), or None."""
    given = os.environ.get("PYRTC_SCREEN_HEIGHT", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    name = ctypes.util.find_library("X11")
    if not name or not os.environ.get("DISPLAY"):
        return None
    try:
        x11 = ctypes.CDLL(name)
        x11.XOpenDisplay.restype = ctypes.c_void_p
        x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x11.XDefaultScreen.argtypes = [ctypes.c_void_p]
        x11.XDisplayHeight.argtypes = [ctypes.c_void_p, ctypes.c_int]
        x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        display = x11.XOpenDisplay(None)
        if not display:
            return None
        try:
            return int(x11.XDisplayHeight(display, x11.XDefaultScreen(display)))
        finally:
            x11.XCloseDisplay(display)
    except (OSError, AttributeError) as exc:
        log.info("screen height unknown (%s): the kiosk takes 1080", exc)
        return None
