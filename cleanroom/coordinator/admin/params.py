"""An admin request's parameters, read by name and type; whatever an operation did not read is refused."""

from __future__ import annotations

from typing import Any

from cleanroom.errors import InvalidArgument

MAX_TEXT = 4096  # a path or a label; nothing an admin operation takes is longer


class Params:
    def __init__(self, op: str, values: dict[str, Any]) -> None:
        self.op, self._values = op, dict(values)
        self._read: set[str] = set()

    def text(self, name: str, default: str | None = None) -> str:
        """A string parameter (required when ``default`` is None)."""
        self._read.add(name)
        value = self._values.get(name, default)
        if value is None:
            raise InvalidArgument(f"{self.op}: parameter {name!r} is required")
        if not isinstance(value, str):
            raise InvalidArgument(f"{self.op}: parameter {name!r} must be a string, not {type(value).__name__}")
        if len(value) > MAX_TEXT:
            raise InvalidArgument(f"{self.op}: parameter {name!r} is longer than {MAX_TEXT} characters")
        return value

    def flag(self, name: str) -> bool:
        self._read.add(name)
        value = self._values.get(name, False)
        if not isinstance(value, bool):
            raise InvalidArgument(f"{self.op}: parameter {name!r} must be true or false, not {value!r}")
        return value

    def done(self) -> None:
        """Refuse parameters the operation does not take (call after reading, before acting)."""
        unknown = sorted(set(self._values) - self._read)
        if unknown:
            raise InvalidArgument(f"{self.op}: unknown parameters {', '.join(unknown)}")
