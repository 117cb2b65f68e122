"""Where a server is: parsing an address the user typed, other servers of a chat to move
to, and a plain-words reason when reaching one fails."""

from __future__ import annotations

import errno
import re
import socket
from typing import NamedTuple

__all__ = ["Alternate", "parse_address", "why_unreachable"]


def parse_address(text: str, default_port: int) -> tuple[str, int]:
    """'host', 'host:port' or '[v6]:port' -> (host, port), with a clear error."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.lstrip(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not host:
        raise ValueError(f"no host in server address {text!r}")
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise ValueError(f"bad port in server address {text!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"port {port} out of range in {text!r}")
    return host, port


class Alternate(NamedTuple):
    """Another server of the same chat: where it listens, and the certificate it announced
    (None: the first one seen is pinned, as for a first connect)."""

    host: str
    port: int
    fingerprint: str | None


def why_unreachable(exc: BaseException) -> str:
    """Why a connection failed, from its errno (asyncio says "Connect call failed" for every
    kind, and joins the errors of a name's several addresses into one message)."""
    codes = {exc.errno} if isinstance(exc, OSError) and exc.errno else {
        int(n) for n in re.findall(r"\[Errno (\d+)\]", str(exc))}
    if isinstance(exc, socket.gaierror):
        return f"unknown host name ({exc.strerror})"
    if codes == {errno.ECONNREFUSED}:
        return "connection refused (is a PyRTC server running there?)"
    if codes and codes <= {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ECONNREFUSED}:
        return "unreachable: no machine answers at that address (is it switched on, and on this network?)"
    if isinstance(exc, TimeoutError) or codes == {errno.ETIMEDOUT}:
        return "no answer (timed out): no machine there, or a firewall drops the connection"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
