"""The server picker: the servers discovery finds, live (those it cannot offer greyed out,
impostors labelled as such), "Host here", or an address typed in. It shows and reports
choices; Startup acts on them."""

from __future__ import annotations

from collections.abc import Callable

import dearpygui.dearpygui as dpg

from pyrtc.discovery import AMBIGUOUS, IMPOSTOR, ServerEntry

from .theme import Theme

__all__ = ["Picker", "entry_label", "several_found"]


def entry_label(e: ServerEntry) -> str:
    """Name, users online and address (a remembered server: whether it answers)."""
    where = f"{e.addresses[0]}:{e.port}" if e.addresses else f"port {e.port}"
    if e.source == "remembered":
        return f"{e.name}  —  {where}, remembered, " + ("reachable" if e.reachable else "unreachable")
    return f"{e.name}  —  {e.users} online, {e.rooms} rooms, {where}"


def several_found(entries: list[ServerEntry]) -> str:
    """The picker's line while the user chooses among the servers found."""
    usable = [e for e in entries if e.compatible and e.reachable]
    if not usable:
        return "No server to choose any more: host here, or type an address."
    return f"{len(usable)} servers found. Choose one:"


class Picker:
    def __init__(self, theme: Theme) -> None:
        self._theme = theme
        self._choose: Callable[[ServerEntry], None] = lambda entry: None
        self._shown: list[dict[str, object]] = []

    def build(self, *, choose: Callable[[ServerEntry], None], host: Callable[[], None],
              address: Callable[[str], None], kiosk: bool) -> None:
        self._choose = choose
        width, height = (980, 600) if kiosk else (560, 380)  # a kiosk's large type needs room
        with dpg.window(tag="picker", label="Choose a PyRTC server", show=False, modal=True,
                        no_close=True, width=width, height=height):
            dpg.add_text("Looking for PyRTC servers on this network…", tag="picker_status", wrap=width - 40)
            dpg.add_group(tag="picker_list")
            dpg.add_separator()
            dpg.add_button(label="Host here", tag="host_button", callback=lambda: host())
            dpg.add_text("or type an address:", color=self._theme.palette.muted)
            with dpg.group(horizontal=True):
                dpg.add_input_text(tag="manual_address", hint="host:port", width=300, on_enter=True,
                                   callback=lambda s, a: address(a))
                dpg.add_button(label="Connect", callback=lambda: address(dpg.get_value("manual_address")))

    def show(self) -> None:
        """Shown in the middle of the window (a kiosk's is full screen by now)."""
        vw, vh = dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
        w, h = dpg.get_item_width("picker") or 0, dpg.get_item_height("picker") or 0
        dpg.configure_item("picker", pos=(max(0, (vw - w) // 2), max(0, (vh - h) // 2)))
        dpg.show_item("picker")

    def hide(self) -> None:
        dpg.hide_item("picker")

    def say(self, text: str) -> None:
        dpg.set_value("picker_status", text)

    def list(self, entries: list[ServerEntry]) -> None:
        """Show `entries` (called at every change while the picker waits)."""
        shown = [e.as_json() for e in entries]
        if shown == self._shown:
            return
        self._shown = shown
        pal = self._theme.palette
        dpg.delete_item("picker_list", children_only=True)
        for e in entries:
            label = entry_label(e)
            if e.conflict == IMPOSTOR:  # never offered: it shows another certificate than the known one
                dpg.add_text(f"IMPOSTOR: {label}", parent="picker_list", color=pal.error)
                dpg.add_text(e.warning, parent="picker_list", color=pal.muted, wrap=0, indent=20)
            elif not e.reachable:
                dpg.add_text(label, parent="picker_list", color=pal.muted)
            elif not e.compatible:
                dpg.add_text(label + f"  (protocol {e.version}: incompatible)", parent="picker_list",
                             color=pal.muted)
            else:
                if e.conflict == AMBIGUOUS:
                    label += "  (same id as another server: check its certificate)"
                dpg.add_button(label=label, parent="picker_list", width=-1,
                               callback=lambda s, a, u: self._choose(u), user_data=e)
                if e.conflict == AMBIGUOUS:
                    dpg.add_text(e.warning, parent="picker_list", color=pal.warn, wrap=0, indent=20)
