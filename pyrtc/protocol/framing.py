"""Length-prefixed msgpack frames, sans-IO.

A frame is a 4-byte big-endian body length, then a msgpack body that decodes to one
message of the expected union. The decoder never holds more than one frame's worth of
unparsed bytes beyond MAX_FRAME (h11's max_incomplete_event_size idea): a hostile length
prefix fails at once instead of making us buffer it. After an error the decoder is broken
for good: the caller reports and closes.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

from .errors import BadMessage, FrameTooLarge, ProtocolError
from .fields import Msg
from .files import FileChunk, FileData
from .limits import MAX_FRAME
from .messages import ClientMsg, ServerMsg

__all__ = ["FrameDecoder", "encode", "encode_head", "client_decoder", "server_decoder", "HEADER"]

HEADER = 4
M = TypeVar("M")

_encoder = msgspec.msgpack.Encoder()


def encode(msg: Msg) -> bytes:
    """One whole frame (prefix + body): the bytes to write, shareable among recipients."""
    buf = bytearray(HEADER)
    _encoder.encode_into(msg, buf, HEADER)
    size = len(buf) - HEADER
    if size > MAX_FRAME:
        raise FrameTooLarge(f"frame of {size} bytes is over the limit of {MAX_FRAME}")
    buf[:HEADER] = size.to_bytes(HEADER, "big")
    return bytes(buf)


_EMPTY_BIN = b"\xc4\x00"  # msgpack bin 8 of length 0: how `data=b""` ends the body


def encode_head(msg: FileChunk | FileData, payload_size: int) -> bytes:
    """The frame of `msg` carrying a payload of `payload_size` bytes, minus the payload:
    `msg.data` must be empty, and the frame is `head + payload`. File chunks are written as
    two pieces so that their bytes are never copied into a frame (that copy cost a fifth
    of a transfer's time). Relies on `data` being the message's last field."""
    buf = bytearray(HEADER)
    _encoder.encode_into(msg, buf, HEADER)
    if msg.data or buf[-2:] != _EMPTY_BIN:
        raise ValueError("encode_head needs a message whose last field is data=b''")
    buf[-2:] = b"\xc6" + payload_size.to_bytes(4, "big")  # bin 32: any size up to the limit
    size = len(buf) - HEADER + payload_size
    if size > MAX_FRAME:
        raise FrameTooLarge(f"frame of {size} bytes is over the limit of {MAX_FRAME}")
    buf[:HEADER] = size.to_bytes(HEADER, "big")
    return bytes(buf)


class FrameDecoder(Generic[M]):
    """Turns a byte stream into messages of one union type."""

    def __init__(self, msg_type: Any, max_frame: int = MAX_FRAME) -> None:
        self._decoder: msgspec.msgpack.Decoder[M] = msgspec.msgpack.Decoder(msg_type)
        self._buf = bytearray()
        self._max = max_frame
        self._broken: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[M]:
        """Add bytes; return every message now complete (possibly none). On a bad frame it
        raises, with the messages decoded before it in `exc.decoded`."""
        if self._broken is not None:
            raise self._broken
        self._buf += data
        out: list[M] = []
        buf = self._buf
        pos = 0
        try:
            while len(buf) - pos >= HEADER:
                size = int.from_bytes(buf[pos : pos + HEADER], "big")
                if size > self._max:
                    raise FrameTooLarge(
                        f"frame announces {size} bytes; the limit is {self._max}"
                    )
                end = pos + HEADER + size
                if len(buf) < end:
                    break  # incomplete: keep the bytes for the next feed()
                out.append(self._decode(memoryview(buf)[pos + HEADER : end]))
                pos = end
        except ProtocolError as exc:
            exc.decoded = list(out)
            self._broken = exc
            raise
        finally:
            if pos:
                del buf[:pos]
        return out

    def _decode(self, body: memoryview) -> M:
        try:
            return self._decoder.decode(body)
        except msgspec.ValidationError as exc:
            raise BadMessage(f"invalid message: {exc}") from exc
        except msgspec.DecodeError as exc:
            raise BadMessage(f"undecodable frame: {exc}") from exc
        except UnicodeDecodeError as exc:  # msgspec lets invalid UTF-8 in a string through as this
            raise BadMessage(f"a string in the frame is not valid UTF-8 (byte {exc.start})") from exc
        except RecursionError as exc:  # msgspec's way of saying "nested too deep" (even in a skipped field)
            raise BadMessage("the frame nests arrays or maps too deep") from exc
        finally:
            body.release()


def server_decoder() -> FrameDecoder[ClientMsg]:
    """What a server reads: client messages."""
    return FrameDecoder(ClientMsg)


def client_decoder() -> FrameDecoder[ServerMsg]:
    """What a client reads: server messages."""
    return FrameDecoder(ServerMsg)
