"""Names belong to identities: the hello's proof of a key, who may use a name, and freeing
a name (`pyrtc server --release-name`).

Invariants:
- A name, and every name that looks like it (`names.name_keys`), is held by the first
  identity that used it, online or not, until the server's admin frees it.
- An identity is the SHA-256 of its public key (canonical DER), proven in each hello by a
  signature of the server's fresh nonce and certificate fingerprint.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..protocol.codes import ErrorCode
from ..store import Binding, Store
from .errors import Refused
from .names import name_keys

__all__ = ["warm_up", "verify_proof", "check_owner", "bind_name", "release_name", "Released", "release_in_data_dir"]


def warm_up() -> None:
    """Check one throwaway proof now: the first hello otherwise paid for loading OpenSSL's
    signature code (about 3 MB and some milliseconds), at server start it is paid once."""
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    verify_proof(der, key.sign(b"warm-up", ec.ECDSA(hashes.SHA256())), b"warm-up")


def verify_proof(key_der: bytes, proof: bytes, message: bytes) -> str:
    """The uid of `key_der` when `proof` is its signature of `message`; else a fatal refusal."""
    if not key_der:
        raise Refused(ErrorCode.BAD_IDENTITY, "this client sent no identity key; please update PyRTC",
                      fatal=True)
    try:
        key = serialization.load_der_public_key(key_der)
    except (ValueError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise Refused(ErrorCode.BAD_IDENTITY, "the identity key is not an EC P-256 public key", fatal=True)
    try:
        key.verify(proof, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise Refused(ErrorCode.BAD_IDENTITY, "the identity proof does not check out for this server "
                      "(was it made for another server's certificate, or another connection?)",
                      fatal=True) from None
    canonical = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(canonical).hexdigest()


def check_owner(store: Store, name: str, uid: str) -> tuple[str, ...]:
    """The comparison keys of `name`, which `uid` may use: refused as taken when the name, or
    one that looks like it, belongs to another identity."""
    keys = name_keys(name)
    other = next((b for b in store.names.holders(keys) if b.uid != uid), None)
    if other is not None:
        like = f" (it looks like {other.name!r})" if other.name != name else ""
        raise Refused(ErrorCode.NAME_TAKEN,
                      f"the name {name!r} belongs to someone else on this server{like}; pick another "
                      f"(the server's admin can free it: pyrtc server --release-name {other.name!r})",
                      fatal=True)
    return keys


def bind_name(store: Store, keys: tuple[str, ...], name: str, uid: str) -> bool:
    """Bind `name` to `uid` (checked by `check_owner`); True if it was new to it."""
    return store.names.bind(keys, name, uid)


@dataclass(frozen=True)
class Released:
    bindings: list[Binding]  # what was bound under the name (or names that look like it)
    locked_rooms: list[str]  # locked rooms whose membership went with it


def release_name(store: Store, name: str) -> Released:
    """Free `name` (and names that look like it): bindings and memberships of locked rooms.
    Names the same identities still hold get back the keys they shared with it."""
    bindings, locked = store.names.release(name_keys(name))
    for uid in {b.uid for b in bindings}:
        for kept in store.names.names_of(uid):
            store.names.bind(name_keys(kept), kept, uid)
    return Released(bindings, locked)


def release_in_data_dir(data_dir: Path, name: str) -> Released:
    """`release_name` on a server's data dir, running or not (SQLite serialises the writes;
    a running server reads the bindings afresh at every hello)."""
    store = Store(data_dir / "history.db", clock=time.time)
    try:
        store.begin()
        released = release_name(store, name)
        store.commit()
    except BaseException:
        store.rollback()
        raise
    finally:
        store.close()
    return released
