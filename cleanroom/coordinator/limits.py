"""Every limit on what a caller can make the coordinator hold, in one place (README, "Limits").

``Limits`` holds those one coordinator may set (`cleanroom coordinator serve` flags); the rest are
fixed by the protocol, because both ends must agree on them, and are named here so that this module
is the one list: terms size (``cleanroom.terms``), one sealed record (``cleanroom.crypto.sealed``).
A refused request's permanent audit entry keeps a bounded part of what the caller sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from cleanroom.crypto.sealed import MAX_SEALED
from cleanroom.protocol import MAX_CHUNK_POINTS, MAX_MESSAGE_BYTES, MAX_METADATA_BYTES
from cleanroom.terms import MAX_TERMS_BYTES

DEFAULT_MAX_POINTS = 5_000_000

# An upload of the largest size needs ~150 chunks of points; sealed fields can split it further. Each
# announced chunk costs the coordinator bookkeeping, so a caller cannot announce millions of them.
DEFAULT_MAX_CHUNKS = 65_536

# Sealed fields of one chunk: clients aim at 3 MiB a chunk (cleanroom_client.protocol.prepare); a
# chunk over this is refused before it is stored, whatever the per-record bound allows.
DEFAULT_MAX_SEALED_CHUNK_BYTES = 16 * 1024 * 1024

# An upload begun and not committed, with no chunk for this long, is deleted with its chunks (an
# upload takes minutes; a day leaves room for a client that retries after a night).
DEFAULT_UPLOAD_IDLE_SECONDS = 24 * 3600.0

# Proposals a party may have waiting for approval at once (each is stored and listed to its counterparty).
MAX_OPEN_PROPOSALS = 100
# Proposals a party may make in any 24 hours, revoked ones included: proposing and revoking in a loop
# would otherwise grow the store without bound (each proposal keeps its terms, up to 256 KiB).
MAX_PROPOSALS_PER_DAY = 200

# The REST API and the pages take small bodies only (a login form, an API key's label).
MAX_BODY_BYTES = 64 * 1024

# A refused request's audit entry is permanent: it keeps at most this much of what the caller sent
# (a message may echo the caller's input), over gRPC and REST alike.
MAX_DENIAL_REASON = 500
MAX_DENIAL_METHOD = 200

# Positions of held audit heads one EntryHashes call may ask about (a party asks for its distinct heads).
MAX_HEAD_POSITIONS = 10_000

# Heads one POST /v1/audit/verification may carry: 150 as `export-heads` writes them fit MAX_BODY_BYTES.
MAX_POSTED_HEADS = 150

# Fixed by the protocol (both ends): listed here for the README's table.
FIXED = {
    "terms_bytes": MAX_TERMS_BYTES,
    "sealed_record_bytes": MAX_SEALED,
    "denial_reason_chars": MAX_DENIAL_REASON,
    "denial_method_chars": MAX_DENIAL_METHOD,
}


@dataclass(frozen=True)
class Limits:
    max_points: int = DEFAULT_MAX_POINTS  # points in one upload
    max_chunk_points: int = MAX_CHUNK_POINTS  # points in one chunk
    max_chunks: int = DEFAULT_MAX_CHUNKS  # chunks one upload may announce
    max_sealed_chunk_bytes: int = DEFAULT_MAX_SEALED_CHUNK_BYTES  # sealed fields of one chunk
    upload_idle_seconds: float = DEFAULT_UPLOAD_IDLE_SECONDS  # an uncommitted upload idle this long is swept
    max_open_proposals: int = MAX_OPEN_PROPOSALS  # proposals one party may have waiting
    max_proposals_per_day: int = MAX_PROPOSALS_PER_DAY  # proposals one party may make in 24 hours
    max_message_bytes: int = MAX_MESSAGE_BYTES  # one gRPC message, either way
    max_metadata_bytes: int = MAX_METADATA_BYTES  # a gRPC call's headers, as received
    max_body_bytes: int = MAX_BODY_BYTES  # one HTTP request body

    def grpc_options(self) -> list[tuple[str, int]]:
        """The gRPC server's channel arguments: message sizes both ways, and received metadata (soft and
        hard limit the same, so a call over it is always refused, never by chance)."""
        return [
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.max_metadata_size", self.max_metadata_bytes),
            ("grpc.absolute_max_metadata_size", self.max_metadata_bytes),
        ]


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
