"""Logging for the PyRTC processes: rotating log files, chat.log, and WARNING on stderr.

Below the window and the CLI: `pyrtc` (pyrtc.cli) sets it up once at start, and both the
CLI's loops and the window's frame loop write the batched lines out with `flush_logs`.
Library modules only log; nothing else adds handlers.
"""

from __future__ import annotations

import asyncio
import logging
import logging.handlers
import os
import sys
import time
from io import TextIOWrapper
from pathlib import Path

import platformdirs

from .private import open_private, private_dir, private_file
from .server import chatlog

__all__ = ["BatchedFileHandler", "default_log_dir", "flush_logs", "flush_logs_forever", "setup_logging"]


def default_log_dir() -> Path:
    """`logs/` of the source checkout when run from one (the product's layout), else the
    platform's log folder."""
    env = os.environ.get("PYRTC_LOG_DIR")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parent.parent / "logs"
    if checkout.is_dir() and os.access(checkout, os.W_OK):
        return checkout
    return Path(platformdirs.user_log_dir("pyrtc", appauthor=False))


class _OneLine(logging.Formatter):
    """Console lines without tracebacks: those belong in the log file."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text:
            record = logging.makeLogRecord({**record.__dict__, "exc_info": None, "exc_text": None})
        return super().format(record).replace("\n", " ")


class _ChatOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name == "pyrtc.chat"


class _NoChat(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "pyrtc.chat"


class _Stamped(logging.Formatter):
    """asctime as chat.log writes it, from its per-second cache (strftime for every line
    was a tenth of the server's time under load)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return chatlog.timestamp(record.created)


class _LostLines:
    """Lines a log file could not take (its disk full): counted, never raised into the program
    that logs them; said on the console when it starts and when it ends, and in the file."""

    def __init__(self) -> None:
        self.count = 0
        self.reason = ""

    def add(self, lines: int, exc: OSError, path: str) -> None:
        if not self.count:
            self.reason = exc.strerror or str(exc)
            _console(f"pyrtc: cannot write {path} ({self.reason}); its lines are counted and dropped "
                     "until it can be written again")
        self.count += lines

    def note(self) -> str:
        """The line that goes first into the file when it takes lines again."""
        if not self.count:
            return ""
        return (f"{chatlog.timestamp(time.time())} WARNING pyrtc: {self.count} lines of this log were lost "
                f"while it could not be written ({self.reason})\n")

    def written(self, path: str) -> None:
        if self.count:
            _console(f"pyrtc: {path} is written again; {self.count} lines were lost")
            self.count = 0


def _console(text: str) -> None:
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # no console either: the count still goes into the file


class BatchedFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating file written in batches. Each record is formatted when it is logged (a few
    µs, spread evenly); `flush()` writes all pending lines with one call. Formatting a whole
    batch at flush time instead stalled the event loop for milliseconds under load."""

    def __init__(self, path: Path, *, limit: int = 5000) -> None:
        super().__init__(path, maxBytes=5_000_000, backupCount=5, encoding="utf-8", delay=True)
        self._lines: list[str] = []
        self._limit = limit
        self._lost = _LostLines()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.append(self.format(record) + "\n")
        except Exception:
            self.handleError(record)
        if len(self._lines) >= self._limit or record.levelno >= logging.WARNING:
            self.flush()

    def add_line(self, text: str) -> None:
        """A line formatted elsewhere (chat lines, see pyrtc.server.chatlog). Under the
        handler's lock, as `emit` is: the window flushes from its own thread."""
        with self.lock:  # type: ignore[union-attr]
            self._lines.append(text)
            full = len(self._lines) >= self._limit
        if full:
            self.flush()

    def flush(self) -> None:
        """Write the pending lines. Never raises: lines that cannot be written (a full disk)
        are counted, and the count is written first once the file takes lines again."""
        if not self._lines:
            return
        with self.lock:  # type: ignore[union-attr]
            lines, self._lines = self._lines, []
            start = None
            try:
                if self.stream is None:
                    self.stream = self._open_stream()
                if self.maxBytes and self.stream.tell() + sum(map(len, lines)) >= self.maxBytes:
                    self.doRollover()
                    if self.stream is None:  # with delay=True the rollover leaves it closed
                        self.stream = self._open_stream()
                start = self.stream.tell()
                self.stream.write(self._lost.note() + "".join(lines))
                self.stream.flush()
            except OSError as exc:
                self._drop_stream(start)
                self._lost.add(len(lines), exc, self.baseFilename)
            else:
                self._lost.written(self.baseFilename)

    def _drop_stream(self, start: int | None) -> None:
        """After a failed write: close the file and cut what got in of the batch (no half line)."""
        stream, self.stream = self.stream, None
        if stream is None:
            return
        try:
            stream.close()  # its buffer still holds part of the batch: it goes with it
        except OSError:
            pass
        if start is not None:
            try:
                os.truncate(self.baseFilename, start)
            except OSError:
                pass

    def _open_stream(self) -> TextIOWrapper:
        # What FileHandler's own (private) opener does, from the handler's public settings;
        # the file only its owner may read (chat.log holds the text of locked rooms).
        return open(open_private(Path(self.baseFilename)), "a", encoding=self.encoding, errors=self.errors)

    def close(self) -> None:
        self.flush()
        super().close()


def setup_logging(role: str, log_dir: Path, *, verbose: bool = False) -> None:
    """Rotating files under `log_dir`: pyrtc-<role>.log (everything but chat lines), chat.log
    (the chat activity of a server this process runs: `pyrtc server`, or the one a client
    hosts; made at the first line); WARNING and up also on stderr.

    Lines are written in batches (`flush_logs`, twice a second, and at exit): a file write per
    chat message cost the server ~12% of its time, and a writer thread would take the GIL
    from the event loop (milliseconds of latency)."""
    # The logging HOWTO's optimisations: no thread or process names per record. Its caller-lookup
    # switch is a private name of logging; chat.log does not need it, since its lines skip
    # LogRecords altogether (chatlog.attach below), and the other records are few.
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    tightened = _private_logs(log_dir)
    main_file = BatchedFileHandler(log_dir / f"pyrtc-{role}.log")
    main_file.setFormatter(_Stamped("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("pyrtc")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    root.addHandler(main_file)
    chat_file = BatchedFileHandler(log_dir / "chat.log")
    chat_file.setFormatter(_Stamped("%(asctime)s %(message)s"))
    chat_file.addFilter(_ChatOnly())
    root.addHandler(chat_file)
    chatlog.attach(chat_file.add_line)
    main_file.addFilter(_NoChat())  # chat lines once, in chat.log
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(_OneLine("pyrtc: %(message)s"))
    root.addHandler(console)
    if tightened:
        logging.getLogger(__name__).info("made %d log files and folders in %s readable by this user only "
                                         "(they were readable by others)", tightened, log_dir)


def _private_logs(log_dir: Path) -> int:
    """The log folder 0700 and our files in it 0600 (those from before too: the folder may be
    a shared one given with --log-dir, its other files are not ours); how many were tightened."""
    changed = int(private_dir(log_dir))
    for path in [*log_dir.glob("pyrtc-*.log*"), *log_dir.glob("chat.log*")]:
        changed += private_file(path)
    return changed


def flush_logs() -> None:
    for h in logging.getLogger("pyrtc").handlers:
        h.flush()


async def flush_logs_forever(every: float = 0.5) -> None:
    while True:
        await asyncio.sleep(every)
        flush_logs()
