"""The package builds without the build backend warning (a first `scripts/run.sh` printed
~80 lines of setuptools deprecations), and the wheel holds what PyRTC loads at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_builds_quietly_with_fonts_and_every_package(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-w",
                        str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    said = r.stdout + r.stderr
    assert "BuildBackendWarning" not in said and "DeprecationWarning" not in said, said
    [wheel] = tmp_path.glob("pyrtc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"pyrtc/assets/fonts/DejaVuSans.ttf", "pyrtc/assets/fonts/Symbola.ttf",
            "pyrtc/assets/fonts/LICENSE-DejaVu.txt", "pyrtc/terminal/editor.py",
            "pyrtc/discovery/conflicts.py", "pyrtc/gui/app.py"} <= names
