"""Request bodies have a ceiling: 413 before reading what the caller announces is too large.

The REST API and the pages take small bodies only (a login form, an API key's label), yet any
client, authenticated or not, can send one: without a ceiling a 300 MiB body to ``POST /login``
was read whole into memory. A declared ``Content-Length`` over the ceiling is refused at once,
unread; a body without one (chunked) is counted as it arrives and refused past the ceiling.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope, Send

from cleanroom.coordinator.limits import MAX_BODY_BYTES
from cleanroom.coordinator.web.errors import error_body
from cleanroom.errors import code_for_http_status


def _too_large(limit: int) -> str:
    return f"request body over {limit:,} bytes; nothing here takes more"


class BodyLimit:
    def __init__(self, app: Any, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send, 413 if declared.isdigit() else 400)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # answered as the app answers any HTTP error
                    raise HTTPException(413, _too_large(self.max_bytes))
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Send, status: int) -> None:
        message = _too_large(self.max_bytes) if status == 413 else "Content-Length is not a number"
        body = json.dumps(error_body(code_for_http_status(status), message)).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
