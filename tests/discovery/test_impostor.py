"""A server that announces another server's id with its own certificate (issue 16 item 14)
must not take the real one off the LAN: entries are one per (id, certificate); the one this
client pins is the server, the other an impostor never connected to on its own; with nothing
pinned, one-shot commands refuse to guess. Real servers and CLIs in network namespaces."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from .netlab import PYRTC, Lab, flat_lan
from .test_mdns import Proc, start_claimant, start_server

pytestmark = pytest.mark.mdns


def cli(lab: Lab, node: str, settings: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI of one user on `node`: their own settings and remembered servers."""
    return lab.run(node, ["env", f"PYRTC_SETTINGS={settings}", *PYRTC, *args,
                          "--log-dir", str(settings.parent / "logs")])


def listing(lab: Lab, node: str, settings: Path) -> tuple[list[dict[str, object]], str]:
    r = cli(lab, node, settings, "servers", "--json", "--timeout", "2")
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines()], r.stderr


def texts(lab: Lab, node: str, settings: Path, address: str, fingerprint: str) -> list[str]:
    r = cli(lab, node, settings, "tail", "--server", address, "--fingerprint", fingerprint,
            "--room", "General", "--json")
    assert r.returncode == 0, r.stderr
    return [json.loads(line)["text"] for line in r.stdout.splitlines()]


def test_impostor_with_a_copied_id_never_takes_the_real_server_away(tmp_path: Path) -> None:
    with flat_lan("i", 4) as lab:
        real, real_port = start_server(lab, "n1", "Office", tmp_path)
        # The impostor: its own data dir and certificate, the real server's id (and name).
        fake, fake_port = start_claimant(lab, "n3", "Office", tmp_path, id_of=tmp_path / "data-n1-Office")
        try:
            real_at, fake_at = f"10.77.0.1:{real_port}", f"10.77.0.3:{fake_port}"
            ann = tmp_path / "ann" / "settings.json"  # has met the real server before
            r = cli(lab, "n2", ann, "send", "--server", real_at, "--room", "General", "--name", "Ann",
                    "met before")
            assert r.returncode == 0, r.stderr

            entries, warned = listing(lab, "n2", ann)
            assert len(entries) == 2, entries
            assert entries[0]["id"] == entries[1]["id"]
            by_address = {str(e["addresses"][0]) + ":" + str(e["port"]): e for e in entries}  # type: ignore[index]
            assert set(by_address) == {real_at, fake_at}
            real_fp, fake_fp = by_address[real_at]["fingerprint"], by_address[fake_at]["fingerprint"]
            assert isinstance(real_fp, str) and isinstance(fake_fp, str) and real_fp != fake_fp
            assert by_address[real_at]["conflict"] is None and by_address[real_at]["compatible"] is True
            assert by_address[fake_at]["conflict"] == "impostor" and by_address[fake_at]["compatible"] is False
            assert "impostor" in warned and fake_at in warned

            r = cli(lab, "n2", ann, "send", "--room", "General", "--name", "Ann", "hi", "--browse-time", "2")
            assert r.returncode == 0, r.stderr

            # Nothing pinned: both are listed, with a warning, and nothing is sent to either.
            bob = tmp_path / "bob" / "settings.json"
            entries, warned = listing(lab, "n4", bob)
            assert sorted(str(e["conflict"]) for e in entries) == ["ambiguous", "ambiguous"], entries
            assert all(e["compatible"] is True for e in entries)
            assert "two servers claim" in warned and real_at in warned and fake_at in warned
            r = cli(lab, "n4", bob, "send", "--room", "General", "--name", "Bob", "guess", "--browse-time", "2")
            assert r.returncode == 1
            assert real_at in r.stderr and fake_at in r.stderr, r.stderr

            checker = tmp_path / "checker" / "settings.json"
            assert texts(lab, "n2", checker, real_at, real_fp) == ["met before", "hi"]
            assert texts(lab, "n2", tmp_path / "checker2" / "settings.json", fake_at, fake_fp) == []
        finally:
            real.stop()
            fake.stop()


SPOOF = textwrap.dedent("""
    import asyncio, signal, sys
    from pyrtc.discovery import Announcer

    async def main():
        name, server_id, fingerprint, port, address = sys.argv[1:6]
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        spoof = Announcer(name=name, server_id=server_id, port=int(port), addresses=[address],
                          fingerprint=fingerprint)
        await spoof.start()
        print("ANNOUNCED", flush=True)
        await stop.wait()
        await spoof.close()
    asyncio.run(main())
""")


def test_a_record_copied_whole_lists_only_addresses_showing_the_certificate(tmp_path: Path) -> None:
    """The id and the fingerprint are both public: a spoofer can announce the real server's
    whole TXT record from its own address, on the same port, where a server with another
    certificate answers. Merged as the same server, its address would come first half of
    the time and every connection be refused; a certificate cannot be copied."""
    with flat_lan("j", 3) as lab:
        real, _ = start_server(lab, "n1", "Office", tmp_path, "--port", "47474")
        fake, _ = start_server(lab, "n3", "Other", tmp_path, "--port", "47474", "--no-announce")
        bob = tmp_path / "bob" / "settings.json"
        try:
            [entry], _ = listing(lab, "n2", bob)
            spoof = Proc(lab, "n3", [sys.executable, "-c", SPOOF, "Office", str(entry["id"]),
                                     str(entry["fingerprint"]), "47474", "10.77.0.3"])
            try:
                assert spoof.expect(lambda s: s.startswith(("ANNOUNCED", "Traceback")), 15) == "ANNOUNCED"
                entries, warned = listing(lab, "n2", bob)
                assert [e["addresses"] for e in entries] == [["10.77.0.1"]], entries
                assert "show another one; not listed" in (tmp_path / "bob" / "logs" / "pyrtc-client.log").read_text()
                r = cli(lab, "n2", bob, "send", "--room", "General", "--name", "Bob", "hi", "--browse-time", "2")
                assert r.returncode == 0, r.stderr
            finally:
                assert spoof.stop() == 0
            checker = tmp_path / "checker" / "settings.json"
            assert texts(lab, "n2", checker, "10.77.0.1:47474", str(entry["fingerprint"])) == ["hi"]
        finally:
            real.stop()
            fake.stop()
