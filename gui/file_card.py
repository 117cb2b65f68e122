"""A shared file in a message: a picture's preview, or a card with an icon by type, the
name, the size and one action (Download; or "no longer available" once the host said that
nobody still in the chat keeps its body)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dearpygui.dearpygui as dpg

from pyrtc import protocol as p
from pyrtc.units import human_size

from .palette import RGB
from .textures import Pictures
from .theme import Theme

__all__ = ["draw_file", "file_kind", "mark_gone", "CARD_SIZE", "GONE"]

CARD_SIZE = (380, 62)
NAME_SHOWN = 34  # characters of a long name on the card (the whole name in its tooltip)

#: (label on the icon, its colour, MIME prefixes, file name endings), first match wins.
KINDS: tuple[tuple[str, RGB, tuple[str, ...], tuple[str, ...]], ...] = (
    ("PDF", (200, 50, 50), ("application/pdf",), (".pdf",)),
    ("IMG", (60, 140, 90), ("image/",), (".png", ".jpg", ".jpeg", ".gif", ".webp")),
    ("AUD", (150, 80, 190), ("audio/",), (".mp3", ".ogg", ".wav", ".flac")),
    ("VID", (190, 90, 40), ("video/",), (".mp4", ".mkv", ".webm", ".mov")),
    ("ZIP", (120, 110, 60), ("application/zip", "application/x-tar", "application/gzip", "application/x-7z"),
     (".zip", ".tar", ".gz", ".tgz", ".7z", ".xz")),
    ("XLS", (40, 130, 70), ("application/vnd.ms-excel", "application/vnd.openxmlformats-officedocument.spreadsheet",
                            "application/vnd.oasis.opendocument.spreadsheet", "text/csv"),
     (".xls", ".xlsx", ".ods", ".csv")),
    ("DOC", (40, 90, 180), ("application/msword", "application/vnd.openxmlformats-officedocument.word",
                            "application/vnd.oasis.opendocument.text"), (".doc", ".docx", ".odt", ".rtf")),
    ("TXT", (100, 110, 125), ("text/",), (".txt", ".md", ".log")),
)
OTHER: RGB = (100, 110, 125)
GONE = "No longer available"

#: Bodies nobody in the chat keeps any more (they left with a host), and the Download buttons
#: drawn for each body (to relabel). One window per process: kept beside the cards it draws.
_gone: set[str] = set()
_buttons: dict[str, list[int | str]] = {}


def mark_gone(blob_id: str) -> None:
    """The host said nobody still in the chat has this body: its cards say so from now on."""
    _gone.add(blob_id)
    for button in _buttons.pop(blob_id, []):
        if dpg.does_item_exist(button):
            dpg.configure_item(button, label=GONE, enabled=False)


def _download_button(info: p.FileInfo, download: Callable[[p.FileInfo], None]) -> None:
    if info.blob_id in _gone:
        dpg.add_button(label=GONE, enabled=False)
        return
    button = dpg.add_button(label="Download", callback=lambda s, a, u: download(u), user_data=info)
    drawn = [b for b in _buttons.get(info.blob_id, []) if dpg.does_item_exist(b)]  # rows redrawn: theirs are gone
    _buttons[info.blob_id] = [*drawn, button]


def file_kind(name: str, mime: str) -> tuple[str, RGB]:
    """The icon's label and colour for a file (by MIME type, else by its name's ending)."""
    lower = name.lower()
    for label, colour, mimes, endings in KINDS:
        if mime.startswith(mimes) or lower.endswith(endings):
            return label, colour
    ext = lower.rsplit(".", 1)[-1].upper() if "." in lower else ""
    return (ext[:4] if ext.isalnum() and ext else "FILE"), OTHER


def draw_file(info: p.FileInfo, theme: Theme, pictures: Pictures,
              download: Callable[[p.FileInfo], None] | None) -> None:
    """In the container being built; `download` None: no button (a kiosk: nobody presses a wall)."""
    pal = theme.palette
    if info.thumb_id:
        tag = pictures.texture(info.thumb_id)
        if tag is not None:
            img = dpg.add_image(tag, width=dpg.get_item_width(tag), height=dpg.get_item_height(tag))
            with dpg.item_handler_registry() as reg:
                dpg.add_item_clicked_handler(callback=lambda s, a, u: pictures.show(u), user_data=info)
            dpg.bind_item_handler_registry(img, reg)
        else:
            dpg.add_text(f"{info.name} — loading preview…", color=pal.muted)
            pictures.want(info.thumb_id)
        with dpg.group(horizontal=True):
            dpg.add_text(f"{info.name[:NAME_SHOWN]} · {human_size(info.size)}", color=pal.muted)
            if download is not None:
                _download_button(info, download)
        return
    label, colour = file_kind(info.name, info.mime)
    with dpg.child_window(width=CARD_SIZE[0], height=CARD_SIZE[1], border=True, no_scrollbar=True) as card:
        with dpg.group(horizontal=True):
            _icon(label, colour)
            with dpg.group():
                name = dpg.add_text(info.name if len(info.name) <= NAME_SHOWN else info.name[:NAME_SHOWN - 1] + "…")
                dpg.bind_item_font(name, theme.fonts.bold)
                if len(info.name) > NAME_SHOWN:
                    with dpg.tooltip(name):
                        dpg.add_text(info.name)
                dpg.add_text(f"{human_size(info.size)} · {label.lower() if label != 'FILE' else info.mime}",
                             color=pal.muted)
            if download is not None:
                _download_button(info, download)
    dpg.bind_item_theme(card, theme.card())


def _icon(label: str, colour: RGB) -> Any:
    """A page in the type's colour with its label: 34 × 42 px."""
    with dpg.drawlist(36, 44) as d:
        dpg.draw_rectangle((2, 1), (34, 43), fill=colour, color=colour, rounding=4)
        dpg.draw_triangle((24, 1), (34, 11), (34, 1), fill=(255, 255, 255, 90), color=(255, 255, 255, 0))
        dpg.draw_text((18 - 4.2 * len(label), 24), label, color=(255, 255, 255), size=13)
    return d
