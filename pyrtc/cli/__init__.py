"""The `pyrtc` command (`pyrtc = "pyrtc.cli:main"`, `python -m pyrtc`).

Every failure a user can cause (unreachable server, name taken, unknown room, bad
arguments) ends as one line on stderr and a non-zero exit, never a traceback. Logging is
set up here, once, with pyrtc.logsetup.

Modules: parser (arguments), common (finding the server, opening a session), one per
command group (serve: server; discover: servers, doctor; interactive: client and kiosk;
messages: send, tail; files: upload, download), main.
"""

from __future__ import annotations

from ..logsetup import default_log_dir as default_log_dir
from ..logsetup import setup_logging as setup_logging
from .main import main as main

__all__ = ["main", "setup_logging", "default_log_dir"]
