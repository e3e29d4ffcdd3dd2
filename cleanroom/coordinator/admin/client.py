"""Asking a serving coordinator over its admin socket."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from cleanroom.coordinator.admin.address import socket_address
from cleanroom.coordinator.admin.protocol import MAX_ANSWER_BYTES, encode, read_message
from cleanroom.errors import CleanroomError, InputError, ProtocolError, refusal_for

ANSWER_SECONDS = 3600.0  # a backup of a large store takes a while; the server bounds the request side


class NotServing(Exception):
    """No coordinator answers on the socket (no file, or a stale one left by a killed process)."""


def request(path: Path, op: str, params: dict[str, Any], timeout: float = ANSWER_SECONDS) -> dict[str, Any]:
    """The operation's answer from the coordinator serving at ``path``; its refusal raised as ours."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            with socket_address(path) as address:
                sock.connect(address)
        except (FileNotFoundError, ConnectionRefusedError):
            raise NotServing(str(path)) from None
        except PermissionError:
            raise InputError(
                f"cannot reach the admin socket {path}: permission denied (run as the coordinator's user, or root)"
            ) from None
        sock.sendall(encode({"op": op, "params": params}))
        try:
            answer = read_message(sock, MAX_ANSWER_BYTES)
        except (ConnectionResetError, BrokenPipeError, ProtocolError) as exc:
            raise ProtocolError(f"the coordinator closed the admin socket without an answer: {exc}") from None
    if answer.get("ok") is True and isinstance(answer.get("result"), dict):
        result: dict[str, Any] = answer["result"]
        return result
    found = answer.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    message = str(error.get("message") or f"malformed answer from the admin socket: {answer!r:.200}")
    refusal = refusal_for(str(error.get("code")))
    raise (refusal or CleanroomError)(message)
