"""The Dear PyGui client (package `pyrtc.gui`): renders ChatState, never blocks on the network."""

from __future__ import annotations

from .app import ChatWindow as ChatWindow
from .app import run_gui as run_gui
from .options import GuiOptions as GuiOptions

__all__ = ["ChatWindow", "GuiOptions", "run_gui"]
