"""The test's side of the end-to-end window tests: a virtual screen (Xvfb), the real window in a
subprocess (tests/gui/pilot.py, started as `pyrtc` is), and a user made of real X events
(xdotool) aimed at the rectangles the window reports.

Nothing here calls into the window: it asks what is drawn (state, item rectangles,
screenshots) and acts as a person would. Waits are for a state the test names, inside a
generous timeout; no outcome depends on how fast the machine is."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
State = dict[str, Any]
Item = dict[str, Any]
RGB = tuple[int, ...] | list[int]


@contextlib.contextmanager
def virtual_screen(size: str = "1280x800") -> Iterator[str]:
    """An Xvfb display of its own (unix socket only, so a window in a network namespace reaches it)."""
    for tool in ("Xvfb", "xdotool"):
        if shutil.which(tool) is None:
            pytest.fail(f"needs {tool} (apt xvfb xdotool), installed by scripts/test.sh")
    number = next(n for n in range(150 + os.getpid() % 300, 1000) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                  and not Path(f"/tmp/.X{n}-lock").exists())
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-nolisten", "tcp", "-screen", "0", f"{size}x24"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not Path(f"/tmp/.X11-unix/X{number}").exists():
            assert xvfb.poll() is None and time.monotonic() < deadline, "Xvfb did not start"
            time.sleep(0.05)
        yield f":{number}"
    finally:
        xvfb.terminate()
        xvfb.wait(10)


def window_env(home: Path, display: str) -> dict[str, str]:
    """A user of their own: home, settings, caches and downloads under `home`."""
    return dict(os.environ, DISPLAY=display, HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"),
                XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local"),
                XDG_DOWNLOAD_DIR=str(home / "Downloads"), PYRTC_SETTINGS=str(home / ".config" / "settings.json"),
                PYTHONPATH=str(ROOT))


def fake_opener(folder: Path, monkeypatch: pytest.MonkeyPatch, *, refuses: str = "") -> Path:
    """The desktop's opener as a window started from now on finds it on PATH (`xdg-open`):
    it notes each link it is given, one per line, in the file returned. Whether or not the
    machine has a real one, the window runs this one. `refuses`: it then says that on its
    stderr and fails, as xdg-open does where no browser is set up."""
    record, bin_dir = folder / "opened.txt", folder / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    fail = f'\necho "{refuses}" >&2\nexit 3' if refuses else ""
    (bin_dir / "xdg-open").write_text(f'#!/bin/sh\necho "$1" >> {record}{fail}\n')
    (bin_dir / "xdg-open").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return record


def opened_links(record: Path) -> list[str]:
    """The links the fake opener has been given so far (whole lines only)."""
    text = record.read_text() if record.exists() else ""
    return text.split("\n")[:-1]


class Window:
    """The real window, driven by X events; `request` asks its pilot what it shows."""

    def __init__(self, proc: subprocess.Popen[bytes], reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, display: str, log: Path) -> None:
        self.proc = proc
        self._reader, self._writer = reader, writer
        self.display = display
        self.log = log
        self._ids = 0
        self._xid = ""

    @classmethod
    async def start(cls, args: list[str], *, display: str, home: Path, netns: str | None = None,
                    cwd: Path | None = None) -> Window:
        """`pyrtc client <args>` as a window on `display`, for a user living in `home`, started
        in `cwd` (the folder its file dialog opens in; default `home`)."""
        home.mkdir(parents=True, exist_ok=True)
        ours, theirs = socket.socketpair()
        log = home / "window.log"
        prefix = ["ip", "netns", "exec", netns] if netns else []
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                [*prefix, sys.executable, "-m", "tests.gui.pilot", "--control-fd", str(theirs.fileno()),
                 "client", "--log-dir", str(home / "logs"), *args],
                cwd=cwd or home, env=window_env(home, display), stdout=out, stderr=subprocess.STDOUT,
                pass_fds=(theirs.fileno(),))
        theirs.close()
        reader, writer = await asyncio.open_connection(sock=ours, limit=1 << 26)
        window = cls(proc, reader, writer, display, log)
        await window.wait("the first frame", lambda s: s["frame"] >= 1)
        window._xid = await window._find_x_window()
        return window

    # ------------------------------------------------------------------ asking

    async def request(self, op: str, timeout: float = 60, **fields: Any) -> dict[str, Any]:
        self._ids += 1
        self._writer.write(json.dumps({"id": self._ids, "op": op, **fields}).encode() + b"\n")
        await self._writer.drain()
        try:
            async with asyncio.timeout(timeout):
                line = await self._reader.readline()
        except TimeoutError:
            raise AssertionError(f"the window did not answer {op!r} in {timeout} s\n{self.output()}") from None
        if not line:
            self.proc.wait(10)
            raise AssertionError(f"the window exited ({self.proc.returncode})\n{self.output()}")
        reply: dict[str, Any] = json.loads(line)
        assert reply["id"] == self._ids and "error" not in reply, reply
        return reply

    async def state(self) -> State:
        state: State = (await self.request("state"))["state"]
        return state

    async def wait(self, what: str, pred: Callable[[State], bool], timeout: float = 60) -> State:
        """The window's state once `pred` holds (checked every frame or so)."""
        deadline = time.monotonic() + timeout
        while True:
            state = await self.state()
            if pred(state):
                return state
            if time.monotonic() > deadline:
                shown = {k: state[k] for k in ("mode", "connection", "status", "error", "room", "rooms",
                                              "pending", "errors", "picker", "name_prompt", "password")}
                raise AssertionError(f"waited {timeout} s for {what}; the window shows {shown}\n{self.output()}")
            await asyncio.sleep(0.03)  # another process: poll it

    async def item(self, what: str, pred: Callable[[Item], bool], root: str | int | None = None,
                   timeout: float = 60) -> Item:
        """An item (under `root`, or in any window) for which `pred` holds, drawn on screen."""
        deadline = time.monotonic() + timeout
        while True:
            found = [i for i in (await self.request("items", root=root))["items"]
                     if pred(i) and i["visible"] and area(i["rect"]) > 0]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout} s for {what} on screen\n{self.output()}")
            await asyncio.sleep(0.03)

    async def shot(self, path: Path) -> tuple[Image.Image, State]:
        """A screenshot (and the state of the frame it shows)."""
        reply = await self.request("shot", path=str(path))
        return Image.open(path).convert("RGB"), reply["state"]

    # ------------------------------------------------------------------ acting (X events only)

    @property
    def xid(self) -> str:
        """The window's X id (xdotool's name for it)."""
        return self._xid

    async def xdotool(self, *args: str) -> None:
        proc = await asyncio.create_subprocess_exec("xdotool", *args, env=dict(os.environ, DISPLAY=self.display),
                                                    stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        assert proc.returncode == 0, f"xdotool {' '.join(args)}: {err.decode()}"

    async def _find_x_window(self) -> str:
        deadline = time.monotonic() + 30
        while True:
            proc = await asyncio.create_subprocess_exec(
                "xdotool", "search", "--name", "^PyRTC$", env=dict(os.environ, DISPLAY=self.display),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
            out, _ = await proc.communicate()
            ids = out.decode().split()
            if ids:
                return ids[0]
            assert time.monotonic() < deadline, "no X window named PyRTC"
            await asyncio.sleep(0.1)

    async def click(self, target: Item | tuple[int, int], *, twice: bool = False) -> None:
        """A left click at the centre of an item's rectangle (which must lie in the window),
        or at a point."""
        x, y = center(target["rect"]) if isinstance(target, dict) else target
        width, height = (await self.state())["viewport"]
        assert 0 <= x < width and 0 <= y < height, f"{target} lies outside the {width}×{height} window"
        await self.xdotool("mousemove", "--window", self._xid, str(x), str(y))
        await self.xdotool("click", "--repeat", "2" if twice else "1", "--delay", "80", "1")

    async def hover(self, target: Item | tuple[int, int]) -> None:
        """Move the pointer to the centre of an item (or a point), clicking nothing."""
        x, y = center(target["rect"]) if isinstance(target, dict) else target
        await self.xdotool("mousemove", "--window", self._xid, str(x), str(y))

    async def type(self, text: str) -> None:
        await self.xdotool("type", "--delay", "25", "--", text)

    async def key(self, *names: str) -> None:
        await self.xdotool("key", "--delay", "40", *names)

    async def fill(self, tag: str, text: str, *, enter: bool = True) -> None:
        """Click an input, type `text` into it (replacing what it held), press Enter."""
        field = (await self.state())["inputs"][tag]
        await self.click(field)
        await self.wait(f"{tag} to take the keyboard", lambda s: s["inputs"][tag]["active"])
        held = (await self.state())["inputs"][tag]["value"]
        if held:  # End and one BackSpace per character: no chord, whose modifier may land a frame late
            await self.key("End", *["BackSpace"] * len(held))
            await self.wait(f"{tag} to be empty", lambda s: s["inputs"][tag]["value"] == "")
        await self.type(text)
        await self.wait(f"{tag} to hold {text!r}", lambda s: s["inputs"][tag]["value"] == text)
        if enter:
            await self.key("Return")

    # ------------------------------------------------------------------ ending

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""

    async def close(self) -> str:
        """Close the window (as its close button does); its output, checked for tracebacks."""
        if self.proc.poll() is None:
            with contextlib.suppress(AssertionError, ConnectionError):
                await self.request("quit", timeout=20)
            try:
                await asyncio.to_thread(self.proc.wait, 30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._writer.close()
        out = self.output()
        assert self.proc.returncode == 0, f"the window exited with {self.proc.returncode}\n{out}"
        assert "Traceback" not in out, out
        return out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._writer.close()


@contextlib.asynccontextmanager
async def opened(args: list[str], **kw: Any) -> AsyncIterator[Window]:
    """A window for the length of a `with`: closed as a user closes it (checked), or killed
    when the test failed."""
    window = await Window.start(args, **kw)
    try:
        yield window
    except BaseException:
        window.kill()
        raise
    await window.close()


def row(state: State, text: str) -> dict[str, Any] | None:
    """The message row showing `text`, if one is drawn."""
    return next((r for r in state["rows"] if r["text"] == text), None)


def part(r: dict[str, Any], pred: Callable[[Item], bool]) -> Item:
    return next(i for i in r["parts"] if pred(i))


# ---------------------------------------------------------------------- pixels


def area(r: list[float]) -> float:
    return max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])


def center(r: list[float]) -> tuple[int, int]:
    return int((r[0] + r[2]) / 2), int((r[1] + r[3]) / 2)


def close(a: RGB, b: RGB, tol: int = 12) -> bool:
    return all(abs(int(x) - int(y)) <= tol for x, y in zip(a[:3], b[:3], strict=True))


def pixels_in(img: Image.Image, r: list[float]) -> list[tuple[int, ...]]:
    x0, y0, x1, y1 = (int(v) for v in r)
    return [img.getpixel((x, y)) for x in range(x0, x1) for y in range(y0, y1)]  # type: ignore[misc]


def drawn_in(img: Image.Image, r: list[float], background: RGB, tol: int = 40) -> bool:
    """Something other than the background is drawn inside the rectangle (text, an icon)."""
    return any(not close(px, background, tol) for px in pixels_in(img, r))


def file_dialog_at(img: Image.Image, *, title: RGB, background: RGB, button: RGB, header: RGB,
                   height: int) -> dict[str, tuple[int, int]]:
    """Where to click in Dear PyGui's file dialog, found in a screenshot: it is ImGui's own
    widget, so Dear PyGui reports no rectangles inside it. Its title bar is the long run of
    the `title` colour; below it the list's `header` row (its column names cross it) down to
    the `background` of the first entry; at its bottom (`height` below the title) the OK
    button, the last band of the `button` colour."""
    px = np.asarray(img.convert("RGB")).astype(int)
    is_title = (np.abs(px - np.array(title[:3])) <= 3).all(axis=2)
    rows = np.nonzero(is_title.sum(axis=1) >= 300)[0]
    assert len(rows), "no file dialog on screen"
    top = int(rows[0])
    x0 = int(np.nonzero(is_title[top])[0][0])
    bands = _bands(px[top:top + height - 1, x0 + 10])
    head_top = next(a for a, _, c in bands if close(c, header, 3))
    head_end = next(a for a, _, c in bands if a > head_top and close(c, background, 3))
    ok = [(a, b) for a, b, c in bands if close(c, button, 3) and 15 <= b - a <= 40][-1]
    return {"first_entry": (x0 + 80, top + head_end + (head_end - head_top) // 2),
            "ok": (x0 + 14, top + (ok[0] + ok[1]) // 2)}


def _bands(column: np.ndarray[Any, Any]) -> list[tuple[int, int, tuple[int, ...]]]:
    """Runs of one colour down a column of pixels: (first, last + 1, colour)."""
    out: list[tuple[int, int, tuple[int, ...]]] = []
    start = 0
    for y in range(1, len(column) + 1):
        if y == len(column) or (column[y] != column[start]).any():
            out.append((start, y, tuple(int(v) for v in column[start])))
            start = y
    return out


def keep_for_docs(img: Image.Image, name: str) -> None:
    """With PYRTC_DOCS_SHOTS=DIR, a test's screenshot is also saved there (docs/*.png are
    retaken this way: `PYRTC_DOCS_SHOTS=docs pytest tests/gui`)."""
    folder = os.environ.get("PYRTC_DOCS_SHOTS")
    if folder:
        img.save(Path(folder) / name)
