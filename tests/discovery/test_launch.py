"""Bare `pyrtc`, kiosk and relocation, in network namespaces (terminal front end, and the kiosk
window as a service runs it; the window's picker: tests/gui/test_picker.py)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ..continuity.test_quick_hosting import SNIFFER
from ..gui.driver import virtual_screen
from .netlab import PYRTC, Lab, flat_lan, until
from .test_mdns import Proc, start_server

pytestmark = pytest.mark.mdns


@pytest.fixture
def lan() -> Iterator[Lab]:
    """Nodes n1..n3 on one bridge, 10.77.0.1-3/24."""
    with flat_lan("c", 3) as lab:
        yield lab


def test_bare_pyrtc_hosts_when_alone_and_the_next_one_joins(lan: Lab, tmp_path: Path) -> None:
    host = Proc(lan, "n1", ["env", f"PYRTC_SETTINGS={tmp_path}/n1.json", *PYRTC, "--host-if-none",
                            "--name", "Hosty", "--data-dir", str(tmp_path / "h"),
                            "--log-dir", str(tmp_path / "l1")], stdin=True)  # stdin stays open
    try:
        host.expect(lambda s: "hosting" in s)
        host.expect(lambda s: "you are Hosty" in s)

        def join_as_guest() -> subprocess.CompletedProcess[str]:
            return lan.run("n2", ["env", f"PYRTC_SETTINGS={tmp_path}/n2.json", *PYRTC, "--name", "Guest",
                                  "--log-dir", str(tmp_path / "l2")],
                           input="hello from the guest\n/quit\n", timeout=60)

        # It browses for 1.5 s: one that heard nothing in its window (and said so) goes again.
        r = until(lambda r: "no PyRTC server found" not in r.stderr, join_as_guest)
        assert r.returncode == 0, r.stdout + r.stderr
        host.expect(lambda s: "Guest: hello from the guest" in s)
        assert json.loads((tmp_path / "n2.json").read_text())["name"] == "Guest"  # remembered
        assert host.stop() == 0  # SIGTERM (a service manager's stop) ends it as /quit does
    finally:
        host.stop()
    # The hosted server's chat activity has its own log, as `pyrtc server`'s has.
    chat = (tmp_path / "l1" / "chat.log").read_text()
    assert "join room=General name=Guest" in chat
    assert re.search(r"message room=General seq=\d+ from=Guest text=\"hello from the guest\"", chat)
    own_log = (tmp_path / "l1" / "pyrtc-client.log").read_text()
    assert "hello from the guest" not in own_log
    assert "mDNS goodbye sent" in own_log  # browsers drop the hosted server at once
    assert not (tmp_path / "l2" / "chat.log").exists()  # a client that only chats has none


def test_kiosk_hosts_shows_the_room_and_never_asks(lan: Lab, tmp_path: Path) -> None:
    kiosk = Proc(lan, "n1", [*PYRTC, "--kiosk", "--room", "Study", "--data-dir", str(tmp_path / "k"),
                             "--log-dir", str(tmp_path / "lk")])
    try:
        kiosk.expect(lambda s: "kiosk: showing Study" in s)
        r = until(lambda r: r.returncode == 0, lambda: lan.pyrtc(
            "n2", "send", "--room", "Study", "--name", "ann", "on the big screen", log_dir=tmp_path / "ls"))
        assert r.returncode == 0, r.stderr
        kiosk.expect(lambda s: "ann: on the big screen" in s)
        assert not any("?" in line and "[" in line and "]:" in line for line in kiosk.seen)  # no prompt
    finally:
        kiosk.stop()


@pytest.fixture
def display() -> Iterator[str]:
    """A virtual screen for a window started in a namespace."""
    with virtual_screen() as screen:
        yield screen


def test_window_kiosk_hosts_logs_and_stops_cleanly_on_sigterm(lan: Lab, tmp_path: Path, display: str) -> None:
    """The kiosk window on a shared screen, as a service manager runs it: it hosts, its
    chat.log fills while it runs, and SIGTERM ends it like closing the window."""
    logs = tmp_path / "lk"
    kiosk = Proc(lan, "n1", ["env", f"DISPLAY={display}", f"PYRTC_SETTINGS={tmp_path}/k.json", *PYRTC,
                             "--kiosk", "--room", "General", "--data-dir", str(tmp_path / "k"),
                             "--log-dir", str(logs)])
    try:
        deadline = time.monotonic() + 120  # a safety net
        while True:  # the window is up once its hosted server takes a message
            r = lan.pyrtc("n2", "send", "--room", "General", "--name", "ann", "on the big screen",
                          "--browse-time", "1", log_dir=tmp_path / "ls")
            if r.returncode == 0:
                break
            assert kiosk.proc.poll() is None, kiosk.seen
            assert time.monotonic() < deadline, r.stderr
        chat = logs / "chat.log"
        deadline = time.monotonic() + 60  # written twice a second, not only at exit (a safety net)
        while "on the big screen" not in (chat.read_text() if chat.exists() else ""):
            assert time.monotonic() < deadline, "chat.log not written while the window runs"
            time.sleep(0.1)
        # Found already, though its registration (the announcements) may still be under way:
        # it says goodbye all the same (next test).
        assert kiosk.stop() == 0
    finally:
        kiosk.stop()
    while not kiosk.lines.empty():
        kiosk.seen.append(kiosk.lines.get())
    assert not any("Traceback" in line or "Exception" in line for line in kiosk.seen), kiosk.seen
    assert "mDNS goodbye sent" in (logs / "pyrtc-client.log").read_text()


def test_window_stopped_while_probing_leaves_nothing_on_the_air_and_once_on_it_says_goodbye(
        lan: Lab, tmp_path: Path, display: str) -> None:
    """SIGTERM (or the window closed) while the kiosk window probes for the name its server
    would announce (it does so while it browses): nothing was announced, so nothing lingers.
    Stopped once its server is on the air: goodbye first (a start under way is waited for;
    once, a server came on the air with no goodbye, listed by browsers for minutes)."""
    sniffer = Proc(lan, "n3", [sys.executable, "-c", SNIFFER, "10.77.0.3"])
    try:
        sniffer.expect(lambda s: s == "listening")
        # The first run browses long (stopped inside its browse whatever the machine's speed).
        for run, on_air, browse in (("probing", False, "120"), ("announced", True, "1.5")):
            logs = tmp_path / run
            kiosk = Proc(lan, "n1", ["env", f"DISPLAY={display}", f"PYRTC_SETTINGS={tmp_path}/{run}.json", *PYRTC,
                                     "--kiosk", "--browse-time", browse, "--data-dir", str(tmp_path / run / "data"),
                                     "--log-dir", str(logs)])
            heard = "announce 10.77.0.1" if on_air else "probe 10.77.0.1"
            try:
                sniffer.expect(lambda s, heard=heard: s == heard)
                assert kiosk.stop() == 0
            finally:
                kiosk.stop()
            log = (logs / "pyrtc-client.log").read_text()
            if on_air:
                assert "announced" in log and "mDNS goodbye sent" in log, log[-3000:]
                assert log.index("mDNS goodbye sent") > log.index("announced")
            else:
                assert "announced" not in log, log[-3000:]
        sniffer.stop()
        while not sniffer.lines.empty():
            sniffer.seen.append(sniffer.lines.get_nowait())
        assert sniffer.seen.count("announce 10.77.0.1") >= 1  # the second run's, the first had none
    finally:
        sniffer.stop()


def test_client_finds_its_server_again_on_a_new_port(lan: Lab, tmp_path: Path) -> None:
    data = tmp_path / "data-n1-Office"
    srv, port = start_server(lan, "n1", "Office", tmp_path)
    deadline = time.monotonic() + 120  # a safety net
    while True:  # it browses for 1.5 s; one that heard nothing in its window says so and ends
        client = lan.popen("n2", ["env", f"PYRTC_SETTINGS={tmp_path}/c.json", *PYRTC, "--name", "Roamer",
                                  "--log-dir", str(tmp_path / "lc")],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert client.stdin is not None and client.stdout is not None
        line = client.stdout.readline()
        if "no PyRTC server found" not in line or time.monotonic() > deadline:
            break
        client.wait(60)
    try:
        assert f"connected to 10.77.0.1:{port}" in line, line
        srv.stop()
        srv2, port2 = start_server(lan, "n1", "Office", tmp_path)  # same data dir, new port
        assert port2 != port and (data / "server-id").exists()
        for line in client.stdout:
            if f"connected to 10.77.0.1:{port2}" in line:
                break
        client.stdin.write("made it across\n/quit\n")
        client.stdin.flush()
        assert client.wait(60) == 0
        r = until(lambda r: r.returncode == 0, lambda: lan.pyrtc(
            "n3", "tail", "--room", "General", "--json", log_dir=tmp_path / "lt"))
        assert [json.loads(x)["text"] for x in r.stdout.splitlines()] == ["made it across"]
        srv2.stop()
    finally:
        if client.poll() is None:
            client.kill()


def test_no_server_and_no_hosting_is_a_clear_error(lan: Lab, tmp_path: Path) -> None:
    r = lan.run("n3", [*PYRTC, "--name", "Lonely", "--log-dir", str(tmp_path / "l")], input="")
    assert r.returncode == 1
    assert re.search(r"no PyRTC server found on 10\.77\.0\.3.*--host-if-none", r.stderr)
    assert "Traceback" not in r.stderr
