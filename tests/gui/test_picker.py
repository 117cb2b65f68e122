"""The window's server picker and kiosk on a LAN of network namespaces (real servers, real
mDNS), driven through the real controls: X events aimed at the rectangles the window reports,
outcomes checked in the window's state, its screenshots and the servers' own logs."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrtc.client import ClientSession, Identity
from pyrtc.gui.palette import DARK
from pyrtc.server import ChatServer

from ..conftest import server_config
from ..discovery.netlab import PYRTC, Lab, flat_lan
from ..discovery.test_mdns import Proc, start_server
from .driver import State, Window, close, drawn_in, keep_for_docs, opened, pixels_in, row, virtual_screen

pytestmark = pytest.mark.mdns


@pytest.fixture
def lan() -> Iterator[Lab]:
    """Nodes n1..n4 on one bridge, 10.77.0.1-4/24; the window runs on n3."""
    with flat_lan("w", 4) as lab:
        yield lab


@pytest.fixture
def display() -> Iterator[str]:
    with virtual_screen() as screen:
        yield screen


def entry(s: State, name: str) -> dict[str, object] | None:
    """The picker's line for the server `name` (a button when it is offered)."""
    return next((e for e in s["picker"]["entries"] if str(e["text"] or "").split("  —")[0].endswith(name)), None)


async def button_of(w: Window, name: str) -> dict[str, object]:
    """The picker's button for the server `name`, as laid out on screen."""
    return await w.item(f"the button of {name}", lambda i: i["type"] == "mvButton"
                        and str(i["label"]).startswith(f"{name}  —"), root="picker_list")


def offered(s: State) -> list[str]:
    return sorted(str(e["label"]).split("  —")[0] for e in s["picker"]["entries"] if e["type"] == "mvButton")


def joined(tmp: Path, node: str, name: str, how: str = "join") -> bool:
    """The server on `node` logged `name` joining (a kiosk: watching) General: its own record."""
    log = tmp / f"logs-{node}" / "chat.log"
    return log.exists() and f"{how} room=General name={name}" in log.read_text()


async def logged(tmp: Path, node: str, name: str, how: str = "join") -> None:
    """Wait until the server on `node` has written that line (it writes its log in batches)."""
    deadline = time.monotonic() + 30
    while not joined(tmp, node, name, how):
        assert time.monotonic() < deadline, f"{tmp}/logs-{node}/chat.log has no {how} of {name}"
        await asyncio.sleep(0.1)


async def test_picker_list_is_live_and_connects_to_the_server_clicked(lan: Lab, tmp_path: Path,
                                                                      display: str) -> None:
    design, _ = start_server(lan, "n1", "Design team", tmp_path)
    office, office_port = start_server(lan, "n2", "Office 2F", tmp_path)
    lab: Proc | None = None
    try:
        async with opened(["--name", "Carol", "--interface", "10.77.0.3", "--browse-time", "8"],
                          display=display, home=tmp_path / "carol", netns=lan.ns("n3")) as w:
            s = await w.wait("both servers offered", lambda s: offered(s) == ["Design team", "Office 2F"]
                             and s["picker"]["status"] == "2 servers found. Choose one:")
            assert s["picker"]["shown"] and s["mode"] == "picking"
            # A server that comes up now is listed at once (the list is live), with its users
            # online and its address; one that stops is taken off.
            lab, _ = start_server(lan, "n4", "Lab 3", tmp_path)
            s = await w.wait("Lab 3 listed", lambda s: offered(s) == ["Design team", "Lab 3", "Office 2F"])
            line = entry(s, "Office 2F")
            assert line is not None and f"0 online, 3 rooms, 10.77.0.2:{office_port}" in str(line["label"])
            img, s = await w.shot(tmp_path / "picker.png")
            keep_for_docs(img, "picker.png")
            line = entry(s, "Lab 3")
            assert line is not None and drawn_in(img, line["rect"], DARK.bg)  # type: ignore[arg-type]
            design.stop()
            await w.wait("Design team gone", lambda s: offered(s) == ["Lab 3", "Office 2F"])

            await w.click(await button_of(w, "Office 2F"))
            s = await w.wait("the chat", lambda s: s["mode"] == "chatting" and s["connection"] == "connected")
            assert s["server"] == "Office 2F" and not s["picker"]["shown"]
            assert s["status"].startswith(f"connected — Office 2F (10.77.0.2:{office_port}) — you are Carol")
        await logged(tmp_path, "n2", "Carol")
        assert not joined(tmp_path, "n4", "Carol")
    finally:
        for proc in (design, office, lab):
            if proc is not None:
                proc.stop()


async def test_picker_hosts_here_when_nothing_is_found(lan: Lab, tmp_path: Path, display: str) -> None:
    async with opened(["--name", "Carol", "--interface", "10.77.0.3", "--data-dir", str(tmp_path / "hosted")],
                      display=display, home=tmp_path / "carol", netns=lan.ns("n3")) as w:
        s = await w.wait("nothing found", lambda s: "Why:" in s["picker"]["status"])
        assert s["picker"]["status"].startswith("No PyRTC server found on 10.77.0.3. Host one here")
        assert s["picker"]["entries"] == [] and s["picker"]["shown"]
        host = await w.item("Host here", lambda i: i["label"] == "Host here")
        await w.click(host)
        s = await w.wait("hosting", lambda s: s["mode"] == "chatting" and s["connection"] == "connected")
        assert s["status"].startswith("host mode — ") and not s["picker"]["shown"]
        # Others on the LAN find the server it hosts.
        r = lan.pyrtc("n1", "send", "--room", "General", "--name", "Ann", "found you", log_dir=tmp_path / "la")
        assert r.returncode == 0, r.stderr
        await w.wait("Ann's message", lambda s: row(s, "found you") is not None)
    assert (tmp_path / "hosted" / "server-id").exists()


async def test_a_name_taken_on_the_server_hosted_here_keeps_that_server(
        lan: Lab, tmp_path: Path, display: str) -> None:
    """The window hosts, and its name belongs to someone else there: asked again, the new
    name connects to the same server, still running. A new name replaces the client thread;
    the server used to run on that thread and stopped with it, and the new name waited on a
    server that no longer answered."""
    data = tmp_path / "hosted"
    async with ChatServer(server_config(data)) as srv:  # someone else was Carol there before
        async with ClientSession(*srv.address, "Carol", identity=Identity.generate()) as other:
            await other.join("General")
    async with opened(["--name", "Carol", "--host-if-none", "--interface", "10.77.0.3", "--data-dir", str(data)],
                      display=display, home=tmp_path / "carol", netns=lan.ns("n3")) as w:
        s = await w.wait("the name prompt", lambda s: s["name_prompt"]["shown"])
        assert "belongs to someone else" in s["name_prompt"]["error"], s["name_prompt"]
        await w.fill("name_input", "Carol B")
        s = await w.wait("the chat", lambda s: s["mode"] == "chatting" and s["connection"] == "connected"
                         and s["me"] == "Carol B" and not s["name_prompt"]["shown"])
        assert s["status"].startswith("host mode — ")


async def test_picker_labels_an_impostor_and_never_offers_it(lan: Lab, tmp_path: Path, display: str) -> None:
    real, real_port = start_server(lan, "n1", "Office", tmp_path)
    fake_data = tmp_path / "data-n2-Office"  # the impostor: the real server's id, its own certificate
    fake_data.mkdir()
    shutil.copy(tmp_path / "data-n1-Office" / "server-id", fake_data / "server-id")
    fake, fake_port = start_server(lan, "n2", "Office", tmp_path)
    home = tmp_path / "carol"
    try:
        # Carol has met the real server before: her window pins its certificate.
        r = lan.run("n3", ["env", f"PYRTC_SETTINGS={home}/.config/settings.json", *PYRTC, "send",
                           "--server", f"10.77.0.1:{real_port}", "--room", "General", "--name", "Carol", "met",
                           "--log-dir", str(tmp_path / "lm")])
        assert r.returncode == 0, r.stderr
        async with opened(["--name", "Carol", "--interface", "10.77.0.3", "--browse-time", "600"],
                          display=display, home=home, netns=lan.ns("n3")) as w:
            s = await w.wait("both listed", lambda s: len(s["picker"]["entries"]) >= 3 and offered(s) == ["Office"])
            labels = [str(e["text"]) for e in s["picker"]["entries"]]
            fake_line = next(e for e in s["picker"]["entries"] if str(e["text"]).startswith("IMPOSTOR: Office"))
            assert f"10.77.0.2:{fake_port}" in str(fake_line["text"]) and fake_line["type"] == "mvText"
            assert any("an impostor, never connected to" in text for text in labels), labels
            assert not any("incompatible" in text for text in labels), labels
            img, s = await w.shot(tmp_path / "impostor.png")
            fake_line = next(e for e in s["picker"]["entries"] if str(e["text"]).startswith("IMPOSTOR: Office"))
            assert any(close(px, DARK.error, 30) for px in pixels_in(img, fake_line["rect"]))  # type: ignore[arg-type]
            await w.click(await button_of(w, "Office"))
            s = await w.wait("the chat", lambda s: s["mode"] == "chatting" and s["connection"] == "connected")
            assert f"10.77.0.1:{real_port}" in s["status"]
        await logged(tmp_path, "n1", "Carol")
        assert not joined(tmp_path, "n2", "Carol")
    finally:
        real.stop()
        fake.stop()


async def test_kiosk_with_two_servers_picks_the_named_then_the_last_then_asks(lan: Lab, tmp_path: Path,
                                                                              display: str) -> None:
    design, design_port = start_server(lan, "n1", "Design team", tmp_path)
    office: Proc | None = None
    home = tmp_path / "kiosk"
    kiosk = ["--kiosk", "--interface", "10.77.0.3"]
    try:
        # --pick names a server that is not up yet: the kiosk says it waits for it, then takes it
        # (not the one it found first).
        async with opened([*kiosk, "--pick", "Office 2F"], display=display, home=home, netns=lan.ns("n3")) as w:
            s = await w.wait("the wait said", lambda s: s["status"].startswith("Waiting for the server 'Office 2F'")
                             and "found: Design team" in s["status"])
            assert s["mode"] == "picking" and not s["picker"]["shown"]
            office, _ = start_server(lan, "n2", "Office 2F", tmp_path)
            s = await w.wait("Office 2F shown", lambda s: s["mode"] == "chatting" and s["connection"] == "connected")
            assert s["server"] == "Office 2F"

        # Without --pick it takes the one it used last (the list would put Design team first).
        async with opened([*kiosk, "--browse-time", "8"], display=display, home=home, netns=lan.ns("n3")) as w:
            s = await w.wait("the chat", lambda s: s["mode"] == "chatting" and s["connection"] == "connected")
            assert s["server"] == "Office 2F"

        # A kiosk that never connected anywhere asks, in its large type; the answer is clicked.
        fresh = tmp_path / "new-kiosk"
        async with opened([*kiosk, "--browse-time", "8"], display=display, home=fresh, netns=lan.ns("n3")) as w:
            s = await w.wait("the picker", lambda s: s["picker"]["shown"] and offered(s) == ["Design team", "Office 2F"]
                             and s["picker"]["status"] == "2 servers found. Choose one:")
            button = await button_of(w, "Design team")
            assert button["rect"][3] - button["rect"][1] >= 30  # the kiosk's large type
            img, _ = await w.shot(tmp_path / "kiosk-picker.png")
            await w.click(button)
            await w.wait("the chat", lambda s: s["mode"] == "chatting" and s["connection"] == "connected")
            for name, text in (("Alice Martin", "Stand-up moved to 10:15 — room Ørsted"),
                               ("Bob", "Thanks! I'll share the slides ✓"),
                               ("Chen Wei", "Build 1.4.2 is green on all platforms 🎉")):
                r = lan.pyrtc("n4", "send", "--server", f"10.77.0.1:{design_port}", "--room", "General",
                              "--name", name, text, log_dir=tmp_path / "ls")
                assert r.returncode == 0, r.stderr
            s = await w.wait("the messages", lambda s: row(s, "Build 1.4.2 is green on all platforms 🎉") is not None
                             and s["viewport"] == [1280, 800])
            assert s["server"] == "Design team" and "search" not in [i for i in s["inputs"] if s["inputs"][i]["visible"]]
            img, _ = await w.shot(tmp_path / "kiosk.png")
            keep_for_docs(img, "kiosk.png")
        await logged(tmp_path, "n2", "kiosk", "watch")
        await logged(tmp_path, "n1", "kiosk", "watch")
    finally:
        design.stop()
        if office is not None:
            office.stop()



async def test_a_server_new_where_another_was_is_warned_of_and_declining_leaves_the_list(
        lan: Lab, tmp_path: Path, display: str) -> None:
    """Issue 17: chosen in the picker, a server that is not the one remembered at its address
    brings the identity warning (it was closed with the picker's modal window, never seen);
    "Do not connect" says so and gives the live list back, where another server is chosen."""
    first, port = start_server(lan, "n1", "Office", tmp_path)
    home = tmp_path / "carol"
    r = lan.run("n3", ["env", f"PYRTC_SETTINGS={home}/.config/settings.json", *PYRTC, "send", "--server",
                       f"10.77.0.1:{port}", "--room", "General", "--name", "Carol", "met",
                       "--log-dir", str(tmp_path / "lm")])
    assert r.returncode == 0, r.stderr
    first.stop()
    newcomer, _ = start_server(lan, "n1", "Office new", tmp_path, "--port", str(port))
    other, _ = start_server(lan, "n2", "Lab", tmp_path)
    try:
        async with opened(["--name", "Carol", "--interface", "10.77.0.3", "--browse-time", "600"],
                          display=display, home=home, netns=lan.ns("n3")) as w:
            # (The address remembered is listed too, as "Office": something answers there.)
            await w.wait("both offered", lambda s: {"Lab", "Office new"} <= set(offered(s)))
            await w.click(await button_of(w, "Office new"))
            refuse = await w.item("Do not connect", lambda i: i["label"] == "Do not connect", root="identity")
            await w.click(refuse)
            s = await w.wait("not connected, said", lambda s: s["mode"] == "picking" and s["picker"]["shown"]
                             and s["picker"]["status"].startswith("Not connected: you chose not to connect to "
                                                                  f"10.77.0.1:{port}"))
            assert s["status"] == s["picker"]["status"] and "Choose another server" in s["status"]
            await w.wait("the list, live again", lambda s: {"Lab", "Office new"} <= set(offered(s)))
            await w.click(await button_of(w, "Lab"))
            s = await w.wait("the chat", lambda s: s["mode"] == "chatting" and s["connection"] == "connected")
            assert s["server"] == "Lab"
        await logged(tmp_path, "n2", "Carol")
        assert not joined(tmp_path, "n1", "Carol")  # the first server's log is the newcomer's too: never joined
    finally:
        for proc in (newcomer, other):
            proc.stop()
