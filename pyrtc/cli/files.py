"""`pyrtc upload` and `pyrtc download`: share a file in a room, fetch one by its id."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ..units import human_size
from .common import UserError, one_shot_name, open_session

__all__ = ["cmd_download", "cmd_upload"]


def _progress(total: int, label: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A tqdm bar on a terminal; silent otherwise."""
    if not sys.stderr.isatty():
        return (lambda done, size: None), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
               file=sys.stderr, leave=True)

    def update(done: int, size: int) -> None:
        if size and bar.total != size:
            bar.total = size
        bar.update(done - bar.n)

    return update, bar.close


async def cmd_upload(args: argparse.Namespace) -> int:
    path: Path = args.path
    if path.is_dir():
        raise UserError(f"{path} is a folder; upload takes a file (zip the folder to share it whole)")
    if not path.is_file():
        raise UserError(f"no such file: {path}")
    session = await open_session(args, args.name)
    update, done = _progress(path.stat().st_size, path.name[:30])
    try:
        room = (await session.join(args.room, visit=True, password=args.room_password)).name
        seq = await session.upload(room, path, progress=update)
    finally:
        done()
        await session.close()
    msg = session.state.rooms[room].by_seq.get(seq)
    file_id = msg.file.blob_id if msg and msg.file else "?"
    print(f"uploaded {path.name} to {room} as message #{seq}; file id {file_id}")
    return 0


async def cmd_download(args: argparse.Namespace) -> int:
    file_id: str = args.file_id  # checked by the parser: 64 hex digits
    out: Path = args.output
    if out.is_dir():
        raise UserError(f"{out} is a folder; give the file name to save as")
    if out.exists():
        raise UserError(f"{out} exists; not overwriting it")
    if not out.parent.exists():
        raise UserError(f"no such folder: {out.parent}")
    session = await open_session(args, one_shot_name(args.name))
    update, done = _progress(0, out.name[:30])
    try:
        if args.room:  # watched: a locked room's files are only for those it lets in
            await session.join(args.room, watch=True, password=args.room_password)
        await session.download(file_id, out, progress=update)
    finally:
        done()
        await session.close()
    print(f"saved {out} ({human_size(out.stat().st_size)})")
    return 0
