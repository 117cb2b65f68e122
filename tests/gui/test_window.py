"""The real window under Xvfb against a real server, checked from its screenshots."""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from pyrtc.client import ClientSession
from pyrtc.gui.avatar import avatar_color
from pyrtc.gui.palette import DARK, LIGHT
from pyrtc.server import ChatServer

from ..conftest import server_config

ROOT = Path(__file__).resolve().parents[2]


def close(a: tuple[int, ...] | list[int], b: tuple[int, ...] | list[int], tol: int = 12) -> bool:
    return all(abs(int(x) - int(y)) <= tol for x, y in zip(a[:3], b[:3], strict=True))


def pixels_in(img: Image.Image, rect: list[float]) -> list[tuple[int, ...]]:
    x0, y0, x1, y1 = (int(v) for v in rect)
    return [img.getpixel((x, y)) for x in range(x0, x1) for y in range(y0, y1)]  # type: ignore[misc]


def center(rect: list[float]) -> tuple[int, int]:
    return int((rect[0] + rect[2]) / 2), int((rect[1] + rect[3]) / 2)


def find_row(dump: dict[str, Any], text: str) -> dict[str, Any]:
    return next(r for r in dump["rows"].values() if r["text"] == text)


async def wait_file(path: Path, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not path.exists():
            if proc.poll() is not None:
                raise AssertionError(f"the window exited early waiting for {path.name}")
            await asyncio.sleep(0.05)  # another process: poll its phase files


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="needs xvfb-run (apt xvfb), installed by scripts/test.sh")
async def test_window_shows_the_chat_as_it_happens(tmp_path: Path) -> None:
    out = tmp_path / "out"
    picture = tmp_path / "sunset.png"
    Image.new("RGB", (640, 400), (200, 90, 30)).save(picture)
    async with ChatServer(server_config(tmp_path / "data")) as srv:
        host, port = srv.address
        async with ClientSession(host, port, "Alice") as alice:
            await alice.join("General")
            await alice.create_room("Board", password="quarterly")
            first = await alice.send("General", "hello from alice")
            env = dict(os.environ, HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"),
                       XDG_CONFIG_HOME=str(tmp_path / "config"), PYRTC_LOG_DIR=str(tmp_path / "logs"),
                       XDG_DOWNLOAD_DIR=str(tmp_path / "downloads"))
            proc = subprocess.Popen(
                ["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable, "-m", "tests.gui.autopilot",
                 "--server", f"{host}:{port}", "--out", str(out)],
                cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                await wait_file(out / "phase-a", proc)
                # Shown is read: the window reports it (Carol joined after it was posted, so it
                # is not among those its ✓✓ wait for).
                await alice.wait_for(lambda s: (c := s.rooms["General"].members.get("Carol")) is not None
                                     and c.read >= first, 20)

                await wait_file(out / "phase-b", proc)
                carol_msg = alice.find_message("General", lambda m: m.text == "hi from carol")
                assert carol_msg is not None
                await alice.mark_read("General", carol_msg.seq)
                await wait_file(out / "phase-c", proc)
                await alice.set_typing("General", True)
                await wait_file(out / "phase-d", proc)
                await alice.react("General", carol_msg.seq, "👍")
                await wait_file(out / "phase-e", proc)
                await alice.upload("General", picture)
                await wait_file(out / "phase-i", proc)
                proc.wait(30)
            finally:
                if proc.poll() is None:
                    proc.kill()
                log = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
            thumb_id = alice.find_message("General", lambda m: m.file is not None).file.thumb_id  # type: ignore[union-attr]
            thumb = Image.open(io.BytesIO(srv.blobs.path(thumb_id).read_bytes())).convert("RGB")  # type: ignore[arg-type]
    assert proc.returncode == 0, log
    assert "Traceback" not in log, log

    dumps = {k: json.loads((out / f"{k}.json").read_text()) for k in "abcdefghi"}
    first_png = Image.open(out / "first.png").convert("RGB")
    row = find_row(dumps["a"], "hello from alice")
    assert row["sender"] == "Alice"
    # The text is drawn (something other than background inside its rectangle).
    text_rect = next(t["rect"] for t in row["texts"] if t["value"] == "hello from alice")
    assert any(not close(px, DARK.bg, 40) for px in pixels_in(first_png, text_rect))
    # The avatar circle has Alice's colour (sampled above the initials, inside the circle).
    cx, _ = center(row["avatar_rect"])
    assert close(first_png.getpixel((cx, int(row["avatar_rect"][1]) + 6)), avatar_color("Alice"))  # type: ignore[arg-type]

    # ✓ sent → ✓✓ delivered → blue ✓✓ read on Carol's own message.
    assert find_row(dumps["b"], "hi from carol")["status_mark"] == "✓✓"
    read_row = find_row(dumps["c"], "hi from carol")
    assert read_row["status"] == "read" and read_row["status_mark"] == "✓✓"
    read_png = Image.open(out / "read.png").convert("RGB")
    assert any(close(px, DARK.read, 30) for px in pixels_in(read_png, read_row["status_rect"]))

    assert dumps["d"]["typing"] == "Alice is typing…"
    assert "👍 1" in find_row(dumps["e"], "hi from carol")["reactions"]

    # The inline preview shows the server's thumbnail, pixel for pixel at its centre.
    dark = Image.open(out / "dark.png").convert("RGB")
    image_rect = next(r["images"][0] for r in dumps["f"]["rows"].values() if r["images"])
    assert image_rect[2] - image_rect[0] == thumb.width
    assert close(dark.getpixel(center(image_rect)), thumb.getpixel((thumb.width // 2, thumb.height // 2)))  # type: ignore[arg-type]

    # Dark and light backgrounds are the palettes' (bottom of the message area is empty).
    light = Image.open(out / "light.png").convert("RGB")
    m = dumps["f"]["messages_rect"]
    spot = (int(m[2]) - 30, int(m[3]) - 8)
    assert close(dark.getpixel(spot), DARK.bg, 3) and dumps["f"]["theme"] == "dark"  # type: ignore[arg-type]
    assert close(light.getpixel(spot), LIGHT.bg, 3) and dumps["g"]["theme"] == "light"  # type: ignore[arg-type]
    assert not close(DARK.bg, LIGHT.bg, 100)

    # The locked room: asked for, a wrong password said so, the right one joined it.
    assert dumps["h"]["password_prompt"] == [True, "# Board needs its password.", "That is not its password."]
    assert "Board" not in dumps["h"]["joined"]
    assert dumps["i"]["current"] == "Board" and "Board" in dumps["i"]["joined"]
    assert dumps["i"]["password_prompt"][0] is False
