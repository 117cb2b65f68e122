"""The window for the receipts hover test: `python -m tests.gui.hover_pilot --server H:P --out DIR`.

Runs the real window; once it chats it sends one message of its own (the only thing done
from inside, to set the scene), then every few frames writes what it draws to DIR/state.json:
each row's ✓ marks and their rectangle, and every tooltip under the row (shown or not, with
its lines). The test moves the pointer with real X events (xdotool) and reads the file back.
A file DIR/shot asks for a screenshot (its text: the path); DIR/quit closes the window."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from pyrtc.client.settings import Settings
from pyrtc.gui import ChatWindow, GuiOptions

TEXT = "hi from carol"


def _rect(item: Any) -> list[float]:
    st = dpg.get_item_state(item)
    return [*st.get("rect_min", [0, 0]), *st.get("rect_max", [0, 0])]


def _tooltips(item: Any) -> list[dict[str, Any]]:
    """Every tooltip among `item`'s descendants (they are children of the group that holds
    the item they belong to), with its lines."""
    found: list[dict[str, Any]] = []
    for child in dpg.get_item_children(item, 1) or []:
        if dpg.get_item_type(child).endswith("mvTooltip"):
            lines = [{"value": dpg.get_value(t), "rect": _rect(t)} for t in dpg.get_item_children(child, 1) or []]
            found.append({"visible": bool(dpg.get_item_state(child).get("visible")), "lines": lines})
        else:
            found += _tooltips(child)
    return found


def snapshot(w: ChatWindow) -> dict[str, Any]:
    rows = []
    room = w.state.rooms.get(w.focus.room or "")
    for key, row in w.messages.rows.items():
        msg = room.by_seq.get(key) if room else None
        if msg is None or not dpg.does_item_exist(row.group):
            continue
        rows.append({"seq": msg.seq, "text": msg.text, "status": w.state.status(msg),
                     "mark": dpg.get_value(row.status) if row.status else None,
                     "status_rect": _rect(row.status) if row.status else None,
                     "tooltips": _tooltips(row.group)})
    return {"frame": w.frame, "mode": w.mode, "display": {k: os.environ.get(k, "") for k in ("DISPLAY", "XAUTHORITY")}, "rows": rows,
            "viewport": [dpg.get_viewport_client_width(), dpg.get_viewport_client_height()]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + args.timeout
    sent: list[bool] = []
    shooting: list[Path] = []

    def on_frame(w: ChatWindow) -> None:
        if time.monotonic() > deadline or (out / "quit").exists():
            dpg.stop_dearpygui()
            return
        if w.mode != "chatting":
            return
        if not sent and w.focus.room == "General" and "General" in w.state.rooms:
            dpg.set_value("input", TEXT)
            w.commands.send_input()
            sent.append(True)
        request = out / "shot"
        if request.exists() and not shooting:
            shooting.append(Path(request.read_text()))
            request.unlink()
            dpg.output_frame_buffer(file=str(shooting[0]))  # written within the next frames
        if shooting and shooting[0].exists() and shooting[0].stat().st_size > 0:
            shooting.clear()
        if w.frame % 3 == 0:
            tmp = out / "state.tmp"
            tmp.write_text(json.dumps(snapshot(w), ensure_ascii=False))
            os.replace(tmp, out / "state.json")

    opts = GuiOptions(server=args.server, name="Carol", settings=Settings(out / "settings.json"),
                      on_frame=on_frame)
    ChatWindow(opts).run()


if __name__ == "__main__":
    main()
