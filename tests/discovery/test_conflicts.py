"""Which of the servers claiming one id is the server (conflicts.mark_conflicts): pure logic,
the network side is in test_impostor.py."""

from __future__ import annotations

from pyrtc.discovery import ServerEntry
from pyrtc.discovery.conflicts import mark_conflicts
from pyrtc.protocol import PROTOCOL_VERSION

ID = "5" * 32
REAL, FAKE, OTHER = "a" * 64, "b" * 64, "c" * 64


def entry(address: str, fingerprint: str, server_id: str = ID) -> ServerEntry:
    return ServerEntry(instance=f"Office {address}", name="Office", server_id=server_id, addresses=[address],
                       port=47474, version=PROTOCOL_VERSION, properties={"fp": fingerprint})


def test_the_pinned_certificate_is_the_server_the_other_an_impostor() -> None:
    real, fake = entry("10.0.0.1", REAL), entry("10.0.0.3", FAKE)
    assert real.key != fake.key
    warnings = mark_conflicts([real, fake], {ID: REAL}.get)
    assert (real.conflict, real.compatible) == ("", True)
    assert (fake.conflict, fake.compatible) == ("impostor", False)
    assert warnings == [fake.warning] and "10.0.0.3:47474" in fake.warning
    # The impostor left: nothing is marked any more.
    assert mark_conflicts([real], {ID: REAL}.get) == [] and real.conflict == ""


def test_a_given_fingerprint_decides_before_the_remembered_one() -> None:
    real, fake = entry("10.0.0.1", REAL), entry("10.0.0.3", FAKE)
    mark_conflicts([real, fake], {ID: REAL}.get, explicit=FAKE.upper())
    assert real.conflict == "impostor" and fake.conflict == ""
    # A given fingerprint that is none of the contenders leaves the remembered one in charge.
    mark_conflicts([real, fake], {ID: REAL}.get, explicit=OTHER)
    assert real.conflict == "" and fake.conflict == "impostor"


def test_when_none_shows_the_pinned_certificate_all_are_impostors() -> None:
    a, b = entry("10.0.0.1", FAKE), entry("10.0.0.3", OTHER)
    mark_conflicts([a, b], {ID: REAL}.get)
    assert a.conflict == b.conflict == "impostor"


def test_nothing_pinned_lists_all_as_ambiguous_with_one_warning_naming_them() -> None:
    a, b, lone = entry("10.0.0.1", REAL), entry("10.0.0.3", FAKE), entry("10.0.0.9", OTHER, "6" * 32)
    [warning] = mark_conflicts([a, b, lone], {}.get)
    assert a.conflict == b.conflict == "ambiguous" and a.compatible and b.compatible
    assert lone.conflict == "" and lone.warning == ""
    assert warning.startswith("two servers claim the id") and "10.0.0.1:47474" in warning
    assert "10.0.0.3:47474" in warning and "--fingerprint" in warning


def test_a_lone_server_with_another_certificate_is_left_to_the_connection_check() -> None:
    # Reinstalled, or an impostor alone: the connection is refused loudly (identity_check);
    # listing it as an impostor would hide that message behind "no server found".
    lone = entry("10.0.0.1", FAKE)
    assert mark_conflicts([lone], {ID: REAL}.get) == [] and lone.conflict == "" and lone.compatible
