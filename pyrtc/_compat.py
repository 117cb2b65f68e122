"""What Python 3.11 added that we use, for 3.10."""

from __future__ import annotations

import sys

if sys.version_info >= (3, 11):
    from asyncio import timeout as timeout
    from typing import assert_never as assert_never
else:  # pragma: no cover - exercised only on 3.10
    from async_timeout import timeout as timeout
    from typing_extensions import assert_never as assert_never

__all__ = ["timeout", "assert_never"]
