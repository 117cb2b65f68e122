"""The terminal client (`pyrtc --no-gui`) used as a person uses it: real processes on a real
server, driven line by line through a pipe, and on a real terminal (tmux: keystrokes in, the
screen read back) where the prompt, the typing indicator and the line being typed matter."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time
from pathlib import Path

from .procs import PYRTC, Server, Tmux, last, run, tail_json


def texts(server: Server, room: str) -> list[str]:
    return [str(m["text"]) for m in tail_json(server, room)]


def test_room_commands_confirm_and_keep_the_room_written_to(server: Server) -> None:
    r = run("--no-gui", "--server", server.address, "--name", "ann", stdin=(
        "/join Gaming\n/join Random Stuff\n/leave Gaming\nstill here\n/switch nowhere\n/join\n"
        "/frobnicate\n/leave\nback in general\n/leave\nlost\n/quit\n"))
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert "-- you are ann on 'CLI test'; writing to #General. /help for commands" in out
    assert "-- joined #Gaming (1 online: ann); writing to #Gaming" in out
    assert sum("Random Stuff" in line and "join" in line for line in out if line[:3] == "-- ") == 1, out
    assert "-- created #Random Stuff and joined it; writing to #Random Stuff" in out
    assert "-- left #Gaming; still writing to #Random Stuff" in out
    assert "!! you are not in #nowhere (your rooms: General, Random Stuff); /join nowhere joins it" in out
    assert "!! usage: /join ROOM" in out
    assert "!! unknown command /frobnicate; /help lists the commands" in out
    assert "-- left #Random Stuff; writing to #General" in out
    assert "-- left #General; you are in no room now: /join ROOM" in out
    assert "!! you are in no room: /join ROOM first" in out
    assert not any("commands:" in line for line in out)  # no help dumped on a mistake
    assert texts(server, "Random Stuff") == ["still here"]
    assert texts(server, "General") == ["back in general"]


class Chatter:
    """One `pyrtc --no-gui` fed through a pipe, its output lines collected as they come."""

    def __init__(self, server: Server, name: str, home: Path) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
        env.update(HOME=str(home), PYRTC_LOG_DIR=str(home / "logs"))
        self.proc = subprocess.Popen([*PYRTC, "--no-gui", "--server", server.address, "--name", name],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.expect(r"^-- you are ")

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def say(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def expect(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r}; saw: {self.seen[-12:]}") from None
            self.seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found

    def quit(self) -> int:
        if self.proc.poll() is None:
            self.say("/quit")
        return self.proc.wait(15)


def test_reactions_files_search_and_who(server: Server, tmp_path: Path) -> None:
    ann, bob = Chatter(server, "ann", tmp_path / "ann"), Chatter(server, "bob", tmp_path / "bob")
    try:
        ann.say("hello bob")
        seq = bob.expect(r"^\d\d:\d\d \[General\] #(\d+) ann: hello bob$").group(1)
        bob.say("/react last 👍")
        bob.expect(rf"^-- you reacted 👍 to #{seq} \(ann: hello bob\)$")
        ann.expect(rf"^-- bob reacted 👍 to #{seq} \(ann: hello bob\)$")
        bob.say(f"/react {seq} 👍")  # again: taken back, as a second click in the window
        ann.expect(rf"^-- bob took back 👍 from #{seq}")
        bob.say("/react 99 👍")
        bob.expect(r"^!! there is no message #99 in #General$")

        big = tmp_path / "big.bin"
        big.write_bytes(os.urandom(3_000_000))
        ann.say(f"/upload {big}")
        ann.expect(r"^-- uploading big\.bin \(2\.9 MiB\) to #General…$")
        file_seq = ann.expect(r"^-- uploaded big\.bin to #General as #(\d+)$").group(1)
        bob.expect(rf"\[General\] #{file_seq} ann: \[file\] big\.bin \(2\.9 MiB\) — /download {file_seq}$")
        ann.say(f"/upload {tmp_path}")
        ann.expect(rf"^!! {re.escape(str(tmp_path))} is a folder; /upload takes a file$")

        out = tmp_path / "saved"
        out.mkdir()
        bob.say(f"/download last {out}")
        bob.expect(rf"^-- saved {re.escape(str(out / 'big.bin'))} \(2\.9 MiB\)$")
        assert (out / "big.bin").read_bytes() == big.read_bytes()
        bob.say(f"/download {file_seq}")  # no path: the downloads folder, never overwriting
        downloads = tmp_path / "bob" / "Downloads"
        bob.expect(rf"^-- saved {re.escape(str(downloads / 'big.bin'))} \(2\.9 MiB\)$")
        bob.say(f"/download {file_seq}")
        bob.expect(rf"^-- saved {re.escape(str(downloads / 'big (1).bin'))} \(2\.9 MiB\)$")
        bob.say(f"/download {seq}")
        bob.expect(rf"^!! #{seq} is not a file$")
        bob.say("/join Side")  # the line said "/download N" in General: typed in another room
        bob.expect(r"^-- created #Side and joined it; writing to #Side$")
        bob.say(f"/download {file_seq}")
        bob.expect(rf"^-- saved {re.escape(str(downloads / 'big (2).bin'))} \(2\.9 MiB\)$")
        bob.say("/switch General")

        ann.say("/search HELLO")
        ann.expect(r"^-- 1 message in #General matches 'HELLO':$")
        ann.expect(rf"^\d\d:\d\d \[General\] #{seq} ann: hello bob$")
        ann.say("/search nothing like it")
        ann.expect(r"^-- no message in #General matches 'nothing like it'$")
        ann.say("/who")
        ann.expect(r"^-- #General: 2 online: ann, bob$")
        ann.say("/rooms")
        ann.expect(r"^ \* General +2 online, 2 members$")
        ann.say("/help")
        ann.expect(r"^commands \(anything else is sent to the current room\):$")
        shown = " ".join(ann.expect(r"^  /").string for _ in range(4))  # short: four lines
        for command in ("/join", "/leave", "/switch", "/rooms", "/who", "/react", "/upload", "/download",
                        "/search", "/info", "/quit"):
            assert command in shown, shown
    finally:
        assert ann.quit() == 0
        assert bob.quit() == 0


def test_info_says_how_far_a_message_got(server: Server, tmp_path: Path) -> None:
    dan = Chatter(server, "dan", tmp_path / "dan")  # a member, away when the message comes
    assert dan.quit() == 0
    assert run("send", "--server", server.address, "--room", "General", "--name", "cron", "nightly ok").returncode == 0
    cy = Chatter(server, "cy", tmp_path / "cy")
    cy.say("/leave")
    cy.expect(r"^-- left #General")
    ann, bob = Chatter(server, "ann", tmp_path / "ann"), Chatter(server, "bob", tmp_path / "bob")
    try:
        ann.say("lunch?")
        seq = ann.expect(r"^\d\d:\d\d \[General\] #(\d+) ann: lunch\?$").group(1)
        bob.expect(rf"#{seq} ann: lunch\?$")  # printed on bob's terminal: shown, so read
        want = f"-- #{seq} (ann: lunch?): delivered to 1 of 2 · read by 1 (bob)"
        deadline = time.monotonic() + 20
        while (line := ask(ann, "/info last", r"^-- #\d+ \(ann: lunch\?\): ")) != want:
            assert time.monotonic() < deadline, line  # bob's read is on its way: ask again
            time.sleep(0.1)
        assert ask(ann, "/info", r"^!! ") == "!! usage: /info SEQ|last"
    finally:
        assert ann.quit() == 0
        assert bob.quit() == 0
        assert cy.quit() == 0


def ask(chatter: Chatter, command: str, answer: str) -> str:
    chatter.say(command)
    return chatter.expect(answer).string


# ---------------------------------------------------------------- on a real terminal


def test_terminal_prompt_shows_the_room_typing_and_keeps_the_line_being_typed(
        server: Server, tmux: Tmux) -> None:
    chat = " ".join([*PYRTC, "--no-gui", "--server", server.address])
    # After /quit the shell prints the terminal's modes: the client must have restored them.
    tmux.start("ann", f"{chat} --name ann; stty -a | grep -o -- '-*icanon' ; sleep 600")
    tmux.start("bob", f"{chat} --name bob")
    tmux.wait("ann", lambda s: last(s) == "#General>", "prompt with the room")
    tmux.wait("bob", lambda s: last(s) == "#General>", "prompt with the room")

    tmux.keys("ann", "hel")  # a line started, not sent: bob sees that ann types
    tmux.wait("bob", lambda s: last(s) == "#General (ann is typing…)>", "typing indicator")
    tmux.keys("bob", "hi ann", enter=True)
    # The line being typed is redrawn under the message, not lost (waited for together: the
    # screen may be read between the message and the prompt's redraw).
    tmux.wait("ann", lambda s: any(line.endswith("bob: hi ann") for line in s) and last(s) == "#General> hel",
              "bob's message above the line being typed")
    tmux.keys("ann", "lo", enter=True)
    screen = tmux.wait("bob", lambda s: any(line.endswith("ann: hello") for line in s), "ann's message")
    tmux.wait("bob", lambda s: last(s) == "#General>", "typing indicator gone")

    tmux.keys("ann", "/join Gaming", enter=True)
    tmux.wait("ann", lambda s: last(s) == "#Gaming>", "prompt with the new room")
    tmux.keys("ann", "/quit", enter=True)
    screen = tmux.wait("ann", lambda s: last(s) in ("icanon", "-icanon"), "terminal modes after quit")
    assert last(screen) == "icanon"  # line editing and echo are back for the shell
