"""The window's questions: the name prompt, a locked room's password, a changed server
identity, the file to attach.

Each builds its modal window once and is handed the callbacks its buttons call."""

from __future__ import annotations

import glob
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg

from pyrtc.client import IdentityMismatch

from .palette import Palette

__all__ = ["NamePrompt", "RoomPassword", "IdentityWarning", "AttachDialog", "chosen_files",
           "FILE_DIALOG_SIZE"]

FILE_DIALOG_SIZE = (640, 420)


class NamePrompt:
    def build(self, palette: Palette, chosen: Callable[[str], None]) -> None:
        with dpg.window(tag="name_prompt", label="Welcome to PyRTC", show=False, modal=True, no_close=True,
                        width=420, height=170, pos=(340, 200)):
            dpg.add_text("What name should others see?")
            dpg.add_input_text(tag="name_input", width=-1, on_enter=True, callback=lambda s, a: chosen(a))
            dpg.add_text("", tag="name_error", color=palette.error)
            dpg.add_button(label="Start", callback=lambda: chosen(dpg.get_value("name_input")))

    def ask(self, name: str = "", why: str = "") -> None:
        """Ask (again, saying `why`: a name in use on the server chosen)."""
        dpg.set_value("name_input", name)
        dpg.set_value("name_error", why)
        dpg.show_item("name_prompt")
        dpg.focus_item("name_input")

    def refuse(self, why: str) -> None:
        dpg.set_value("name_error", why)

    def close(self) -> None:
        dpg.hide_item("name_prompt")


class RoomPassword:
    """Asked before joining a locked room: a try without it would count as a wrong one."""

    def __init__(self) -> None:
        self.room: str | None = None  # the room the prompt is for

    def build(self, palette: Palette, join: Callable[[], None]) -> None:
        with dpg.window(tag="room_password", label="Room password", show=False, modal=True,
                        width=420, height=170, pos=(340, 200)):
            dpg.add_text("", tag="room_password_text")
            dpg.add_input_text(tag="room_password_input", width=-1, password=True, on_enter=True,
                               callback=lambda: join())
            dpg.add_text("", tag="room_password_error", color=palette.error)
            with dpg.group(horizontal=True):
                dpg.add_button(label="Join", callback=lambda: join())
                dpg.add_button(label="Cancel", callback=lambda: dpg.hide_item("room_password"))

    def ask(self, room: str, error: str) -> None:
        self.room = room
        dpg.set_value("room_password_text", f"# {room} needs its password.")
        dpg.set_value("room_password_error", error)
        dpg.set_value("room_password_input", "")
        dpg.show_item("room_password")
        dpg.focus_item("room_password_input")

    def typed(self) -> str:
        return str(dpg.get_value("room_password_input"))

    def checking(self) -> None:
        dpg.set_value("room_password_error", "checking…")

    def close(self) -> None:
        self.room = None
        dpg.hide_item("room_password")


class IdentityWarning:
    """The user must accept a changed server identity explicitly; nothing was sent. Either
    answer is acted on (`accept`, `decline`): the window never keeps waiting behind it."""

    def build(self) -> None:
        with dpg.window(tag="identity", label="Server identity changed", show=False, modal=True,
                        no_close=True, width=600, height=300, pos=(240, 160)):
            dpg.add_group(tag="identity_body")

    def warn(self, palette: Palette, exc: IdentityMismatch, accept: Callable[[], None],
             decline: Callable[[], None]) -> None:
        dpg.delete_item("identity_body", children_only=True)
        dpg.add_text("WARNING: this server's identity changed", parent="identity_body", color=palette.error)
        dpg.add_text(str(exc), parent="identity_body", wrap=560)

        def answered(then: Callable[[], None]) -> None:
            dpg.hide_item("identity")
            then()

        with dpg.group(horizontal=True, parent="identity_body"):
            dpg.add_button(label="Do not connect", callback=lambda: answered(decline))
            dpg.add_button(label="I trust the new identity", callback=lambda: answered(accept))
        dpg.show_item("identity")


def chosen_files(app_data: dict[str, Any]) -> list[Path]:
    """The files picked in Dear PyGui's file dialog. With the ".*" filter it reports
    `file_path_name` as "<folder>/<stem>.*": the real paths are its `selections` (files
    clicked in the list); a name typed in is found by its stem, when only one file has it."""
    picked = [Path(p) for p in (app_data.get("selections") or {}).values() if Path(p).is_file()]
    if picked:
        return picked
    reported = Path(str(app_data.get("file_path_name") or ""))
    if reported.is_file():
        return [reported]
    if not reported.name.endswith(".*"):
        return []
    typed = reported.parent / reported.name[:-2]
    candidates = [typed, *sorted(Path(p) for p in glob.glob(glob.escape(str(typed)) + ".*"))]
    files = [c for c in candidates if c.is_file()]
    return files if len(files) == 1 else []


class AttachDialog:
    """The file dialog behind "Attach": every file picked is handed to `attach`; picking
    nothing usable is said, never silently dropped."""

    def build(self, attach: Callable[[Path], None], show_error: Callable[[str], None]) -> None:
        def chosen(app_data: dict[str, Any]) -> None:
            files = chosen_files(app_data)
            if not files:
                show_error("no file attached: pick the file in the list")
            for path in files:
                attach(path)

        width, height = FILE_DIALOG_SIZE
        with dpg.file_dialog(tag="file_dialog", show=False, width=width, height=height,
                             callback=lambda s, a: chosen(a)):
            dpg.add_file_extension(".*")

    def show(self) -> None:
        dpg.show_item("file_dialog")
