"""`pyrtc --server pyrtc://HOST:PORT?fp=…` (the kiosk's QR code holds such a link): the CLI
takes the address and insists on the fingerprint; a wrong one is refused before anything is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyrtc.client.links import make_link, parse_link
from pyrtc.server.tls import ensure_certificate

from .procs import Server, run, tail_json


def test_links_round_trip_and_bad_ones_say_why() -> None:
    fp = "ab" * 32
    assert parse_link(make_link("10.0.0.5", 7777, fp)) == ("10.0.0.5", 7777, fp)
    assert make_link("fe80::1", 7777, None) == "pyrtc://[fe80::1]:7777"
    assert parse_link("pyrtc://[fe80::1]:7777") == ("fe80::1", 7777, None)
    for bad, why in (("pyrtc://host", "HOST:PORT"), ("pyrtc://host:99999", "port"),
                     (f"pyrtc://host:1?fp={fp[:10]}", "64 hex")):
        with pytest.raises(ValueError, match=why):
            parse_link(bad)


def test_send_to_a_pyrtc_link_pins_its_fingerprint(server: Server, tmp_path: Path) -> None:
    _, _, fp = ensure_certificate(tmp_path / "data", "CLI test")  # the server's own, made at its start
    host, port = server.address.split(":")
    link = make_link(host, int(port), fp)
    r = run("send", "--server", link, "--room", "General", "--name", "ann", "scanned")
    assert r.returncode == 0, r.stderr
    assert [m["text"] for m in tail_json(server)] == ["scanned"]

    wrong = make_link(host, int(port), "0" * 64)
    r = run("send", "--server", wrong, "--room", "General", "--name", "ann", "never")
    assert r.returncode == 1 and "fingerprint" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert [m["text"] for m in tail_json(server)] == ["scanned"]

    r = run("send", "--server", link, "--fingerprint", "1" * 64, "--room", "General", "--name", "ann", "x")
    assert r.returncode == 2 and "differs" in r.stderr, r.stderr
    r = run("send", "--server", "pyrtc://host", "--room", "General", "--name", "ann", "x")
    assert r.returncode == 2 and "HOST:PORT" in r.stderr, r.stderr
