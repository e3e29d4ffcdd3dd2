"""Protocol constants and the digests of packed point uploads: one definition for both ends of the wire."""

from __future__ import annotations

import hashlib

# 1 MiB of points per chunk: well under gRPC's 4 MiB message limit, large
# enough that per-message overhead is noise.
MAX_CHUNK_POINTS = 32_768

# The largest gRPC message either end sends or accepts. Point chunks are 1 MiB;
# the vendor's attribution release (per-deal credit, ~160 bytes a deal) is one
# message, 16 MB at 100,000 deals. 64 MiB holds about 400,000 deals; streaming
# that release is the way past it.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

# A call's headers (metadata) as the coordinator receives them: our client sends a few hundred bytes
# (identity is the mTLS certificate, never a header). gRPC's own default refuses past 16 KiB and, between
# 8 and 16 KiB, only some calls: the coordinator sets both limits to this, so the answer never depends on luck.
MAX_METADATA_BYTES = 8 * 1024
# What a client accepts from the coordinator: trailers carry error messages, which may quote the request.
CLIENT_MAX_METADATA_BYTES = 64 * 1024


def client_channel_options() -> list[tuple[str, int]]:
    """A client channel's arguments: the message limit both ways, and a bound on the coordinator's headers."""
    return [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_metadata_size", CLIENT_MAX_METADATA_BYTES),
        ("grpc.absolute_max_metadata_size", CLIENT_MAX_METADATA_BYTES),
    ]


def chunk_digest(
    points: bytes,
    accounts: bytes = b"",
    populations: bytes = b"",
    records: bytes = b"",
    sealed: bytes = b"",
    value_ciphertexts: bytes = b"",
) -> str:
    """Hex SHA-256 of a chunk's payload (labels, records, sealed fields and encrypted amounts included when it has them)."""
    return hashlib.sha256(points + accounts + populations + records + sealed + value_ciphertexts).hexdigest()


def upload_digest(chunk_digests: list[str]) -> str:
    """Hex SHA-256 over the raw chunk digests in sequence order."""
    return hashlib.sha256(b"".join(bytes.fromhex(d) for d in chunk_digests)).hexdigest()
