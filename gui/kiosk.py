"""The kiosk: one room on a wall screen, read from across the room, touched by nobody.

Type sized from the screen's height (theme.kiosk_text_size); the room's name and a clock large
at the top; beside the messages a QR code of the chat's `pyrtc://HOST:PORT?fp=…` link (the
phone or laptop that scans it connects to this chat and insists on its certificate); a
banner while the connection is being made again. No addresses, no buttons, nothing about
who the kiosk is. The newest message is always in view. Against burn-in the whole layout
drifts by a pixel every few minutes around a small square (`drift`); the clock is injected
so that a test can move time on."""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from typing import Any

import dearpygui.dearpygui as dpg
import numpy as np
import segno

from pyrtc.client import ChatState, ClientSession
from pyrtc.client.links import make_link

from .theme import Theme

__all__ = ["DRIFT_SIDE", "DRIFT_STEP", "Kiosk", "drift", "qr_modules", "share_link"]

DRIFT_STEP = 600.0  # seconds per pixel: 6 px an hour
DRIFT_SIDE = 6  # px: the side of the square the layout wanders around
PADDING = 8  # px: the window's own padding, the drift's rest position
QR_SHARE = 0.2  # of the screen height: a QR code a phone reads from a few metres
QR_BORDER = 4  # modules of quiet zone around it (the standard's minimum)
NEWS_SHOWN = 60.0  # seconds the banner says who hosts now after a host change (seen across a room)


def drift(seconds: float, side: int = DRIFT_SIDE, step: float = DRIFT_STEP) -> tuple[int, int]:
    """The layout's offset at `seconds` (any clock): one pixel every `step` seconds, around a
    square of `side` pixels, back where it started after 4 × side steps."""
    k = int(seconds // step) % (4 * side)
    if k < side:
        return k, 0
    if k < 2 * side:
        return side, k - side
    if k < 3 * side:
        return 3 * side - k, side
    return 0, 4 * side - k


def qr_modules(text: str) -> np.ndarray:
    """The QR code of `text` as a boolean array (True: dark), its quiet zone included."""
    matrix = np.array([list(row) for row in segno.make(text, error="m").matrix], dtype=bool)
    return np.pad(matrix, QR_BORDER, constant_values=False)


def share_link(session: ClientSession | None, lan_addresses: list[str]) -> str | None:
    """The link others use to reach this chat: the server's address as seen from the LAN
    (a server hosted here is reached at one of our LAN addresses, not at 127.0.0.1)."""
    if session is None:
        return None
    host = session.host
    try:
        if ipaddress.ip_address(host).is_loopback and lan_addresses:
            host = lan_addresses[0]
    except ValueError:
        pass  # a name, used as given
    return make_link(host, session.port, session.peer_fingerprint)


class Kiosk:
    def __init__(self, state: ChatState, theme: Theme, clock: Callable[[], float],
                 link: Callable[[], str | None], screen_height: int) -> None:
        self._state = state
        self._theme = theme
        self._clock = clock
        self._link = link
        self._screen = screen_height
        self._shown_link: str | None = None
        self._shown_minute = ""
        self.offset: tuple[int, int] | None = None  # the drift applied
        self._padding: Any = None
        self.link: str | None = None  # the link the QR code holds (tests read it)
        self._news: tuple[str, float] = ("", 0.0)  # the session's latest line, and when it came

    def news(self, text: str) -> None:
        """A line from the session ("Ann left; Bob is hosting this chat now"): on the banner a while."""
        self._news = (text, self._clock())

    @property
    def qr_side(self) -> int:
        return int(self._screen * QR_SHARE)

    def build_header(self) -> None:
        """The room's name and the clock, then the banner (reconnecting; who hosts now): above the messages."""
        fonts, pal = self._theme.fonts, self._theme.palette
        with dpg.table(tag="kiosk_header", header_row=False, policy=dpg.mvTable_SizingFixedFit, pad_outerX=False):
            dpg.add_table_column(width_stretch=True, init_width_or_weight=1.0)
            dpg.add_table_column(width_fixed=True)
            with dpg.table_row():
                dpg.bind_item_font(dpg.add_text("", tag="kiosk_title"), fonts.title)
                dpg.bind_item_font(dpg.add_text("", tag="kiosk_clock", color=pal.muted), fonts.title)
        dpg.add_text("", tag="kiosk_banner", color=pal.warn, show=False)
        dpg.bind_item_font("kiosk_banner", fonts.bold)

    def build_side(self, parent: str) -> None:
        """The QR code and what it is for, beside the messages."""
        with dpg.group(tag="kiosk_side", parent=parent):
            dpg.add_group(tag="kiosk_qr")
            dpg.add_text("Scan to join", tag="kiosk_scan", color=self._theme.palette.muted)
        with dpg.theme() as drifting, dpg.theme_component(dpg.mvAll):
            self._padding = dpg.add_theme_style(dpg.mvStyleVar_WindowPadding, PADDING, PADDING,
                                                category=dpg.mvThemeCat_Core)
        dpg.bind_item_theme("main", drifting)

    def render(self, room: str | None) -> None:
        """Once a frame; each part is redrawn only when it changed."""
        now = self._clock()
        dpg.set_value("kiosk_title", f"# {room}" if room else "")
        minute = time.strftime("%H:%M", time.localtime(now))
        if minute != self._shown_minute:
            self._shown_minute = minute
            dpg.set_value("kiosk_clock", minute)
        st = self._state
        news, at = self._news
        if st.connection != "connected":
            banner = "Reconnecting to the chat… the newest messages will follow."
        else:
            banner = news if news and now - at < NEWS_SHOWN else ""
        if banner != dpg.get_value("kiosk_banner"):
            dpg.set_value("kiosk_banner", banner)
            dpg.configure_item("kiosk_banner", show=bool(banner))
        link = self._link()
        if link is not None and link != self._shown_link:
            self._show_qr(link)
        offset = drift(now)
        if offset != self.offset:
            self.offset = offset
            dpg.set_value(self._padding, [PADDING + offset[0], PADDING + offset[1]])

    def _show_qr(self, link: str) -> None:
        modules = qr_modules(link)
        scale = max(2, self.qr_side // modules.shape[0])
        light = np.where(np.repeat(np.repeat(modules, scale, axis=0), scale, axis=1), 0.0, 1.0)
        side = light.shape[0]
        rgba = np.ones((side, side, 4), dtype=np.float32)
        rgba[..., :3] = light[..., None]
        tag = f"kiosk_qr_{len(link)}_{hash(link) & 0xFFFF}"
        if not dpg.does_item_exist(tag):
            dpg.add_static_texture(side, side, rgba.ravel(), tag=tag, parent="textures")
        dpg.delete_item("kiosk_qr", children_only=True)
        dpg.add_image(tag, width=side, height=side, parent="kiosk_qr", tag="kiosk_qr_image")
        self._shown_link = self.link = link
