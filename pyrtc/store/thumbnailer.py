"""The server's side of thumbnails: worker processes running thumbnails.py, started when
first needed and then kept warm, each making one thumbnail at a time.

Invariants:
- `make` never raises and never takes longer than `timeout`, waiting for a free worker
  included. A worker that overruns is killed, one that died is replaced when next needed;
  any failure means no thumbnail (the file is posted as a plain file).
- The server process never decodes a picture: its memory does not grow with picture size.
- `close` kills every worker. A worker also exits when its pipe closes, so none outlives a
  server that died without closing for longer than the picture in hand takes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path

from .thumbnails import HEAD, MAX_PIXELS, THUMB_MAX, Thumbnail

__all__ = ["Thumbnailer", "worker_command"]

log = logging.getLogger(__name__)

#: The largest answer taken from a worker (a 320 x 320 RGBA PNG is at most ~410 KB).
_MAX_ANSWER = 2 * 1024 * 1024
_SCRIPT = Path(__file__).with_name("thumbnails.py")


def worker_command(memory: int) -> list[str]:
    """The worker's command line; -I: no PYTHON* variables, no user site, and not the current
    folder on its path (the script imports nothing of pyrtc)."""
    return [sys.executable, "-I", str(_SCRIPT), str(memory)]


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def ask(self, request: bytes) -> Thumbnail | None:
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        stdin.write(request)
        await stdin.drain()
        width, height, length = HEAD.unpack(await stdout.readexactly(HEAD.size))
        if length == 0:
            return None
        if length > _MAX_ANSWER:
            raise ValueError(f"the worker answered with {length} bytes")
        return Thumbnail(await stdout.readexactly(length), width, height)


class Thumbnailer:
    def __init__(self, *, workers: int = 2, timeout: float = 10.0, memory: int = 512 * 1024 * 1024,
                 max_pixels: int = MAX_PIXELS, max_side: int = THUMB_MAX) -> None:
        self._workers = max(1, workers)
        self._timeout = timeout
        self._memory = memory
        self._limits = {"max_side": max_side, "max_pixels": max_pixels}
        self._slots = asyncio.Semaphore(self._workers)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._reaping: set[asyncio.Task[int]] = set()
        self._warming: asyncio.Task[None] | None = None
        self._closed = False

    def warm(self) -> None:
        """Start a worker in the background unless one is free or starting (called when a
        picture is offered: the worker starts while the picture's bytes arrive)."""
        if self._closed or self._idle or self._warming is not None or len(self._all) >= self._workers:
            return
        self._warming = asyncio.get_running_loop().create_task(self._warm())

    async def _warm(self) -> None:
        try:
            self._idle.append(await self._start())
        except OSError as exc:
            log.warning("cannot start a thumbnail worker: %s", exc)
        finally:
            self._warming = None

    async def make(self, path: Path) -> Thumbnail | None:
        """A thumbnail of the picture at `path`, or None (not a picture, too big, broken,
        or not done in time)."""
        request = (json.dumps({"path": str(path), **self._limits}) + "\n").encode()
        worker: _Worker | None = None
        try:
            async with asyncio.timeout(self._timeout), self._slots:
                worker = await self._take()
                thumb = await worker.ask(request)
                self._idle.append(worker)
                worker = None
                return thumb
        except TimeoutError:
            log.warning("no thumbnail of %s: not made within %g s", path.name, self._timeout)
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, the file is posted plain
            log.warning("no thumbnail of %s: %s", path.name, exc or type(exc).__name__)
        finally:
            if worker is not None:  # interrupted mid-picture: it cannot be trusted to be in step
                self._discard(worker)
        return None

    async def _take(self) -> _Worker:
        if not self._idle and self._warming is not None:
            await asyncio.shield(self._warming)  # the one started when this picture was offered
        while self._idle:
            worker = self._idle.pop()
            if worker.proc.returncode is None:
                return worker
            self._discard(worker)  # died while idle (killed from outside)
        return await self._start()

    async def _start(self) -> _Worker:
        if self._closed:
            raise OSError("the server is closing")
        proc = await asyncio.create_subprocess_exec(
            *worker_command(self._memory), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL, env={}, start_new_session=True)
        worker = _Worker(proc)
        self._all.add(worker)
        return worker

    def _discard(self, worker: _Worker) -> None:
        self._all.discard(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        if worker.proc.returncode is None:
            try:
                worker.proc.kill()
            except ProcessLookupError:
                pass
        task = asyncio.get_running_loop().create_task(worker.proc.wait())  # reaped, pipes closed
        self._reaping.add(task)
        task.add_done_callback(self._reaping.discard)

    async def close(self) -> None:
        self._closed = True
        if self._warming is not None:
            self._warming.cancel()
        for worker in list(self._all):
            self._discard(worker)
        if self._reaping:
            await asyncio.wait(set(self._reaping), timeout=5)
