"""Durations people type on the command line: ``90``, ``90s``, ``15m``, ``6h``, ``1d``."""

from __future__ import annotations

import re

from cleanroom.errors import InputError

_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Seconds in ``text`` (a number with an optional s/m/h/d unit); InputError naming the value otherwise."""
    found = _DURATION.match(text)
    if found is None:
        raise InputError(f"{text!r} is not a duration: write a number with an optional unit, e.g. 30s, 15m, 6h or 1d")
    return float(found.group(1)) * _UNITS[found.group(2).lower()]
