"""The server's TLS identity: a self-signed certificate made at first start and kept in the
data dir. Clients pin its SHA-256 fingerprint (announced over mDNS, given with
--fingerprint, or remembered from the first connection) instead of trusting a CA."""

from __future__ import annotations

import datetime
import hashlib
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..private import private_dir, write_private

__all__ = ["ensure_certificate", "server_context", "small_tls_buffers", "fingerprint_of"]


def fingerprint_of(der: bytes) -> str:
    """SHA-256 of the DER certificate, lower-case hex (what clients pin)."""
    return hashlib.sha256(der).hexdigest()


def ensure_certificate(data_dir: Path, common_name: str) -> tuple[Path, Path, str]:
    """(certificate, key, fingerprint); made once, reused on every start."""
    cert_path, key_path = data_dir / "tls-cert.pem", data_dir / "tls-key.pem"
    if not (cert_path.exists() and key_path.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64] or "PyRTC")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .sign(key, hashes.SHA256()))
        private_dir(data_dir)
        write_private(key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))  # the key is secret
        write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    der = ssl.PEM_cert_to_DER_cert(cert_path.read_text())
    return cert_path, key_path, fingerprint_of(der)


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


def small_tls_buffers(size: int = 32 * 1024) -> None:
    """asyncio gives every TLS connection a 256 KiB receive buffer (SSLProtocol.max_size),
    which glibc ends up zero-filling on the heap: ~290 KiB of memory per idle client. 32 KiB
    holds two TLS records; reads simply come in more pieces."""
    import asyncio.sslproto

    if getattr(asyncio.sslproto.SSLProtocol, "max_size", 0) > size:
        asyncio.sslproto.SSLProtocol.max_size = size
