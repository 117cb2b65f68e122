"""PyRTC: zero-configuration LAN chat.

Layers, lower never importing higher: protocol (sans-IO) -> store -> server / client ->
discovery -> logsetup -> gui -> cli.
"""

from __future__ import annotations

from .errors import PyRTCError as PyRTCError

__version__ = "0.1.0"
__all__ = ["PyRTCError", "__version__"]
