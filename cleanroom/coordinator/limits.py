"""What one coordinator accepts: points per upload and per chunk (set by `cleanroom serve`)."""

from __future__ import annotations

from dataclasses import dataclass

from cleanroom.protocol import MAX_CHUNK_POINTS

DEFAULT_MAX_POINTS = 5_000_000


@dataclass(frozen=True)
class Limits:
    max_points: int = DEFAULT_MAX_POINTS
    max_chunk_points: int = MAX_CHUNK_POINTS
