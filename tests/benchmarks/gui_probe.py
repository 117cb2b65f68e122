"""Runs the real window and records frame times: `python -m tests.benchmarks.gui_probe`."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import dearpygui.dearpygui as dpg

from pyrtc.client.settings import Settings
from pyrtc.gui import ChatWindow, GuiOptions


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--expect", type=int, required=True, help="messages the room must hold first")
    args = ap.parse_args()
    launched = float(os.environ["PROBE_T0"])
    marks: dict[str, float] = {}
    times: list[float] = []
    last = [0.0]

    def on_frame(w: ChatWindow) -> None:
        now = time.monotonic()
        if "first_frame" not in marks and w.frame >= 1:
            marks["first_frame"] = now - launched
        room = w.state.rooms.get(w.focus.room or "")
        if "room" not in marks:
            if room is not None and room.last_seq >= args.expect and w.messages.rows:
                marks["room"] = now - launched
                (args.out.parent / "gui-ready").write_text("1")
                last[0] = now
            return
        times.append(now - last[0])
        last[0] = now
        if now - launched - marks["room"] > args.seconds:
            view = w.state.rooms[w.focus.room or ""]
            marks["rows_built"] = len(w.messages.rows)
            marks["messages_held"] = len(view.messages)
            marks["following"] = w.focus.follow
            marks["scroll"] = [dpg.get_y_scroll("messages"), dpg.get_y_scroll_max("messages")]
            dpg.stop_dearpygui()

    opts = GuiOptions(server=args.server, name="gui-bench", settings=Settings(args.out.parent / "s.json"),
                      on_frame=on_frame, tls=False)
    ChatWindow(opts).run()
    args.out.write_text(json.dumps({"marks": marks, "frames": times}))


if __name__ == "__main__":
    main()
