"""A picture pasted from the clipboard: read with Pillow's `ImageGrab.grabclipboard()`
(xclip or wl-paste on Linux), shown in a preview, sent as a PNG file once the user says so.

Invariants: nothing is sent before "Send" in the preview; a clipboard without a picture (or
a desktop without a clipboard tool) is said in one line, never an exception; the PNG is
written to a private temporary folder and only removed with the window's process."""

from __future__ import annotations

import io
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dearpygui.dearpygui as dpg
from PIL import Image, ImageGrab

from .images import rgba_texture

__all__ = ["PastePicture", "clipboard_picture"]

log = logging.getLogger(__name__)


def clipboard_picture() -> tuple[Image.Image | None, str]:
    """The clipboard's picture, or None and why not."""
    try:
        got: Any = ImageGrab.grabclipboard()
    except (NotImplementedError, OSError, ChildProcessError) as exc:
        return None, f"cannot read the clipboard here: {exc}"
    if isinstance(got, Image.Image):
        return got, ""
    return None, "the clipboard holds no picture"


class PastePicture:
    def __init__(self, attach: Callable[[Path], None], show_error: Callable[[str], None]) -> None:
        self._attach = attach
        self._show_error = show_error
        self._folder = Path(tempfile.mkdtemp(prefix="pyrtc-paste-"))
        self._path: Path | None = None
        self._texture: Any = None

    def build(self) -> None:
        with dpg.window(tag="paste_preview", label="Send this picture?", show=False, modal=True,
                        width=420, height=380, no_resize=True):
            dpg.add_group(tag="paste_body")
            with dpg.group(horizontal=True):
                dpg.add_button(label="Send picture", tag="paste_send", callback=lambda: self.send())
                dpg.add_button(label="Cancel", tag="paste_cancel", callback=lambda: self.cancel())

    def paste(self, quiet: bool = False) -> None:
        """Read the clipboard; a picture opens the preview. `quiet`: nothing said when there
        is none (Ctrl+V of a text)."""
        picture, why = clipboard_picture()
        if picture is None:
            if not quiet:
                self._show_error(why)
            return
        path = self._folder / time.strftime("pasted-%Y%m%d-%H%M%S.png")
        buf = io.BytesIO()
        picture.save(buf, "PNG")
        path.write_bytes(buf.getvalue())
        self._path = path
        w, h, pixels = rgba_texture(buf.getvalue(), max_side=360)
        if self._texture is not None and dpg.does_item_exist(self._texture):
            dpg.delete_item(self._texture)
        self._texture = dpg.add_static_texture(w, h, pixels, parent="textures")
        dpg.delete_item("paste_body", children_only=True)
        dpg.add_text(f"{picture.width}×{picture.height} from the clipboard", parent="paste_body")
        dpg.add_image(self._texture, width=w, height=h, parent="paste_body", tag="paste_image")
        dpg.show_item("paste_preview")

    def send(self) -> None:
        dpg.hide_item("paste_preview")
        if self._path is not None:
            self._attach(self._path)
            self._path = None

    def cancel(self) -> None:
        dpg.hide_item("paste_preview")
        self._path = None
