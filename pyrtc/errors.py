"""The root of every PyRTC exception; each layer has its own family below it."""

from __future__ import annotations

__all__ = ["PyRTCError"]


class PyRTCError(Exception):
    """Base of all PyRTC errors."""
