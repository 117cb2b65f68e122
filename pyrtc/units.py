"""Sizes for people."""

from __future__ import annotations

__all__ = ["human_size"]


def human_size(n: float) -> str:
    """1536 -> "1.5 KiB"; bytes stay whole ("1000 bytes")."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
