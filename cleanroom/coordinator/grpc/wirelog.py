"""An opt-in log of every request message the coordinator receives, as raw bytes.

Used by the privacy test to prove no raw key or plain hash ever reaches the
coordinator: it logs the serialised request bytes as they arrive, before any
code of ours interprets them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc


class WireLog(grpc.ServerInterceptor):  # type: ignore[misc, unused-ignore]  # grpc ships no type hints
    def __init__(self, path: Path) -> None:
        self._file = open(path, "ab")  # noqa: SIM115 -- open for the server's lifetime, appended to by every call
        self._lock = threading.Lock()

    def _record(self, data: bytes) -> None:
        with self._lock:
            self._file.write(len(data).to_bytes(4, "big") + data)
            self._file.flush()

    def _wrap(self, deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any]:
        def deserialize(data: bytes) -> Any:
            self._record(data)
            return deserializer(data) if deserializer else data

        return deserialize

    def intercept_service(self, continuation: Callable[[Any], Any], handler_call_details: Any) -> Any:
        handler = continuation(handler_call_details)
        if handler is None:
            return None
        return handler._replace(request_deserializer=self._wrap(handler.request_deserializer))
