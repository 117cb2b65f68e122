"""The user's settings file (display name, theme, mute, …): JSON in the platform's config dir.

The settings folder also holds the remembered servers and the user's keys: it is 0700 and
each file in it 0600 (pyrtc.private), those from before tightened when read.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import platformdirs

from ..private import private_dir, private_file, write_private

__all__ = ["Settings", "default_settings_path", "load_private", "save_private"]

log = logging.getLogger(__name__)


def default_settings_path() -> Path:
    env = os.environ.get("PYRTC_SETTINGS")
    if env:
        return Path(env)
    return Path(platformdirs.user_config_dir("pyrtc", appauthor=False)) / "settings.json"


def load_private(path: Path) -> str:
    """A file of the settings folder (FileNotFoundError if there is none); it and the folder
    are tightened first when a version before this one left them readable by others."""
    if path.parent.is_dir() and private_dir(path.parent) | private_file(path):
        log.info("made %s readable by this user only (it was readable by others)", path)
    return path.read_text(encoding="utf-8")


def save_private(path: Path, text: str) -> None:
    """Replace a file of the settings folder at once; the folder 0700, the file 0600."""
    private_dir(path.parent)
    write_private(path, text.encode("utf-8"))


class Settings:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_settings_path()
        self.data: dict[str, Any] = {}
        try:
            loaded = json.loads(load_private(self.path))
            if isinstance(loaded, dict):
                self.data = loaded
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable settings %s: %s", self.path, exc)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        if self.data.get(key) != value:
            self.data[key] = value
            self.save()

    def save(self) -> None:
        try:
            save_private(self.path, json.dumps(self.data, indent=2, ensure_ascii=False))
        except OSError as exc:
            log.warning("cannot save settings to %s: %s", self.path, exc)
