"""Whether this window has the keyboard focus, asked of the X server (Dear PyGui does not say).

Asked only when a notification may be raised, on the GUI thread. The X window is ours when
it, or a window above it, carries our process id (_NET_WM_PID, which GLFW sets). Focus "to
the pointer root" means the window under the pointer. Where there is no X11 (Wayland without
XWayland, macOS, Windows) the answer is None: unknown."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from typing import Any

__all__ = ["WindowFocus"]

log = logging.getLogger(__name__)

_POINTER_ROOT = 1
_XA_CARDINAL = 6
_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def _ignore(_display: Any, _event: Any) -> int:
    return 0  # a window that went away between two questions: not ours, not fatal


_ignore_x_error = _ERROR_HANDLER(_ignore)


class WindowFocus:
    def __init__(self) -> None:
        self._x: Any = None
        self._display: Any = None
        self._tried = False

    def __call__(self) -> bool | None:
        if not self._connect():
            return None
        x, d = self._x, self._display
        previous = x.XSetErrorHandler(_ignore_x_error)
        try:
            focus, revert = ctypes.c_ulong(), ctypes.c_int()
            x.XGetInputFocus(d, ctypes.byref(focus), ctypes.byref(revert))
            window = focus.value
            if window == _POINTER_ROOT:
                window = self._under_pointer()
            return window > _POINTER_ROOT and self._ours(window)
        finally:
            x.XSync(d, 0)
            x.XSetErrorHandler(previous)

    def _connect(self) -> bool:
        if self._tried:
            return self._display is not None
        self._tried = True
        name = ctypes.util.find_library("X11")
        if name is None or not os.environ.get("DISPLAY"):
            log.info("window focus unknown here (no X11)")
            return False
        x = ctypes.CDLL(name)
        x.XOpenDisplay.restype = ctypes.c_void_p
        x.XOpenDisplay.argtypes = [ctypes.c_char_p]
        x.XSetErrorHandler.restype = ctypes.c_void_p
        x.XSetErrorHandler.argtypes = [ctypes.c_void_p]
        x.XDefaultRootWindow.restype = ctypes.c_ulong
        x.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        x.XInternAtom.restype = ctypes.c_ulong
        x.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        x.XGetInputFocus.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        ptr: Any = ctypes.c_void_p
        x.XQueryPointer.argtypes = [ptr, ctypes.c_ulong, *[ptr] * 7]
        x.XQueryTree.argtypes = [ptr, ctypes.c_ulong, *[ptr] * 4]
        x.XGetWindowProperty.argtypes = [ptr, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_long, ctypes.c_long,
                                         ctypes.c_int, ctypes.c_ulong, *[ptr] * 5]
        x.XFree.argtypes = [ctypes.c_void_p]
        x.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self._display = x.XOpenDisplay(None)
        if not self._display:
            log.info("window focus unknown here (cannot open the X display)")
            return False
        self._x = x
        self._pid_atom = x.XInternAtom(self._display, b"_NET_WM_PID", 0)
        return True

    def _under_pointer(self) -> int:
        x, d = self._x, self._display
        root, child = ctypes.c_ulong(), ctypes.c_ulong()
        ints = [ctypes.c_int() for _ in range(4)]
        mask = ctypes.c_uint()
        x.XQueryPointer(d, x.XDefaultRootWindow(d), ctypes.byref(root), ctypes.byref(child),
                        *(ctypes.byref(i) for i in ints), ctypes.byref(mask))
        return child.value

    def _ours(self, window: int) -> bool:
        x, d = self._x, self._display
        for _ in range(32):  # up to the root
            if self._pid(window) == os.getpid():
                return True
            root, parent = ctypes.c_ulong(), ctypes.c_ulong()
            children, n = ctypes.c_void_p(), ctypes.c_uint()
            if not x.XQueryTree(d, window, ctypes.byref(root), ctypes.byref(parent), ctypes.byref(children),
                                ctypes.byref(n)):
                return False
            if children.value:
                x.XFree(children)
            if parent.value in (0, root.value):
                return False
            window = parent.value
        return False

    def _pid(self, window: int) -> int | None:
        x, d = self._x, self._display
        kind, fmt = ctypes.c_ulong(), ctypes.c_int()
        count, after = ctypes.c_ulong(), ctypes.c_ulong()
        data = ctypes.c_void_p()
        status = x.XGetWindowProperty(d, window, self._pid_atom, 0, 1, 0, _XA_CARDINAL, ctypes.byref(kind),
                                      ctypes.byref(fmt), ctypes.byref(count), ctypes.byref(after), ctypes.byref(data))
        if status != 0 or not data.value:
            return None
        try:
            if count.value < 1 or fmt.value != 32:
                return None
            return int(ctypes.cast(data, ctypes.POINTER(ctypes.c_ulong))[0])
        finally:
            x.XFree(data)
