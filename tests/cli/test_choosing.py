"""Which server a command uses when discovery finds several: `--pick` by a unique part of
the name, a clear refusal where it is ambiguous, never a silent guess, and servers that claim
another's id shown as what they are. Real servers announced over mDNS and real `pyrtc`
processes, in network namespaces (tests/discovery/netlab.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.discovery.netlab import PYRTC, Lab, flat_lan
from tests.discovery.test_mdns import Proc, start_claimant, start_server

from .procs import Tmux, last

pytestmark = pytest.mark.mdns


def cli(lab: Lab, node: str, settings: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`pyrtc` as one user on `node` (own settings and remembered servers), stdin a pipe."""
    return lab.run(node, ["env", f"PYRTC_SETTINGS={settings}", *PYRTC, *args, "--log-dir",
                          str(settings.parent / "logs")], input=stdin)


def texts(lab: Lab, node: str, settings: Path, address: str) -> list[str]:
    r = cli(lab, node, settings, "tail", "--server", address, "--room", "General", "--json")
    assert r.returncode == 0, r.stderr
    return [json.loads(line)["text"] for line in r.stdout.splitlines()]


def test_pick_takes_a_unique_part_of_the_name_and_refuses_to_guess(tmp_path: Path, tmux: Tmux) -> None:
    with flat_lan("p", 4) as lab:
        main, main_port = start_server(lab, "n1", "Office Main", tmp_path)
        annex, annex_port = start_server(lab, "n2", "Office Annex", tmp_path)
        lab_srv, lab_port = start_server(lab, "n3", "Lab", tmp_path)
        me = tmp_path / "me" / "settings.json"
        browse = ("--browse-time", "2")
        try:
            send = ("send", "--room", "General", "--name", "Ann", *browse)
            r = cli(lab, "n4", me, *send, "--pick", "LA", "to the lab")  # a prefix, any case
            assert r.returncode == 0, r.stderr
            r = cli(lab, "n4", me, *send, "--pick", "annex", "to the annex")  # a part of the name
            assert r.returncode == 0, r.stderr

            r = cli(lab, "n4", me, *send, "--pick", "office", "to which?")
            assert r.returncode == 1 and "Traceback" not in r.stderr
            assert "--pick 'office' matches 2 servers" in r.stderr, r.stderr
            assert f"10.77.0.1:{main_port}" in r.stderr and f"10.77.0.2:{annex_port}" in r.stderr
            r = cli(lab, "n4", me, *send, "--pick", "nowhere", "lost")
            assert r.returncode == 1 and "no server matches --pick 'nowhere'" in r.stderr, r.stderr

            # The chat client with a pipe for stdin cannot be asked: it lists, and sends nothing.
            r = cli(lab, "n4", me, "--no-gui", "--name", "Zed", *browse, stdin="which one?\n")
            assert r.returncode == 1, r.stdout + r.stderr
            assert "3 servers found" in r.stderr and "--pick" in r.stderr, r.stderr
            r = cli(lab, "n4", me, "--no-gui", "--name", "Zed", "--pick", "main", *browse, stdin="picked\n")
            assert r.returncode == 0, r.stdout + r.stderr

            # On a terminal a person is asked, and may answer with a part of the name.
            chat = f"ip netns exec {lab.ns('n4')} {' '.join(PYRTC)} --no-gui --name Pat --browse-time 2"
            tmux.start("pat", chat)
            screen = tmux.wait("pat", lambda s: "Which server?" in last(s), "the question")
            assert sum(name in " ".join(screen) for name in ("Office Main", "Office Annex", "Lab")) == 3
            tmux.keys("pat", "ANNEX", enter=True)
            tmux.wait("pat", lambda s: any("you are Pat on 'Office Annex'" in line for line in s), "the chat")

            # doctor lists what answered and does not then claim that nothing did.
            r = cli(lab, "n4", me, "doctor", "--timeout", "2")
            assert r.returncode == 0, r.stderr
            assert all(name in r.stdout for name in ("Office Main", "Office Annex", "Lab")), r.stdout
            assert "No PyRTC server answered" not in r.stdout and "there is none" not in r.stdout
            assert "3 PyRTC servers answered" in r.stdout, r.stdout

            check = tmp_path / "check" / "settings.json"
            assert texts(lab, "n4", check, f"10.77.0.3:{lab_port}") == ["to the lab"]
            assert texts(lab, "n4", check, f"10.77.0.2:{annex_port}") == ["to the annex"]
            assert texts(lab, "n4", check, f"10.77.0.1:{main_port}") == ["picked"]
        finally:
            for srv in (main, annex, lab_srv):
                srv.stop()


def test_servers_claiming_one_id_are_marked_and_never_chosen_by_guess(tmp_path: Path) -> None:
    with flat_lan("q", 3) as lab:
        real, real_port = start_server(lab, "n1", "Office", tmp_path)
        fake, fake_port = start_claimant(lab, "n2", "Office", tmp_path, id_of=tmp_path / "data-n1-Office")
        real_at, fake_at = f"10.77.0.1:{real_port}", f"10.77.0.2:{fake_port}"
        browse = ("--browse-time", "2")
        try:
            bob = tmp_path / "bob" / "settings.json"  # has met neither
            r = cli(lab, "n3", bob, "servers", "--timeout", "2")
            rows = [line for line in r.stdout.splitlines() if line.startswith("Office")]
            assert len(rows) == 2 and all("same id as another server" in row for row in rows), r.stdout
            for args in (("--pick", "office"), ()):
                r = cli(lab, "n3", bob, "send", "--room", "General", "--name", "Bob", *browse, *args, "guess")
                assert r.returncode == 1, r.stderr
                assert "--server HOST:PORT --fingerprint" in r.stderr and "Traceback" not in r.stderr, r.stderr
                assert real_at in r.stderr and fake_at in r.stderr
            r = cli(lab, "n3", bob, "--no-gui", "--name", "Bob", *browse, stdin="guess\n")
            assert r.returncode == 1 and "--server HOST:PORT --fingerprint" in r.stderr, r.stdout + r.stderr
            r = cli(lab, "n3", bob, "--no-gui", "--name", "Bob", "--pick", "office", *browse, stdin="guess\n")
            assert r.returncode == 1 and "--server HOST:PORT --fingerprint" in r.stderr, r.stdout + r.stderr

            ann = tmp_path / "ann" / "settings.json"  # has met the real one: the other is an impostor
            r = cli(lab, "n3", ann, "send", "--server", real_at, "--room", "General", "--name", "Ann", "met")
            assert r.returncode == 0, r.stderr
            r = cli(lab, "n3", ann, "servers", "--timeout", "2")
            [fake_row] = [line for line in r.stdout.splitlines() if fake_at in line]
            [real_row] = [line for line in r.stdout.splitlines() if real_at in line]
            assert "IMPOSTOR" in fake_row and "incompatible" not in fake_row, r.stdout
            assert "IMPOSTOR" not in real_row and "same id" not in real_row
            r = cli(lab, "n3", ann, "send", "--room", "General", "--name", "Ann", "--pick", "office", *browse,
                    "to the real one")
            assert r.returncode == 0, r.stderr

            check = tmp_path / "check" / "settings.json"
            assert texts(lab, "n3", check, real_at) == ["met", "to the real one"]
        finally:
            real.stop()
            fake.stop()


def test_terminal_kiosk_takes_the_named_else_the_one_it_used_last_else_says_how_to_choose(tmp_path: Path) -> None:
    """Issue 17: a kiosk with several servers takes --pick NAME, else the one it used last, else
    (never used any of them) refuses with the list and the way out: it never waits silently."""
    with flat_lan("k", 3) as lab:
        design, _ = start_server(lab, "n1", "Design team", tmp_path)
        office, _ = start_server(lab, "n2", "Office 2F", tmp_path)
        me = tmp_path / "kiosk" / "settings.json"
        kiosk = ["--no-gui", "--kiosk", "--name", "Screen", "--browse-time", "2"]

        def screen(*args: str) -> Proc:
            return Proc(lab, "n3", ["env", f"PYRTC_SETTINGS={me}", *PYRTC, *kiosk, *args,
                                    "--log-dir", str(tmp_path / "kiosk" / "logs")])

        shown: list[Proc] = []
        try:
            r = cli(lab, "n3", me, *kiosk)  # has used neither: it cannot choose, and says how to
            assert r.returncode == 1 and "Traceback" not in r.stderr, r.stdout + r.stderr
            assert "2 servers found" in r.stderr and "--pick NAME" in r.stderr, r.stderr
            assert "a kiosk takes the one it used last, and it has used none of these" in r.stderr
            assert "Design team" in r.stderr and "Office 2F" in r.stderr

            shown.append(screen("--pick", "office"))
            shown[-1].expect(lambda s: "kiosk: showing General on 'Office 2F'" in s, 20)
            assert shown[-1].stop() == 0

            # Not told which: the one it used last (not the first one found).
            shown.append(screen())
            line = shown[-1].expect(lambda s: "kiosk: showing" in s or "pyrtc:" in s, 20)
            assert "kiosk: showing General on 'Office 2F'" in line, shown[-1].seen
            assert shown[-1].stop() == 0
        finally:
            for proc in (*shown, design, office):
                proc.stop()
        office_log = (tmp_path / "logs-n2" / "chat.log").read_text()
        assert office_log.count(" connect name=Screen") == 2  # both runs showed Office 2F
        # The second, the same installation minutes later, watched General again as a resume:
        # no change, no second watch line (docs/security.md, max_changes).
        assert office_log.count("watch room=General name=Screen") == 1
        other = tmp_path / "logs-n1" / "chat.log"  # written once something happens there
        assert not other.exists() or "name=Screen" not in other.read_text()
