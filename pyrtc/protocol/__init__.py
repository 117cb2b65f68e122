"""Sans-IO wire protocol: typed messages, framing, limits. No sockets, no asyncio here."""

from __future__ import annotations

from . import limits as limits
from .errors import BadMessage as BadMessage
from .errors import FrameTooLarge as FrameTooLarge
from .errors import ProtocolError as ProtocolError
from .framing import FrameDecoder as FrameDecoder
from .framing import client_decoder as client_decoder
from .framing import encode as encode
from .framing import encode_head as encode_head
from .framing import server_decoder as server_decoder
from .limits import PROTOCOL_VERSION as PROTOCOL_VERSION
from .messages import *  # noqa: F403
from .messages import __all__ as _messages_all

__all__ = [
    "limits", "BadMessage", "FrameTooLarge", "ProtocolError", "FrameDecoder", "client_decoder", "encode", "encode_head",
    "server_decoder",
    "PROTOCOL_VERSION", *_messages_all,
]
