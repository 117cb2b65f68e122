"""The connection to NATS: connect, make the chat's stream, find the chat id, and say whether
the chat is up or degraded.

Invariants:
- The first connect must succeed (a server that cannot reach its chat's log does not start
  serving an empty copy); after that nats-py reconnects forever and `up` says whether the
  connection is open. Every change of `up` is logged once and passed to `on_change`.
- A tls:// URL is verified against the system CAs or the operator's --cluster-ca; a certificate
  that does not verify stops the first connect at once (never a fallback to plain text). A
  plain nats:// URL to another host is logged as unencrypted at start.
- The chat id given by the operator wins; otherwise the one stored under `chat-id` in the
  `pyrtc` key-value bucket, created there by the first server that asked (create is
  compare-and-set: two first servers agree on one).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import KeyWrongLastSequenceError

from ..errors import ClusterError
from .wire import CHAT_ID, Subjects

__all__ = ["ClusterError", "ClusterTLS", "Link", "unencrypted", "why"]

log = logging.getLogger(__name__)

#: How long the stream remembers a Nats-Msg-Id: a resend within it is stored once.
DEDUP_WINDOW = 3600.0
#: How long a server starting may try to reach NATS before it gives up (seconds).
FIRST_CONNECT = 10.0
#: How long one JetStream request may take before the post is refused (NATS is then down).
REQUEST_TIMEOUT = 5.0


def why(exc: BaseException) -> str:
    """An exception in words, also one whose message is empty (a timeout)."""
    if isinstance(exc, TimeoutError) and not str(exc):
        return "no answer in time"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return f"certificate verify failed: {exc.verify_message}"
    return str(exc) or type(exc).__name__


@dataclass(frozen=True)
class ClusterTLS:
    """The operator's files for tls:// cluster URLs ('' : not given)."""
    ca: str = ""  # PEM CA (or the NATS server's self-signed certificate); '': the system CAs
    cert: str = ""  # PEM client certificate, for a NATS server that requires one
    key: str = ""  # its private key


def unencrypted(urls: list[str]) -> list[str]:
    """The plain nats:// URLs that leave this machine (chat traffic crosses the LAN in clear)."""
    out = []
    for url in urls:
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        if parts.scheme == "tls":
            continue
        host = parts.hostname or ""
        try:
            local = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = False
        if not local:
            out.append(url)
    return out


def tls_context(urls: list[str], tls: ClusterTLS) -> ssl.SSLContext | None:
    """The context that verifies a tls:// NATS server (None: no tls:// URL)."""
    if not any(url.startswith("tls://") for url in urls):
        if tls.ca or tls.cert:
            raise ClusterError("--cluster-ca/--cluster-cert are for a TLS cluster: give --cluster tls://HOST:PORT")
        return None
    try:
        ctx = ssl.create_default_context(cafile=tls.ca or None)
        if tls.cert:
            ctx.load_cert_chain(tls.cert, tls.key or None)
    except (OSError, ssl.SSLError) as exc:
        raise ClusterError(f"cannot use the cluster's TLS files ({tls.ca or tls.cert}): {why(exc)}") from None
    return ctx


class Link:
    def __init__(self, urls: list[str], chat_id: str | None, tls: ClusterTLS | None = None) -> None:
        self.urls = urls
        self.chat_id = chat_id
        self.tls = tls or ClusterTLS()
        self._refused: asyncio.Future[None] | None = None  # a certificate refused at the first connect
        self._last_error: Exception | None = None  # what the first connect's last try met
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.subjects: Subjects | None = None
        self.up = False
        #: Called with True after a reconnect, False after a disconnect.
        self.on_change: Callable[[bool], None] | None = None

    async def connect(self) -> Subjects:
        # Reconnects are retried forever once connected; the first connect (which nats-py would
        # retry forever too) is given FIRST_CONNECT seconds, then the server says why it cannot start.
        ctx = tls_context(self.urls, self.tls)
        for url in unencrypted(self.urls):
            log.warning("cluster: chat traffic between servers is not encrypted on its way to NATS at %s; "
                        "turn TLS on in nats-server and give --cluster tls://HOST:PORT (docs/cluster.md)", url)
        nc = self.nc = Client()
        refused = self._refused = asyncio.get_running_loop().create_future()
        connecting = asyncio.ensure_future(asyncio.wait_for(nc.connect(
            servers=self.urls, connect_timeout=2, max_reconnect_attempts=-1, reconnect_time_wait=1,
            allow_reconnect=True, disconnected_cb=self._disconnected, reconnected_cb=self._reconnected,
            error_cb=self._error, name="pyrtc-server", tls=ctx), FIRST_CONNECT))
        try:
            await asyncio.wait({connecting, refused}, return_when=asyncio.FIRST_COMPLETED)
            if refused.done():
                connecting.cancel()
                refused.result()
            connecting.result()
        except (Exception, TimeoutError) as exc:
            await self.close()
            if isinstance(exc, TimeoutError) and self._last_error is not None:
                exc = self._last_error  # why it kept failing says more than "no answer in time"
            hint = (" (give the CA that signed its certificate: --cluster-ca FILE)"
                    if isinstance(exc, ssl.SSLCertVerificationError) else
                    " (does NATS ask for a client certificate? --cluster-cert FILE --cluster-key FILE)"
                    if isinstance(exc, ssl.SSLError) else " (is `nats-server -js` running there?)")
            raise ClusterError(f"cannot reach the cluster at {', '.join(self.urls)}: {why(exc)}{hint}") from None
        finally:
            connecting.cancel()  # done by now, unless a certificate or our own stop cut it short
            self._refused = None
        self.js = self.nc.jetstream(timeout=REQUEST_TIMEOUT)
        try:
            chat = self.chat_id or await self._stored_chat_id()
            subjects = Subjects(chat)
            await self.js.add_stream(StreamConfig(
                name=subjects.stream, subjects=[subjects.all], storage=StorageType.FILE,
                duplicate_window=DEDUP_WINDOW, allow_direct=True))
        except ClusterError:
            raise
        except Exception as exc:
            raise ClusterError(f"NATS at {', '.join(self.urls)} refused the chat's stream: {exc} "
                               "(JetStream must be on: nats-server -js)") from None
        self.chat_id, self.subjects, self.up = chat, subjects, True
        log.info("cluster: chat %s through NATS %s (stream %s)", chat, ", ".join(self.urls), subjects.stream)
        return subjects

    async def _stored_chat_id(self) -> str:
        assert self.js is not None
        kv = await self.js.create_key_value(bucket="pyrtc", history=1)
        try:
            await kv.create("chat-id", secrets.token_hex(8).encode())
        except KeyWrongLastSequenceError:
            pass  # another server was first: its id is the chat's
        entry = await kv.get("chat-id")
        chat = (entry.value or b"").decode()
        if not CHAT_ID.fullmatch(chat):
            raise ClusterError(f"the chat id stored in NATS ({chat!r}) is not one; give --chat-id")
        return chat

    async def close(self) -> None:
        if self.nc is not None:
            try:
                await self.nc.close()
            except Exception:
                pass
        self.up = False

    async def _disconnected(self) -> None:
        if self.up:
            self.up = False
            log.warning("cluster: NATS is unreachable; the chat is degraded (posts are refused) until it "
                        "returns")
            if self.on_change:
                self.on_change(False)

    async def _reconnected(self) -> None:
        if not self.up:
            self.up = True
            log.warning("cluster: NATS is back; catching up")
            if self.on_change:
                self.on_change(True)

    async def _error(self, exc: Exception) -> None:
        # A TLS handshake that failed fails the same way on the next try: stop starting.
        if self._refused is not None and not self._refused.done():
            self._last_error = exc
            if isinstance(exc, ssl.SSLError):
                self._refused.set_exception(exc)
        log.debug("cluster: NATS: %s", exc)
