"""Bare `pyrtc`, kiosk and relocation, in network namespaces (terminal front end; the window
comes with the GUI)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .netlab import PYRTC, Lab, flat_lan
from .test_mdns import Proc, servers_json, start_server

pytestmark = pytest.mark.mdns

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def lan() -> Iterator[Lab]:
    """Nodes n1..n3 on one bridge, 10.77.0.1-3/24."""
    with flat_lan("c", 3) as lab:
        yield lab


def test_bare_pyrtc_hosts_when_alone_and_the_next_one_joins(lan: Lab, tmp_path: Path) -> None:
    host = Proc(lan, "n1", ["env", f"PYRTC_SETTINGS={tmp_path}/n1.json", *PYRTC, "--host-if-none",
                            "--name", "Hosty", "--data-dir", str(tmp_path / "h"),
                            "--log-dir", str(tmp_path / "l1")], stdin=True)  # stdin stays open
    guest = None
    try:
        host.expect(lambda s: "hosting" in s, 15)
        host.expect(lambda s: "you are Hosty" in s)
        guest = lan.popen("n2", ["env", f"PYRTC_SETTINGS={tmp_path}/n2.json", *PYRTC, "--name", "Guest",
                                 "--log-dir", str(tmp_path / "l2")],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert guest.stdin is not None
        guest.stdin.write("hello from the guest\n/quit\n")
        guest.stdin.flush()
        host.expect(lambda s: "Guest: hello from the guest" in s)
        assert guest.wait(15) == 0
        assert json.loads((tmp_path / "n2.json").read_text())["name"] == "Guest"  # remembered
        assert host.stop() == 0  # SIGTERM (a service manager's stop) ends it as /quit does
    finally:
        host.stop()
        if guest is not None and guest.poll() is None:
            guest.kill()
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
        kiosk.expect(lambda s: "kiosk: showing Study" in s, 15)
        r = lan.pyrtc("n2", "send", "--room", "Study", "--name", "ann", "on the big screen",
                      log_dir=tmp_path / "ls")
        assert r.returncode == 0, r.stderr
        kiosk.expect(lambda s: "ann: on the big screen" in s)
        assert not any("?" in line and "[" in line and "]:" in line for line in kiosk.seen)  # no prompt
    finally:
        kiosk.stop()


@pytest.fixture
def display() -> Iterator[str]:
    """A virtual screen (Xvfb, unix socket only) for a window started in a namespace."""
    if shutil.which("Xvfb") is None:
        pytest.fail("needs Xvfb (apt xvfb), installed by scripts/test.sh")
    number = next(n for n in range(150 + os.getpid() % 300, 1000) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-nolisten", "tcp", "-screen", "0", "1280x800x24"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            assert xvfb.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.05)
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def test_window_kiosk_hosts_logs_and_stops_cleanly_on_sigterm(lan: Lab, tmp_path: Path, display: str) -> None:
    """The kiosk window on a shared screen, as a service manager runs it: it hosts, its
    chat.log fills while it runs, and SIGTERM ends it like closing the window."""
    logs = tmp_path / "lk"
    kiosk = Proc(lan, "n1", ["env", f"DISPLAY={display}", f"PYRTC_SETTINGS={tmp_path}/k.json", *PYRTC,
                             "--kiosk", "--room", "General", "--data-dir", str(tmp_path / "k"),
                             "--log-dir", str(logs)])
    try:
        deadline = time.monotonic() + 30
        while True:  # the window is up once its hosted server takes a message
            r = lan.pyrtc("n2", "send", "--room", "General", "--name", "ann", "on the big screen",
                          "--browse-time", "1", log_dir=tmp_path / "ls")
            if r.returncode == 0:
                break
            assert kiosk.proc.poll() is None, kiosk.seen
            assert time.monotonic() < deadline, r.stderr
        chat = logs / "chat.log"
        deadline = time.monotonic() + 5  # written twice a second, not only at exit
        while "on the big screen" not in (chat.read_text() if chat.exists() else ""):
            assert time.monotonic() < deadline, "chat.log not written while the window runs"
            time.sleep(0.1)
        assert kiosk.stop() == 0
    finally:
        kiosk.stop()
    while not kiosk.lines.empty():
        kiosk.seen.append(kiosk.lines.get())
    assert not any("Traceback" in line or "Exception" in line for line in kiosk.seen), kiosk.seen
    assert "mDNS goodbye sent" in (logs / "pyrtc-client.log").read_text()


def pick_pilot(lan: Lab, node: str, tmp: Path, display: str, *args: str) -> dict[str, dict[str, object]]:
    """Runs tests.gui.pickpilot in `node`; returns what the picker asked and the chat that followed."""
    out = tmp / f"pilot-{node}"
    env = ["env", f"DISPLAY={display}", f"HOME={tmp}", f"PYRTC_SETTINGS={tmp}/{node}.json",
           f"XDG_CACHE_HOME={tmp}/cache", f"XDG_DATA_HOME={tmp}/data"]
    r = lan.run(node, [*env, sys.executable, "-m", "tests.gui.pickpilot", "--out", str(out), *args],
                timeout=120, cwd=ROOT)
    assert r.returncode == 0 and not (out / "timeout").exists(), (
        r.stdout + r.stderr + ((out / "timeout").read_text() if (out / "timeout").exists() else ""))
    assert "Traceback" not in r.stdout + r.stderr, r.stdout + r.stderr
    return {k: json.loads((out / f"{k}.json").read_text()) for k in ("asked", "chatting")}


def test_window_picker_offers_the_servers_found_and_connects_to_the_one_chosen(
        lan: Lab, tmp_path: Path, display: str) -> None:
    office, _ = start_server(lan, "n1", "Office", tmp_path)
    lab, lab_port = start_server(lan, "n2", "Lab", tmp_path)
    try:
        deadline = time.monotonic() + 20  # both announced before the window looks
        while sorted(str(e["name"]) for e in servers_json(lan, "n3", tmp_path)) != ["Lab", "Office"]:
            assert time.monotonic() < deadline, "the servers were not announced"
        seen = pick_pilot(lan, "n3", tmp_path, display, "--interface", "10.77.0.3", "--choose", "Lab",
                          "--expect", "2")
    finally:
        office.stop()
        lab.stop()
    asked, chatting = seen["asked"], seen["chatting"]
    assert asked["status"] == "2 servers found. Choose one:" and asked["shown"] is True
    entries = sorted(str(e) for e in asked["entries"])  # type: ignore[attr-defined]
    assert [e.split()[0] for e in entries] == ["Lab", "Office"]
    assert f"10.77.0.2:{lab_port}" in entries[0] and "10.77.0.1:" in entries[1]
    assert chatting["server"] == "Lab" and chatting["shown"] is False and chatting["hosted"] is False
    assert str(chatting["status_text"]).startswith(f"connected — Lab (10.77.0.2:{lab_port}) — you are Carol")


def test_window_hosts_here_when_asked_after_finding_nothing(lan: Lab, tmp_path: Path, display: str) -> None:
    seen = pick_pilot(lan, "n3", tmp_path, display, "--interface", "10.77.0.3", "--host",
                      "--data-dir", str(tmp_path / "hosted"))
    asked, chatting = seen["asked"], seen["chatting"]
    assert str(asked["status"]).startswith("No PyRTC server found on 10.77.0.3. Host one here")
    assert asked["entries"] == [] and asked["shown"] is True
    assert chatting["hosted"] is True and chatting["shown"] is False
    assert str(chatting["status_text"]).startswith("host mode — ")
    assert (tmp_path / "hosted" / "server-id").exists()  # the server it hosted kept its data there


def test_client_finds_its_server_again_on_a_new_port(lan: Lab, tmp_path: Path) -> None:
    data = tmp_path / "data-n1-Office"
    srv, port = start_server(lan, "n1", "Office", tmp_path)
    client = lan.popen("n2", ["env", f"PYRTC_SETTINGS={tmp_path}/c.json", *PYRTC, "--name", "Roamer",
                              "--log-dir", str(tmp_path / "lc")],
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert client.stdin is not None and client.stdout is not None
        line = client.stdout.readline()
        assert f"connected to 10.77.0.1:{port}" in line, line
        srv.stop()
        srv2, port2 = start_server(lan, "n1", "Office", tmp_path)  # same data dir, new port
        assert port2 != port and (data / "server-id").exists()
        for line in client.stdout:
            if f"connected to 10.77.0.1:{port2}" in line:
                break
        client.stdin.write("made it across\n/quit\n")
        client.stdin.flush()
        assert client.wait(15) == 0
        r = lan.pyrtc("n3", "tail", "--room", "General", "--json", log_dir=tmp_path / "lt")
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
