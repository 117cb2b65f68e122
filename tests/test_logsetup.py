"""pyrtc.logsetup: where each line goes, batched writes, rotation, and public logging API only."""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyrtc.logsetup import BatchedFileHandler, flush_logs, setup_logging
from pyrtc.server import chatlog

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = [ROOT / "pyrtc", ROOT / "discovery", ROOT / "gui"]


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[Path]:
    """setup_logging into tmp_path; the process's logging as it was afterwards."""
    root = logging.getLogger("pyrtc")
    saved = (list(root.handlers), root.level)
    for h in saved[0]:
        root.removeHandler(h)
    try:
        setup_logging("server", tmp_path)
        yield tmp_path
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        chatlog.attach(None)
        for h in saved[0]:
            root.addHandler(h)
        root.setLevel(saved[1])


def test_chat_lines_go_to_chat_log_and_records_to_the_role_log(logs: Path) -> None:
    logging.getLogger("pyrtc.server.app").info("listening on %s", "127.0.0.1:1")
    assert not (logs / "chat.log").exists()  # made at the first chat line
    chatlog.line("message room=%s seq=%d from=%s", "General", 1, "alice")
    flush_logs()
    chat = (logs / "chat.log").read_text()
    main = (logs / "pyrtc-server.log").read_text()
    assert chat.endswith(" message room=General seq=1 from=alice\n") and chat.count("\n") == 1
    assert "INFO pyrtc.server.app: listening on 127.0.0.1:1\n" in main
    assert "message room" not in main


def test_lines_wait_for_flush_then_arrive_in_order(logs: Path) -> None:
    for i in range(100):
        chatlog.line("message seq=%d", i)
    assert not (logs / "chat.log").exists()  # batched: nothing written before the flush
    flush_logs()
    lines = (logs / "chat.log").read_text().splitlines()
    assert [int(line.rsplit("=", 1)[1]) for line in lines] == list(range(100))


def test_rollover_keeps_every_line(tmp_path: Path) -> None:
    handler = BatchedFileHandler(tmp_path / "chat.log", limit=10)
    handler.maxBytes = 2000  # public attribute: rotate after a few batches
    try:
        for i in range(500):
            handler.add_line(f"line {i:04d} " + "x" * 20 + "\n")
        handler.flush()
    finally:
        handler.close()
    files = sorted(tmp_path.glob("chat.log*"), key=lambda p: -int(p.suffix[1:]) if p.suffix != ".log" else 0)
    assert len(files) == 6  # chat.log and five backups
    kept = [line for f in files for line in f.read_text().splitlines()]
    numbers = [int(line.split()[1]) for line in kept]
    assert numbers == list(range(numbers[0], 500))  # oldest dropped whole, nothing lost in between
    assert all(f.stat().st_size < 2000 + 10 * 32 for f in files)


def test_product_uses_no_private_names_of_logging() -> None:
    bad = []
    for folder in PRODUCT:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                        and node.value.id == "logging" and node.attr.startswith("_")):
                    bad.append(f"{path.relative_to(ROOT)}:{node.lineno} logging.{node.attr}")
    assert bad == []
