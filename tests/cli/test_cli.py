"""The `pyrtc` command driven as a user would: real processes, real server, real files."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from pyrtc.client import ClientSession, Identity
from pyrtc.client.settings import Settings
from pyrtc.store import Store

from .procs import PYRTC, Server, run, tail_json


def test_send_then_tail(server: Server) -> None:
    r = run("send", "--server", server.address, "--room", "General", "--name", "ann", "hello", "there")
    assert r.returncode == 0, r.stderr
    r = run("send", "--server", server.address, "--room", "General", "--name", "bob",
            stdin="one\n\ntwo\nthree ✓\n")
    assert r.returncode == 0, r.stderr
    msgs = tail_json(server)
    assert [(m["seq"], m["sender"], m["text"]) for m in msgs] == [
        (1, "ann", "hello there"), (2, "bob", "one"), (3, "bob", "two"), (4, "bob", "three ✓")]
    assert {"seq", "room", "sender", "time", "text", "file"} <= set(msgs[0])
    assert [m["seq"] for m in tail_json(server, "General", "--since", "2")] == [3, 4]
    human = run("tail", "--server", server.address, "--room", "General")
    assert re.search(r"#1 ann: hello there", human.stdout)


def test_tail_follow_prints_live_messages(server: Server) -> None:
    run("send", "--server", server.address, "--room", "Gaming", "--name", "ann", "before")
    follow = subprocess.Popen([*PYRTC, "tail", "--server", server.address, "--room", "Gaming",
                               "--follow", "--json"], stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        assert json.loads(follow.stdout.readline())["text"] == "before"  # printed history: it has joined
        run("send", "--server", server.address, "--room", "Gaming", "--name", "ann", "live!")
        line = follow.stdout.readline()
        assert json.loads(line)["text"] == "live!"
    finally:
        follow.terminate()
        follow.wait(5)


def test_tail_ends_quietly_when_its_reader_leaves(server: Server) -> None:
    """`pyrtc tail --follow | head -1`: once head has its line and goes, the next line ends
    tail quietly, as it ends `yes` or `cat`, with no error printed."""
    run("send", "--server", server.address, "--room", "Gaming", "--name", "ann", "before")
    follow = subprocess.Popen([*PYRTC, "tail", "--server", server.address, "--room", "Gaming",
                               "--follow", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert follow.stdout is not None and follow.stderr is not None
    assert json.loads(follow.stdout.readline())["text"] == "before"
    follow.stdout.close()  # the reader leaves
    run("send", "--server", server.address, "--room", "Gaming", "--name", "ann", "nobody reads this")
    try:
        assert follow.wait(30) == 141  # 128 + SIGPIPE, as a shell reports it for `yes | head -1`
    finally:
        follow.kill()
    assert follow.stderr.read() == ""


def test_upload_and_download(server: Server, tmp_path: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_bytes(os.urandom(700_000))
    r = run("upload", "--server", server.address, "--room", "Study", "--name", "ann", str(src))
    assert r.returncode == 0, r.stderr
    assert "uploaded notes.txt to Study as message #1" in r.stdout
    [msg] = tail_json(server, "Study")
    file = msg["file"]
    assert isinstance(file, dict) and file["name"] == "notes.txt" and file["size"] == 700_000
    out = tmp_path / "copy.txt"
    r = run("download", "--server", server.address, str(file["id"]), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == src.read_bytes()
    r = run("download", "--server", server.address, str(file["id"]), "-o", str(out))
    assert r.returncode == 1 and "not overwriting" in r.stderr


def test_one_shot_commands_keep_one_name_and_never_become_members(server: Server, tmp_path: Path) -> None:
    src = tmp_path / "notes.txt"
    src.write_text("minutes")
    at = ["--server", server.address]
    assert run("send", *at, "--room", "General", "--name", "cron", "nightly ok").returncode == 0
    assert run("upload", *at, "--room", "Study", "--name", "cron", str(src)).returncode == 0
    [posted] = tail_json(server, "Study")
    file_id = str(posted["file"]["id"])  # type: ignore[index]
    for n, room in enumerate(("General", "Study")):  # tail and download, twice each
        assert tail_json(server, room)
        got = run("download", *at, file_id, "--room", "Study", "-o", str(tmp_path / f"copy{n}.txt"))
        assert got.returncode == 0, got.stderr
    Settings().set("name", "Ann")  # a display name is remembered: it names them from now on
    assert tail_json(server, "General")
    assert server.stop()[0] == 0
    store = Store(tmp_path / "data" / "history.db")
    try:
        uid = Identity.load_or_create().uid  # this installation's (the test's own settings)
        assert store.names.names_of(uid) == sorted(["Ann-cli", f"cli-{uid[:10]}", "cron"])
        assert [m.name for room in ("General", "Study") for m in store.members(room)] == []
    finally:
        store.close()


@pytest.mark.parametrize("args,message", [
    (["send", "--server", "127.0.0.1:1", "--room", "General", "--name", "a", "x"], "connection refused"),
    (["send", "--server", "{addr}", "--room", "Nope", "--name", "a", "x"], "no room named 'Nope'"),
    (["download", "--server", "{addr}", "f" * 64, "-o", "/tmp/pyrtc-never"], "no file with id"),
    (["upload", "--server", "{addr}", "--room", "General", "--name", "a", "/no/such/file"], "no such file"),
    (["upload", "--server", "{addr}", "--room", "General", "--name", "a", "/tmp"], "/tmp is a folder"),
])
def test_errors_are_one_clear_line(server: Server, args: list[str], message: str) -> None:
    r = run(*[a.replace("{addr}", server.address) for a in args])
    assert r.returncode == 1
    assert message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_name_taken(server: Server) -> None:
    run("send", "--server", server.address, "--room", "General", "--name", "ann", "first")
    holder = subprocess.Popen([*PYRTC, "tail", "--server", server.address, "--room", "General",
                               "--follow", "--name", "dana"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert "first" in holder.stdout.readline()  # printed history: dana is connected
        r = run("send", "--server", server.address, "--room", "General", "--name", "Dana", "hi")
        assert r.returncode == 1 and "'Dana' is in use" in r.stderr and "Traceback" not in r.stderr
    finally:
        holder.terminate()
        holder.wait(5)


def test_bad_arguments_exit_2_with_usage() -> None:
    r = run("send", "--room", "General")
    assert r.returncode == 2 and "required" in r.stderr and "Traceback" not in r.stderr
    r = run("send", "--server", "host:notaport", "--room", "General", "--name", "a", "x")
    assert r.returncode == 2 and "bad port in server address 'host:notaport'" in r.stderr
    r = run("download", "--server", "127.0.0.1:1", "xyz", "-o", "/tmp/pyrtc-never")
    assert r.returncode == 2 and "not a file id: 'xyz'" in r.stderr
    for empty in ("", "   "):  # nothing to send is a mistake in the arguments, not a crash
        r = run("send", "--server", "127.0.0.1:1", "--room", "General", "--name", "a", empty)
        assert r.returncode == 2 and "nothing to send" in r.stderr and "unexpected" not in r.stderr
    for args, message in ((["--room", "../x", "--name", "a", "x"], "room name '../x' may hold only"),
                          (["--room", "General", "--name", " ", "x"], "the name ' ' has"),
                          (["--room", "General", "--name", "a", "x" * 9000], "limit is 8000")):
        r = run("send", "--server", "127.0.0.1:1", *args)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    r = run("server", "--port", "70000")
    assert r.returncode == 2 and "out of range" in r.stderr
    r = run("server", "--max-files", "-1")
    assert r.returncode == 2 and "-1 is below 0 (0 means no limit)" in r.stderr
    r = run("server", "--max-files", "many")
    assert r.returncode == 2 and "not a whole number: 'many'" in r.stderr


def test_server_stops_cleanly_on_sigterm_and_sigint(tmp_path: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        srv = Server(tmp_path / str(sig))
        code, out = srv.stop(sig)
        assert code == 0 and "stopped" in out


def test_busy_port_is_a_clear_error(server: Server, tmp_path: Path) -> None:
    port = server.address.split(":")[1]
    r = run("server", "--host", "127.0.0.1", "--port", port, "--data-dir", str(tmp_path / "d2"),
            "--no-announce")
    assert r.returncode == 1 and "cannot listen" in r.stderr and "Traceback" not in r.stderr


def test_chat_activity_is_logged_without_forged_lines(server: Server) -> None:
    run("send", "--server", server.address, "--room", "General", "--name", "eve",
        "fine\n2026-01-01 00:00:00 message room=General seq=99 from=admin text=\"forged\"")
    code, _ = server.stop()
    assert code == 0
    chat = (server.logs / "chat.log").read_text()
    assert "visit room=General name=eve" in chat and "connect name=eve" in chat  # send visits, never joins
    lines = [ln for ln in chat.splitlines() if "forged" in ln]
    assert len(lines) == 1 and "from=eve" in lines[0] and "\\n" in lines[0]
    assert (server.logs / "pyrtc-server.log").read_text().count("listening on") == 1


def test_terminal_client_reads_a_finished_pipe(server: Server) -> None:
    """Lines piped in, then EOF: sent, and a clean exit (the pipe transport closes stdin)."""
    r = run("--no-gui", "--server", server.address, "--name", "piper", stdin="first\nsecond\n/quit\n")
    assert r.returncode == 0, r.stderr
    r2 = run("--no-gui", "--server", server.address, "--name", "piper2", stdin="no quit, just EOF\n")
    assert r2.returncode == 0, r2.stderr
    assert [m["text"] for m in tail_json(server)] == ["first", "second", "no quit, just EOF"]


def test_terminal_client_joins_a_locked_room_with_its_password(server: Server) -> None:
    async def lock() -> None:
        host, port = server.address.rsplit(":", 1)
        async with ClientSession(host, int(port), "owner") as owner:
            await owner.create_room("Board", password="quarterly")

    asyncio.run(lock())
    r = run("--no-gui", "--server", server.address, "--name", "pat",
            stdin="/rooms\n/join Board\nwrong\n/join Board\nquarterly\nhello board\n/quit\n")
    assert r.returncode == 0, r.stderr
    assert re.search(r"Board\s+\d+ online, 1 member \(locked\)", r.stdout)
    assert r.stdout.count("-- #Board is locked; its password:") == 2
    assert r.stdout.count("!! the room 'Board' needs its password, and that one is not it") == 1
    assert "quarterly" not in r.stdout and "wrong" not in r.stdout.replace("!! the room", "")
    assert [m["text"] for m in tail_json(server, "Board", "--room-password", "quarterly")] == ["hello board"]


def test_server_password_from_the_command_line(tmp_path: Path) -> None:
    srv = Server(tmp_path, "--password", "opensesame")
    try:
        r = run("send", "--server", srv.address, "--room", "General", "--name", "ann", "hi")
        assert r.returncode == 1 and "needs a password (--password)" in r.stderr
        r = run("send", "--server", srv.address, "--room", "General", "--name", "ann", "--password",
                "opensesame", "hi")
        assert r.returncode == 0, r.stderr
    finally:
        srv.stop()


def test_help_shows_the_chat_options() -> None:
    """Bare `pyrtc` chats: its own options are what `pyrtc --help` must show first."""
    r = run("--help")
    assert r.returncode == 0
    for option in ("--name", "--no-gui", "--room", "--server", "--host-if-none", "--kiosk", "--pick"):
        assert option in r.stdout, option


def test_sizes_are_for_people(tmp_path: Path) -> None:
    srv = Server(tmp_path, "--max-file", "2M")
    try:
        big = tmp_path / "big.bin"
        big.write_bytes(b"x" * 3_000_000)
        r = run("upload", "--server", srv.address, "--room", "General", "--name", "ann", str(big))
        assert r.returncode == 1
        assert "big.bin is 2.9 MiB; the server accepts up to 2.0 MiB" in r.stderr, r.stderr
        assert "3000000" not in r.stderr
    finally:
        srv.stop()


def test_an_address_nobody_answers_is_not_called_refused(tmp_path: Path) -> None:
    """A machine that is not there (nobody answers ARP) is "unreachable", not "refused"; run in
    a throwaway network namespace whose only neighbour link leads nowhere."""
    if os.geteuid() != 0:
        pytest.fail("needs root for a network namespace (unshare -n)")
    setup = ("ip link set lo up && ip link add nowhere0 type veth peer name nowhere1 && "
             "ip addr add 10.99.0.1/24 dev nowhere0 && ip link set nowhere0 up && ip link set nowhere1 up && "
             'exec "$@"')
    r = subprocess.run(["unshare", "-n", "sh", "-c", setup, "sh", *PYRTC, "send", "--server",
                        "10.99.0.2:47474", "--room", "General", "--name", "a", "x"],
                       capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYRTC_LOG_DIR=str(tmp_path)))
    assert r.returncode == 1, r.stderr
    assert "cannot reach the server at 10.99.0.2:47474" in r.stderr
    assert "refused" not in r.stderr and "unreachable" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
