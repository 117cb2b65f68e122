"""The ✓ marks' tooltip on one's own message says how far it got, current as receipts come:
the real window under Xvfb (tests/gui/hover_pilot.py reports what it draws), the pointer
moved onto the marks with a real X event (xdotool), and a screenshot of the tooltip."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pyrtc.client import ClientSession, Identity
from pyrtc.server import ChatServer

from ..conftest import server_config
from .hover_pilot import TEXT

ROOT = Path(__file__).resolve().parents[2]
State = dict[str, Any]


async def read_state(out: Path, proc: subprocess.Popen[bytes], what: str, pred: Callable[[State], bool],
                     timeout: float = 60) -> State:
    """The window's state once `pred` holds (it writes the file every few frames)."""
    last: State = {}
    try:
        async with asyncio.timeout(timeout):
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"the window exited waiting for {what}")
                try:
                    last = json.loads((out / "state.json").read_text())
                except (FileNotFoundError, ValueError):
                    last = {}
                if last and pred(last):
                    return last
                await asyncio.sleep(0.05)  # another process: poll its file
    except TimeoutError:
        raise AssertionError(f"waited {timeout} s for {what}; the window shows {last}") from None


def own_row(state: State) -> dict[str, Any] | None:
    return next((r for r in state["rows"] if r["text"] == TEXT and r["seq"]), None)


def shown_lines(state: State) -> list[str]:
    """The lines of every tooltip of our message that is on screen now."""
    row = own_row(state)
    return [line["value"] for tip in (row["tooltips"] if row else []) if tip["visible"] for line in tip["lines"]]


async def screenshot(path: Path) -> Image.Image:
    """The window's screenshot once it is written whole."""
    async with asyncio.timeout(30):
        while True:
            try:
                with Image.open(path) as img:
                    return img.convert("RGB")
            except (FileNotFoundError, OSError, SyntaxError):  # not there yet, or half written
                await asyncio.sleep(0.05)


def status_of(state: State) -> str:
    row = own_row(state)
    return str(row["status"]) if row else ""


async def xdotool(display: dict[str, str], *args: str) -> str:
    proc = await asyncio.create_subprocess_exec("xdotool", *args, env=dict(os.environ, **display),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, f"xdotool {' '.join(args)}: {err.decode()}"
    return out.decode()


async def test_hovering_the_marks_shows_how_far_the_message_got(tmp_path: Path) -> None:
    for tool in ("xvfb-run", "xdotool"):
        if shutil.which(tool) is None:
            pytest.fail(f"needs {tool} (apt xvfb xdotool), installed by scripts/test.sh")
    out = tmp_path / "out"
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        people = [ClientSession(host, port, n, identity=Identity.generate(), auto_delivered=False)
                  for n in ("bob", "cy", "dan")]
        bob, cy, dan = people
        for s in people:
            await s.connect()
            await s.join("General")
        await dan.leave("General")  # a member no more: never waited for
        env = dict(os.environ, HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"),
                   XDG_CONFIG_HOME=str(tmp_path / "config"), PYRTC_LOG_DIR=str(tmp_path / "logs"))
        log = tmp_path / "window.log"
        with open(log, "wb") as sink:  # a file, not a pipe: nothing here blocks on its output
            proc = subprocess.Popen(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m",
                                     "tests.gui.hover_pilot", "--server", f"{host}:{port}", "--out", str(out)],
                                    cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT,
                                    start_new_session=True)  # its own group: Xvfb goes with it
        try:
            state = await read_state(out, proc, "Carol's message with its marks",
                                     lambda s: (r := own_row(s)) is not None and bool(r["status_rect"][2]))
            row = own_row(state)
            assert row is not None and row["mark"] == "✓" and shown_lines(state) == []  # not hovered yet
            display = state["display"]
            window = (await xdotool(display, "search", "--name", "^PyRTC$")).split()[0]
            r = row["status_rect"]
            await xdotool(display, "mousemove", "--window", window, str(int((r[0] + r[2]) / 2)),
                          str(int((r[1] + r[3]) / 2)))
            state = await read_state(out, proc, "the tooltip", lambda s: bool(shown_lines(s)))
            assert shown_lines(state) == ["delivered to 0 of 2 · read by 0"]

            seq = own_row(state)["seq"]  # type: ignore[index]
            await bob.wait_for(lambda s: seq in s.rooms["General"].by_seq, 20)
            await bob.mark_read("General", seq)
            state = await read_state(out, proc, "bob's read in the tooltip",
                                     lambda s: shown_lines(s) != ["delivered to 0 of 2 · read by 0"])
            assert shown_lines(state) == ["delivered to 1 of 2 · read by 1 (bob)"]  # replaced, not stacked

            await cy.wait_for(lambda s: seq in s.rooms["General"].by_seq, 20)
            await cy.mark_read("General", seq)
            state = await read_state(out, proc, "blue ✓✓", lambda s: status_of(s) == "read")
            state = await read_state(out, proc, "cy's read in the tooltip",
                                     lambda s: "read by 2" in " ".join(shown_lines(s)))
            assert shown_lines(state) == ["delivered to 2 of 2 · read by 2 (bob, cy)"]
            row = own_row(state)
            assert row is not None and row["mark"] == "✓✓"
            marks_tips = [t for t in row["tooltips"]  # the time has a tooltip of its own (the full date)
                          if any(line["value"].startswith(("delivered", "sent")) for line in t["lines"])]
            assert len(marks_tips) == 1  # the marks' one tooltip, replaced, never stacked

            # On screen: the tooltip's line is drawn where the window says it is (glyphs: far
            # from the colour most of its rectangle has).
            shot = tmp_path / "tooltip.png"
            (out / "shot").write_text(str(shot))
            img = await screenshot(shot)
            state = await read_state(out, proc, "the tooltip still shown", lambda s: bool(shown_lines(s)))
            [tip] = [t for t in own_row(state)["tooltips"] if t["visible"]]  # type: ignore[index]
            x0, y0, x1, y1 = (int(v) for v in tip["lines"][0]["rect"])
            assert x1 - x0 > 100 and y1 > y0
            pixels = [img.getpixel((x, y)) for x in range(x0, x1) for y in range(y0, y1)]
            ground = Counter(pixels).most_common(1)[0][0]
            assert sum(max(abs(a - b) for a, b in zip(px, ground, strict=True)) > 80 for px in pixels) > 50  # type: ignore[arg-type]
            (out / "quit").write_text("")
            await asyncio.to_thread(proc.wait, 30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
            for s in people:
                await s.close()
    output = log.read_text(errors="replace")
    assert proc.returncode == 0, output
    assert "Traceback" not in output, output
