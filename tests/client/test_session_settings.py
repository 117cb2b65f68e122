"""The settings a session's parts keep read and write through the session (no copies)."""

from __future__ import annotations

import pytest

from pyrtc.client import ClientSession, Identity
from pyrtc.client.errors import Rejected


def session() -> ClientSession:
    return ClientSession("127.0.0.1", 1, "bob", identity=Identity.generate())  # never connected


def on_event(event: object) -> None:
    pass


async def nowhere() -> tuple[str, int] | None:
    return None


@pytest.mark.parametrize(("name", "part", "value"), [
    ("host", "_conn", "10.0.0.9"), ("port", "_conn", 4242), ("tls", "_conn", False),
    ("relocate", "_conn", nowhere), ("fingerprint", "_conn", "ab" * 32),
    ("peer_fingerprint", "_conn", "cd" * 32), ("fatal", "_router", Rejected("name_taken", "no")),
    ("on_event", "_router", on_event),
])
def test_a_setting_set_on_the_session_is_its_parts(name: str, part: str, value: object) -> None:
    s = session()
    setattr(s, name, value)
    assert getattr(getattr(s, part), name) is value
    assert getattr(s, name) is value
    assert name not in vars(s)  # not a copy of the session's own


def test_the_address_is_read_only_and_follows_host_and_port() -> None:
    s = session()
    s.host, s.port = "10.0.0.9", 4242
    assert s.address == s._conn.address == "10.0.0.9:4242"
    with pytest.raises(AttributeError, match="address is read-only"):
        s.address = "elsewhere:1"  # type: ignore[assignment]
    assert s.address == "10.0.0.9:4242"
