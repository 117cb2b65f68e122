"""Drives the real window's server picker for tests (run it in a network namespace):
`python -m tests.gui.pickpilot --out DIR --interface IP (--choose NAME --expect N | --host)`.

Waits until the picker has discovery's answer, writes what it lists (asked.json), presses one
of its buttons through that button's own callback, waits for the chat to be up and writes
the status line (chatting.json)."""

from __future__ import annotations

import argparse
import inspect
import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from pyrtc.client.settings import Settings
from pyrtc.gui import ChatWindow, GuiOptions

from .autopilot import Cond, stepper


def listed() -> list[Any]:
    return list(dpg.get_item_children("picker_list", 1) or [])


def label(item: Any) -> str:
    return str(dpg.get_item_label(item) if dpg.get_item_type(item).endswith("mvButton") else dpg.get_value(item))


def press(item: Any) -> None:
    """What a click does: the button's callback, given as many of (sender, app_data,
    user_data) as it takes (Dear PyGui's way)."""
    callback = dpg.get_item_callback(item)
    takes = len(inspect.signature(callback).parameters)
    callback(*(item, None, dpg.get_item_user_data(item))[:takes])


def script(w: ChatWindow, args: argparse.Namespace) -> Generator[Cond, None, None]:
    status = lambda: str(dpg.get_value("picker_status"))  # noqa: E731
    if args.host:
        yield lambda w: "Why:" in status()  # the search waits for the user now
    else:
        yield lambda w: len(listed()) >= args.expect and "found. Choose one" in status()
    asked = {"status": status(), "entries": [label(i) for i in listed()], "mode": w.mode,
             "shown": dpg.is_item_shown("picker")}
    (args.out / "asked.json").write_text(json.dumps(asked, ensure_ascii=False, indent=1))
    if args.host:
        press("host_button")
    else:
        press(next(i for i in listed() if label(i).startswith(f"{args.choose}  —")))
    yield lambda w: w.mode == "chatting" and w.state.connection == "connected"
    chatting = {"status_text": dpg.get_value("status_text"), "shown": dpg.is_item_shown("picker"),
                "hosted": w.startup.hosted is not None, "server": w.state.server}
    (args.out / "chatting.json").write_text(json.dumps(chatting, ensure_ascii=False, indent=1))
    dpg.stop_dearpygui()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--interface", required=True)
    ap.add_argument("--choose", help="the name of the server to pick")
    ap.add_argument("--expect", type=int, default=1, help="entries the picker must list first")
    ap.add_argument("--host", action="store_true", help="press Host here once nothing was found")
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--timeout", type=float, default=60)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    def timed_out(w: ChatWindow) -> None:
        (args.out / "timeout").write_text(f"mode={w.mode} picker={dpg.get_value('picker_status')!r}")

    on_frame = stepper(lambda w: script(w, args), args.timeout, timed_out)
    opts = GuiOptions(name="Carol", interfaces=[args.interface], data_dir=args.data_dir,
                      settings=Settings(args.out / "settings.json"), on_frame=on_frame)
    ChatWindow(opts).run()


if __name__ == "__main__":
    main()
