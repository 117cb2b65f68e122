"""The server picker: the servers discovery found (those it cannot offer greyed out),
"Host here", or an address typed in. It shows and reports choices; Startup acts on them."""

from __future__ import annotations

from collections.abc import Callable

import dearpygui.dearpygui as dpg

from pyrtc.discovery import ServerEntry

from .theme import Theme

__all__ = ["Picker"]


class Picker:
    def __init__(self, theme: Theme) -> None:
        self._theme = theme
        self._choose: Callable[[ServerEntry], None] = lambda entry: None

    def build(self, *, choose: Callable[[ServerEntry], None], host: Callable[[], None],
              address: Callable[[str], None]) -> None:
        self._choose = choose
        with dpg.window(tag="picker", label="Choose a PyRTC server", show=False, modal=True,
                        no_close=True, width=560, height=380, pos=(260, 140)):
            dpg.add_text("Looking for PyRTC servers on this network…", tag="picker_status", wrap=520)
            dpg.add_group(tag="picker_list")
            dpg.add_separator()
            dpg.add_button(label="Host here", tag="host_button", callback=lambda: host())
            dpg.add_text("or type an address:", color=self._theme.palette.muted)
            with dpg.group(horizontal=True):
                dpg.add_input_text(tag="manual_address", hint="host:port", width=300, on_enter=True,
                                   callback=lambda s, a: address(a))
                dpg.add_button(label="Connect", callback=lambda: address(dpg.get_value("manual_address")))

    def show(self) -> None:
        dpg.show_item("picker")

    def hide(self) -> None:
        dpg.hide_item("picker")

    def say(self, text: str) -> None:
        dpg.set_value("picker_status", text)

    def list(self, entries: list[ServerEntry]) -> None:
        muted = self._theme.palette.muted
        dpg.delete_item("picker_list", children_only=True)
        for e in entries:
            label = f"{e.name}  —  {e.users} online, {e.rooms} rooms, {e.addresses[0]}:{e.port}"
            if e.source == "remembered":
                label = f"{e.name}  —  {e.addresses[0]}:{e.port}, remembered, " + (
                    "reachable" if e.reachable else "unreachable")
            if not e.reachable:
                dpg.add_text(label, parent="picker_list", color=muted)
            elif not e.compatible:
                dpg.add_text(label + f"  (protocol {e.version}: incompatible)", parent="picker_list",
                             color=muted)
            else:
                dpg.add_button(label=label, parent="picker_list", width=-1,
                               callback=lambda s, a, u: self._choose(u), user_data=e)
