"""Opaque page cursors, and times given in query strings.

A cursor is the last row's sort key, JSON in URL-safe base64: the next page
starts after it (keyset paging). Callers pass it back unchanged; anything
else is refused with a message saying so.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from cleanroom.errors import InvalidArgument


def encode_cursor(*values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, types: tuple[type, ...]) -> list[Any] | None:
    """The values of a cursor this API handed out; InvalidArgument for anything else."""
    if cursor is None:
        return None
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
        if (
            isinstance(values, list)
            and len(values) == len(types)
            and all(type(v) is t for v, t in zip(values, types, strict=True))
        ):
            return values
    except (ValueError, UnicodeDecodeError):
        pass
    raise InvalidArgument("cursor is not one this API returned; pass next_cursor from the previous page unchanged")


def parse_time(value: str | None, name: str) -> dt.datetime | None:
    """An ISO 8601 date or date-time (UTC when it has no offset); INVALID_ARGUMENT otherwise."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(f"{name}: {value!r} is not an ISO 8601 date-time (e.g. 2026-01-31T09:00:00Z)") from None
    try:  # in UTC here, as the store compares it: an offset at the ends of the calendar overflows it
        return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
    except OverflowError:
        raise InvalidArgument(f"{name}: {value!r} is outside the dates this API can compare (years 1 to 9999, UTC)") from None
