"""The kiosk on a wall screen (Xvfb at 3840×2160): type sized from the screen (capitals at
least a 45th of its height, measured in the screenshot), names and the room larger; no
addresses, no buttons; a QR code holding the chat's pyrtc:// link (read back module by
module); a clock; the newest message in view; the layout drifting against burn-in as the
(injected) clock moves on; a banner while it reconnects."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PIL import Image

from pyrtc.client import ClientSession
from pyrtc.client.links import make_link
from pyrtc.gui.kiosk import DRIFT_SIDE, DRIFT_STEP, drift, qr_modules
from pyrtc.gui.palette import DARK
from pyrtc.server import ChatServer

from ..conftest import server_config
from .driver import State, keep_for_docs, opened, row, virtual_screen

CAPS = "EXIT HERE"


def ink_rows(img: Image.Image, r: list[float], background: tuple[int, int, int]) -> int:
    """How many pixel rows of the rectangle hold ink (for capitals: their height)."""
    x0, y0, x1, y1 = (int(v) for v in r)
    px = np.asarray(img.crop((x0, y0, x1, y1)).convert("RGB")).astype(int)
    inked = np.nonzero((np.abs(px - np.array(background)).max(axis=2) > 80).any(axis=1))[0]
    return int(inked[-1] - inked[0] + 1) if len(inked) else 0


def test_drift_walks_a_small_square_a_pixel_at_a_time() -> None:
    path = [drift(k * DRIFT_STEP) for k in range(4 * DRIFT_SIDE + 1)]
    assert path[0] == path[-1] == (0, 0)
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in zip(path, path[1:], strict=False))
    assert max(max(p) for p in path) == DRIFT_SIDE and min(min(p) for p in path) == 0
    assert 3600 / DRIFT_STEP <= 10  # a few pixels an hour


async def test_kiosk_on_a_4k_wall(tmp_path: Path) -> None:
    # PYRTC_KIOSK_SCREEN=1920x1080 (with PYRTC_DOCS_SHOTS=docs) retakes docs/kiosk-1080p.png.
    width, height = (int(v) for v in os.environ.get("PYRTC_KIOSK_SCREEN", "3840x2160").split("x"))
    with virtual_screen(f"{width}x{height}") as display:
        async with ChatServer(server_config(tmp_path / "data", name="Office")) as srv:
            host, port = srv.address
            async with ClientSession(host, port, "Alice") as alice:
                await alice.join("General")
                for i in range(30):
                    await alice.send("General", f"Older message {i} 🎉" if i % 5 == 0 else f"Older message {i}")
                seq = await alice.send("General", "Lunch is in the kitchen today 🍕 — 日本語のメニューもあります")
                await alice.react("General", seq, "👍")
                await alice.send("General", CAPS)
                async with opened(["--kiosk", "--server", f"{host}:{port}"], display=display,
                                  home=tmp_path / "kiosk") as w:
                    s = await w.wait("the kiosk, full screen, showing the newest message", lambda s:
                                     s["mode"] == "chatting" and s["viewport"] == [width, height]
                                     and row(s, CAPS) is not None and s["kiosk"]["link"] is not None
                                     and s["kiosk"]["qr"] is not None and in_view(s, CAPS))
                    img, s = await w.shot(tmp_path / "kiosk-4k.png")
                    keep_for_docs(img, f"kiosk-{height}p.png")
                    caps = next(i for i in row(s, CAPS)["parts"] if i["value"] == CAPS)  # type: ignore[index]
                    cap_height = ink_rows(img, caps["rect"], DARK.bg)
                    assert cap_height >= height / 45, cap_height  # 48 px at 2160
                    name = next(i for i in row(s, CAPS)["parts"] if i["value"] == "Alice")  # type: ignore[index]
                    assert ink_rows(img, name["rect"], DARK.bg) > cap_height
                    title = s["kiosk"]["title"]
                    assert title["value"] == "# General"
                    assert ink_rows(img, title["rect"], DARK.bg) > 1.4 * cap_height

                    # Nothing to press, no address, nothing about the kiosk itself.
                    shown = [i for i in (await w.request("items", root="main"))["items"] if i["visible"]]
                    assert not [i for i in shown if i["type"] in ("mvButton", "mvImageButton", "mvInputText")]
                    words = " ".join(str(i["value"] or "") for i in shown)
                    assert host not in words and str(port) not in words and "kiosk" not in words.lower()

                    # The QR code holds pyrtc://HOST:PORT?fp=… of this server, module by module.
                    link = make_link(host, port, srv.fingerprint)
                    assert s["kiosk"]["link"] == link
                    modules = qr_modules(link)
                    x0, y0, x1, y1 = s["kiosk"]["qr"]["rect"]
                    step = (x1 - x0) / modules.shape[0]
                    grey = np.asarray(img.convert("L")).astype(int)
                    seen = np.array([[grey[int(y0 + (r + 0.5) * step), int(x0 + (c + 0.5) * step)] < 128
                                      for c in range(modules.shape[1])] for r in range(modules.shape[0])])
                    assert (seen == modules).all()
                    assert x1 - x0 >= 0.15 * height  # large enough for a phone a few metres away

                    # The clock, and the drift as time moves on (three steps: 3 px at most).
                    before = s
                    await w.request("advance_clock", seconds=3 * DRIFT_STEP)
                    later = time.time() + 3 * DRIFT_STEP
                    s = await w.wait("the layout to drift", lambda s: s["kiosk"]["offset"] != before["kiosk"]["offset"])
                    img, s = await w.shot(tmp_path / "drifted.png")
                    (bx, by), (ax, ay) = before["kiosk"]["offset"], s["kiosk"]["offset"]
                    moved = (s["kiosk"]["title"]["rect"][0] - before["kiosk"]["title"]["rect"][0],
                             s["kiosk"]["title"]["rect"][1] - before["kiosk"]["title"]["rect"][1])
                    # 3 steps (a 4th if the real clock crossed a step meanwhile), the layout with them
                    assert moved == (ax - bx, ay - by) and 0 < abs(ax - bx) + abs(ay - by) <= 4
                    assert s["kiosk"]["clock"] in {time.strftime("%H:%M", time.localtime(t))
                                                   for t in (later - 60, later, time.time() + 3 * DRIFT_STEP)}

                    # The server goes away: a banner says the kiosk is reconnecting.
                    await srv.close()
                    s = await w.wait("the banner", lambda s: "Reconnecting" in (s["kiosk"]["banner"] or ""))
                    img, _ = await w.shot(tmp_path / "reconnecting.png")
                    banner = next(i for i in (await w.request("items", root="main"))["items"]
                                  if i["tag"] == "kiosk_banner")
                    assert ink_rows(img, banner["rect"], DARK.bg) > 0


def in_view(s: State, text: str) -> bool:
    r = row(s, text)
    m = s["messages_rect"]
    return r is not None and r["rect"][1] >= m[1] and r["rect"][3] <= m[3] + 1
