"""Links in message text: found by a pattern, opened by the desktop's opener.

Only http(s) links are opened (a message must not make the window run a file or another
scheme's handler). The desktop's opener (`xdg-open`, macOS `open`) is run directly and
waited for on a thread of its own: `webbrowser` counts an opener that exits quickly as a
failure and tries the next browser, so one click could open a link twice, and a `BROWSER`
variable left by some other tool would take the click elsewhere. `webbrowser` is the
fallback where no opener exists."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import sys
import threading
import webbrowser
from collections.abc import Callable

__all__ = ["split_links", "link_target", "desktop_opener", "open_link"]

log = logging.getLogger(__name__)

_LINK = re.compile(r"\b(?:https?://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\"…"


def split_links(text: str) -> list[tuple[str, bool]]:
    """The text as runs, in order: (run, is_link). Punctuation ending a sentence is not part
    of its link, nor is a closing bracket that opened before the link."""
    runs: list[tuple[str, bool]] = []
    at = 0
    for match in _LINK.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _TRAILING:
            if text[end - 1] == ")" and text.count("(", start, end) >= text.count(")", start, end):
                break  # a balanced bracket belongs to the link (Wikipedia's)
            end -= 1
        if end - start < 5:
            continue
        if start > at:
            runs.append((text[at:start], False))
        runs.append((text[start:end], True))
        at = end
    if at < len(text):
        runs.append((text[at:], False))
    return runs


def link_target(link: str) -> str | None:
    """The URL to open for a link run, or None if it is not one we open."""
    url = link if "://" in link else f"http://{link}"
    return url if url.lower().startswith(("http://", "https://")) else None


def desktop_opener() -> list[str] | None:
    """The command that opens a URL in the user's chosen program, if this system has one."""
    if sys.platform == "darwin":
        return ["open"]
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        found = shutil.which("xdg-open")
        return [found] if found else None
    return None  # Windows and the rest: webbrowser knows their default


def open_link(link: str, failed: Callable[[str], None] | None = None) -> None:
    """Open `link` with the desktop's opener; `failed(why)` (from another thread) if it could
    not, so that the click is answered, not met with nothing."""
    url = link_target(link)
    if url is None:
        log.warning("not opening %r: only http(s) links are opened", link[:80])
        return

    opener = desktop_opener()

    def say(why: str) -> None:
        log.warning("%s", why)
        if failed is not None:
            failed(why)

    def run() -> None:
        try:
            if opener is not None:
                # Its own session, never killed: a generic xdg-open may run the browser itself.
                proc = subprocess.Popen([*opener, url], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, start_new_session=True)
                _, err = proc.communicate()
                if proc.returncode != 0:
                    lines = err.decode(errors="replace").strip().splitlines()
                    say(f"Could not open {url[:80]}: {lines[-1][:160] if lines else f'{opener[0]} said no'}")
            elif not webbrowser.open(url):
                say(f"No program here opens links ({url[:80]})")
        except Exception as exc:  # the opener's own failure: the chat goes on
            say(f"Could not open {url[:80]}: {exc}")

    threading.Thread(target=run, name="open-link", daemon=True).start()
