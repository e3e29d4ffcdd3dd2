"""The admin socket's wire format: one request and one answer per connection.

Each message is a 4-byte big-endian length and that many bytes of canonical JSON (an object).
A request is ``{"op": NAME, "params": {...}}``; an answer ``{"ok": true, "result": {...}}`` or
``{"ok": false, "error": {"code": GRPC_STATUS_NAME, "message": TEXT}}``. Sizes are bounded both ways
so that neither end reads an unbounded message.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from cleanroom.errors import InvalidArgument, ProtocolError
from cleanroom.terms import canonical_json

MAX_REQUEST_BYTES = 64 * 1024  # an admin request carries names and labels, never data
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # a long API key list still fits many times over
_LENGTH = struct.Struct(">I")
SOCKET_NAME = "admin.sock"


class FrameTooLarge(InvalidArgument):
    """A message longer than its limit (told apart from bytes that are not JSON)."""


def encode(message: dict[str, Any]) -> bytes:
    body = canonical_json(message)
    return _LENGTH.pack(len(body)) + body


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    parts, have = [], 0
    while have < count:
        part = sock.recv(min(count - have, 65536))
        if not part:
            raise ProtocolError(f"the connection closed after {have} of {count} bytes")
        parts.append(part)
        have += len(part)
    return b"".join(parts)


def read_message(sock: socket.socket, limit: int) -> dict[str, Any]:
    """One length-prefixed JSON object, refused before its body is read when longer than ``limit``."""
    (length,) = _LENGTH.unpack(_read_exactly(sock, _LENGTH.size))
    if length > limit:
        raise FrameTooLarge(f"admin message of {length:,} bytes: the limit is {limit:,} bytes")
    return decode(_read_exactly(sock, length))


def decode(body: bytes) -> dict[str, Any]:
    try:
        message = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidArgument(f"admin message is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise InvalidArgument(f"admin message must be a JSON object, not {type(message).__name__}")
    return message


def parse_request(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The operation name and its parameters; InvalidArgument naming what is wrong."""
    extra = sorted(set(message) - {"op", "params"})
    if extra:
        raise InvalidArgument(f"admin request has unknown fields: {', '.join(extra)} (expected op, params)")
    op, params = message.get("op"), message.get("params", {})
    if not isinstance(op, str) or not op:
        raise InvalidArgument('admin request needs an operation name: {"op": NAME, "params": {...}}')
    if not isinstance(params, dict):
        raise InvalidArgument(f"admin request params must be an object, not {type(params).__name__}")
    return op, params
