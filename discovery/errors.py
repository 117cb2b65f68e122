"""Discovery errors."""

from __future__ import annotations

from pyrtc.errors import PyRTCError

__all__ = ["DiscoveryError"]


class DiscoveryError(PyRTCError):
    """mDNS could not start (no usable interface, bad address) or found nothing usable."""
