"""Picture previews: thumbnails fetched once (cached on disk), made into textures on the GUI
thread; clicking one opens the viewer (viewer.py)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import dearpygui.dearpygui as dpg
import platformdirs

from pyrtc import protocol as p
from pyrtc.private import private_dir

from .background import Background
from .images import rgba_texture

__all__ = ["Pictures"]

log = logging.getLogger(__name__)


class Pictures:
    def __init__(self, bg: Background, show: Callable[[p.FileInfo], None] | None = None) -> None:
        self._bg = bg
        self.show: Callable[[p.FileInfo], None] = show or (lambda info: None)  # the viewer, set by the window
        self._textures: dict[str, str] = {}  # blob id -> texture tag
        self._wanted: set[str] = set()
        self.version = 0  # counts arrivals: rows drawn with a placeholder are redrawn

    def build_registry(self) -> None:
        with dpg.texture_registry(tag="textures"):
            pass

    def texture(self, blob_id: str) -> str | None:
        tag = self._textures.get(blob_id)
        return tag if tag is not None and dpg.does_item_exist(tag) else None

    def want(self, blob_id: str) -> None:
        """Fetch a thumbnail in the background (once); `version` moves when it is shown."""
        session = self._bg.session
        if blob_id in self._wanted or session is None:
            return
        self._wanted.add(blob_id)
        cache = Path(platformdirs.user_cache_dir("pyrtc", appauthor=False)) / "thumbs"
        private_dir(cache)  # pictures of locked rooms too
        target = cache / f"{blob_id}.png"

        async def fetch() -> bytes:
            if not target.exists():
                await session.download(blob_id, target, name="preview", quiet=True)
            return target.read_bytes()

        self._bg.run(fetch(), then=lambda data: self._arrived(blob_id, data),
                     failed=lambda exc: log.debug("preview %s not fetched: %s", blob_id[:12], exc))

    def _arrived(self, blob_id: str, data: bytes) -> None:
        try:
            w, h, pixels = rgba_texture(data)
        except Exception as exc:
            log.warning("preview %s unreadable: %s", blob_id[:12], exc)
            return
        tag = f"tex-{blob_id}"
        dpg.add_static_texture(w, h, pixels, tag=tag, parent="textures")
        self._textures[blob_id] = tag
        self.version += 1
