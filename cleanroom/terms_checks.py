"""The checks terms parsing is made of: each failure names the term, for the party that wrote it."""

from __future__ import annotations

from typing import Any

from cleanroom.errors import InvalidArgument


def require(cond: bool, message: str) -> None:
    if not cond:
        raise InvalidArgument(f"terms: {message}")


def int_field(obj: dict[str, Any], key: str, minimum: int) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise InvalidArgument(f"terms: {key} must be an integer >= {minimum}")
    return value
