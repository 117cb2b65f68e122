"""This installation's identity: an EC P-256 key made at first start, kept beside the
settings. Servers bind the names it uses to it; it proves itself in every hello by signing
the server's nonce and certificate fingerprint (`protocol.hello_proof`).

Invariants:
- The key and certificate files are 0600 and their folder 0700 (pyrtc.private); a key is
  never written where it already exists.
- `uid` is the SHA-256 of the public key (DER SubjectPublicKeyInfo), so a renewed
  certificate keeps the same uid.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..private import open_private, private_dir, write_private
from .errors import ClientError
from .settings import default_settings_path

__all__ = ["Identity", "IdentityError", "KEY_FILE", "CERT_FILE"]

log = logging.getLogger(__name__)

KEY_FILE = "identity-key.pem"
CERT_FILE = "identity-cert.pem"


class IdentityError(ClientError):
    """The identity files exist but cannot be used."""


class Identity:
    def __init__(self, key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate | None = None) -> None:
        self._key = key
        self.public_der = key.public_key().public_bytes(serialization.Encoding.DER,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo)
        self.uid = hashlib.sha256(self.public_der).hexdigest()
        self._certificate = certificate

    @classmethod
    def generate(cls) -> Identity:
        """A new identity in memory only (tests, bots, simulated users)."""
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def load_or_create(cls, folder: Path | None = None) -> Identity:
        """The identity kept in `folder` (default: beside settings.json), made there at first use."""
        folder = folder if folder is not None else default_settings_path().parent
        key_path, cert_path = folder / KEY_FILE, folder / CERT_FILE
        try:
            pem = key_path.read_bytes()
        except FileNotFoundError:
            return cls._create(folder)
        except OSError as exc:
            raise IdentityError(f"cannot read your identity key {key_path}: {exc.strerror or exc}") from None
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except ValueError as exc:
            raise IdentityError(f"your identity key {key_path} is damaged ({exc}); move it away to make a "
                                "new one (servers then see a new person: names bound to the old key need "
                                "their admin to free them)") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
            raise IdentityError(f"your identity key {key_path} is not an EC P-256 key")
        identity = cls(key)
        if not cert_path.exists():
            write_private(cert_path, identity.certificate_pem())
        return identity

    @classmethod
    def _create(cls, folder: Path) -> Identity:
        identity = cls.generate()
        private_dir(folder)
        key_pem = identity._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
        # Written whole under another name, then linked into place: another process starting
        # at the same moment never reads half a key, and the first one's key wins.
        tmp = folder / f".{KEY_FILE}.{os.getpid()}.tmp"
        try:
            with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as f:
                f.write(key_pem)
            os.link(tmp, folder / KEY_FILE)
        except FileExistsError:
            return cls.load_or_create(folder)
        finally:
            tmp.unlink(missing_ok=True)
        write_private(folder / CERT_FILE, identity.certificate_pem())
        log.info("made this installation's identity in %s (uid %s…)", folder, identity.uid[:16])
        return identity

    def sign(self, data: bytes) -> bytes:
        """ECDSA-SHA256 signature, DER encoded."""
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    def certificate_pem(self) -> bytes:
        """A self-signed certificate of this key (CN "PyRTC user", 10 years), for serving TLS
        with the same identity later."""
        if self._certificate is None:
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "PyRTC user")])
            now = datetime.datetime.now(datetime.UTC)
            self._certificate = (
                x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=3650))
                .sign(self._key, hashes.SHA256()))
        return self._certificate.public_bytes(serialization.Encoding.PEM)
