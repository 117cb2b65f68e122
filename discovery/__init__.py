"""mDNS / DNS-SD announce and browse (package `pyrtc.discovery`)."""

from __future__ import annotations

__all__: list[str] = []
