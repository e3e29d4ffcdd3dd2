"""What one coordinator accepts: points per upload and per chunk (`cleanroom coordinator serve --max-points`),
and how much of a refused request's own text its permanent audit entry keeps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cleanroom.protocol import MAX_CHUNK_POINTS

DEFAULT_MAX_POINTS = 5_000_000


# An upload of the largest size needs ~150 chunks of points; sealed fields can split it further. Each
# announced chunk costs the coordinator bookkeeping, so a caller cannot announce millions of them.
DEFAULT_MAX_CHUNKS = 65_536


@dataclass(frozen=True)
class Limits:
    max_points: int = DEFAULT_MAX_POINTS
    max_chunk_points: int = MAX_CHUNK_POINTS
    max_chunks: int = DEFAULT_MAX_CHUNKS


# A refused request's audit entry is permanent: it keeps at most this much of what the caller sent
# (a message may echo the caller's input), over gRPC and REST alike.
MAX_DENIAL_REASON = 500
MAX_DENIAL_METHOD = 200
_AGREEMENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def bounded(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def named_agreement(*candidates: Any) -> str | None:
    """The first candidate that looks like an agreement id; None when the request named none (or junk)."""
    for value in candidates:
        if isinstance(value, str) and _AGREEMENT_ID.match(value):
            return value
    return None


def denial_details(method: str, code: str, reason: str) -> dict[str, str]:
    """What a refusal's audit entry says, bounded whatever the caller sent."""
    return {"method": bounded(method, MAX_DENIAL_METHOD), "code": code, "reason": bounded(reason, MAX_DENIAL_REASON)}
