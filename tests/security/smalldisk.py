"""A `pyrtc server` process whose data dir and logs live on a small disk of its own: a tmpfs
mounted inside a private mount namespace (`unshare -m`), so the host never sees it and it
goes away with the server. The test fills and frees that disk through /proc/<pid>/root,
the server's own view of the file system."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ..cli.procs import PYRTC

__all__ = ["SmallDisk", "fill", "on_small_disk"]

# Mount the tmpfs, then become the command (same pid: /proc/<pid>/root is its view).
_MOUNT_AND_RUN = 'mount -t tmpfs -o size="$1",mode=0755 tmpfs "$2" || exit 97; shift 2; exec "$@"'


def _in_namespace(size: str, mount: Path) -> list[str]:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.fail("the full-disk tests mount a tmpfs in a private mount namespace (unshare -m): "
                    "run the suite as root")
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", _MOUNT_AND_RUN, "sh", size, str(mount)]


def on_small_disk(tmp: Path, code: str, size: str = "4m") -> subprocess.CompletedProcess[str]:
    """Run Python `code` with a small disk of its own at sys.argv[1]."""
    mount = tmp / "small"
    mount.mkdir()
    return subprocess.run([*_in_namespace(size, mount), sys.executable, "-c", code, str(mount)],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])


class SmallDisk:
    def __init__(self, tmp: Path, size: str = "16m") -> None:
        self.mount = tmp / "disk"  # empty on the host; the tmpfs covers it inside the namespace
        self.mount.mkdir()
        self.stderr_path = tmp / "server.stderr"  # on the host's disk: never full
        env = dict(os.environ, PYRTC_LOG_DIR=str(self.mount / "logs"))
        with open(self.stderr_path, "w") as err:
            self.proc = subprocess.Popen(
                [*_in_namespace(size, self.mount), *PYRTC, "server", "--host", "127.0.0.1", "--port", "0",
                 "--data-dir", str(self.mount / "data"), "--name", "Small disk", "--no-announce",
                 "--max-rate", "0"],
                stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        match = re.search(r"listening on (127\.0\.0\.1):(\d+)", line)
        if not match:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"server did not start: {line!r} {self.stderr()}")
        self.address = f"{match[1]}:{match[2]}"
        self.host_port = (match[1], int(match[2]))

    def path(self, relative: str) -> Path:
        """A path on the small disk, as the server sees it."""
        return Path(f"/proc/{self.proc.pid}/root") / self.mount.relative_to("/") / relative

    def fill(self) -> None:
        """Write a file until the disk refuses another byte."""
        fill(self.path("filler"))

    def free(self) -> None:
        self.path("filler").unlink()

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def stop(self) -> tuple[int, str]:
        """SIGTERM; (exit status, stdout)."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=30)
        return self.proc.returncode, out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=30)


def fill(path: Path) -> None:
    """Write `path` until its disk refuses another byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for block in (1 << 20, 1 << 12, 1):
            data = bytes(block)
            while True:
                try:
                    os.write(fd, data)
                except OSError as exc:
                    assert exc.errno == 28, exc  # ENOSPC: full
                    break
    finally:
        os.close(fd)
