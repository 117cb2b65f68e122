"""`pyrtc://HOST:PORT?fp=SHA256`: a chat's address and its certificate's fingerprint in one
link (the kiosk's QR code holds one; `pyrtc --server` takes one)."""

from __future__ import annotations

import ipaddress
from urllib.parse import parse_qs, urlsplit

__all__ = ["SCHEME", "is_link", "make_link", "parse_link"]

SCHEME = "pyrtc"


def is_link(text: str) -> bool:
    return text.strip().lower().startswith(f"{SCHEME}://")


def _host_part(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def make_link(host: str, port: int, fingerprint: str | None) -> str:
    link = f"{SCHEME}://{_host_part(host)}:{port}"
    return f"{link}?fp={fingerprint.lower()}" if fingerprint else link


def parse_link(text: str) -> tuple[str, int, str | None]:
    """(host, port, fingerprint or None) of a pyrtc:// link, or ValueError saying what is wrong."""
    parts = urlsplit(text.strip())
    if parts.scheme.lower() != SCHEME:
        raise ValueError(f"not a {SCHEME}:// link: {text!r}")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ValueError(f"bad port in {text!r}") from None
    if not host or port is None or not 0 < port < 65536:
        raise ValueError(f"a {SCHEME}:// link needs HOST:PORT: {text!r}")
    fps = parse_qs(parts.query).get("fp", [])
    fp = fps[0].strip().lower() if fps else None
    if fp is not None and (len(fp) != 64 or any(c not in "0123456789abcdef" for c in fp)):
        raise ValueError(f"the fingerprint in {text!r} is not 64 hex digits")
    return host, port, fp
