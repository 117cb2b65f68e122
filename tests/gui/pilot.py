"""The window's side of the end-to-end tests: `python -m tests.gui.pilot --control-fd N [pyrtc args]`.

Starts the window exactly as `pyrtc` does (same CLI, arguments, logging), with one addition:
an `on_frame` hook that answers the test over a socket (JSON lines) with what the window
holds and draws: item rectangles, values, the chat state, screenshots. It never acts: every
click and key press comes from the test as a real X event (tests/gui/driver.py)."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

import pyrtc.gui
from pyrtc import protocol as p
from pyrtc.cli.main import main as pyrtc_main
from pyrtc.client.events import Notice
from pyrtc.client.state import Event
from pyrtc.gui import ChatWindow, GuiOptions

SHOT_DELAY = 3  # frames between a screenshot request and the frame captured: new items laid out


def rect(item: Any) -> list[float]:
    """[x0, y0, x1, y1] in the viewport, as Dear PyGui last laid the item out."""
    st = dpg.get_item_state(item)
    if "rect_min" in st:
        return [*st["rect_min"], *st["rect_max"]]
    x, y = dpg.get_item_pos(item)  # child windows report their position and size instead
    w, h = st.get("rect_size", [0, 0])
    return [x, y, x + w, y + h]


def describe(item: Any) -> dict[str, Any]:
    kind = dpg.get_item_type(item).rsplit("::", 1)[-1]
    st = dpg.get_item_state(item)
    value = dpg.get_value(item) if kind in ("mvText", "mvInputText", "mvSelectable") else None
    label = dpg.get_item_label(item)
    return {"id": item, "tag": dpg.get_item_alias(item) or None, "type": kind,
            "label": label, "value": value if isinstance(value, (str, bool)) else None,
            "text": label if kind in ("mvButton", "mvSelectable") else value,
            "rect": rect(item), "visible": bool(st.get("visible", False)),
            "shown": bool(dpg.get_item_configuration(item).get("show", True)),
            "focused": bool(st.get("focused", False)), "active": bool(st.get("active", False))}


def items(root: Any) -> list[dict[str, Any]]:
    """`root` and everything under it, depth first (None: every top-level window)."""
    out: list[dict[str, Any]] = []
    stack = list(reversed(dpg.get_windows())) if root is None else [root]
    while stack:
        item = stack.pop()
        if not dpg.does_item_exist(item):
            continue
        out.append(describe(item))
        stack.extend(reversed(dpg.get_item_children(item, 1) or []))  # widgets (not drawings)
    return out


def rows(w: ChatWindow) -> list[dict[str, Any]]:
    """The message rows of the room shown, top to bottom, with what each holds."""
    room = w.state.rooms.get(w.focus.room or "")
    pending = {m.cid: m for m in room.pending()} if room is not None else {}
    out = []
    for key, row in w.messages.rows.items():
        if not dpg.does_item_exist(row.group):
            continue
        msg = room.by_seq.get(key) if room is not None and isinstance(key, int) else pending.get(str(key))
        parts = items(row.group)
        out.append({"key": str(key), "seq": msg.seq if msg else None, "sender": msg.sender if msg else None,
                    "text": msg.text if msg else None, "status": w.state.status(msg) if msg else None,
                    "mark": dpg.get_value(row.status) if row.status else None,
                    "mark_rect": rect(row.status) if row.status else None,
                    "rect": rect(row.group), "parts": parts, "header": row.header is not None,
                    "day": row.place.day, "unread": row.place.unread,
                    "header_rect": rect(row.header) if row.header is not None else None,
                    "avatar": w.avatars(msg.sender) if msg else None,
                    "reactions": items(row.reactions)[1:] if row.reactions else []})
    return sorted(out, key=lambda r: r["rect"][1])


def _key(m: Any) -> str | None:
    """A message's row key as `rows` reports it (seq, or a pending message's cid)."""
    return None if m is None else str(m.seq or m.cid)


def shown(tag: str) -> bool:
    return dpg.does_item_exist(tag) and bool(dpg.get_item_configuration(tag).get("show"))


def value(tag: str) -> Any:
    return dpg.get_value(tag) if shown(tag) else ""


def snapshot(w: ChatWindow) -> dict[str, Any]:
    st = w.state
    return {
        "frame": w.frame, "mode": w.mode, "connection": st.connection, "me": st.me, "server": st.server,
        "room": w.focus.room, "rooms": sorted(st.rooms), "available": [r.name for r in st.available],
        "theme": w.theme.palette.name, "status": dpg.get_value("status_text"), "error": value("error_text"),
        "my_status": value("my_status"),
        "roster": sorted(i.name for i in st.roster.peers) if st.roster is not None else [],
        "palette": shown("reaction_palette"), "actions": shown("row_actions"),
        "actions_for": _key(w.actions.shown_for) if shown("row_actions") else None,
        "jump_unread": describe("jump_unread"), "room_mute": describe("room_mute"),
        "notified": list(w.notifier.sent),
        "viewer": {"shown": shown("viewer"), "showing": w.viewer.showing, "zoom": w.viewer.zoom,
                   "image": describe("viewer_image") if dpg.does_item_exist("viewer_image") else None,
                   "buttons": {t: describe(t) for t in ("viewer_in", "viewer_close")}},
        "viewport": [dpg.get_viewport_client_width(), dpg.get_viewport_client_height()],
        "topbar": {tag: describe(tag) for tag in ("status_text", "error_text", "search", "theme_button",
                                                  "mute_button") if dpg.does_item_exist(tag)},
        "picker": {"shown": shown("picker"), "status": dpg.get_value("picker_status"),
                   "entries": items("picker_list")[1:], "window": describe("picker")},
        "name_prompt": {"shown": shown("name_prompt"), "error": dpg.get_value("name_error"),
                        "input": describe("name_input")},
        "password": {"shown": shown("room_password"), "text": dpg.get_value("room_password_text"),
                     "error": dpg.get_value("room_password_error")},
        "file_dialog": shown("file_dialog"),
        "inputs": {tag: describe(tag) for tag in ("input", "new_room", "new_room_password", "search",
                                                  "room_password_input", "manual_address", "name_input")},
        "rows": rows(w) if w.mode == "chatting" else [],
        "messages_rect": rect("messages"),
        "scroll": [dpg.get_y_scroll("messages"), dpg.get_y_scroll_max("messages")], "follow": w.focus.follow,
        "hits": items("search_hits")[1:], "rooms_list": items("rooms_list")[1:],
        "other_rooms": items("other_rooms")[1:], "typing": dpg.get_value("typing_line"),
        "transfers": {k: [t.direction, t.state, t.name] for k, t in st.transfers.items()},
        "pending": [m.text for r in st.rooms.values() for m in r.pending()],
        # protocol 4 (gui/conversations.py, gui/paste.py)
        "directs": items("directs_list")[1:] if dpg.does_item_exist("directs_list") else [],
        "members": items("members_list")[1:] if dpg.does_item_exist("members_list") else [],
        "compose_note": value("compose_note") if shown("compose_bar") else "",
        "paste": shown("paste_preview"),
        "title": dpg.get_value("room_title") if dpg.does_item_exist("room_title") else "",
        "emoji_textures": w.emoji.rendered(),
        "suggestions": [x.label for x in w.composer.suggestions] if shown("suggestions") else [],
        "emoji_picker": shown("emoji_picker"),
        "kiosk": {"link": w.kiosk.link, "banner": value("kiosk_banner"), "clock": value("kiosk_clock"),
                  "offset": w.kiosk.offset,
                  "title": describe("kiosk_title"), "qr": describe("kiosk_qr_image")
                  if dpg.does_item_exist("kiosk_qr_image") else None} if w.kiosk is not None else None,
        "room_members": sorted(st.rooms[w.focus.room].members) if w.focus.room in st.rooms else [],
    }


class Pilot:
    """Answers the test's requests once a frame: {"id", "op", ...} -> {"id", ...}."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""
        self._shots: list[dict[str, Any]] = []  # screenshots asked for, not written yet
        self._watching = False
        self.errors: list[str] = []  # every refusal the window's state took in, in order
        self.notices: list[str] = []  # every line the session said ("Ann left; …"), in order
        self.clock_offset = 0.0  # seconds the window's clock is ahead (the kiosk's drift)

    def clock(self) -> float:
        return time.time() + self.clock_offset

    def _watch_errors(self, w: ChatWindow) -> None:
        """Count the server's refusals and the session's lines as the window applies them (a
        status line shows only the last)."""
        apply = w.state.apply

        def counted(event: Event) -> None:
            if isinstance(event, p.Error):
                self.errors.append(event.message)
            elif isinstance(event, Notice):
                self.notices.append(event.text)
            apply(event)

        w.state.apply = counted  # type: ignore[method-assign]
        self._watching = True

    def on_frame(self, w: ChatWindow) -> None:
        if not self._watching:
            self._watch_errors(w)
        self._screenshots(w)
        try:
            data = self._sock.recv(1 << 20, socket.MSG_DONTWAIT)  # replies are sent blocking
        except BlockingIOError:
            return
        if not data:  # the test went away: end as closing the window does
            dpg.stop_dearpygui()
            return
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._answer(w, json.loads(line))

    def _answer(self, w: ChatWindow, req: dict[str, Any]) -> None:
        op = req["op"]
        if op == "state":
            self._reply(req, state={**snapshot(w), "errors": self.errors, "notices": self.notices})
        elif op == "items":
            self._reply(req, items=items(req.get("root")))
        elif op == "shot":
            self._shots.append({"req": req, "path": Path(req["path"]), "wait": SHOT_DELAY})
        elif op == "advance_clock":
            self.clock_offset += float(req["seconds"])
            self._reply(req)
        elif op == "idle_for":  # as if nothing was typed or clicked for that long
            session = w.bg.session
            if session is not None:
                session.idle.last_input -= float(req["seconds"])
            self._reply(req, done=session is not None)
        elif op == "quit":
            self._reply(req)
            dpg.stop_dearpygui()
        else:
            self._reply(req, error=f"unknown op {op!r}")

    def _screenshots(self, w: ChatWindow) -> None:
        for shot in list(self._shots):
            partial = shot["path"].with_suffix(".partial.png")
            if shot["wait"] > 0:
                shot["wait"] -= 1
                if shot["wait"] == 0:
                    dpg.output_frame_buffer(file=str(partial))
                    shot["state"] = snapshot(w)  # what the captured frame shows
            elif partial.exists() and _complete_png(partial):
                partial.replace(shot["path"])
                self._shots.remove(shot)
                self._reply(shot["req"], state=shot["state"])

    def _reply(self, req: dict[str, Any], **fields: Any) -> None:
        self._sock.sendall(json.dumps({"id": req["id"], **fields}, ensure_ascii=False).encode() + b"\n")


def _complete_png(path: Path) -> bool:
    """Dear PyGui writes the file during a later frame: whole once its IEND chunk is there."""
    data = path.read_bytes()
    return data[-8:-4] == b"IEND"


def main() -> int:
    argv = sys.argv[1:]
    fd = int(argv[argv.index("--control-fd") + 1])
    del argv[argv.index("--control-fd"):argv.index("--control-fd") + 2]
    sock = socket.socket(fileno=fd)
    pilot = Pilot(sock)
    real_run_gui = pyrtc.gui.run_gui

    def run_gui(opts: GuiOptions) -> int:
        opts.on_frame = pilot.on_frame
        opts.clock = pilot.clock
        return real_run_gui(opts)

    pyrtc.gui.run_gui = run_gui  # the CLI imports it when it starts the window
    try:
        return pyrtc_main(argv)
    finally:
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
