"""The picture viewer: the original picture, fetched when asked for, fitted to the window and
zoomable (buttons, or the mouse wheel over it).

Invariants:
- It opens at once with the thumbnail (if held), then shows the original once fetched; the
  fetch runs on the client thread and is cached on disk, never waited for by a frame.
- One original texture at a time: the previous picture's is deleted when another is shown.
- Originals larger than ORIGINAL_SIDE px are scaled down to it for the texture (GPU memory:
  a float RGBA texture takes 16 bytes a pixel).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import dearpygui.dearpygui as dpg
import platformdirs

from pyrtc import protocol as p
from pyrtc.private import private_dir
from pyrtc.units import human_size

from .background import Background
from .images import rgba_texture
from .textures import Pictures

__all__ = ["PictureViewer", "ORIGINAL_SIDE", "VIEWER_SIZE"]

log = logging.getLogger(__name__)

ORIGINAL_SIDE = 2048
VIEWER_SIZE = (900, 680)
ZOOM_STEP = 1.25
ZOOM_RANGE = (0.05, 8.0)


class PictureViewer:
    def __init__(self, bg: Background, pictures: Pictures, download: Callable[[p.FileInfo], None]) -> None:
        self._bg = bg
        self._pictures = pictures
        self._download = download
        self._info: p.FileInfo | None = None
        self._texture: str | None = None  # what is shown: the thumbnail's, then the original's
        self._original: str | None = None  # the original's texture (ours to delete)
        self.zoom: float | None = None  # None: fitted to the window
        self.showing = ""  # "thumbnail" or "original" (tests, the title)

    def build(self) -> None:
        with dpg.window(tag="viewer", label="Picture", show=False, modal=True, width=VIEWER_SIZE[0],
                        height=VIEWER_SIZE[1], no_saved_settings=True):
            with dpg.group(horizontal=True):
                dpg.add_text("", tag="viewer_title")
            with dpg.group(horizontal=True):
                dpg.add_button(label="Fit", tag="viewer_fit", callback=lambda: self.set_zoom(None))
                dpg.add_button(label="100%", tag="viewer_actual", callback=lambda: self.set_zoom(1.0))
                dpg.add_button(label="−", tag="viewer_out", callback=lambda: self.step(-1))
                dpg.add_button(label="+", tag="viewer_in", callback=lambda: self.step(1))
                dpg.add_button(label="Download", tag="viewer_download", callback=lambda: self._save())
                dpg.add_button(label="Close", tag="viewer_close", callback=lambda: dpg.hide_item("viewer"))
                dpg.add_text("", tag="viewer_state")
            with dpg.child_window(tag="viewer_canvas", horizontal_scrollbar=True, border=False):
                dpg.add_group(tag="viewer_body")

    # ------------------------------------------------------------------ opening

    def show(self, info: p.FileInfo) -> None:
        self._info, self.zoom, self.showing = info, None, ""
        self._texture = self._pictures.texture(info.thumb_id or "")
        if self._texture is not None:
            self.showing = "thumbnail"
        dpg.set_value("viewer_title", f"{info.name} — {info.width}×{info.height}, {human_size(info.size)}")
        self._layout()
        vw, vh = dpg.get_viewport_client_width(), dpg.get_viewport_client_height()
        dpg.configure_item("viewer", show=True, pos=(max(0, (vw - VIEWER_SIZE[0]) // 2), max(0, (vh - VIEWER_SIZE[1]) // 2)))
        self._fetch(info)

    def _fetch(self, info: p.FileInfo) -> None:
        session = self._bg.session
        if session is None:
            return
        cache = Path(platformdirs.user_cache_dir("pyrtc", appauthor=False)) / "originals"
        private_dir(cache)  # pictures of locked rooms too
        target = cache / info.blob_id
        dpg.set_value("viewer_state", "loading the original…")

        async def fetch() -> bytes:
            if not target.exists():
                await session.download(info.blob_id, target, name=info.name, quiet=True)
            return target.read_bytes()

        self._bg.run(fetch(), then=lambda data: self._arrived(info, data),
                     failed=lambda exc: self._not_fetched(info, exc))

    def _not_fetched(self, info: p.FileInfo, exc: BaseException) -> None:
        if info is self._info:
            dpg.set_value("viewer_state", f"original not loaded: {exc}")

    def _arrived(self, info: p.FileInfo, data: bytes) -> None:
        if info is not self._info:
            return  # another picture is shown now
        try:
            w, h, pixels = rgba_texture(data, max_side=ORIGINAL_SIDE)
        except Exception as exc:
            log.warning("picture %s unreadable: %s", info.blob_id[:12], exc)
            dpg.set_value("viewer_state", "the original is not a picture this window can show")
            return
        if self._original is not None and dpg.does_item_exist(self._original):
            dpg.delete_item(self._original)
        self._original = dpg.add_static_texture(w, h, pixels, parent="textures")
        self._texture, self.showing = self._original, "original"
        dpg.set_value("viewer_state", "")
        self._layout()

    # ------------------------------------------------------------------ zoom

    def fitted(self) -> float:
        """The zoom that shows the whole picture in the viewer (never above 100 %)."""
        if self._texture is None:
            return 1.0
        w, h = dpg.get_item_width(self._texture) or 1, dpg.get_item_height(self._texture) or 1
        return min(1.0, (VIEWER_SIZE[0] - 40) / w, (VIEWER_SIZE[1] - 110) / h)

    def set_zoom(self, zoom: float | None) -> None:
        self.zoom = None if zoom is None else max(ZOOM_RANGE[0], min(ZOOM_RANGE[1], zoom))
        self._layout()

    def step(self, steps: float) -> None:
        self.set_zoom((self.zoom or self.fitted()) * ZOOM_STEP ** steps)

    def wheel(self, delta: float) -> bool:
        """A wheel turn over the viewer zooms it; True if it took the turn."""
        if not dpg.is_item_shown("viewer") or not dpg.is_item_hovered("viewer_canvas"):
            return False
        self.step(1 if delta > 0 else -1)
        return True

    def _layout(self) -> None:
        dpg.delete_item("viewer_body", children_only=True)
        if self._texture is None:
            dpg.add_text("loading…", parent="viewer_body")
            return
        zoom = self.zoom or self.fitted()
        w, h = dpg.get_item_width(self._texture) or 1, dpg.get_item_height(self._texture) or 1
        dpg.add_image(self._texture, width=max(1, int(w * zoom)), height=max(1, int(h * zoom)), parent="viewer_body",
                      tag="viewer_image")
        dpg.configure_item("viewer_fit", label=f"Fit ({int(self.fitted() * 100)}%)" if self.zoom else "Fit")
        dpg.configure_item("viewer_actual", label=f"{int(zoom * 100)}%" if self.zoom else "100%")

    def _save(self) -> None:
        if self._info is not None:
            self._download(self._info)
