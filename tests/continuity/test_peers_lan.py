"""Acceptance: the chat outlives its host, with real `pyrtc` processes in network namespaces
on one bridge (n1..n4, 10.77.0.x): a planned quit and a kill -9 of the host. Every wait is
for a line or a result, with generous timeouts; nothing is timed."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrtc.client import Identity
from pyrtc.client.identity import CERT_FILE, KEY_FILE
from tests.discovery.netlab import PYRTC, Lab, flat_lan, until
from tests.discovery.test_mdns import Proc

pytestmark = pytest.mark.mdns

HANDED = "hosting this chat now"


@pytest.fixture
def lan() -> Iterator[Lab]:
    with flat_lan("h", 4) as lab:
        yield lab


def peer(lan: Lab, tmp: Path, node: str, name: str, *extra: str) -> Proc:
    """`pyrtc --no-gui` as NAME on NODE, its settings, keys and replicas its own; started
    again while its discovery window missed the chat (it then exits, saying so)."""
    args = ["env", f"PYRTC_SETTINGS={tmp}/{node}/settings.json", *PYRTC, "--no-gui", "--name", name,
            "--data-dir", str(tmp / node / "server"), "--log-dir", str(tmp / node / "logs"), *extra]
    for _ in range(10):
        proc = Proc(lan, node, args, stdin=True)
        line = proc.expect(lambda s: f"you are {name}" in s or "no PyRTC server" in s)
        if f"you are {name}" in line:
            return proc
        proc.proc.wait(30)
    raise AssertionError(f"{name} found no chat: {proc.seen}")


def say(proc: Proc, *lines: str) -> None:
    assert proc.proc.stdin is not None
    proc.proc.stdin.write("".join(f"{line}\n" for line in lines))
    proc.proc.stdin.flush()


def expect_all(proc: Proc, endings: list[str]) -> None:
    """Every one of these lines, in any order."""
    left = set(endings)
    while left:
        line = proc.expect(lambda s, left=frozenset(left): any(s.endswith(e) for e in left))
        left -= {e for e in left if line.endswith(e)}


def tail(lan: Lab, tmp: Path) -> list[dict[str, object]]:
    """`pyrtc tail --since 0` from n4 (no --server: discovery finds the chat)."""
    r = until(lambda r: r.returncode == 0, lambda: lan.run("n4", [
        "env", f"PYRTC_SETTINGS={tmp}/n4/settings.json", *PYRTC, "tail", "--room", "General", "--since", "0",
        "--json", "--log-dir", str(tmp / "n4" / "logs")], timeout=60))
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def replica(tmp: Path, node: str) -> list[tuple[int, str, str]]:
    """What a peer's replica holds of General (after it exited)."""
    [db_path] = (tmp / node).glob("chats/*/history.db")
    db = sqlite3.connect(db_path)
    try:
        return [(int(s), str(n), str(t)) for s, n, t in db.execute(
            "SELECT seq, sender, text FROM messages WHERE room = 'General' ORDER BY seq")]
    finally:
        db.close()


def start_chat(lan: Lab, tmp: Path) -> tuple[Proc, Proc, Proc]:
    ann = peer(lan, tmp, "n1", "Ann", "--host-if-none")
    bob = peer(lan, tmp, "n2", "Bob")
    cy = peer(lan, tmp, "n3", "Cy")
    ann.expect(lambda s: "Cy joined #General" in s)
    return ann, bob, cy


def stop_all(*procs: Proc) -> None:
    for p in procs:
        try:
            p.stop(timeout=30)
        except subprocess.TimeoutExpired:
            p.stop(signal.SIGKILL)


def test_planned_quit_of_the_host_the_others_carry_on(lan: Lab, tmp_path: Path) -> None:
    ann, bob, cy = start_chat(lan, tmp_path)
    kiosk = Proc(lan, "n4", ["env", f"PYRTC_SETTINGS={tmp_path}/kiosk/settings.json", *PYRTC, "--no-gui", "--kiosk",
                             "--no-host", "--log-dir", str(tmp_path / "kiosk" / "logs")])
    try:
        kiosk.expect(lambda s: "kiosk: showing General" in s)
        say(ann, "ann one")
        say(bob, "bob one")
        say(cy, "cy one")
        expect_all(ann, ["Ann: ann one", "Bob: bob one", "Cy: cy one"])
        quit_at, bob_at, cy_at = len(ann.seen), len(bob.seen), len(cy.seen)
        say(ann, "/quit")
        assert ann.proc.wait(60) == 0
        ann.rest()
        # Ann reads one line about it: not her own connection following the chat to the next
        # host to hand it her copies, nor "Ann left" as if someone else had.
        said = ann.seen[quit_at:]
        about = [s for s in said if HANDED in s or s.startswith("!!") or "connected to" in s]
        assert len(about) == 1 and about[0].startswith("-- you left; ") and about[0].endswith(HANDED), said
        for p, at in ((bob, bob_at), (cy, cy_at)):
            p.expect(lambda s: HANDED in s and "Ann left" in s)
            # A planned move is not an alarm: no "!! the server closed the connection" before it.
            assert not [s for s in p.seen[at:] if s.startswith("!!")], p.seen[at:]
        kiosk.expect(lambda s: HANDED in s and "Ann left" in s)  # the kiosk's banner line
        say(cy, "right after")
        bob.expect(lambda s: s.endswith("Cy: right after"))
        kiosk.expect(lambda s: s.endswith("Cy: right after"))
        got = tail(lan, tmp_path)
        texts = [m["text"] for m in got]
        assert sorted(texts) == ["ann one", "bob one", "cy one", "right after"]  # each once
        assert [m["seq"] for m in got] == [1, 2, 3, 4]
    finally:
        stop_all(ann, bob, cy, kiosk)
    assert replica(tmp_path, "n2") == replica(tmp_path, "n3") == [(m["seq"], m["sender"], m["text"]) for m in got]


def test_kill_of_the_host_mid_burst_loses_nothing_acknowledged(lan: Lab, tmp_path: Path) -> None:
    ann, bob, cy = start_chat(lan, tmp_path)
    try:
        bob_lines = [f"bob {i}" for i in range(15)]
        cy_lines = [f"cy {i}" for i in range(15)]
        say(bob, *bob_lines)
        say(cy, *cy_lines)
        ann.expect(lambda s: s.endswith(("bob 3", "cy 3")))
        ann.stop(signal.SIGKILL)
        for p in (bob, cy):
            p.expect(lambda s: HANDED in s)
        bob.expect(lambda s: s.endswith("Cy: cy 14"))
        cy.expect(lambda s: s.endswith("Bob: bob 14"))
        got = tail(lan, tmp_path)
        texts = [str(m["text"]) for m in got]
        assert sorted(texts) == sorted(bob_lines + cy_lines)  # every one, once
        assert [m["seq"] for m in got] == list(range(1, len(got) + 1))
        # Ann comes back: she finds the chat (one entry), syncs, and does not host it.
        ann = peer(lan, tmp_path, "n1", "Ann", "--host-if-none")
        assert not any("-- hosting" in s for s in ann.seen)
        say(ann, "ann is back")
        for p in (bob, cy):
            p.expect(lambda s: s.endswith("Ann: ann is back"))
        got = tail(lan, tmp_path)
        assert [m["text"] for m in got][-1] == "ann is back" and len(got) == len(bob_lines + cy_lines) + 1
    finally:
        stop_all(ann, bob, cy)
    assert replica(tmp_path, "n2") == replica(tmp_path, "n3") == [(m["seq"], m["sender"], m["text"]) for m in got]


def test_a_partition_heals_into_one_chat_with_every_message_once(lan: Lab, tmp_path: Path) -> None:
    # Cy gets the lowest node id: cut off, it is its own side's successor at once.
    made = sorted((Identity.load_or_create(tmp_path / f"k{i}").uid, tmp_path / f"k{i}") for i in range(3))
    for (_, folder), node in zip(made, ("n3", "n2", "n1"), strict=True):
        (tmp_path / node).mkdir(exist_ok=True)
        for f in (KEY_FILE, CERT_FILE):
            shutil.copy(folder / f, tmp_path / node / f)
    ann, bob, cy = start_chat(lan, tmp_path)
    try:
        say(ann, "before")
        expect_all(cy, ["Ann: before"])
        lan.run("br", ["ip", "link", "set", "v3", "down"])  # Cy's port on the bridge
        cy.expect(lambda s: "you are hosting this chat now" in s)
        say(cy, "cy alone")
        cy.expect(lambda s: s.endswith("Cy: cy alone"))
        say(ann, "ann side")
        say(bob, "bob side")
        expect_all(ann, ["Ann: ann side", "Bob: bob side"])
        lan.run("br", ["ip", "link", "set", "v3", "up"])
        # Ann's side yields to the higher epoch: one line, and one chat again.
        bob.expect(lambda s: "Ann left; Cy is hosting this chat now" in s)
        want = ["before", "cy alone", "ann side", "bob side"]
        got = until(lambda g: sorted(m["text"] for m in g) == sorted(want), lambda: tail(lan, tmp_path))
        assert sorted(m["text"] for m in got) == sorted(want)  # every message of both sides, once
        assert [m["seq"] for m in got] == [1, 2, 3, 4]
        say(bob, "together again")
        cy.expect(lambda s: s.endswith("Bob: together again"))
        ann.expect(lambda s: s.endswith("Bob: together again"))
        got = tail(lan, tmp_path)
    finally:
        stop_all(ann, bob, cy)
    shown = [(m["seq"], m["sender"], m["text"]) for m in got]
    assert replica(tmp_path, "n1") == replica(tmp_path, "n2") == replica(tmp_path, "n3") == shown
