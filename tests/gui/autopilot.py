"""Drives the real PyRTC window for tests: `python -m tests.gui.autopilot --server H:P --out DIR`.

Runs the window with an `on_frame` hook that steps through a script: wait for a condition on
what the window holds and draws, then dump the layout (item rectangles, values, colours) and
a screenshot, and write a phase file the test reacts to."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from pyrtc.client.settings import Settings
from pyrtc.gui import ChatWindow, GuiOptions

Cond = Callable[[ChatWindow], bool]


def rows(w: ChatWindow) -> dict[int, dict[str, Any]]:
    """What is drawn for each message of the current room."""
    out: dict[int, dict[str, Any]] = {}
    room = w.state.rooms.get(w.focus.room or "")
    if room is None:
        return out
    for key, row in w.messages.rows.items():
        if key <= 0 or not dpg.does_item_exist(row.group):
            continue
        msg = room.by_seq.get(key)
        kids = dpg.get_item_children(row.group, 1) or []
        avatar = kids[0] if kids else None
        texts: list[dict[str, Any]] = []
        images: list[list[float]] = []

        def walk(item: int, texts: list[dict[str, Any]] = texts, images: list[list[float]] = images) -> None:
            for child in dpg.get_item_children(item, 1) or []:
                kind = dpg.get_item_type(child)
                if kind.endswith("mvText"):
                    texts.append({"value": dpg.get_value(child), "rect": _rect(child)})
                elif kind.endswith("mvImage"):
                    images.append(_rect(child))
                elif kind.endswith("mvButton"):
                    texts.append({"value": dpg.get_item_label(child), "rect": _rect(child), "button": True})
                else:
                    walk(child)

        walk(row.group)
        out[key] = {
            "sender": msg.sender if msg else "?", "text": msg.text if msg else "",
            "status": w.state.status(msg) if msg else "",
            "status_mark": dpg.get_value(row.status) if row.status else None,
            "status_rect": _rect(row.status) if row.status else None,
            "status_color": list(dpg.get_item_configuration(row.status)["color"]) if row.status else None,
            "avatar_rect": _rect(avatar) if avatar else None,
            "texts": texts, "images": images,
            "reactions": [dpg.get_item_label(b) for b in dpg.get_item_children(row.reactions, 1) or []]
            if row.reactions else [],
        }
    return out


def _rect(item: Any) -> list[float]:
    st = dpg.get_item_state(item)
    return [*st.get("rect_min", [0, 0]), *st.get("rect_max", [0, 0])]


def _area(item: Any) -> list[float]:
    """A child window's rectangle (they report position and size, not rect_min)."""
    x, y = dpg.get_item_pos(item)
    w, h = dpg.get_item_rect_size(item)
    return [x, y, x + w, y + h]


def dump(w: ChatWindow, out: Path, name: str) -> None:
    data = {"frame": w.frame, "theme": w.theme.palette.name, "bg": list(w.theme.palette.bg),
            "read": list(w.theme.palette.read),
            "typing": dpg.get_value("typing_line"), "messages_rect": _area("messages"),
            "rows": rows(w), "me": w.state.me, "tones": w.tones.played,
            "transfers": {k: [t.state, t.done, t.size] for k, t in w.state.transfers.items()},
            "current": w.focus.room, "joined": sorted(w.state.rooms),
            "password_prompt": [dpg.is_item_shown("room_password"), dpg.get_value("room_password_text"),
                                dpg.get_value("room_password_error")]}
    (out / f"{name}.json").write_text(json.dumps(data, ensure_ascii=False, indent=1))


def script(w: ChatWindow, out: Path) -> Generator[Cond, None, None]:
    def drawn(pred: Callable[[dict[str, Any]], bool]) -> Cond:
        return lambda w: any(pred(r) for r in rows(w).values())

    def shot(name: str) -> Generator[Cond, None, None]:
        for _ in range(4):  # the first frames after a change may not be in the buffer yet
            yield lambda w: True
        target = out / f"{name}.png"
        dpg.output_frame_buffer(file=str(target))
        yield lambda w: target.exists() and target.stat().st_size > 0

    def phase(name: str) -> None:
        dump(w, out, name)
        (out / f"phase-{name}").write_text(str(time.time()))

    yield drawn(lambda r: r["text"] == "hello from alice")
    seen_at = w.frame
    yield from shot("first")
    phase("a")
    (out / "frames-a").write_text(str(w.frame - seen_at))
    dpg.set_value("input", "hi from carol")
    w.commands.send_input()
    yield drawn(lambda r: r["text"] == "hi from carol" and r["status"] == "delivered")
    phase("b")
    yield drawn(lambda r: r["text"] == "hi from carol" and r["status"] == "read")
    yield from shot("read")
    phase("c")
    yield lambda w: "is typing" in dpg.get_value("typing_line")
    phase("d")
    yield drawn(lambda r: r["text"] == "hi from carol" and any("👍" in x for x in r["reactions"]))
    phase("e")
    yield drawn(lambda r: bool(r["images"]))
    yield from shot("dark")
    phase("f")
    w.toggle_theme()
    yield drawn(lambda r: bool(r["images"]))
    yield from shot("light")
    phase("g")
    w.toggle_theme()
    # A locked room: the window asks for its password, says when it is wrong, then joins.
    w.commands.join_room("Board")
    yield lambda w: dpg.is_item_shown("room_password")
    dpg.set_value("room_password_input", "nope")
    w.commands.join_with_password()
    yield lambda w: dpg.get_value("room_password_error") == "That is not its password."
    yield from shot("room-password")
    phase("h")
    dpg.set_value("room_password_input", "quarterly")
    w.commands.join_with_password()
    yield lambda w: w.focus.room == "Board" and not dpg.is_item_shown("room_password")
    phase("i")
    dpg.stop_dearpygui()


def stepper(script: Callable[[ChatWindow], Generator[Cond, None, None]], timeout: float,
            on_timeout: Callable[[ChatWindow], None], ready: Cond = lambda w: True) -> Callable[[ChatWindow], None]:
    """An on_frame hook that steps through `script`: each condition it yields is checked once a
    frame (while `ready` holds) until it is true; past `timeout` s, `on_timeout` and the end."""
    steps: list[Generator[Cond, None, None]] = []
    current: list[Cond] = []
    deadline = time.monotonic() + timeout

    def on_frame(w: ChatWindow) -> None:
        if not steps:
            steps.append(script(w))
            current.append(next(steps[0]))
        if time.monotonic() > deadline:
            on_timeout(w)
            dpg.stop_dearpygui()
            return
        if ready(w) and current[0](w):
            try:
                current[0] = next(steps[0])
            except StopIteration:
                pass

    return on_frame


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--name", default="Carol")
    ap.add_argument("--timeout", type=float, default=90)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    on_frame = stepper(lambda w: script(w, args.out), args.timeout, lambda w: dump(w, args.out, "timeout"),
                       ready=lambda w: w.mode == "chatting")
    opts = GuiOptions(server=args.server, name=args.name, settings=Settings(args.out / "settings.json"),
                      on_frame=on_frame)
    ChatWindow(opts).run()


if __name__ == "__main__":
    main()
