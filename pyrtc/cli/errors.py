"""The user's errors: one line on stderr, and the exit status the README promises."""

from __future__ import annotations

__all__ = ["EXIT_FAIL", "EXIT_USAGE", "EXIT_PIPE", "UsageError", "UserError"]

EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_PIPE = 141  # our reader left: 128 + SIGPIPE, what a shell reports for `yes | head -1`


class UserError(Exception):
    """A one-line message for the user; exit 1 (something out there failed or refused)."""


class UsageError(UserError):
    """The command line itself is wrong (found before anything is tried); exit 2."""
