"""File names from other people: display text only, and a safe place to save them.

A name that arrives over the network is never a path: folders are cut off, control and
other unprintable characters dropped, leading dots removed (no hidden or relative names),
and the length bounded. Saved files never overwrite anything.
"""

from __future__ import annotations

from pathlib import Path

from .protocol.limits import MAX_FILE_NAME

__all__ = ["display_name", "free_path"]

#: Most file systems allow 255 bytes a name; leave room for " (12)" and ".part".
_MAX_NAME_BYTES = 230


def display_name(name: str, limit: int = MAX_FILE_NAME, fallback: str = "file") -> str:
    """Printable, no folders, no leading dots, at most `limit` characters; a cut keeps the
    extension ("a very long….pdf")."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable()).strip().lstrip(".").strip() or fallback
    if len(name) > limit:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        keep = limit - len(ext) - 2
        name = (stem if dot else name)[:keep] + "…" + ("." + ext if ext else "")
    return name


def _fit_bytes(name: str, limit: int) -> str:
    """`name` cut (keeping its extension) until its UTF-8 form has at most `limit` bytes."""
    if len(name.encode()) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16:
        stem, ext = name, ""
    suffix = "…" + ("." + ext if ext else "")
    room = limit - len(suffix.encode())
    cut = stem.encode()[:room].decode(errors="ignore")
    return cut + suffix


def free_path(folder: Path, name: str) -> Path:
    """A path in `folder` for `name` that does not exist yet (nor its `.part`): never
    overwrite; "photo (1).jpg" when "photo.jpg" is taken."""
    clean = _fit_bytes(display_name(name, fallback="download"), _MAX_NAME_BYTES)
    target = folder / clean
    stem, suffix = target.stem, target.suffix
    n = 1
    while target.exists() or target.with_name(target.name + ".part").exists():
        target = folder / f"{stem} ({n}){suffix}"
        n += 1
    return target
