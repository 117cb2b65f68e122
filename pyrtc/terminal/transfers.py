"""/upload and /download: checked at once (one line if something is wrong), then moved in the
background so that the chat goes on; the prompt shows their progress, one line their end."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from .. import protocol as p
from ..client import ConnectionLost, Rejected
from ..filenames import free_path
from ..protocol.codes import ErrorCode
from ..units import human_size
from .chat import Mistake, TerminalChat

__all__ = ["upload", "download", "downloads_folder"]


def _path(text: str) -> Path:
    """A path as typed: surrounding quotes dropped, `~` expanded."""
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return Path(text).expanduser()


def downloads_folder() -> Path:
    return Path(platformdirs.user_downloads_dir())


async def upload(chat: TerminalChat, room: str, arg: str) -> None:
    if not arg:
        raise Mistake("usage: /upload PATH")
    path = _path(arg)
    if path.is_dir():
        raise Mistake(f"{path} is a folder; /upload takes a file")
    if not path.is_file():
        raise Mistake(f"no such file: {path}")
    if not os.access(path, os.R_OK):
        raise Mistake(f"cannot read {path} (permission denied)")
    size = path.stat().st_size
    chat.console.write(f"-- uploading {path.name} ({human_size(size)}) to #{room}…")

    async def run() -> None:
        try:
            seq = await chat.session.upload(room, path)
        except (Rejected, ConnectionLost, OSError, TimeoutError, ValueError) as exc:
            chat.console.write(f"!! {path.name} was not uploaded: {exc}")
        else:
            chat.console.write(f"-- uploaded {path.name} to #{room} as #{seq}")

    chat.background(run())


def _target(info: p.FileInfo, arg: str) -> Path:
    """Where a download goes: PATH (a folder: the file's name in it), else the downloads
    folder; never over an existing file."""
    if not arg:
        folder = downloads_folder()
        folder.mkdir(parents=True, exist_ok=True)
        return free_path(folder, info.name)
    path = _path(arg)
    if path.is_dir():
        return free_path(path, info.name)
    if path.exists():
        raise Mistake(f"{path} exists; not overwriting it")
    if not path.parent.is_dir():
        raise Mistake(f"no such folder: {path.parent}")
    return path


async def download(chat: TerminalChat, info: p.FileInfo, arg: str) -> None:
    target = _target(info, arg)
    chat.console.write(f"-- downloading {info.name} ({human_size(info.size)}) to {target}…")

    async def run() -> None:
        try:
            await chat.session.download(info.blob_id, target, name=info.name)
        except Rejected as exc:
            if exc.code == ErrorCode.FILE_GONE:  # it left with a host, and no peer kept it
                chat.console.write("-- that file is no longer available: nobody still in the chat has it")
            else:
                chat.console.write(f"!! {info.name} was not downloaded: {exc}")
        except (ConnectionLost, OSError, TimeoutError, ValueError) as exc:
            chat.console.write(f"!! {info.name} was not downloaded: {exc}")
        else:
            chat.console.write(f"-- saved {target} ({human_size(target.stat().st_size)})")

    chat.background(run())
