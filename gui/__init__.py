"""The Dear PyGui client (package `pyrtc.gui`)."""

from __future__ import annotations

__all__: list[str] = []
