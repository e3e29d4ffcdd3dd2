"""Sealed bytes are bounded before anything is stored (issue 13, finding 4: "60 MiB sealed chunks are stored
before any check"): a record no larger than the terms' shared columns can fill, no more records a chunk
than the upload's accounts spread over its chunks, and a per-chunk ceiling. Each refusal writes nothing."""

from __future__ import annotations

import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from cleanroom.coordinator.core import Coordinator
from cleanroom.coordinator.limits import Limits
from cleanroom.coordinator.store import Store
from cleanroom.coordinator.store.records import OWN
from cleanroom.crypto.sealed import MAX_SEALED, MAX_VALUE_CHARS, TAG_SIZE, pack_chunk, public_bytes, record_bound
from cleanroom.crypto.signing import Signer
from cleanroom.errors import InvalidArgument
from cleanroom.protocol import chunk_digest, upload_digest
from cleanroom.psi import blind, hash_to_points, new_secret
from cleanroom.terms import build_terms, canonical_json

V, P = "vendor", "partner"
KEYS = {V: X25519PrivateKey.generate(), P: X25519PrivateKey.generate()}
N = 60
CEILING = 200_000


@pytest.fixture
def coord(tmp_path):
    store = Store(tmp_path / "coordinator.duckdb", Signer(Ed25519PrivateKey.generate()))
    yield Coordinator(store, Limits(max_sealed_chunk_bytes=CEILING))
    store.close()


def _agree(coord, share):
    terms = build_terms(V, P, ["customer"], min_set_size=1, reveal=[("customer", "customer")], share=share, their_share=["Owner"])
    agreement = coord.propose(V, P, canonical_json(terms), public_bytes(KEYS[V]))
    return coord.approve(P, agreement["agreement_id"], agreement["terms_hash"], encryption_public=public_bytes(KEYS[P]))


def _chunks(n_chunks: int):
    pts = blind(new_secret(), hash_to_points([f"a{i}.example" for i in range(N)], b"x"), workers=1)
    per = N // n_chunks
    return [
        (
            pts[i * per * 32 : (i + 1) * per * 32],
            struct.pack(f"<{per}I", *range(i * per, (i + 1) * per)),
            struct.pack(f"<{per}H", *([1] * per)),
        )
        for i in range(n_chunks)
    ]


def _try(coord, agreement, n_chunks: int, sealed: bytes):
    """Begin an upload of N accounts in ``n_chunks`` chunks and send chunk 0 with ``sealed``."""
    chunks = _chunks(n_chunks)
    digests = [chunk_digest(*c, b"", sealed if i == 0 else b"") for i, c in enumerate(chunks)]
    session = coord.begin_upload(
        V, agreement["agreement_id"], agreement["terms_hash"], OWN, "", N, n_chunks, N, upload_digest(digests)
    )
    return coord.put_chunk(V, session["upload_id"], 0, *chunks[0], digests[0], b"", sealed)


def _stored(coord) -> int:
    return coord.store.row("SELECT count(*) AS n FROM chunks")["n"]


def test_the_record_bound_follows_the_shared_columns():
    one = record_bound(["Owner"])
    # {"Owner":"<1000 characters, each at most 6 bytes of JSON>"} plus the AEAD tag
    assert one == len(b'{"Owner":""}') + 6 * MAX_VALUE_CHARS + TAG_SIZE
    assert record_bound(["Owner", "Region"]) > one
    assert record_bound([f"column {i}" for i in range(10)]) == MAX_SEALED
    assert record_bound([]) == 0


def test_a_record_larger_than_its_columns_can_fill_is_refused(coord):
    agreement = _agree(coord, ["Owner"])
    bound = record_bound(["Owner"])
    with pytest.raises(InvalidArgument, match=f"sealed record 2 has {bound + 1:,} bytes"):
        _try(coord, agreement, 1, pack_chunk(bytes(32), [(0, b"z" * 40), (1, b"z" * (bound + 1))]))
    assert _stored(coord) == 0
    assert _try(coord, agreement, 1, pack_chunk(bytes(32), [(0, b"z" * 40), (1, b"z" * bound)])) == [0]  # at the bound: taken


def test_a_chunk_with_more_records_than_its_share_of_accounts_is_refused_unread(coord):
    agreement = _agree(coord, ["Owner"])
    # 60 accounts in 60 chunks: a chunk carries one record; this one carries every account's, 6 KB each.
    every = pack_chunk(bytes(32), [(i, b"z" * 6000) for i in range(N)])
    allowed = len(b"CRS1") + 32 + 8 + len(b'{"Owner":""}') + 6 * MAX_VALUE_CHARS + TAG_SIZE  # framing, one record
    with pytest.raises(InvalidArgument, match=f"over the {allowed:,} this upload's chunks may carry"):
        _try(coord, agreement, N, every)
    assert _stored(coord) == 0


def test_a_chunk_over_the_ceiling_is_refused_whatever_the_records(coord):
    agreement = _agree(coord, ["Owner"])
    # One chunk for all 60 accounts may carry 60 records of the bound (~360 KB), but not past the ceiling.
    big = pack_chunk(bytes(32), [(i, b"z" * 5000) for i in range(N)])
    assert len(big) > CEILING
    with pytest.raises(InvalidArgument, match=f"at most {CEILING:,} a chunk"):
        _try(coord, agreement, 1, big)
    assert _stored(coord) == 0
    assert _try(coord, agreement, 1, pack_chunk(bytes(32), [(i, b"z" * 3000) for i in range(N)])) == [0]
