"""The user's errors: one line on stderr, and the exit status the README promises."""

from __future__ import annotations

__all__ = ["EXIT_FAIL", "EXIT_USAGE", "UsageError", "UserError"]

EXIT_FAIL = 1
EXIT_USAGE = 2


class UserError(Exception):
    """A one-line message for the user; exit 1 (something out there failed or refused)."""


class UsageError(UserError):
    """The command line itself is wrong (found before anything is tried); exit 2."""
