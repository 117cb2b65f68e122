"""`main`: parse, set up logging, run the command; every failure a user can cause is one line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from ..client import ConnectionLost, IdentityMismatch, Rejected
from ..errors import PyRTCError
from ..logsetup import default_log_dir, setup_logging
from .discover import cmd_doctor, cmd_servers
from .errors import EXIT_FAIL, EXIT_PIPE, EXIT_USAGE, UsageError, UserError
from .files import cmd_download, cmd_upload
from .interactive import cmd_client, run_window, want_gui
from .messages import cmd_send, cmd_tail
from .parser import build_parser, take_link
from .serve import cmd_server

__all__ = ["main"]

log = logging.getLogger(__name__)


COMMANDS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "client": cmd_client,
    "servers": cmd_servers,
    "doctor": cmd_doctor,
    "server": cmd_server,
    "send": cmd_send,
    "tail": cmd_tail,
    "upload": cmd_upload,
    "download": cmd_download,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["client", *argv]  # bare `pyrtc [options]` is the zero-config client
    args = parser.parse_args(argv)
    if (problem := take_link(args)) is not None:
        parser.error(problem)
    try:
        setup_logging("server" if args.command == "server" else "client",
                      args.log_dir or default_log_dir(), verbose=args.verbose)
    except OSError as exc:
        print(f"pyrtc: cannot write logs to {args.log_dir or default_log_dir()}: {exc}", file=sys.stderr)
        return EXIT_FAIL
    try:
        if args.command == "client" and want_gui(args):
            return run_window(args)
        return asyncio.run(COMMANDS[args.command](args))
    except KeyboardInterrupt:
        return 130
    except UsageError as exc:
        print(f"pyrtc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (UserError, ConnectionLost) as exc:
        print(f"pyrtc: {exc}", file=sys.stderr)
    except IdentityMismatch as exc:
        print(f"pyrtc: {exc}", file=sys.stderr)
    except Rejected as exc:
        print(f"pyrtc: the server refused: {exc}", file=sys.stderr)
    except TimeoutError:
        print("pyrtc: timed out waiting for the server", file=sys.stderr)
    except PyRTCError as exc:
        print(f"pyrtc: {exc}", file=sys.stderr)
    except BrokenPipeError:
        # Whoever read our output left (`pyrtc tail | head`): end quietly, as `cat` does. What
        # is still buffered goes nowhere, so that the exit's own flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except OSError as exc:
        print(f"pyrtc: {exc}", file=sys.stderr)
    except Exception as exc:  # a bug of ours: details in the log, one line for the user
        # One line on the console (its formatter drops tracebacks), the details in the file.
        log.error("unexpected error (%s: %s); details in %s", type(exc).__name__, exc,
                  args.log_dir or default_log_dir(), exc_info=True)
    return EXIT_FAIL
